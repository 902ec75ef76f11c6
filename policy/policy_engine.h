// PolicySnapshot / PolicyEngine: the compiled, immutable policy and decide().
//
// API for the daemon (and safegatectl):
//
//   DiagnosticSink diags;
//   Result<policy::LoadedPolicy> loaded = policy::PolicyEngine::load("/etc/safegate/safegate.toml",
//   diags); if (!loaded) { print diags.toString(); keep the old policy; } const
//   policy::DaemonSettings& settings = loaded->config.daemon;      // [dns], [database], ...
//   SnapshotHolder<policy::PolicySnapshot> holder(loaded->snapshot);    // publish; reload =
//   publish again SnapshotHolder<policy::ExceptionTable>
//   exceptions(std::make_shared<policy::ExceptionTable>());
//
//   // per request, on a worker (reader_ / ex_reader_ are per-thread SnapshotHolder Readers):
//   const auto& snap = reader_.current();
//   RequestFacts facts{.client = ip, .mac = mac, .protocol = Protocol::kDns,
//                      .name = canonical_name, .dns_type = qtype, .unix_time_seconds = now};
//   Decision d = snap->decide(facts, ex_reader_.current().get());   // noexcept, no alloc, no lock
//   // d.verdict / d.block_answer / d.rewrite_target / d.log / d.alert / d.strip_ech;
//   // snap->group(d.group_index) has the group's inline settings (fail_open, quic, ech, ...).
//   // renderReason(d) (control plane) for people; d.confidential => never show rule/source.
//
//   Exceptions (control socket): table->withAdded(TemporaryException{...}) / withRemoved(id)
//   return a new table to publish; expiry is checked by decide() against facts' time.
//
// The precedence decide() applies (docs/policy.md, tested by tests/scenarios/):
//   1. illegal lists (child-abuse, terrorism)        -> block, confidential, no override
//   2. bypass defaults (DNS only)                    -> NXDOMAIN / NODATA
//   3. pause exception                               -> allow
//   4. temporary exception for the name              -> allow
//   5. group's own block names, then allow names     -> block / allow
//   6. allow-only schedule ("bedtime")               -> block unless named or on an allow list
//   7. safe search (DNS only)                        -> rewrite (CNAME)
//   8. allow-type lists enabled for the group        -> allow
//   9. category lists: strongest action of every category that lists the name, with schedule
//      overrides; temporary category exceptions remove their category
//  10. regex rules                                   -> action of the rule's category
//  11. list exceptions (@@) / categories set to allow -> allow
//  12. the group's default
//
// Thread-safety: a PolicySnapshot is immutable after compile(); decide() may run on any
// number of threads at once. Ownership: Decision string_views point into the snapshot (or,
// for a plain list entry's `rule`, into facts.name; for `granted_by`, into the
// ExceptionTable); hold the snapshot while using them.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "filters/list_matcher.h"
#include "filters/regex_rule_set.h"
#include "policy/categories.h"
#include "policy/config.h"
#include "policy/decision.h"
#include "policy/exception_table.h"
#include "policy/name_index.h"
#include "policy/schedule.h"
#include "policy/time_zone.h"

