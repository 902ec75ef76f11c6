// DnsSourceAcl (dns.allow_from) and ClientRateLimiter (dns.rate_limit_qps / rate_limit_burst):
// the decisions the DNS proxy takes before it looks at a query.
#include "daemon/dns/dns_access.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <set>

#include "policy/config_schema.h"

namespace safegate {
namespace {

IpAddress ip(std::string_view s) { return *IpAddress::parse(s); }

DnsSourceAcl aclOf(std::initializer_list<std::string_view> cidrs) {
  std::vector<Cidr> v;
  for (auto c : cidrs) v.push_back(*Cidr::parse(c));
  return DnsSourceAcl(v);
}

TEST(DnsSourceAclTest, DefaultAdmitsLoopbackPrivateAndLinkLocalOnly) {
  const DnsSourceAcl acl(defaultDnsAllowFrom());
  for (auto a : {"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.254", "192.168.1.20",
                 "169.254.3.4", "::1", "fd00:20::5", "fc00::1", "fe80::1"}) {
    EXPECT_TRUE(acl.allows(ip(a))) << a;
  }
  for (auto a : {"8.8.8.8", "172.32.0.1", "100.64.0.1", "192.0.2.1", "2001:db8::1", "::", "::2"}) {
    EXPECT_FALSE(acl.allows(ip(a))) << a;
  }
}

// The documented default (the config schema) and the proxy's built-in default are one list.
TEST(DnsSourceAclTest, SchemaDefaultIsTheBuiltInDefault) {
  const policy::KeyDef* def = policy::findKeyDef("dns.allow_from");
  ASSERT_NE(def, nullptr);
  auto parsed = toml::parse("v = " + std::string(def->default_value));
  std::vector<Cidr> from_schema;
  for (const auto& e : *parsed["v"].as_array())
    from_schema.push_back(*Cidr::parse(*e.value<std::string>()));
  EXPECT_EQ(from_schema, defaultDnsAllowFrom());
}

TEST(DnsSourceAclTest, Ipv4MappedSourceIsCheckedAsItsIpv4Address) {
  const DnsSourceAcl acl = aclOf({"10.0.0.0/8"});
  EXPECT_TRUE(acl.allows(ip("::ffff:10.1.2.3")));
  EXPECT_FALSE(acl.allows(ip("::ffff:8.8.8.8")));
  // "every IPv6 source" does not silently admit IPv4 clients seen on a dual-stack socket.
  const DnsSourceAcl v6_only = aclOf({"::/0"});
  EXPECT_FALSE(v6_only.allows(ip("::ffff:8.8.8.8")));
  EXPECT_TRUE(v6_only.allows(ip("2001:db8::1")));
}

TEST(DnsSourceAclTest, SocketPeersAreUnmapped) {
  const DnsSourceAcl acl = aclOf({"127.0.0.1/32"});
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "::ffff:127.0.0.1", &in6.sin6_addr);
  EXPECT_TRUE(acl.allows(reinterpret_cast<const sockaddr*>(&in6), sizeof(in6)));
  inet_pton(AF_INET6, "::ffff:127.0.0.2", &in6.sin6_addr);
  EXPECT_FALSE(acl.allows(reinterpret_cast<const sockaddr*>(&in6), sizeof(in6)));
  sockaddr_in in{};
  in.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
  EXPECT_TRUE(acl.allows(reinterpret_cast<const sockaddr*>(&in), sizeof(in)));
  EXPECT_EQ(peerAddress(reinterpret_cast<const sockaddr*>(&in), sizeof(in)), ip("127.0.0.1"));
}

TEST(DnsSourceAclTest, EmptyAclAdmitsNobody) {
  EXPECT_FALSE(DnsSourceAcl().allows(ip("127.0.0.1")));
}

TEST(ClientRateLimiterTest, DisabledAllowsEverything) {
  ClientRateLimiter rl({0, 0}, 64, 1, 2);
  EXPECT_FALSE(rl.enabled());
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(rl.allow(ip("10.0.0.1"), 0));
}

TEST(ClientRateLimiterTest, BurstThenRefillAtTheConfiguredRate) {
  ClientRateLimiter rl({10, 5}, 64, 1, 2);  // 10 qps, burst 5
  const IpAddress c = ip("10.0.0.1");
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(rl.allow(c, 1000)) << i;
  EXPECT_FALSE(rl.allow(c, 1000));
  EXPECT_FALSE(rl.allow(c, 1099));  // 99 ms at 10 qps: 0.99 token
  EXPECT_TRUE(rl.allow(c, 1100));   // one token after 100 ms
  EXPECT_FALSE(rl.allow(c, 1100));
  // A long quiet spell refills to the burst, not beyond.
  int allowed = 0;
  for (int i = 0; i < 20; ++i) allowed += rl.allow(c, 60'000) ? 1 : 0;
  EXPECT_EQ(allowed, 5);
}

TEST(ClientRateLimiterTest, ClientsHaveTheirOwnBuckets) {
  ClientRateLimiter rl({1, 2}, 64, 1, 2);
  EXPECT_TRUE(rl.allow(ip("10.0.0.1"), 0));
  EXPECT_TRUE(rl.allow(ip("10.0.0.1"), 0));
  EXPECT_FALSE(rl.allow(ip("10.0.0.1"), 0));
  EXPECT_TRUE(rl.allow(ip("10.0.0.2"), 0));
  EXPECT_TRUE(rl.allow(ip("fd00::1"), 0));
  EXPECT_TRUE(rl.allow(ip("::ffff:10.0.0.3"), 0));
  EXPECT_FALSE(rl.allow(ip("10.0.0.1"), 0));
}

TEST(ClientRateLimiterTest, TableIsBoundedAndRecyclesTheLeastRecentlySeen) {
  ClientRateLimiter rl({1, 1}, 16, 7, 9);
  EXPECT_EQ(rl.capacity(), 16u);
  // A limited client, then a flood of other sources (more than the table holds).
  const IpAddress busy = ip("10.9.9.9");
  EXPECT_TRUE(rl.allow(busy, 0));
  EXPECT_FALSE(rl.allow(busy, 0));
  for (uint32_t i = 0; i < 1000; ++i) rl.allow(IpAddress::v4(0x0a000000u + i), 1 + i);
  EXPECT_GE(rl.recycled(), 1000u - rl.capacity());
  // The busy client's entry was recycled: it starts again with a full bucket (never worse off).
  EXPECT_TRUE(rl.allow(busy, 1001));
  EXPECT_FALSE(rl.allow(busy, 1001));
}

TEST(ClientRateLimiterTest, PlacementDependsOnTheSecretKey) {
  // Two limiters with different keys spread the same addresses differently, so which clients
  // share a set cannot be predicted without the key.
  auto recycledWith = [](uint64_t k0) {
    ClientRateLimiter rl({1, 1}, 64, k0, 42);
    for (uint32_t i = 0; i < 64; ++i) rl.allow(IpAddress::v4(0x0a000000u + i), i);
    return rl.recycled();
  };
  std::set<uint64_t> distinct;
  for (uint64_t k = 1; k <= 8; ++k) distinct.insert(recycledWith(k));
  EXPECT_GT(distinct.size(), 1u);
}

}  // namespace
}  // namespace safegate
