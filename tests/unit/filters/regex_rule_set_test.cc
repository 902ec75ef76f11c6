#include "filters/regex_rule_set.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/shared_data.h"

namespace safegate {
namespace {

using testing::TempDir;

SourceLocation at(uint32_t line) { return SourceLocation{"rules.txt", line, 0}; }

std::shared_ptr<const RegexRuleSet> buildOrDie(RegexRuleSet::Builder& b, DiagnosticSink& sink) {
  auto r = b.build(sink);
  EXPECT_TRUE(r) << r.status().toString() << sink.toString();
  return r ? *r : nullptr;
}

std::shared_ptr<const RegexRuleSet> buildFrom(std::initializer_list<std::string_view> patterns,
                                              RegexRuleSetOptions options = {}) {
  RegexRuleSet::Builder b(options);
  DiagnosticSink sink;
  uint32_t line = 0;
  for (auto p : patterns) {
    ++line;
    EXPECT_TRUE(b.add(p, at(line), 100 + line, sink)) << sink.toString();
  }
  return buildOrDie(b, sink);
}

TEST(RegexRuleSetTest, FirstMatchingRuleInFileOrderWins) {
  auto set = buildFrom({"casino", "(^|\\.)online-casino\\.", "bet"});
  ASSERT_TRUE(set);
  // "online-casino.bet" matches all three rules; the first one added wins.
  auto m = set->match("www.online-casino.bet");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->index, 0u);
  EXPECT_EQ(m->value, 101u);
  EXPECT_EQ(set->match("betting.example"), (RegexMatch{2, 103}));
  EXPECT_FALSE(set->match("example.com"));
  EXPECT_EQ(set->explain(1), "/(^|\\.)online-casino\\./ (rules.txt:2)");
  EXPECT_EQ(set->rule(2).where.line, 3u);
}

TEST(RegexRuleSetTest, MatchesHostNamesCaseInsensitivelyByDefault) {
  auto set = buildFrom({"^ads?[0-9]*\\."});
  ASSERT_TRUE(set);
  EXPECT_TRUE(set->match("AD7.Example.COM"));
  RegexRuleSetOptions sensitive;
  sensitive.case_insensitive = false;
  auto strict = buildFrom({"^ads?[0-9]*\\."}, sensitive);
  ASSERT_TRUE(strict);
  EXPECT_FALSE(strict->match("AD7.Example.COM"));
  EXPECT_TRUE(strict->match("ad7.example.com"));
}

TEST(RegexRuleSetTest, RejectsInvalidPatternsWithLocationAndKeepsTheRest) {
  RegexRuleSet::Builder b;
  DiagnosticSink sink;
  EXPECT_TRUE(b.add("good", at(1), 1, sink));
  EXPECT_FALSE(b.add("(unclosed", at(2), 2, sink));
  EXPECT_FALSE(b.add("(?<name>x)y", at(3), 3, sink));  // RE2 spells it (?P<name>)
  EXPECT_FALSE(b.add("(a)\\1", at(4), 4, sink));       // backreferences are not RE2
  EXPECT_FALSE(b.add("", at(5), 5, sink));
  EXPECT_TRUE(b.add("also-good", at(6), 6, sink));
  ASSERT_EQ(sink.errorCount(), 4u) << sink.toString();
  const auto& d = sink.all();
  EXPECT_EQ(d[0].where.toString(), "rules.txt:2");
  EXPECT_NE(d[0].message.find("missing )"), std::string::npos) << d[0].message;
  EXPECT_NE(d[0].message.find("/(unclosed/"), std::string::npos);
  EXPECT_EQ(d[2].where.line, 4u);
  EXPECT_NE(d[2].message.find("invalid escape"), std::string::npos) << d[2].message;
  EXPECT_NE(d[3].message.find("empty pattern"), std::string::npos);
  auto set = buildOrDie(b, sink);
  ASSERT_TRUE(set);
  EXPECT_EQ(set->size(), 2u);
  EXPECT_EQ(set->match("also-good.example"), (RegexMatch{0, 1}));  // "good" comes first
  EXPECT_EQ(set->match("also-goo.example"), std::nullopt);
}

TEST(RegexRuleSetTest, RejectsPatternWhoseProgramIsTooLarge) {
  RegexRuleSetOptions o;
  o.max_program_size = 200;
  RegexRuleSet::Builder b(o);
  DiagnosticSink sink;
  EXPECT_TRUE(b.add("[a-z]{10}", at(1), 1, sink));
  EXPECT_FALSE(b.add("[a-z]{300}", at(2), 2, sink));
  ASSERT_EQ(sink.errorCount(), 1u);
  EXPECT_EQ(sink.all()[0].where.line, 2u);
  EXPECT_NE(sink.all()[0].message.find("more than the limit of 200"), std::string::npos)
      << sink.all()[0].message;
  // RE2's own hard limit (repeat count over 1000) is an RE2 syntax error, also located.
  EXPECT_FALSE(b.add("a{1001}", at(3), 3, sink));
  EXPECT_EQ(sink.all().back().where.line, 3u);
}

TEST(RegexRuleSetTest, RejectsOverlongPatternAndPatternMatchingEverything) {
  RegexRuleSetOptions o;
  o.max_pattern_length = 16;
  o.reject_severity = Severity::kWarning;
  RegexRuleSet::Builder b(o);
  DiagnosticSink sink;
  EXPECT_FALSE(b.add("abcdefghijklmnopq", at(1), 1, sink));
  EXPECT_FALSE(b.add("x*", at(2), 2, sink));
  EXPECT_FALSE(b.add("porn|", at(3), 3, sink));
  EXPECT_TRUE(b.add("^$", at(4), 4, sink));  // matches only the empty string: harmless
  EXPECT_EQ(sink.errorCount(), 0u);
  ASSERT_EQ(sink.warningCount(), 3u);
  EXPECT_NE(sink.all()[1].message.find("matches every host name"), std::string::npos);
}

TEST(RegexRuleSetTest, EmptySetBuildsAndNeverMatches) {
  RegexRuleSet::Builder b;
  DiagnosticSink sink;
  auto set = buildOrDie(b, sink);
  ASSERT_TRUE(set);
  EXPECT_EQ(set->size(), 0u);
  EXPECT_FALSE(set->match("anything.example"));
  EXPECT_TRUE(sink.all().empty());
}

TEST(RegexRuleSetTest, SetThatDoesNotFitTheMemoryBudgetFailsWithDiagnostic) {
  RegexRuleSetOptions o;
  o.max_mem_bytes = 256 << 10;
  RegexRuleSet::Builder b(o);
  DiagnosticSink sink;
  for (uint32_t i = 0; i < 2000; ++i) {
    ASSERT_TRUE(
        b.add("(^|\\.)word" + std::to_string(i) + "[a-z]*\\.(com|net)$", at(i + 1), i, sink));
  }
  auto r = b.build(sink);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(sink.hasErrors());
  EXPECT_NE(sink.toString().find("do not fit in the RE2 memory budget"), std::string::npos);
}

// The Scunthorpe problem (../shared/data/README.md): a keyword rule over host names hits
// innocent names. This documents the danger and shows the label-bounded form that avoids it.
TEST(RegexRuleSetTest, NaiveKeywordRuleHitsInnocentNamesButLabelBoundedRuleDoesNot) {
  auto naive = buildFrom({"sex", "rapist"});
  ASSERT_TRUE(naive);
  for (const char* innocent : {"essex.ac.uk", "sussex.ac.uk", "middlesex.edu", "therapist.com",
                               "www.therapistsforkids.org"}) {
    EXPECT_TRUE(naive->match(innocent)) << innocent << " (the danger this test documents)";
  }
  // A rule bounded by labels (or '-' inside a label) only hits the word itself.
  auto bounded = buildFrom({"(^|[.-])sex([.-]|$)", "(^|[.-])rapist([.-]|$)"});
  ASSERT_TRUE(bounded);
  for (const char* innocent : {"essex.ac.uk", "sussex.ac.uk", "middlesex.edu", "therapist.com",
                               "www.therapistsforkids.org", "sextant.example"}) {
    EXPECT_FALSE(bounded->match(innocent)) << innocent;
  }
  EXPECT_TRUE(bounded->match("sex.example.com"));
  EXPECT_TRUE(bounded->match("free-sex-chat.example"));
}

TEST(RegexRuleSetTest, NaiveKeywordRuleBlocksRealUniversities) {
  auto path = SAFEGATE_SHARED_DATA_OR_SKIP("education-hipo-universities/domains.txt");
  auto naive = buildFrom({"sex"});
  auto bounded = buildFrom({"(^|[.-])sex([.-]|$)"});
  ASSERT_TRUE(naive && bounded);
  std::ifstream in(path);
  std::string line;
  size_t total = 0, naive_hits = 0, bounded_hits = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ++total;
    if (naive->match(line)) ++naive_hits;
    if (bounded->match(line)) ++bounded_hits;
  }
  EXPECT_GT(total, 5000u);
  EXPECT_GE(naive_hits, 6u);  // essex.ac.uk, sussex.ac.uk, middlesex.mass.edu, ...
  EXPECT_EQ(bounded_hits, 0u);
}

