#include "filters/dns_message.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace safegate {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes makeQuery(std::string_view name, uint16_t qtype, uint16_t udp_size = 0, bool dnssec = false,
                uint16_t id = 0x1234) {
  Bytes buf(600);
  size_t n = buildDnsQuery(id, name, qtype, udp_size, dnssec, buf);
  buf.resize(n);
  return buf;
}

// A header (ID 0xabcd, RD) with the given counts followed by `body`.
Bytes rawMessage(uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar,
                 std::initializer_list<uint8_t> body) {
  Bytes m = {0xab,
             0xcd,
             static_cast<uint8_t>(flags >> 8),
             static_cast<uint8_t>(flags),
             static_cast<uint8_t>(qd >> 8),
             static_cast<uint8_t>(qd),
             static_cast<uint8_t>(an >> 8),
             static_cast<uint8_t>(an),
             static_cast<uint8_t>(ns >> 8),
             static_cast<uint8_t>(ns),
             static_cast<uint8_t>(ar >> 8),
             static_cast<uint8_t>(ar)};
  m.insert(m.end(), body);
  return m;
}

struct ParsedResponse {
  DnsParseStatus status;
  DnsHeader header;
  std::string qname;
  struct Rec {
    DnsRecord::Section section;
    std::string name;
    uint16_t type;
    uint32_t ttl;
    Bytes rdata;
    std::string cname;
  };
  std::vector<Rec> records;
};

ParsedResponse walkResponse(std::span<const uint8_t> msg) {
  ParsedResponse out;
  NameBuffer qn;
  DnsResponseView v(msg, qn);
  out.header = v.header();
  if (v.status() != DnsParseStatus::kOk) {
    out.status = v.status();
    return out;
  }
  out.qname = std::string(v.question().name);
  NameBuffer rn;
  while (auto r = v.next(rn)) {
    ParsedResponse::Rec rec{
        r->section, std::string(r->name), r->type, r->ttl, Bytes(r->rdata.begin(), r->rdata.end()),
        {}};
    if (r->type == dns_type::kCname) {
      NameBuffer t;
      EXPECT_EQ(v.cnameTarget(*r, t), DnsParseStatus::kOk);
      rec.cname = std::string(t.view());
    }
    out.records.push_back(rec);
  }
  out.status = v.status();
  return out;
}

TEST(DnsMessageTest, ParsesQueryBuiltByBuildDnsQuery) {
  Bytes q = makeQuery("WWW.Example.COM", dns_type::kAaaa, 1232, true);
  ASSERT_FALSE(q.empty());
  DnsQuery parsed;
  NameBuffer name;
  ASSERT_EQ(parseDnsQuery(q, parsed, name), DnsParseStatus::kOk);
  EXPECT_EQ(parsed.header.id, 0x1234);
  EXPECT_TRUE(parsed.header.recursionDesired());
  EXPECT_EQ(parsed.question.name, "www.example.com");
  EXPECT_EQ(parsed.question.qtype, dns_type::kAaaa);
  EXPECT_EQ(parsed.question.qclass, 1);
  EXPECT_TRUE(parsed.has_edns);
  EXPECT_EQ(parsed.edns_udp_size, 1232);
  EXPECT_TRUE(parsed.edns_do);
  EXPECT_EQ(parsed.edns_version, 0);
  EXPECT_EQ(parsed.question_end, 12u + 17u + 4u);
}

TEST(DnsMessageTest, QueryWithoutOptReportsNoEdnsAnd512) {
  Bytes q = makeQuery("example.org", dns_type::kA);
  DnsQuery parsed;
  NameBuffer name;
  ASSERT_EQ(parseDnsQuery(q, parsed, name), DnsParseStatus::kOk);
  EXPECT_FALSE(parsed.has_edns);
  EXPECT_EQ(parsed.edns_udp_size, 512);
}

TEST(DnsMessageTest, EdnsPayloadBelow512IsTreatedAs512) {
  Bytes q = makeQuery("example.org", dns_type::kA, 100);
  DnsQuery parsed;
  NameBuffer name;
  ASSERT_EQ(parseDnsQuery(q, parsed, name), DnsParseStatus::kOk);
  EXPECT_TRUE(parsed.has_edns);
  EXPECT_EQ(parsed.edns_udp_size, 512);
}

TEST(DnsMessageTest, RootQueryNameIsEmpty) {
  Bytes q = makeQuery("", dns_type::kNs);
  DnsQuery parsed;
  NameBuffer name;
  ASSERT_EQ(parseDnsQuery(q, parsed, name), DnsParseStatus::kOk);
  EXPECT_EQ(parsed.question.name, "");
}

