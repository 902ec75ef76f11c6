#include "common/ip_address.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <string>
#include <unordered_set>

#include "tests/support/shared_data.h"

namespace safegate {
namespace {

IpAddress ip(std::string_view text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(IpAddress{});
}

Cidr cidr(std::string_view text) {
  auto c = Cidr::parse(text);
  EXPECT_TRUE(c.has_value()) << text;
  return c.value_or(Cidr{});
}

TEST(IpAddressTest, ParsesAndPrintsIpv4) {
  auto a = IpAddress::parse("192.0.2.1");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->isV4());
  EXPECT_EQ(a->toString(), "192.0.2.1");
  EXPECT_EQ(a->bytes().size(), 4u);
  EXPECT_EQ(IpAddress::v4(0xC0000201u), *a);
  EXPECT_EQ(ip("0.0.0.0").toString(), "0.0.0.0");
  EXPECT_EQ(ip("255.255.255.255").toString(), "255.255.255.255");
}

TEST(IpAddressTest, RejectsMalformedIpv4) {
  for (std::string_view bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-1", "1..2.3",
                               "01.2.3.4", "1.2.3.4 ", " 1.2.3.4", "1.2.3.4/24", "a.b.c.d",
                               "1.2.3.0004", "1.2.3.", ".1.2.3", "1.2.3.4\n", "+1.2.3.4"}) {
    EXPECT_FALSE(IpAddress::parse(bad)) << '"' << bad << '"';
  }
}

TEST(IpAddressTest, ParsesIpv6ZeroCompressionInEveryPosition) {
  EXPECT_EQ(ip("::").toString(), "::");
  EXPECT_EQ(ip("::1").toString(), "::1");
  EXPECT_EQ(ip("1::").toString(), "1::");
  EXPECT_EQ(ip("2001:db8::1").toString(), "2001:db8::1");
  EXPECT_EQ(ip("2001:DB8:0:0:0:0:0:1").toString(), "2001:db8::1");
  EXPECT_EQ(ip("2001:db8:0:1:1:1:1:1").toString(), "2001:db8:0:1:1:1:1:1");  // one zero group
  // RFC 5952 §4.2.3: the longest run is compressed, the first one on a tie.
  EXPECT_EQ(ip("2001:0:0:1:0:0:0:1").toString(), "2001:0:0:1::1");
  EXPECT_EQ(ip("2001:db8:0:0:1:0:0:1").toString(), "2001:db8::1:0:0:1");
  EXPECT_EQ(ip("fe80::a:b:c:d").toString(), "fe80::a:b:c:d");
  EXPECT_TRUE(ip("::1").isV6());
  EXPECT_EQ(ip("::1").bytes().size(), 16u);
}

TEST(IpAddressTest, RejectsMalformedIpv6) {
  for (std::string_view bad :
       {":", ":::", "1:::2", "1::2::3", ":1::2", "1::2:", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9",
        "12345::", "g::1", "::1%eth0", "[::1]", "1:2:3:4:5:6:7::8", "::ffff:1.2.3", "::1.2.3.4:1",
        "1:2:3:4:5:6:7:1.2.3.4", "::ffff:01.2.3.4", "1::2 "}) {
    EXPECT_FALSE(IpAddress::parse(bad)) << '"' << bad << '"';
  }
}

TEST(IpAddressTest, KeepsV4MappedAsV6AndPrintsMixedNotation) {
  auto a = ip("::ffff:192.0.2.1");
  EXPECT_TRUE(a.isV6());
  EXPECT_TRUE(a.isV4Mapped());
  EXPECT_EQ(a.toString(), "::ffff:192.0.2.1");
  EXPECT_EQ(ip("::FFFF:c000:0201"), a);
  EXPECT_NE(a, ip("192.0.2.1"));                 // different families are different values
  EXPECT_FALSE(ip("::192.0.2.1").isV4Mapped());  // deprecated v4-compatible form
  EXPECT_FALSE(ip("192.0.2.1").isV4Mapped());
}

TEST(IpAddressTest, HashDistinguishesFamilies) {
  std::unordered_set<IpAddress, IpAddressHash> s{ip("0.0.0.1"), ip("::1"), ip("0.0.0.1")};
  EXPECT_EQ(s.size(), 2u);
}

TEST(MacAddressTest, ParsesColonAndDashFormsInAnyCase) {
  auto a = MacAddress::parse("AA:bb:0C:dd:ee:0f");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->toString(), "aa:bb:0c:dd:ee:0f");
  EXPECT_EQ(MacAddress::parse("aa-bb-0c-dd-ee-0f"), a);
  for (std::string_view bad : {"aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:ff:00", "aa:bb-cc:dd:ee:ff",
                               "aa:bb:cc:dd:ee:fg", "aabb.ccdd.eeff", ""}) {
    EXPECT_FALSE(MacAddress::parse(bad)) << bad;
  }
}

