#include "policy/policy_engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "tests/support/shared_data.h"

// Counts heap allocations made by this thread while armed, to prove decide() allocates nothing.
// The replacements pair malloc with free on purpose; GCC 12 sees free() inlined into a caller's
// delete of what operator new returned and calls it mismatched (-Wmismatched-new-delete).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
namespace {
thread_local bool g_counting = false;
thread_local size_t g_allocations = 0;
}  // namespace

void* operator new(size_t n) {
  if (g_counting) ++g_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  if (g_counting) ++g_allocations;
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](size_t n, const std::nothrow_t&) noexcept {
  return operator new(n, std::nothrow);
}
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace safegate::policy {
namespace {

constexpr const char* kConfig = R"TOML(
[policy]
time_zone = "Europe/London"
default_group = "pupils"
[[lists]]
name = "adult"
category = "pornography"
sources = ["adult.txt"]
[[lists]]
name = "iwf"
category = "child-abuse"
sources = ["iwf.txt"]
[[rules]]
name = "kw"
category = "extremism"
patterns = ["(^|\\.)extremist-forum(\\.|$)"]
[[schedules]]
name = "lessons"
windows = ["mon-fri 09:00-15:00"]
[[groups]]
name = "pupils"
profile = "13-17"
strip_ech = true
quic = "drop"
[[groups.schedules]]
schedule = "lessons"
categories = { social = "block" }
[[groups]]
name = "staff"
profile = "staff"
block_answer = "refused"
strip_ech = false
[[clients]]
name = "staff"
group = "staff"
addresses = ["10.0.8.0/24"]
)TOML";

class PolicyEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("adult.txt", "adult.example\n");
    dir_.write("iwf.txt", "secret-abuse.example\n");
    DiagnosticSink sink;
    auto loaded = PolicyEngine::load(dir_.write("c.toml", kConfig), sink);
    ASSERT_TRUE(loaded) << sink.toString();
    snap_ = loaded->snapshot;
  }
  Decision decide(std::string_view name, const char* client = "10.0.1.1",
                  const ExceptionTable* ex = nullptr, int64_t t = 1795434000) {
    facts_.client = *IpAddress::parse(client);
    facts_.name = name;
    facts_.unix_time_seconds = t;
    return snap_->decide(facts_, ex);
  }
  testing::TempDir dir_;
  PolicySnapshotPtr snap_;
  RequestFacts facts_;
};

// Known gap: when a regex rule MATCHES, RE2::Set::Match(text, &indices) allocates a SparseSet
// inside RE2 (filters/regex_rule_set.cc asks for the indices); every other path, including
// regex misses, allocates nothing.
TEST_F(PolicyEngineTest, DecideDoesNotAllocateExceptInsideRe2OnARegexMatch) {
  auto table = std::make_shared<ExceptionTable>();
  TemporaryException e;
  e.kind = TemporaryException::Kind::kCategory;
  e.scope = TemporaryException::Scope::kGroup;
  e.group = "pupils";
  e.category = "gambling";
  e.created_unix_seconds = 0;
  e.until_unix_seconds = 2000000000;
  e.granted_by = "teacher";
  auto t2 = table->withAdded(e);
  ASSERT_TRUE(t2);
  const char* names[] = {"www.adult.example",       "secret-abuse.example", "www.google.com",
                         "use-application-dns.net", "plain.example",        "pupils.example"};
  // Warm up: per-thread scratch buffers (RE2 set matching) grow once, then are reused; the
  // rule is "no allocation in steady state".
  for (const char* n : names) decide(n, "10.0.1.1", t2->get());
  g_allocations = 0;
  g_counting = true;
  size_t blocked = 0;
  for (const char* n : names)
    blocked += decide(n, "10.0.1.1", t2->get()).verdict == Verdict::kBlock;
  g_counting = false;
  EXPECT_EQ(g_allocations, 0u);
  EXPECT_EQ(blocked, 3u);
}

TEST_F(PolicyEngineTest, IllegalListEntriesAreConfidentialAndNeverOverridden) {
  auto table = std::make_shared<ExceptionTable>();
  TemporaryException pause;
  pause.kind = TemporaryException::Kind::kPause;
  pause.scope = TemporaryException::Scope::kGroup;
  pause.group = "staff";
  pause.until_unix_seconds = 2000000000;
  pause.granted_by = "head";
  auto t2 = table->withAdded(pause);
  ASSERT_TRUE(t2);
  const Decision d = decide("secret-abuse.example", "10.0.8.1", t2->get());
  EXPECT_EQ(d.verdict, Verdict::kBlock);
  EXPECT_EQ(d.reason, DecisionReason::kIllegalList);
  EXPECT_TRUE(d.confidential);
  EXPECT_TRUE(d.rule.empty());
  EXPECT_TRUE(d.source_file.empty());
  EXPECT_EQ(d.category, "child-abuse");
  EXPECT_EQ(renderReason(d).find("secret-abuse"), std::string::npos);
}

