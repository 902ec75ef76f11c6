#include "daemon/control/access_requests.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "tests/support/shared_data.h"

namespace safegate {
namespace {

using testing::TempDir;
using Kind = AccessRequest::Kind;
using State = AccessRequest::State;
using Outcome = RequestBook::AddOutcome;

constexpr int64_t kNow = 1'795'430'000;

AccessRequest ask(const char* client, const char* name, Kind kind = Kind::kAccess) {
  AccessRequest r;
  r.kind = kind;
  r.client = *IpAddress::parse(client);
  r.name = name;
  r.category = "gambling";
  r.group = "pupils";
  r.reason = "homework";
  return r;
}

TEST(AccessRequestsTest, AskingTwiceIsOneRequest) {
  RequestBook book;
  auto first = book.add(ask("10.0.0.5", "casino.test"), kNow);
  ASSERT_EQ(first.outcome, Outcome::kAdded);
  EXPECT_EQ(first.request->id, 1u);
  EXPECT_EQ(first.request->state, State::kPending);
  auto again = book.add(ask("10.0.0.5", "casino.test"), kNow + 5);
  EXPECT_EQ(again.outcome, Outcome::kAlreadyPending);
  EXPECT_EQ(again.request->id, 1u);
  // A report about the same page is a different question; another client's too.
  EXPECT_EQ(book.add(ask("10.0.0.5", "casino.test", Kind::kWrongBlock), kNow).outcome,
            Outcome::kAdded);
  EXPECT_EQ(book.add(ask("10.0.0.6", "casino.test"), kNow).outcome, Outcome::kAdded);
  EXPECT_EQ(book.pending(), 3u);
}

TEST(AccessRequestsTest, OneClientIsLimitedPerHourAndToldWhenToRetry) {
  RequestBook book(RequestLimits{.per_client_per_hour = 2});
  ASSERT_EQ(book.add(ask("10.0.0.5", "a.test"), kNow).outcome, Outcome::kAdded);
  ASSERT_EQ(book.add(ask("10.0.0.5", "b.test"), kNow + 600).outcome, Outcome::kAdded);
  auto third = book.add(ask("10.0.0.5", "c.test"), kNow + 900);
  EXPECT_EQ(third.outcome, Outcome::kRateLimited);
  EXPECT_EQ(third.request, nullptr);
  EXPECT_EQ(third.retry_after_seconds, 3600 - 900);  // when the first ages out
  // Deciding a request does not give its slot back within the hour.
  ASSERT_TRUE(book.decide(1, State::kDenied, "lead", "", 0, kNow + 1000));
  EXPECT_EQ(book.add(ask("10.0.0.5", "c.test"), kNow + 1000).outcome, Outcome::kRateLimited);
  EXPECT_EQ(book.add(ask("10.0.0.7", "c.test"), kNow + 1000).outcome, Outcome::kAdded);
  EXPECT_EQ(book.add(ask("10.0.0.5", "c.test"), kNow + 3600).outcome, Outcome::kAdded);
}

TEST(AccessRequestsTest, PendingListIsBounded) {
  RequestBook book(RequestLimits{.per_client_per_hour = 100, .max_pending = 2});
  ASSERT_EQ(book.add(ask("10.0.0.1", "a.test"), kNow).outcome, Outcome::kAdded);
  ASSERT_EQ(book.add(ask("10.0.0.2", "a.test"), kNow).outcome, Outcome::kAdded);
  EXPECT_EQ(book.add(ask("10.0.0.3", "a.test"), kNow).outcome, Outcome::kFull);
  ASSERT_TRUE(book.decide(2, State::kApproved, "lead", "", 7, kNow));
  EXPECT_EQ(book.add(ask("10.0.0.3", "a.test"), kNow).outcome, Outcome::kAdded);
}

TEST(AccessRequestsTest, DecidedOnceByWhomWithTheException) {
  RequestBook book;
  book.add(ask("10.0.0.5", "casino.test"), kNow);
  auto approved = book.decide(1, State::kApproved, "root for alice", "maths", 42, kNow + 60);
  ASSERT_TRUE(approved) << approved.status().message();
  EXPECT_EQ((*approved)->state, State::kApproved);
  EXPECT_EQ((*approved)->decided_by, "root for alice");
  EXPECT_EQ((*approved)->exception_id, 42u);
  EXPECT_EQ((*approved)->decided_unix_seconds, kNow + 60);
  auto twice = book.decide(1, State::kDenied, "bob", "", 0, kNow + 70);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(twice.status().message().find("already approved (by root for alice)"),
            std::string::npos);
  EXPECT_EQ(book.decide(99, State::kDenied, "bob", "", 0, kNow).status().code(),
            StatusCode::kNotFound);
}

TEST(AccessRequestsTest, UndecidedExpireAndDecidedAreForgotten) {
  RequestBook book(RequestLimits{.pending_hours = 1, .keep_days = 1});
  book.add(ask("10.0.0.5", "a.test"), kNow);
  book.add(ask("10.0.0.6", "b.test"), kNow);
  ASSERT_TRUE(book.decide(2, State::kDenied, "lead", "", 0, kNow + 10));
  EXPECT_FALSE(book.expire(kNow + 3599));
  EXPECT_TRUE(book.expire(kNow + 3600));
  EXPECT_EQ(book.find(1)->state, State::kExpired);
  EXPECT_EQ(book.find(1)->decided_by, "safegated");
  EXPECT_TRUE(book.expire(kNow + 10 + 86400));  // the denial is a day old: gone
  EXPECT_EQ(book.find(2), nullptr);
  EXPECT_NE(book.find(1), nullptr);
  EXPECT_TRUE(book.expire(kNow + 3600 + 86400));
  EXPECT_TRUE(book.entries().empty());
  // Ids are never reused after entries are forgotten.
  EXPECT_EQ(book.add(ask("10.0.0.5", "a.test"), kNow + 200000).request->id, 3u);
}

TEST(AccessRequestsTest, ReasonIsOneShortLineOfTheChildsWords) {
  EXPECT_EQ(cleanReason("  for my\nmaths\t\thomework \x7f "), "for my maths homework");
  EXPECT_EQ(cleanReason(""), "");
  // Bidi overrides, C1 controls and line separators would reorder or break a table row.
  EXPECT_EQ(cleanReason("a\u202Eevil\u202C b\u2028c\u0085d\u2066e"), "a evil b c d e");
  EXPECT_EQ(cleanReason("caf\u00e9 \u4e2d\u6587"), "caf\u00e9 \u4e2d\u6587");  // letters stay
  // Cut on a character boundary: 3 bytes of "é" pairs would split the second.
  EXPECT_EQ(cleanReason("\xc3\xa9\xc3\xa9", 3), "\xc3\xa9");
  EXPECT_EQ(cleanReason(std::string(600, 'a')).size(), kMaxReasonBytes);
  RequestBook book;
  AccessRequest r = ask("10.0.0.5", "a.test");
  r.reason = std::string(1000, 'x');
  EXPECT_EQ(book.add(r, kNow).request->reason.size(), kMaxReasonBytes);
}

TEST(AccessRequestsTest, JsonRoundTripAndErrorsNameTheKey) {
  RequestBook book;
  book.add(ask("2001:db8::5", "casino.test", Kind::kWrongBlock), kNow);
  ASSERT_TRUE(book.decide(1, State::kApproved, "lead", "ok", 3, kNow + 1));
  const nlohmann::json j = requestToJson(book.entries()[0]);
  auto back = requestFromJson(j);
  ASSERT_TRUE(back) << back.status().message();
  EXPECT_EQ(requestToJson(*back), j);
  nlohmann::json bad = j;
  bad["client"] = "not-an-ip";
  EXPECT_NE(requestFromJson(bad).status().message().find("\"client\""), std::string::npos);
  bad = j;
  bad["name"] = "CASINO.test";  // not canonical: refused rather than silently changed
  EXPECT_NE(requestFromJson(bad).status().message().find("canonical"), std::string::npos);
  bad = j;
  bad.erase("decided");
  EXPECT_NE(requestFromJson(bad).status().message().find("\"decided\""), std::string::npos);
  bad = j;
  bad["state"] = "maybe";
  EXPECT_FALSE(requestFromJson(bad));
}

TEST(AccessRequestsTest, AForwardedMayBeIllegalReportKeepsItsOutboxMessage) {
  EXPECT_EQ(requestKindName(Kind::kSuspectedIllegal), "suspected-illegal");
  EXPECT_EQ(parseRequestKind("suspected-illegal"), Kind::kSuspectedIllegal);
  RequestBook book;
  book.add(ask("10.0.0.5", "bad.test", Kind::kSuspectedIllegal), kNow);
  // The same page asked for access by the same child is a different question.
  EXPECT_EQ(book.add(ask("10.0.0.5", "bad.test", Kind::kAccess), kNow).outcome,
            RequestBook::AddOutcome::kAdded);
  auto d = book.decide(1, State::kApproved, "lead", "", 0, kNow + 1, 42);
  ASSERT_TRUE(d);
  EXPECT_EQ((*d)->outbox_id, 42u);
  const nlohmann::json j = requestToJson(book.entries()[0]);
  EXPECT_EQ(j["kind"], "suspected-illegal");
  EXPECT_EQ(j["outbox_id"], 42);
  auto back = requestFromJson(j);
  ASSERT_TRUE(back) << back.status().message();
  EXPECT_EQ(back->outbox_id, 42u);
  EXPECT_FALSE(requestToJson(book.entries()[1]).contains("outbox_id"));
}

TEST(AccessRequestsTest, StoreKeepsEverythingAcrossRestartsPrivately) {
  TempDir dir;
  const RequestStore store(dir.path() / "requests.json");
  RequestBook book;
  book.add(ask("10.0.0.5", "a.test"), kNow);
  book.add(ask("10.0.0.6", "b.test"), kNow);
  ASSERT_TRUE(book.decide(1, State::kApproved, "lead", "", 9, kNow + 5));
  ASSERT_TRUE(store.save(book));
  struct stat st {};
  ASSERT_EQ(::stat(store.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);

  RequestBook loaded;
  DiagnosticSink diags;
  store.load(loaded, diags, kNow + 10);
  EXPECT_TRUE(diags.all().empty());
  ASSERT_EQ(loaded.entries().size(), 2u);
  EXPECT_EQ(loaded.nextId(), 3u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(requestToJson(loaded.entries()[i]), requestToJson(book.entries()[i]));
  }
}

TEST(AccessRequestsTest, DamagedFileIsSetAsideAndTheGoodEntriesKept) {
  TempDir dir;
  const RequestStore store(dir.path() / "requests.json");
  RequestBook book;
  book.add(ask("10.0.0.5", "a.test"), kNow);
  nlohmann::json doc = {{"version", 1},
                        {"next_id", 7},
                        {"requests",
                         {requestToJson(book.entries()[0]),
                          {{"id", 2}, {"kind", "access"}, {"client", "10.0.0.9"}}}}};
  {
    std::ofstream out(store.path());
    out << doc.dump(1);
  }
  RequestBook loaded;
  DiagnosticSink diags;
  store.load(loaded, diags, kNow + 10);
  ASSERT_TRUE(diags.hasErrors());
  EXPECT_NE(diags.all()[0].toString().find("requests[1]: missing \"name\"; entry dropped"),
            std::string::npos)
      << diags.all()[0].toString();
  EXPECT_EQ(loaded.entries().size(), 1u);
  EXPECT_EQ(loaded.nextId(), 7u);
  EXPECT_FALSE(std::filesystem::exists(store.path()));
  EXPECT_TRUE(
      std::filesystem::exists(dir.path() / ("requests.json.corrupt-" + std::to_string(kNow + 10))));

  {
    std::ofstream out(store.path());
    out << "{\"version\": 1,\n \"requests\": [}";
  }
  RequestBook none;
  DiagnosticSink syntax;
  store.load(none, syntax, kNow + 20);
  ASSERT_TRUE(syntax.hasErrors());
  EXPECT_EQ(syntax.all()[0].where.line, 2u);
  EXPECT_TRUE(none.entries().empty());
}

}  // namespace
}  // namespace safegate
