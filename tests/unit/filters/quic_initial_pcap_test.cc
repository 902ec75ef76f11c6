// QUIC Initial decryption and CRYPTO assembly against real captures (../shared/data/pcaps,
// MIT suricata-verify and BSD tcpdump test captures; see their INDEX.tsv).
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "filters/quic_initial.h"
#include "tests/support/pcap_reader.h"
#include "tests/support/shared_data.h"

namespace safegate {
namespace {

struct Udp {
  std::string flow;  // "src sport > dst dport" (bytes of the addresses as hex)
  std::span<const uint8_t> payload;
};

// Minimal IPv4/IPv6 (no extension headers) + UDP split, enough for these captures.
std::optional<Udp> udpOf(std::span<const uint8_t> ip) {
  if (ip.empty()) return std::nullopt;
  size_t l4 = 0;
  std::span<const uint8_t> src, dst;
  if ((ip[0] >> 4) == 4) {
    if (ip.size() < 20 || ip[9] != 17) return std::nullopt;
    l4 = (ip[0] & 0x0f) * 4;
    src = ip.subspan(12, 4);
    dst = ip.subspan(16, 4);
  } else if ((ip[0] >> 4) == 6) {
    if (ip.size() < 40 || ip[6] != 17) return std::nullopt;
    l4 = 40;
    src = ip.subspan(8, 16);
    dst = ip.subspan(24, 16);
  } else {
    return std::nullopt;
  }
  if (ip.size() < l4 + 8) return std::nullopt;
  auto hexs = [](std::span<const uint8_t> b) {
    std::string s;
    char buf[3];
    for (uint8_t c : b) {
      snprintf(buf, sizeof buf, "%02x", c);
      s += buf;
    }
    return s;
  };
  uint16_t sport = uint16_t(ip[l4] << 8 | ip[l4 + 1]);
  uint16_t dport = uint16_t(ip[l4 + 2] << 8 | ip[l4 + 3]);
  uint16_t len = uint16_t(ip[l4 + 4] << 8 | ip[l4 + 5]);
  if (len < 8 || l4 + len > ip.size()) return std::nullopt;
  return Udp{
      hexs(src) + ":" + std::to_string(sport) + ">" + hexs(dst) + ":" + std::to_string(dport),
      ip.subspan(l4 + 8, len - 8)};
}

struct Outcome {
  std::vector<std::vector<uint8_t>> hellos;  // completed ClientHellos, in completion order
  uint32_t initials_opened = 0;
};

Outcome runCapture(const std::filesystem::path& path) {
  auto pcap = testing::PcapFile::open(path);
  EXPECT_TRUE(pcap.isOk()) << pcap.status().toString();
  Outcome out;
  if (!pcap.isOk()) return out;
  auto inspector = QuicInitialInspector::create();
  EXPECT_TRUE(inspector.isOk());
  std::map<std::string, std::unique_ptr<QuicFlowState>> flows;
  std::map<std::string, bool> done;
  for (const auto& frame : pcap->frames()) {
    auto udp = udpOf(frame.ip);
    if (!udp || !looksLikeQuicInitial(udp->payload)) continue;
    auto& state = flows[udp->flow];
    if (!state) state = std::make_unique<QuicFlowState>();
    auto r = (*inspector)->feed(udp->payload, *state);
    out.initials_opened += r.initials_opened;
    if (r.client_hello_complete && !done[udp->flow]) {
      done[udp->flow] = true;
      auto m = state->crypto.firstHandshakeMessage();
      out.hellos.emplace_back(m->begin(), m->end());
    }
  }
  return out;
}

bool contains(const std::vector<uint8_t>& hay, std::string_view needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

void expectHelloWithName(const char* rel, std::string_view sni, size_t min_hellos = 1) {
  auto path = SAFEGATE_SHARED_DATA_OR_SKIP(rel);
  auto out = runCapture(path);
  ASSERT_GE(out.hellos.size(), min_hellos) << rel;
  bool found = false;
  for (const auto& h : out.hellos) {
    EXPECT_EQ(h[0], 0x01) << "handshake type must be ClientHello";
    found = found || contains(h, sni);
  }
  EXPECT_TRUE(found) << rel << " has no ClientHello naming " << sni;
}

TEST(QuicInitialPcapTest, DecryptsMsquicV1ClientHelloNamingMsquicNet) {
  expectHelloWithName("pcaps/suricata-verify/quic-v1-msquic.pcap", "msquic.net");
}

TEST(QuicInitialPcapTest, DecryptsQuicV2ClientHello) {
  auto path = SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/suricata-verify/quic-v2.pcap");
  auto out = runCapture(path);
  ASSERT_EQ(out.hellos.size(), 1u);
  EXPECT_EQ(out.hellos[0][0], 0x01);
  EXPECT_TRUE(contains(out.hellos[0], "h3"));  // ALPN h3 (INDEX.tsv)
}

TEST(QuicInitialPcapTest, GathersClientHelloSpreadOverSeveralInitials) {
  expectHelloWithName("pcaps/suricata-verify/quic-clienthello-multi-packet.pcap",
                      "token.services.mozilla.com");
}

TEST(QuicInitialPcapTest, FillsCryptoGapFromLaterPacket) {
  expectHelloWithName("pcaps/suricata-verify/quic-crypto-middle-gap.pcap",
                      "optimizationguide-pa.googleapis.com");
}

TEST(QuicInitialPcapTest, FindsClientHelloWhenInitialIsNotFirstPacket) {
  expectHelloWithName("pcaps/suricata-verify/quic-initial-not-first.pcap",
                      "scontent-ams4-1.xx.fbcdn.net");
}

TEST(QuicInitialPcapTest, DecryptsCloudflareQuicOverIpv6) {
  expectHelloWithName("pcaps/suricata-verify/quic-and-tls-ipv6-cloudflare.pcap",
                      "cloudflare-quic.com");
}

TEST(QuicInitialPcapTest, DecryptsTcpdumpQuicHandshakeToLocalhost) {
  expectHelloWithName("pcaps/tcpdump/quic_handshake.pcap", "localhost");
}

TEST(QuicInitialPcapTest, DecryptsClientHelloAfterRetry) {
  expectHelloWithName("pcaps/tcpdump/quic_retry.pcap", "localhost");
}

TEST(QuicInitialPcapTest, MalformedTcpdumpCapturesProduceNoClientHello) {
  for (const char* rel : {"pcaps/tcpdump/quic_32_bit_pointer_overflow.pcap",
                          "pcaps/suricata-verify/gquic-cyu.pcap", "pcaps/tcpdump/gquic.pcap"}) {
    auto path = SAFEGATE_SHARED_DATA_OR_SKIP(rel);
    auto out = runCapture(path);
    EXPECT_TRUE(out.hellos.empty()) << rel;
  }
}

}  // namespace
}  // namespace safegate
