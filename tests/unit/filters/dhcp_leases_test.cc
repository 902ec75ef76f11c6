#include "filters/dhcp_leases.h"

#include <gtest/gtest.h>

namespace safegate {
namespace {

// As dnsmasq 2.89 writes /var/lib/misc/dnsmasq.leases (OpenWrt: /tmp/dhcp.leases).
constexpr std::string_view kDnsmasq =
    "1764860000 aa:bb:cc:00:00:01 192.168.1.23 sams-tablet 01:aa:bb:cc:00:00:01\n"
    "0 aa:bb:cc:00:00:02 192.168.1.24 * *\n"
    "1764860100 aa:bb:cc:00:00:03 192.168.1.25 Mia's\tiPad *\n"
    "garbage line\n"
    "1764860200 not-a-mac 192.168.1.26 broken *\n"
    "duid 00:01:00:01:2c:5e:1a:2b:aa:bb:cc:00:00:09\n"
    "1764860300 1234567 fd00::23 sams-tablet 00:01:00:01:2c:5e:1a:2b:aa:bb:cc:00:00:01\n";

TEST(DhcpLeasesTest, ReadsDnsmasqIpv4AndIpv6Leases) {
  const LeaseFile f = parseLeases(kDnsmasq);
  EXPECT_EQ(f.format, LeaseFormat::kDnsmasq);
  ASSERT_EQ(f.leases.size(), 3u);
  EXPECT_EQ(f.leases[0].address.toString(), "192.168.1.23");
  EXPECT_EQ(f.leases[0].mac->toString(), "aa:bb:cc:00:00:01");
  EXPECT_EQ(f.leases[0].name, "sams-tablet");
  EXPECT_EQ(f.leases[0].expires, 1764860000);
  // "Mia's" is the name field (fields are blank-separated); the quote is cleaned away.
  EXPECT_EQ(f.leases[1].name, "Mia-s");
  EXPECT_EQ(f.leases[2].address.toString(), "fd00::23");
  EXPECT_FALSE(f.leases[2].mac.has_value());
  EXPECT_EQ(f.skipped, 2u) << "the garbage line and the bad MAC";
}

// As odhcpd writes its DHCPv6 state file on OpenWrt 23.05.
constexpr std::string_view kOdhcpd =
    "# br-lan 000100012c5e1a2baabbcc000001 6e3f1a2b sams-tablet 1764860000 4f 128 "
    "fd00::4f/128 2001:db8::4f/128\n"
    "# br-lan 000100012c5e1a2baabbcc000002 1234 - -1 50 128 fd00::50/128\n"
    "# br-lan 000100012c5e1a2baabbcc000003 99 old-phone 0 51 128 fd00::51/128\n"
    "# br-lan 000100012c5e1a2baabbcc000004 98 forever -1 52 128 fd00::52/128\n"
    "# br-lan short line\n";

TEST(DhcpLeasesTest, ReadsOdhcpdLeasesWithEveryAddress) {
  const LeaseFile f = parseLeases(kOdhcpd);
  EXPECT_EQ(f.format, LeaseFormat::kOdhcpd);
  // VALID 0 is an expired lease (left out), -1 an infinite one (expires 0 = never).
  ASSERT_EQ(f.leases.size(), 3u);
  EXPECT_EQ(f.leases[0].address.toString(), "fd00::4f");
  EXPECT_EQ(f.leases[1].address.toString(), "2001:db8::4f");
  EXPECT_EQ(f.leases[1].name, "sams-tablet");
  EXPECT_EQ(f.leases[1].expires, 1764860000);
  EXPECT_EQ(f.leases[2].name, "forever");
  EXPECT_EQ(f.leases[2].expires, 0);
  EXPECT_EQ(f.skipped, 1u);
}

// As ISC dhcpd 4.4 appends to dhcpd.leases: the last block of an address wins.
constexpr std::string_view kIsc =
    R"(# The format of this file is documented in the dhcpd.leases(5) manual page.
authoring-byte-order little-endian;
server-duid "\000\001\000\001";

lease 10.0.0.50 {
  starts 3 2026/12/02 08:00:00;
  ends 3 2026/12/02 20:00:00;
  binding state active;
  next binding state free;
  hardware ethernet 00:11:22:33:44:55;
  uid "\001\000\021\"3DU";
  client-hostname "year7 laptop 12";
}
lease 10.0.0.51 {
  ends never;
  binding state active;
  hardware ethernet 00:11:22:33:44:66;
  client-hostname "library-pc";
}
lease 10.0.0.54 {
  ends never;
  binding state active;
  client-hostname "kid#1; tablet"; # a name with the comment and end characters
}
lease 10.0.0.50 {
  ends epoch 1796335200; # 2026/12/03 22:00:00
  binding state free;
  hardware ethernet 00:11:22:33:44:55;
}
lease 10.0.0.52 {
  ends 3 2026/13/02 20:00:00;
  binding state active;
  client-hostname "bad-date";
}
lease 10.0.0.53 {
  binding state active;
  client-hostname "cut-off";
)";

TEST(DhcpLeasesTest, ReadsIscDhcpdLeasesLastBlockWins) {
  const LeaseFile f = parseLeases(kIsc);
  EXPECT_EQ(f.format, LeaseFormat::kIscDhcpd);
  // 10.0.0.50 was freed by its last block; .52 has a bad date; .53 is cut off.
  ASSERT_EQ(f.leases.size(), 2u);
  EXPECT_EQ(f.leases[1].address.toString(), "10.0.0.54");
  EXPECT_EQ(f.leases[1].name, "kid-1--tablet") << "quotes protect '#' and ';'";
  EXPECT_EQ(f.leases[0].address.toString(), "10.0.0.51");
  EXPECT_EQ(f.leases[0].mac->toString(), "00:11:22:33:44:66");
  EXPECT_EQ(f.leases[0].name, "library-pc");
  EXPECT_EQ(f.leases[0].expires, 0);
  EXPECT_EQ(f.skipped, 2u);
  // Before it was freed, the name with spaces was read whole.
  const LeaseFile first = parseLeases(kIsc.substr(0, kIsc.find("lease 10.0.0.51")));
  ASSERT_EQ(first.leases.size(), 1u);
  EXPECT_EQ(first.leases[0].name, "year7-laptop-12");
  EXPECT_EQ(first.leases[0].expires, 1796241600);  // 2026-12-02T20:00:00Z
}

TEST(DhcpLeasesTest, HostNamesCannotCarryMarkupOrControlCharacters) {
  EXPECT_EQ(cleanHostName("sams-tablet"), "sams-tablet");
  EXPECT_EQ(cleanHostName("<script>x</script>"), "-script-x--script-");
  EXPECT_EQ(cleanHostName("a,b\"c\x1b[31m"), "a-b-c--31m");
  EXPECT_EQ(cleanHostName(std::string(100, 'x')).size(), 63u);
  EXPECT_EQ(cleanHostName("*"), "");
  EXPECT_EQ(cleanHostName("-"), "");
  EXPECT_EQ(cleanHostName("\xff\xfe"), "");
}

TEST(DhcpLeasesTest, EmptyAndUnknownTextGiveNoLeases) {
  EXPECT_TRUE(parseLeases("").leases.empty());
  const LeaseFile f = parseLeases("hello\nworld\n");
  EXPECT_TRUE(f.leases.empty());
  EXPECT_EQ(f.skipped, 2u);
}

}  // namespace
}  // namespace safegate