TEST(DnsMessageTest, EscapedDotLabelStaysDistinctFromTwoLabels) {
  Bytes one = makeQuery("a\\.b.example", dns_type::kA);
  Bytes two = makeQuery("a.b.example", dns_type::kA);
  ASSERT_FALSE(one.empty());
  DnsQuery q1, q2;
  NameBuffer n1, n2;
  ASSERT_EQ(parseDnsQuery(one, q1, n1), DnsParseStatus::kOk);
  ASSERT_EQ(parseDnsQuery(two, q2, n2), DnsParseStatus::kOk);
  EXPECT_EQ(q1.question.name, "a\\.b.example");
  EXPECT_EQ(q2.question.name, "a.b.example");
  EXPECT_EQ(one.size(), two.size());  // same wire length, different label structure
}

TEST(DnsMessageTest, NonPrintableOctetsAreEscapedAsDecimal) {
  Bytes m = rawMessage(0x0100, 1, 0, 0, 0, {3, 'a', 0x00, ' ', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1});
  DnsQuery q;
  NameBuffer n;
  ASSERT_EQ(parseDnsQuery(m, q, n), DnsParseStatus::kOk);
  EXPECT_EQ(q.question.name, "a\\000\\032.com");
}

TEST(DnsMessageTest, ResponseIsNotAcceptedAsQuery) {
  Bytes m = rawMessage(0x8180, 1, 0, 0, 0, {0, 0, 1, 0, 1});
  DnsQuery q;
  NameBuffer n;
  EXPECT_EQ(parseDnsQuery(m, q, n), DnsParseStatus::kNotAQuery);
}

TEST(DnsMessageTest, NotifyOpcodeIsRejected) {
  Bytes m = rawMessage(0x2000, 1, 0, 0, 0, {0, 0, 6, 0, 1});
  DnsQuery q;
  NameBuffer n;
  EXPECT_EQ(parseDnsQuery(m, q, n), DnsParseStatus::kBadOpcode);
}

TEST(DnsMessageTest, TwoQuestionsAreRejected) {
  Bytes m = rawMessage(0x0100, 2, 0, 0, 0, {0, 0, 1, 0, 1, 0, 0, 1, 0, 1});
  DnsQuery q;
  NameBuffer n;
  EXPECT_EQ(parseDnsQuery(m, q, n), DnsParseStatus::kBadQuestionCount);
}

TEST(DnsMessageTest, ShortHeaderIsTruncated) {
  Bytes m = {0x12, 0x34, 0x01};
  DnsQuery q;
  NameBuffer n;
  EXPECT_EQ(parseDnsQuery(m, q, n), DnsParseStatus::kTruncated);
}

TEST(DnsMessageTest, NameRunningPastTheEndIsTruncated) {
  Bytes m = rawMessage(0x0100, 1, 0, 0, 0, {7, 'e', 'x', 'a'});
  DnsQuery q;
  NameBuffer n;
  EXPECT_EQ(parseDnsQuery(m, q, n), DnsParseStatus::kTruncated);
}

TEST(DnsMessageTest, MissingQtypeIsTruncated) {
  Bytes m = rawMessage(0x0100, 1, 0, 0, 0, {1, 'a', 0, 0});
  DnsQuery q;
  NameBuffer n;
  EXPECT_EQ(parseDnsQuery(m, q, n), DnsParseStatus::kTruncated);
}

TEST(DnsMessageTest, SelfPointerInQuestionIsACompressionLoop) {
  Bytes m = rawMessage(0x0100, 1, 0, 0, 0, {0xC0, 12, 0, 1, 0, 1});
  DnsQuery q;
  NameBuffer n;
  EXPECT_EQ(parseDnsQuery(m, q, n), DnsParseStatus::kCompressionLoop);
}

TEST(DnsMessageTest, ForwardPointerIsFollowed) {
  // RFC 1035 writes "a prior occurrence" but does not forbid a pointer forwards.
  Bytes m = rawMessage(0x0100, 1, 0, 0, 0, {0xC0, 18, 0, 1, 0, 1, 1, 'a', 0});
  DnsQuery q;
  NameBuffer n;
  ASSERT_EQ(parseDnsQuery(m, q, n), DnsParseStatus::kOk);
  EXPECT_EQ(q.question.name, "a");
  EXPECT_EQ(q.question.qtype, dns_type::kA);
}

TEST(DnsMessageTest, ForwardAndBackPointerLoopEndsAtTheJumpLimit) {
  // 12: pointer to 18; 18: label "a", then a pointer back to 12.
  Bytes m = rawMessage(0x0100, 1, 0, 0, 0, {0xC0, 18, 0, 1, 0, 1, 1, 'a', 0xC0, 12});
  DnsQuery q;
  NameBuffer n;
  EXPECT_NE(parseDnsQuery(m, q, n), DnsParseStatus::kOk);
}

