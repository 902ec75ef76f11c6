// DnsTcpServer on real loopback sockets: connection limits, eviction order, admission hook,
// framing errors and stop() with connections open. Queries use a blocked name, which the
// server answers itself, so no upstream is needed.
#include "daemon/dns/dns_tcp_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <vector>

#include "tests/unit/daemon/dns_test_util.h"

namespace safegate {
namespace {

// Blocks every name but "slow.test", which is forwarded.
class BlockEverything : public PolicyView {
 public:
  Decision decide(const RequestFacts& f) const noexcept override {
    Decision d;
    d.group = "kids";
    if (f.name == "slow.test") return d;
    d.verdict = Verdict::kBlock;
    d.category = "gambling";
    d.block_answer = BlockAnswer::kNxdomain;
    return d;
  }
};

class DnsTcpServerTest : public ::testing::Test {
 protected:
  void SetUp() override { policy_.publish(std::make_shared<BlockEverything>()); }
  void TearDown() override {
    if (server_) server_->stop();
    for (int fd : clients_) close(fd);
  }

  // A listening loopback TCP socket on an ephemeral port.
  static int listener(uint16_t& port) {
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(listen(l, 128), 0);
    socklen_t len = sizeof(a);
    getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    return l;
  }

  // The upstream accepts connections (into its backlog) and never answers.
  void start(DnsTcpOptions options) {
    uint16_t upstream_port = 0;
    clients_.push_back(listener(upstream_port));
    options.upstreams.push_back(
        *SocketAddress::parse("127.0.0.1:" + std::to_string(upstream_port)));
    int l = listener(port_);
    server_ = std::make_unique<DnsTcpServer>(std::move(options), policy_, nullptr, nullptr);
    ASSERT_TRUE(server_->start({l}));
  }

  int connectFrom(const char* source) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, source, &a.sin_addr);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    a.sin_port = htons(port_);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    clients_.push_back(fd);
    return fd;
  }

  static void sendBytes(int fd, const std::vector<uint8_t>& b) {
    ASSERT_EQ(send(fd, b.data(), b.size(), MSG_NOSIGNAL), static_cast<ssize_t>(b.size()));
  }
  static std::vector<uint8_t> framedQuery(uint16_t id, std::string_view name = "casino.test") {
    std::vector<uint8_t> q = testing::makeQuery(id, name, dns_type::kA);
    std::vector<uint8_t> f(2 + q.size());
    f[0] = static_cast<uint8_t>(q.size() >> 8);
    f[1] = static_cast<uint8_t>(q.size());
    std::copy(q.begin(), q.end(), f.begin() + 2);
    return f;
  }
  // The ID of the next answer on `fd`, or nullopt when the server closed the connection.
  // Reads exactly one framed answer (2-byte length, then that many bytes) and returns its ID.
  // Exact reads matter: two pipelined answers may arrive in one segment.
  static bool readExactly(int fd, uint8_t* buf, size_t n) {
    size_t got = 0;
    while (got < n) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 10000) <= 0) return false;
      ssize_t r = recv(fd, buf + got, n - got, 0);
      if (r <= 0) return false;
      got += static_cast<size_t>(r);
    }
    return true;
  }
  static std::optional<uint16_t> answerId(int fd) {
    uint8_t len[2];
    if (!readExactly(fd, len, 2)) return std::nullopt;
    const size_t n = (size_t{len[0]} << 8) | len[1];
    std::vector<uint8_t> msg(n);
    if (n < 2 || !readExactly(fd, msg.data(), n)) return std::nullopt;
    return static_cast<uint16_t>((msg[0] << 8) | msg[1]);
  }
  std::optional<uint16_t> ask(int fd, uint16_t id) {
    sendBytes(fd, framedQuery(id));
    return answerId(fd);
  }

  PolicyHolder policy_;
  std::unique_ptr<DnsTcpServer> server_;
  std::vector<int> clients_;
  uint16_t port_ = 0;
};

TEST_F(DnsTcpServerTest, FullServerClosesTheOldestIdleConnectionFirst) {
  DnsTcpOptions o;
  o.max_connections = 3;
  start(std::move(o));
  int oldest = connectFrom("127.0.0.1");
  ASSERT_EQ(ask(oldest, 1), 1);
  int slow = connectFrom("127.0.0.2");
  sendBytes(slow, {0});  // half a length prefix: a message in progress, not idle
  int idle = connectFrom("127.0.0.3");
  ASSERT_EQ(ask(idle, 3), 3);
  int newcomer = connectFrom("127.0.0.4");
  EXPECT_EQ(ask(newcomer, 4), 4);
  EXPECT_EQ(answerId(oldest), std::nullopt) << "the oldest idle connection was kept";
  EXPECT_EQ(server_->stats().evicted_idle, 1u);
  EXPECT_EQ(server_->stats().evicted_slow, 0u);
  EXPECT_EQ(ask(idle, 5), 5);
}

