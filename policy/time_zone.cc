#include "policy/time_zone.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <sstream>

#include "common/read_file.h"

namespace safegate::policy {

int32_t daysFromCivil(int y, int m, int d) noexcept {
  y -= m <= 2 ? 1 : 0;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int>(doe) - 719468;
}

LocalTime localTimeFromDays(int32_t z, int minute_of_day) noexcept {
  LocalTime lt;
  lt.days_since_epoch = z;
  lt.minute_of_day = minute_of_day;
  // 1970-01-01 was a Thursday (weekday 3 with Monday = 0).
  lt.weekday = static_cast<int>(((static_cast<int64_t>(z) % 7) + 7 + 3) % 7);
  z += 719468;
  const int era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int y = static_cast<int>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  lt.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  lt.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  lt.year = y + (lt.month <= 2 ? 1 : 0);
  return lt;
}

namespace {

// The largest zone file in tzdata is a few KiB; this only stops a pathological path.
constexpr size_t kMaxZoneFileBytes = 1 << 20;

int64_t floorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

uint32_t be32(const std::string& s, size_t at) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(s[at])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[at + 2])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(s[at + 3]));
}
int64_t be64(const std::string& s, size_t at) {
  return static_cast<int64_t>((static_cast<uint64_t>(be32(s, at)) << 32) | be32(s, at + 4));
}

bool isLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// Parses [+-]hh[:mm[:ss]] into seconds; advances pos.
bool parseHms(std::string_view s, size_t& pos, int32_t& out) {
  int sign = 1;
  if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    if (s[pos] == '-') sign = -1;
    ++pos;
  }
  int32_t parts[3] = {0, 0, 0};
  for (int i = 0; i < 3; ++i) {
    if (i > 0) {
      if (pos >= s.size() || s[pos] != ':') break;
      ++pos;
    }
    size_t start = pos;
    int32_t v = 0;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      v = v * 10 + (s[pos] - '0');
      ++pos;
    }
    if (pos == start) return false;
    parts[i] = v;
  }
  out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
  return true;
}

bool parseName(std::string_view s, size_t& pos) {
  if (pos < s.size() && s[pos] == '<') {
    const size_t end = s.find('>', pos);
    if (end == std::string_view::npos) return false;
    pos = end + 1;
    return true;
  }
  const size_t start = pos;
  while (pos < s.size() && std::isalpha(static_cast<unsigned char>(s[pos]))) ++pos;
  return pos - start >= 3;
}

bool parseInt(std::string_view s, size_t& pos, int& out) {
  const size_t start = pos;
  out = 0;
  while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
    out = out * 10 + (s[pos] - '0');
    ++pos;
  }
  return pos > start;
}

}  // namespace

bool TimeZone::parseFooter(std::string_view s, Footer& f) {
  size_t pos = 0;
  if (!parseName(s, pos)) return false;
  int32_t west = 0;
  if (!parseHms(s, pos, west)) return false;
  f.std_offset = -west;  // POSIX offsets count west of Greenwich
  f.valid = true;
  if (pos == s.size()) return true;
  if (!parseName(s, pos)) return false;
  f.has_dst = true;
  f.dst_offset = f.std_offset + 3600;
  if (pos < s.size() && s[pos] != ',') {
    if (!parseHms(s, pos, west)) return false;
    f.dst_offset = -west;
  }
  auto parseRule = [&](Rule& r) {
    if (pos >= s.size() || s[pos] != ',') return false;
    ++pos;
    if (pos < s.size() && s[pos] == 'M') {
      ++pos;
      r.kind = Rule::Kind::kMonthWeekDay;
      if (!parseInt(s, pos, r.month) || pos >= s.size() || s[pos++] != '.') return false;
      if (!parseInt(s, pos, r.week) || pos >= s.size() || s[pos++] != '.') return false;
      if (!parseInt(s, pos, r.weekday)) return false;
    } else if (pos < s.size() && s[pos] == 'J') {
      ++pos;
      r.kind = Rule::Kind::kJulian1;
      if (!parseInt(s, pos, r.day)) return false;
    } else {
      r.kind = Rule::Kind::kJulian0;
      if (!parseInt(s, pos, r.day)) return false;
    }
    r.time_seconds = 7200;
    if (pos < s.size() && s[pos] == '/') {
      ++pos;
      if (!parseHms(s, pos, r.time_seconds)) return false;
    }
    return true;
  };
  if (pos == s.size()) {
    // No rule: POSIX leaves it implementation-defined; use the US rule like glibc.
    f.start = Rule{Rule::Kind::kMonthWeekDay, 3, 2, 0, 0, 7200};
    f.end = Rule{Rule::Kind::kMonthWeekDay, 11, 1, 0, 0, 7200};
    return true;
  }
  return parseRule(f.start) && parseRule(f.end) && pos == s.size();
}

int64_t TimeZone::ruleTime(const Rule& r, int year, int32_t offset) noexcept {
  int32_t day = 0;
  switch (r.kind) {
    case Rule::Kind::kJulian1: {
      // 1..365, February 29 never counted.
      int d = r.day - 1;
      if (isLeap(year) && r.day >= 60) ++d;
      day = daysFromCivil(year, 1, 1) + d;
      break;
    }
    case Rule::Kind::kJulian0: day = daysFromCivil(year, 1, 1) + r.day; break;
    case Rule::Kind::kMonthWeekDay: {
      const int32_t first = daysFromCivil(year, r.month, 1);
      // POSIX weekday: 0 = Sunday. Our localTimeFromDays weekday: 0 = Monday.
      const int first_wd_sun0 = (localTimeFromDays(first, 0).weekday + 1) % 7;
      int d = (r.weekday - first_wd_sun0 + 7) % 7;  // first matching weekday
      d += 7 * (r.week - 1);
      static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
      int month_days = kDays[(r.month - 1) % 12] + ((r.month == 2 && isLeap(year)) ? 1 : 0);
      while (d >= month_days) d -= 7;  // week 5 = last
      day = first + d;
      break;
    }
  }
  return static_cast<int64_t>(day) * 86400 + r.time_seconds - offset;
}