TEST(DnsMessageTest, PointerIntoHeaderIsRejected) {
  Bytes m = rawMessage(0x0100, 1, 0, 0, 0, {0xC0, 2, 0, 1, 0, 1});
  DnsQuery q;
  NameBuffer n;
  EXPECT_EQ(parseDnsQuery(m, q, n), DnsParseStatus::kCompressionLoop);
}

TEST(DnsMessageTest, TwoPointerLoopInResponseRecordIsRejected) {
  // Question "a" at 12; answer owner at 19 = label "b" then pointer to 22 (itself region).
  Bytes m =
      rawMessage(0x8180, 1, 1, 0, 0, {1, 'a', 0,    0,  1, 0, 1,  // question, ends at 19
                                      1, 'b', 0xC0, 19,  // "b" + pointer back to its own start
                                      0, 1,   0,    1,  0, 0, 0, 5, 0, 4, 1, 2, 3, 4});
  ParsedResponse r = walkResponse(m);
  EXPECT_EQ(r.status, DnsParseStatus::kCompressionLoop);
  EXPECT_TRUE(r.records.empty());
}

TEST(DnsMessageTest, ExtendedLabelTypesAreBadNames) {
  for (uint8_t type : {uint8_t{0x40}, uint8_t{0x80}}) {
    Bytes m = rawMessage(0x0100, 1, 0, 0, 0, {type, 'a', 0, 0, 1, 0, 1});
    DnsQuery q;
    NameBuffer n;
    EXPECT_EQ(parseDnsQuery(m, q, n), DnsParseStatus::kBadName) << int(type);
  }
}

TEST(DnsMessageTest, NameLongerThan255WireOctetsIsBadName) {
  Bytes body;
  for (int i = 0; i < 5; ++i) {  // 5 * 64 = 320 octets
    body.push_back(63);
    body.insert(body.end(), 63, 'x');
  }
  body.insert(body.end(), {0, 0, 1, 0, 1});
  Bytes m = rawMessage(0x0100, 1, 0, 0, 0, {});
  m.insert(m.end(), body.begin(), body.end());
  DnsQuery q;
  NameBuffer n;
  EXPECT_EQ(parseDnsQuery(m, q, n), DnsParseStatus::kBadName);
}

TEST(DnsMessageTest, LongestLegalNameOfEscapedOctetsFitsTheBuffer) {
  // 3 labels of 63 + one of 61 = 255 wire octets, every octet escaped as \DDD.
  Bytes m = rawMessage(0x0100, 1, 0, 0, 0, {});
  for (int len : {63, 63, 63, 61}) {
    m.push_back(static_cast<uint8_t>(len));
    m.insert(m.end(), len, 0x01);
  }
  m.insert(m.end(), {0, 0, 1, 0, 1});
  DnsQuery q;
  NameBuffer n;
  ASSERT_EQ(parseDnsQuery(m, q, n), DnsParseStatus::kOk);
  EXPECT_EQ(q.question.name.size(), 250u * 4 + 3);
}

TEST(DnsMessageTest, TwoOptRecordsAreBadEdns) {
  Bytes m = rawMessage(0x0100, 1, 0, 0, 2, {0, 0, 1,  0,    1,  // question: root A
                                            0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0,    // OPT
                                            0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0});  // second OPT
  DnsQuery q;
  NameBuffer n;
  EXPECT_EQ(parseDnsQuery(m, q, n), DnsParseStatus::kBadEdns);
}

TEST(DnsMessageTest, OptWithNonRootOwnerIsBadEdns) {
  Bytes m = rawMessage(0x0100, 1, 0, 0, 1,
                       {1, 'a', 0, 0, 1, 0, 1, 0xC0, 12, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0});
  DnsQuery q;
  NameBuffer n;
  EXPECT_EQ(parseDnsQuery(m, q, n), DnsParseStatus::kBadEdns);
}

TEST(DnsMessageTest, OptWithRdataRunningPastEndIsTruncated) {
  Bytes m = rawMessage(0x0100, 1, 0, 0, 1, {0, 0, 1, 0, 1, 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 9});
  DnsQuery q;
  NameBuffer n;
  EXPECT_EQ(parseDnsQuery(m, q, n), DnsParseStatus::kTruncated);
}

TEST(DnsMessageTest, ReadsEdnsVersionAndDoBit) {
  Bytes m =
      rawMessage(0x0100, 1, 0, 0, 1, {0, 0, 1, 0, 1, 0, 0, 41, 0x04, 0xd0, 0, 1, 0x80, 0, 0, 0});
  DnsQuery q;
  NameBuffer n;
  ASSERT_EQ(parseDnsQuery(m, q, n), DnsParseStatus::kOk);
  EXPECT_EQ(q.edns_version, 1);
  EXPECT_TRUE(q.edns_do);
  EXPECT_EQ(q.edns_udp_size, 1232);
}

