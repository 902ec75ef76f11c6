#include "daemon/store/incident_query.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "common/sqlite_db.h"
#include "daemon/store/incident_store.h"
#include "tests/support/shared_data.h"

namespace safegate {
namespace {

using safegate::testing::TempDir;

constexpr int64_t kHour = 3'600'000;
constexpr int64_t kBase = 1'800'000'000'000;  // a whole hour (2027-01-15 08:00 UTC)

// A migrated database (IncidentStore::open), filled with plain INSERTs so each test says
// exactly which rows exist.
class IncidentQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    IncidentStoreOptions o;
    o.database_path = path();
    o.secret_file = dir_.path() / "secret";
    ASSERT_TRUE(IncidentStore::open(o));
    auto db = SqliteDb::open(path().string(), {});
    ASSERT_TRUE(db);
    db_.emplace(std::move(*db));
  }
  std::filesystem::path path() const { return dir_.path() / "incidents.db"; }

  void add(int64_t ts, const std::string& client, const std::string& group,
           const std::string& category, bool alert = false, const std::string& verdict = "block") {
    auto st = db_->prepare(
        "INSERT INTO incidents (ts_ms, client, grp, name, category, verdict, alert, protocol) "
        "VALUES (?,?,?,?,?,?,?,'dns')");
    ASSERT_TRUE(st);
    st->bindInt(1, ts);
    st->bindText(2, client);
    st->bindText(3, group);
    st->bindText(4, category + ".example");
    st->bindText(5, category);
    st->bindText(6, verdict);
    st->bindInt(7, alert ? 1 : 0);
    ASSERT_EQ(st->step(), SqliteCode::kDone);
  }
  void addHourly(int64_t hour_ms, const std::string& group, const std::string& category,
                 int64_t count, const std::string& verdict = "block") {
    ASSERT_TRUE(db_->exec("INSERT INTO hourly_counts VALUES (" + std::to_string(hour_ms / 1000) +
                          ",'" + group + "','" + category + "','" + verdict + "'," +
                          std::to_string(count) + ")"));
  }
  // The plan SQLite chooses for the query queryIncidents builds for `where`.
  std::string plan(const std::string& where) {
    auto st = db_->prepare(
        "EXPLAIN QUERY PLAN SELECT * FROM incidents WHERE ts_ms >= 0 AND ts_ms < 9e18" + where +
        " ORDER BY ts_ms DESC, id DESC LIMIT 50");
    EXPECT_TRUE(st);
    std::string out;
    while (st->step() == SqliteCode::kRow) out += st->columnText(3) + "\n";
    return out;
  }

  TempDir dir_;
  std::optional<SqliteDb> db_;
};

TEST_F(IncidentQueryTest, EachFilterReturnsOnlyItsRowsNewestFirst) {
  add(kBase + 1, "c-aaaa", "kids", "gambling");
  add(kBase + 2, "c-bbbb", "teens", "gambling");
  add(kBase + 3, "c-aaaa", "kids", "adult", true);
  add(kBase + 4, "c-aaaa", "kids", "gambling");

  auto by_client = queryIncidents(path(), {.client = "c-aaaa"});
  ASSERT_TRUE(by_client) << by_client.status().toString();
  ASSERT_EQ(by_client->rows.size(), 3u);
  EXPECT_EQ((*by_client).rows[0].unix_ms, kBase + 4);
  EXPECT_EQ((*by_client).rows[2].unix_ms, kBase + 1);

  auto by_group = queryIncidents(path(), {.group = "teens"});
  ASSERT_EQ(by_group->rows.size(), 1u);
  EXPECT_EQ((*by_group).rows[0].client, "c-bbbb");

  auto by_category = queryIncidents(path(), {.category = "gambling"});
  EXPECT_EQ(by_category->rows.size(), 3u);

  auto alerts = queryIncidents(path(), {.alerts_only = true});
  ASSERT_EQ(alerts->rows.size(), 1u);
  EXPECT_EQ((*alerts).rows[0].category, "adult");
  EXPECT_TRUE((*alerts).rows[0].alert);

  auto combined = queryIncidents(path(), {.client = "c-aaaa", .category = "gambling"});
  EXPECT_EQ(combined->rows.size(), 2u);

  auto window = queryIncidents(path(), {.since_ms = kBase + 2, .until_ms = kBase + 4});
  ASSERT_EQ(window->rows.size(), 2u);
  EXPECT_EQ((*window).rows[0].unix_ms, kBase + 3);
  EXPECT_EQ((*window).rows[1].unix_ms, kBase + 2);

  EXPECT_TRUE(queryIncidents(path(), {.client = "c-none"})->rows.empty());
}

