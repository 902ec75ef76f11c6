// ECH stripping on the way from the upstream (or the cache) to the client: QueryHandler::finish
// removes the "ech" SvcParam (RFC 9460 §7, key 5) for clients whose group has strip_ech, and
// leaves the answer byte-identical for the others.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "daemon/dns/query_handler.h"
#include "tests/unit/daemon/dns_test_util.h"

namespace safegate {
namespace {

using testing::makeQuery;

// 127.0.0.1 is in a group that strips ECH, every other client in one that does not.
class EchPolicy : public PolicyView {
 public:
  Decision decide(const RequestFacts& f) const noexcept override {
    Decision d;
    d.strip_ech = f.client == *IpAddress::parse("127.0.0.1");
    d.group = d.strip_ech ? "kids" : "staff";
    ++decisions;
    return d;
  }
  mutable int decisions = 0;
};

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

// The upstream's answer to `query` (type HTTPS): "name HTTPS 1 . alpn=h2 ech=<4 octets>".
std::vector<uint8_t> httpsAnswer(const std::vector<uint8_t>& query, bool with_ech) {
  std::vector<uint8_t> r(query.begin(), query.end());
  size_t off = 12;
  while (r[off] != 0) off += r[off] + 1;
  r.resize(off + 5);  // drop the query's OPT
  r[2] = 0x81;
  r[3] = 0x80;
  r[7] = 1;  // ANCOUNT
  r[11] = 0;
  std::vector<uint8_t> rdata = {0, 1, 0};                // priority 1, target "."
  rdata.insert(rdata.end(), {0, 1, 0, 3, 2, 'h', '2'});  // alpn=h2
  if (with_ech) rdata.insert(rdata.end(), {0, 5, 0, 4, 0xfe, 0x0d, 0xec, 0xec});  // ech
  put16(r, 0xc00c);
  put16(r, dns_type::kHttps);
  put16(r, 1);
  put16(r, 0);
  put16(r, 300);
  put16(r, static_cast<uint16_t>(rdata.size()));
  r.insert(r.end(), rdata.begin(), rdata.end());
  return r;
}

// True when the message has an HTTPS record whose SvcParams include key 5.
bool hasEchParam(std::span<const uint8_t> msg) {
  NameBuffer qn, rn;
  DnsResponseView v(msg, qn);
  while (auto r = v.next(rn)) {
    if (r->type != dns_type::kHttps) continue;
    size_t pos = 2;
    while (pos < r->rdata.size() && r->rdata[pos] != 0) pos += r->rdata[pos] + 1;
    ++pos;  // target name's root label
    while (pos + 4 <= r->rdata.size()) {
      const uint16_t key = static_cast<uint16_t>((r->rdata[pos] << 8) | r->rdata[pos + 1]);
      const uint16_t len = static_cast<uint16_t>((r->rdata[pos + 2] << 8) | r->rdata[pos + 3]);
      if (key == kSvcParamEch) return true;
      pos += 4 + len;
    }
  }
  return false;
}

struct Exchange {
  std::vector<uint8_t> query = makeQuery(0x4242, "svc.test", dns_type::kHttps);
  DnsQuery q;
  NameBuffer name;
  Exchange() { EXPECT_EQ(parseDnsQuery(query, q, name), DnsParseStatus::kOk); }
};

ClientInfo client(const char* address) { return ClientInfo{*IpAddress::parse(address), {}}; }

TEST(QueryHandlerEchTest, StripsEchForAGroupThatWantsItAndKeepsTheClientId) {
  EchPolicy policy;
  ProxyCounters counters;
  QueryHandler h(AnswerSettings{}, nullptr, counters);
  Exchange x;
  auto upstream = httpsAnswer(x.query, true);
  upstream[0] = 0x99;  // the upstream query had another ID
  upstream[1] = 0x01;
  ASSERT_TRUE(hasEchParam(upstream));
  std::array<uint8_t, 4096> out{};
  size_t n = h.finish(policy, x.query, x.q, client("127.0.0.1"), {}, upstream, 0, out);
  ASSERT_GT(n, 0u);
  std::span<const uint8_t> answer(out.data(), n);
  EXPECT_FALSE(hasEchParam(answer));
  EXPECT_EQ(out[0], 0x42);
  EXPECT_EQ(out[1], 0x42);
  EXPECT_EQ(out[3] & 0x0f, dns_rcode::kNoError);
  EXPECT_EQ(out[7], 1);  // the HTTPS record itself is still there (only the parameter went)
  EXPECT_EQ(counters.ech_stripped.load(), 1u);
  // What is left of the record is what the upstream said without ech: alpn=h2.
  const uint8_t alpn[] = {0, 1, 0, 3, 2, 'h', '2'};
  EXPECT_NE(std::search(answer.begin(), answer.end(), std::begin(alpn), std::end(alpn)),
            answer.end());
}

TEST(QueryHandlerEchTest, LeavesEchInPlaceForAGroupWithoutStripping) {
  EchPolicy policy;
  ProxyCounters counters;
  QueryHandler h(AnswerSettings{}, nullptr, counters);
  Exchange x;
  auto upstream = httpsAnswer(x.query, true);
  std::array<uint8_t, 4096> out{};
  size_t n = h.finish(policy, x.query, x.q, client("127.0.0.2"), {}, upstream, 0, out);
  ASSERT_EQ(n, upstream.size());
  EXPECT_TRUE(std::equal(upstream.begin() + 2, upstream.end(), out.begin() + 2));
  EXPECT_EQ(counters.ech_stripped.load(), 0u);
}

TEST(QueryHandlerEchTest, TheSameCachedAnswerServesBothGroupsEachTheirWay) {
  // The cache holds the upstream's bytes; finish() strips per client, so one cached answer
  // goes out stripped to one group and untouched to the other, in either order.
  EchPolicy policy;
  ProxyCounters counters;
  QueryHandler h(AnswerSettings{}, nullptr, counters);
  Exchange x;
  const auto cached = httpsAnswer(x.query, true);
  std::array<uint8_t, 4096> out{};
  size_t n = h.finish(policy, x.query, x.q, client("127.0.0.2"), {}, cached, 0, out);
  EXPECT_TRUE(hasEchParam(std::span(out.data(), n)));
  n = h.finish(policy, x.query, x.q, client("127.0.0.1"), {}, cached, 0, out);
  EXPECT_FALSE(hasEchParam(std::span(out.data(), n)));
  n = h.finish(policy, x.query, x.q, client("127.0.0.2"), {}, cached, 0, out);
  EXPECT_TRUE(hasEchParam(std::span(out.data(), n)));
  EXPECT_TRUE(hasEchParam(cached));
}

TEST(QueryHandlerEchTest, AnswersWithoutHttpsRecordsCostNoExtraDecision) {
  EchPolicy policy;
  ProxyCounters counters;
  QueryHandler h(AnswerSettings{}, nullptr, counters);
  auto query = makeQuery(7, "plain.test", dns_type::kA);
  DnsQuery q;
  NameBuffer name;
  ASSERT_EQ(parseDnsQuery(query, q, name), DnsParseStatus::kOk);
  auto upstream = testing::makeResponse(query, {{{192, 0, 2, 1}}}, 60);
  std::array<uint8_t, 4096> out{};
  EXPECT_EQ(h.finish(policy, query, q, client("127.0.0.1"), {}, upstream, 0, out), upstream.size());
  EXPECT_EQ(policy.decisions, 0);
}

TEST(QueryHandlerEchTest, HttpsAnswerWithoutEchIsPassedUnchanged) {
  EchPolicy policy;
  ProxyCounters counters;
  QueryHandler h(AnswerSettings{}, nullptr, counters);
  Exchange x;
  auto upstream = httpsAnswer(x.query, false);
  std::array<uint8_t, 4096> out{};
  size_t n = h.finish(policy, x.query, x.q, client("127.0.0.1"), {}, upstream, 0, out);
  ASSERT_EQ(n, upstream.size());
  EXPECT_TRUE(std::equal(upstream.begin() + 2, upstream.end(), out.begin() + 2));
  EXPECT_EQ(counters.ech_stripped.load(), 0u);
}

TEST(QueryHandlerEchTest, StripFailsClosedWithServfailWhenTheAnswerDoesNotFit) {
  EchPolicy policy;
  ProxyCounters counters;
  QueryHandler h(AnswerSettings{}, nullptr, counters);
  Exchange x;
  auto upstream = httpsAnswer(x.query, true);
  // Room for the upstream's bytes but not for the re-encoded message (the question name is
  // written again): never hand the ECH keys out instead.
  std::vector<uint8_t> out(upstream.size() - 4);
  size_t n = h.finish(policy, x.query, x.q, client("127.0.0.1"), {}, upstream, 0, out);
  ASSERT_GT(n, 0u);
  EXPECT_EQ(out[3] & 0x0f, dns_rcode::kServFail);
  EXPECT_EQ(counters.ech_strip_failed.load(), 1u);
}

}  // namespace
}  // namespace safegate