// The EDE option in the OPT record of `r`, if any: {info_code, text}.
std::optional<std::pair<uint16_t, std::string>> findEde(const ParsedResponse& r) {
  for (const auto& rec : r.records) {
    if (rec.type != dns_type::kOpt) continue;
    size_t p = 0;
    while (p + 4 <= rec.rdata.size()) {
      uint16_t code = (rec.rdata[p] << 8) | rec.rdata[p + 1];
      uint16_t len = (rec.rdata[p + 2] << 8) | rec.rdata[p + 3];
      if (code == 15 && len >= 2 && p + 4 + len <= rec.rdata.size()) {
        uint16_t info = (rec.rdata[p + 4] << 8) | rec.rdata[p + 5];
        return std::make_pair(
            info, std::string(rec.rdata.begin() + p + 6, rec.rdata.begin() + p + 4 + len));
      }
      p += 4 + len;
    }
  }
  return std::nullopt;
}

struct Built {
  Bytes query;
  DnsQuery q;
  NameBuffer name;
};

Built parse(Bytes query) {
  Built b{std::move(query), {}, {}};
  EXPECT_EQ(parseDnsQuery(b.query, b.q, b.name), DnsParseStatus::kOk);
  return b;
}

TEST(DnsMessageTest, NxdomainCarriesSyntheticSoaAndEdeBlocked) {
  Built b = parse(makeQuery("Ads.Example.com", dns_type::kA, 4096, true, 0x4242));
  BlockResponseOptions opts;
  opts.ttl_seconds = 30;
  opts.ede_text = "blocked by safegate: ads";
  std::array<uint8_t, 512> out{};
  size_t n = buildNxdomain(b.query, b.q, opts, out);
  ASSERT_GT(n, 0u);
  ParsedResponse r = walkResponse({out.data(), n});
  ASSERT_EQ(r.status, DnsParseStatus::kOk);
  EXPECT_EQ(r.header.id, 0x4242);
  EXPECT_EQ(r.header.rcode(), dns_rcode::kNxDomain);
  EXPECT_TRUE(r.header.recursionDesired());
  EXPECT_EQ(r.header.flags & 0x0080, 0x0080);  // RA
  EXPECT_EQ(r.qname, "ads.example.com");
  // Case of the question is preserved octet for octet (DNS 0x20).
  EXPECT_EQ(std::string(out.begin() + 13, out.begin() + 16), "Ads");
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.records[0].section, DnsRecord::Section::kAuthority);
  EXPECT_EQ(r.records[0].type, dns_type::kSoa);
  EXPECT_EQ(r.records[0].name, "ads.example.com");
  EXPECT_EQ(r.records[0].ttl, 30u);
  // MINIMUM (last 4 octets of SOA RDATA) is the negative-caching TTL.
  const Bytes& soa = r.records[0].rdata;
  ASSERT_GE(soa.size(), 20u);
  EXPECT_EQ((uint32_t{soa[soa.size() - 4]} << 24) | (soa[soa.size() - 3] << 16) |
                (soa[soa.size() - 2] << 8) | soa[soa.size() - 1],
            30u);
  EXPECT_EQ(r.records[1].section, DnsRecord::Section::kAdditional);
  EXPECT_EQ(r.records[1].type, dns_type::kOpt);
  EXPECT_EQ((r.records[1].ttl & 0x8000), 0x8000u);  // DO copied
  auto ede = findEde(r);
  ASSERT_TRUE(ede);
  EXPECT_EQ(ede->first, 15);
  EXPECT_EQ(ede->second, "blocked by safegate: ads");
}

TEST(DnsMessageTest, NoOptInResponseWhenQueryHadNone) {
  Built b = parse(makeQuery("ads.example.com", dns_type::kA));
  std::array<uint8_t, 512> out{};
  size_t n = buildNxdomain(b.query, b.q, {}, out);
  ParsedResponse r = walkResponse({out.data(), n});
  ASSERT_EQ(r.status, DnsParseStatus::kOk);
  EXPECT_EQ(r.header.arcount, 0);
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].type, dns_type::kSoa);
  EXPECT_FALSE(findEde(r));
}

TEST(DnsMessageTest, NodataIsNoErrorWithSoaAndNoAnswer) {
  Built b = parse(makeQuery("ads.example.com", dns_type::kAaaa, 1232));
  std::array<uint8_t, 512> out{};
  size_t n = buildNodata(b.query, b.q, {}, out);
  ParsedResponse r = walkResponse({out.data(), n});
  ASSERT_EQ(r.status, DnsParseStatus::kOk);
  EXPECT_EQ(r.header.rcode(), dns_rcode::kNoError);
  EXPECT_EQ(r.header.ancount, 0);
  EXPECT_EQ(r.header.nscount, 1);
  auto ede = findEde(r);
  ASSERT_TRUE(ede);
  EXPECT_EQ(ede->second, "");
}

