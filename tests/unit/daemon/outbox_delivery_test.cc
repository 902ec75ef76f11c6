// OutboxDelivery against a real HTTPS receiver on 127.0.0.1 (tests/support/https_test_server.py,
// which dedupes by Idempotency-Key like a real hotline): what is delivered, retried, parked by
// Retry-After and dead-lettered, and what the receiver saw.
#include "daemon/reports/outbox_delivery.h"

#include <gtest/gtest.h>

#include "daemon/reports/alert_router.h"
#include "tests/support/https_test_server.h"

namespace safegate {
namespace {

using testing::HttpsTestServer;
using testing::TestPki;

constexpr int64_t kSecond = 1000;

class OutboxDeliveryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_dir_ = new testing::TempDir();
    pki_ = new TestPki(pki_dir_->path());
    ASSERT_TRUE(pki_->ok());
    server_ = new HttpsTestServer();
    ASSERT_TRUE(server_->start(*pki_, "server"));
  }
  static void TearDownTestSuite() {
    delete server_;
    delete pki_;
    delete pki_dir_;
  }

  OutboxDestination destination(const std::string& name, const std::string& path) {
    OutboxDestination d;
    d.name = name;
    d.url = server_->url(path);
    d.http.ca_file = pki_->caFile();
    d.http.total_timeout_ms = 2000;
    return d;
  }
  OutboxDeliveryOptions options() {
    OutboxDeliveryOptions o;
    o.outbox_path = (dir_.path() / "outbox.sqlite").string();
    o.backoff.base_ms = 10 * kSecond;
    o.backoff.max_ms = 3600 * kSecond;
    o.deployment_id = "school-42";
    return o;
  }
  OutboxStore store() {
    auto s = OutboxStore::open((dir_.path() / "outbox.sqlite").string(), OutboxOptions{});
    EXPECT_TRUE(s.isOk()) << s.status().toString();
    return std::move(s.value());
  }
  int64_t enqueue(const std::string& destination, const std::string& payload,
                  const std::string& key = {}) {
    OutboxStore s = store();
    auto id = s.enqueue({"alert", destination, key, payload, 0}, clock_.unixMs());
    EXPECT_TRUE(id.isOk()) << id.status().toString();
    return id.value();
  }
  OutboxMessage message(int64_t id) {
    OutboxStore s = store();
    return *s.find(id).value();
  }
  static size_t requestsTo(const std::string& path) {
    size_t n = 0;
    for (const auto& r : server_->requests()) n += r.value("path", "") == path;
    return n;
  }

  testing::TempDir dir_;
  FakeClock clock_;
  static inline testing::TempDir* pki_dir_ = nullptr;
  static inline TestPki* pki_ = nullptr;
  static inline HttpsTestServer* server_ = nullptr;
};

TEST_F(OutboxDeliveryTest, AcceptedMessageIsMarkedDeliveredWithItsKeyAndDeployment) {
  OutboxDelivery d(options(), {destination("lead", "/echo")}, clock_);
  const int64_t id = enqueue("lead", R"({"alert":"self-harm"})", "key-accepted");
  auto n = d.deliverDue();
  ASSERT_TRUE(n.isOk()) << n.status().toString();
  EXPECT_EQ(n.value(), 1);
  EXPECT_EQ(message(id).state, OutboxState::kDelivered);
  EXPECT_EQ(d.stats().delivered, 1u);
  bool seen = false;
  for (const auto& r : server_->requests()) {
    if (r["headers"].value("idempotency-key", "") != "key-accepted") continue;
    seen = true;
    EXPECT_EQ(r["body"], R"({"alert":"self-harm"})");
    EXPECT_EQ(r["headers"]["x-safegate-deployment"], "school-42");
    EXPECT_EQ(r["headers"]["content-type"], "application/json");
  }
  EXPECT_TRUE(seen);
}