TEST_F(IncidentQueryTest, TheCursorWalksEveryRowOnceEvenWhenTimesAreEqual) {
  // Three rows share one millisecond, across a page boundary.
  for (int i = 0; i < 7; ++i) add(kBase + (i >= 2 && i <= 4 ? 10 : i * 3), "c-aaaa", "kids", "x");
  std::set<int64_t> seen;
  IncidentFilter f{.client = "c-aaaa", .limit = 2};
  int64_t last_ms = std::numeric_limits<int64_t>::max();
  for (int page = 0; page < 10; ++page) {
    auto rows = queryIncidents(path(), f);
    ASSERT_TRUE(rows);
    for (const auto& r : rows->rows) {
      EXPECT_TRUE(seen.insert(r.id).second) << "row " << r.id << " shown twice";
      EXPECT_LE(r.unix_ms, last_ms);
      last_ms = r.unix_ms;
    }
    if (!rows->more) break;
    EXPECT_EQ(rows->next_id, rows->rows.back().id) << "a full page continues after its last row";
    f.before_ms = rows->next_ms;
    f.before_id = rows->next_id;
  }
  EXPECT_EQ(seen.size(), 7u);
}

TEST_F(IncidentQueryTest, ARareCombinationStopsAtTheScanBudgetWithACursor) {
  // One old match for pupils + adult, behind 30 newer pupils incidents of another category.
  add(kBase, "c-aaaa", "pupils", "adult");
  for (int i = 1; i <= 30; ++i) add(kBase + i, "c-bbbb", "pupils", "games");
  IncidentFilter f{.group = "pupils", .category = "adult", .scan_budget = 10};
  // The category's index is walked (the more selective one): the match is found at once.
  auto direct = queryIncidents(path(), f);
  ASSERT_TRUE(direct);
  ASSERT_EQ(direct->rows.size(), 1u);
  EXPECT_FALSE(direct->more);

  // A device's filter with a category it never had: nothing, and a cursor to look further.
  auto none = queryIncidents(
      path(), {.client = "c-bbbb", .category = "adult", .limit = 5, .scan_budget = 10});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->rows.empty());
  EXPECT_TRUE(none->more);
  EXPECT_TRUE(none->budget_used);
  EXPECT_EQ(none->next_ms, kBase + 21) << "the tenth row looked at, newest first";
  // Continuing: each budget looks further back, and the walk ends with nothing more.
  IncidentFilter next{.client = "c-bbbb", .category = "adult", .limit = 5, .scan_budget = 10};
  int budgets = 1;
  for (auto page = *none; page.more; ++budgets) {
    ASSERT_LT(budgets, 10);
    next.before_ms = page.next_ms;
    next.before_id = page.next_id;
    auto further = queryIncidents(path(), next);
    ASSERT_TRUE(further);
    EXPECT_TRUE(further->rows.empty());
    if (further->more) {
      EXPECT_LT(further->next_ms, page.next_ms);
    }
    page = *further;
  }
  EXPECT_EQ(budgets, 4) << "30 rows of c-bbbb, 10 a budget, and the last finds the end";
}