// Adds every pattern of an expressions file with one value, reporting rejections to `sink`.
Status addExpressionsFile(RegexRuleSet::Builder& b, const std::filesystem::path& path,
                          uint32_t value, DiagnosticSink& sink) {
  return readExpressionsFile(path, [&](std::string_view pattern, const SourceLocation& where) {
    b.add(pattern, where, value, sink);
  });
}

TEST(ReadExpressionsFileTest, LoadsSquidGuardExpressionsFromUt1) {
  auto path = SAFEGATE_SHARED_DATA_OR_SKIP("ut1-blacklists/strict_redirector/expressions");
  RegexRuleSetOptions o;
  o.target = RegexTarget::kUrl;
  o.reject_severity = Severity::kWarning;
  RegexRuleSet::Builder b(o);
  DiagnosticSink sink;
  ASSERT_TRUE(addExpressionsFile(b, path, 7, sink).isOk());
  EXPECT_TRUE(sink.all().empty()) << sink.toString();
  auto set = buildOrDie(b, sink);
  ASSERT_TRUE(set);
  EXPECT_EQ(set->size(), 1u);
  auto m = set->match("images.google.com/images?q=tbn:ANd9GcQ");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->value, 7u);
  EXPECT_EQ(set->rule(0).where.line, 1u);
  EXPECT_FALSE(set->match("www.google.com/maps"));
  // Every ut1 expressions file loads (most are empty in this snapshot) without rejections.
  auto root = SAFEGATE_SHARED_DATA_OR_SKIP("ut1-blacklists");
  for (const auto& dir : std::filesystem::directory_iterator(root)) {
    auto file = dir.path() / "expressions";
    if (!std::filesystem::exists(file)) continue;
    RegexRuleSet::Builder each(o);
    DiagnosticSink s;
    ASSERT_TRUE(addExpressionsFile(each, file, 0, s).isOk()) << file;
    EXPECT_EQ(s.warningCount(), 0u) << s.toString();
    ASSERT_TRUE(each.build(s)) << file;
  }
}

