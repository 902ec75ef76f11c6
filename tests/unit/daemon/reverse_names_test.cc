// ReverseNames against a real UDP DNS server on loopback (port 0): LAN clients get the first
// label of their PTR name; a client without one, a forged answer, a silent server and a client
// leaving the neighbour table are each handled.
#include "daemon/dns/reverse_names.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <thread>

#include "filters/reverse_name.h"
#include "tests/unit/daemon/dns_test_util.h"

namespace safegate {
namespace {

// Answers PTR questions from `names` (question name -> target); NXDOMAIN otherwise. Each real
// answer is preceded by one with another ID, which must be ignored.
class PtrServer {
 public:
  explicit PtrServer(std::map<std::string, std::string> names) : names_(std::move(names)) {
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
  ~PtrServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  SocketAddress address() const {
    return *SocketAddress::parse("127.0.0.1:" + std::to_string(port_));
  }
  std::atomic<bool> silent{false};
  std::atomic<int> questions{0};

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
      ++questions;
      if (silent) continue;
      std::vector<uint8_t> query(buf, buf + n);
      NameBuffer name;
      DnsQuery q;
      if (parseDnsQuery(query, q, name) != DnsParseStatus::kOk) continue;
      auto it = names_.find(std::string(q.question.name));
      auto response = it == names_.end()
                          ? testing::makeResponse(query, {}, 300, dns_rcode::kNxDomain)
                          : testing::makePtrResponse(query, it->second, 3600);
      auto forged = testing::makePtrResponse(query, "forged.lan", 3600);
      forged[0] ^= 0x5a;
      sendto(fd_, forged.data(), forged.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
      sendto(fd_, response.data(), response.size(), 0, reinterpret_cast<sockaddr*>(&from),
             from_len);
    }
  }
  std::map<std::string, std::string> names_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

TEST(ReverseNamesTest, NeighboursAreNamedByTheFirstLabelOfTheirPtr) {
  PtrServer server({{reverseQueryName(ip("192.168.1.23")), "sams-tablet.school.lan"},
                    {reverseQueryName(ip("2001:db8::23")), "mias-laptop.school.lan"}});
  std::vector<IpAddress> clients = {ip("192.168.1.23"), ip("2001:db8::23"), ip("192.168.1.99")};
  ReverseNamesOptions o;
  o.server = server.address();
  ReverseNames names(o, [&] { return clients; });
  const uint64_t before = names.version();
  names.resolveOnce(1'000'000);
  EXPECT_NE(names.version(), before);
  auto map = names.names();
  ASSERT_EQ(map->size(), 2u);
  EXPECT_EQ(map->at(ip("192.168.1.23")), "sams-tablet");
  EXPECT_EQ(map->at(ip("2001:db8::23")), "mias-laptop");
  EXPECT_EQ(map->count(ip("192.168.1.99")), 0u) << "NXDOMAIN names nobody";
  EXPECT_EQ(server.questions.load(), 3);

  // Known names are not asked again before they are due; the next round sends nothing and
  // publishes nothing new.
  const uint64_t v = names.version();
  names.resolveOnce(1'000'000 + 60'000);
  EXPECT_EQ(server.questions.load(), 3);
  EXPECT_EQ(names.version(), v);

  // A client that left the neighbour table is forgotten.
  clients = {ip("2001:db8::23")};
  names.resolveOnce(1'000'000 + 61'000);
  EXPECT_EQ(names.names()->size(), 1u);
  EXPECT_NE(names.version(), v);
}

TEST(ReverseNamesTest, ASilentServerKeepsKnownNamesAndCostsOnlyTheTimeout) {
  PtrServer server({{reverseQueryName(ip("192.168.1.23")), "sams-tablet.lan"}});
  std::vector<IpAddress> clients = {ip("192.168.1.23")};
  ReverseNamesOptions o;
  o.server = server.address();
  o.timeout_ms = 200;
  ReverseNames names(o, [&] { return clients; });
  names.resolveOnce(0);
  ASSERT_EQ(names.names()->size(), 1u);
  server.silent = true;
  const auto start = std::chrono::steady_clock::now();
  names.resolveOnce(int64_t{2} * 86'400'000);  // long after the name was due
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(names.names()->at(ip("192.168.1.23")), "sams-tablet");
}

TEST(ReverseNamesTest, TheThreadResolvesAndStopsPromptly) {
  PtrServer server({{reverseQueryName(ip("10.0.0.5")), "printer.lan"}});
  ReverseNamesOptions o;
  o.server = server.address();
  o.refresh_seconds = 3600;
  ReverseNames names(o, [] { return std::vector<IpAddress>{ip("10.0.0.5")}; });
  names.start();
  // The first round runs at start; version() is the signal it published.
  for (int i = 0; i < 500 && names.version() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(names.names()->count(ip("10.0.0.5")), 1u);
  const auto start = std::chrono::steady_clock::now();
  names.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

}  // namespace
}  // namespace safegate
