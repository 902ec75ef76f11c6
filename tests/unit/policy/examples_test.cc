// The shipped examples work as shipped: every examples/*/safegate.toml loads and compiles with
// no error (what `safegatectl check-config` checks), and the config reference in docs/ is the
// one the schema generates.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <sstream>

#include "policy/config.h"
#include "policy/config_schema.h"
#include "policy/policy_engine.h"
#include "tests/support/shared_data.h"

namespace safegate::policy {
namespace {

namespace fs = std::filesystem;

TEST(ExamplesTest, EveryShippedExampleLoadsAndCompiles) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(testing::sourceDir() / "examples")) {
    const fs::path cfg = e.path() / "safegate.toml";
    if (!fs::exists(cfg)) continue;
    ++n;
    DiagnosticSink sink;
    auto loaded = PolicyEngine::load(cfg, sink);
    EXPECT_TRUE(loaded) << cfg << "\n" << sink.toString();
    EXPECT_EQ(sink.errorCount(), 0u) << cfg;
    if (loaded) {
      EXPECT_GT(loaded->snapshot->stats().list_entries, 10000u) << cfg;
    }
  }
  EXPECT_GE(n, 4u) << "home, primary-school, secondary-school, default";
}

// An oversize or stalled ClientHello, or one without SNI, takes the group's
// unresolved_destination — the shipped children's groups must not allow there.
TEST(ExamplesTest, ChildGroupsDoNotAllowUnresolvedDestinations) {
  size_t children = 0;
  for (const auto& e : fs::directory_iterator(testing::sourceDir() / "examples")) {
    const fs::path cfg = e.path() / "safegate.toml";
    if (!fs::exists(cfg)) continue;
    DiagnosticSink sink;
    auto loaded = PolicyEngine::load(cfg, sink);
    ASSERT_TRUE(loaded) << cfg << "\n" << sink.toString();
    for (size_t i = 0; i < loaded->snapshot->groupCount(); ++i) {
      const GroupSettings& g = loaded->snapshot->group(static_cast<uint16_t>(i));
      if (g.profile != "under-9" && g.profile != "9-12" && g.profile != "13-17") continue;
      ++children;
      EXPECT_NE(g.unresolved_destination, UnresolvedMode::kAllow) << cfg << " group " << g.name;
    }
  }
  EXPECT_GE(children, 7u);
}

TEST(ExamplesTest, HomeExampleBlocksForTheYoungChildAndNotForTheParent) {
  DiagnosticSink sink;
  auto loaded = PolicyEngine::load(testing::sourceDir() / "examples/home/safegate.toml", sink);
  ASSERT_TRUE(loaded) << sink.toString();
  RequestFacts f;
  f.name = "facebook.com";
  f.unix_time_seconds = 1795434000;  // 2026-11-23 (Mon) 09:00 UTC
  f.client = *IpAddress::parse("192.168.1.20");
  EXPECT_EQ(loaded->snapshot->decide(f).verdict, Verdict::kBlock);
  f.client = *IpAddress::parse("192.168.1.10");
  EXPECT_EQ(loaded->snapshot->decide(f).verdict, Verdict::kAllow);
  // The bundled starter lists cover the best-known adult sites; the parent's "open" profile
  // leaves adults' browsing alone, the child's blocks it.
  f.name = "www.pornhub.com";
  EXPECT_EQ(loaded->snapshot->decide(f).verdict, Verdict::kAllow);
  f.client = *IpAddress::parse("192.168.1.20");
  const Decision d = loaded->snapshot->decide(f);
  EXPECT_EQ(d.verdict, Verdict::kBlock);
  EXPECT_EQ(d.category, "pornography");
  // Universities stay reachable through the bundled education list.
  f.name = "www.ox.ac.uk";
  EXPECT_EQ(loaded->snapshot->decide(f).reason, DecisionReason::kAllowList);
}

// examples/subscriptions.toml ships commented out (nothing is downloaded unless the
// operator chooses); with every block uncommented it must load — valid keys, categories and
// https:// URLs, unique names — and cover the UKSIC categories that have an open list.
TEST(ExamplesTest, SubscriptionsExampleLoadsWithEveryBlockUncommented) {
  const std::string text = testing::readFile(testing::sourceDir() / "examples/subscriptions.toml");
  std::istringstream in(text);
  std::string uncommented;
  size_t blocks = 0;
  for (std::string line; std::getline(in, line);) {
    EXPECT_TRUE(line.empty() || line.starts_with("#")) << "active line in the example: " << line;
    if (line.starts_with("# ")) {
      uncommented += line.substr(2) + "\n";
      if (line == "# [[lists]]") ++blocks;
    }
  }
  testing::TempDir dir;
  const fs::path cfg =
      dir.write("safegate.toml", "[daemon]\nstate_dir = \"" + (dir.path() / "state").string() +
                                     "\"\n" + uncommented);
  DiagnosticSink sink;
  auto loaded = loadConfig(cfg, sink);
  ASSERT_TRUE(loaded) << sink.toString();
  EXPECT_EQ(sink.errorCount(), 0u) << sink.toString();
  EXPECT_EQ(loaded->lists.size(), blocks);
  std::set<std::string> categories;
  for (const auto& l : loaded->lists) {
    EXPECT_TRUE(l.subscription) << l.name;
    categories.insert(l.category);
  }
  for (const char* c : {"pornography", "gambling", "malware", "drugs", "piracy", "violence",
                        "extremism", "circumvention", "unsafe-search"}) {
    EXPECT_TRUE(categories.contains(c)) << c;
  }
}

TEST(ConfigReferenceTest, CommittedReferenceIsGeneratedFromTheSchema) {
  const std::string committed =
      testing::readFile(testing::sourceDir() / "docs/config-reference.md");
  EXPECT_EQ(committed, generateConfigReference())
      << "docs/config-reference.md is stale: run `safegatectl config-reference > "
         "docs/config-reference.md`";
}

}  // namespace
}  // namespace safegate::policy