TEST_F(OutboxDeliveryTest, ServerErrorIsRetriedAfterTheBackoffThenDelivered) {
  OutboxDelivery d(options(), {destination("lead", "/fail-then-ok/1")}, clock_);
  const int64_t id = enqueue("lead", "{}");
  ASSERT_EQ(d.deliverDue().value(), 1);
  OutboxMessage m = message(id);
  EXPECT_EQ(m.state, OutboxState::kPending);
  EXPECT_EQ(m.attempts, 1);
  EXPECT_NE(m.last_error.find("HTTP 500"), std::string::npos) << m.last_error;
  // First backoff: base 10 s, jittered into [5 s, 10 s].
  EXPECT_GE(m.next_attempt_unix_ms, clock_.unixMs() + 5 * kSecond);
  EXPECT_LE(m.next_attempt_unix_ms, clock_.unixMs() + 10 * kSecond);
  EXPECT_EQ(d.deliverDue().value(), 0);  // not due yet
  clock_.advanceMs(10 * kSecond);
  ASSERT_EQ(d.deliverDue().value(), 1);
  EXPECT_EQ(message(id).state, OutboxState::kDelivered);
  EXPECT_EQ(message(id).attempts, 2);
}

TEST_F(OutboxDeliveryTest, TooManyRequestsWaitsAsLongAsRetryAfterSays) {
  OutboxDelivery d(options(), {destination("hotline", "/retry-after/120")}, clock_);
  const int64_t id = enqueue("hotline", "{}");
  ASSERT_EQ(d.deliverDue().value(), 1);
  OutboxMessage m = message(id);
  EXPECT_EQ(m.state, OutboxState::kPending);
  EXPECT_EQ(m.next_attempt_unix_ms, clock_.unixMs() + 120 * kSecond);
  clock_.advanceMs(119 * kSecond);
  EXPECT_EQ(d.deliverDue().value(), 0);
  clock_.advanceMs(kSecond);
  ASSERT_EQ(d.deliverDue().value(), 1);
  EXPECT_EQ(message(id).state, OutboxState::kDelivered);
}

TEST_F(OutboxDeliveryTest, ServiceUnavailableHonoursRetryAfterToo) {
  OutboxDelivery d(options(), {destination("hotline", "/unavailable/300")}, clock_);
  const int64_t id = enqueue("hotline", "{}");
  ASSERT_EQ(d.deliverDue().value(), 1);
  EXPECT_EQ(message(id).next_attempt_unix_ms, clock_.unixMs() + 300 * kSecond);
}

TEST_F(OutboxDeliveryTest, PermanentRejectionIsDeadLetteredWithTheReceiversReason) {
  OutboxDelivery d(options(), {destination("hotline", "/status/400")}, clock_);
  const int64_t id = enqueue("hotline", "{}");
  ASSERT_EQ(d.deliverDue().value(), 1);
  OutboxMessage m = message(id);
  EXPECT_EQ(m.state, OutboxState::kDead);
  EXPECT_NE(m.last_error.find("hotline: HTTP 400"), std::string::npos) << m.last_error;
  EXPECT_EQ(d.stats().dead_lettered, 1u);
}

TEST_F(OutboxDeliveryTest, UnconfiguredDestinationIsDeadLetteredNotDropped) {
  OutboxDelivery d(options(), {destination("lead", "/ok")}, clock_);
  const int64_t id = enqueue("removed-webhook", "{}");
  ASSERT_EQ(d.deliverDue().value(), 1);
  OutboxMessage m = message(id);
  EXPECT_EQ(m.state, OutboxState::kDead);
  EXPECT_EQ(m.last_error, "destination \"removed-webhook\" is not configured");
}

TEST_F(OutboxDeliveryTest, HangingReceiverTimesOutAndStaysPending) {
  OutboxDestination hang = destination("lead", "/hang");
  hang.http.total_timeout_ms = 300;
  OutboxDelivery d(options(), {hang}, clock_);
  const int64_t id = enqueue("lead", "{}");
  ASSERT_EQ(d.deliverDue().value(), 1);
  OutboxMessage m = message(id);
  EXPECT_EQ(m.state, OutboxState::kPending);
  EXPECT_NE(m.last_error.find("timed out"), std::string::npos) << m.last_error;
}

