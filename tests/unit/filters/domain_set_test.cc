#include "filters/domain_set.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace safegate {
namespace {

DomainSet makeSet() {
  DomainSet::Builder b;
  b.add("example.com", DomainMatchKind::kSubtree, 1, 10);
  b.add("exact.org", DomainMatchKind::kExact, 1, 11);
  b.add("ads.example.com", DomainMatchKind::kExact, 2, 12);
  b.add("cdn.net", DomainMatchKind::kSubdomainsOnly, 3, 13);
  b.add("deep.a.example.com", DomainMatchKind::kSubtree, 1, 14);
  return b.build();
}

TEST(DomainSetTest, MatchesSubdomainOfListedSuffix) {
  const DomainSet s = makeSet();
  auto m = s.find("www.example.com");
  ASSERT_TRUE(m);
  EXPECT_EQ(m.name, "example.com");
  EXPECT_EQ(m.line, 10u);
  EXPECT_EQ(m.list_id, 1);
  EXPECT_EQ(m.kind, DomainMatchKind::kSubtree);
  EXPECT_TRUE(s.find("example.com"));
}

TEST(DomainSetTest, DoesNotMatchSiblingThatSharesSuffixText) {
  const DomainSet s = makeSet();
  EXPECT_FALSE(s.find("badexample.com"));
  EXPECT_FALSE(s.find("com"));
  EXPECT_FALSE(s.find("example.co"));
}

TEST(DomainSetTest, ExactEntryCoversOnlyTheNameItself) {
  const DomainSet s = makeSet();
  EXPECT_TRUE(s.find("exact.org"));
  EXPECT_FALSE(s.find("www.exact.org"));
}

TEST(DomainSetTest, ExactBeatsSubtreeAndLongerSuffixBeatsShorter) {
  const DomainSet s = makeSet();
  auto m = s.find("ads.example.com");
  ASSERT_TRUE(m);
  EXPECT_EQ(m.kind, DomainMatchKind::kExact);
  EXPECT_EQ(m.line, 12u);
  // The exact entry does not cover its subdomains: the parent subtree does.
  m = s.find("x.ads.example.com");
  ASSERT_TRUE(m);
  EXPECT_EQ(m.line, 10u);
  m = s.find("x.deep.a.example.com");
  ASSERT_TRUE(m);
  EXPECT_EQ(m.line, 14u);
  EXPECT_EQ(m.name, "deep.a.example.com");
}

TEST(DomainSetTest, SubdomainsOnlyEntryDoesNotCoverItsApex) {
  const DomainSet s = makeSet();
  EXPECT_FALSE(s.find("cdn.net"));
  auto m = s.find("a.cdn.net");
  ASSERT_TRUE(m);
  EXPECT_EQ(m.kind, DomainMatchKind::kSubdomainsOnly);
}

TEST(DomainSetTest, FindAllReturnsEveryCoveringEntryMostSpecificFirst) {
  const DomainSet s = makeSet();
  std::array<DomainSet::Match, 8> out;
  const size_t n = s.findAll("x.deep.a.example.com", out);
  ASSERT_EQ(n, 2u);
  EXPECT_EQ(out[0].line, 14u);
  EXPECT_EQ(out[1].line, 10u);
}

TEST(DomainSetTest, KeepsTheFirstOfDuplicateEntries) {
  DomainSet::Builder b;
  b.add("dup.com", DomainMatchKind::kSubtree, 2, 5);
  b.add("dup.com", DomainMatchKind::kSubtree, 1, 9);
  b.add("dup.com", DomainMatchKind::kSubtree, 1, 3);
  b.add("dup.com", DomainMatchKind::kExact, 1, 4);
  const DomainSet s = b.build();
  EXPECT_EQ(s.size(), 2u);
  EXPECT_EQ(s.duplicates(), 2u);
  auto m = s.find("dup.com");
  EXPECT_EQ(m.kind, DomainMatchKind::kExact);
  m = s.find("a.dup.com");
  EXPECT_EQ(m.list_id, 1);
  EXPECT_EQ(m.line, 3u);
}

TEST(DomainSetTest, KeepsEscapedDotNamesDistinctFromTwoLabels) {
  DomainSet::Builder b;
  b.add("a\\.b.com", DomainMatchKind::kSubtree, 1, 1);
  const DomainSet s = b.build();
  EXPECT_TRUE(s.find("a\\.b.com"));
  EXPECT_TRUE(s.find("x.a\\.b.com"));
  EXPECT_FALSE(s.find("a.b.com"));
  EXPECT_FALSE(s.find("b.com"));
}

TEST(DomainSetTest, EmptySetMatchesNothing) {
  const DomainSet s = DomainSet::Builder().build();
  EXPECT_FALSE(s.find("example.com"));
  EXPECT_EQ(s.memoryBytes(), 0u);
  const DomainSet d;
  EXPECT_FALSE(d.find("example.com"));
}

TEST(DomainSetTest, FindsEveryOneOfManyEntriesAndNoStrangers) {
  DomainSet::Builder b;
  constexpr int kCount = 200000;
  for (int i = 0; i < kCount; ++i) {
    b.add("host" + std::to_string(i) + ".example" + std::to_string(i % 97) + ".com",
          i % 2 ? DomainMatchKind::kSubtree : DomainMatchKind::kExact, 1,
          static_cast<uint32_t>(i + 1));
  }
  const DomainSet s = b.build();
  ASSERT_EQ(s.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    const std::string name =
        "host" + std::to_string(i) + ".example" + std::to_string(i % 97) + ".com";
    auto m = s.find(name);
    ASSERT_TRUE(m) << name;
    ASSERT_EQ(m.line, static_cast<uint32_t>(i + 1));
    ASSERT_EQ(static_cast<bool>(s.find("www." + name)), i % 2 == 1) << name;
    ASSERT_FALSE(s.find("nothost" + std::to_string(i) + ".com"));
  }
  // The memory promise: at most 32 bytes per entry including everything explain needs.
  EXPECT_LE(s.memoryBytes(), 32u * s.size());
}

TEST(DomainSetTest, MatchesEntriesOfEveryLabelCountIncludingATopLevelDomain) {
  DomainSet::Builder b;
  b.add("zip", DomainMatchKind::kSubtree, 1, 1);
  b.add("a.b.c.d.e.example", DomainMatchKind::kSubtree, 1, 2);
  const DomainSet s = b.build();
  EXPECT_EQ(s.find("x.y.zip").line, 1u);
  EXPECT_EQ(s.find("zip").line, 1u);
  EXPECT_EQ(s.find("q.a.b.c.d.e.example").line, 2u);
  EXPECT_FALSE(s.find("b.c.d.e.example"));
  EXPECT_FALSE(s.find("zap"));
}

TEST(DomainSetTest, FingerprintDependsOnLabelBoundaries) {
  EXPECT_NE(domainFingerprint("ab.c", 7), domainFingerprint("a.bc", 7));
  EXPECT_NE(domainFingerprint("a.b", 7), domainFingerprint("b.a", 7));
  EXPECT_EQ(domainFingerprint("a.b", 7), domainFingerprint("a.b", 7));
  EXPECT_EQ(domainFingerprint("", 7), 0u);
}

}  // namespace
}  // namespace safegate
