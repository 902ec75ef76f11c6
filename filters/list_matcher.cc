#include "filters/list_matcher.h"

#include <algorithm>
#include <array>
#include <iterator>
#include <unordered_set>

#include "filters/domain_name.h"
#include "filters/regex_rule_set.h"

namespace safegate {
namespace {

// The precedence steps of the header comment, strongest first. kRewriteException holds the
// `@@...$dnsrewrite` rules that switch rewrites off; it is consulted by kRewrite only.
enum Tier : uint8_t {
  kImportantAllow = 0,
  kImportantBlock,
  kRewrite,
  kAllow,
  kBlock,
  kRewriteException,
  kTierCount,
};

// Steps that plain name entries (no modifiers but $important) can land in.
constexpr Tier kPlainTiers[] = {kImportantAllow, kImportantBlock, kAllow, kBlock};

Tier tierOf(const AdblockRule& r) {
  if (r.action == RuleAction::kAllow) {
    if (r.has_dnsrewrite) return kRewriteException;
    return r.important ? kImportantAllow : kAllow;
  }
  if (r.important) return kImportantBlock;
  return r.has_dnsrewrite ? kRewrite : kBlock;
}

std::string badfilterKey(RuleAction action, bool pattern, DomainMatchKind kind,
                         std::string_view name, std::string_view regex,
                         std::string_view modifier_key) {
  std::string key;
  key.reserve(name.size() + regex.size() + modifier_key.size() + 8);
  key += action == RuleAction::kAllow ? 'A' : 'B';
  key += pattern ? 'P' : 'N';
  key += static_cast<char>('0' + static_cast<int>(kind));
  key += '|';
  key += name;
  key += '|';
  key += regex;
  key += '|';
  key += modifier_key;
  return key;
}

bool containsType(const std::vector<uint16_t>& v, uint16_t t) {
  return std::find(v.begin(), v.end(), t) != v.end();
}

}  // namespace

std::string badfilterKey(const AdblockRule& r) {
  return badfilterKey(r.action, r.target == AdblockRule::Target::kPattern, r.kind, r.name, r.regex,
                      r.modifier_key);
}

std::string badfilterKey(const ParsedList& list, const ParsedList::NameEntry& e) {
  return badfilterKey(e.action, false, e.kind, list.name(e), "", e.important ? "important" : "");
}

std::string_view listVerdictName(ListVerdict v) {
  switch (v) {
    case ListVerdict::kNone: return "none";
    case ListVerdict::kBlocked: return "blocked";
    case ListVerdict::kAllowed: return "allowed";
    case ListVerdict::kRewrite: return "rewrite";
  }
  return "unknown";
}

struct ListMatcher::Impl {
  struct Rule {
    AdblockRule rule;
    uint16_t list_id = 0;
    bool match_all = false;                         // pattern "" (every name)
    std::shared_ptr<const RegexRuleSet> own_regex;  // pattern rules with modifiers
    bool has_conditions = false;                    // dnstype/client/ctag/denyallow present
  };
  // A run of name rules sharing one (name, kind): the DomainSet stores the group index in the
  // line field because it keeps one entry per (name, kind).
  struct Group {
    uint32_t begin = 0, end = 0;  // into group_rules
  };
  struct TierRules {
    DomainSet names;  // line = group index
    std::vector<Group> groups;
    std::vector<uint32_t> group_rules;                   // rule indices
    std::vector<uint32_t> modified_patterns;             // rule indices, file order
    std::shared_ptr<const RegexRuleSet> plain_patterns;  // value = rule index
    // URL rules, consulted only for a query with a URL: the same split.
    std::vector<uint32_t> modified_url_patterns;
    std::shared_ptr<const RegexRuleSet> plain_url_patterns;
  };

  std::vector<ListSourceInfo> sources;
  std::array<DomainSet, std::size(kPlainTiers)> plain;  // indexed like kPlainTiers
  std::vector<Rule> rules;
  std::array<TierRules, kTierCount> tiers;

  static int plainIndex(Tier t) {
    switch (t) {
      case kImportantAllow: return 0;
      case kImportantBlock: return 1;
      case kAllow: return 2;
      case kBlock: return 3;
      default: return -1;
    }
  }