int32_t TimeZone::footerOffset(int64_t t) const noexcept {
  if (!footer_.has_dst) return footer_.std_offset;
  const int32_t days = static_cast<int32_t>(floorDiv(t + footer_.std_offset, 86400));
  const int year = localTimeFromDays(days, 0).year;
  const int64_t start = ruleTime(footer_.start, year, footer_.std_offset);
  const int64_t end = ruleTime(footer_.end, year, footer_.dst_offset);
  const bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
  return dst ? footer_.dst_offset : footer_.std_offset;
}

TimeZone TimeZone::utc() {
  TimeZone tz;
  tz.name_ = "UTC";
  tz.footer_.valid = true;
  return tz;
}

Result<TimeZone> TimeZone::load(std::string_view name, std::string_view zoneinfo_dir) {
  if (name == "UTC" || name == "Etc/UTC" || name == "Z") return utc();
  if (name.empty() || name.front() == '/' || name.find("..") != std::string_view::npos) {
    return Status::invalid("\"" + std::string(name) + "\" is not an IANA time zone name");
  }
  const std::string path = std::string(zoneinfo_dir) + "/" + std::string(name);
  // "Europe" names a directory of zones, not a zone (found by the config_loader fuzzer: it
  // used to throw out of the stream buffer and take the daemon down).
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status::invalid("\"" + std::string(name) + "\" is a region, not a time zone (" + path +
                           " is a directory); name a zone in it, e.g. \"" + std::string(name) +
                           "/...\"");
  }
  Result<std::string> read = readWholeFile(path, kMaxZoneFileBytes);
  if (!read) {
    if (read.status().code() == StatusCode::kNotFound) {
      return Status::notFound("unknown time zone \"" + std::string(name) + "\" (no " + path + ")");
    }
    return Status(read.status().code(),
                  "time zone \"" + std::string(name) + "\": " + read.status().message());
  }
  const std::string& data = *read;
  auto bad = [&](std::string_view why) {
    return Status::invalid(path + ": not a valid TZif file (" + std::string(why) + ")");
  };
  if (data.size() < 44 || data.compare(0, 4, "TZif") != 0) return bad("no TZif header");
  const char version = data[4];
  struct Counts {
    uint32_t isut, isstd, leap, time, type, chars;
  };
  auto counts = [&](size_t at) {
    return Counts{be32(data, at + 20), be32(data, at + 24), be32(data, at + 28),
                  be32(data, at + 32), be32(data, at + 36), be32(data, at + 40)};
  };
  Counts c = counts(0);
  size_t at = 44;
  int time_size = 4;
  auto blockSize = [&](const Counts& k, int ts) {
    return static_cast<size_t>(k.time) * ts + k.time + k.type * 6u + k.chars +
           static_cast<size_t>(k.leap) * (ts + 4) + k.isstd + k.isut;
  };
  if (version >= '2') {
    at += blockSize(c, 4);
    if (data.size() < at + 44 || data.compare(at, 4, "TZif") != 0) return bad("no v2 header");
    c = counts(at);
    at += 44;
    time_size = 8;
  }
  if (data.size() < at + blockSize(c, time_size)) return bad("truncated");
  if (c.type == 0) return bad("no local time types");
  TimeZone tz;
  tz.name_ = std::string(name);
  const size_t times_at = at;
  const size_t idx_at = times_at + static_cast<size_t>(c.time) * time_size;
  const size_t types_at = idx_at + c.time;
  std::vector<int32_t> type_offsets(c.type);
  for (uint32_t i = 0; i < c.type; ++i) {
    type_offsets[i] = static_cast<int32_t>(be32(data, types_at + i * 6u));
  }
  tz.initial_offset_ = type_offsets[0];
  for (uint32_t i = 0; i < c.time; ++i) {
    const int64_t t = time_size == 8 ? be64(data, times_at + i * 8u)
                                     : static_cast<int32_t>(be32(data, times_at + i * 4u));
    const uint8_t idx = static_cast<uint8_t>(data[idx_at + i]);
    if (idx >= c.type) return bad("transition type out of range");
    tz.transitions_.push_back(t);
    tz.offsets_.push_back(type_offsets[idx]);
  }
  if (version >= '2') {
    const size_t footer_at = at + blockSize(c, time_size);
    if (footer_at < data.size() && data[footer_at] == '\n') {
      const size_t end = data.find('\n', footer_at + 1);
      if (end != std::string::npos && end > footer_at + 1) {
        if (!parseFooter(std::string_view(data).substr(footer_at + 1, end - footer_at - 1),
                         tz.footer_)) {
          return bad("unreadable footer rule");
        }
      }
    }
  }
  return tz;
}

int32_t TimeZone::offsetAt(int64_t t) const noexcept {
  if (transitions_.empty()) return footer_.valid ? footerOffset(t) : initial_offset_;
  if (t < transitions_.front()) return initial_offset_;
  if (t >= transitions_.back() && footer_.valid) return footerOffset(t);
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), t);
  return offsets_[static_cast<size_t>(it - transitions_.begin()) - 1];
}

LocalTime TimeZone::toLocal(int64_t t) const noexcept {
  const int64_t local = t + offsetAt(t);
  const int64_t days = floorDiv(local, 86400);
  const int minute = static_cast<int>((local - days * 86400) / 60);
  return localTimeFromDays(static_cast<int32_t>(days), minute);
}

}  // namespace safegate::policy
