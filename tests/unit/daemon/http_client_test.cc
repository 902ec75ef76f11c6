// HttpClient against a real HTTPS server on 127.0.0.1 (tests/support/https_test_server.py) with
// certificates made by the openssl CLI: what reaches the server, and that nothing does when the
// certificate, host name or pin is wrong.
#include "daemon/http_client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support/https_test_server.h"

namespace safegate {
namespace {

using testing::HttpsTestServer;
using testing::TestPki;

class HttpClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    pki_ = new TestPki(dir_->path());
    ASSERT_TRUE(pki_->ok()) << "make_test_pki.sh failed (is openssl installed?)";
    server_ = new HttpsTestServer();
    ASSERT_TRUE(server_->start(*pki_, "server")) << "https_test_server.py did not start";
  }
  static void TearDownTestSuite() {
    delete server_;
    delete pki_;
    delete dir_;
  }
  static HttpClientOptions trusting() {
    HttpClientOptions o;
    o.ca_file = pki_->caFile();
    o.connect_timeout_ms = 5000;
    o.total_timeout_ms = 10000;
    return o;
  }
  static size_t requestsTo(const std::string& path) {
    size_t n = 0;
    for (const auto& r : server_->requests()) n += r.value("path", "") == path;
    return n;
  }
  static inline testing::TempDir* dir_ = nullptr;
  static inline TestPki* pki_ = nullptr;
  static inline HttpsTestServer* server_ = nullptr;
};

TEST_F(HttpClientTest, PostDeliversBodyAndHeadersOverVerifiedTls) {
  HttpClient client(trusting());
  HttpClientRequest req;
  req.method = "POST";
  req.url = server_->url("/echo");
  req.headers = {{"Content-Type", "application/json"}, {"Idempotency-Key", "echo-1"}};
  req.body = R"({"url":"http://example.test/page"})";
  auto r = client.perform(req);
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->status, 200);
  auto echoed = nlohmann::json::parse(r->body);
  EXPECT_EQ(echoed["method"], "POST");
  EXPECT_EQ(echoed["body"], req.body);
  EXPECT_EQ(echoed["headers"]["idempotency-key"], "echo-1");
  EXPECT_EQ(echoed["headers"]["content-type"], "application/json");
  EXPECT_EQ(client.failure(), HttpFailure::kNone);
}

TEST_F(HttpClientTest, ServerErrorIsAResponseForTheCallerToJudge) {
  HttpClient client(trusting());
  auto r = client.perform({"GET", server_->url("/status/500"), {}, {}});
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->status, 500);
}

TEST_F(HttpClientTest, TooManyRequestsCarriesRetryAfter) {
  HttpClient client(trusting());
  auto r = client.perform({"GET", server_->url("/retry-after/7"), {}, {}});
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->header("retry-after"), "7");
  EXPECT_EQ(parseRetryAfterMs(r->header("retry-after"), 0), 7000);
}