TEST(CidrTest, ParsesAndClearsHostBits) {
  EXPECT_EQ(cidr("10.1.2.3/8").toString(), "10.0.0.0/8");
  EXPECT_EQ(cidr("2001:db8:ffff::1/33").toString(), "2001:db8:8000::/33");
  EXPECT_EQ(cidr("192.0.2.7").toString(), "192.0.2.7/32");
  EXPECT_EQ(cidr("::1").toString(), "::1/128");
  EXPECT_EQ(cidr("0.0.0.0/0").prefixLength(), 0);
  for (std::string_view bad : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/08", "10.0.0.0/a",
                               "/8", "10.0.0.0/8/8", "10.0.0.0/-1"}) {
    EXPECT_FALSE(Cidr::parse(bad)) << bad;
  }
}

TEST(CidrTest, ContainsAddressesInsideOnly) {
  Cidr c = cidr("192.168.0.0/22");
  EXPECT_TRUE(c.contains(ip("192.168.0.0")));
  EXPECT_TRUE(c.contains(ip("192.168.3.255")));
  EXPECT_FALSE(c.contains(ip("192.168.4.0")));
  EXPECT_FALSE(c.contains(ip("::1")));
  EXPECT_TRUE(cidr("0.0.0.0/0").contains(ip("8.8.8.8")));
  EXPECT_FALSE(cidr("::/0").contains(ip("8.8.8.8")));  // families never mix
  EXPECT_TRUE(cidr("2001:db8::/32").contains(ip("2001:db8:1::5")));
  EXPECT_FALSE(cidr("2001:db8::/32").contains(ip("2001:db9::")));
}

TEST(CidrTest, MatchesV4MappedAddressAgainstIpv4Network) {
  EXPECT_TRUE(cidr("192.0.2.0/24").contains(ip("::ffff:192.0.2.200")));
  EXPECT_FALSE(cidr("192.0.2.0/24").contains(ip("::ffff:192.0.3.1")));
}

TEST(CidrSetTest, ReturnsValueOfLongestMatchingPrefix) {
  CidrSet s;
  s.add(cidr("10.0.0.0/8"), 1);
  s.add(cidr("10.1.0.0/16"), 2);
  s.add(cidr("10.1.2.0/24"), 3);
  s.add(cidr("10.1.2.3/32"), 4);
  s.add(cidr("2001:db8::/32"), 6);
  s.add(cidr("2001:db8:1::/48"), 7);
  s.finalize();
  EXPECT_EQ(s.size(), 6u);
  EXPECT_EQ(s.find(ip("10.9.9.9")), 1u);
  EXPECT_EQ(s.find(ip("10.1.9.9")), 2u);
  EXPECT_EQ(s.find(ip("10.1.2.9")), 3u);
  EXPECT_EQ(s.find(ip("10.1.2.3")), 4u);
  EXPECT_EQ(s.find(ip("10.1.3.0")), 2u);  // after the nested /24 the /16 resumes
  EXPECT_EQ(s.find(ip("10.2.0.0")), 1u);
  EXPECT_EQ(s.find(ip("11.0.0.0")), std::nullopt);
  EXPECT_EQ(s.find(ip("9.255.255.255")), std::nullopt);
  EXPECT_EQ(s.find(ip("2001:db8:1::1")), 7u);
  EXPECT_EQ(s.find(ip("2001:db8:2::1")), 6u);
  EXPECT_EQ(s.find(ip("2001:db9::")), std::nullopt);
  EXPECT_EQ(s.find(ip("::ffff:10.1.2.3")), 4u);
}

// A dual-stack socket reports an IPv4 client as ::ffff:a.b.c.d; the administrator may list it
// either way, and the most specific entry must win whichever family it was written in.
TEST(CidrSetTest, MostSpecificWinsAcrossIpv4AndIpv4MappedEntries) {
  CidrSet s;
  s.add(cidr("10.0.0.0/8"), 1);
  s.add(cidr("::ffff:10.1.2.3/128"), 2);
  s.add(cidr("::ffff:10.2.0.0/112"), 3);
  s.add(cidr("10.2.3.0/24"), 4);
  s.finalize();
  EXPECT_EQ(s.find(ip("::ffff:10.1.2.3")), 2u);
  EXPECT_EQ(s.find(ip("::ffff:10.1.2.4")), 1u);
  EXPECT_EQ(s.find(ip("::ffff:10.2.9.9")), 3u);
  EXPECT_EQ(s.find(ip("::ffff:10.2.3.1")), 4u);
  // An IPv6 entry never matches a plain IPv4 address (families never mix, as in Cidr).
  EXPECT_EQ(s.find(ip("10.1.2.3")), 1u);
  EXPECT_EQ(s.find(ip("10.2.9.9")), 1u);
  EXPECT_EQ(s.find(ip("::ffff:11.0.0.1")), std::nullopt);
}

