// SafeSearchRefresher against a real UDP responder on loopback (port 0): the safe-search
// targets are resolved through the upstream, stored per (target, type), kept when a later
// round fails, and answers that do not match the question are ignored.
#include "daemon/dns/safe_search_answers.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/unit/daemon/dns_test_util.h"

namespace safegate {
namespace {

// Answers A queries for forcesafesearch.google.com with 192.0.2.120 (TTL 300) — after first
// sending a response with the wrong ID, which the client must ignore — and everything else
// with NODATA. `silent` makes it stop answering.
class Responder {
 public:
  Responder() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~Responder() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }
  std::atomic<bool> silent{false};
  std::atomic<int> queries{0};

 private:
  void run() {
    uint8_t buf[1500];
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      sockaddr_storage from{};
      socklen_t from_len = sizeof from;
      ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n <= 0) continue;
      ++queries;
      if (silent) continue;
      std::vector<uint8_t> query(buf, buf + n);
      NameBuffer name;
      DnsQuery q;
      if (parseDnsQuery(query, q, name) != DnsParseStatus::kOk) continue;
      std::vector<std::array<uint8_t, 4>> addresses;
      if (q.question.name == "forcesafesearch.google.com" && q.question.qtype == dns_type::kA) {
        addresses.push_back({192, 0, 2, 120});
      }
      auto response = testing::makeResponse(query, addresses, 300);
      auto wrong = response;
      wrong[0] ^= 0xff;  // another ID: must not be taken for the answer
      sendto(fd_, wrong.data(), wrong.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
      sendto(fd_, response.data(), response.size(), 0, reinterpret_cast<sockaddr*>(&from),
             from_len);
    }
  }
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

bool waitForGeneration(const SafeSearchHolder& h, uint64_t g) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (h.generation() < g) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

std::optional<std::array<uint8_t, 4>> firstA(std::span<const uint8_t> response) {
  NameBuffer qn, rn;
  DnsResponseView v(response, qn);
  while (auto r = v.next(rn)) {
    if (r->type == dns_type::kA && r->rdata.size() == 4) {
      return std::array<uint8_t, 4>{r->rdata[0], r->rdata[1], r->rdata[2], r->rdata[3]};
    }
  }
  return std::nullopt;
}

TEST(SafeSearchAnswersTest, RefresherResolvesEveryTargetThroughTheUpstream) {
  Responder upstream;
  SafeSearchHolder holder;
  auto addr = SocketAddress::parse("127.0.0.1:" + std::to_string(upstream.port()));
  ASSERT_TRUE(addr.has_value());
  auto refresher = SafeSearchRefresher::start({*addr}, 1000, holder);
  ASSERT_TRUE(waitForGeneration(holder, 1));
  auto answers = holder.get();
  ASSERT_NE(answers, nullptr);
  // Five targets, A and AAAA each (NODATA is an answer too).
  EXPECT_EQ(answers->size(), safeSearchTargets().size() * 2);
  auto a = answers->find("forcesafesearch.google.com", dns_type::kA);
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(firstA(a), (std::array<uint8_t, 4>{192, 0, 2, 120}));
  EXPECT_FALSE(answers->find("strict.bing.com", dns_type::kAaaa).empty());
  EXPECT_TRUE(answers->find("www.google.com", dns_type::kA).empty());
  EXPECT_TRUE(answers->find("forcesafesearch.google.com", dns_type::kMx).empty());
}

TEST(SafeSearchAnswersTest, AFailedRoundKeepsTheLastGoodAnswers) {
  Responder upstream;
  SafeSearchHolder holder;
  auto addr = SocketAddress::parse("127.0.0.1:" + std::to_string(upstream.port()));
  auto refresher = SafeSearchRefresher::start({*addr}, 200, holder);
  ASSERT_TRUE(waitForGeneration(holder, 1));
  upstream.silent = true;
  EXPECT_EQ(refresher->refreshOnce(), 10);  // retried soon
  auto answers = holder.get();
  EXPECT_EQ(firstA(answers->find("forcesafesearch.google.com", dns_type::kA)),
            (std::array<uint8_t, 4>{192, 0, 2, 120}));
}

TEST(SafeSearchAnswersTest, QueryTimesOutWhenTheUpstreamIsSilent) {
  Responder upstream;
  upstream.silent = true;
  auto addr = SocketAddress::parse("127.0.0.1:" + std::to_string(upstream.port()));
  auto r = queryUpstreamOnce(*addr, "strict.bing.com", dns_type::kA, 100);
  EXPECT_FALSE(r.isOk());
  EXPECT_GE(upstream.queries.load(), 1);
}

}  // namespace
}  // namespace safegate
