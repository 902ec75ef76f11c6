// ListNoticeTracker: which refreshes of a subscribed list a person hears about. A list that
// starts failing is told at once and then once a day while it stays so; a recovery is told; a
// new version is told when the set of quarantined entries changes.
#include <gtest/gtest.h>

#include "daemon/lists/list_refresher.h"

namespace safegate {
namespace {

constexpr int64_t kNow = int64_t{1'800'000'000} * 1000;
constexpr int64_t kHour = 3'600'000;

ListRecord healthy() {
  ListRecord r;
  r.name = "adult";
  r.url = "https://lists.example/adult.txt";
  r.good = ListVersion{};
  r.entries = 1200;
  r.last_success_unix_ms = kNow - 24 * kHour;
  return r;
}

RefreshResult result(RefreshOutcome outcome, ListRecord r, std::string error = {}) {
  r.last_error = std::move(error);
  return RefreshResult{outcome, std::move(r)};
}

TEST(ListNoticeTrackerTest, AFailureIsToldOnceThenDailyAndItsRecoveryOnce) {
  ListNoticeTracker t;
  ListRecord before = healthy();
  // Healthy refreshes say nothing.
  EXPECT_TRUE(t.after(&before, result(RefreshOutcome::kUnchanged, before), kNow).empty());
  EXPECT_TRUE(t.after(&before, result(RefreshOutcome::kUpdated, before), kNow).empty());

  auto failed = result(RefreshOutcome::kFailed, before, "HTTP 500 Internal Server Error");
  auto n = t.after(&before, failed, kNow);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0].kind, ListNotice::Kind::kFailed);
  EXPECT_EQ(n[0].list, "adult");
  EXPECT_EQ(n[0].error, "HTTP 500 Internal Server Error");
  EXPECT_TRUE(n[0].has_good_copy);
  EXPECT_EQ(n[0].entries, 1200u);
  EXPECT_EQ(n[0].last_success_unix_ms, kNow - 24 * kHour);

  // The retries of the same day (each starts from a failing record) are not told again, even
  // when the reason changes; a day later it is told again.
  ListRecord failing = failed.record;
  EXPECT_TRUE(t.after(&failing, failed, kNow + kHour / 2).empty());
  auto refused = result(RefreshOutcome::kRefused, before, "shrank by 80 %");
  EXPECT_TRUE(t.after(&failing, refused, kNow + 23 * kHour).empty());
  n = t.after(&failing, refused, kNow + 24 * kHour);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0].kind, ListNotice::Kind::kRefused);
  EXPECT_EQ(n[0].error, "shrank by 80 %");

  n = t.after(&failing, result(RefreshOutcome::kUnchanged, before), kNow + 25 * kHour);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0].kind, ListNotice::Kind::kRecovered);
  EXPECT_TRUE(n[0].error.empty());
  // And a new failure after the recovery is told at once.
  EXPECT_EQ(t.after(&before, failed, kNow + 26 * kHour).size(), 1u);
}

TEST(ListNoticeTrackerTest, AFailureHeldFromBeforeARestartIsToldOnce) {
  ListNoticeTracker t;  // a new process: nothing told yet
  ListRecord failing = healthy();
  failing.last_error = "HTTP 404 Not Found";
  auto failed = result(RefreshOutcome::kFailed, healthy(), "HTTP 404 Not Found");
  EXPECT_EQ(t.after(&failing, failed, kNow).size(), 1u);
  EXPECT_TRUE(t.after(&failing, failed, kNow + kHour).empty());
}

TEST(ListNoticeTrackerTest, AFirstDownloadThatFailsSaysTheListBlocksNothingYet) {
  ListNoticeTracker t;
  ListRecord none;
  none.name = "adult";
  auto n = t.after(nullptr, result(RefreshOutcome::kFailed, none, "could not connect"), kNow);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_FALSE(n[0].has_good_copy);
  EXPECT_EQ(n[0].entries, 0u);
}

TEST(ListNoticeTrackerTest, QuarantineIsToldWhenItsSetOfEntriesChanges) {
  ListNoticeTracker t;
  ListRecord before = healthy();
  ListRecord after = healthy();
  after.quarantined = {{12, "ac.uk", "www.ox.ac.uk"}};
  auto n = t.after(&before, result(RefreshOutcome::kUpdated, after), kNow);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0].kind, ListNotice::Kind::kQuarantined);
  ASSERT_EQ(n[0].quarantined.size(), 1u);
  EXPECT_EQ(n[0].quarantined[0].protects, "www.ox.ac.uk");

  // The next version quarantines the same entry (on another line): nothing new to tell.
  ListRecord again = after;
  again.quarantined[0].line = 40;
  EXPECT_TRUE(t.after(&after, result(RefreshOutcome::kUpdated, again), kNow + kHour).empty());
  // One more entry: told, with both.
  ListRecord more = again;
  more.quarantined.push_back({41, "wikipedia.org", "en.wikipedia.org"});
  n = t.after(&again, result(RefreshOutcome::kUpdated, more), kNow + 2 * kHour);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0].quarantined.size(), 2u);

  // A recovery that also quarantines says both.
  ListRecord failing = more;
  failing.last_error = "HTTP 503";
  ListRecord fixed = healthy();
  fixed.quarantined = {{1, "google.com", "www.google.com"}};
  n = t.after(&failing, result(RefreshOutcome::kUpdated, fixed), kNow + 3 * kHour);
  ASSERT_EQ(n.size(), 2u);
  EXPECT_EQ(n[0].kind, ListNotice::Kind::kRecovered);
  EXPECT_EQ(n[1].kind, ListNotice::Kind::kQuarantined);
}

}  // namespace
}  // namespace safegate
