#include "daemon/reports/alert_router.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/shared_data.h"

namespace safegate {
namespace {

constexpr int64_t kMinute = 60'000;

class AlertRouterTest : public ::testing::Test {
 protected:
  static policy::AlertSettings route(const std::string& name, policy::AlertKind kind) {
    policy::AlertSettings s;
    s.name = name;
    s.kind = kind;
    s.from = "alerts@school.example";
    s.to = {"dsl@school.example"};
    s.batch_seconds = 60;
    s.rate_limit_minutes = 60;
    return s;
  }
  static AlertNotice notice(const std::string& device, const std::string& category,
                            bool blocked = true) {
    AlertNotice n;
    n.unix_ms = int64_t{1'700'000'000} * 1000;
    n.device = device;
    n.group = "year-7";
    n.category = category;
    n.name = category + ".example";
    n.blocked = blocked;
    n.protocol = "dns";
    return n;
  }
  AlertRouter router(std::vector<policy::AlertSettings> routes) {
    return AlertRouter(std::move(routes), (dir_.path() / "outbox.sqlite").string(), {}, "gw1",
                       "school-42", clock_);
  }
  std::vector<OutboxMessage> queued() {
    auto s = OutboxStore::open((dir_.path() / "outbox.sqlite").string(), {});
    if (!s) return {};
    auto all = s->list({}, 100);
    std::vector<OutboxMessage> out(all->rbegin(), all->rend());  // oldest first
    return out;
  }
  testing::TempDir dir_;
  FakeClock clock_;
};

TEST_F(AlertRouterTest, OnlyMatchingActionsCategoriesAndGroupsBecomeAlerts) {
  auto s = route("lead", policy::AlertKind::kWebhook);
  s.batch_seconds = 0;
  s.on_allow = false;
  s.categories = {"self-harm"};
  s.groups = {"year-7"};
  AlertRouter r = router({s});
  r.onAlert(notice("Sam's tablet", "self-harm", /*blocked=*/false));  // alert-allow: not wanted
  r.onAlert(notice("Sam's tablet", "gambling"));                      // other category
  AlertNotice other_group = notice("Sam's tablet", "self-harm");
  other_group.group = "staff";
  r.onAlert(other_group);
  r.flush();
  EXPECT_TRUE(queued().empty());
  r.onAlert(notice("Sam's tablet", "self-harm"));
  r.flush();  // batch_seconds = 0: whatever is pending goes at the next flush
  auto q = queued();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].destination, "lead");
  EXPECT_EQ(r.stats().alerts, 1u);
}

TEST_F(AlertRouterTest, PlainBlocksGoOnlyToADestinationThatExportsEveryBlock) {
  auto lead = route("lead", policy::AlertKind::kWebhook);  // alert-block, alert-allow
  lead.batch_seconds = 0;
  auto district = route("district", policy::AlertKind::kSyslog);
  district.on_block = district.on_allow = false;
  district.on_every_block = true;    // actions = ["block"]
  district.rate_limit_minutes = 60;  // the alert below must not fall in the block's window
  AlertRouter r = router({lead});
  EXPECT_FALSE(r.wantsEveryIncident());
  AlertRouter both = router({lead, district});
  EXPECT_TRUE(both.wantsEveryIncident());
  AlertNotice plain = notice("Sam's tablet", "gambling");
  plain.alert = false;
  AlertNotice monitored = notice("Sam's tablet", "social", /*blocked=*/false);
  monitored.alert = false;
  both.onAlert(plain);
  both.onAlert(monitored);                           // nobody exports monitored incidents here
  both.onAlert(notice("Sam's tablet", "gambling"));  // an alert-block: the lead; "block" too
  both.flush();
  auto q = queued();
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0].destination, "lead");
  auto body = nlohmann::json::parse(q[0].payload);
  ASSERT_EQ(body["alerts"].size(), 1u);  // the plain block is not the lead's
  EXPECT_EQ(body["alerts"][0]["action"], "alert-block");
  EXPECT_EQ(q[1].destination, "district");
  EXPECT_EQ(q[1].payload.rfind("<109>1 ", 0), 0u) << q[1].payload;  // a plain block: notice
  EXPECT_NE(q[1].payload.find("action=\"block\""), std::string::npos) << q[1].payload;
  EXPECT_NE(q[1].payload.find("category=\"gambling\""), std::string::npos) << q[1].payload;
  // The alert for the same device and category is not hidden by the plain block's window.
  EXPECT_EQ(q[2].destination, "district");
  EXPECT_NE(q[2].payload.find("action=\"alert-block\""), std::string::npos) << q[2].payload;
}

