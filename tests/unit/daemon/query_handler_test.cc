#include "daemon/dns/query_handler.h"

#include <gtest/gtest.h>

#include <array>

#include "daemon/dns/dns_proxy.h"
#include "daemon/neighbour_table.h"
#include "tests/unit/daemon/dns_test_util.h"

namespace safegate {
namespace {

using testing::makeQuery;
using testing::makeResponse;

// A fixed policy: "blocked.test" and its subdomains are blocked (gambling), "search.test" is
// rewritten to "safe.search.test", everything else allowed.
class FixedPolicy : public PolicyView {
 public:
  Decision decide(const RequestFacts& f) const noexcept override {
    Decision d;
    d.group = "kids";
    if (f.name == "blocked.test" || f.name.ends_with(".blocked.test")) {
      d.verdict = Verdict::kBlock;
      d.category = "gambling";
      d.rule = "blocked.test";
      d.log = true;
      d.block_answer = answer;
    } else if (f.name == "search.test") {
      d.verdict = Verdict::kRewrite;
      d.rewrite_target = "safe.search.test";
    }
    return d;
  }
  BlockAnswer answer = BlockAnswer::kNxdomain;
};

struct Query {
  std::vector<uint8_t> bytes;
  DnsQuery q;
  NameBuffer name;
  explicit Query(std::string_view n, uint16_t type = dns_type::kA) : bytes(makeQuery(77, n, type)) {
    EXPECT_EQ(parseDnsQuery(bytes, q, name), DnsParseStatus::kOk);
  }
};

TEST(ResponseValidationTest, AcceptsTheMatchingAnswerOnly) {
  auto q = makeQuery(0x1234, "example.org", dns_type::kA);
  auto r = makeResponse(q, {{{192, 0, 2, 1}}}, 60);
  EXPECT_TRUE(responseMatchesQuestion(r, 0x1234, "example.org", dns_type::kA, 1));
  EXPECT_FALSE(responseMatchesQuestion(r, 0x1235, "example.org", dns_type::kA, 1));     // ID
  EXPECT_FALSE(responseMatchesQuestion(r, 0x1234, "example.com", dns_type::kA, 1));     // name
  EXPECT_FALSE(responseMatchesQuestion(r, 0x1234, "example.org", dns_type::kAaaa, 1));  // type
  EXPECT_FALSE(responseMatchesQuestion(q, 0x1234, "example.org", dns_type::kA, 1));     // not QR
  EXPECT_FALSE(responseMatchesQuestion(std::span(r.data(), 5), 0x1234, "example.org", 1, 1));
}

TEST(QueryHandlerTest, BlockedNameIsAnsweredNxdomainAndCounted) {
  FixedPolicy policy;
  ProxyCounters counters;
  QueryHandler h(AnswerSettings{}, nullptr, counters);
  Query q("www.blocked.test");
  std::array<uint8_t, 1500> out{};
  QueryPlan plan = h.plan(policy, q.bytes, q.q, ClientInfo{}, 0, out);
  ASSERT_EQ(plan.action, QueryAction::kAnswered);
  EXPECT_EQ(out[3] & 0x0f, dns_rcode::kNxDomain);
  EXPECT_EQ(counters.blocked.load(), 1u);
}

TEST(QueryHandlerTest, NullAddressBlockAnswersZeroAddress) {
  FixedPolicy policy;
  policy.answer = BlockAnswer::kNullAddress;
  ProxyCounters counters;
  QueryHandler h(AnswerSettings{}, nullptr, counters);
  Query q("blocked.test");
  std::array<uint8_t, 1500> out{};
  QueryPlan plan = h.plan(policy, q.bytes, q.q, ClientInfo{}, 0, out);
  ASSERT_EQ(plan.action, QueryAction::kAnswered);
  NameBuffer qn, rn;
  DnsResponseView v(std::span(out.data(), plan.answer_length), qn);
  auto rec = v.next(rn);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->type, dns_type::kA);
  EXPECT_EQ(std::vector<uint8_t>(rec->rdata.begin(), rec->rdata.end()),
            (std::vector<uint8_t>{0, 0, 0, 0}));
}

TEST(QueryHandlerTest, AllowedNameIsForwardedAndAnswerGetsClientId) {
  FixedPolicy policy;
  ProxyCounters counters;
  QueryHandler h(AnswerSettings{}, nullptr, counters);
  Query q("example.org");
  std::array<uint8_t, 1500> out{};
  EXPECT_EQ(h.plan(policy, q.bytes, q.q, ClientInfo{}, 0, out).action, QueryAction::kForward);
  auto upstream_query = makeQuery(0x9999, "example.org", dns_type::kA);
  auto upstream = makeResponse(upstream_query, {{{192, 0, 2, 1}}}, 60);
  size_t n = h.finish(policy, q.bytes, q.q, ClientInfo{}, "", upstream, 0, out);
  ASSERT_EQ(n, upstream.size());
  EXPECT_EQ((out[0] << 8) | out[1], 77);
}

TEST(QueryHandlerTest, CnameChainIntoABlockedNameIsBlocked) {
  FixedPolicy policy;
  ProxyCounters counters;
  QueryHandler h(AnswerSettings{}, nullptr, counters);
  Query q("alias.example.org");
  // Upstream: alias.example.org CNAME cdn.blocked.test, cdn.blocked.test A 192.0.2.9
  auto r = makeResponse(makeQuery(1, "alias.example.org", dns_type::kA), {}, 60);
  r.resize(r.size() - 34);  // drop the SOA the helper added
  r[9] = 0;
  const uint8_t cname[] = {0xc0, 0x0c, 0,   5,   0,   1,   0,   0,   0,   60,
                           0,    18,   3,   'c', 'd', 'n', 7,   'b', 'l', 'o',
                           'c',  'k',  'e', 'd', 4,   't', 'e', 's', 't', 0};
  r.insert(r.end(), std::begin(cname), std::end(cname));
  r[7] = 1;
  std::array<uint8_t, 1500> out{};
  size_t n = h.finish(policy, q.bytes, q.q, ClientInfo{}, "", r, 0, out);
  ASSERT_GT(n, 0u);
  EXPECT_EQ(out[3] & 0x0f, dns_rcode::kNxDomain);
  EXPECT_EQ(counters.cname_blocked.load(), 1u);
}

TEST(QueryHandlerTest, RewriteForwardsTheTargetAndAnswersCnamePlusAddress) {
  FixedPolicy policy;
  ProxyCounters counters;
  QueryHandler h(AnswerSettings{}, nullptr, counters);
  Query q("search.test");
  std::array<uint8_t, 1500> out{};
  QueryPlan plan = h.plan(policy, q.bytes, q.q, ClientInfo{}, 0, out);
  ASSERT_EQ(plan.action, QueryAction::kForwardRewrite);
  EXPECT_EQ(plan.rewrite_target, "safe.search.test");
  auto upstream =
      makeResponse(makeQuery(5, "safe.search.test", dns_type::kA), {{{192, 0, 2, 50}}}, 300);
  size_t n = h.finish(policy, q.bytes, q.q, ClientInfo{}, plan.rewrite_target, upstream, 0, out);
  ASSERT_GT(n, 0u);
  NameBuffer qn, rn, target;
  DnsResponseView v(std::span(out.data(), n), qn);
  EXPECT_EQ(v.question().name, "search.test");
  auto first = v.next(rn);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->type, dns_type::kCname);
  ASSERT_EQ(v.cnameTarget(*first, target), DnsParseStatus::kOk);
  EXPECT_EQ(target.view(), "safe.search.test");
  auto second = v.next(rn);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->type, dns_type::kA);
  EXPECT_EQ(rn.view(), "safe.search.test");
}