TEST(DnsMessageTest, EdeCanBeTurnedOff) {
  Built b = parse(makeQuery("ads.example.com", dns_type::kA, 1232));
  BlockResponseOptions opts;
  opts.ede_blocked = false;
  std::array<uint8_t, 512> out{};
  size_t n = buildRefused(b.query, b.q, opts, out);
  ParsedResponse r = walkResponse({out.data(), n});
  ASSERT_EQ(r.status, DnsParseStatus::kOk);
  EXPECT_EQ(r.header.rcode(), dns_rcode::kRefused);
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].type, dns_type::kOpt);
  EXPECT_TRUE(r.records[0].rdata.empty());
}

TEST(DnsMessageTest, RefusedAndServfailCarryNoRecordsBesidesOpt) {
  Built b = parse(makeQuery("x.example", dns_type::kTxt, 1232));
  std::array<uint8_t, 512> out{};
  size_t n = buildRefused(b.query, b.q, {}, out);
  ParsedResponse r = walkResponse({out.data(), n});
  EXPECT_EQ(r.header.rcode(), dns_rcode::kRefused);
  EXPECT_EQ(r.header.ancount + r.header.nscount, 0);
  EXPECT_TRUE(findEde(r));
  n = buildServfail(b.query, b.q, out);
  r = walkResponse({out.data(), n});
  EXPECT_EQ(r.header.rcode(), dns_rcode::kServFail);
  EXPECT_EQ(r.header.arcount, 1);
  EXPECT_FALSE(findEde(r));
}

TEST(DnsMessageTest, LongEdeTextIsCutAtCharacterBoundary) {
  Built b = parse(makeQuery("x.example", dns_type::kA, 1232));
  std::string text(127, 'a');
  text += "\xc3\xa9tude";  // 'é' straddles the 128-octet cap
  BlockResponseOptions opts;
  opts.ede_text = text;
  std::array<uint8_t, 512> out{};
  size_t n = buildNxdomain(b.query, b.q, opts, out);
  auto ede = findEde(walkResponse({out.data(), n}));
  ASSERT_TRUE(ede);
  EXPECT_EQ(ede->second, std::string(127, 'a'));
}

TEST(DnsMessageTest, NullAddressAnswersAWithZeroes) {
  Built b = parse(makeQuery("ads.example.com", dns_type::kA, 1232));
  std::array<uint8_t, 512> out{};
  IpAddress v4;  // 0.0.0.0
  std::array<uint8_t, 16> zero6{};
  size_t n = buildAddressAnswer(b.query, b.q, v4, IpAddress::v6(zero6), {}, out);
  ParsedResponse r = walkResponse({out.data(), n});
  ASSERT_EQ(r.status, DnsParseStatus::kOk);
  ASSERT_GE(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].section, DnsRecord::Section::kAnswer);
  EXPECT_EQ(r.records[0].type, dns_type::kA);
  EXPECT_EQ(r.records[0].name, "ads.example.com");
  EXPECT_EQ(r.records[0].rdata, (Bytes{0, 0, 0, 0}));
  EXPECT_TRUE(findEde(r));
}

TEST(DnsMessageTest, GivenAddressAnswersAaaa) {
  Built b = parse(makeQuery("ads.example.com", dns_type::kAaaa));
  std::array<uint8_t, 512> out{};
  std::array<uint8_t, 16> v6{0x20, 0x01, 0x0d, 0xb8};
  v6[15] = 7;
  std::array<uint8_t, 4> v4{192, 0, 2, 7};
  size_t n = buildAddressAnswer(b.query, b.q, IpAddress::v4(v4), IpAddress::v6(v6), {}, out);
  ParsedResponse r = walkResponse({out.data(), n});
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].type, dns_type::kAaaa);
  EXPECT_EQ(r.records[0].rdata, Bytes(v6.begin(), v6.end()));
  EXPECT_EQ(r.records[0].ttl, 10u);
}

TEST(DnsMessageTest, AddressAnswerForOtherQtypeIsNodata) {
  Built b = parse(makeQuery("ads.example.com", dns_type::kMx));
  std::array<uint8_t, 512> out{};
  size_t n = buildAddressAnswer(b.query, b.q, IpAddress{}, IpAddress{}, {}, out);
  ParsedResponse r = walkResponse({out.data(), n});
  EXPECT_EQ(r.header.rcode(), dns_rcode::kNoError);
  EXPECT_EQ(r.header.ancount, 0);
  EXPECT_EQ(r.header.nscount, 1);
}

