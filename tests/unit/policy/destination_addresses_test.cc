// PolicySnapshot's destination addresses: address and CIDR lines of list files become a
// per-category address set (the inline path's "DoH endpoint by address"), DNS decisions are
// unchanged, and the shipped ut1 lists load without "an IP address" warnings.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "policy/policy_engine.h"
#include "tests/support/shared_data.h"

namespace safegate::policy {
namespace {

using testing::TempDir;

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

PolicySnapshotPtr compileIn(const TempDir& dir, DiagnosticSink& sink) {
  auto loaded = PolicyEngine::load(dir.path() / "safegate.toml", sink);
  EXPECT_TRUE(loaded.isOk()) << sink.toString();
  return loaded.isOk() ? loaded->snapshot : nullptr;
}

constexpr const char* kConfig = R"(
[policy]
default_group = "kids"

[[lists]]
name = "doh"
category = "circumvention"
format = "domains"
sources = ["doh.txt"]

[[lists]]
name = "violence"
category = "violence"
sources = ["violence.txt"]

[[groups]]
name = "kids"
profile = "open"
categories = { circumvention = "block", violence = "block" }
)";

TEST(DestinationAddressesTest, AddressLinesOfCircumventionListsBecomeDestinationRules) {
  TempDir dir;
  dir.write("doh.txt", "dns.example\n192.0.2.53\n2001:db8:53::/48\n198.51.100.0/24\n");
  dir.write("violence.txt", "fight.example\n203.0.113.7\n");
  dir.write("safegate.toml", kConfig);
  DiagnosticSink sink;
  auto snap = compileIn(dir, sink);
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(sink.warningCount(), 0u) << sink.toString();
  EXPECT_EQ(snap->stats().address_entries, 4u);

  EXPECT_TRUE(snap->isCircumventionDestination(ip("192.0.2.53")));
  EXPECT_TRUE(snap->isCircumventionDestination(ip("2001:db8:53:1::9")));
  EXPECT_TRUE(snap->isCircumventionDestination(ip("198.51.100.200")));
  EXPECT_TRUE(snap->isCircumventionDestination(ip("::ffff:192.0.2.53")));  // mapped
  EXPECT_FALSE(snap->isCircumventionDestination(ip("192.0.2.54")));
  EXPECT_FALSE(snap->isCircumventionDestination(ip("2001:db8:54::1")));
  // A violence address is a destination rule of its own category, not circumvention.
  EXPECT_FALSE(snap->isCircumventionDestination(ip("203.0.113.7")));
  EXPECT_NE(snap->destinationCategories(ip("203.0.113.7")), 0u);
  EXPECT_EQ(snap->destinationCategories(ip("203.0.113.8")), 0u);
}

TEST(DestinationAddressesTest, AnAddressInTwoListsKeepsBothCategories) {
  TempDir dir;
  dir.write("doh.txt", "192.0.2.53\n");
  dir.write("violence.txt", "192.0.2.53\n");
  dir.write("safegate.toml", kConfig);
  DiagnosticSink sink;
  auto snap = compileIn(dir, sink);
  ASSERT_NE(snap, nullptr);
  EXPECT_TRUE(snap->isCircumventionDestination(ip("192.0.2.53")));
  uint32_t both = snap->destinationCategories(ip("192.0.2.53"));
  EXPECT_EQ(__builtin_popcount(both), 2);
}

TEST(DestinationAddressesTest, DnsDecisionsIgnoreAddressLines) {
  TempDir dir;
  dir.write("doh.txt", "192.0.2.53\n");
  dir.write("violence.txt", "fight.example\n");
  dir.write("safegate.toml", kConfig);
  DiagnosticSink sink;
  auto snap = compileIn(dir, sink);
  ASSERT_NE(snap, nullptr);
  RequestFacts f;
  f.client = ip("10.0.0.5");
  f.protocol = Protocol::kDns;
  f.dns_type = 1;
  f.unix_time_seconds = 1'700'000'000;
  // The reverse-looking name of the address is not a listed name.
  f.name = "53.2.0.192.in-addr.arpa";
  EXPECT_EQ(snap->decide(f).verdict, Verdict::kAllow);
  f.name = "192.0.2.53";
  EXPECT_EQ(snap->decide(f).verdict, Verdict::kAllow);
}

TEST(DestinationAddressesTest, BadAddressLinesAreStillReportedWithTheirLine) {
  TempDir dir;
  dir.write("doh.txt", "192.0.2.53\n192.0.2.0/33\n");
  dir.write("violence.txt", "fight.example\n");
  dir.write("safegate.toml", kConfig);
  DiagnosticSink sink;
  auto snap = compileIn(dir, sink);
  ASSERT_NE(snap, nullptr);
  ASSERT_EQ(sink.warningCount(), 1u) << sink.toString();
  EXPECT_EQ(sink.all()[0].where.line, 2u);
  EXPECT_EQ(sink.all()[0].where.file, (dir.path() / "doh.txt").string());
  EXPECT_EQ(snap->stats().address_entries, 1u);
}

// The MIT-licensed oneoffdallas DoH lists (read at test time): every IPv4 and IPv6 address
// they name is a circumvention destination, and nothing in them is skipped.
TEST(DestinationAddressesTest, RealDohIpListsLoadAsCircumventionDestinations) {
  auto v4 = SAFEGATE_SHARED_DATA_OR_SKIP("doh-oneoffdallas/iplist.txt");
  auto v6 = SAFEGATE_SHARED_DATA_OR_SKIP("doh-oneoffdallas/ipv6list.txt");
  TempDir dir;
  dir.write("safegate.toml", R"(
[policy]
default_group = "kids"

[[lists]]
name = "doh-ips"
category = "circumvention"
format = "domains"
sources = [")" + v4.string() + R"(", ")" +
                                 v6.string() +
                                 R"("]

[[groups]]
name = "kids"
profile = "open"
)");
  DiagnosticSink sink;
  auto snap = compileIn(dir, sink);
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(sink.warningCount(), 0u) << sink.toString();
  size_t checked = 0;
  for (const auto& path : {v4, v6}) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      auto a = IpAddress::parse(line);
      ASSERT_TRUE(a.has_value()) << path << ": " << line;
      EXPECT_TRUE(snap->isCircumventionDestination(*a)) << line;
      ++checked;
    }
  }
  EXPECT_GT(checked, 100u);
  EXPECT_GT(snap->stats().address_entries, 100u);
  EXPECT_FALSE(snap->isCircumventionDestination(ip("192.0.2.1")));  // TEST-NET-1
}

// The shipped examples' lists: ut1 "doh" and "agressif" hold ~110 bare addresses, which used to
// be skipped with one warning each; they are address entries now.
TEST(DestinationAddressesTest, ShippedUt1ListsLoadTheirAddressesWithoutWarnings) {
  DiagnosticSink sink;
  auto loaded =
      PolicyEngine::load(testing::sourceDir() / "examples/secondary-school/safegate.toml", sink);
  ASSERT_TRUE(loaded.isOk()) << sink.toString();
  for (const Diagnostic& d : sink.all()) {
    EXPECT_EQ(d.message.find("an IP address"), std::string::npos) << d.toString();
  }
  EXPECT_GE(loaded->snapshot->stats().address_entries, 100u);
  // 1.1.1.1 and 8.8.8.8 are in ut1/doh.txt.
  EXPECT_TRUE(loaded->snapshot->isCircumventionDestination(ip("1.1.1.1")));
  EXPECT_TRUE(loaded->snapshot->isCircumventionDestination(ip("8.8.8.8")));
}

}  // namespace
}  // namespace safegate::policy