  bool fits(const Rule& r, const ListQuery& q) const noexcept {
    if (!r.has_conditions) return true;
    const AdblockRule& a = r.rule;
    if (!a.dnstype_include.empty() && !containsType(a.dnstype_include, q.qtype)) return false;
    if (containsType(a.dnstype_exclude, q.qtype)) return false;
    auto clientIs = [&q](const std::vector<Cidr>& cidrs, const std::vector<std::string>& names) {
      if (q.client) {
        for (const Cidr& c : cidrs) {
          if (c.contains(*q.client)) return true;
        }
      }
      if (!q.client_name.empty()) {
        for (const std::string& n : names) {
          if (n == q.client_name) return true;
        }
      }
      return false;
    };
    if ((!a.client_cidr_include.empty() || !a.client_name_include.empty()) &&
        !clientIs(a.client_cidr_include, a.client_name_include)) {
      return false;
    }
    if (clientIs(a.client_cidr_exclude, a.client_name_exclude)) return false;
    auto hasTag = [&q](const std::vector<std::string>& tags) {
      for (std::string_view t : q.ctags) {
        for (const std::string& want : tags) {
          if (t == want) return true;
        }
      }
      return false;
    };
    if (!a.ctag_include.empty() && !hasTag(a.ctag_include)) return false;
    if (hasTag(a.ctag_exclude)) return false;
    for (const std::string& d : a.denyallow) {
      if (isSameOrSubdomain(q.name, d)) return false;
    }
    return true;
  }

  // The first rule of `tier` (names most specific first, then patterns in file order) that
  // matches the query and passes `accept`; nullptr when none.
  template <typename Accept>
  const Rule* firstRule(Tier tier, const ListQuery& q, std::string_view& matched_name,
                        Accept&& accept) const noexcept {
    const TierRules& t = tiers[tier];
    if (!t.names.empty()) {
      std::array<DomainSet::Match, 16> found;
      const size_t n = t.names.findAll(q.name, found);
      for (size_t i = 0; i < n; ++i) {
        const Group& g = t.groups[found[i].line];
        for (uint32_t k = g.begin; k < g.end; ++k) {
          const Rule& r = rules[t.group_rules[k]];
          if (fits(r, q) && accept(r)) {
            matched_name = found[i].name;
            return &r;
          }
        }
      }
    }
    matched_name = {};
    // Patterns over one subject: the name, then (plain HTTP) the URL; match-all rules are only
    // ever name rules (the reader refuses them as URL rules).
    auto fromPatterns = [&](const RegexRuleSet* plain, const std::vector<uint32_t>& modified,
                            std::string_view subject) -> const Rule* {
      if (plain) {
        if (auto m = plain->match(subject)) {
          const Rule& r = rules[m->value];
          if (accept(r)) return &r;
        }
      }
      for (uint32_t idx : modified) {
        const Rule& r = rules[idx];
        if (!fits(r, q) || !accept(r)) continue;
        if (r.match_all || (r.own_regex && r.own_regex->match(subject))) return &r;
      }
      return nullptr;
    };
    if (const Rule* r = fromPatterns(t.plain_patterns.get(), t.modified_patterns, q.name)) {
      return r;
    }
    if (q.url.empty()) return nullptr;
    return fromPatterns(t.plain_url_patterns.get(), t.modified_url_patterns, q.url);
  }

