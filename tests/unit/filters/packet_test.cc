#include "filters/packet.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "tests/support/pcap_reader.h"
#include "tests/support/shared_data.h"

namespace safegate {
namespace {

using Bytes = std::vector<uint8_t>;

void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put32(Bytes& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}

Bytes udp(uint16_t sport, uint16_t dport, const Bytes& payload) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put16(b, static_cast<uint16_t>(8 + payload.size()));
  put16(b, 0);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint8_t flags, const Bytes& payload,
          size_t option_bytes = 0) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put32(b, seq);
  put32(b, 0x01020304);
  b.push_back(static_cast<uint8_t>(((20 + option_bytes) / 4) << 4));
  b.push_back(flags);
  put16(b, 65535);
  put32(b, 0);                                               // checksum + urgent pointer
  for (size_t i = 0; i < option_bytes; ++i) b.push_back(1);  // NOP options
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes ipv4(uint8_t proto, const Bytes& l4, uint16_t flags_offset = 0, size_t option_bytes = 0) {
  Bytes b;
  const size_t ihl = 20 + option_bytes;
  b.push_back(static_cast<uint8_t>(0x40 | (ihl / 4)));
  b.push_back(0);
  put16(b, static_cast<uint16_t>(ihl + l4.size()));
  put16(b, 0xbeef);
  put16(b, flags_offset);
  b.push_back(64);
  b.push_back(proto);
  put16(b, 0);
  for (uint8_t x : {192, 0, 2, 1, 198, 51, 100, 7}) b.push_back(x);
  for (size_t i = 0; i < option_bytes; ++i) b.push_back(1);
  b.insert(b.end(), l4.begin(), l4.end());
  return b;
}

// An IPv6 packet: `chain` is a list of (header type, body) extension headers, then `proto`.
struct Ext {
  uint8_t type;
  Bytes body;  // everything after next-header (and the length octet for generic headers)
};

Bytes ipv6(const std::vector<Ext>& chain, uint8_t proto, const Bytes& l4) {
  Bytes exts;
  for (size_t i = 0; i < chain.size(); ++i) {
    const uint8_t next = i + 1 < chain.size() ? chain[i + 1].type : proto;
    exts.push_back(next);
    const Ext& e = chain[i];
    if (e.type == ip_protocol::kFragment) {
      exts.insert(exts.end(), e.body.begin(), e.body.end());  // 7 bytes
    } else if (e.type == ip_protocol::kAh) {
      exts.push_back(static_cast<uint8_t>((e.body.size() + 2) / 4 - 2));
      exts.insert(exts.end(), e.body.begin(), e.body.end());
    } else {
      exts.push_back(static_cast<uint8_t>((e.body.size() + 2) / 8 - 1));
      exts.insert(exts.end(), e.body.begin(), e.body.end());
    }
  }
  Bytes b = {0x60, 0, 0, 0};
  put16(b, static_cast<uint16_t>(exts.size() + l4.size()));
  b.push_back(chain.empty() ? proto : chain[0].type);
  b.push_back(61);
  Bytes src = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  Bytes dst = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  b.insert(b.end(), src.begin(), src.end());
  b.insert(b.end(), dst.begin(), dst.end());
  b.insert(b.end(), exts.begin(), exts.end());
  b.insert(b.end(), l4.begin(), l4.end());
  return b;
}

Bytes fragmentBody(uint16_t offset_bytes, bool more, uint32_t id) {
  Bytes b = {0};
  put16(b, static_cast<uint16_t>((offset_bytes & 0xfff8) | (more ? 1 : 0)));
  put32(b, id);
  return b;
}

// Views point into the buffer, so packets built inline are kept alive for the whole test run.
PacketView parseKept(Bytes b) {
  static std::deque<Bytes> keep;
  keep.push_back(std::move(b));
  return parsePacket(keep.back());
}

std::string text(std::span<const uint8_t> s) { return std::string(s.begin(), s.end()); }

const Bytes kDns = {'q', 'u', 'e', 'r', 'y'};

TEST(PacketTest, ParsesIpv4Udp) {
  Bytes p = ipv4(ip_protocol::kUdp, udp(5353, 53, kDns));
  p.insert(p.end(), 6, 0);  // Ethernet padding beyond the total length is ignored
  PacketView v = parsePacket(p);
  ASSERT_EQ(v.status, PacketStatus::kOk);
  EXPECT_EQ(v.ip_version, 4);
  EXPECT_EQ(v.src.toString(), "192.0.2.1");
  EXPECT_EQ(v.dst.toString(), "198.51.100.7");
  EXPECT_TRUE(v.isUdp());
  EXPECT_TRUE(v.has_ports);
  EXPECT_EQ(v.src_port, 5353);
  EXPECT_EQ(v.dst_port, 53);
  EXPECT_EQ(text(v.payload), "query");
  EXPECT_EQ(v.ip_packet.size(), p.size() - 6);
  EXPECT_EQ(v.ttl, 64);
  EXPECT_FALSE(v.isFragment());
}

TEST(PacketTest, ParsesIpv4TcpWithIpAndTcpOptions) {
  Bytes p = ipv4(ip_protocol::kTcp,
                 tcp(40000, 443, 0xdeadbeef, tcp_flag::kPsh | tcp_flag::kAck, kDns, 12), 0, 8);
  PacketView v = parsePacket(p);
  ASSERT_EQ(v.status, PacketStatus::kOk);
  EXPECT_EQ(v.ip_header_length, 28);
  EXPECT_TRUE(v.isTcp());
  EXPECT_EQ(v.dst_port, 443);
  EXPECT_EQ(v.tcp_seq, 0xdeadbeefu);
  EXPECT_EQ(v.tcp_ack, 0x01020304u);
  EXPECT_EQ(v.tcp_flags, tcp_flag::kPsh | tcp_flag::kAck);
  EXPECT_EQ(v.tcp_window, 65535);
  EXPECT_EQ(text(v.payload), "query");
}

TEST(PacketTest, EveryTruncationOfAValidPacketIsReportedNotRead) {
  for (const Bytes& full : {ipv4(ip_protocol::kTcp, tcp(1, 2, 3, tcp_flag::kSyn, kDns, 4)),
                            ipv4(ip_protocol::kUdp, udp(1, 2, kDns)),
                            ipv6({{ip_protocol::kHopByHop, Bytes(6, 0)},
                                  {ip_protocol::kFragment, fragmentBody(0, true, 9)}},
                                 ip_protocol::kUdp, udp(1, 53, kDns))}) {
    for (size_t n = 0; n < full.size(); ++n) {
      PacketView v = parsePacket(std::span<const uint8_t>(full.data(), n));
      EXPECT_NE(v.status, PacketStatus::kOk) << "prefix " << n;
      EXPECT_TRUE(v.payload.empty());
    }
    EXPECT_EQ(parsePacket(full).status, PacketStatus::kOk);
  }
}

TEST(PacketTest, RejectsBadVersionAndIpv4HeaderLengths) {
  EXPECT_EQ(parsePacket({}).status, PacketStatus::kEmpty);
  Bytes p = ipv4(ip_protocol::kUdp, udp(1, 2, kDns));
  p[0] = 0x55;
  EXPECT_EQ(parsePacket(p).status, PacketStatus::kBadVersion);
  p[0] = 0x44;  // IHL 4 words < 5
  EXPECT_EQ(parsePacket(p).status, PacketStatus::kBadIpv4HeaderLength);
  p[0] = 0x45;
  p[2] = 0;
  p[3] = 10;  // total length shorter than the header
  EXPECT_EQ(parsePacket(p).status, PacketStatus::kBadIpv4HeaderLength);
}

TEST(PacketTest, RejectsBadTransportHeaders) {
  Bytes u = udp(1, 53, kDns);
  u[5] = 4;  // UDP length 4 < 8
  EXPECT_EQ(parseKept(ipv4(ip_protocol::kUdp, u)).status, PacketStatus::kBadTransportHeader);
  u[5] = 200;  // longer than the packet
  EXPECT_EQ(parseKept(ipv4(ip_protocol::kUdp, u)).status, PacketStatus::kTruncated);
  Bytes t = tcp(1, 80, 1, tcp_flag::kSyn, {});
  t[12] = 0x40;  // data offset 4 words < 5
  EXPECT_EQ(parseKept(ipv4(ip_protocol::kTcp, t)).status, PacketStatus::kBadTransportHeader);
  t[12] = 0xf0;  // 60 bytes, more than present
  EXPECT_EQ(parseKept(ipv4(ip_protocol::kTcp, t)).status, PacketStatus::kTruncated);
}

TEST(PacketTest, Ipv4FirstFragmentHasPortsAndLaterFragmentsDoNot) {
  // First fragment: MF set, offset 0; the UDP length covers the whole datagram.
  Bytes first_l4 = udp(1000, 53, kDns);
  first_l4[5] = 200;
  PacketView first = parseKept(ipv4(ip_protocol::kUdp, first_l4, 0x2000));
  ASSERT_EQ(first.status, PacketStatus::kOk);
  EXPECT_TRUE(first.isFragment());
  EXPECT_FALSE(first.isNonFirstFragment());
  EXPECT_TRUE(first.has_ports);
  EXPECT_EQ(first.dst_port, 53);
  EXPECT_EQ(first.fragment_id, 0xbeefu);
  // Later fragment at byte 1480: bytes that look like a UDP header are data, not ports.
  PacketView later = parseKept(ipv4(ip_protocol::kUdp, udp(1, 2, kDns), 1480 / 8));
  ASSERT_EQ(later.status, PacketStatus::kOk);
  EXPECT_TRUE(later.isNonFirstFragment());
  EXPECT_EQ(later.fragment_offset, 1480);
  EXPECT_FALSE(later.has_ports);
  EXPECT_EQ(later.payload.size(), 8 + kDns.size());
  PacketView df = parseKept(ipv4(ip_protocol::kUdp, udp(1, 2, kDns), 0x4000));
  EXPECT_TRUE(df.dont_fragment);
  EXPECT_FALSE(df.isFragment());
}

TEST(PacketTest, ParsesIpv6UdpWithoutExtensionHeaders) {
  PacketView v = parseKept(ipv6({}, ip_protocol::kUdp, udp(5353, 53, kDns)));
  ASSERT_EQ(v.status, PacketStatus::kOk);
  EXPECT_EQ(v.ip_version, 6);
  EXPECT_EQ(v.src.toString(), "2001:db8::1");
  EXPECT_EQ(v.dst.toString(), "2001:db8::2");
  EXPECT_EQ(v.ttl, 61);
  EXPECT_EQ(v.ip_header_length, 40);
  EXPECT_EQ(v.dst_port, 53);
  EXPECT_EQ(text(v.payload), "query");
}

TEST(PacketTest, WalksIpv6ExtensionHeaderChainToTcp) {
  Bytes ah_body(10, 0);  // SPI, sequence, 12-byte ICV minus the two length/reserved octets
  ah_body.resize(22, 0xaa);
  Bytes p = ipv6({{ip_protocol::kHopByHop, Bytes(6, 0)},
                  {ip_protocol::kDestinationOptions, Bytes(14, 0)},
                  {ip_protocol::kRouting, Bytes(22, 0)},
                  {ip_protocol::kFragment, fragmentBody(0, false, 77)},
                  {ip_protocol::kAh, ah_body},
                  {ip_protocol::kDestinationOptions, Bytes(6, 0)}},
                 ip_protocol::kTcp, tcp(50000, 80, 42, tcp_flag::kSyn, kDns));
  PacketView v = parsePacket(p);
  ASSERT_EQ(v.status, PacketStatus::kOk) << packetStatusName(v.status);
  EXPECT_EQ(v.extension_headers, 6);
  EXPECT_EQ(v.ip_header_length, 40 + 8 + 16 + 24 + 8 + 24 + 8);
  EXPECT_TRUE(v.isTcp());
  EXPECT_EQ(v.dst_port, 80);
  EXPECT_EQ(v.tcp_seq, 42u);
  EXPECT_TRUE(v.has_fragment_header);  // an atomic fragment (RFC 6946)
  EXPECT_FALSE(v.isFragment());
  EXPECT_EQ(v.fragment_id, 77u);
  EXPECT_EQ(text(v.payload), "query");
}

TEST(PacketTest, Ipv6NonFirstFragmentHasNoTransportHeader) {
  PacketView v = parseKept(ipv6({{ip_protocol::kFragment, fragmentBody(1232, true, 5)}},
                                ip_protocol::kUdp, udp(1, 2, kDns)));
  ASSERT_EQ(v.status, PacketStatus::kOk);
  EXPECT_TRUE(v.isNonFirstFragment());
  EXPECT_EQ(v.fragment_offset, 1232);
  EXPECT_TRUE(v.more_fragments);
  EXPECT_FALSE(v.has_ports);
  EXPECT_EQ(v.protocol, ip_protocol::kUdp);
  EXPECT_EQ(v.payload.size(), 8 + kDns.size());
}

TEST(PacketTest, Ipv6StopsAtEspAndNoNextHeader) {
  PacketView esp = parseKept(
      ipv6({{ip_protocol::kDestinationOptions, Bytes(6, 0)}}, ip_protocol::kEsp, Bytes(32, 0x55)));
  ASSERT_EQ(esp.status, PacketStatus::kOk);
  EXPECT_EQ(esp.protocol, ip_protocol::kEsp);
  EXPECT_FALSE(esp.has_ports);
  EXPECT_EQ(esp.payload.size(), 32u);
  PacketView none = parseKept(ipv6({}, ip_protocol::kNoNextHeader, Bytes(5, 1)));
  ASSERT_EQ(none.status, PacketStatus::kOk);
  EXPECT_EQ(none.protocol, ip_protocol::kNoNextHeader);
  EXPECT_TRUE(none.payload.empty());
}

TEST(PacketTest, RefusesHopByHopAfterFirstAndOverlongChains) {
  PacketView late = parseKept(
      ipv6({{ip_protocol::kDestinationOptions, Bytes(6, 0)}, {ip_protocol::kHopByHop, Bytes(6, 0)}},
           ip_protocol::kUdp, udp(1, 53, kDns)));
  EXPECT_EQ(late.status, PacketStatus::kBadExtensionHeader);
  std::vector<Ext> chain(kMaxIpv6ExtensionHeaders + 1,
                         Ext{ip_protocol::kDestinationOptions, Bytes(6, 0)});
  EXPECT_EQ(parseKept(ipv6(chain, ip_protocol::kUdp, udp(1, 53, kDns))).status,
            PacketStatus::kExtensionChainTooLong);
  chain.resize(kMaxIpv6ExtensionHeaders);
  EXPECT_EQ(parseKept(ipv6(chain, ip_protocol::kUdp, udp(1, 53, kDns))).status, PacketStatus::kOk);
}

TEST(PacketTest, ReportsIpv6PayloadLengthPastBufferAndJumbograms) {
  Bytes p = ipv6({}, ip_protocol::kUdp, udp(1, 53, kDns));
  p[5] = static_cast<uint8_t>(p[5] + 1);
  EXPECT_EQ(parsePacket(p).status, PacketStatus::kTruncated);
  Bytes jumbo = ipv6({{ip_protocol::kHopByHop, Bytes(6, 0)}}, ip_protocol::kUdp, udp(1, 2, kDns));
  jumbo[4] = jumbo[5] = 0;
  EXPECT_EQ(parsePacket(jumbo).status, PacketStatus::kUnsupported);
}

// Real captures: every IP frame parses, and what we find agrees with tshark's INDEX.tsv.
struct PcapSummary {
  size_t frames = 0;
  size_t ok = 0;
  size_t udp53 = 0;
  size_t tcp = 0;
  size_t v6 = 0;
  size_t snapped = 0;  // captured shorter than on the wire, reported as truncated
  std::map<std::string, size_t> bad;
};

PcapSummary summarize(const std::filesystem::path& file) {
  PcapSummary s;
  auto p = testing::PcapFile::open(file);
  EXPECT_TRUE(p) << p.status().toString();
  if (!p) return s;
  for (const auto& f : p->ipFrames()) {
    ++s.frames;
    PacketView v = parsePacket(f.ip);
    if (f.original_length > f.frame.size() && v.status == PacketStatus::kTruncated) {
      ++s.snapped;
      continue;
    }
    if (!v.ok()) {
      ++s.bad[std::string(packetStatusName(v.status))];
      continue;
    }
    ++s.ok;
    if (v.ip_version == 6) ++s.v6;
    if (v.isTcp()) ++s.tcp;
    if (v.isUdp() && (v.dst_port == 53 || v.src_port == 53)) ++s.udp53;
  }
  return s;
}

TEST(PacketTest, ParsesEveryIpFrameOfTheRealCaptures) {
  auto root = SAFEGATE_SHARED_DATA_OR_SKIP("pcaps");
  size_t total = 0;
  for (const char* dir : {"suricata-verify", "tcpdump"}) {
    for (const auto& e : std::filesystem::directory_iterator(root / dir)) {
      if (e.path().extension() != ".pcap") continue;
      PcapSummary s = summarize(e.path());
      total += s.frames;
      const std::string name = e.path().filename().string();
      if (name == "quic_32_bit_pointer_overflow.pcap") {
        // Fuzz-found: IPv6 payload length 0 with Hop-by-Hop, i.e. a jumbogram claim that
        // tcpdump calls invalid.
        EXPECT_EQ(s.bad["unsupported"], 1u);
        continue;
      }
      if (name == "dns_udp_2.pcap") {
        EXPECT_EQ(s.snapped, 1u);  // caplen 98, len 266
      }
      EXPECT_EQ(s.ok + s.snapped, s.frames)
          << name << " first problem: " << (s.bad.empty() ? "" : s.bad.begin()->first);
    }
  }
  EXPECT_GT(total, 700u);
}

TEST(PacketTest, RealDnsCapturesHaveUdpPort53) {
  auto single =
      summarize(SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/suricata-verify/dns-udp-single-request.pcap"));
  EXPECT_EQ(single.udp53, 2u);  // query and response
  auto iodine = summarize(
      SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/suricata-verify/dns-udp-tunnel-iodine-like.pcap"));
  EXPECT_EQ(iodine.udp53, 161u);  // INDEX.tsv: dns(161) nbns(3)
  EXPECT_EQ(iodine.frames, 164u);
  auto tcp = summarize(SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/tcpdump/dns_tcp.pcap"));
  EXPECT_EQ(tcp.tcp, tcp.frames);
  auto raw = summarize(SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/suricata-verify/dns-rawip-srv.pcap"));
  EXPECT_EQ(raw.udp53, 2u);
}

TEST(PacketTest, RealIpv6CapturesParseAsIpv6Tcp) {
  auto lo =
      summarize(SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/suricata-verify/http1-ipv6-loopback.pcap"));
  EXPECT_EQ(lo.v6, lo.frames);
  EXPECT_EQ(lo.tcp, lo.frames);
  auto tls = summarize(
      SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/suricata-verify/tls-ipv6-sni-example-com.pcap"));
  EXPECT_GT(tls.v6, 0u);
  EXPECT_EQ(tls.ok, tls.frames);
}

}  // namespace
}  // namespace safegate