TEST(DnsMessageTest, CnameAnswerPointsToTargetAndCarriesTargetRecords) {
  Built b = parse(makeQuery("www.google.com", dns_type::kA, 1232));
  // One A record owned by forcesafesearch.google.com, uncompressed.
  Bytes rr;
  Bytes target = makeQuery("forcesafesearch.google.com", dns_type::kA);
  rr.assign(target.begin() + 12, target.end() - 4);  // the wire name
  rr.insert(rr.end(), {0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 216, 239, 38, 120});
  std::array<uint8_t, 512> out{};
  size_t n = buildCnameAnswer(b.query, b.q, "forcesafesearch.google.com", 300, rr, 1, out);
  ASSERT_GT(n, 0u);
  ParsedResponse r = walkResponse({out.data(), n});
  ASSERT_EQ(r.status, DnsParseStatus::kOk);
  ASSERT_EQ(r.records.size(), 3u);
  EXPECT_EQ(r.records[0].type, dns_type::kCname);
  EXPECT_EQ(r.records[0].name, "www.google.com");
  EXPECT_EQ(r.records[0].cname, "forcesafesearch.google.com");
  EXPECT_EQ(r.records[0].ttl, 300u);
  EXPECT_EQ(r.records[1].name, "forcesafesearch.google.com");
  EXPECT_EQ(r.records[1].rdata, (Bytes{216, 239, 38, 120}));
  EXPECT_EQ(r.records[2].type, dns_type::kOpt);
}

TEST(DnsMessageTest, CnameAnswerRejectsCompressedTargetRecords) {
  Built b = parse(makeQuery("www.google.com", dns_type::kA));
  Bytes rr = {0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4};
  std::array<uint8_t, 512> out{};
  EXPECT_EQ(buildCnameAnswer(b.query, b.q, "safe.example", 60, rr, 1, out), 0u);
  EXPECT_EQ(buildCnameAnswer(b.query, b.q, "safe.example", 60, {}, 1, out), 0u);
}

TEST(DnsMessageTest, BuildersReturnZeroWhenBufferTooSmall) {
  Built b = parse(makeQuery("ads.example.com", dns_type::kA, 1232));
  std::array<uint8_t, 40> small{};
  EXPECT_EQ(buildNxdomain(b.query, b.q, {}, small), 0u);
  EXPECT_EQ(buildAddressAnswer(b.query, b.q, IpAddress{}, IpAddress{}, {}, small), 0u);
  std::array<uint8_t, 10> tiny{};
  EXPECT_EQ(buildDnsQuery(1, "example.com", 1, 0, false, tiny), 0u);
}

TEST(DnsMessageTest, BuildDnsQueryRejectsInvalidNames) {
  std::array<uint8_t, 600> out{};
  EXPECT_EQ(buildDnsQuery(1, "a..b", 1, 0, false, out), 0u);
  EXPECT_EQ(buildDnsQuery(1, ".a", 1, 0, false, out), 0u);
  EXPECT_EQ(buildDnsQuery(1, std::string(64, 'x') + ".com", 1, 0, false, out), 0u);
  EXPECT_EQ(buildDnsQuery(1, "a\\25", 1, 0, false, out), 0u);
  EXPECT_EQ(buildDnsQuery(1, "a\\256", 1, 0, false, out), 0u);
  std::string long_name;
  for (int i = 0; i < 4; ++i) long_name += std::string(63, 'a') + ".";
  EXPECT_EQ(buildDnsQuery(1, long_name, 1, 0, false, out), 0u);  // 4*64+1 = 257 octets
  EXPECT_GT(buildDnsQuery(1, "example.com.", 1, 0, false, out), 0u);
  EXPECT_GT(buildDnsQuery(1, "\\065bc.example", 1, 0, false, out), 0u);
}

TEST(DnsMessageTest, TrailingEscapedDotIsPartOfTheLabel) {
  std::array<uint8_t, 600> out{};
  size_t n = buildDnsQuery(1, "a\\.", 1, 0, false, out);
  ASSERT_GT(n, 0u);
  DnsQuery q;
  NameBuffer name;
  ASSERT_EQ(parseDnsQuery({out.data(), n}, q, name), DnsParseStatus::kOk);
  EXPECT_EQ(q.question.name, "a\\.");
}

TEST(DnsMessageTest, BuildersRejectQueryInfoThatDoesNotMatchTheMessage) {
  Built b = parse(makeQuery("ads.example.com", dns_type::kA));
  DnsQuery wrong = b.q;
  wrong.question_end = b.query.size() + 10;
  std::array<uint8_t, 512> out{};
  EXPECT_EQ(buildNxdomain(b.query, wrong, {}, out), 0u);
}

TEST(DnsMessageTest, ResponseViewRejectsQueries) {
  Bytes q = makeQuery("example.com", dns_type::kA);
  NameBuffer n;
  DnsResponseView v(q, n);
  EXPECT_EQ(v.status(), DnsParseStatus::kNotAQuery);
  NameBuffer rn;
  EXPECT_FALSE(v.next(rn));
}