namespace safegate::policy {

inline constexpr size_t kMaxCategories = 32;
// Schedule entries one group may have; more is a config error (decide() keeps one flag each).
inline constexpr size_t kMaxGroupSchedules = 64;

class PolicySnapshot;
using PolicySnapshotPtr = std::shared_ptr<const PolicySnapshot>;

// Per-group settings the daemon needs besides the verdict.
struct GroupSettings {
  std::string name;
  std::string profile;
  BlockAnswer block_answer = BlockAnswer::kNxdomain;
  bool strip_ech = true;
  bool fail_open = true;
  QuicMode quic = QuicMode::kInspect;
  EncryptedDnsMode encrypted_dns = EncryptedDnsMode::kBlock;
  UnresolvedMode unresolved_destination = UnresolvedMode::kAllow;
  EchMode ech = EchMode::kOuterSni;
};

// The verdicts of a group's inline settings (unresolved_destination, encrypted_dns).
constexpr Verdict settingVerdict(UnresolvedMode m) noexcept {
  return m == UnresolvedMode::kBlock     ? Verdict::kBlock
         : m == UnresolvedMode::kMonitor ? Verdict::kMonitor
                                         : Verdict::kAllow;
}
constexpr Verdict settingVerdict(EncryptedDnsMode m) noexcept {
  return m == EncryptedDnsMode::kBlock     ? Verdict::kBlock
         : m == EncryptedDnsMode::kMonitor ? Verdict::kMonitor
                                           : Verdict::kAllow;
}

// A decision the inline path makes from one of group `g`'s own settings (ech, quic,
// encrypted_dns, unresolved_destination), explained by that setting; the live path and replay
// both build it here. Data plane: no allocation (the views point into `g` and the arguments).
inline Decision inlineSettingDecision(Verdict v, const GroupSettings& g, uint16_t group_index,
                                      std::string_view category, std::string_view rule) noexcept {
  Decision d;
  d.verdict = v;
  d.log = v != Verdict::kAllow;
  d.reason = DecisionReason::kInlineSetting;
  d.group = g.name;
  d.group_index = group_index;
  d.category = category;
  d.rule = rule;
  return d;
}

struct CompileStats {
  size_t list_entries = 0;
  size_t regex_rules = 0;
  size_t pattern_rules = 0;  // adblock rules with patterns or modifiers (ListMatcher)
  size_t groups = 0;
  size_t schedules = 0;
  size_t clients = 0;
  size_t memory_bytes = 0;     // approximate heap bytes of the snapshot
  size_t address_entries = 0;  // address / CIDR lines of lists (destinations, inline path)
  // The list cache (policy/list_cache.h): names came from a cached image without reading the
  // list text; the name index is a mapped image (read from the cache or just stored in it).
  bool names_from_cache = false;
  bool names_mapped = false;
};

struct CompileOptions {
  // Compiled list images (policy/list_cache.h): used when an entry matches the list files as
  // they are now; empty = always read the list text.
  std::filesystem::path list_cache_dir;
  // After reading the text, also store an entry (and remove the others): safegated only.
  bool write_list_cache = false;
};

class PolicySnapshot {
 public:
  // Compiles `config` (reads every list file, or the list cache). Every problem goes to
  // `sink`; on any error the result is an error and nothing is half-built. A cache that cannot
  // be used or written is a warning: the text is read instead.
  static Result<PolicySnapshotPtr> compile(const Config& config, DiagnosticSink& sink,
                                           const CompileOptions& options = {});

  // True when `cache_dir` already has the entry compile() would read for `config`'s lists as
  // they are now (safegated --compile-lists then has nothing to do). Reads no list text.
  static bool listCacheCurrent(const Config& config, const std::filesystem::path& cache_dir);

  Decision decide(const RequestFacts& facts,
                  const ExceptionTable* exceptions = nullptr) const noexcept;

  // The group a client falls into (MAC match first, then the most specific address range,
  // else the default group).
  uint16_t groupFor(const IpAddress& client, const std::optional<MacAddress>& mac) const noexcept;
  const GroupSettings& group(uint16_t index) const { return groups_[index].settings; }
  size_t groupCount() const { return groups_.size(); }
  uint16_t defaultGroup() const { return default_group_; }
  // Every client source the config names, in the order groupFor() matches them — MACs first,
  // then address ranges from the most specific to the least (config order among equals) —
  // each with its group. Control plane (allocates): the daemon turns it into firewall rules
  // for the groups' fail modes while it is not running (daemon/inline/fail_mode_rules.h).
  struct ClientSource {
    std::optional<MacAddress> mac;
    std::optional<Cidr> cidr;
    uint16_t group = 0;
  };
  std::vector<ClientSource> clientSources() const;
  // Display name of a configured client, or "" (for pseudonymisation decisions).
  std::string_view clientName(const IpAddress& client,
                              const std::optional<MacAddress>& mac) const noexcept;
  const CompileStats& stats() const { return stats_; }
  // The list cache entry this snapshot's names come from or were stored in ("" if none): the
  // daemon keeps it and removes the others (ListCache::removeOthers).
  const std::string& listCacheKey() const { return list_cache_key_; }
  // How much filtering each group has: list files, pattern rule sets and regex rules of the
  // categories the group does not simply allow (in any schedule), licensed lists (always
  // enforced), its own block names and a non-allow default. 0 means the group's clients are
  // not filtered at all. Control plane: the daemon refuses a start or reload that takes a
  // group from some to none — the mark of a truncated config.
  struct GroupFiltering {
    std::string group;
    size_t sources = 0;
  };
  std::vector<GroupFiltering> filteringByGroup() const;