TEST_F(AlertRouterTest, BatchWindowGathersAlertsIntoOneWebhookBody) {
  AlertRouter r = router({route("lead", policy::AlertKind::kWebhook)});
  r.onAlert(notice("Sam's tablet", "self-harm"));
  r.onAlert(notice("p-3f9a", "extremism", /*blocked=*/false));
  r.flush();
  EXPECT_TRUE(queued().empty());  // the window is still open
  clock_.advanceMs(60'000);
  r.flush();
  auto q = queued();
  ASSERT_EQ(q.size(), 1u);
  auto body = nlohmann::json::parse(q[0].payload);
  EXPECT_EQ(body["type"], "safegate.alerts");
  EXPECT_EQ(body["deployment_id"], "school-42");
  ASSERT_EQ(body["alerts"].size(), 2u);
  EXPECT_EQ(body["alerts"][0]["device"], "Sam's tablet");
  EXPECT_EQ(body["alerts"][0]["action"], "alert-block");
  EXPECT_EQ(body["alerts"][0]["name"], "self-harm.example");
  EXPECT_EQ(body["alerts"][1]["action"], "alert-allow");
}

TEST_F(AlertRouterTest, RateLimitFoldsRepeatsAndReportsTheirCountWithTheNextAlert) {
  auto s = route("lead", policy::AlertKind::kWebhook);
  s.batch_seconds = 0;
  s.rate_limit_minutes = 10;
  AlertRouter r = router({s});
  for (int i = 0; i < 3; ++i) r.onAlert(notice("Sam's tablet", "self-harm"));
  r.onAlert(notice("Sam's tablet", "extremism"));  // another category: its own window
  r.onAlert(notice("Alex", "self-harm"));          // another device: its own window
  r.flush();
  auto first = queued();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(first[0].payload)["alerts"].size(), 3u);
  EXPECT_EQ(r.stats().suppressed, 2u);
  clock_.advanceMs(10 * kMinute);
  r.onAlert(notice("Sam's tablet", "self-harm"));
  r.flush();
  auto q = queued();
  ASSERT_EQ(q.size(), 2u);
  auto body = nlohmann::json::parse(q[1].payload);
  EXPECT_EQ(body["alerts"][0]["suppressed_before"], 2);
}

TEST_F(AlertRouterTest, LicensedListEntriesAreNeverNamed) {
  auto hook = route("lead", policy::AlertKind::kWebhook);
  hook.batch_seconds = 0;
  auto mail = route("mail", policy::AlertKind::kEmail);
  mail.batch_seconds = 0;
  auto sys = route("district", policy::AlertKind::kSyslog);
  AlertRouter r = router({hook, mail, sys});
  AlertNotice n = notice("Sam's tablet", "child-abuse");
  n.confidential = true;
  n.name.clear();
  r.onAlert(n);
  r.flush();
  auto q = queued();
  ASSERT_EQ(q.size(), 3u);
  auto body = nlohmann::json::parse(q[0].payload);
  EXPECT_FALSE(body["alerts"][0].contains("name"));
  EXPECT_EQ(body["alerts"][0]["category"], "child-abuse");
  EXPECT_NE(q[1].payload.find("(a licensed list entry; not shown)"), std::string::npos);
  EXPECT_EQ(q[2].payload.find("name="), std::string::npos) << q[2].payload;
}