TEST(DnsMessageTest, ResponseViewFollowsCompressedCnameChain) {
  // www.example.com CNAME a.example.com (compressed), a.example.com A 192.0.2.1.
  Bytes m = rawMessage(
      0x8180, 1, 2, 0, 0,
      {3,    'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3,   'c', 'o',  'm',
       0,    0,   1,   0,   1,                                                         // question
       0xC0, 12,  0,   5,   0, 1,   0,   0,   1,   0,   0,   4,   1,   'a', 0xC0, 16,  // CNAME @33
       0xC0, 45,  0,   1,   0, 1,   0,   0,   0,   60,  0,   4,   192, 0,   2,    1});
  ParsedResponse r = walkResponse(m);
  ASSERT_EQ(r.status, DnsParseStatus::kOk);
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.records[0].cname, "a.example.com");
  EXPECT_EQ(r.records[0].ttl, 256u);
  EXPECT_EQ(r.records[1].name, "a.example.com");
  EXPECT_EQ(r.records[1].rdata, (Bytes{192, 0, 2, 1}));
}

TEST(DnsMessageTest, ResponseViewStopsWithTruncatedWhenCountsExceedRecords) {
  Bytes m = rawMessage(0x8180, 1, 2, 0, 0,
                       {0, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1});
  ParsedResponse r = walkResponse(m);
  EXPECT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.status, DnsParseStatus::kTruncated);
}

TEST(DnsMessageTest, CnameTargetMayNotRunPastItsRdata) {
  // CNAME with RDLENGTH 2 whose name "a" + root needs 3 octets; the A record follows.
  Bytes m =
      rawMessage(0x8180, 1, 1, 0, 0, {0, 0, 5, 0, 1, 0, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 1, 'a', 0});
  NameBuffer qn, rn, target;
  DnsResponseView v(m, qn);
  auto rec = v.next(rn);
  ASSERT_TRUE(rec);
  EXPECT_EQ(v.cnameTarget(*rec, target), DnsParseStatus::kTruncated);
}

TEST(DnsMessageTest, StatusNamesAreDistinct) {
  EXPECT_EQ(dnsParseStatusName(DnsParseStatus::kOk), "ok");
  EXPECT_EQ(dnsParseStatusName(DnsParseStatus::kCompressionLoop), "compression-loop");
  EXPECT_EQ(dnsParseStatusName(DnsParseStatus::kBadEdns), "bad-edns");
}

}  // namespace
}  // namespace safegate