TEST_F(PolicyEngineTest, ExceptionTableRefusesIllegalCategoriesAndNeedsWhoGrantedIt) {
  ExceptionTable t;
  TemporaryException e;
  e.kind = TemporaryException::Kind::kCategory;
  e.category = "terrorism";
  e.until_unix_seconds = 10;
  e.granted_by = "x";
  EXPECT_FALSE(t.withAdded(e));
  e.category = "games";
  e.granted_by = "";
  EXPECT_FALSE(t.withAdded(e));
  e.granted_by = "parent";
  auto ok = t.withAdded(e);
  ASSERT_TRUE(ok);
  EXPECT_EQ((*ok)->entries().size(), 1u);
  EXPECT_EQ((*ok)->entries()[0].id, 1u);
  EXPECT_TRUE((*ok)->withoutExpired(10)->empty());
  EXPECT_TRUE((*ok)->withRemoved(1));
  EXPECT_FALSE((*ok)->withRemoved(7));
}

TEST_F(PolicyEngineTest, DecisionCarriesGroupSettingsForTheDaemon) {
  const Decision pupil = decide("www.adult.example");
  EXPECT_EQ(pupil.group, "pupils");
  EXPECT_TRUE(pupil.strip_ech);
  EXPECT_EQ(snap_->group(pupil.group_index).quic, QuicMode::kDrop);
  EXPECT_EQ(pupil.source_line, 1u);
  EXPECT_EQ(pupil.rule, "adult.example");
  const Decision staff = decide("www.adult.example", "10.0.8.7");
  EXPECT_EQ(staff.group, "staff");
  EXPECT_EQ(staff.verdict, Verdict::kBlock);
  EXPECT_EQ(staff.block_answer, BlockAnswer::kRefused);
  EXPECT_FALSE(staff.strip_ech);
  EXPECT_EQ(snap_->clientName(*IpAddress::parse("10.0.8.7"), std::nullopt), "staff");
}

TEST_F(PolicyEngineTest, RegexRuleDecidesWithItsCategoryAndLocation) {
  const Decision d = decide("www.extremist-forum.example");
  EXPECT_EQ(d.verdict, Verdict::kBlock);
  EXPECT_EQ(d.reason, DecisionReason::kRegexRule);
  EXPECT_EQ(d.category, "extremism");
  EXPECT_TRUE(d.alert);
  EXPECT_NE(d.source_file.find("c.toml"), std::string_view::npos);
}

TEST_F(PolicyEngineTest, RegexRulesFromAFileKeepEachPatternsTextAndLine) {
  dir_.write("kw.txt",
             "# keyword rules\n"
             "  (^|\\.)casino[0-9]*\\.  \r\n"
             "\n"
             "\t(^|\\.)bet-[a-z]+\\.example$\t\n");
  DiagnosticSink sink;
  auto loaded = PolicyEngine::load(dir_.write("rules.toml",
                                              "[policy]\ndefault_group = \"kids\"\n"
                                              "[[rules]]\nname = \"kw\"\ncategory = \"gambling\"\n"
                                              "sources = [\"kw.txt\"]\n"
                                              "[[groups]]\nname = \"kids\"\n"
                                              "[groups.categories]\ngambling = \"block\"\n"),
                                   sink);
  ASSERT_TRUE(loaded) << sink.toString();
  snap_ = loaded->snapshot;
  const Decision casino = decide("www.casino7.example");
  EXPECT_EQ(casino.verdict, Verdict::kBlock);
  EXPECT_EQ(casino.reason, DecisionReason::kRegexRule);
  EXPECT_EQ(casino.category, "gambling");
  EXPECT_EQ(casino.rule, "(^|\\.)casino[0-9]*\\.");
  EXPECT_EQ(casino.source_file, (dir_.path() / "kw.txt").string());
  EXPECT_EQ(casino.source_line, 2u);
  const Decision bet = decide("bet-now.example");
  EXPECT_EQ(bet.rule, "(^|\\.)bet-[a-z]+\\.example$");
  EXPECT_EQ(bet.source_line, 4u);
}

TEST_F(PolicyEngineTest, UnreadableRulesFileFailsTheCompileWithTheReason) {
  DiagnosticSink sink;
  auto loaded = PolicyEngine::load(
      dir_.write("bad.toml",
                 "[[rules]]\nname = \"kw\"\ncategory = \"drugs\"\nsources = [\"nope.txt\"]\n"),
      sink);
  EXPECT_FALSE(loaded);
  const std::string text = sink.toString();
  EXPECT_NE(text.find("bad.toml:1:1: error: rules[0].sources: cannot read \"" +
                      (dir_.path() / "nope.txt").string() + "\": No such file or directory"),
            std::string::npos)
      << text;
}