TEST_F(DnsTcpServerTest, FullServerWithoutIdleConnectionsClosesTheSlowestSender) {
  DnsTcpOptions o;
  o.max_connections = 2;
  start(std::move(o));
  int slow = connectFrom("127.0.0.1");
  sendBytes(slow, {0});
  int busy = connectFrom("127.0.0.2");
  // A query and the first byte of the next in one write (read at once): once its answer is
  // back, `busy` is mid-message too, started later, and `slow`'s byte has been read.
  std::vector<uint8_t> query_and_more = framedQuery(1);
  query_and_more.push_back(0);
  sendBytes(busy, query_and_more);
  ASSERT_EQ(answerId(busy), 1);
  int newcomer = connectFrom("127.0.0.3");
  EXPECT_EQ(ask(newcomer, 2), 2);
  EXPECT_EQ(answerId(slow), std::nullopt);
  EXPECT_EQ(server_->stats().evicted_slow, 1u);
}

TEST_F(DnsTcpServerTest, PerClientCapRefusesTheExtraConnectionOfThatClientOnly) {
  DnsTcpOptions o;
  o.max_connections_per_client = 2;
  start(std::move(o));
  ASSERT_EQ(ask(connectFrom("127.0.0.1"), 1), 1);
  ASSERT_EQ(ask(connectFrom("127.0.0.1"), 2), 2);
  EXPECT_EQ(ask(connectFrom("127.0.0.1"), 3), std::nullopt);
  EXPECT_EQ(ask(connectFrom("127.0.0.2"), 4), 4);
  EXPECT_EQ(server_->stats().refused_client_cap, 1u);
  EXPECT_EQ(server_->stats().connections, 3u);
}

TEST_F(DnsTcpServerTest, AdmissionHookIsAskedAtAccept) {
  DnsTcpOptions o;
  o.admit = [](const sockaddr* sa, socklen_t) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return ntohl(in->sin_addr.s_addr) != 0x7f000009;  // 127.0.0.9 is not welcome
  };
  start(std::move(o));
  EXPECT_EQ(ask(connectFrom("127.0.0.9"), 1), std::nullopt);
  EXPECT_EQ(ask(connectFrom("127.0.0.1"), 2), 2);
  EXPECT_EQ(server_->stats().refused_admission, 1u);
}

TEST_F(DnsTcpServerTest, QueryLongerThanTheFramingCapClosesTheConnection) {
  start(DnsTcpOptions{});
  int fd = connectFrom("127.0.0.1");
  sendBytes(fd, {0xff, 0xff, 0, 0});  // announces 65535 bytes: no query is that long
  EXPECT_EQ(answerId(fd), std::nullopt);
  EXPECT_EQ(server_->stats().framing_errors, 1u);
}

TEST_F(DnsTcpServerTest, SplitAndPipelinedQueriesAreAllAnswered) {
  start(DnsTcpOptions{});
  int fd = connectFrom("127.0.0.1");
  std::vector<uint8_t> two = framedQuery(1);
  std::vector<uint8_t> second = framedQuery(2);
  two.insert(two.end(), second.begin(), second.end());
  // The first query and half the second in one write, the rest in another.
  const size_t cut = two.size() - 5;
  sendBytes(fd, std::vector<uint8_t>(two.begin(), two.begin() + static_cast<long>(cut)));
  sendBytes(fd, std::vector<uint8_t>(two.begin() + static_cast<long>(cut), two.end()));
  std::optional<uint16_t> a = answerId(fd);
  std::optional<uint16_t> b = answerId(fd);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a + *b, 3);
}

TEST_F(DnsTcpServerTest, QueriesBeyondThePipelineLimitGetServfailAtOnce) {
  DnsTcpOptions o;
  o.max_pipelined = 2;
  o.upstream_timeout_ms = 60000;  // the two forwarded queries stay in progress
  start(std::move(o));
  int fd = connectFrom("127.0.0.1");
  std::vector<uint8_t> three = framedQuery(1, "slow.test");
  for (uint16_t id : {2, 3}) {
    std::vector<uint8_t> q = framedQuery(id, "slow.test");
    three.insert(three.end(), q.begin(), q.end());
  }
  sendBytes(fd, three);  // one write: read at once, before any answer exists
  EXPECT_EQ(answerId(fd), 3);
  EXPECT_EQ(server_->stats().queue_full, 1u);
}

TEST_F(DnsTcpServerTest, StopReturnsWhileQueryThreadsWaitForASilentUpstream) {
  DnsTcpOptions o;
  o.upstream_timeout_ms = 60000;
  start(std::move(o));
  int fd = connectFrom("127.0.0.1");
  sendBytes(fd, framedQuery(1, "slow.test"));
  ASSERT_EQ(ask(connectFrom("127.0.0.2"), 2), 2);  // the slow query is with a query thread
  server_->stop();  // would take the 60 s upstream timeout if it waited for the exchange
  EXPECT_EQ(answerId(fd), std::nullopt);
}

TEST_F(DnsTcpServerTest, StopClosesOpenConnectionsAndReturns) {
  start(DnsTcpOptions{});
  std::vector<int> open;
  for (int i = 0; i < 8; ++i) open.push_back(connectFrom("127.0.0.1"));
  sendBytes(open[0], {0, 40, 1, 2});               // a query in progress
  ASSERT_EQ(ask(connectFrom("127.0.0.2"), 1), 1);  // all of the above are accepted by now
  EXPECT_EQ(server_->stats().connections, 9u);
  server_->stop();
  EXPECT_EQ(server_->stats().connections, 0u);
  for (int fd : open) EXPECT_EQ(answerId(fd), std::nullopt);
}

}  // namespace
}  // namespace safegate