TEST(ReadExpressionsFileTest, GivesEachPatternWithItsFileAndLine) {
  TempDir dir;
  auto path = dir.write("expressions",
                        "# squidGuard expressionlist\n"
                        "(^|\\.)casino[0-9]*\\.\r\n"
                        "\n"
                        "  \t# an indented comment\n"
                        "\t(porn|xxx)\\1 \t\n"
                        "   \r\n"
                        "[[:alpha:]]+tube\\.com/watch\n"
                        "(?<=foo)bar");  // no newline at the end
  std::vector<std::pair<std::string, std::string>> seen;
  ASSERT_TRUE(readExpressionsFile(path, [&](std::string_view pattern, const SourceLocation& at) {
                seen.emplace_back(pattern, at.toString());
              }).isOk());
  const std::string f = path.string();
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, std::string>>{
                      {"(^|\\.)casino[0-9]*\\.", f + ":2"},
                      {"(porn|xxx)\\1", f + ":5"},
                      {"[[:alpha:]]+tube\\.com/watch", f + ":7"},
                      {"(?<=foo)bar", f + ":8"},
                  }));
}

// Each line can carry a value of its own (policy keeps every pattern's text, file and line by
// value), and the lines RE2 rejects are reported with their file:line.
TEST(ReadExpressionsFileTest, BuilderReportsExactlyWhichLinesRe2Rejects) {
  TempDir dir;
  auto path = dir.write("expressions",
                        "# squidGuard expressionlist\n"
                        "(^|\\.)casino[0-9]*\\.\r\n"
                        "\n"
                        "(porn|xxx)\\1\n"
                        "   \n"
                        "[[:alpha:]]+tube\\.com/watch\n"
                        "(?<=foo)bar\n");
  RegexRuleSetOptions o;
  o.target = RegexTarget::kUrl;
  o.reject_severity = Severity::kWarning;
  RegexRuleSet::Builder b(o);
  DiagnosticSink sink;
  ASSERT_TRUE(readExpressionsFile(path, [&](std::string_view pattern, const SourceLocation& at) {
                b.add(pattern, at, at.line * 10, sink);
              }).isOk());
  ASSERT_EQ(sink.warningCount(), 2u) << sink.toString();
  EXPECT_EQ(sink.all()[0].where.toString(), path.string() + ":4");
  EXPECT_NE(sink.all()[0].message.find("invalid escape sequence: \\1"), std::string::npos)
      << sink.all()[0].message;
  EXPECT_EQ(sink.all()[1].where.line, 7u);
  EXPECT_NE(sink.all()[1].message.find("invalid perl operator: (?<"), std::string::npos)
      << sink.all()[1].message;
  auto set = buildOrDie(b, sink);
  ASSERT_TRUE(set);
  EXPECT_EQ(set->size(), 2u);
  EXPECT_EQ(set->rule(0).where.toString(), path.string() + ":2");
  EXPECT_EQ(set->rule(1).where.toString(), path.string() + ":6");
  EXPECT_EQ(set->match("www.redtube.com/watch?v=1"), (RegexMatch{1, 60}));
  EXPECT_EQ(set->match("casino7.example/"), (RegexMatch{0, 20}));
}

