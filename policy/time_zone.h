// TimeZone: UTC offsets of an IANA time zone, read from the system's compiled tz database
// (/usr/share/zoneinfo, TZif format, RFC 8536). libstdc++ 12 has no C++20 chrono tzdb
// (std::chrono::locate_zone arrives in GCC 14), so safegate reads TZif itself.
//
// Loading is control plane (file I/O, allocation). offsetAt()/toLocal() are data plane:
// noexcept, no allocation (binary search over the transition table, then the RFC 8536 §3.3
// footer rule for times after the last transition). Immutable after load; safe to share
// between threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace safegate::policy {

// A local civil time broken down for schedule matching.
struct LocalTime {
  int32_t days_since_epoch = 0;  // local calendar day, 1970-01-01 = 0
  int year = 1970;
  int month = 1;          // 1..12
  int day = 1;            // 1..31
  int weekday = 4;        // 0 = Monday .. 6 = Sunday (1970-01-01 was a Thursday)
  int minute_of_day = 0;  // 0..1439
};

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
int32_t daysFromCivil(int year, int month, int day) noexcept;
LocalTime localTimeFromDays(int32_t days, int minute_of_day) noexcept;

class TimeZone {
 public:
  // "UTC" (also "Etc/UTC"), or an IANA name like "Europe/London" found under `zoneinfo_dir`.
  static Result<TimeZone> load(std::string_view name,
                               std::string_view zoneinfo_dir = "/usr/share/zoneinfo");
  static TimeZone utc();

  const std::string& name() const { return name_; }
  // Seconds east of UTC in effect at `unix_seconds`.
  int32_t offsetAt(int64_t unix_seconds) const noexcept;
  LocalTime toLocal(int64_t unix_seconds) const noexcept;

 private:
  // POSIX TZ rule from the TZif footer: std offset, optional DST offset and change rules.
  struct Rule {
    enum class Kind : uint8_t { kJulian1, kJulian0, kMonthWeekDay };
    Kind kind = Kind::kMonthWeekDay;
    int month = 0, week = 0, weekday = 0, day = 0;
    int32_t time_seconds = 7200;
  };
  struct Footer {
    bool valid = false;
    int32_t std_offset = 0;
    bool has_dst = false;
    int32_t dst_offset = 0;
    Rule start, end;
  };
  static bool parseFooter(std::string_view tz, Footer& out);
  static int64_t ruleTime(const Rule& r, int year, int32_t offset) noexcept;
  int32_t footerOffset(int64_t unix_seconds) const noexcept;

  std::string name_;
  std::vector<int64_t> transitions_;  // ascending UTC seconds
  std::vector<int32_t> offsets_;      // offset after each transition
  int32_t initial_offset_ = 0;        // before the first transition
  Footer footer_;
};

}  // namespace safegate::policy
