// The DoT transport against a real TLS server on loopback (tests/support/dot_test_server.py,
// throw-away PKI): pipelined answers in any order reach their own questions, a question a
// closing connection swallowed is sent once more, stray answers are ignored, a certificate for
// another name is refused, a silent server costs only the timeout, a connection that stops
// answering is replaced, and the safe-search refresher can ask through it. DoH and the daemon end
// to end: integration.encrypted_upstreams.
#include "daemon/dns/encrypted_upstream.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "daemon/dns/safe_search_answers.h"
#include "filters/dns_message.h"
#include "tests/support/https_test_server.h"
#include "tests/unit/daemon/dns_test_util.h"

namespace safegate {
namespace {

using testing::DotTestServer;
using testing::TestPki;

class EncryptedUpstreamTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(pki_.ok()); }

  std::unique_ptr<EncryptedUpstream> transport(const DotTestServer& server,
                                               const std::string& name = "localhost") {
    auto spec =
        UpstreamSpec::parse("tls://127.0.0.1:" + std::to_string(server.port()) + "#" + name);
    EXPECT_TRUE(spec) << spec.status().message();
    EncryptedUpstreamOptions o;
    o.ca_file = pki_.caFile();
    auto t = EncryptedUpstream::create(*spec, o);
    EXPECT_TRUE(t) << t.status().message();
    EXPECT_TRUE((*t)->start());
    return std::move(*t);
  }

  // Submits every (id, name) at once and waits for all answers.
  std::vector<std::vector<uint8_t>> askAll(EncryptedUpstream& t,
                                           const std::vector<std::pair<uint16_t, std::string>>& qs,
                                           int timeout_ms = 5000) {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::vector<uint8_t>> answers(qs.size());
    size_t done = 0;
    for (size_t i = 0; i < qs.size(); ++i) {
      const auto query = testing::makeQuery(qs[i].first, qs[i].second, dns_type::kA);
      t.submit(query, timeout_ms, [&, i](std::span<const uint8_t> a) {
        std::lock_guard lock(mu);
        answers[i].assign(a.begin(), a.end());
        ++done;
        cv.notify_all();
      });
    }
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::milliseconds(timeout_ms + 2000),
                [&] { return done == qs.size(); });
    EXPECT_EQ(done, qs.size());
    return answers;
  }

  testing::TempDir dir_;
  TestPki pki_{dir_.path() / "pki"};
};

TEST_F(EncryptedUpstreamTest, PipelinedAnswersInAnyOrderReachTheirOwnQuestions) {
  DotTestServer server;
  ASSERT_TRUE(server.start(pki_, "server", {"--batch", "8"}));  // answers 8 at a time, reversed
  auto t = transport(server);
  std::vector<std::pair<uint16_t, std::string>> qs;
  for (uint16_t i = 0; i < 8; ++i)
    qs.push_back({uint16_t(0x1000 + i), "q" + std::to_string(i) + ".test"});
  const auto answers = askAll(*t, qs);
  for (size_t i = 0; i < qs.size(); ++i) {
    EXPECT_TRUE(responseMatchesQuestion(answers[i], qs[i].first, qs[i].second, dns_type::kA, 1))
        << "question " << i << " got another's answer";
  }
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(t->stats().answers, 8u);
  EXPECT_EQ(t->stats().connections, 1u);
}

TEST_F(EncryptedUpstreamTest, AQuestionSwallowedByAClosingConnectionIsSentOnceMore) {
  DotTestServer server;
  ASSERT_TRUE(server.start(pki_, "server", {"--close-after", "2"}));
  auto t = transport(server);
  EXPECT_FALSE(askAll(*t, {{1, "a.test"}})[0].empty());
  EXPECT_FALSE(askAll(*t, {{2, "b.test"}})[0].empty());
  // The server reads this one and closes the connection without answering it.
  const auto third = askAll(*t, {{3, "c.test"}})[0];
  EXPECT_TRUE(responseMatchesQuestion(third, 3, "c.test", dns_type::kA, 1));
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(t->stats().failures, 0u);
}

TEST_F(EncryptedUpstreamTest, AnswersWithIdsNeverAskedAreIgnored) {
  DotTestServer server;
  ASSERT_TRUE(server.start(pki_, "server", {"--stray"}));
  auto t = transport(server);
  const auto answers = askAll(*t, {{0x2222, "x.test"}, {0x3333, "y.test"}});
  EXPECT_TRUE(responseMatchesQuestion(answers[0], 0x2222, "x.test", dns_type::kA, 1));
  EXPECT_TRUE(responseMatchesQuestion(answers[1], 0x3333, "y.test", dns_type::kA, 1));
}

TEST_F(EncryptedUpstreamTest, ACertificateForAnotherNameIsRefused) {
  DotTestServer server;
  ASSERT_TRUE(server.start(pki_, "server"));
  auto t = transport(server, "wrong.invalid");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(askAll(*t, {{1, "a.test"}})[0].empty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3))
      << "fails at the handshake, not at the deadline";
  EXPECT_EQ(t->stats().failures, 1u);
}

TEST_F(EncryptedUpstreamTest, ASilentServerCostsOnlyTheTimeout) {
  DotTestServer server;
  ASSERT_TRUE(server.start(pki_, "server", {"--batch", "2"}));  // waits for a second question
  auto t = transport(server);
  EXPECT_TRUE(askAll(*t, {{1, "a.test"}}, 300)[0].empty());
  EXPECT_EQ(t->stats().failures, 1u);
}

TEST_F(EncryptedUpstreamTest, AConnectionThatStopsAnsweringIsReplaced) {
  DotTestServer server;
  ASSERT_TRUE(server.start(pki_, "server", {"--mute-after", "1"}));
  auto t = transport(server);  // max_silent_timeouts 3
  EXPECT_FALSE(askAll(*t, {{1, "a.test"}})[0].empty());
  // The path dies: questions still go out on the first connection, nothing comes back.
  for (uint16_t id = 2; id <= 4; ++id) {
    EXPECT_TRUE(askAll(*t, {{id, "lost.test"}}, 200)[0].empty()) << "question " << id;
  }
  EXPECT_EQ(server.connections(), 1);
  // Three timeouts in a row with nothing received: the next question gets a new connection.
  const auto answer = askAll(*t, {{5, "b.test"}})[0];
  EXPECT_TRUE(responseMatchesQuestion(answer, 5, "b.test", dns_type::kA, 1));
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(t->stats().connections, 2u);
}

TEST_F(EncryptedUpstreamTest, TheSafeSearchRefresherAsksThroughTheTransport) {
  DotTestServer server;
  ASSERT_TRUE(server.start(pki_, "server"));
  std::shared_ptr<EncryptedUpstream> t = transport(server);
  const std::string entry = "tls://127.0.0.1:" + std::to_string(server.port()) + "#localhost";
  auto askers = upstreamAskers({entry}, {t});
  ASSERT_EQ(askers.size(), 1u);
  auto r = askers[0]("forcesafesearch.google.com", dns_type::kA, 3000);
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_TRUE(responseMatchesQuestion(*r, static_cast<uint16_t>(((*r)[0] << 8) | (*r)[1]),
                                      "forcesafesearch.google.com", dns_type::kA, 1));
  // An encrypted entry without a transport is skipped, a plain one is asked over UDP.
  EXPECT_EQ(upstreamAskers({entry, "192.0.2.1"}, {}).size(), 1u);
}

}  // namespace
}  // namespace safegate
