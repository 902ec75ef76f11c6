#include "common/outbox_store.h"

#include <gtest/gtest.h>

#include "tests/support/shared_data.h"

namespace safegate {
namespace {

constexpr int64_t kNow = int64_t{1'700'000'000} * 1000;
constexpr int64_t kHourMs = 3600 * 1000;

class OutboxStoreTest : public ::testing::Test {
 protected:
  OutboxStore open(OutboxOptions o = {}) {
    auto s = OutboxStore::open((dir_.path() / "outbox.sqlite").string(), o);
    EXPECT_TRUE(s.isOk()) << s.status().toString();
    return std::move(s.value());
  }
  static OutboxNewMessage report(std::string key = {}) {
    OutboxNewMessage m;
    m.kind = "hotline-report";
    m.destination = "hotline";
    m.idempotency_key = std::move(key);
    m.payload = R"({"url":"http://example.test/"})";
    return m;
  }
  testing::TempDir dir_;
};

TEST_F(OutboxStoreTest, QueuedMessageIsDueAtOnceWithItsPayloadAndAKey) {
  OutboxStore store = open();
  auto id = store.enqueue(report(), kNow);
  ASSERT_TRUE(id.isOk()) << id.status().toString();
  auto due = store.due(kNow, 10);
  ASSERT_TRUE(due.isOk());
  ASSERT_EQ(due->size(), 1u);
  const OutboxMessage& m = due->front();
  EXPECT_EQ(m.id, id.value());
  EXPECT_EQ(m.payload, R"({"url":"http://example.test/"})");
  EXPECT_EQ(m.state, OutboxState::kPending);
  EXPECT_EQ(m.idempotency_key.size(), 32u);  // 128 random bits in hex
  EXPECT_EQ(m.attempts, 0);
}

TEST_F(OutboxStoreTest, SameIdempotencyKeyQueuedTwiceIsOneMessage) {
  OutboxStore store = open();
  auto a = store.enqueue(report("k-1"), kNow);
  auto b = store.enqueue(report("k-1"), kNow + 5);
  ASSERT_TRUE(a.isOk() && b.isOk());
  EXPECT_EQ(a.value(), b.value());
  EXPECT_EQ(store.counts()->pending, 1);
}

TEST_F(OutboxStoreTest, FullOutboxRefusesNewMessagesWithAClearError) {
  OutboxOptions o;
  o.max_messages = 2;
  OutboxStore store = open(o);
  ASSERT_TRUE(store.enqueue(report(), kNow).isOk());
  auto dead = store.enqueue(report(), kNow);
  ASSERT_TRUE(dead.isOk());
  ASSERT_TRUE(store.markDead(dead.value(), "rejected", kNow).isOk());
  // Dead messages still take their place: they are waiting for an administrator, not gone.
  auto third = store.enqueue(report(), kNow);
  ASSERT_FALSE(third.isOk());
  EXPECT_EQ(third.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(third.status().message().find("outbox.max_messages = 2"), std::string::npos);
  EXPECT_EQ(store.counts()->pending, 1);
  EXPECT_EQ(store.counts()->dead, 1);
}

TEST_F(OutboxStoreTest, EnqueueAllStoresWhatFitsInOneTransactionAndSaysWhyNotTheRest) {
  OutboxOptions o;
  o.max_messages = 3;
  OutboxStore store = open(o);
  ASSERT_TRUE(store.enqueue(report("old"), kNow).isOk());
  std::vector<OutboxNewMessage> batch = {report("old"), report(), report(), report(), report()};
  auto r = store.enqueueAll(batch, kNow);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->ids.size(), 3u);  // the existing key, then two new ones up to the bound
  EXPECT_EQ(r->refused_count, 2u);
  EXPECT_EQ(r->refused.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(store.counts()->pending, 3);
}

TEST_F(OutboxStoreTest, DeliveredMessagesFreeTheirPlaceAndAreNoLongerDue) {
  OutboxOptions o;
  o.max_messages = 1;
  OutboxStore store = open(o);
  auto id = store.enqueue(report(), kNow);
  ASSERT_TRUE(id.isOk());
  ASSERT_TRUE(store.markDelivered(id.value(), kNow + 1).isOk());
  EXPECT_TRUE(store.due(kNow + kHourMs, 10)->empty());
  EXPECT_TRUE(store.enqueue(report(), kNow + 2).isOk());
  auto m = store.find(id.value());
  ASSERT_TRUE(m.isOk() && m.value());
  EXPECT_EQ(m.value()->state, OutboxState::kDelivered);
  EXPECT_EQ(m.value()->attempts, 1);
  EXPECT_EQ(m.value()->finished_unix_ms, kNow + 1);
}

TEST_F(OutboxStoreTest, FailedAttemptIsRescheduledWithItsError) {
  OutboxStore store = open();
  auto id = store.enqueue(report(), kNow);
  ASSERT_TRUE(id.isOk());
  ASSERT_TRUE(store.markFailed(id.value(), "HTTP 500", kNow, kNow + 60'000).isOk());
  EXPECT_TRUE(store.due(kNow + 59'999, 10)->empty());
  auto due = store.due(kNow + 60'000, 10);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ(due->front().attempts, 1);
  EXPECT_EQ(due->front().last_error, "HTTP 500");
  EXPECT_EQ(store.nextDueUnixMs().value(), kNow + 60'000);
}

TEST_F(OutboxStoreTest, RetryAfterItsExpiryDeadLettersTheMessageKeepingTheReason) {
  OutboxOptions o;
  o.max_age_ms = kHourMs;
  OutboxStore store = open(o);
  auto id = store.enqueue(report(), kNow);
  ASSERT_TRUE(id.isOk());
  ASSERT_TRUE(store.markFailed(id.value(), "connection refused", kNow, kNow + 2 * kHourMs).isOk());
  auto m = store.find(id.value());
  ASSERT_TRUE(m.isOk() && m.value());
  EXPECT_EQ(m.value()->state, OutboxState::kDead);
  EXPECT_EQ(m.value()->last_error, "connection refused");
  EXPECT_FALSE(store.nextDueUnixMs().value().has_value());
}

TEST_F(OutboxStoreTest, ExpireMovesOverdueMessagesToDeadNeverDeletesThem) {
  OutboxOptions o;
  o.max_age_ms = kHourMs;
  OutboxStore store = open(o);
  auto a = store.enqueue(report(), kNow);
  ASSERT_TRUE(store.markFailed(a.value(), "HTTP 503", kNow, kNow + 1000).isOk());
  ASSERT_TRUE(store.enqueue(report(), kNow + kHourMs / 2).isOk());
  auto n = store.expire(kNow + kHourMs);
  ASSERT_TRUE(n.isOk());
  EXPECT_EQ(n.value(), 1);
  auto dead = store.list({OutboxState::kDead}, 10);
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ(dead->front().last_error, "not delivered before it expired; last error: HTTP 503");
  EXPECT_EQ(store.counts()->pending, 1);
}

TEST_F(OutboxStoreTest, RetryRevivesADeadMessageWithAFreshAge) {
  OutboxOptions o;
  o.max_age_ms = kHourMs;
  OutboxStore store = open(o);
  auto id = store.enqueue(report(), kNow);
  ASSERT_TRUE(store.markDead(id.value(), "HTTP 400", kNow).isOk());
  const int64_t later = kNow + 10 * kHourMs;
  ASSERT_TRUE(store.retry(id.value(), later).isOk());
  auto due = store.due(later, 10);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ(due->front().expires_unix_ms, later + kHourMs);
  EXPECT_EQ(due->front().last_error, "HTTP 400");
}

TEST_F(OutboxStoreTest, RetryRefusesUnknownAndDeliveredMessages) {
  OutboxStore store = open();
  EXPECT_EQ(store.retry(42, kNow).code(), StatusCode::kNotFound);
  auto id = store.enqueue(report(), kNow);
  ASSERT_TRUE(store.markDelivered(id.value(), kNow).isOk());
  EXPECT_EQ(store.retry(id.value(), kNow).code(), StatusCode::kFailedPrecondition);
}

TEST_F(OutboxStoreTest, DeliveredMessagesArePurgedOnlyAfterTheirKeepTime) {
  OutboxOptions o;
  o.keep_delivered_ms = kHourMs;
  OutboxStore store = open(o);
  auto id = store.enqueue(report(), kNow);
  ASSERT_TRUE(store.markDelivered(id.value(), kNow).isOk());
  EXPECT_EQ(store.purgeDelivered(kNow + kHourMs - 1).value(), 0);
  EXPECT_EQ(store.purgeDelivered(kNow + kHourMs).value(), 1);
  EXPECT_FALSE(store.find(id.value()).value().has_value());
}

TEST_F(OutboxStoreTest, MessagesSurviveReopeningTheFile) {
  {
    OutboxStore store = open();
    ASSERT_TRUE(store.enqueue(report("durable"), kNow).isOk());
  }
  OutboxStore again = open();
  auto all = again.list({}, 10);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->front().idempotency_key, "durable");
}

TEST_F(OutboxStoreTest, TwoConnectionsShareOneQueueAsDaemonAndCliDo) {
  OutboxStore daemon = open();
  OutboxStore cli = open();
  auto id = cli.enqueue(report(), kNow);
  ASSERT_TRUE(id.isOk());
  auto due = daemon.due(kNow, 10);
  ASSERT_EQ(due->size(), 1u);
  ASSERT_TRUE(daemon.markDelivered(due->front().id, kNow).isOk());
  EXPECT_EQ(cli.find(id.value()).value()->state, OutboxState::kDelivered);
}

TEST_F(OutboxStoreTest, NewerSchemaIsRefusedRatherThanMisread) {
  { OutboxStore store = open(); }
  auto db = SqliteDb::open((dir_.path() / "outbox.sqlite").string(), SqliteOpenOptions{});
  ASSERT_TRUE(db.isOk());
  ASSERT_TRUE(db.value().setUserVersion(99).isOk());
  auto again = OutboxStore::open((dir_.path() / "outbox.sqlite").string(), OutboxOptions{});
  ASSERT_FALSE(again.isOk());
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
}

TEST(OutboxBackoffTest, DelayDoublesPerAttemptWithinJitterAndStopsAtTheCap) {
  OutboxBackoff b;
  b.base_ms = 1000;
  b.max_ms = 8000;
  // random = 0 gives the lower edge (half), an all-ones random the upper edge of the window.
  EXPECT_EQ(outboxRetryDelayMs(1, b, 0), 500);
  EXPECT_EQ(outboxRetryDelayMs(2, b, 0), 1000);
  EXPECT_EQ(outboxRetryDelayMs(3, b, 0), 2000);
  EXPECT_EQ(outboxRetryDelayMs(10, b, 0), 4000);
  EXPECT_EQ(outboxRetryDelayMs(60, b, 0), 4000);  // no overflow after many attempts
  for (uint64_t r : {1ull, 77ull, 4000ull, ~0ull}) {
    const int64_t d = outboxRetryDelayMs(4, b, r);
    EXPECT_GE(d, 4000);
    EXPECT_LE(d, 8000);
  }
}

TEST(OutboxStateTest, NamesRoundTrip) {
  for (OutboxState s : {OutboxState::kPending, OutboxState::kDelivered, OutboxState::kDead}) {
    EXPECT_EQ(parseOutboxState(outboxStateName(s)), s);
  }
  EXPECT_FALSE(parseOutboxState("lost").has_value());
}

}  // namespace
}  // namespace safegate