// RFC 8482: ANY is not forwarded (its answer can be huge: an amplification tool); the client
// gets one HINFO "RFC8482" record with its own ID, question and EDNS.
TEST(QueryHandlerTest, AnyIsAnsweredWithTheMinimalRfc8482Hinfo) {
  FixedPolicy policy;
  ProxyCounters counters;
  QueryHandler h(AnswerSettings{}, nullptr, counters);
  Query q("example.org", dns_type::kAny);
  std::array<uint8_t, 1500> out{};
  QueryPlan plan = h.plan(policy, q.bytes, q.q, ClientInfo{}, 0, out);
  ASSERT_EQ(plan.action, QueryAction::kAnswered);
  EXPECT_EQ(counters.any_minimal.load(), 1u);
  EXPECT_EQ(counters.allowed.load(), 1u);  // still decided (and logged) like any query
  NameBuffer qn, rn;
  DnsResponseView v(std::span(out.data(), plan.answer_length), qn);
  ASSERT_EQ(v.status(), DnsParseStatus::kOk);
  EXPECT_EQ(v.header().id, 77);
  EXPECT_EQ(v.header().rcode(), dns_rcode::kNoError);
  EXPECT_EQ(v.header().ancount, 1);
  EXPECT_EQ(v.header().arcount, 1);  // the client's OPT is answered with ours
  EXPECT_EQ(v.question().qtype, dns_type::kAny);
  auto rec = v.next(rn);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rn.view(), "example.org");
  EXPECT_EQ(rec->type, dns_type::kHinfo);
  EXPECT_EQ(std::string(rec->rdata.begin(), rec->rdata.end()), std::string("\x07RFC8482\x00", 9));
}

