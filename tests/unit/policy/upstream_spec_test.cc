// dns.upstreams entries: plain, DoT (tls://) and DoH (https://), and the errors for bad ones.
#include "policy/upstream_spec.h"

#include <gtest/gtest.h>

#include "policy/config.h"
#include "tests/support/shared_data.h"

namespace safegate {
namespace {

TEST(UpstreamSpecTest, PlainAddressesKeepTheirPortOr53) {
  auto a = UpstreamSpec::parse("9.9.9.9");
  ASSERT_TRUE(a) << a.status().message();
  EXPECT_EQ(a->protocol, UpstreamProtocol::kPlain);
  EXPECT_EQ(a->hostPort(), "9.9.9.9:53");
  auto b = UpstreamSpec::parse("[2620:fe::fe]:5353");
  ASSERT_TRUE(b) << b.status().message();
  EXPECT_EQ(b->address, "2620:fe::fe");
  EXPECT_EQ(b->hostPort(), "[2620:fe::fe]:5353");
  EXPECT_EQ(b->toString(), "[2620:fe::fe]:5353");
  auto c = UpstreamSpec::parse("2620:fe::9");  // a bare IPv6 address: no port in it
  ASSERT_TRUE(c) << c.status().message();
  EXPECT_EQ(c->hostPort(), "[2620:fe::9]:53");
}

TEST(UpstreamSpecTest, DnsOverTlsDefaultsToPort853AndVerifiesTheName) {
  auto s = UpstreamSpec::parse("tls://9.9.9.9#dns.quad9.net");
  ASSERT_TRUE(s) << s.status().message();
  EXPECT_EQ(s->protocol, UpstreamProtocol::kTls);
  EXPECT_EQ(s->hostPort(), "9.9.9.9:853");
  EXPECT_EQ(s->tls_name, "dns.quad9.net");
  EXPECT_EQ(s->verifyName(), "dns.quad9.net");
  EXPECT_EQ(s->toString(), "tls://9.9.9.9:853#dns.quad9.net");
  // Without a name the certificate must carry the address.
  auto bare = UpstreamSpec::parse("tls://[2606:4700:4700::1111]:8853");
  ASSERT_TRUE(bare) << bare.status().message();
  EXPECT_EQ(bare->verifyName(), "2606:4700:4700::1111");
  EXPECT_EQ(bare->port, 8853);
}

TEST(UpstreamSpecTest, DnsOverHttpsBuildsItsUrlFromNamePortAndPath) {
  auto s = UpstreamSpec::parse("https://1.1.1.1#cloudflare-dns.com");
  ASSERT_TRUE(s) << s.status().message();
  EXPECT_EQ(s->protocol, UpstreamProtocol::kHttps);
  EXPECT_EQ(s->path, "/dns-query");
  EXPECT_EQ(s->url(), "https://cloudflare-dns.com:443/dns-query");
  EXPECT_EQ(s->toString(), "https://1.1.1.1:443/dns-query#cloudflare-dns.com");
  auto p = UpstreamSpec::parse("https://[::1]:8443/resolve#localhost");
  ASSERT_TRUE(p) << p.status().message();
  EXPECT_EQ(p->path, "/resolve");
  EXPECT_EQ(p->url(), "https://localhost:8443/resolve");
  auto ip = UpstreamSpec::parse("https://[::1]:8443");
  ASSERT_TRUE(ip) << ip.status().message();
  EXPECT_EQ(ip->url(), "https://[::1]:8443/dns-query");
  EXPECT_EQ(ip->pinnedName(), "");
  EXPECT_EQ(p->pinnedName(), "localhost");
  // A certificate name that is itself an IPv6 address goes in brackets and is not pinned.
  auto v6name = UpstreamSpec::parse("https://[2620:fe::fe]#2620:fe::9");
  ASSERT_TRUE(v6name) << v6name.status().message();
  EXPECT_EQ(v6name->url(), "https://[2620:fe::9]:443/dns-query");
  EXPECT_EQ(v6name->pinnedName(), "");
}

TEST(UpstreamSpecTest, MistakesAreNamedInTheError) {
  struct Case {
    const char* text;
    const char* says;
  } cases[] = {
      {"tls://dns.quad9.net", "is not an IP address"},
      {"dns.quad9.net", "is not an IP address"},
      {"quic://9.9.9.9", "unknown scheme"},
      {"9.9.9.9#dns.quad9.net", "needs tls:// or https://"},
      {"tls://9.9.9.9#bad_name!", "is not a host name"},
      {"tls://9.9.9.9/dns-query", "only https:// upstreams have a path"},
      {"https://9.9.9.9/dns-query?dns=x", "may not contain '?'"},
      {"9.9.9.9:0", "port is not 1..65535"},
      {"9.9.9.9:70000", "port is not 1..65535"},
      {"9.9.9.9:5x", "bad port"},
      {"[::1", "unclosed '['"},
      {"9.9.9.9:", "empty port"},
  };
  for (const Case& c : cases) {
    auto s = UpstreamSpec::parse(c.text);
    ASSERT_FALSE(s) << c.text;
    EXPECT_NE(s.status().message().find(c.says), std::string::npos)
        << c.text << ": " << s.status().message();
    EXPECT_NE(s.status().message().find(c.text), std::string::npos) << "quotes the entry";
  }
}

TEST(UpstreamSpecTest, ConfigAcceptsEncryptedUpstreamsAndTheirCaFile) {
  testing::TempDir dir;
  DiagnosticSink sink;
  const auto path = dir.write("c.toml",
                              "[dns]\nupstreams = [\"tls://9.9.9.9#dns.quad9.net\", "
                              "\"https://1.1.1.1#cloudflare-dns.com\", \"192.0.2.1\"]\n"
                              "upstream_ca_file = \"ca.pem\"\n");
  auto cfg = policy::loadConfig(path, sink);
  ASSERT_TRUE(cfg) << sink.toString();
  EXPECT_EQ(cfg->daemon.dns.upstreams.size(), 3u);
  EXPECT_EQ(cfg->daemon.dns.upstream_ca_file, (dir.path() / "ca.pem").string());
}

TEST(UpstreamSpecTest, ConfigRejectsANameWhereTheAddressGoesWithItsLocation) {
  testing::TempDir dir;
  DiagnosticSink sink;
  const auto path = dir.write("c.toml", "[dns]\nupstreams = [\"tls://dns.quad9.net\"]\n");
  ASSERT_FALSE(policy::loadConfig(path, sink));
  EXPECT_NE(sink.toString().find(path.string() + ":2:14: error: dns.upstreams[0]: "
                                                 "\"tls://dns.quad9.net\": \"dns.quad9.net\" is "
                                                 "not an IP address"),
            std::string::npos)
      << sink.toString();
}

}  // namespace
}  // namespace safegate