  // True when an `@@...$dnsrewrite` exception switches off `rewrite` for this query.
  bool rewriteDisabled(const ListQuery& q, const DnsRewrite& rewrite) const noexcept {
    std::string_view ignored;
    return firstRule(kRewriteException, q, ignored, [&rewrite](const Rule& r) {
             return r.rule.rewrite.empty() || r.rule.rewrite == rewrite;
           }) != nullptr;
  }
};

ListMatcher::ListMatcher() : impl_(std::make_unique<Impl>()) {}
ListMatcher::~ListMatcher() = default;

Result<std::unique_ptr<ListMatcher>> ListMatcher::compile(std::vector<ParsedList> lists,
                                                          DiagnosticSink& diagnostics) {
  std::unique_ptr<ListMatcher> m(new ListMatcher());
  Impl& impl = *m->impl_;
  ListMatcherStats& stats = m->stats_;

  // $badfilter applies across every list compiled together, as in AdGuard.
  std::unordered_set<std::string> badfilters;
  for (const ParsedList& l : lists) {
    for (const AdblockRule& r : l.rules) {
      if (!r.badfilter) continue;
      badfilters.insert(badfilterKey(r.action, r.target == AdblockRule::Target::kPattern, r.kind,
                                     r.name, r.regex, r.modifier_key));
    }
  }

  std::array<DomainSet::Builder, 4> plain_builders;
  size_t total_names = 0;
  for (const ParsedList& l : lists) total_names += l.names.size();
  plain_builders[3].reserve(total_names);

  for (ParsedList& l : lists) {
    impl.sources.push_back(ListSourceInfo{l.list_id, l.path, l.format});
    for (const ParsedList::NameEntry& e : l.names) {
      const std::string_view name = l.name(e);
      if (!badfilters.empty() && badfilters.count(badfilterKey(e.action, false, e.kind, name, "",
                                                               e.important ? "important" : ""))) {
        ++stats.badfiltered;
        continue;
      }
      const Tier tier = e.action == RuleAction::kAllow ? (e.important ? kImportantAllow : kAllow)
                                                       : (e.important ? kImportantBlock : kBlock);
      plain_builders[Impl::plainIndex(tier)].add(name, e.kind, l.list_id, e.line);
    }
    l.names = {};
    l.name_blob = {};
    for (AdblockRule& r : l.rules) {
      if (r.badfilter) continue;
      if (!badfilters.empty() &&
          badfilters.count(badfilterKey(r.action, r.target == AdblockRule::Target::kPattern, r.kind,
                                        r.name, r.regex, r.modifier_key))) {
        ++stats.badfiltered;
        continue;
      }
      Impl::Rule rule;
      rule.list_id = l.list_id;
      rule.has_conditions = !r.dnstype_include.empty() || !r.dnstype_exclude.empty() ||
                            !r.client_cidr_include.empty() || !r.client_cidr_exclude.empty() ||
                            !r.client_name_include.empty() || !r.client_name_exclude.empty() ||
                            !r.ctag_include.empty() || !r.ctag_exclude.empty() ||
                            !r.denyallow.empty();
      rule.rule = std::move(r);
      impl.rules.push_back(std::move(rule));
    }
    l.rules = {};
  }
  for (size_t i = 0; i < 4; ++i) {
    impl.plain[i] = plain_builders[i].build();
    stats.name_entries += impl.plain[i].size();
  }
  stats.rules = impl.rules.size();

  // Name rules, grouped by (tier, name, kind); pattern rules per tier.
  std::array<std::vector<uint32_t>, kTierCount> name_rules;
  std::array<std::vector<uint32_t>, kTierCount> plain_pattern_rules;
  std::array<std::vector<uint32_t>, kTierCount> plain_url_rules;
  for (uint32_t i = 0; i < impl.rules.size(); ++i) {
    Impl::Rule& r = impl.rules[i];
    const Tier tier = tierOf(r.rule);
    if (r.rule.target == AdblockRule::Target::kName) {
      name_rules[tier].push_back(i);
      continue;
    }
    if (r.rule.target == AdblockRule::Target::kUrl) {
      ++stats.url_rules;
      (r.has_conditions ? impl.tiers[tier].modified_url_patterns : plain_url_rules[tier])
          .push_back(i);
      continue;
    }
    ++stats.pattern_rules;
    if (r.rule.regex.empty()) {
      r.match_all = true;
      impl.tiers[tier].modified_patterns.push_back(i);
    } else if (r.has_conditions || r.rule.has_dnsrewrite) {
      impl.tiers[tier].modified_patterns.push_back(i);
    } else {
      plain_pattern_rules[tier].push_back(i);
    }
  }
  auto sourceOf = [&impl](const Impl::Rule& r) {
    for (const ListSourceInfo& s : impl.sources) {
      if (s.list_id == r.list_id) return SourceLocation{s.path, r.rule.line, 0};
    }
    return SourceLocation{"", r.rule.line, 0};
  };
  RegexRuleSetOptions regex_options;
  regex_options.target = RegexTarget::kHostName;
  regex_options.reject_severity = Severity::kWarning;
  RegexRuleSetOptions url_options = regex_options;
  url_options.target = RegexTarget::kUrl;
  // One set of rules (`ids`, all with a pattern) in one RE2 set; nullptr when none compiled.
  auto buildSet = [&](const std::vector<uint32_t>& ids,
                      const RegexRuleSetOptions& options) -> std::shared_ptr<const RegexRuleSet> {
    if (ids.empty()) return nullptr;
    RegexRuleSet::Builder b(options);
    for (uint32_t idx : ids) {
      const Impl::Rule& r = impl.rules[idx];
      if (!b.add(r.rule.regex, sourceOf(r), idx, diagnostics)) ++stats.rejected_patterns;
    }
    auto built = b.build(diagnostics);
    if (!built) {
      stats.rejected_patterns += ids.size();
      diagnostics.error(SourceLocation{}, "pattern rules dropped: " + built.status().message());
      return nullptr;
    }
    return *built;
  };
  // Rules with conditions each get their own regex (the set-wide DFA probe has nothing to find
  // in one pattern); a rule whose pattern RE2 refuses is dropped from `ids`.
  auto buildEach = [&](std::vector<uint32_t>& ids, const RegexRuleSetOptions& options) {
    RegexRuleSetOptions single = options;
    single.probe = false;
    for (auto it = ids.begin(); it != ids.end();) {
      Impl::Rule& r = impl.rules[*it];
      if (r.match_all) {
        ++it;
        continue;
      }
      RegexRuleSet::Builder b(single);
      bool ok = b.add(r.rule.regex, sourceOf(r), *it, diagnostics);
      if (ok) {
        auto built = b.build(diagnostics);
        ok = built.isOk();
        if (ok) r.own_regex = *built;
      }
      if (!ok) {
        ++stats.rejected_patterns;
        it = ids.erase(it);
      } else {
        ++it;
      }
    }
  };

  for (int tier = 0; tier < kTierCount; ++tier) {
    Impl::TierRules& t = impl.tiers[tier];
    std::vector<uint32_t>& nr = name_rules[tier];
    std::stable_sort(nr.begin(), nr.end(), [&impl](uint32_t a, uint32_t b) {
      const AdblockRule& ra = impl.rules[a].rule;
      const AdblockRule& rb = impl.rules[b].rule;
      if (ra.name != rb.name) return ra.name < rb.name;
      return ra.kind < rb.kind;
    });
    DomainSet::Builder names;
    for (size_t i = 0; i < nr.size();) {
      size_t j = i + 1;
      const AdblockRule& first = impl.rules[nr[i]].rule;
      while (j < nr.size() && impl.rules[nr[j]].rule.name == first.name &&
             impl.rules[nr[j]].rule.kind == first.kind) {
        ++j;
      }
      const auto group = static_cast<uint32_t>(t.groups.size());
      t.groups.push_back(Impl::Group{static_cast<uint32_t>(t.group_rules.size()),
                                     static_cast<uint32_t>(t.group_rules.size() + (j - i))});
      for (size_t k = i; k < j; ++k) t.group_rules.push_back(nr[k]);
      names.add(first.name, first.kind, 0, group);
      i = j;
    }
    t.names = names.build();

    t.plain_patterns = buildSet(plain_pattern_rules[tier], regex_options);
    buildEach(t.modified_patterns, regex_options);
    t.plain_url_patterns = buildSet(plain_url_rules[tier], url_options);
    buildEach(t.modified_url_patterns, url_options);
  }
  return m;
}

ListMatch ListMatcher::match(const ListQuery& q) const noexcept {
  const Impl& impl = *impl_;
  ListMatch out;
  if (q.name.empty()) return out;

  auto fromPlain = [&](Tier tier, ListVerdict verdict, bool important) {
    const DomainSet& set = impl.plain[Impl::plainIndex(tier)];
    if (set.empty()) return false;
    const DomainSet::Match m = set.find(q.name);
    if (!m) return false;
    out.verdict = verdict;
    out.important = important;
    out.rule.list_id = m.list_id;
    out.rule.line = m.line;
    out.rule.matched_name = m.name;
    out.rule.kind = m.kind;
    return true;
  };
  auto fromRule = [&](const Impl::Rule* r, std::string_view matched, ListVerdict verdict) {
    if (r == nullptr) return false;
    out.verdict = verdict;
    out.important = r->rule.important;
    out.rule.list_id = r->list_id;
    out.rule.line = r->rule.line;
    out.rule.text = r->rule.text;
    out.rule.matched_name = matched;
    out.rule.kind = r->rule.kind;
    out.rule.is_pattern = r->rule.target == AdblockRule::Target::kPattern;
    if (verdict == ListVerdict::kRewrite) out.rewrite = &r->rule.rewrite;
    return true;
  };
  auto any = [](const Impl::Rule&) { return true; };
  std::string_view matched;

  // 1. Important exceptions.
  if (fromPlain(kImportantAllow, ListVerdict::kAllowed, true)) return out;
  if (fromRule(impl.firstRule(kImportantAllow, q, matched, any), matched, ListVerdict::kAllowed)) {
    return out;
  }
  // 2. Important blocking rules (an important $dnsrewrite rewrites).
  if (fromPlain(kImportantBlock, ListVerdict::kBlocked, true)) return out;
  auto rewriteAllowed = [&](const Impl::Rule& r) {
    return !r.rule.has_dnsrewrite || !impl.rewriteDisabled(q, r.rule.rewrite);
  };
  if (const Impl::Rule* r = impl.firstRule(kImportantBlock, q, matched, rewriteAllowed)) {
    fromRule(r, matched, r->rule.has_dnsrewrite ? ListVerdict::kRewrite : ListVerdict::kBlocked);
    return out;
  }
  // 3. Rewrites not switched off by an @@...$dnsrewrite exception.
  const Impl::Rule* rw = impl.firstRule(kRewrite, q, matched, rewriteAllowed);
  if (fromRule(rw, matched, ListVerdict::kRewrite)) return out;
  // 4. Exceptions.
  if (fromPlain(kAllow, ListVerdict::kAllowed, false)) return out;
  if (fromRule(impl.firstRule(kAllow, q, matched, any), matched, ListVerdict::kAllowed)) {
    return out;
  }
  // 5. Blocking rules.
  if (fromPlain(kBlock, ListVerdict::kBlocked, false)) return out;
  fromRule(impl.firstRule(kBlock, q, matched, any), matched, ListVerdict::kBlocked);
  return out;
}

const ListSourceInfo* ListMatcher::sourceInfo(uint16_t list_id) const {
  for (const ListSourceInfo& s : impl_->sources) {
    if (s.list_id == list_id) return &s;
  }
  return nullptr;
}

std::string ListMatcher::ruleText(const ListMatch& m) const {
  if (m.verdict == ListVerdict::kNone) return "";
  if (!m.rule.text.empty()) return std::string(m.rule.text);
  // A plain name entry: rebuild the line in the syntax of its list (the exact text is at
  // source(); the list may hold a different sink address or spacing).
  const ListSourceInfo* src = sourceInfo(m.rule.list_id);
  const ListFormat format = src ? src->format : ListFormat::kAdblock;
  const std::string name(m.rule.matched_name);
  const bool adblock_form =
      format == ListFormat::kAdblock || m.verdict != ListVerdict::kBlocked || m.important;
  if (!adblock_form) {
    switch (format) {
      case ListFormat::kWildcard: return "*." + name;
      case ListFormat::kDnsmasq: return "server=/" + name + "/";
      default: return name;
    }
  }
  std::string text = m.verdict == ListVerdict::kAllowed ? "@@" : "";
  switch (m.rule.kind) {
    case DomainMatchKind::kExact: text += "|" + name + "^"; break;
    case DomainMatchKind::kSubtree: text += "||" + name + "^"; break;
    case DomainMatchKind::kSubdomainsOnly: text += "||*." + name + "^"; break;
  }
  if (m.important) text += "$important";
  return text;
}

std::string ListMatcher::source(const ListMatch& m) const {
  if (m.verdict == ListVerdict::kNone) return "";
  const ListSourceInfo* src = sourceInfo(m.rule.list_id);
  return (src ? src->path : std::string("?")) + ":" + std::to_string(m.rule.line);
}

size_t ListMatcher::memoryBytes() const {
  size_t bytes = 0;
  for (const DomainSet& s : impl_->plain) bytes += s.memoryBytes();
  for (const Impl::TierRules& t : impl_->tiers) {
    bytes += t.names.memoryBytes() + t.groups.capacity() * sizeof(Impl::Group) +
             t.group_rules.capacity() * sizeof(uint32_t) +
             t.modified_patterns.capacity() * sizeof(uint32_t) +
             t.modified_url_patterns.capacity() * sizeof(uint32_t);
  }
  for (const Impl::Rule& r : impl_->rules) {
    bytes += sizeof(Impl::Rule) + r.rule.text.capacity() + r.rule.name.capacity() +
             r.rule.regex.capacity() + r.rule.modifier_key.capacity();
  }
  return bytes;
}

}  // namespace safegate
