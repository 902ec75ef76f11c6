#include "daemon/dns/dns_cache.h"

#include <gtest/gtest.h>

#include <array>

#include "filters/dns_message.h"
#include "tests/unit/daemon/dns_test_util.h"

namespace safegate {
namespace {

using testing::makeQuery;
using testing::makeResponse;

struct Parsed {
  DnsQuery q;
  NameBuffer name;
};

Parsed parse(const std::vector<uint8_t>& msg) {
  Parsed p;
  EXPECT_EQ(parseDnsQuery(msg, p.q, p.name), DnsParseStatus::kOk);
  p.q.question.name = p.name.view();
  return p;
}

DnsCacheKey keyOf(const Parsed& p) {
  return {p.name.view(), p.q.question.qtype, p.q.question.qclass,
          p.q.has_edns,  p.q.edns_do,        p.q.header.checkingDisabled()};
}

uint32_t firstAnswerTtl(std::span<const uint8_t> msg) {
  NameBuffer q, r;
  DnsResponseView v(msg, q);
  auto rec = v.next(r);
  return rec ? rec->ttl : 0;
}

TEST(DnsCacheTest, ReturnsCachedAnswerWithAgedTtl) {
  DnsCache cache(64);
  auto q1 = makeQuery(0x1111, "example.org", dns_type::kA);
  auto resp = makeResponse(q1, {{{192, 0, 2, 1}}}, 300);
  auto p1 = parse(q1);
  cache.insert(keyOf(p1), resp, 1'000'000);

  auto q2 = makeQuery(0x2222, "example.org", dns_type::kA);
  auto p2 = parse(q2);
  std::array<uint8_t, 1500> out{};
  size_t n = cache.lookup(keyOf(p2), 1'000'000 + 100'500, out);
  ASSERT_EQ(n, resp.size());
  EXPECT_EQ(firstAnswerTtl(std::span(out.data(), n)), 200u);
  EXPECT_EQ(cache.stats().hits, 1u);
}

TEST(DnsCacheTest, EveryRecordTtlIsAgedWhetherOrNotItsPositionWasStored) {
  // 5 records: their TTL positions fit after the message in its slot. 29 records: the message
  // alone nearly fills 512 bytes, so a hit re-parses it instead. Both must age every record.
  for (int records : {5, 29}) {
    DnsCache cache(64);
    std::vector<std::array<uint8_t, 4>> addresses;
    for (int i = 0; i < records; ++i) addresses.push_back({198, 51, 100, static_cast<uint8_t>(i)});
    auto q = makeQuery(7, "many.example.org", dns_type::kA);
    auto resp = makeResponse(q, addresses, 300);
    ASSERT_LE(resp.size(), kMaxCachedMessage);
    auto p = parse(q);
    cache.insert(keyOf(p), resp, 0);
    std::array<uint8_t, 1500> out{};
    // Within the first second nothing is aged; after 120.5 s every TTL is 180.
    for (auto [at_ms, want] : {std::pair<int64_t, uint32_t>{400, 300}, {120'500, 180}}) {
      size_t n = cache.lookup(keyOf(p), at_ms, out);
      ASSERT_EQ(n, resp.size()) << records;
      NameBuffer qn, rn;
      DnsResponseView v(std::span<const uint8_t>(out.data(), n), qn);
      int seen = 0;
      while (auto r = v.next(rn)) {
        EXPECT_EQ(r->ttl, want) << records << " records, record " << seen;
        ++seen;
      }
      EXPECT_EQ(seen, records);
    }
  }
}

TEST(DnsCacheTest, ExpiredEntryIsAMiss) {
  DnsCache cache(64);
  auto q = makeQuery(1, "example.org", dns_type::kA);
  auto p = parse(q);
  cache.insert(keyOf(p), makeResponse(q, {{{192, 0, 2, 1}}}, 10), 0);
  std::array<uint8_t, 1500> out{};
  EXPECT_EQ(cache.lookup(keyOf(p), 10'001, out), 0u);
  EXPECT_EQ(cache.stats().misses, 1u);
}

TEST(DnsCacheTest, DifferentTypeIsADifferentEntry) {
  DnsCache cache(64);
  auto qa = makeQuery(1, "example.org", dns_type::kA);
  auto pa = parse(qa);
  cache.insert(keyOf(pa), makeResponse(qa, {{{192, 0, 2, 1}}}, 60), 0);
  auto qaaaa = makeQuery(1, "example.org", dns_type::kAaaa);
  auto paaaa = parse(qaaaa);
  std::array<uint8_t, 1500> out{};
  EXPECT_EQ(cache.lookup(keyOf(paaaa), 1, out), 0u);
}

TEST(DnsCacheTest, NegativeAnswerLivesForSoaMinimum) {
  DnsCache cache(64);
  auto q = makeQuery(1, "nx.example.org", dns_type::kA);
  auto p = parse(q);
  auto resp = makeResponse(q, {}, 100, dns_rcode::kNxDomain);  // SOA minimum = 50
  EXPECT_EQ(cacheableTtlSeconds(resp), 50u);
  cache.insert(keyOf(p), resp, 0);
  std::array<uint8_t, 1500> out{};
  EXPECT_GT(cache.lookup(keyOf(p), 49'000, out), 0u);
  EXPECT_EQ(cache.lookup(keyOf(p), 50'001, out), 0u);
}

TEST(DnsCacheTest, ServfailAndTruncatedAnswersAreNotCached) {
  auto q = makeQuery(1, "example.org", dns_type::kA);
  auto servfail = makeResponse(q, {{{192, 0, 2, 1}}}, 60, dns_rcode::kServFail);
  EXPECT_EQ(cacheableTtlSeconds(servfail), 0u);
  auto tc = makeResponse(q, {{{192, 0, 2, 1}}}, 60);
  tc[2] |= 0x02;
  EXPECT_EQ(cacheableTtlSeconds(tc), 0u);
}

TEST(DnsCacheTest, SizeZeroDisablesTheCache) {
  DnsCache cache(0);
  EXPECT_FALSE(cache.enabled());
  auto q = makeQuery(1, "example.org", dns_type::kA);
  auto p = parse(q);
  cache.insert(keyOf(p), makeResponse(q, {{{192, 0, 2, 1}}}, 60), 0);
  std::array<uint8_t, 1500> out{};
  EXPECT_EQ(cache.lookup(keyOf(p), 1, out), 0u);
}

TEST(DnsCacheTest, StaysBoundedAndEvictsWhenFull) {
  DnsCache cache(8);
  std::vector<std::string> names;
  for (int i = 0; i < 100; ++i) names.push_back("n" + std::to_string(i) + ".example.org");
  for (auto& n : names) {
    auto q = makeQuery(1, n, dns_type::kA);
    auto p = parse(q);
    cache.insert(keyOf(p), makeResponse(q, {{{192, 0, 2, 1}}}, 60), 0);
  }
  EXPECT_EQ(cache.stats().inserts, 100u);
  EXPECT_GE(cache.stats().evictions, 90u);
  size_t hits = 0;
  std::array<uint8_t, 1500> out{};
  for (auto& n : names) {
    auto q = makeQuery(1, n, dns_type::kA);
    auto p = parse(q);
    if (cache.lookup(keyOf(p), 1, out) > 0) ++hits;
  }
  EXPECT_LE(hits, 8u);
  EXPECT_GE(hits, 1u);
}

TEST(DnsCacheTest, AnEntryThatChangesSizeMovesToTheRightSlotSizeAndKeepsOthersIntact) {
  // Answers of 1, 12 and 28 addresses fall in the 128-, 256- and 512-byte slot classes; slots
  // freed when an entry moves to another class are reused without touching live entries.
  DnsCache cache(64);
  auto addresses = [](int n) {
    std::vector<std::array<uint8_t, 4>> v;
    for (int i = 0; i < n; ++i) v.push_back({192, 0, 2, static_cast<uint8_t>(i)});
    return v;
  };
  std::array<uint8_t, 1500> out{};
  std::vector<std::vector<uint8_t>> stored(8);
  for (int round = 0; round < 12; ++round) {
    for (int i = 0; i < 8; ++i) {
      auto q = makeQuery(1, "host" + std::to_string(i) + ".example.org", dns_type::kA);
      auto p = parse(q);
      const int sizes[] = {1, 12, 28};
      stored[i] = makeResponse(q, addresses(sizes[(round + i) % 3]), 600);
      ASSERT_LE(stored[i].size(), kMaxCachedMessage);
      cache.insert(keyOf(p), stored[i], round * 1000);
    }
    for (int i = 0; i < 8; ++i) {
      auto q = makeQuery(1, "host" + std::to_string(i) + ".example.org", dns_type::kA);
      auto p = parse(q);
      size_t n = cache.lookup(keyOf(p), round * 1000, out);
      ASSERT_EQ(n, stored[i].size()) << "round " << round << " host " << i;
      EXPECT_TRUE(std::equal(stored[i].begin() + 2, stored[i].end(), out.begin() + 2));
    }
  }
  EXPECT_EQ(cache.stats().hits, 96u);
}

}  // namespace
}  // namespace safegate
