#include "policy/schedule.h"

#include <array>
#include <cctype>

namespace safegate::policy {
namespace {

constexpr std::array<std::string_view, 7> kDays = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

int dayIndex(std::string_view d) {
  for (size_t i = 0; i < kDays.size(); ++i) {
    if (d == kDays[i]) return static_cast<int>(i);
  }
  // Accept full names too ("monday").
  static constexpr std::array<std::string_view, 7> kLong = {
      "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};
  for (size_t i = 0; i < kLong.size(); ++i) {
    if (d == kLong[i]) return static_cast<int>(i);
  }
  return -1;
}

// "HH:MM" -> minutes, 0..1440; -1 on error.
int parseClock(std::string_view t) {
  if (t.size() != 5 || t[2] != ':') return -1;
  for (size_t i : {0u, 1u, 3u, 4u}) {
    if (!std::isdigit(static_cast<unsigned char>(t[i]))) return -1;
  }
  const int h = (t[0] - '0') * 10 + (t[1] - '0');
  const int m = (t[3] - '0') * 10 + (t[4] - '0');
  if (m > 59 || h > 24 || (h == 24 && m != 0)) return -1;
  return h * 60 + m;
}

std::string parseDays(std::string_view spec, std::array<bool, 7>& days) {
  days.fill(false);
  if (spec == "daily" || spec == "everyday") {
    days.fill(true);
    return {};
  }
  if (spec == "weekdays") {
    for (int i = 0; i < 5; ++i) days[i] = true;
    return {};
  }
  if (spec == "weekends") {
    days[5] = days[6] = true;
    return {};
  }
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t comma = spec.find(',', pos);
    if (comma == std::string_view::npos) comma = spec.size();
    std::string_view part = spec.substr(pos, comma - pos);
    const size_t dash = part.find('-');
    if (dash == std::string_view::npos) {
      const int d = dayIndex(part);
      if (d < 0)
        return "unknown day \"" + std::string(part) +
               "\" (use mon..sun, daily, weekdays, weekends)";
      days[d] = true;
    } else {
      const int a = dayIndex(part.substr(0, dash));
      const int b = dayIndex(part.substr(dash + 1));
      if (a < 0 || b < 0) return "unknown day range \"" + std::string(part) + "\"";
      for (int d = a;; d = (d + 1) % 7) {
        days[d] = true;
        if (d == b) break;
      }
    }
    pos = comma + 1;
  }
  return {};
}

}  // namespace

std::string parseWindow(std::string_view w, WeekMinutes& out) {
  const size_t space = w.find(' ');
  if (space == std::string_view::npos) {
    return "window \"" + std::string(w) +
           "\" is not \"DAYS HH:MM-HH:MM\" (e.g. \"mon-fri 08:30-15:30\")";
  }
  std::string_view day_spec = w.substr(0, space);
  std::string_view times = w.substr(space + 1);
  while (!times.empty() && times.front() == ' ') times.remove_prefix(1);
  std::array<bool, 7> days{};
  if (std::string err = parseDays(day_spec, days); !err.empty()) return err;
  const size_t dash = times.find('-');
  if (dash == std::string_view::npos) return "window \"" + std::string(w) + "\" has no HH:MM-HH:MM";
  const int start = parseClock(times.substr(0, dash));
  const int end = parseClock(times.substr(dash + 1));
  if (start < 0 || end < 0 || start == 1440) {
    return "window \"" + std::string(w) + "\": times must be HH:MM between 00:00 and 24:00";
  }
  const int length = end > start ? end - start : end + 1440 - start;  // over midnight
  for (int d = 0; d < 7; ++d) {
    if (!days[d]) continue;
    for (int m = 0; m < length; ++m) {
      out.set(static_cast<size_t>((d * 1440 + start + m) % kMinutesPerWeek));
    }
  }
  return {};
}

std::string parseDateRange(std::string_view text, DateRange& out) {
  auto parseDate = [](std::string_view d, int32_t& days) {
    if (d.size() != 10 || d[4] != '-' || d[7] != '-') return false;
    int v[3] = {0, 0, 0};
    size_t idx[3][2] = {{0, 4}, {5, 2}, {8, 2}};
    for (int k = 0; k < 3; ++k) {
      for (size_t i = idx[k][0]; i < idx[k][0] + idx[k][1]; ++i) {
        if (!std::isdigit(static_cast<unsigned char>(d[i]))) return false;
        v[k] = v[k] * 10 + (d[i] - '0');
      }
    }
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31) return false;
    days = daysFromCivil(v[0], v[1], v[2]);
    // Reject 2026-02-30 and friends: the day must round-trip.
    const LocalTime lt = localTimeFromDays(days, 0);
    return lt.month == v[1] && lt.day == v[2];
  };
  const size_t dots = text.find("..");
  std::string_view a = dots == std::string_view::npos ? text : text.substr(0, dots);
  std::string_view b = dots == std::string_view::npos ? text : text.substr(dots + 2);
  if (!parseDate(a, out.first_day) || !parseDate(b, out.last_day)) {
    return "date range \"" + std::string(text) +
           "\" is not YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD with a real calendar date";
  }
  if (out.last_day < out.first_day) {
    return "date range \"" + std::string(text) + "\" ends before it starts";
  }
  return {};
}

bool Schedule::activeAt(const LocalTime& t) const noexcept {
  if (!minutes.test(static_cast<size_t>(t.weekday * 1440 + t.minute_of_day))) return false;
  if (!active_dates.empty()) {
    bool in = false;
    for (const auto& r : active_dates) {
      if (t.days_since_epoch >= r.first_day && t.days_since_epoch <= r.last_day) {
        in = true;
        break;
      }
    }
    if (!in) return false;
  }
  for (const auto& r : inactive_dates) {
    if (t.days_since_epoch >= r.first_day && t.days_since_epoch <= r.last_day) return false;
  }
  return true;
}

}  // namespace safegate::policy