TEST(ReadExpressionsFileTest, UnreadableOrOversizedFileIsAnErrorAtItsPath) {
  TempDir dir;
  size_t calls = 0;
  auto count = [&](std::string_view, const SourceLocation&) { ++calls; };
  const auto missing = dir.path() / "missing";
  Status st = readExpressionsFile(missing, count);
  EXPECT_FALSE(st.isOk());
  EXPECT_EQ(st.where().toString(), missing.string());
  EXPECT_FALSE(st.message().empty());
  EXPECT_FALSE(readExpressionsFile(dir.path(), count).isOk());  // a directory
  // One octet over the limit (sparse: the size is all that is checked before reading).
  const auto big = dir.write("big", "");
  std::filesystem::resize_file(big, (uintmax_t{16} << 20) + 1);
  st = readExpressionsFile(big, count);
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(st.where().toString(), big.string());
  EXPECT_NE(st.message().find("16 MiB"), std::string::npos) << st.message();
  EXPECT_EQ(calls, 0u);
}

// The per-rule fallback (used when RE2 reports kOutOfMemory) must give the same answers as the
// set, including which rule wins.
TEST(RegexRuleSetTest, PerRuleFallbackAgreesWithTheSet) {
  RegexRuleSet::Builder b;
  DiagnosticSink sink;
  std::mt19937 rng(7);
  auto word = [&](int n) {
    std::string w;
    for (int i = 0; i < n; ++i) w += static_cast<char>('a' + rng() % 6);
    return w;
  };
  for (uint32_t i = 0; i < 300; ++i) {
    std::string p = i % 3 == 0   ? word(3)
                    : i % 3 == 1 ? "(^|\\.)" + word(3) + "[0-9]*\\."
                                 : word(2) + ".*" + word(2) + "$";
    ASSERT_TRUE(b.add(p, at(i + 1), i, sink)) << sink.toString();
  }
  auto set = buildOrDie(b, sink);
  ASSERT_TRUE(set);
  size_t hits = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string host = word(4 + rng() % 6) + "." + word(3) + ".com";
    auto a = set->match(host);
    ASSERT_EQ(a, set->matchEachRule(host)) << host;
    if (a) ++hits;
  }
  EXPECT_GT(hits, 100u);
  EXPECT_EQ(set->stats().out_of_memory, 0u);
  EXPECT_EQ(set->stats().fallback_evaluations, 0u);
}

TEST(RegexRuleSetTest, SamplesMatchTimesForTheSlowDfaCounter) {
  RegexRuleSetOptions o;
  o.slow_match_sample_interval = 4;
  RegexRuleSet::Builder b(o);
  DiagnosticSink sink;
  ASSERT_TRUE(b.add("tracker", at(1), 1, sink));
  auto set = buildOrDie(b, sink);
  ASSERT_TRUE(set);
  // The sampling countdown is per thread (shared by every set on it); use a fresh thread.
  std::thread([&] {
    for (int i = 0; i < 40; ++i) set->match("www.example.com");
  }).join();
  // One call in four on that thread was timed (the first one included).
  EXPECT_EQ(set->stats().sampled_matches, 10u);
}

TEST(RegexRuleSetTest, ConcurrentMatchersAgree) {
  auto set = buildFrom({"casino", "(^|\\.)bet[0-9]*\\.", "porn"});
  ASSERT_TRUE(set);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) {
        if (set->match("bet365.example") != RegexMatch{1, 102}) ++wrong;
        if (set->match("www.example.org")) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace safegate
