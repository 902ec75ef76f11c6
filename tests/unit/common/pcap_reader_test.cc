// Tests for the test-support pcap reader (tests/support/pcap_reader.h), which the parser
// tests rely on to feed real captures.
#include "tests/support/pcap_reader.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/support/shared_data.h"

namespace safegate::testing {
namespace {

std::vector<uint8_t> pcapHeader(uint32_t link_type) {
  // Little-endian, microsecond magic, v2.4, snaplen 65535.
  std::vector<uint8_t> h = {0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4,    0,    0, 0,
                            0,    0,    0,    0,    0, 0, 0xff, 0xff, 0, 0};
  for (int i = 0; i < 4; ++i) h.push_back(static_cast<uint8_t>(link_type >> (8 * i)));
  return h;
}

void appendRecord(std::vector<uint8_t>& out, uint32_t sec, uint32_t usec,
                  const std::vector<uint8_t>& frame) {
  auto put = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  put(sec);
  put(usec);
  put(static_cast<uint32_t>(frame.size()));
  put(static_cast<uint32_t>(frame.size()));
  out.insert(out.end(), frame.begin(), frame.end());
}

const std::vector<uint8_t> kIpv4Stub = {0x45, 0, 0,  20, 0, 0, 0,  0, 64, 17,
                                        0,    0, 10, 0,  0, 1, 10, 0, 0,  2};

TEST(PcapReaderTest, StripsEthernetWithTwoVlanTags) {
  std::vector<uint8_t> frame(12, 0xaa);
  for (uint8_t b : {0x88, 0xa8, 0x00, 0x05, 0x81, 0x00, 0x00, 0x07, 0x08, 0x00}) frame.push_back(b);
  frame.insert(frame.end(), kIpv4Stub.begin(), kIpv4Stub.end());
  auto file = pcapHeader(kLinkTypeEthernet);
  appendRecord(file, 1700000000, 250000, frame);
  auto p = PcapFile::fromBytes(file);
  ASSERT_TRUE(p) << p.status().toString();
  ASSERT_EQ(p->frames().size(), 1u);
  const PcapFrame& f = p->frames()[0];
  EXPECT_EQ(f.timestamp_ns, 1700000000250000000);
  ASSERT_EQ(f.ip.size(), kIpv4Stub.size());
  EXPECT_EQ(f.ip[0], 0x45);
}

TEST(PcapReaderTest, StripsPppoeSessionAndLinuxCookedHeaders) {
  std::vector<uint8_t> pppoe(12, 0);
  for (uint8_t b : {0x88, 0x64, 0x11, 0x00, 0x12, 0x34, 0x00, 0x16, 0x00, 0x21}) pppoe.push_back(b);
  pppoe.insert(pppoe.end(), kIpv4Stub.begin(), kIpv4Stub.end());
  EXPECT_EQ(ipLayerOf(kLinkTypeEthernet, pppoe).size(), kIpv4Stub.size());

  std::vector<uint8_t> sll(14, 0);
  sll.push_back(0x08);
  sll.push_back(0x00);
  sll.insert(sll.end(), kIpv4Stub.begin(), kIpv4Stub.end());
  EXPECT_EQ(ipLayerOf(kLinkTypeLinuxSll, sll).size(), kIpv4Stub.size());
  // The same frame claims IPv6 but carries IPv4: not IP.
  sll[14] = 0x86;
  sll[15] = 0xdd;
  EXPECT_TRUE(ipLayerOf(kLinkTypeLinuxSll, sll).empty());
}

TEST(PcapReaderTest, ReportsNonIpAndTruncatedLinkHeadersAsEmpty) {
  std::vector<uint8_t> arp(12, 0);
  arp.push_back(0x08);
  arp.push_back(0x06);
  arp.resize(42, 0);
  EXPECT_TRUE(ipLayerOf(kLinkTypeEthernet, arp).empty());
  EXPECT_TRUE(ipLayerOf(kLinkTypeEthernet, std::vector<uint8_t>(10, 0)).empty());
  EXPECT_TRUE(ipLayerOf(kLinkTypeNull, std::vector<uint8_t>{2, 0}).empty());
}

TEST(PcapReaderTest, RejectsTruncatedRecordsAndPcapng) {
  auto file = pcapHeader(kLinkTypeRaw);
  appendRecord(file, 1, 0, kIpv4Stub);
  // erase(), not resize(size() - 3): GCC 12 under ASan takes the resize for a fill of ~2^64
  // bytes (-Wstringop-overflow).
  file.erase(file.end() - 3, file.end());
  auto p = PcapFile::fromBytes(file);
  ASSERT_FALSE(p);
  EXPECT_NE(p.status().message().find("truncated record 0"), std::string::npos);
  std::vector<uint8_t> ng = {0x0a, 0x0d, 0x0d, 0x0a};
  ng.resize(32, 0);
  auto q = PcapFile::fromBytes(ng);
  ASSERT_FALSE(q);
  EXPECT_NE(q.status().message().find("pcapng"), std::string::npos);
  EXPECT_FALSE(PcapFile::open("/nonexistent/x.pcap"));
}

// Every real capture opens, and the link types present (Ethernet, NULL/loopback, raw) yield IP
// frames. ppp_ip_udp_dns.pcap is the exception: a fuzz-found frame whose PPP protocol field is
// 0x7e08 (tcpdump's own expected output says "unknown PPP protocol"), so it carries no IP.
TEST(PcapReaderTest, ReadsEveryRealCaptureAndFindsTheirIpLayer) {
  auto root = SAFEGATE_SHARED_DATA_OR_SKIP("pcaps");
  size_t files = 0;
  for (const char* dir : {"suricata-verify", "tcpdump"}) {
    for (const auto& entry : std::filesystem::directory_iterator(root / dir)) {
      if (entry.path().extension() != ".pcap") continue;
      ++files;
      auto p = PcapFile::open(entry.path());
      ASSERT_TRUE(p) << p.status().toString();
      EXPECT_FALSE(p->frames().empty()) << entry.path();
      if (entry.path().filename() == "ppp_ip_udp_dns.pcap") continue;
      EXPECT_FALSE(p->ipFrames().empty()) << entry.path() << " link type " << p->linkType();
    }
  }
  EXPECT_GE(files, 60u);
}

TEST(PcapReaderTest, ReadsPppAndRawIpCaptures) {
  auto ppp = PcapFile::open(SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/tcpdump/ppp_ip_udp_dns.pcap"));
  ASSERT_TRUE(ppp);
  EXPECT_EQ(ppp->linkType(), kLinkTypePppHdlc);
  ASSERT_EQ(ppp->frames().size(), 1u);
  EXPECT_TRUE(ppp->ipFrames().empty());  // protocol 0x7e08, see above
  // A well-formed PPP-in-HDLC frame: address, control, protocol 0x0021, IPv4.
  std::vector<uint8_t> hdlc = {0xff, 0x03, 0x00, 0x21};
  hdlc.insert(hdlc.end(), kIpv4Stub.begin(), kIpv4Stub.end());
  EXPECT_EQ(ipLayerOf(kLinkTypePppHdlc, hdlc).size(), kIpv4Stub.size());

  auto raw =
      PcapFile::open(SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/suricata-verify/dns-rawip-srv.pcap"));
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->linkType(), kLinkTypeRaw);
  EXPECT_EQ(raw->ipFrames().size(), 2u);

  auto lo6 = PcapFile::open(
      SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/suricata-verify/http1-ipv6-loopback.pcap"));
  ASSERT_TRUE(lo6);
  EXPECT_EQ(lo6->linkType(), kLinkTypeNull);
  ASSERT_EQ(lo6->ipFrames().size(), lo6->frames().size());
  EXPECT_EQ(lo6->ipFrames()[0].ip[0] >> 4, 6);
}

}  // namespace
}  // namespace safegate::testing
