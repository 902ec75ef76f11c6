// The sanity gate for downloaded list versions (daemon/lists/list_gate.h), and the over-blocking
// guard against the real protected lists in ../shared/data (Moz top-500 sites, world
// universities) where they are available.
#include "daemon/lists/list_gate.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "daemon/lists/protected_names_data.h"
#include "filters/domain_name.h"
#include "tests/support/shared_data.h"

namespace safegate {
namespace {

ParsedList parse(std::string_view text) {
  DiagnosticSink sink;
  ListReadOptions o;
  return parseListText(text, "test.txt", o, sink);
}

TEST(ListGateTest, MinimumEntriesShrinkAndUnusableLinesAreRefusedWithTheNumbers) {
  ListGateOptions o;
  o.min_entries = 3;
  ListStats s;
  s.entries = 2;
  Status few = checkListGate(o, s, std::nullopt);
  EXPECT_EQ(few.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(few.message().find("only 2 entries, fewer than the minimum 3"), std::string::npos);

  s.entries = 1000;
  EXPECT_TRUE(checkListGate(o, s, std::nullopt).isOk());  // first version: no shrink check
  EXPECT_TRUE(checkListGate(o, s, 2000).isOk());          // exactly half: allowed
  s.entries = 999;
  Status shrunk = checkListGate(o, s, 2000);
  EXPECT_NE(shrunk.message().find("999 entries against 2000"), std::string::npos)
      << shrunk.message();

  s.entries = 100;
  s.skipped = 50;  // an HTML error page parsed as a list looks like this
  Status junk = checkListGate(o, s, std::nullopt);
  EXPECT_NE(junk.message().find("50 of 150 lines unusable"), std::string::npos) << junk.message();
}

TEST(ListGateTest, EntriesThatWouldBlockAProtectedNameAreQuarantinedTheRestKept) {
  ProtectedNames p;
  p.add("www.ox.ac.uk");
  p.add("wikipedia.org");
  ParsedList l = parse(
      "||casino.example^\n"  // 1: kept
      "||ac.uk^\n"           // 2: subtree over www.ox.ac.uk
      "wikipedia.org\n"      // 3: the protected name itself (adblock: exact)
      "||ox.ac.uk.evil^\n"   // 4: kept (not a parent)
      "ox.ac.uk\n"           // 5: kept: exact, and only www.ox.ac.uk is protected
      "@@||ac.uk^\n");       // 6: allow entries are never touched
  ASSERT_EQ(l.stats.entries, 6u);
  auto q = quarantineProtected(l, p);
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].line, 2u);
  EXPECT_EQ(q[0].name, "ac.uk");
  EXPECT_EQ(q[0].protects, "www.ox.ac.uk");
  EXPECT_EQ(q[1].name, "wikipedia.org");
  EXPECT_EQ(l.stats.entries, 4u);
}

TEST(ListGateTest, MatchKindsDecideWhatAnEntryWouldBlock) {
  ProtectedNames p;
  p.add("ox.ac.uk");
  EXPECT_TRUE(p.blocks("ox.ac.uk", DomainMatchKind::kExact));
  EXPECT_FALSE(p.blocks("ac.uk", DomainMatchKind::kExact));
  EXPECT_TRUE(p.blocks("ac.uk", DomainMatchKind::kSubtree));
  EXPECT_TRUE(p.blocks("ac.uk", DomainMatchKind::kSubdomainsOnly));
  EXPECT_FALSE(p.blocks("ox.ac.uk", DomainMatchKind::kSubdomainsOnly));
  EXPECT_FALSE(p.blocks("x.ox.ac.uk", DomainMatchKind::kSubtree));
}

// Real data: the adult list of 4skinskywalker against the top-500 sites and the universities
// (the data README records that adult lists block popular legitimate names).
TEST(ListGateTest, RealAdultListAgainstRealProtectedNames) {
  const auto top = SAFEGATE_SHARED_DATA_OR_SKIP("topsites-npm-top-sites/domains.txt");
  const auto universities = SAFEGATE_SHARED_DATA_OR_SKIP("education-hipo-universities/domains.txt");
  const auto adult = SAFEGATE_SHARED_DATA_OR_SKIP("adult-4skinskywalker/HOSTS.txt");
  ProtectedNames p;
  for (const auto& file : {top, universities}) {
    std::ifstream in(file);
    ASSERT_TRUE(in) << file;
    std::string line;
    while (std::getline(in, line)) {
      if (auto c = normalizeDomain(line, NameSyntax::kHostname)) p.add(*c);
    }
  }
  ASSERT_GT(p.size(), 5000u);
  DiagnosticSink sink;
  auto l = readListFile(adult.string(), {}, sink);
  ASSERT_TRUE(l.isOk()) << l.status().toString();
  const size_t before = l->stats.entries;
  auto q = quarantineProtected(*l, p);
  EXPECT_FALSE(q.empty()) << "the adult list blocks no protected name any more?";
  EXPECT_LT(q.size(), before / 100);  // a handful, not the list
  for (const auto& e : q) EXPECT_TRUE(p.blocks(e.name, DomainMatchKind::kSubtree)) << e.name;
  EXPECT_EQ(l->stats.entries, before - q.size());
  std::printf("quarantined %zu of %zu entries, e.g. %s (protects %s)\n", q.size(), before,
              q.front().name.c_str(), q.front().protects.c_str());
}

// The names compiled into safegated: the top sites and universities, each with its parents.
TEST(ListGateTest, ShippedProtectedNamesCoverTopSitesAndUniversities) {
  const ProtectedNames p = shippedProtectedNames();
  EXPECT_GT(p.size(), 10'000u);
  EXPECT_TRUE(p.blocks("wikipedia.org", DomainMatchKind::kSubtree));
  EXPECT_TRUE(p.blocks("abdn.ac.uk", DomainMatchKind::kExact));
  EXPECT_TRUE(p.blocks("ac.uk", DomainMatchKind::kSubtree));
  EXPECT_FALSE(p.blocks("casino.example", DomainMatchKind::kSubtree));
}

}  // namespace
}  // namespace safegate
