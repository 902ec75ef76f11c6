#include "policy/time_zone.h"

#include <gtest/gtest.h>

#include "policy/schedule.h"

namespace safegate::policy {
namespace {

int64_t utc(int y, int mo, int d, int h, int mi) {
  return static_cast<int64_t>(daysFromCivil(y, mo, d)) * 86400 + h * 3600 + mi * 60;
}

TEST(TimeZoneTest, LondonIsGmtInWinterAndBstInSummer) {
  auto tz = TimeZone::load("Europe/London");
  ASSERT_TRUE(tz) << tz.status().toString();
  EXPECT_EQ(tz->offsetAt(utc(2026, 1, 15, 12, 0)), 0);
  EXPECT_EQ(tz->offsetAt(utc(2026, 7, 15, 12, 0)), 3600);
  // BST starts on the last Sunday of March at 01:00 UTC (2026-03-29).
  EXPECT_EQ(tz->offsetAt(utc(2026, 3, 29, 0, 59)), 0);
  EXPECT_EQ(tz->offsetAt(utc(2026, 3, 29, 1, 0)), 3600);
  // Far future: the footer rule (RFC 8536 §3.3) applies after the last transition.
  EXPECT_EQ(tz->offsetAt(utc(2090, 7, 1, 12, 0)), 3600);
  EXPECT_EQ(tz->offsetAt(utc(2090, 12, 1, 12, 0)), 0);
}

TEST(TimeZoneTest, SouthernHemisphereDaylightTimeSpansNewYear) {
  auto tz = TimeZone::load("Australia/Sydney");
  ASSERT_TRUE(tz);
  EXPECT_EQ(tz->offsetAt(utc(2026, 1, 10, 0, 0)), 11 * 3600);
  EXPECT_EQ(tz->offsetAt(utc(2026, 7, 10, 0, 0)), 10 * 3600);
  EXPECT_EQ(tz->offsetAt(utc(2095, 1, 10, 0, 0)), 11 * 3600);
}

TEST(TimeZoneTest, UnknownZoneIsAnError) {
  EXPECT_FALSE(TimeZone::load("Europe/Atlantis"));
  EXPECT_FALSE(TimeZone::load("../etc/passwd"));
}

// A region directory is not a zone: it used to throw out of the stream buffer reading it and
// end the process (found by the config_loader fuzzer with time_zone = "Europe").
TEST(TimeZoneTest, RegionDirectoryIsAClearErrorNotACrash) {
  auto tz = TimeZone::load("Europe");
  ASSERT_FALSE(tz);
  EXPECT_NE(tz.status().message().find("\"Europe\" is a region, not a time zone"),
            std::string::npos)
      << tz.status().message();
}

TEST(TimeZoneTest, LocalTimeHasWeekdayAndMinute) {
  const LocalTime t = TimeZone::utc().toLocal(utc(2026, 11, 23, 21, 30));  // a Monday
  EXPECT_EQ(t.weekday, 0);
  EXPECT_EQ(t.minute_of_day, 21 * 60 + 30);
  EXPECT_EQ(t.year, 2026);
  EXPECT_EQ(t.month, 11);
  EXPECT_EQ(t.day, 23);
}

TEST(ScheduleTest, WindowOverMidnightCoversNextMorning) {
  Schedule s;
  ASSERT_EQ(parseWindow("fri 21:00-07:00", s.minutes), "");
  const TimeZone tz = TimeZone::utc();
  EXPECT_TRUE(s.activeAt(tz.toLocal(utc(2026, 11, 27, 22, 0))));  // Friday
  EXPECT_TRUE(s.activeAt(tz.toLocal(utc(2026, 11, 28, 6, 59))));  // Saturday morning
  EXPECT_FALSE(s.activeAt(tz.toLocal(utc(2026, 11, 28, 7, 0))));
  EXPECT_FALSE(s.activeAt(tz.toLocal(utc(2026, 11, 26, 22, 0))));  // Thursday
}

TEST(ScheduleTest, SeveralWindowsPerDayAndHolidays) {
  Schedule s;
  ASSERT_EQ(parseWindow("mon-fri 08:40-12:30", s.minutes), "");
  ASSERT_EQ(parseWindow("mon-fri 13:20-15:20", s.minutes), "");
  DateRange holiday;
  ASSERT_EQ(parseDateRange("2026-12-21..2027-01-01", holiday), "");
  s.inactive_dates.push_back(holiday);
  const TimeZone tz = TimeZone::utc();
  EXPECT_TRUE(s.activeAt(tz.toLocal(utc(2026, 11, 23, 9, 0))));
  EXPECT_FALSE(s.activeAt(tz.toLocal(utc(2026, 11, 23, 12, 45))));  // lunch
  EXPECT_TRUE(s.activeAt(tz.toLocal(utc(2026, 11, 23, 14, 0))));
  EXPECT_FALSE(s.activeAt(tz.toLocal(utc(2026, 12, 22, 9, 0))));  // holiday
}

TEST(ScheduleTest, BadWindowsAndDatesAreExplained) {
  WeekMinutes m;
  EXPECT_NE(parseWindow("mon 25:00-26:00", m), "");
  EXPECT_NE(parseWindow("someday 10:00-11:00", m), "");
  DateRange r;
  EXPECT_NE(parseDateRange("2026-02-30", r), "");
  EXPECT_NE(parseDateRange("2026-05-01..2026-04-01", r), "");
}

}  // namespace
}  // namespace safegate::policy
