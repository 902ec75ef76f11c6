#include "policy/name_index.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace safegate::policy {
namespace {

struct Hit {
  uint16_t list;
  uint32_t line;
  std::string suffix;
};

std::vector<Hit> matches(const NameIndex& idx, std::string_view name) {
  std::vector<Hit> hits;
  idx.forEachMatch(name, [&](const NameRef& r, std::string_view suffix) {
    hits.push_back({r.list, r.line, std::string(suffix)});
  });
  return hits;
}

std::string randomName(std::mt19937_64& rng, size_t i) {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s;
  const size_t len = 4 + rng() % 12;
  for (size_t k = 0; k < len; ++k) s += kChars[rng() % 36];
  return s + "-" + std::to_string(i) + ".test";
}

TEST(NameIndex, EveryAddedNameIsFoundAndOtherNamesAreNot) {
  // Enough entries for long probe runs at the 0.8 load factor, so the ordered layout's early
  // stop (first larger fingerprint) is exercised on hits and misses alike.
  std::mt19937_64 rng(7);
  std::vector<std::string> names;
  NameIndex::Builder b;
  for (size_t i = 0; i < 200000; ++i) {
    names.push_back(randomName(rng, i));
    b.add(names.back(), DomainMatchKind::kSubtree, 1, static_cast<uint32_t>(i + 1), 0);
  }
  const NameIndex idx = b.build();
  EXPECT_EQ(idx.entries(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    const auto hits = matches(idx, "www." + names[i]);
    ASSERT_EQ(hits.size(), 1u) << names[i];
    EXPECT_EQ(hits[0].line, i + 1);
    EXPECT_EQ(hits[0].suffix, names[i]);
  }
  for (size_t i = 0; i < 200000; ++i) {
    EXPECT_TRUE(matches(idx, "absent-" + std::to_string(i) + ".test").empty());
  }
  // Memory: about 20 bytes per entry (0.8 load, 16-byte slots), rounded to 2 MiB pages.
  EXPECT_LE(idx.memoryBytes(), names.size() * 20 + (size_t{2} << 20) + 4096);
}

TEST(NameIndex, ANameInSeveralListsYieldsEveryListMostSpecificSuffixFirst) {
  NameIndex::Builder b;
  b.add("example.com", DomainMatchKind::kSubtree, 1, 10, 0);
  b.add("example.com", DomainMatchKind::kSubtree, 2, 20, NameRef::kAllow);
  b.add("ads.example.com", DomainMatchKind::kExact, 3, 30, 0);
  b.add("cdn.example.com", DomainMatchKind::kSubdomainsOnly, 4, 40, 0);
  const NameIndex idx = b.build();

  auto hits = matches(idx, "ads.example.com");
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0].list, 3);
  EXPECT_EQ(hits[0].suffix, "ads.example.com");
  EXPECT_EQ(hits[1].suffix, "example.com");
  EXPECT_EQ(hits[2].suffix, "example.com");
  EXPECT_NE(hits[1].list, hits[2].list);

  // An exact entry does not cover subdomains; a subdomains-only entry not the name itself.
  EXPECT_EQ(matches(idx, "x.ads.example.com").size(), 2u);
  EXPECT_EQ(matches(idx, "cdn.example.com").size(), 2u);
  EXPECT_EQ(matches(idx, "a.cdn.example.com").size(), 3u);
  EXPECT_TRUE(matches(idx, "example.org").empty());
}

TEST(NameIndex, AnEmptyIndexMatchesNothing) {
  NameIndex::Builder b;
  const NameIndex idx = b.build();
  EXPECT_TRUE(matches(idx, "example.com").empty());
  EXPECT_EQ(idx.entries(), 0u);
}

}  // namespace
}  // namespace safegate::policy
