// dns.allow_from, dns.rate_limit_qps and dns.rate_limit_burst: read into the
// daemon settings, defaults documented in the schema, an empty ACL refused.
#include <gtest/gtest.h>

#include "policy/config.h"
#include "tests/support/shared_data.h"

namespace safegate::policy {
namespace {

TEST(ConfigDnsAccessTest, DefaultsArePrivateRangesAndALimitOn) {
  testing::TempDir dir;
  DiagnosticSink sink;
  auto cfg = loadConfig(dir.write("c.toml", ""), sink);
  ASSERT_TRUE(cfg) << sink.toString();
  const DnsSettings& d = cfg->daemon.dns;
  EXPECT_EQ(d.allow_from.size(), 8u);
  EXPECT_NE(std::find(d.allow_from.begin(), d.allow_from.end(), *Cidr::parse("192.168.0.0/16")),
            d.allow_from.end());
  EXPECT_EQ(d.rate_limit_qps, 200);
  EXPECT_EQ(d.rate_limit_burst, 400);
}

TEST(ConfigDnsAccessTest, ValuesAreRead) {
  testing::TempDir dir;
  DiagnosticSink sink;
  auto cfg = loadConfig(dir.write("c.toml",
                                  "[dns]\nallow_from = [\"10.20.0.0/16\", \"fd00:20::/48\", "
                                  "\"127.0.0.1\"]\nrate_limit_qps = 0\nrate_limit_burst = 9\n"),
                        sink);
  ASSERT_TRUE(cfg) << sink.toString();
  const DnsSettings& d = cfg->daemon.dns;
  EXPECT_EQ(d.allow_from,
            (std::vector<Cidr>{*Cidr::parse("10.20.0.0/16"), *Cidr::parse("fd00:20::/48"),
                               *Cidr::parse("127.0.0.1/32")}));
  EXPECT_EQ(d.rate_limit_qps, 0);
  EXPECT_EQ(d.rate_limit_burst, 9);
}

TEST(ConfigDnsAccessTest, EmptyAllowFromIsAnErrorThatSaysHowToOpenUp) {
  testing::TempDir dir;
  DiagnosticSink sink;
  const auto path = dir.write("c.toml", "[dns]\nallow_from = []\n");
  ASSERT_FALSE(loadConfig(path, sink));
  EXPECT_NE(sink.toString().find(path.string() + ":2:14: error: dns.allow_from: must not be empty"),
            std::string::npos)
      << sink.toString();
  EXPECT_NE(sink.toString().find("0.0.0.0/0"), std::string::npos);
}

TEST(ConfigDnsAccessTest, BadCidrAndBurstZeroAreErrors) {
  testing::TempDir dir;
  DiagnosticSink sink;
  ASSERT_FALSE(loadConfig(
      dir.write("c.toml", "[dns]\nallow_from = [\"10.0.0.0/33\"]\nrate_limit_burst = 0\n"), sink));
  EXPECT_NE(sink.toString().find("dns.allow_from[0]: \"10.0.0.0/33\" is not"), std::string::npos)
      << sink.toString();
  EXPECT_NE(sink.toString().find("dns.rate_limit_burst: 0 is out of range"), std::string::npos)
      << sink.toString();
}

}  // namespace
}  // namespace safegate::policy
