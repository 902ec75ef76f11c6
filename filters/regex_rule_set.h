// RegexRuleSet: many regular expressions over host names (or URLs) matched in one pass with
// RE2::Set, each rule remembering where it came from (file:line) so a match explains itself.
//
// Building (control plane) goes through RegexRuleSet::Builder, fed pattern by pattern (inline
// patterns, list rules, or the lines readExpressionsFile() reads from a file):
//   - every pattern is parsed and compiled alone first with the same RE2 options; a pattern that
//     is invalid, too long, whose compiled program exceeds `max_program_size`, or that matches
//     the empty string (and so every host) is rejected with its location — every problem is
//     reported to the DiagnosticSink and building continues with the rest;
//   - build() compiles the RE2::Set under the memory budget `max_mem_bytes` (RE2 splits it
//     between the program and the DFA state cache), then runs probe matches: if the DFA runs out
//     of memory already on the probes, or the probes are very slow (the DFA thrashing its cache),
//     that is reported as a warning with the budget to raise, instead of going unnoticed.
//
// Matching (data plane): match() returns the lowest-index matching rule (rules keep the order
// they were added, so the first rule in file order wins), noexcept. A miss costs one RE2::Set
// DFA pass and allocates nothing once the DFA cache is warm; a hit runs a second pass for the
// indices (RE2 2022-06-01 allocates a small index set inside Set::Match for that; hits are
// rare, blocked requests).
//
// Two ways a set goes bad, both made visible:
//   - RE2::Set::Match reports kOutOfMemory (the DFA could not build a state): the miss is not
//     trusted, the event is counted (stats().out_of_memory) and the rules are evaluated one by
//     one with their own RE2 objects (built on the first such event, ~2 KiB per rule), so the
//     answer stays correct but slow. (In RE2 2022-06-01 the set DFA reserves room for 20
//     worst-case states, so this is rare after Compile().)
//   - The DFA cache is too small for the workload: RE2 then silently resets its cache again and
//     again (for sets it never bails out) and a match takes milliseconds instead of ~1 µs. RE2
//     does not report this, so match() times one call in every `slow_match_sample_interval` per
//     thread and counts those slower than `slow_match_threshold_us` (stats().slow_samples);
//     build() also warns when its probe matches are slow.
//
// Thread-safety: a built RegexRuleSet is immutable apart from its atomic counters and RE2's own
// internally locked DFA caches; match() may be called from any number of threads. The Builder
// is single-threaded.
// Ownership: build() returns a shared_ptr so a policy snapshot can share the set.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace safegate {

// What the patterns are matched against; only changes the wording of diagnostics and the
// per-rule explanation ("host name" vs "URL").
enum class RegexTarget : uint8_t { kHostName, kUrl };

// Defaults chosen from bench/regex_rule_set_bench.cc (see docs/performance.md, "RE2 rule sets"):
// 64 MiB keeps a 10,000-pattern host set on the fast DFA path; RE2's own default (8 MiB) makes
// such a set thrash its DFA cache at milliseconds per match.
inline constexpr int64_t kDefaultRegexSetMaxMemBytes = int64_t{64} << 20;
inline constexpr int kDefaultRegexMaxProgramSize = 2000;       // RE2 instructions per pattern
inline constexpr size_t kDefaultRegexMaxPatternLength = 1024;  // bytes
inline constexpr size_t kDefaultRegexMaxRules = 100000;

struct RegexRuleSetOptions {
  RegexTarget target = RegexTarget::kHostName;
  // RE2::Options::max_mem for the whole set: program plus DFA cache.
  int64_t max_mem_bytes = kDefaultRegexSetMaxMemBytes;
  // Per-pattern cap on RE2::ProgramSize(); larger patterns are rejected with their location.
  int max_program_size = kDefaultRegexMaxProgramSize;
  size_t max_pattern_length = kDefaultRegexMaxPatternLength;
  size_t max_rules = kDefaultRegexMaxRules;
  // DNS names are case-insensitive (RFC 4343); squidGuard matches URLs case-insensitively too.
  bool case_insensitive = true;
  // Severity for a rejected pattern: kError for configuration the administrator wrote,
  // kWarning for downloaded lists where one bad line must not discard the rest.
  Severity reject_severity = Severity::kError;
  // Run the out-of-memory / slowness probe in build().
  bool probe = true;
  // Time one match() in this many per thread (0 = never); count it as slow above the threshold.
  uint32_t slow_match_sample_interval = 256;
  uint32_t slow_match_threshold_us = 200;
};

struct RegexRule {
  std::string pattern;
  SourceLocation where;  // file:line the pattern came from
  uint32_t value = 0;    // caller's tag, e.g. list id or category
};

