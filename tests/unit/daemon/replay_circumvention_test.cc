// replayCapture() agrees with the inline path on DoH endpoints reached by address: a crafted
// capture (raw-IP pcap written here, packets from filters/forged_packet.h) holds TCP and UDP
// 443 flows to an address a circumvention list names, a neighbour that is not listed, DNS and
// DoT to the listed address. Each must get the verdict daemon/inline/inline_inspector.cc gives.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>

#include "daemon/inline/capture_replay.h"
#include "filters/forged_packet.h"
#include "tests/support/pcap_writer.h"
#include "tests/support/shared_data.h"
#include "tests/support/test_packets.h"

namespace safegate {
namespace {

using safegate::testing::clientHello;
using safegate::testing::dnsQuery;
using safegate::testing::PcapWriter;
using safegate::testing::TempDir;
using safegate::testing::udpPacket;

std::vector<uint8_t> tcp(const char* src, const char* dst, uint16_t sport, uint16_t dport,
                         uint32_t seq, uint8_t flags, std::span<const uint8_t> payload = {}) {
  return safegate::testing::tcpPacket(src, dst, sport, dport, seq, 1, flags, payload);
}

std::vector<uint8_t> bytesOf(std::string_view s) { return {s.begin(), s.end()}; }

class ReplayCircumventionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("gambling.txt", "casino.test\n");
    dir_.write("doh.txt", "doh.test\n10.9.0.53\n2001:db8:53::/48\n");
    dir_.write("safegate.toml", R"(
[policy]
default_group = "kids"

[[lists]]
name = "gambling"
category = "gambling"
sources = ["gambling.txt"]

[[lists]]
name = "doh"
category = "circumvention"
format = "domains"
sources = ["doh.txt"]

[[groups]]
name = "kids"
profile = "open"
categories = { gambling = "block" }

[[groups]]
name = "strict"
profile = "open"
encrypted_dns = "monitor"

[[clients]]
name = "tablet"
group = "strict"
addresses = ["10.9.1.3/32"]
)");
    DiagnosticSink diags;
    auto loaded = policy::PolicyEngine::load(dir_.path() / "safegate.toml", diags);
    ASSERT_TRUE(loaded.isOk()) << diags.toString();
    snapshot_ = loaded->snapshot;
  }

  std::vector<ReplayObservation> replay(const PcapWriter& w) {
    const auto path = dir_.write("crafted.pcap", w.bytes());
    auto r = replayCapture(path, snapshot_);
    EXPECT_TRUE(r.isOk()) << r.status().toString();
    return r.isOk() ? *r : std::vector<ReplayObservation>{};
  }

  TempDir dir_;
  policy::PolicySnapshotPtr snapshot_;
};

const ReplayObservation* find(const std::vector<ReplayObservation>& obs, const char* client,
                              const char* server, uint16_t port) {
  const ReplayObservation* found = nullptr;
  for (const auto& o : obs) {
    if (o.client == client && o.server == server && o.server_port == port) {
      EXPECT_EQ(found, nullptr) << "more than one observation for " << server << ":" << port;
      found = &o;
    }
  }
  return found;
}

TEST_F(ReplayCircumventionTest, TlsToAListedDohAddressIsDecidedByEncryptedDnsWhateverTheSni) {
  PcapWriter w;
  auto hello = clientHello("allowed.test");
  w.add(tcp("10.9.1.2", "10.9.0.53", 40000, 443, 100, tcp_flags::kSyn));
  w.add(tcp("10.9.1.2", "10.9.0.53", 40000, 443, 101, tcp_flags::kAck | tcp_flags::kPsh, hello));
  w.add(tcp("10.9.1.3", "10.9.0.53", 40001, 443, 100, tcp_flags::kSyn));
  w.add(tcp("10.9.1.3", "10.9.0.53", 40001, 443, 101, tcp_flags::kAck | tcp_flags::kPsh, hello));
  w.add(tcp("10.9.1.2", "10.9.0.2", 40002, 443, 100, tcp_flags::kSyn));
  w.add(tcp("10.9.1.2", "10.9.0.2", 40002, 443, 101, tcp_flags::kAck | tcp_flags::kPsh, hello));
  auto obs = replay(w);

  const auto* kids = find(obs, "10.9.1.2", "10.9.0.53", 443);
  ASSERT_NE(kids, nullptr);
  EXPECT_EQ(kids->protocol, Protocol::kTls);
  EXPECT_EQ(kids->host, "allowed.test");
  EXPECT_EQ(kids->decision.verdict, "block");
  EXPECT_EQ(kids->decision.group, "kids");
  EXPECT_EQ(kids->decision.category, "circumvention");
  EXPECT_EQ(kids->decision.rule, "encrypted_dns (circumvention list address)");

  const auto* strict = find(obs, "10.9.1.3", "10.9.0.53", 443);
  ASSERT_NE(strict, nullptr);
  EXPECT_EQ(strict->decision.verdict, "monitor");
  EXPECT_EQ(strict->decision.group, "strict");

  // The address next to it is not listed: the SNI decides, as live.
  const auto* neighbour = find(obs, "10.9.1.2", "10.9.0.2", 443);
  ASSERT_NE(neighbour, nullptr);
  EXPECT_EQ(neighbour->host, "allowed.test");
  EXPECT_EQ(neighbour->decision.verdict, "allow");
  EXPECT_EQ(neighbour->decision.category, "");
}