TEST_F(OutboxDeliveryTest, UntrustedReceiverGetsNothingAndTheErrorSaysWhy) {
  OutboxDestination untrusted = destination("hotline", "/untrusted-delivery");
  untrusted.http.ca_file = pki_->otherCaFile();
  OutboxDelivery d(options(), {untrusted}, clock_);
  const int64_t id = enqueue("hotline", R"({"url":"http://example.test/"})");
  ASSERT_EQ(d.deliverDue().value(), 1);
  OutboxMessage m = message(id);
  EXPECT_EQ(m.state, OutboxState::kPending);
  EXPECT_NE(m.last_error.find("TLS verification failed, nothing was sent"), std::string::npos)
      << m.last_error;
  EXPECT_EQ(requestsTo("/untrusted-delivery"), 0u);
}

TEST_F(OutboxDeliveryTest, MessageUndeliverableUntilItsExpiryIsDeadLettered) {
  OutboxDeliveryOptions o = options();
  o.store.max_age_ms = 60 * kSecond;
  OutboxDelivery d(o, {destination("lead", "/status/503")}, clock_);
  OutboxStore s = [&] {
    auto st = OutboxStore::open(o.outbox_path, o.store);
    return std::move(st.value());
  }();
  const int64_t id = s.enqueue({"alert", "lead", {}, "{}", 0}, clock_.unixMs()).value();
  ASSERT_EQ(d.deliverDue().value(), 1);
  clock_.advanceMs(61 * kSecond);
  ASSERT_TRUE(d.deliverDue().isOk());
  OutboxMessage m = message(id);
  EXPECT_EQ(m.state, OutboxState::kDead);
  EXPECT_NE(m.last_error.find("HTTP 503"), std::string::npos) << m.last_error;
}

TEST_F(OutboxDeliveryTest, SignedWebhookBodyVerifiesWithTheSharedSecret) {
  OutboxDestination hook = destination("webhook", "/echo");
  hook.hmac_secret = "s3cret-shared-with-the-receiver";
  OutboxDelivery d(options(), {hook}, clock_);
  const std::string body = R"({"group":"year-7","category":"self-harm","count":3})";
  enqueue("webhook", body, "key-signed");
  ASSERT_EQ(d.deliverDue().value(), 1);
  bool seen = false;
  for (const auto& r : server_->requests()) {
    if (r["headers"].value("idempotency-key", "") != "key-signed") continue;
    seen = true;
    const std::string got = r["body"];
    EXPECT_EQ(r["headers"]["x-safegate-signature"],
              "sha256=" + hmacSha256Hex("s3cret-shared-with-the-receiver", got));
  }
  EXPECT_TRUE(seen);
  // RFC 4231 test case 2, so the signature is the standard HMAC-SHA256 any receiver computes.
  EXPECT_EQ(hmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_F(OutboxDeliveryTest, ResentMessageAfterACrashIsDroppedByTheReceiversDedupe) {
  // A crash after the receiver answered but before markDelivered: the message is still pending
  // and is sent again with the same key; the receiver answers "duplicate" and counts it once.
  OutboxDelivery first(options(), {destination("hotline", "/ok")}, clock_);
  const int64_t id = enqueue("hotline", "{}", "key-crash");
  HttpClient direct([&] {
    HttpClientOptions h;
    h.ca_file = pki_->caFile();
    return h;
  }());
  auto pre =
      direct.perform({"POST", server_->url("/ok"), {{"Idempotency-Key", "key-crash"}}, "{}"});
  ASSERT_TRUE(pre.isOk());
  ASSERT_EQ(first.deliverDue().value(), 1);
  EXPECT_EQ(message(id).state, OutboxState::kDelivered);
  size_t accepted = 0;
  for (const auto& r : server_->requests()) {
    if (r["headers"].value("idempotency-key", "") == "key-crash" && !r["duplicate"]) ++accepted;
  }
  EXPECT_EQ(accepted, 1u);
}

TEST_F(OutboxDeliveryTest, ThreadDeliversWhatIsQueuedAfterAWake) {
  OutboxDelivery d(options(), {destination("lead", "/ok")}, SystemClock::instance());
  ASSERT_TRUE(d.start().isOk());
  OutboxStore s = store();
  const int64_t id =
      s.enqueue({"alert", "lead", {}, "{}", 0}, SystemClock::instance().unixMs()).value();
  d.wake();
  // Readiness by polling the store's state with a generous bound (no fixed sleep): the
  // delivery thread runs at nice 19, so on a loaded machine it may wait seconds for a CPU.
  OutboxState state = OutboxState::kPending;
  for (int i = 0; i < 3000 && state != OutboxState::kDelivered; ++i) {
    state = s.find(id).value()->state;
    if (state != OutboxState::kDelivered) usleep(20'000);
  }
  d.stop();
  EXPECT_EQ(state, OutboxState::kDelivered);
}

// A flood of 20,000 alerts — 10,000 devices, each twice — drains within the rate limit (one per
// device and category per hour): the 10,000 first ones reach the receiver whole, in 500-alert
// bodies, and the 10,000 repeats are folded and counted, with the router flushed by the delivery
// thread the way safegated wires it (AlertRouter::flush as the producer) — nothing on the caller's
// thread but onAlert().
TEST_F(OutboxDeliveryTest, TenThousandAlertsDrainThroughTheRouterAndTheDeliveryThread) {
  policy::AlertSettings route;
  route.name = "drain";
  route.kind = policy::AlertKind::kWebhook;
  route.batch_seconds = 1;
  route.rate_limit_minutes = 60;
  AlertRouter router({route}, (dir_.path() / "outbox.sqlite").string(), {}, "gw1", "school-42",
                     SystemClock::instance());
  const size_t earlier = server_->requests().size();  // the suite shares one receiver
  OutboxDelivery d(options(), {destination("drain", "/echo")}, SystemClock::instance());
  d.setProducer([&router] { return router.flush(); });
  ASSERT_TRUE(d.start().isOk());
  for (int i = 0; i < 20'000; ++i) {
    AlertNotice n;
    n.unix_ms = SystemClock::instance().unixMs();
    n.device = "device-" + std::to_string(i % 10'000);
    n.group = "year-7";
    n.category = "self-harm";
    n.name = "self-harm.example";
    n.blocked = true;
    n.protocol = "dns";
    router.onAlert(n);
  }
  // Readiness by polling what the receiver logged, with a generous bound (the delivery thread
  // runs at nice 19).
  auto alertsReceived = [&] {
    size_t alerts = 0, bodies = 0;
    const auto requests = server_->requests();
    for (size_t i = earlier; i < requests.size(); ++i) {
      const auto& r = requests[i];
      // A line the receiver is still writing reads as discarded; the next poll sees it whole.
      if (!r.is_object() || r.value("path", "") != "/echo") continue;
      auto body = nlohmann::json::parse(r.value("body", ""), nullptr, false);
      if (!body.is_object() || !body["alerts"].is_array()) continue;
      EXPECT_LE(body["alerts"].size(), 500u);
      alerts += body["alerts"].size();
      ++bodies;
    }
    return std::pair(alerts, bodies);
  };
  for (int i = 0; i < 3000 && alertsReceived().first < 10'000; ++i) usleep(20'000);
  d.stop();
  const auto [alerts, bodies] = alertsReceived();
  EXPECT_EQ(alerts, 10'000u);
  // At least 20 bodies of at most 500; more when a 1 s window closed while alerts still came.
  EXPECT_GE(bodies, 20u);
  EXPECT_LE(bodies, 40u);
  EXPECT_EQ(d.stats().delivered, bodies);
  EXPECT_EQ(router.stats().messages, bodies);
  EXPECT_EQ(router.stats().suppressed, 10'000u);
  EXPECT_EQ(d.stats().failed_attempts, 0u);
}

}  // namespace
}  // namespace safegate
