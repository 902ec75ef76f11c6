// ListMatcher: the compiled, immutable form of one or more parsed lists (filters/list_reader.h),
// answering "does this list block, allow, or rewrite this name for this client?" with the
// rule that decided it, following AdGuard's precedence between rules.
//
// Precedence inside one ListMatcher, strongest first (docs/lists.md explains each step):
//   0. rules disabled by a matching $badfilter rule are dropped when compiling;
//   rules whose $dnstype / $client / $ctag / $denyallow do not fit the query are ignored;
//   1. an important exception      (@@||a.com^$important)        -> kAllowed, important
//   2. an important blocking rule  (||a.com^$important)          -> kBlocked (or kRewrite when it
//                                                                   carries $dnsrewrite), important
//   3. a $dnsrewrite rule, unless an `@@...$dnsrewrite` exception disables it -> kRewrite
//   4. an exception                (@@||a.com^)                   -> kAllowed
//   5. a blocking rule             (||a.com^, hosts, domains, /re/) -> kBlocked
//   otherwise kNone. Within one step the most specific rule wins: an exact name beats a
//   subtree, a longer suffix beats a shorter one, a name rule beats a pattern, and among
//   equals the lowest list id, then the lowest line.
//
// Thread-safety: immutable after compile(); match() may run on any number of threads.
// match() is data plane: noexcept, no locks, no logging, no allocation in steady state (the
// regex path reuses a per-thread scratch vector that only grows).
// Ownership: a ListMatch's views point into the ListMatcher (rule text, rewrite) or into the
// query name (matched_name); they stay valid while both live.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"
#include "filters/domain_set.h"
#include "filters/list_reader.h"

namespace safegate {

// What the matcher is asked about. `name` must be canonical (normalizeWireName() or
// normalizeDomain()).
struct ListQuery {
  std::string_view name;
  uint16_t qtype = 1;                       // dns_type::kA by default
  std::optional<IpAddress> client;          // for $client with addresses
  std::string_view client_name;             // for $client with names
  std::span<const std::string_view> ctags;  // for $ctag
  // For a plain-HTTP request, its URL "http://" + name + path-and-query; URL rules (rules with
  // a path, AdblockRule::Target::kUrl) are consulted only when it is set. Empty for DNS.
  std::string_view url;
};

enum class ListVerdict : uint8_t { kNone, kBlocked, kAllowed, kRewrite };
std::string_view listVerdictName(ListVerdict v);

// The identity a `$badfilter` rule uses to disable another rule: action, target kind, name or
// regex, and the other modifiers. A rule is disabled when a $badfilter rule with the same key
// appears in any list compiled together. Exposed so that callers which put plain names into
// their own index (policy/) honour $badfilter the same way ListMatcher does.
std::string badfilterKey(const AdblockRule& rule);
std::string badfilterKey(const ParsedList& list, const ParsedList::NameEntry& entry);

// Which rule decided, enough for `rule` and `file:line` in explain output.
struct RuleRef {
  uint16_t list_id = 0;
  uint32_t line = 0;
  // The rule as written, for pattern rules and rules with modifiers (owned by the matcher);
  // empty for plain name entries, whose text is ListMatcher::ruleText().
  std::string_view text;
  // For name rules: the listed name, a suffix of ListQuery::name.
  std::string_view matched_name;
  DomainMatchKind kind = DomainMatchKind::kExact;
  bool is_pattern = false;
};

struct ListMatch {
  ListVerdict verdict = ListVerdict::kNone;
  bool important = false;
  RuleRef rule;
  const DnsRewrite* rewrite = nullptr;  // set when verdict == kRewrite; owned by the matcher
  explicit operator bool() const noexcept { return verdict != ListVerdict::kNone; }
};

struct ListSourceInfo {
  uint16_t list_id = 0;
  std::string path;
  ListFormat format = ListFormat::kAuto;
};

struct ListMatcherStats {
  size_t name_entries = 0;       // plain names in the DomainSets
  size_t rules = 0;              // rules with patterns or modifiers
  size_t pattern_rules = 0;      // of which RE2 patterns over the name
  size_t url_rules = 0;          // of which RE2 patterns over a plain-HTTP URL
  size_t badfiltered = 0;        // rules disabled by $badfilter
  size_t rejected_patterns = 0;  // patterns RE2 refused (reported with file:line)
};

class ListMatcher {
 public:
  // Compiles `lists` (consumed). Problems that make single rules unusable (a regex RE2
  // refuses, a pattern over the memory budget) are reported to `diagnostics` with file:line
  // and the rule dropped; compile only fails when nothing sensible can be built.
  static Result<std::unique_ptr<ListMatcher>> compile(std::vector<ParsedList> lists,
                                                      DiagnosticSink& diagnostics);

  ListMatch match(const ListQuery& query) const noexcept;
  ListMatch match(std::string_view canonical_name, uint16_t qtype = 1) const noexcept {
    ListQuery q;
    q.name = canonical_name;
    q.qtype = qtype;
    return match(q);
  }

  // Control plane, for explain: the rule text (stored text, or for a plain name entry the
  // adblock-style form, e.g. "||example.com^", "@@||example.com^$important") and its
  // "path:line".
  std::string ruleText(const ListMatch& m) const;
  std::string source(const ListMatch& m) const;
  const ListSourceInfo* sourceInfo(uint16_t list_id) const;

  const ListMatcherStats& stats() const { return stats_; }
  // Approximate heap bytes held (DomainSets, rules, regex programs).
  size_t memoryBytes() const;

  ~ListMatcher();
  ListMatcher(const ListMatcher&) = delete;
  ListMatcher& operator=(const ListMatcher&) = delete;

 private:
  ListMatcher();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  ListMatcherStats stats_;
};

}  // namespace safegate