TEST_F(ReplayCircumventionTest, AnyTcpPortAndUdp443ToTheListedAddressAreCaughtOncePerFlow) {
  PcapWriter w;
  auto request = bytesOf("GET /dns-query HTTP/1.1\r\nHost: allowed.test\r\n\r\n");
  w.add(tcp("10.9.1.2", "10.9.0.53", 40010, 8080, 100, tcp_flags::kSyn));
  w.add(tcp("10.9.1.2", "10.9.0.53", 40010, 8080, 101, tcp_flags::kAck | tcp_flags::kPsh, request));
  w.add(tcp("10.9.1.2", "10.9.0.53", 40010, 8080, 101 + uint32_t(request.size()),
            tcp_flags::kAck | tcp_flags::kPsh, request));
  // Not a QUIC Initial the decoder could open: live drops it by address all the same.
  auto datagram = bytesOf("\xc0opaque-datagram");
  w.add(udpPacket("10.9.1.2", "10.9.0.53", 50000, 443, datagram));
  w.add(udpPacket("10.9.1.2", "10.9.0.53", 50000, 443, datagram));
  auto obs = replay(w);

  const auto* http = find(obs, "10.9.1.2", "10.9.0.53", 8080);
  ASSERT_NE(http, nullptr);
  EXPECT_EQ(http->protocol, Protocol::kHttp);
  EXPECT_EQ(http->host, "allowed.test");
  EXPECT_EQ(http->http_path, "/dns-query");
  EXPECT_EQ(http->decision.verdict, "block");
  EXPECT_EQ(http->decision.category, "circumvention");

  const auto* quic = find(obs, "10.9.1.2", "10.9.0.53", 443);
  ASSERT_NE(quic, nullptr);
  EXPECT_EQ(quic->protocol, Protocol::kQuic);
  EXPECT_EQ(quic->decision.verdict, "block");
  EXPECT_EQ(quic->decision.rule, "encrypted_dns (circumvention list address)");
}

TEST_F(ReplayCircumventionTest, DnsAndDotToTheListedAddressKeepTheirOwnRules) {
  PcapWriter w;
  w.add(udpPacket("10.9.1.2", "10.9.0.53", 50001, 53, dnsQuery("casino.test")));
  w.add(udpPacket("10.9.1.2", "10.9.0.53", 50002, 53, dnsQuery("allowed.test")));
  auto hello = clientHello("dot.test");
  w.add(tcp("10.9.1.2", "10.9.0.53", 40020, 853, 100, tcp_flags::kSyn));
  w.add(tcp("10.9.1.2", "10.9.0.53", 40020, 853, 101, tcp_flags::kAck | tcp_flags::kPsh, hello));
  auto obs = replay(w);

  ASSERT_EQ(obs.size(), 3u);
  EXPECT_EQ(obs[0].protocol, Protocol::kDns);
  EXPECT_EQ(obs[0].host, "casino.test");
  EXPECT_EQ(obs[0].decision.verdict, "block");
  EXPECT_EQ(obs[0].decision.category, "gambling");
  EXPECT_EQ(obs[1].host, "allowed.test");
  EXPECT_EQ(obs[1].decision.verdict, "allow");
  EXPECT_EQ(obs[2].protocol, Protocol::kTls);
  EXPECT_EQ(obs[2].host, "dot.test");
  EXPECT_EQ(obs[2].decision.rule, "encrypted_dns (port 853)");
}

}  // namespace
}  // namespace safegate
