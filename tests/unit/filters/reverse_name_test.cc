// Reverse DNS names for device naming: the PTR question for an address, and what an answer may
// (and may not) name a device.
#include "filters/reverse_name.h"

#include <gtest/gtest.h>

#include "tests/unit/daemon/dns_test_util.h"

namespace safegate {
namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

TEST(ReverseNameTest, QuestionNamesFollowRfc1035AndRfc3596) {
  EXPECT_EQ(reverseQueryName(ip("192.168.1.23")), "23.1.168.192.in-addr.arpa");
  EXPECT_EQ(reverseQueryName(ip("::ffff:10.0.0.7")), "7.0.0.10.in-addr.arpa");
  EXPECT_EQ(reverseQueryName(ip("2001:db8::567:89ab")),
            "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
}

TEST(ReverseNameTest, TheFirstLabelOfThePtrNamesTheDevice) {
  const std::string q = reverseQueryName(ip("192.168.1.23"));
  const auto query = testing::makeQuery(0x1234, q, dns_type::kPtr, 0);
  const auto a =
      parsePtrAnswer(testing::makePtrResponse(query, "Sams-Tablet.school.lan", 3600), 0x1234, q);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->name, "sams-tablet");  // readDnsName lower-cases
  EXPECT_EQ(a->ttl, 3600u);
  EXPECT_EQ(a->rcode, 0);
}

TEST(ReverseNameTest, AnAnswerToAnotherQuestionIsNotTaken) {
  const std::string q = reverseQueryName(ip("192.168.1.23"));
  const auto query = testing::makeQuery(0x1234, q, dns_type::kPtr, 0);
  const auto response = testing::makePtrResponse(query, "sams-tablet.lan", 60);
  EXPECT_FALSE(parsePtrAnswer(response, 0x4321, q)) << "another ID";
  EXPECT_FALSE(parsePtrAnswer(response, 0x1234, reverseQueryName(ip("192.168.1.24"))))
      << "another address";
  const auto a_query = testing::makeQuery(0x1234, q, dns_type::kA, 0);
  EXPECT_FALSE(parsePtrAnswer(testing::makePtrResponse(a_query, "x.lan", 60), 0x1234, q))
      << "another type";
  EXPECT_FALSE(parsePtrAnswer(query, 0x1234, q)) << "a query is not an answer";
  auto cut = response;
  cut.resize(cut.size() - 3);
  EXPECT_FALSE(parsePtrAnswer(cut, 0x1234, q)) << "truncated";
}

TEST(ReverseNameTest, NoPtrMeansNoNameWithTheRcode) {
  const std::string q = reverseQueryName(ip("10.1.2.3"));
  const auto query = testing::makeQuery(7, q, dns_type::kPtr, 0);
  const auto nx = parsePtrAnswer(testing::makeResponse(query, {}, 300, dns_rcode::kNxDomain), 7, q);
  ASSERT_TRUE(nx);
  EXPECT_EQ(nx->name, "");
  EXPECT_EQ(nx->rcode, dns_rcode::kNxDomain);
}

TEST(ReverseNameTest, WhatANetworkSendsCannotInjectIntoLogs) {
  const std::string q = reverseQueryName(ip("10.1.2.3"));
  const auto query = testing::makeQuery(7, q, dns_type::kPtr, 0);
  // A label with a quote, '=' and a space: cleaned like a DHCP host name.
  const auto a = parsePtrAnswer(testing::makePtrResponse(query, "evil\"x=1 y.lan", 60), 7, q);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->name.find_first_of("\"= \\"), std::string::npos) << a->name;
}

}  // namespace
}  // namespace safegate