  // Destination addresses from list files (address / CIDR lines of domains lists, e.g. the
  // DoH endpoints of ut1 "doh" or a DoH IP list): a bit per category index whose lists name
  // `destination` (the most specific listed CIDR wins when entries nest), 0 if none. DNS never
  // uses these; the inline path does (docs/inline.md). Data plane: noexcept, no allocation.
  uint32_t destinationCategories(const IpAddress& destination) const noexcept;
  // True when a "circumvention" list names `destination`: a DoH/VPN endpoint reached by
  // address, handled by the group's encrypted_dns setting.
  bool isCircumventionDestination(const IpAddress& destination) const noexcept;

  ~PolicySnapshot();

 private:
  PolicySnapshot();
  struct ListSource {
    std::string path;
    std::string list_name;
    uint8_t category = 0;
  };
  struct GroupSchedule {
    uint16_t schedule = 0;
    std::array<int8_t, kMaxCategories> actions;  // -1 = unchanged
    bool allow_only = false;
    std::vector<std::string> allow;  // canonical
  };
  struct Group {
    GroupSettings settings;
    std::array<Action, kMaxCategories> actions{};
    Action default_action = Action::kAllow;
    uint32_t allow_type_mask = 0;  // bit per allow-type category enabled
    bool safe_google = false, safe_bing = false, safe_ddg = false;
    YoutubeMode youtube = YoutubeMode::kOff;
    std::vector<std::string> allow;  // canonical, group's own allow names
    std::vector<std::string> block;
    std::string config_file;  // where the group is defined (source of allow/block names)
    uint32_t config_line = 0;
    std::vector<GroupSchedule> schedules;
  };
  struct Client {
    std::string name;
    uint16_t group = 0;
  };
  struct SafeSearchEntry {
    std::string name;
    uint8_t engine;  // 0 google, 1 bing, 2 duckduckgo, 3 youtube
  };
  struct Bypass {
    std::string name;
    BlockAnswer answer;
  };

  const std::string* findSafeSearch(std::string_view name, const Group& g) const noexcept;
  struct Compiler;  // compile()'s state and steps (policy_engine.cc)
  struct Decider;   // decide()'s state and steps, one per precedence level (policy_engine.cc)

  std::vector<std::string> category_names_;  // by category index (standard order)
  std::vector<CategoryKind> category_kinds_;
  std::vector<ListSource> list_sources_;
  std::shared_ptr<const NameIndex> names_ =
      std::make_shared<const NameIndex>();  // shared when mapped
  struct PatternMatcher {
    uint8_t category;
    std::unique_ptr<ListMatcher> matcher;
  };
  std::vector<PatternMatcher> rule_matchers_;  // adblock patterns / modifier rules
  CidrSet destination_addresses_;              // value = category bitmask
  uint8_t circumvention_category_ = 0xff;
  std::shared_ptr<const RegexRuleSet> regex_;
  std::vector<uint8_t> regex_categories_;  // by RegexMatch::value
  std::vector<std::string> regex_text_, regex_file_;
  std::vector<uint32_t> regex_line_;
  std::vector<TimeZone> time_zones_;
  std::vector<Schedule> schedules_;
  std::vector<Group> groups_;
  uint16_t default_group_ = 0;
  std::vector<Client> clients_;
  CidrSet client_addresses_;                                  // value = client index
  std::vector<std::pair<Cidr, uint32_t>> client_cidrs_;       // as configured, for clientSources()
  std::vector<std::pair<MacAddress, uint32_t>> client_macs_;  // sorted
  std::vector<SafeSearchEntry> safe_search_;                  // sorted by name
  std::array<std::string, 5> safe_targets_;  // google, bing, ddg, yt strict, yt moderate
  std::vector<Bypass> bypass_;
  std::string bypass_source_ = "policy.bypass_defaults";
  std::string safe_search_source_ = "safe_search";
  bool bypass_enabled_ = true;
  CompileStats stats_;
  std::string list_cache_key_;
};

struct LoadedPolicy {
  Config config;
  PolicySnapshotPtr snapshot;
};

// Load + compile in one call: what safegated does on start and reload and what
// `safegatectl check-config` / `explain` run.
struct LoadOptions {
  // safegated --state-dir: replaces [daemon] state_dir (policy/config.h loadConfig()).
  std::filesystem::path state_dir_override;
  // The list cache under state_dir/compiled (policy/list_cache.h): safegated reads and writes
  // it; safegatectl always reads the list text.
  bool read_list_cache = false;
  bool write_list_cache = false;
};

class PolicyEngine {
 public:
  static Result<LoadedPolicy> load(const std::filesystem::path& config_file, DiagnosticSink& sink,
                                   const LoadOptions& options = {});
};

}  // namespace safegate::policy