TEST(QueryHandlerTest, AnyForABlockedNameGetsTheBlockAnswer) {
  FixedPolicy policy;
  ProxyCounters counters;
  QueryHandler h(AnswerSettings{}, nullptr, counters);
  Query q("blocked.test", dns_type::kAny);
  std::array<uint8_t, 1500> out{};
  QueryPlan plan = h.plan(policy, q.bytes, q.q, ClientInfo{}, 0, out);
  ASSERT_EQ(plan.action, QueryAction::kAnswered);
  EXPECT_EQ(out[3] & 0x0f, dns_rcode::kNxDomain);
  EXPECT_EQ(counters.any_minimal.load(), 0u);
}

TEST(QueryHandlerTest, AnyForARewrittenNameIsNotForwarded) {
  FixedPolicy policy;
  ProxyCounters counters;
  QueryHandler h(AnswerSettings{}, nullptr, counters);
  Query q("search.test", dns_type::kAny);
  std::array<uint8_t, 1500> out{};
  EXPECT_EQ(h.plan(policy, q.bytes, q.q, ClientInfo{}, 0, out).action, QueryAction::kAnswered);
  EXPECT_EQ(counters.any_minimal.load(), 1u);
}

TEST(SocketAddressTest, ParsesV4V6AndDefaultPort) {
  auto a = SocketAddress::parse("127.0.0.1:5353");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->port(), 5353);
  EXPECT_EQ(a->toString(), "127.0.0.1:5353");
  auto b = SocketAddress::parse("[::1]:53");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->toString(), "[::1]:53");
  auto c = SocketAddress::parse("192.0.2.1");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->port(), 53);
  EXPECT_FALSE(SocketAddress::parse("127.0.0.1:70000"));
  EXPECT_FALSE(SocketAddress::parse("host.example:53"));
  EXPECT_FALSE(SocketAddress::parse("[::1:53"));
}

TEST(NeighbourTableTest, ReadsCompleteEntriesOfProcNetArp) {
  const char* text =
      "IP address       HW type     Flags       HW address            Mask     Device\n"
      "192.168.1.20     0x1         0x2         aa:bb:cc:dd:ee:01     *        eth0\n"
      "192.168.1.21     0x1         0x0         00:00:00:00:00:00     *        eth0\n"
      "192.168.1.5      0x1         0x2         aa:bb:cc:dd:ee:05     *        eth0\n";
  NeighbourMap m = NeighbourTable::parseProcArp(text);
  ASSERT_EQ(m.v4.size(), 2u);
  auto mac = m.find(*IpAddress::parse("192.168.1.20"));
  ASSERT_TRUE(mac);
  EXPECT_EQ(mac->toString(), "aa:bb:cc:dd:ee:01");
  EXPECT_FALSE(m.find(*IpAddress::parse("192.168.1.21")));  // incomplete
  EXPECT_FALSE(m.find(*IpAddress::parse("2001:db8::1")));
}

}  // namespace
}  // namespace safegate
