// NfqueueQueue against the real kernel: each test runs in a network namespace of its own
// (unshare(CLONE_NEWNET) on a dedicated thread), installs iptables-legacy rules there, binds a
// queue and sends real UDP packets over that namespace's loopback.
#include "daemon/inline/nfqueue_frontend.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

namespace safegate {
namespace {

// Runs `body` on a thread inside a fresh network namespace; returns "" or why it could not.
std::string inNewNetns(const std::function<void()>& body) {
  std::string why;
  std::thread t([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      why = "unshare(CLONE_NEWNET) failed (not root?)";
      return;
    }
    if (std::system("ip link set lo up") != 0) {
      why = "cannot bring up loopback";
      return;
    }
    body();
  });
  t.join();
  return why;
}

bool run(const std::string& cmd) { return std::system(cmd.c_str()) == 0; }

struct UdpPair {
  int tx = -1, rx = -1;
  sockaddr_in to{};
  UdpPair(uint16_t port) {
    tx = socket(AF_INET, SOCK_DGRAM, 0);
    rx = socket(AF_INET, SOCK_DGRAM, 0);
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(rx, reinterpret_cast<sockaddr*>(&to), sizeof to);
    timeval tv{0, 200000};
    setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~UdpPair() {
    close(tx);
    close(rx);
  }
  void send(uint8_t b) { sendto(tx, &b, 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof to); }
  std::vector<uint8_t> drain() {
    std::vector<uint8_t> got;
    uint8_t b;
    while (recv(rx, &b, 1, 0) == 1) got.push_back(b);
    return got;
  }
};

// Drops datagrams whose one-byte payload is odd, accepts the others.
class OddDropper : public NfqPacketHandler {
 public:
  NfqVerdict onPacket(const NfqPacketView& p) noexcept override {
    ++seen;
    if (p.ip.size() < 29) return {NfqVerdictKind::kAccept, 0};
    uint8_t b = p.ip[28];  // 20-byte IPv4 header + 8-byte UDP header
    return {(b & 1) ? NfqVerdictKind::kDrop : NfqVerdictKind::kAccept, 0};
  }
  int seen = 0;
};

// Marks every flow "decided, allow" (bit 0x1) on its first packet.
class OffloadingHandler : public NfqPacketHandler {
 public:
  NfqVerdict onPacket(const NfqPacketView& p) noexcept override {
    ++seen;
    return {NfqVerdictKind::kRepeat, (p.mark & ~0x3u) | 0x1u};
  }
  int seen = 0;
};

TEST(NfqueueFrontendTest, DeliversEveryPacketAndAppliesDropVerdicts) {
  std::string skip = inNewNetns([] {
    Status probe = probeNfqueueSupport(7);
    if (!probe.isOk()) {
      GTEST_SKIP() << "kernel lacks NFQUEUE here: " << probe.toString();
    }
    ASSERT_TRUE(
        run("iptables-legacy -A OUTPUT -o lo -p udp --dport 40007 -j NFQUEUE --queue-num 7"));
    NfqueueOptions o;
    o.queue = 7;
    auto q = NfqueueQueue::open(o);
    ASSERT_TRUE(q.isOk()) << q.status().toString();
    UdpPair udp(40007);
    OddDropper handler;
    for (int i = 0; i < 100; ++i) udp.send(static_cast<uint8_t>(i));
    while (handler.seen < 100) {
      if ((*q)->pollOnce(handler, 1000) == 0) break;
    }
    auto got = udp.drain();
    EXPECT_EQ(handler.seen, 100);
    ASSERT_EQ(got.size(), 50u);
    for (uint8_t b : got) EXPECT_EQ(b % 2, 0);
    const auto& c = (*q)->counters();
    EXPECT_EQ(c.received.load(), 100u);
    EXPECT_EQ(c.accepted.load(), 50u);
    EXPECT_EQ(c.dropped.load(), 50u);
    EXPECT_EQ(c.verdict_errors.load(), 0u);
    auto ks = NfqueueQueue::kernelStats(7);
    ASSERT_TRUE(ks.isOk()) << ks.status().toString();
    EXPECT_EQ(ks->id_sequence, 100u);
    EXPECT_EQ(ks->queue_dropped, 0u);
  });
  if (!skip.empty()) GTEST_SKIP() << skip;
}

TEST(NfqueueFrontendTest, BatchesAcceptVerdictsForConsecutivePackets) {
  std::string skip = inNewNetns([] {
    if (!probeNfqueueSupport(8).isOk()) GTEST_SKIP() << "kernel lacks NFQUEUE";
    ASSERT_TRUE(
        run("iptables-legacy -A OUTPUT -o lo -p udp --dport 40008 -j NFQUEUE --queue-num 8"));
    NfqueueOptions o;
    o.queue = 8;
    auto q = NfqueueQueue::open(o);
    ASSERT_TRUE(q.isOk());
    UdpPair udp(40008);
    class AcceptAll : public NfqPacketHandler {
     public:
      NfqVerdict onPacket(const NfqPacketView&) noexcept override { return {}; }
    } handler;
    for (int i = 0; i < 200; ++i) udp.send(2);
    size_t total = 0;
    while (total < 200) {
      size_t n = (*q)->pollOnce(handler, 1000);
      if (n == 0) break;
      total += n;
    }
    EXPECT_EQ(total, 200u);
    EXPECT_EQ(udp.drain().size(), 200u);
    // 200 packets read in receive batches of 32: far fewer verdict messages than packets.
    EXPECT_LT((*q)->counters().verdict_messages.load(), 200u / 4);
  });
  if (!skip.empty()) GTEST_SKIP() << skip;
}

TEST(NfqueueFrontendTest, RepeatWithDecisionMarkOffloadsTheRestOfTheFlow) {
  std::string skip = inNewNetns([] {
    if (!probeNfqueueSupport(9).isOk()) GTEST_SKIP() << "kernel lacks NFQUEUE";
    // The same save/restore/accept chain as packaging/firewall, on OUTPUT for loopback.
    ASSERT_TRUE(run(
        "iptables-legacy -t mangle -N SG && "
        "iptables-legacy -t mangle -A SG -m mark ! --mark 0/0x3 -j CONNMARK --save-mark "
        "--nfmask 0x3 --ctmask 0x3 && "
        "iptables-legacy -t mangle -A SG -j CONNMARK --restore-mark --nfmask 0x3 --ctmask 0x3 && "
        "iptables-legacy -t mangle -A SG -m mark --mark 0x1/0x3 -j ACCEPT && "
        "iptables-legacy -t mangle -A SG -m mark --mark 0x2/0x3 -j DROP && "
        "iptables-legacy -t mangle -A SG -p udp -j NFQUEUE --queue-num 9 && "
        "iptables-legacy -t mangle -A OUTPUT -o lo -p udp --dport 40009 -j SG"));
    NfqueueOptions o;
    o.queue = 9;
    auto q = NfqueueQueue::open(o);
    ASSERT_TRUE(q.isOk());
    UdpPair udp(40009);  // one socket pair = one flow
    OffloadingHandler handler;
    udp.send(1);
    ASSERT_EQ((*q)->pollOnce(handler, 1000), 1u);
    for (int i = 0; i < 20; ++i) udp.send(2);
    (*q)->pollOnce(handler, 300);
    EXPECT_EQ(handler.seen, 1) << "later packets of a decided flow must bypass the queue";
    EXPECT_EQ(udp.drain().size(), 21u);
    EXPECT_EQ((*q)->counters().repeated.load(), 1u);
  });
  if (!skip.empty()) GTEST_SKIP() << skip;
}

TEST(NfqueueFrontendTest, SecondBindOfTheSameQueueFailsWithClearError) {
  std::string skip = inNewNetns([] {
    if (!probeNfqueueSupport(10).isOk()) GTEST_SKIP() << "kernel lacks NFQUEUE";
    NfqueueOptions o;
    o.queue = 10;
    auto a = NfqueueQueue::open(o);
    ASSERT_TRUE(a.isOk());
    auto b = NfqueueQueue::open(o);
    ASSERT_FALSE(b.isOk());
    EXPECT_NE(b.status().toString().find("nfq_create_queue 10"), std::string::npos)
        << b.status().toString();
  });
  if (!skip.empty()) GTEST_SKIP() << skip;
}

}  // namespace
}  // namespace safegate