TEST_F(AlertRouterTest, EmailIsOneRfc5322MessagePerBatch) {
  AlertRouter r = router({route("mail", policy::AlertKind::kEmail)});
  r.onAlert(notice("Sam's tablet", "self-harm"));
  r.onAlert(notice("Alex", "self-harm"));
  r.flush(/*force=*/true);
  auto q = queued();
  ASSERT_EQ(q.size(), 1u);
  const std::string& m = q[0].payload;
  EXPECT_EQ(m.rfind("From: safegate <alerts@school.example>\r\nTo: dsl@school.example\r\n", 0), 0u)
      << m;
  EXPECT_NE(m.find("Subject: [safegate] 2 alerts: self-harm (2)\r\n"), std::string::npos) << m;
  EXPECT_NE(m.find("Message-ID: <" + q[0].idempotency_key + "@safegate.gw1>\r\n"),
            std::string::npos);
  EXPECT_NE(m.find("\r\n\r\n"), std::string::npos);  // headers, blank line, body
  EXPECT_NE(m.find("Sam's tablet (year-7)  self-harm  blocked  self-harm.example"),
            std::string::npos)
      << m;
}

TEST_F(AlertRouterTest, SyslogSendsEachAlertAsItsOwnRfc5424Message) {
  AlertRouter r = router({route("district", policy::AlertKind::kSyslog)});
  r.onAlert(notice("Sam's tablet", "self-harm"));
  r.onAlert(notice("Alex", "extremism", /*blocked=*/false));
  r.flush();
  auto q = queued();
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].payload.rfind("<108>1 ", 0), 0u) << q[0].payload;  // log audit, warning
  EXPECT_EQ(q[1].payload.rfind("<107>1 ", 0), 0u) << q[1].payload;  // alert-allow: error
  EXPECT_NE(q[0].payload.find("device=\"Sam's tablet\""), std::string::npos);
}