TEST(CidrSetTest, FirstAddedValueWinsForDuplicateCidr) {
  CidrSet s;
  s.add(cidr("10.0.0.0/8"), 1);
  s.add(cidr("10.0.0.0/8"), 2);
  s.finalize();
  EXPECT_EQ(s.find(ip("10.0.0.1")), 1u);
}

TEST(CidrSetTest, HandlesWholeAddressSpaceAndItsEdges) {
  CidrSet s;
  s.add(cidr("0.0.0.0/0"), 1);
  s.add(cidr("255.255.255.255/32"), 2);
  s.add(cidr("0.0.0.0/32"), 3);
  s.add(cidr("::/0"), 10);
  s.add(cidr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"), 11);
  s.finalize();
  EXPECT_EQ(s.find(ip("0.0.0.0")), 3u);
  EXPECT_EQ(s.find(ip("0.0.0.1")), 1u);
  EXPECT_EQ(s.find(ip("255.255.255.254")), 1u);
  EXPECT_EQ(s.find(ip("255.255.255.255")), 2u);
  EXPECT_EQ(s.find(ip("::")), 10u);
  EXPECT_EQ(s.find(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe")), 10u);
  EXPECT_EQ(s.find(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")), 11u);
}

TEST(CidrSetTest, FindsNothingBeforeFinalizeOrWhenEmpty) {
  CidrSet s;
  s.add(cidr("10.0.0.0/8"), 1);
  EXPECT_EQ(s.find(ip("10.0.0.1")), std::nullopt);
  CidrSet empty;
  empty.finalize();
  EXPECT_EQ(empty.find(ip("10.0.0.1")), std::nullopt);
}

// Cross-check against a brute-force longest-prefix scan on random nested CIDRs.
TEST(CidrSetTest, AgreesWithBruteForceLongestPrefixOnRandomSets) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 20; ++round) {
    std::vector<std::pair<Cidr, uint32_t>> all;
    CidrSet s;
    for (uint32_t i = 0; i < 200; ++i) {
      // Concentrate in 10.0.0.0/12 so prefixes nest often.
      uint32_t addr = 0x0A000000u | (rng() & 0x000FFFFFu);
      uint8_t len = static_cast<uint8_t>(8 + rng() % 25);
      Cidr c(IpAddress::v4(addr), len);
      all.emplace_back(c, i);
      s.add(c, i);
    }
    s.finalize();
    for (int q = 0; q < 2000; ++q) {
      IpAddress a = IpAddress::v4(0x0A000000u | (rng() & 0x001FFFFFu));
      std::optional<uint32_t> want;
      int best = -1;
      for (const auto& [c, v] : all) {
        if (c.contains(a) && c.prefixLength() > best) {
          best = c.prefixLength();
          want = v;
        }
      }
      ASSERT_EQ(s.find(a), want) << a.toString();
    }
  }
}

std::vector<std::string> readLines(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    out.push_back(line);
  }
  return out;
}

TEST(CidrSetTest, LoadsRealX4bnetVpnAndDatacenterRanges) {
  auto root = SAFEGATE_SHARED_DATA_OR_SKIP("vpn-x4bnet/output");
  CidrSet s;
  std::vector<Cidr> loaded;
  uint32_t value = 0;
  for (const char* file : {"vpn/ipv4.txt", "vpn/ipv6.txt", "datacenter/ipv4.txt"}) {
    for (const auto& line : readLines(root / file)) {
      auto c = Cidr::parse(line);
      ASSERT_TRUE(c) << file << ": " << line;
      s.add(*c, value++);
      loaded.push_back(*c);
    }
  }
  s.finalize();
  EXPECT_GT(s.size(), 50000u);
  // Every listed network's first address is found (by itself or a more specific entry).
  size_t found = 0;
  for (const Cidr& c : loaded) {
    if (s.find(c.network())) ++found;
  }
  EXPECT_EQ(found, loaded.size());
  EXPECT_EQ(s.find(ip("127.0.0.1")), std::nullopt);
  EXPECT_EQ(s.find(ip("::1")), std::nullopt);
  EXPECT_EQ(s.find(ip("192.168.1.1")), std::nullopt);
}

}  // namespace
}  // namespace safegate