struct RegexMatch {
  uint32_t index = 0;  // position of the rule in the set (the order of Builder::add)
  uint32_t value = 0;  // RegexRule::value of that rule
  friend bool operator==(const RegexMatch&, const RegexMatch&) = default;
};

class RegexRuleSet {
 public:
  // Only the rare events are counted here (a shared counter per match() would make worker
  // threads fight over one cache line); per-request counts belong to the caller.
  struct Stats {
    uint64_t out_of_memory = 0;         // RE2::Set::Match reported kOutOfMemory (fallback used)
    uint64_t fallback_evaluations = 0;  // match() calls answered rule by rule (the fallback)
    uint64_t sampled_matches = 0;       // match() calls that were timed
    uint64_t slow_samples = 0;          // of those, slower than slow_match_threshold_us
  };

  class Builder {
   public:
    explicit Builder(RegexRuleSetOptions options = {});
    ~Builder();
    Builder(Builder&&) noexcept;
    Builder& operator=(Builder&&) noexcept;

    // Validates and adds one pattern (RE2 syntax). On rejection reports
    // "where: error: regex rejected: <why>: /pattern/" to `sink` with options.reject_severity
    // and returns false; the rule is not added.
    bool add(std::string_view pattern, SourceLocation where, uint32_t value, DiagnosticSink& sink);

    size_t size() const;
    const RegexRuleSetOptions& options() const { return options_; }

    // Compiles the set. Fails (kResourceExhausted) when the patterns do not fit in
    // max_mem_bytes, (kInvalidArgument) when there are more than max_rules; in both cases the
    // reason is also reported to `sink`. An empty set builds and never matches. Probe findings
    // are warnings in `sink`. The Builder is left empty.
    Result<std::shared_ptr<const RegexRuleSet>> build(DiagnosticSink& sink);

   private:
    struct Impl;
    RegexRuleSetOptions options_;
    std::unique_ptr<Impl> impl_;
  };

  ~RegexRuleSet();
  RegexRuleSet(const RegexRuleSet&) = delete;
  RegexRuleSet& operator=(const RegexRuleSet&) = delete;

  // The lowest-index rule whose pattern matches somewhere in `text` (unanchored; anchor with
  // ^ and $ in the pattern). Data plane: noexcept, thread-safe.
  std::optional<RegexMatch> match(std::string_view text) const noexcept;
  // The same answer computed rule by rule with per-pattern RE2 objects (the out-of-memory
  // fallback; the first call builds the per-rule objects). Linear in the number of rules; for
  // cross-checks and tools, not the data plane.
  std::optional<RegexMatch> matchEachRule(std::string_view text) const noexcept;

  size_t size() const { return rules_.size(); }
  const RegexRule& rule(uint32_t index) const { return rules_[index]; }
  // "/pattern/ (file:line)" for explain output.
  std::string explain(uint32_t index) const;
  const RegexRuleSetOptions& options() const { return options_; }
  Stats stats() const noexcept;

  // True when the last build probe saw RE2 run out of DFA memory.
  bool probeOutOfMemory() const { return probe_out_of_memory_; }

 private:
  struct Compiled;
  RegexRuleSet(RegexRuleSetOptions options, std::vector<RegexRule> rules,
               std::unique_ptr<Compiled> compiled);
  std::optional<RegexMatch> matchWithSet(std::string_view text) const noexcept;

  RegexRuleSetOptions options_;
  std::vector<RegexRule> rules_;
  std::unique_ptr<Compiled> compiled_;
  bool probe_out_of_memory_ = false;
  mutable std::atomic<uint64_t> out_of_memory_{0};
  mutable std::atomic<uint64_t> fallback_evaluations_{0};
  mutable std::atomic<uint64_t> sampled_matches_{0};
  mutable std::atomic<uint64_t> slow_samples_{0};
};

// Reads a file of patterns in the squidGuard `expressions` format, one pattern per line:
// blank lines and lines whose first non-blank character is '#' are skipped, and leading blanks
// and trailing CR (Windows line ends) and blanks are not part of the pattern. Calls `each` for
// every pattern with its file:line, in file order; the pattern view is valid only during the
// call. Nothing is validated here: the caller decides each pattern's value and passes it to
// Builder::add(), which reports the lines RE2 rejects. Returns an error (with `path` as its
// location and the reason as its message) when the file cannot be read or exceeds 16 MiB.
Status readExpressionsFile(
    const std::filesystem::path& path,
    const std::function<void(std::string_view pattern, SourceLocation where)>& each);

}  // namespace safegate
