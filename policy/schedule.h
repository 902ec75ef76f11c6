// Schedules: weekly time windows (several per day, over midnight) in a time zone, limited to
// or excluding date ranges (term dates, holidays).
//
// Window syntax (config key schedules[].windows):   "DAYS HH:MM-HH:MM"
//   DAYS = "daily" | "weekdays" | "weekends" | a day ("mon") | a range ("mon-fri", "fri-mon")
//          | a comma list ("mon,wed,fri").  A window whose end is not after its start runs
//          over midnight into the next day: "fri 21:00-07:00" is Friday 21:00 to Saturday
//          07:00. "24:00" means end of day.
// Date syntax (active_dates / inactive_dates): "YYYY-MM-DD" or "YYYY-MM-DD..YYYY-MM-DD"
//   (inclusive, local calendar days). With active_dates the schedule applies only on those
//   days (term dates); inactive_dates switch it off (holidays). A window running over
//   midnight is judged by the calendar day of the moment being checked.
//
// Parsing is control plane; Schedule::activeAt() is data plane (noexcept, no allocation: one
// bit test plus a scan of the few date ranges). Immutable after construction.
#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policy/time_zone.h"

namespace safegate::policy {

inline constexpr int kMinutesPerWeek = 7 * 24 * 60;
using WeekMinutes = std::bitset<kMinutesPerWeek>;  // bit = weekday * 1440 + minute

struct DateRange {
  int32_t first_day = 0;  // days since 1970-01-01, inclusive
  int32_t last_day = 0;   // inclusive
};

// Sets the minutes of `window` in `out`; returns "" or an error message.
std::string parseWindow(std::string_view window, WeekMinutes& out);
// Parses "YYYY-MM-DD" or "YYYY-MM-DD..YYYY-MM-DD"; returns "" or an error message.
std::string parseDateRange(std::string_view text, DateRange& out);

struct Schedule {
  std::string name;
  uint32_t time_zone = 0;  // index into the snapshot's time zones
  WeekMinutes minutes;
  std::vector<DateRange> active_dates;    // empty = every day
  std::vector<DateRange> inactive_dates;  // holidays

  bool activeAt(const LocalTime& t) const noexcept;
};

}  // namespace safegate::policy