namespace safegate {
namespace {

// "example.com HTTPS" answered with: example.com HTTPS 1 . mandatory=alpn,ech alpn=h2
// ipv4hint=192.0.2.1 ech=<5 octets> port=8443, then www.example.com A (owner compressed
// against the question) and, in the additional section, an A owned by a pointer to that
// second owner — which sits *after* the HTTPS record, so removing octets would break it.
Bytes httpsResponseWithEch(Bytes mandatory_keys = {0, 1, 0, 5}) {
  Bytes m = rawMessage(0x8180, 1, 2, 0, 1, {});
  const uint8_t question[] = {7,   'e', 'x', 'a', 'm', 'p', 'l', 'e', 3,
                              'c', 'o', 'm', 0,   0,   65,  0,   1};
  m.insert(m.end(), std::begin(question), std::end(question));
  Bytes rdata = {0, 1, 0};  // priority 1, target "."
  if (!mandatory_keys.empty()) {
    rdata.insert(rdata.end(), {0, 0, 0, static_cast<uint8_t>(mandatory_keys.size())});
    rdata.insert(rdata.end(), mandatory_keys.begin(), mandatory_keys.end());
  }
  rdata.insert(rdata.end(), {0, 1, 0, 3, 2, 'h', '2'});                   // alpn
  rdata.insert(rdata.end(), {0, 4, 0, 4, 192, 0, 2, 1});                  // ipv4hint
  rdata.insert(rdata.end(), {0, 5, 0, 5, 0xec, 0xec, 0xec, 0xec, 0xec});  // ech
  rdata.insert(rdata.end(), {0, 3, 0, 2, 0x20, 0xfb});                    // port 8443
  m.insert(m.end(), {0xC0, 12, 0, 65, 0, 1, 0, 0, 1, 44});
  m.push_back(static_cast<uint8_t>(rdata.size() >> 8));
  m.push_back(static_cast<uint8_t>(rdata.size()));
  m.insert(m.end(), rdata.begin(), rdata.end());
  const size_t www_owner = m.size();
  m.insert(m.end(), {3, 'w', 'w', 'w', 0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 2});
  m.insert(m.end(),
           {0xC0, static_cast<uint8_t>(www_owner), 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 3});
  return m;
}

TEST(DnsMessageTest, StripEchRemovesTheParameterAndKeepsTheRest) {
  Bytes m = httpsResponseWithEch();
  std::array<uint8_t, 1024> out{};
  EchStripResult res = stripEchFromResponse(m, out);
  ASSERT_EQ(res.status, DnsParseStatus::kOk);
  EXPECT_EQ(res.removed, 1u);
  ASSERT_GT(res.length, 0u);
  ParsedResponse r = walkResponse({out.data(), res.length});
  ASSERT_EQ(r.status, DnsParseStatus::kOk);
  EXPECT_EQ(r.qname, "example.com");
  ASSERT_EQ(r.records.size(), 3u);
  EXPECT_EQ(r.records[0].type, dns_type::kHttps);
  EXPECT_EQ(r.records[0].ttl, 300u);
  EXPECT_EQ(r.records[0].rdata, (Bytes{0, 1, 0,                        // priority, "."
                                       0, 0, 0, 2, 0,    1,            // mandatory=alpn
                                       0, 1, 0, 3, 2,    'h', '2',     // alpn
                                       0, 4, 0, 4, 192,  0,   2,   1,  // ipv4hint
                                       0, 3, 0, 2, 0x20, 0xfb}));      // port
  EXPECT_EQ(r.records[1].name, "www.example.com");
  EXPECT_EQ(r.records[1].rdata, (Bytes{192, 0, 2, 2}));
  EXPECT_EQ(r.records[2].section, DnsRecord::Section::kAdditional);
  EXPECT_EQ(r.records[2].name, "www.example.com");  // the pointer was expanded, not shifted
  EXPECT_EQ(r.records[2].rdata, (Bytes{192, 0, 2, 3}));
}

TEST(DnsMessageTest, StripEchDropsMandatoryThatOnlyNamedEch) {
  Bytes m = httpsResponseWithEch({0, 5});
  std::array<uint8_t, 1024> out{};
  EchStripResult res = stripEchFromResponse(m, out);
  ASSERT_EQ(res.status, DnsParseStatus::kOk);
  ASSERT_EQ(res.removed, 1u);
  ParsedResponse r = walkResponse({out.data(), res.length});
  ASSERT_EQ(r.status, DnsParseStatus::kOk);
  EXPECT_EQ(r.records[0].rdata[3], 0);  // first key is now alpn (1): mandatory is gone
  EXPECT_EQ(r.records[0].rdata[4], 1);
}

TEST(DnsMessageTest, StripEchWritesNothingWhenThereIsNoEch) {
  Built b = parse(makeQuery("ads.example.com", dns_type::kA, 1232));
  std::array<uint8_t, 512> resp{};
  size_t n = buildNxdomain(b.query, b.q, {}, resp);
  std::array<uint8_t, 512> out{};
  EchStripResult res = stripEchFromResponse({resp.data(), n}, out);
  EXPECT_EQ(res.status, DnsParseStatus::kOk);
  EXPECT_EQ(res.removed, 0u);
  EXPECT_EQ(res.length, 0u);
}

TEST(DnsMessageTest, StripEchLeavesMalformedSvcParamsAlone) {
  // ech, then a parameter claiming 9 octets with 1 present (a fuzzer found this looping).
  Bytes m = rawMessage(0x8180, 1, 1, 0, 0,
                       {1,    'a', 0, 0,  65, 0, 1,                         // question a HTTPS
                        0xC0, 12,  0, 65, 0,  1, 0, 0,    1,    44, 0, 14,  // answer header
                        0,    1,   0, 0,  5,  0, 2, 0xec, 0xec, 0,  6, 0,  9, 1});
  std::array<uint8_t, 512> out{};
  EchStripResult res = stripEchFromResponse(m, out);
  EXPECT_EQ(res.status, DnsParseStatus::kOk);
  EXPECT_EQ(res.removed, 0u);
  EXPECT_EQ(res.length, 0u);
}

TEST(DnsMessageTest, StripEchReportsNoRoom) {
  Bytes m = httpsResponseWithEch();
  std::array<uint8_t, 40> out{};
  EchStripResult res = stripEchFromResponse(m, out);
  EXPECT_TRUE(res.no_room);
  EXPECT_EQ(res.length, 0u);
}

TEST(DnsMessageTest, StripEchRejectsQueriesAndBrokenMessages) {
  Bytes q = makeQuery("example.com", dns_type::kHttps);
  std::array<uint8_t, 512> out{};
  EXPECT_EQ(stripEchFromResponse(q, out).status, DnsParseStatus::kNotAQuery);
  Bytes m = httpsResponseWithEch();
  m.resize(m.size() - 3);
  EXPECT_EQ(stripEchFromResponse(m, out).status, DnsParseStatus::kTruncated);
}

}  // namespace
}  // namespace safegate