TEST_F(PolicyEngineTest, MissingListFileFailsTheWholeCompileWithItsLocation) {
  DiagnosticSink sink;
  auto loaded = PolicyEngine::load(
      dir_.write("bad.toml",
                 "[[lists]]\nname = \"x\"\ncategory = \"drugs\"\nsources = [\"nope.txt\"]\n"),
      sink);
  EXPECT_FALSE(loaded);
  EXPECT_NE(sink.toString().find("bad.toml:1:1: error: lists[0].sources"), std::string::npos)
      << sink.toString();
}

TEST_F(PolicyEngineTest, EveryCategoryExceptionCountsHoweverManyThereAre) {
  // Eight exceptions for other categories first; the ninth is the one that matters.
  ExceptionTablePtr table = std::make_shared<ExceptionTable>();
  const char* others[] = {"gambling", "games",    "social",    "dating",
                          "piracy",   "violence", "self-harm", "streaming"};
  for (const char* category : others) {
    TemporaryException e;
    e.kind = TemporaryException::Kind::kCategory;
    e.scope = TemporaryException::Scope::kGroup;
    e.group = "pupils";
    e.category = category;
    e.until_unix_seconds = 2000000000;
    e.granted_by = "head";
    auto next = table->withAdded(e);
    ASSERT_TRUE(next) << next.status().message();
    table = *next;
  }
  TemporaryException adult;
  adult.kind = TemporaryException::Kind::kCategory;
  adult.scope = TemporaryException::Scope::kClient;
  adult.client = *IpAddress::parse("10.0.1.1");
  adult.category = "pornography";
  adult.until_unix_seconds = 2000000000;
  adult.granted_by = "head";
  auto with_ninth = table->withAdded(adult);
  ASSERT_TRUE(with_ninth);
  const Decision d = decide("www.adult.example", "10.0.1.1", with_ninth->get());
  EXPECT_EQ(d.verdict, Verdict::kAllow);
  EXPECT_EQ(d.reason, DecisionReason::kTemporaryException);
  EXPECT_EQ(d.exception_id, 9u);
  EXPECT_EQ(decide("www.adult.example", "10.0.1.2", with_ninth->get()).verdict, Verdict::kBlock);
}

TEST_F(PolicyEngineTest, AGroupWithMoreScheduleEntriesThanDecideTracksIsRefused) {
  std::string toml =
      "[[schedules]]\nname = \"s\"\nwindows = [\"mon 09:00-10:00\"]\n"
      "[[groups]]\nname = \"kids\"\n";
  for (size_t i = 0; i <= kMaxGroupSchedules; ++i) {
    toml += "[[groups.schedules]]\nschedule = \"s\"\ncategories = { games = \"block\" }\n";
  }
  DiagnosticSink sink;
  EXPECT_FALSE(PolicyEngine::load(dir_.write("many.toml", toml), sink));
  EXPECT_NE(sink.toString().find("groups.kids.schedules: 65 entries; at most 64"),
            std::string::npos)
      << sink.toString();
}

}  // namespace
}  // namespace safegate::policy

namespace safegate::policy {
namespace {

// The daemon compares these counts to refuse a config that silently stops
// filtering a group.
TEST(PolicyFilteringTest, CountsTheListsAndRulesEachGroupEnforces) {
  testing::TempDir dir;
  dir.write("gambling.txt", "casino.example\n");
  dir.write("iwf.txt", "secret-abuse.example\n");
  auto loaded = [&](const std::string& toml) {
    DiagnosticSink sink;
    auto l = PolicyEngine::load(dir.write("c.toml", toml), sink);
    EXPECT_TRUE(l) << sink.toString();
    return l ? l->snapshot : nullptr;
  };
  auto count = [](const PolicySnapshot& s, const std::string& group) -> long {
    for (const auto& g : s.filteringByGroup()) {
      if (g.group == group) return static_cast<long>(g.sources);
    }
    return -1;
  };
  auto snap = loaded(R"(
[policy]
default_group = "kids"
[[lists]]
name = "gambling"
category = "gambling"
sources = ["gambling.txt"]
[[lists]]
name = "iwf"
category = "child-abuse"
sources = ["iwf.txt"]
[[rules]]
name = "kw"
category = "gambling"
patterns = ["(^|\\.)bet-[a-z]+\\.example$"]
[[groups]]
name = "kids"
[groups.categories]
gambling = "block"
[[groups]]
name = "staff"
[groups.categories]
gambling = "allow"
)");
  ASSERT_TRUE(snap);
  EXPECT_EQ(count(*snap, "kids"), 3);   // gambling list + gambling rule + licensed list
  EXPECT_EQ(count(*snap, "staff"), 1);  // the licensed list is enforced for everyone

  // A comment-only file (a truncated config) compiles, and filters nothing for anyone.
  auto empty = loaded("# safegate config — the rest of this file was lost\n");
  ASSERT_TRUE(empty);
  for (const auto& g : empty->filteringByGroup()) EXPECT_EQ(g.sources, 0u) << g.group;
}

}  // namespace
}  // namespace safegate::policy
