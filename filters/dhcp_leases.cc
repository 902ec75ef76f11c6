#include "filters/dhcp_leases.h"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <map>

namespace safegate {

namespace {

std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::optional<int64_t> integer(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// Calls `line` for each line of `text` (without the newline).
template <typename F>
void forEachLine(std::string_view text, F&& line) {
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    line(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
}

void parseDnsmasq(std::string_view text, LeaseFile& out) {
  bool ipv6 = false;  // after the "duid" line
  forEachLine(text, [&](std::string_view line) {
    const auto f = fields(line);
    if (f.empty()) return;
    if (f[0] == "duid") {
      ipv6 = true;
      return;
    }
    auto expires = f.size() >= 4 ? integer(f[0]) : std::nullopt;
    auto address = f.size() >= 4 ? IpAddress::parse(f[2]) : std::nullopt;
    std::optional<MacAddress> mac;
    if (!ipv6 && f.size() >= 4) mac = MacAddress::parse(f[1]);
    if (!expires || *expires < 0 || !address || (!ipv6 && !mac)) {
      ++out.skipped;
      return;
    }
    std::string name = cleanHostName(f[3]);
    if (name.empty()) return;  // a lease without a name: nothing to show
    out.leases.push_back({*address, mac, std::move(name), *expires});
  });
}

void parseOdhcpd(std::string_view text, LeaseFile& out) {
  forEachLine(text, [&](std::string_view line) {
    const auto f = fields(line);
    if (f.empty()) return;
    // "#" IFACE DUID IAID HOSTNAME VALID ASSIGNED PREFIXLEN ADDRESS/LEN...
    if (f[0] != "#" || f.size() < 9) {
      ++out.skipped;
      return;
    }
    // VALID: the lease's end in Unix seconds; -1 = infinite, 0 = expired (odhcpd writes both).
    const auto valid = integer(f[5]);
    if (!valid || *valid < -1) {
      ++out.skipped;
      return;
    }
    if (*valid == 0) return;
    std::string name = cleanHostName(f[4]);
    bool any = false;
    for (size_t i = 8; i < f.size(); ++i) {
      std::string_view a = f[i];
      a = a.substr(0, a.find('/'));
      auto address = IpAddress::parse(a);
      if (!address) continue;
      any = true;
      if (!name.empty())
        out.leases.push_back({*address, std::nullopt, name, std::max<int64_t>(*valid, 0)});
    }
    if (!any) ++out.skipped;
  });
}

// "A/B/C" or "A:B:C" as three numbers.
bool threeNumbers(std::string_view s, char sep, int64_t (&out)[3]) {
  for (int i = 0; i < 3; ++i) {
    const size_t end = i < 2 ? s.find(sep) : s.size();
    if (end == std::string_view::npos) return false;
    auto v = integer(s.substr(0, end));
    if (!v) return false;
    out[i] = *v;
    s = i < 2 ? s.substr(end + 1) : std::string_view();
  }
  return true;
}

// "4 2026/12/03 22:00:00" (UTC), "epoch 1796335200", "never".
std::optional<int64_t> iscTime(const std::vector<std::string_view>& f) {
  if (f.size() >= 2 && f[1] == "never") return 0;
  if (f.size() >= 3 && f[1] == "epoch") return integer(f[2]);
  int64_t date[3], time[3];
  if (f.size() < 4 || !threeNumbers(f[2], '/', date) || !threeNumbers(f[3], ':', time)) {
    return std::nullopt;
  }
  if (date[0] < 1970 || date[0] > 9999 || date[1] < 1 || date[1] > 12 || date[2] < 1 ||
      date[2] > 31 || time[0] < 0 || time[0] > 23 || time[1] < 0 || time[1] > 59 || time[2] < 0 ||
      time[2] > 60) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = static_cast<int>(date[0] - 1900);
  tm.tm_mon = static_cast<int>(date[1] - 1);
  tm.tm_mday = static_cast<int>(date[2]);
  tm.tm_hour = static_cast<int>(time[0]);
  tm.tm_min = static_cast<int>(time[1]);
  tm.tm_sec = static_cast<int>(time[2]);
  return static_cast<int64_t>(timegm(&tm));
}

// The part of an ISC statement line before its comment and its ';', quotes respected.
std::string_view iscStatement(std::string_view line) {
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '"' && (i == 0 || line[i - 1] != '\\')) quoted = !quoted;
    if (!quoted && (line[i] == '#' || line[i] == ';')) return line.substr(0, i);
  }
  return line;
}

std::string_view unquote(std::string_view s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
  return s;
}

void parseIsc(std::string_view text, LeaseFile& out) {
  struct Block {
    bool ok = true;
    bool active = true;
    Lease lease;
  };
  std::map<IpAddress, Block> last;  // the file is a log: the last block of an address wins
  std::optional<Block> open;
  forEachLine(text, [&](std::string_view raw) {
    const std::string_view line = iscStatement(raw);
    auto f = fields(line);
    if (f.empty()) return;
    if (!open) {
      if (f[0] == "lease") {
        auto address = f.size() >= 3 && f[2] == "{" ? IpAddress::parse(f[1]) : std::nullopt;
        if (!address) {
          ++out.skipped;
          return;
        }
        open.emplace();
        open->lease.address = *address;
      }
      return;  // other top-level statements (server-duid, authoring-byte-order, failover)
    }
    if (f[0] == "}") {
      last[open->lease.address] = std::move(*open);
      open.reset();
      return;
    }
    if (f[0] == "ends") {
      auto t = iscTime(f);
      if (t)
        open->lease.expires = *t;
      else
        open->ok = false;
    } else if (f[0] == "binding" && f.size() >= 3 && f[1] == "state") {
      open->active = f[2] == "active";
    } else if (f[0] == "hardware" && f.size() >= 3 && f[1] == "ethernet") {
      auto mac = MacAddress::parse(f[2]);
      if (mac)
        open->lease.mac = *mac;
      else
        open->ok = false;
    } else if (f[0] == "client-hostname" && f.size() >= 2) {
      // The name may contain spaces inside its quotes.
      const size_t q = line.find('"');
      const size_t r = line.rfind('"');
      open->lease.name = cleanHostName(
          q != std::string_view::npos && r > q ? line.substr(q + 1, r - q - 1) : unquote(f[1]));
    }
  });
  if (open) ++out.skipped;  // a block cut off at the end of the file
  for (auto& [address, block] : last) {
    if (!block.ok) {
      ++out.skipped;
      continue;
    }
    if (!block.active || block.lease.name.empty()) continue;
    out.leases.push_back(std::move(block.lease));
  }
}

}  // namespace

std::string cleanHostName(std::string_view raw) {
  if (raw == "*" || raw == "-") return {};
  std::string out;
  for (char c : raw.substr(0, 63)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    out += ok ? c : '-';
  }
  bool usable = false;
  for (char c : out) usable = usable || (c != '-' && c != '.' && c != '_');
  return usable ? out : std::string();
}

LeaseFormat detectLeaseFormat(std::string_view text) {
  // ISC first: its files start with a "#" comment that could pass for an odhcpd line.
  bool isc = false, odhcpd = false;
  forEachLine(text, [&](std::string_view line) {
    const auto f = fields(line);
    if (f.size() >= 3 && f[0] == "lease" && f[2] == "{") isc = true;
    if (f.size() >= 9 && f[0] == "#" && integer(f[5]) && f[8].find('/') != std::string_view::npos) {
      odhcpd = true;
    }
  });
  return isc ? LeaseFormat::kIscDhcpd : odhcpd ? LeaseFormat::kOdhcpd : LeaseFormat::kDnsmasq;
}

LeaseFile parseLeases(std::string_view text, LeaseFormat format) {
  LeaseFile out;
  out.format = format == LeaseFormat::kAuto ? detectLeaseFormat(text) : format;
  switch (out.format) {
    case LeaseFormat::kIscDhcpd: parseIsc(text, out); break;
    case LeaseFormat::kOdhcpd: parseOdhcpd(text, out); break;
    case LeaseFormat::kAuto:
    case LeaseFormat::kDnsmasq: parseDnsmasq(text, out); break;
  }
  return out;
}

}  // namespace safegate