TEST_F(HttpClientTest, RefusedConnectionIsAConnectFailure) {
  // A port nobody listens on: bind one, read it back, close it.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  HttpClient client(trusting());
  auto r = client.perform(
      {"GET", "https://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/ok", {}, {}});
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(client.failure(), HttpFailure::kConnect);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

TEST_F(HttpClientTest, HangingServerTimesOut) {
  HttpClientOptions o = trusting();
  o.total_timeout_ms = 300;
  HttpClient client(o);
  auto r = client.perform({"GET", server_->url("/hang"), {}, {}});
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(client.failure(), HttpFailure::kTimeout);
  EXPECT_NE(r.status().message().find("timed out"), std::string::npos) << r.status().message();
}

TEST_F(HttpClientTest, UntrustedCertificateSendsNothing) {
  HttpClientOptions o = trusting();
  o.ca_file = pki_->otherCaFile();
  HttpClient client(o);
  auto r = client.perform({"POST", server_->url("/untrusted"), {}, "secret report"});
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(client.failure(), HttpFailure::kTls);
  EXPECT_NE(r.status().message().find("TLS verification failed"), std::string::npos);
  EXPECT_EQ(requestsTo("/untrusted"), 0u);
}

TEST_F(HttpClientTest, CertificateForAnotherHostNameSendsNothing) {
  HttpsTestServer wrong;
  ASSERT_TRUE(wrong.start(*pki_, "wrong"));
  HttpClient client(trusting());
  auto r = client.perform({"POST", wrong.url("/wrong-host"), {}, "secret report"});
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(client.failure(), HttpFailure::kTls);
  EXPECT_TRUE(wrong.requests().empty());
}

TEST_F(HttpClientTest, PublicKeyPinIsEnforcedWhenSet) {
  HttpClientOptions pinned = trusting();
  pinned.pin_sha256 = pki_->serverPin();
  HttpClient good(pinned);
  auto ok = good.perform({"GET", server_->url("/ok"), {}, {}});
  ASSERT_TRUE(ok.isOk()) << ok.status().toString();
  EXPECT_EQ(ok->status, 200);

  pinned.pin_sha256 = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  HttpClient bad(pinned);
  auto r = bad.perform({"POST", server_->url("/pinned"), {}, "secret report"});
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(bad.failure(), HttpFailure::kTls);
  EXPECT_EQ(requestsTo("/pinned"), 0u);
}

TEST_F(HttpClientTest, PlainHttpIsRefusedUnlessTheTestSwitchIsOn) {
  HttpsTestServer plain;
  ASSERT_TRUE(plain.start(*pki_, "server", /*plain=*/true));
  HttpClient client(trusting());
  auto r = client.perform({"POST", plain.url("/plain", true), {}, "report"});
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(client.failure(), HttpFailure::kInvalidRequest);
  EXPECT_NE(r.status().message().find("only https://"), std::string::npos);
  EXPECT_TRUE(plain.requests().empty());

  HttpClientOptions o = trusting();
  o.allow_insecure_http_for_tests = true;
  HttpClient insecure(o);
  auto ok = insecure.perform({"GET", plain.url("/ok", true), {}, {}});
  ASSERT_TRUE(ok.isOk()) << ok.status().toString();
  EXPECT_EQ(ok->status, 200);
}

TEST_F(HttpClientTest, ResponseOverTheCapIsCutWhileStreaming) {
  HttpClientOptions o = trusting();
  o.max_response_bytes = 1000;
  HttpClient client(o);
  auto r = client.perform({"GET", server_->url("/big/5000"), {}, {}});
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(client.failure(), HttpFailure::kTooLarge);
  auto small = client.perform({"GET", server_->url("/big/1000"), {}, {}});
  ASSERT_TRUE(small.isOk()) << small.status().toString();
  EXPECT_EQ(small->body.size(), 1000u);
}

TEST_F(HttpClientTest, BodySinkReceivesTheBodyInsteadOfTheResponse) {
  HttpClient client(trusting());
  std::string got;
  auto r = client.perform({"GET", server_->url("/big/3000"), {}, {}}, [&](std::string_view c) {
    got.append(c);
    return true;
  });
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_TRUE(r->body.empty());
  EXPECT_EQ(got.size(), 3000u);
}

TEST(RetryAfterTest, ParsesSecondsAndHttpDatesAndRejectsGarbage) {
  const int64_t now = int64_t{1'700'000'000} * 1000;  // Tue, 14 Nov 2023 22:13:20 GMT
  EXPECT_EQ(parseRetryAfterMs("120", now), 120'000);
  EXPECT_EQ(parseRetryAfterMs(" 0 ", now), 0);
  EXPECT_EQ(parseRetryAfterMs("Tue, 14 Nov 2023 22:14:20 GMT", now), 60'000);
  EXPECT_EQ(parseRetryAfterMs("Tue, 14 Nov 2023 22:00:00 GMT", now), 0);  // already past
  EXPECT_FALSE(parseRetryAfterMs("soon", now).has_value());
  EXPECT_FALSE(parseRetryAfterMs("", now).has_value());
  EXPECT_FALSE(parseRetryAfterMs("-5", now).has_value());
}

}  // namespace
}  // namespace safegate