TEST_F(AlertRouterTest, ListNoticesGoAtTheNextFlushToEveryDestinationThatWantsThem) {
  auto hook = route("it", policy::AlertKind::kWebhook);
  hook.batch_seconds = 3600;  // list notices do not wait for a batch window
  auto mail = route("it-mail", policy::AlertKind::kEmail);
  auto log = route("district", policy::AlertKind::kSyslog);
  auto lead = route("lead", policy::AlertKind::kEmail);
  lead.list_notices = false;  // the safeguarding lead gets incidents only
  AlertRouter r = router({hook, mail, log, lead});
  ListNotice n;
  n.unix_ms = int64_t{1'700'000'000} * 1000;
  n.kind = ListNotice::Kind::kFailed;
  n.list = "adult";
  n.error = "HTTP 404 Not Found";
  n.has_good_copy = true;
  n.entries = 4200;
  n.last_success_unix_ms = n.unix_ms - 86'400'000;
  r.onListNotice(n);
  r.flush();
  auto q = queued();
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(r.stats().list_notices, 3u);
  for (const auto& m : q) {
    EXPECT_EQ(m.kind, "list");
    EXPECT_NE(m.destination, "lead");
  }
  auto body = nlohmann::json::parse(q[0].payload);
  EXPECT_EQ(body["type"], "safegate.list");
  EXPECT_EQ(body["list"], "adult");
  EXPECT_EQ(body["event"], "failed");
  EXPECT_EQ(body["error"], "HTTP 404 Not Found");
  EXPECT_EQ(body["in_force"], true);
  EXPECT_EQ(body["entries"], 4200);
  EXPECT_EQ(body["last_success"], "2023-11-13T22:13:20Z");
  const std::string& m = q[1].payload;
  EXPECT_NE(m.find("Subject: [safegate] list \"adult\" could not be updated\r\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("Why: HTTP 404 Not Found"), std::string::npos) << m;
  EXPECT_NE(m.find("The last good copy (4200 entries, downloaded 2023-11-13T22:13:20Z) stays in "
                   "force."),
            std::string::npos)
      << m;
  EXPECT_EQ(q[2].payload.rfind("<108>1 ", 0), 0u) << q[2].payload;  // warning
  EXPECT_NE(q[2].payload.find("event=\"failed\""), std::string::npos) << q[2].payload;

  // A list never downloaded says that it blocks nothing; a recovery is a notice, not a warning.
  n.has_good_copy = false;
  n.kind = ListNotice::Kind::kRefused;
  n.error = "2 entries; at least 1000 are required";
  r.onListNotice(n);
  ListNotice back = n;
  back.kind = ListNotice::Kind::kRecovered;
  back.has_good_copy = true;
  back.error.clear();
  r.onListNotice(back);
  r.flush();
  q = queued();
  ASSERT_EQ(q.size(), 9u);
  // Per destination in order: the webhook's two, the e-mail's two, syslog's two.
  EXPECT_EQ(nlohmann::json::parse(q[3].payload)["event"], "refused");
  EXPECT_EQ(nlohmann::json::parse(q[4].payload)["event"], "recovered");
  EXPECT_NE(q[5].payload.find("Subject: [safegate] list \"adult\" was refused by the sanity gate"),
            std::string::npos)
      << q[5].payload;
  EXPECT_NE(q[5].payload.find("this list blocks nothing until a download succeeds"),
            std::string::npos)
      << q[5].payload;
  EXPECT_EQ(q[8].payload.rfind("<109>1 ", 0), 0u) << q[8].payload;  // notice
}

TEST_F(AlertRouterTest, ARequestReachesTheLeadAtTheNextFlushWithoutTheChildsWords) {
  auto hook = route("lead-hook", policy::AlertKind::kWebhook);
  hook.batch_seconds = 3600;  // request notices do not wait for a batch window
  auto mail = route("lead", policy::AlertKind::kEmail);
  auto log = route("district", policy::AlertKind::kSyslog);
  auto staff = route("staff-lead", policy::AlertKind::kEmail);
  staff.groups = {"staff"};  // another group's requests are not this lead's
  auto it = route("it", policy::AlertKind::kEmail);
  it.request_notices = false;
  AlertRouter r = router({hook, mail, log, staff, it});
  RequestNotice n;
  n.unix_ms = int64_t{1'700'000'000} * 1000;
  n.request = 7;
  n.kind = AccessRequest::Kind::kAccess;
  n.device = "Sam's tablet";
  n.device_named = true;
  n.group = "year-7";
  n.category = "games";
  n.name = "games.example";
  n.reason_given = true;
  r.onRequestNotice(n);
  r.flush();
  auto q = queued();
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(r.stats().request_notices, 3u);
  EXPECT_EQ(q[0].destination, "lead-hook");
  EXPECT_EQ(q[1].destination, "lead");
  EXPECT_EQ(q[2].destination, "district");
  for (const auto& m : q) EXPECT_EQ(m.kind, "request");
  auto body = nlohmann::json::parse(q[0].payload);
  EXPECT_EQ(body["type"], "safegate.request");
  EXPECT_EQ(body["request"], 7);
  EXPECT_EQ(body["kind"], "access");
  EXPECT_EQ(body["device"], "Sam's tablet");
  EXPECT_EQ(body["name"], "games.example");
  EXPECT_EQ(body["category"], "games");
  EXPECT_EQ(body["reason_given"], true);
  EXPECT_FALSE(body.contains("reason"));
  const std::string& m = q[1].payload;
  EXPECT_NE(m.find("Subject: [safegate] access request from Sam's tablet (year-7): "
                   "games.example\r\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("Asks to open: games.example (blocked as games)"), std::string::npos) << m;
  EXPECT_NE(m.find("The child gave a reason; it is shown on the dashboard."), std::string::npos)
      << m;
  EXPECT_EQ(q[2].payload.rfind("<109>1 ", 0), 0u) << q[2].payload;  // notice
  EXPECT_NE(q[2].payload.find("kind=\"access\""), std::string::npos) << q[2].payload;

  // A page that may be illegal: its address goes nowhere but the dashboard.
  n.request = 8;
  n.kind = AccessRequest::Kind::kSuspectedIllegal;  // the name stays set: the router drops it
  n.device = "p-3f9a";
  n.device_named = false;
  r.onRequestNotice(n);
  r.flush();
  q = queued();
  ASSERT_EQ(q.size(), 6u);
  for (size_t i = 3; i < 6; ++i) {
    EXPECT_EQ(q[i].payload.find("games.example"), std::string::npos) << q[i].payload;
  }
  body = nlohmann::json::parse(q[3].payload);
  EXPECT_EQ(body["kind"], "suspected-illegal");
  EXPECT_FALSE(body.contains("name"));
  EXPECT_NE(q[4].payload.find("Subject: [safegate] a child reports a page that may be illegal "
                              "(year-7)\r\n"),
            std::string::npos)
      << q[4].payload;
  EXPECT_NE(q[4].payload.find("shown by their pseudonym"), std::string::npos) << q[4].payload;
  EXPECT_EQ(q[5].payload.rfind("<108>1 ", 0), 0u) << q[5].payload;  // warning
}

TEST_F(AlertRouterTest, QuarantinedEntriesAreListedWithTheNameTheyWouldHaveBlocked) {
  AlertRouter r = router({route("it", policy::AlertKind::kWebhook)});
  ListNotice n;
  n.kind = ListNotice::Kind::kQuarantined;
  n.list = "adult";
  n.has_good_copy = true;
  n.entries = 99;
  for (uint32_t i = 0; i < 60; ++i) {
    n.quarantined.push_back({i + 1, "ac.uk", "www.ox.ac.uk"});
  }
  r.onListNotice(n);
  r.flush();
  auto q = queued();
  ASSERT_EQ(q.size(), 1u);
  auto body = nlohmann::json::parse(q[0].payload);
  EXPECT_EQ(body["event"], "quarantined");
  EXPECT_EQ(body["quarantined_count"], 60);
  ASSERT_EQ(body["quarantined"].size(), 50u);  // bounded; the count says how many
  EXPECT_EQ(body["quarantined"][0]["entry"], "ac.uk");
  EXPECT_EQ(body["quarantined"][0]["protects"], "www.ox.ac.uk");
}

TEST_F(AlertRouterTest, FullOutboxIsCountedAndTheAlertIsNotLostSilently) {
  OutboxOptions small;
  small.max_messages = 1;
  auto s = route("district", policy::AlertKind::kSyslog);
  s.rate_limit_minutes = 0;
  AlertRouter r({s}, (dir_.path() / "outbox.sqlite").string(), small, "gw1", "", clock_);
  r.onAlert(notice("a", "self-harm"));
  r.onAlert(notice("b", "self-harm"));
  r.flush();
  EXPECT_EQ(queued().size(), 1u);
  EXPECT_EQ(r.stats().enqueue_errors, 1u);
  EXPECT_NE(r.stats().last_error.find("outbox full"), std::string::npos);
}

TEST_F(AlertRouterTest, AFloodOfAlertsBecomesFewMessagesInOneFlush) {
  auto s = route("lead", policy::AlertKind::kWebhook);
  s.rate_limit_minutes = 0;
  AlertRouter r = router({s});
  for (int i = 0; i < 10'000; ++i) r.onAlert(notice("device-" + std::to_string(i), "self-harm"));
  r.flush(/*force=*/true);
  auto q = queued();
  ASSERT_EQ(q.size(), 20u);  // 500 alerts per webhook body
  size_t alerts = 0;
  for (const auto& m : q) alerts += nlohmann::json::parse(m.payload)["alerts"].size();
  EXPECT_EQ(alerts, 10'000u);
  EXPECT_EQ(r.stats().messages, 20u);
}

// Incidents written by the real IncidentStore writer, stamped an hour before `at_ms`.
void writeIncidents(const std::filesystem::path& dir, int64_t at_ms) {
  IncidentStoreOptions o;
  o.database_path = dir / "incidents.sqlite";
  o.secret_file = dir / "secret";
  o.batch_ms = 10;
  auto store = IncidentStore::open(o);
  ASSERT_TRUE(store.isOk()) << store.status().toString();
  (*store)->start();
  auto event = [&](const char* group, const char* name, const char* category, bool alert,
                   bool confidential) {
    RequestFacts f;
    f.client = *IpAddress::parse("192.168.1.20");
    f.name = name;
    Decision d;
    d.verdict = Verdict::kBlock;
    d.log = true;
    d.alert = alert;
    d.reason = DecisionReason::kCategory;
    d.group = group;
    d.category = category;
    d.confidential = confidential;
    return IncidentEvent::fromDecision(f, d, at_ms - 3600 * 1000);
  };
  for (int i = 0; i < 6; ++i)
    (*store)->record(event("year-7", "cut.example", "self-harm", true, false));
  (*store)->record(event("year-7", "bet.example", "gambling", false, false));
  (*store)->record(event("year-7", "", "child-abuse", true, true));
  (*store)->record(event("year-9", "cards.example", "gambling", false, false));
  (*store)->record(event("staff", "x.example", "extremism", true, false));
  (*store)->stop();  // flushes
}

TEST_F(AlertRouterTest, DailyDigestIsSentOnceADayAtItsLocalTimeWithRedAmberGreen) {
  // A clock at 07:29 UTC on a day near today, so the incidents are inside retention.
  const int64_t day_ms = int64_t{86400} * 1000;
  const int64_t today = SystemClock::instance().unixMs() / day_ms * day_ms;
  FakeClock clock(today + (7 * 60 + 29) * 60'000);
  writeIncidents(dir_.path(), clock.unixMs());
  auto s = route("lead", policy::AlertKind::kWebhook);
  s.digest_minute_of_day = 7 * 60 + 30;
  s.digest_amber_alerts = 1;
  s.digest_red_alerts = 5;
  auto make = [&] {
    return AlertRouter({s}, (dir_.path() / "outbox.sqlite").string(), {}, "gw1", "school-42", clock,
                       policy::TimeZone::utc(), dir_.path() / "incidents.sqlite");
  };
  AlertRouter r = make();
  r.sendDueDigests();
  EXPECT_TRUE(queued().empty());  // 07:29: not yet
  clock.advanceMs(60'000);
  r.sendDueDigests();
  r.sendDueDigests();  // once a day
  auto q = queued();
  ASSERT_EQ(q.size(), 1u) << r.stats().last_error;
  EXPECT_EQ(q[0].kind, "digest");
  auto body = nlohmann::json::parse(q[0].payload);
  EXPECT_EQ(body["type"], "safegate.digest");
  std::map<std::string, nlohmann::json> groups;
  for (const auto& g : body["groups"]) groups[g["group"]] = g;
  ASSERT_EQ(groups.size(), 3u) << body.dump();
  EXPECT_EQ(groups["year-7"]["status"], "red");  // 7 alerts >= 5
  EXPECT_EQ(groups["year-7"]["alerts"], 7);
  EXPECT_EQ(groups["year-7"]["by_category"]["child-abuse"], 1);
  EXPECT_EQ(groups["year-7"]["top_blocked"][0]["name"], "cut.example");
  EXPECT_EQ(groups["year-7"]["top_blocked"].size(), 2u);  // the licensed entry has no name
  EXPECT_EQ(groups["staff"]["status"], "amber");
  EXPECT_EQ(groups["year-9"]["status"], "green");

  // A restart the same day queues no second digest (same idempotency key).
  AlertRouter again = make();
  again.sendDueDigests();
  EXPECT_EQ(queued().size(), 1u);
  // The next day's digest is due at 07:30 again.
  clock.advanceMs(day_ms);
  again.sendDueDigests();
  EXPECT_EQ(queued().size(), 2u);
}

}  // namespace
}  // namespace safegate