TEST_F(IncidentQueryTest, SummaryCountsBlocksByHourCategoryAndGroupWithABaseline) {
  addHourly(kBase, "kids", "gambling", 5);
  addHourly(kBase, "kids", "adult", 2);
  addHourly(kBase + kHour, "kids", "gambling", 1);
  addHourly(kBase + kHour, "teens", "social", 4);
  addHourly(kBase + kHour, "teens", "social", 9, "monitor");   // not a block
  addHourly(kBase - 48 * kHour, "kids", "gambling", 14);       // the baseline week
  addHourly(kBase - 10 * 24 * kHour, "kids", "gambling", 99);  // before the baseline
  add(kBase + 5, "c-aaaa", "kids", "adult", true);

  auto s = summarizeIncidents(path(), {.since_ms = kBase + 60'000, .until_ms = kBase + 2 * kHour});
  ASSERT_TRUE(s) << s.status().toString();
  // The window starts inside the first hour: that hour counts whole.
  ASSERT_EQ(s->blocks_by_hour.size(), 2u);
  EXPECT_EQ(s->blocks_by_hour[0].hour, kBase / 1000);
  EXPECT_EQ(s->blocks_by_hour[0].count, 7);
  EXPECT_EQ(s->blocks_by_hour[1].count, 5);
  ASSERT_EQ(s->blocks_by_category.size(), 3u);
  EXPECT_EQ(s->blocks_by_category[0].key, "gambling");
  EXPECT_EQ(s->blocks_by_category[0].count, 6);
  ASSERT_EQ(s->groups.size(), 2u);
  EXPECT_EQ(s->groups[0].group, "kids");
  EXPECT_EQ(s->groups[0].blocks, 8);
  EXPECT_EQ(s->groups[0].blocks_before, 14);
  EXPECT_EQ(s->groups[0].alerts, 0) << "the alert is before since_ms";
  EXPECT_EQ(s->groups[1].blocks, 4);

  auto kids = summarizeIncidents(path(), {.group = "kids", .since_ms = kBase});
  ASSERT_TRUE(kids);
  ASSERT_EQ(kids->groups.size(), 1u);
  EXPECT_EQ(kids->groups[0].alerts, 1);
  EXPECT_EQ(kids->blocks_by_category.size(), 2u);
}

TEST_F(IncidentQueryTest, ADevicesSummaryComesFromItsOwnRows) {
  add(kBase + 1, "c-aaaa", "kids", "gambling");
  add(kBase + kHour + 1, "c-aaaa", "kids", "gambling");
  add(kBase + kHour + 2, "c-aaaa", "kids", "adult", true);
  add(kBase + kHour + 3, "c-aaaa", "kids", "social", false, "monitor");
  add(kBase + 4, "c-bbbb", "kids", "gambling");
  auto s = summarizeIncidents(path(), {.client = "c-aaaa", .since_ms = kBase});
  ASSERT_TRUE(s) << s.status().toString();
  ASSERT_EQ(s->blocks_by_hour.size(), 2u);
  EXPECT_EQ(s->blocks_by_hour[0].count, 1);
  EXPECT_EQ(s->blocks_by_hour[1].count, 2);
  ASSERT_EQ(s->blocks_by_category.size(), 2u);
  EXPECT_EQ(s->blocks_by_category[0].key, "gambling");
  EXPECT_EQ(s->blocks_by_category[0].count, 2);
  ASSERT_EQ(s->groups.size(), 1u);
  EXPECT_EQ(s->groups[0].blocks, 3);
  EXPECT_EQ(s->groups[0].alerts, 1);
}

TEST_F(IncidentQueryTest, AVersionOneDatabaseGetsTheIndexesAndKeepsItsRows) {
  add(kBase, "c-aaaa", "kids", "gambling");
  ASSERT_TRUE(
      db_->exec("DROP INDEX incidents_client_ts; DROP INDEX incidents_grp_ts; "
                "DROP INDEX incidents_category_ts; DROP INDEX incidents_alert_ts"));
  ASSERT_TRUE(db_->setUserVersion(1));
  db_.reset();
  IncidentStoreOptions o;
  o.database_path = path();
  o.secret_file = dir_.path() / "secret";
  ASSERT_TRUE(IncidentStore::open(o));
  auto db = SqliteDb::open(path().string(), {});
  EXPECT_EQ(*db->userVersion(), 2);
  db_.emplace(std::move(*db));
  EXPECT_NE(plan(" AND client = 'c-aaaa'").find("incidents_client_ts"), std::string::npos);
  EXPECT_EQ(queryIncidents(path(), {.client = "c-aaaa"})->rows.size(), 1u);
}

TEST_F(IncidentQueryTest, AMissingDatabaseIsAnErrorNamingIt) {
  auto rows = queryIncidents(dir_.path() / "absent.db", {});
  ASSERT_FALSE(rows);
  EXPECT_NE(rows.status().message().find("absent.db"), std::string::npos);
}

}  // namespace
}  // namespace safegate
