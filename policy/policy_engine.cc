#include "policy/policy_engine.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <unordered_set>

#include "filters/domain_name.h"
#include "filters/http_request.h"
#include "filters/list_matcher.h"
#include "filters/list_reader.h"
#include "policy/list_cache.h"
#include "policy/safe_search.h"

namespace safegate::policy {

PolicySnapshot::PolicySnapshot() = default;
PolicySnapshot::~PolicySnapshot() = default;

namespace {

constexpr uint8_t kNoCategory = 0xff;

// Levels of a category's list hit, after AdGuard: important exception > important block >
// exception > block.
enum Level : int8_t {
  kNone = -1,
  kBlockHit = 0,
  kAllowHit = 1,
  kImportantBlock = 2,
  kImportantAllow = 3
};

bool blocks(int8_t level) { return level == kBlockHit || level == kImportantBlock; }

// A rule the shared name index holds: a name with no modifier but $important.
bool isPlainNameRule(const AdblockRule& r) {
  return r.target == AdblockRule::Target::kName && r.dnstype_include.empty() &&
         r.dnstype_exclude.empty() && r.client_cidr_include.empty() &&
         r.client_cidr_exclude.empty() && r.client_name_include.empty() &&
         r.client_name_exclude.empty() && r.ctag_include.empty() && r.ctag_exclude.empty() &&
         r.denyallow.empty() && !r.has_dnsrewrite;
}

// The lines of `list` that produced only plain names for the name index and no warning: what
// a list cache's residue leaves out (policy/list_cache.h).
std::vector<uint32_t> plainOnlyLines(const ParsedList& list) {
  std::unordered_set<uint32_t> keep(list.warned_lines.begin(), list.warned_lines.end());
  for (const auto& r : list.rules) {
    if (r.badfilter || !isPlainNameRule(r)) keep.insert(r.line);
  }
  for (const auto& a : list.addresses) keep.insert(a.line);
  std::vector<uint32_t> lines;
  for (const auto& e : list.names) {
    if (!keep.count(e.line)) lines.push_back(e.line);
  }
  for (const auto& r : list.rules) {
    if (!keep.count(r.line)) lines.push_back(r.line);
  }
  return lines;
}

// Every enabled list's files, in the order their NameRef::list ids are given: sources, then
// the kept copy of a subscription (daemon/lists/list_store.h; never the network from here).
struct ListFile {
  size_t spec;  // index in config.lists
  std::string path;
  uint8_t category;
};
// A category's index in standard order (the snapshot's category_names_), kNoCategory if none.
uint8_t categoryOf(std::string_view name) {
  const CategoryInfo* c = findCategory(name);
  return c ? static_cast<uint8_t>(c - standardCategories().data()) : kNoCategory;
}

std::vector<ListFile> listFilesOf(const Config& config, DiagnosticSink& sink) {
  std::vector<ListFile> files;
  for (size_t li = 0; li < config.lists.size(); ++li) {
    const ListSpec& spec = config.lists[li];
    if (!spec.enabled) continue;
    const uint8_t cat = categoryOf(spec.category);
    if (cat == kNoCategory) {
      sink.error(spec.where, "lists[" + std::to_string(li) + "].category: unknown category \"" +
                                 spec.category + "\"");
      continue;
    }
    std::vector<std::filesystem::path> paths = spec.sources;
    if (spec.subscription) {
      std::error_code ec;
      if (std::filesystem::exists(spec.subscription->copy, ec)) {
        paths.push_back(spec.subscription->copy);
      } else {
        sink.warning(spec.where, "lists[" + std::to_string(li) + "] \"" + spec.name +
                                     "\": " + spec.subscription->url +
                                     " not downloaded yet; it adds no entries until its first "
                                     "download succeeds");
      }
    }
    for (const auto& path : paths) {
      if (files.size() >= 0xffff) {
        sink.error(spec.where, "too many list files (at most 65535)");
        break;
      }
      files.push_back(ListFile{li, path.string(), cat});
    }
  }
  return files;
}

std::vector<ListCacheInput> listCacheInputs(const Config& config,
                                            const std::vector<ListFile>& files) {
  std::vector<ListCacheInput> inputs;
  for (const ListFile& f : files) {
    const ListSpec& spec = config.lists[f.spec];
    inputs.push_back(ListCacheInput{f.path, spec.name, spec.category, spec.format});
  }
  return inputs;
}

bool coveredBy(std::string_view name, const std::vector<std::string>& names,
               std::string_view* matched) noexcept {
  for (const auto& n : names) {
    if (isSameOrSubdomain(name, n)) {
      *matched = n;
      return true;
    }
  }
  return false;
}

}  // namespace

uint32_t PolicySnapshot::destinationCategories(const IpAddress& destination) const noexcept {
  return destination_addresses_.find(destination).value_or(0);
}

bool PolicySnapshot::isCircumventionDestination(const IpAddress& destination) const noexcept {
  if (circumvention_category_ >= kMaxCategories) return false;
  return (destinationCategories(destination) >> circumvention_category_) & 1u;
}

bool PolicySnapshot::listCacheCurrent(const Config& config,
                                      const std::filesystem::path& cache_dir) {
  DiagnosticSink ignored;  // compile() reports the same problems
  const auto files = listFilesOf(config, ignored);
  if (ignored.hasErrors() || files.empty()) return false;
  auto key = ListCache::keyOf(listCacheInputs(config, files));
  std::error_code ec;
  return key && std::filesystem::exists(cache_dir / *key / "manifest", ec);
}

// compile()'s state and its steps, in the order they run: what a later step needs of an earlier
// one (schedule and group indices, the list files and their cache) is a member here.
struct PolicySnapshot::Compiler {
  const Config& config;
  DiagnosticSink& sink;
  const CompileOptions& options;
  const size_t errors_before;
  std::shared_ptr<PolicySnapshot> snap{new PolicySnapshot()};
  PolicySnapshot& s = *snap;

  std::map<std::string, uint16_t, std::less<>> schedule_index;
  std::map<std::string, uint16_t, std::less<>> group_index;
  // Lists: the files in NameRef::list order, the list cache and the entry it had for them.
  std::vector<ListFile> files;
  std::optional<ListCache> cache;
  std::string cache_key;
  std::optional<ListCache::Entry> cached;
  bool from_image = false;   // plain names come from the cache's mapped image
  bool write_cache = false;  // a new image is stored once the policy compiled
  std::vector<std::string> residues;
  std::vector<ListFormat> formats;
  struct LoadedList {
    uint8_t category;
    uint16_t id;
    ParsedList parsed;
  };
  std::vector<LoadedList> loaded;
  std::unordered_set<std::string> badfilters;

  Compiler(const Config& c, DiagnosticSink& d, const CompileOptions& o)
      : config(c), sink(d), options(o), errors_before(d.errorCount()) {}

  std::vector<ListCacheInput> cacheInputs() const { return listCacheInputs(config, files); }

  // Categories in standard order (categoryOf() gives the same indices).
  void categories() {
    for (const auto& c : standardCategories()) {
      s.category_names_.emplace_back(c.name);
      s.category_kinds_.push_back(c.kind);
    }
  }

  // Time zones and schedules.
  void schedules() {
    std::map<std::string, uint32_t, std::less<>> tz_index;
    auto timeZone = [&](const std::string& name, const SourceLocation& at) -> uint32_t {
      if (auto it = tz_index.find(name); it != tz_index.end()) return it->second;
      auto tz = TimeZone::load(name);
      if (!tz) {
        sink.error(at, tz.status().message());
        return 0;
      }
      const uint32_t idx = static_cast<uint32_t>(s.time_zones_.size());
      s.time_zones_.push_back(std::move(*tz));
      tz_index[name] = idx;
      return idx;
    };
    timeZone(config.policy.time_zone, {});
    for (const auto& spec : config.schedules) {
      Schedule sc;
      sc.name = spec.name;
      sc.time_zone = timeZone(spec.time_zone, spec.where);
      for (const auto& w : spec.windows) {
        if (std::string err = parseWindow(w, sc.minutes); !err.empty()) sink.error(spec.where, err);
      }
      for (const auto& d : spec.active_dates) {
        DateRange r;
        if (std::string err = parseDateRange(d, r); !err.empty())
          sink.error(spec.where, err);
        else
          sc.active_dates.push_back(r);
      }
      for (const auto& d : spec.inactive_dates) {
        DateRange r;
        if (std::string err = parseDateRange(d, r); !err.empty())
          sink.error(spec.where, err);
        else
          sc.inactive_dates.push_back(r);
      }
      schedule_index[spec.name] = static_cast<uint16_t>(s.schedules_.size());
      s.schedules_.push_back(std::move(sc));
    }
  }

  // Lists -> one NameIndex (+ ListMatchers for pattern/modifier rules, per category).
  // Two passes: every list is read first so that a `$badfilter` rule disables the rule it names
  // in any list (as AdGuard does across lists), including plain names that go straight into the
  // shared name index; then the surviving entries are indexed. With a list cache
  // (policy/list_cache.h) whose entry matches the files as they are, the plain names come from
  // its mapped image and only each file's residue is parsed.
  void openListCache() {
    files = listFilesOf(config, sink);

    if (!options.list_cache_dir.empty() && !files.empty()) {
      if (auto key = ListCache::keyOf(cacheInputs())) {
        cache.emplace(options.list_cache_dir);
        cache_key = std::move(*key);
        auto entry = cache->load(cache_key, files.size());
        if (entry) {
          cached = std::move(*entry);
        } else if (entry.status().code() != StatusCode::kNotFound) {
          sink.warning(SourceLocation{cache->dir().string(), 0, 0},
                       "compiled lists refused: " + entry.status().message() +
                           "; reading the list text instead");
        }
      }
    }
    from_image = cached.has_value();
    write_cache = cache && !from_image && options.write_list_cache;
  }

  // Pass 1: every list file read (or its residue, from the cache), $badfilter rules noted.
  void readLists() {
    for (size_t i = 0; i < files.size(); ++i) {
      const ListFile& f = files[i];
      const ListSpec& spec = config.lists[f.spec];
      const uint16_t id = static_cast<uint16_t>(i);
      ListReadOptions read_options;
      read_options.format = spec.format;
      read_options.list_id = id;
      ParsedList parsed;
      if (from_image) {
        read_options.format = cached->formats[i];
        parsed = parseListText(cached->residues[i], f.path, read_options, sink);
        cached->residues[i] = std::string();
      } else {
        auto text = readListText(f.path, read_options, sink);
        if (!text) {
          sink.error(spec.where,
                     "lists[" + std::to_string(f.spec) + "].sources: " + text.status().message());
          s.list_sources_.push_back(ListSource{f.path, spec.name, f.category});
          continue;
        }
        parsed = parseListText(*text, f.path, read_options, sink);
        if (write_cache) {
          residues.push_back(blankLines(*text, plainOnlyLines(parsed)));
          formats.push_back(parsed.format);
        }
      }
      s.list_sources_.push_back(ListSource{f.path, spec.name, f.category});
      for (const auto& r : parsed.rules) {
        if (r.badfilter) badfilters.insert(badfilterKey(r));
      }
      loaded.push_back(LoadedList{f.category, id, std::move(parsed)});
    }
  }

  // Address entries: one category bitmask per distinct CIDR (a CidrSet keeps the first value
  // of identical CIDRs, so merge them first).
  void destinationAddresses() {
    std::map<std::string, std::pair<Cidr, uint32_t>> addresses;
    for (LoadedList& l : loaded) {
      for (const auto& a : l.parsed.addresses) {
        auto& slot = addresses[a.cidr.toString()];
        slot.first = a.cidr;
        slot.second |= 1u << l.category;
      }
    }
    for (const auto& [key, entry] : addresses) {
      s.destination_addresses_.add(entry.first, entry.second);
    }
    s.destination_addresses_.finalize();
    s.stats_.address_entries = addresses.size();
    s.circumvention_category_ = categoryOf("circumvention");
  }

  // Pass 2: the surviving entries into the name index and the per-category matchers.
  void indexLists() {
    NameIndex::Builder names;
    std::vector<ParsedList> pattern_lists[kMaxCategories];
    if (!from_image) {
      size_t total = 0;
      for (const LoadedList& l : loaded) total += l.parsed.names.size() + l.parsed.rules.size();
      names.reserve(total);  // once: growing it list by list would copy every entry again
    }
    for (LoadedList& l : loaded) {
      const uint8_t cat = l.category;
      const uint16_t id = l.id;
      ParsedList& list = l.parsed;
      const std::string path = list.path;
      // From an image, the names a residue still yields (lines kept for their warnings) are
      // already in it.
      if (!from_image) {
        for (const auto& e : list.names) {
          if (!badfilters.empty() && badfilters.count(badfilterKey(list, e))) continue;
          uint8_t flags = 0;
          if (e.action == RuleAction::kAllow) flags |= NameRef::kAllow;
          if (e.important) flags |= NameRef::kImportant;
          names.add(list.name(e), e.kind, id, e.line, flags);
        }
      }
      // Plain names (with or without $important) go into the shared name index; rules with
      // patterns or other modifiers ($dnstype, $client, $denyallow, regexes) are kept for a
      // per-category ListMatcher, which implements their AdGuard semantics.
      ParsedList extra;
      extra.path = list.path;
      extra.list_id = id;
      extra.format = list.format;
      size_t rewrites = 0;
      for (auto& r : list.rules) {
        if (r.badfilter) continue;
        if (!badfilters.empty() && badfilters.count(badfilterKey(r))) continue;
        if (isPlainNameRule(r)) {
          if (from_image) continue;
          uint8_t flags = 0;
          if (r.action == RuleAction::kAllow) flags |= NameRef::kAllow;
          if (r.important) flags |= NameRef::kImportant;
          names.add(r.name, r.kind, id, r.line, flags);
          continue;
        }
        if (r.has_dnsrewrite && ++rewrites <= 5) {
          sink.warning(SourceLocation{path, r.line, 0},
                       "\"" + r.text +
                           "\": $dnsrewrite is not used in category lists (safe search is "
                           "configured per group)");
        }
        extra.rules.push_back(std::move(r));
      }
      list = ParsedList{};  // free each list as soon as it is indexed
      if (!extra.rules.empty()) pattern_lists[cat].push_back(std::move(extra));
    }
    for (size_t c = 0; c < kMaxCategories; ++c) {
      if (pattern_lists[c].empty()) continue;
      auto matcher = ListMatcher::compile(std::move(pattern_lists[c]), sink);
      if (!matcher) {
        sink.error({}, "category " + s.category_names_[c] + ": " + matcher.status().message());
        continue;
      }
      s.stats_.pattern_rules += (*matcher)->stats().rules;
      s.rule_matchers_.push_back(PatternMatcher{static_cast<uint8_t>(c), std::move(*matcher)});
    }
    if (from_image) {
      s.names_ = std::move(cached->names);
      s.list_cache_key_ = cache_key;
    } else {
      NameIndex::Builder builder = std::move(names);  // its pending entries go with this scope
      s.names_ = std::make_shared<const NameIndex>(builder.build());
    }
    s.stats_.list_entries = s.names_->entries();
    s.stats_.names_from_cache = from_image;
  }

  // Regex rules -> one RegexRuleSet.
  void regexRules() {
    RegexRuleSet::Builder regex;
    // Each pattern's value is its index in the parallel vectors that explain a match.
    auto addPattern = [&](std::string_view pattern, const SourceLocation& at, uint8_t cat) {
      const uint32_t value = static_cast<uint32_t>(s.regex_categories_.size());
      if (regex.add(pattern, at, value, sink)) {
        s.regex_categories_.push_back(cat);
        s.regex_text_.emplace_back(pattern);
        s.regex_file_.push_back(at.file);
        s.regex_line_.push_back(at.line);
      }
    };
    for (size_t ri = 0; ri < config.rules.size(); ++ri) {
      const RuleSetSpec& spec = config.rules[ri];
      const uint8_t cat = categoryOf(spec.category);
      if (cat == kNoCategory) continue;  // reported by loadConfig
      for (const auto& [pattern, at] : spec.patterns) addPattern(pattern, at, cat);
      for (const auto& path : spec.sources) {
        const Status read =
            readExpressionsFile(path, [&](std::string_view pattern, const SourceLocation& at) {
              addPattern(pattern, at, cat);
            });
        if (!read.isOk()) {
          sink.error(spec.where, "rules[" + std::to_string(ri) + "].sources: cannot read \"" +
                                     path.string() + "\": " + read.message());
        }
      }
    }
    s.stats_.regex_rules = s.regex_categories_.size();
    if (regex.size() > 0) {
      auto built = regex.build(sink);
      if (built) s.regex_ = std::move(*built);
    }
  }

  // Groups, and the default group.
  void groups() {
    for (const auto& spec : config.groups) {
      Group g;
      g.settings.name = spec.name;
      g.settings.profile = spec.profile;
      g.settings.block_answer = spec.block_answer;
      g.settings.strip_ech = spec.strip_ech;
      g.settings.fail_open = spec.fail_open;
      g.settings.quic = spec.quic;
      g.settings.encrypted_dns = spec.encrypted_dns;
      g.settings.unresolved_destination = spec.unresolved_destination;
      g.settings.ech = spec.ech;
      g.config_file = spec.where.file;
      g.config_line = spec.where.line;
      const ProfilePreset* preset = findProfile(spec.profile);
      if (!preset) preset = findProfile("strict");
      g.actions.fill(Action::kAllow);
      for (size_t c = 0; c < s.category_kinds_.size(); ++c) {
        if (s.category_kinds_[c] == CategoryKind::kIllegal) g.actions[c] = Action::kBlock;
      }
      for (const auto& [cat, action] : preset->actions) {
        const uint8_t c = categoryOf(cat);
        if (c != kNoCategory) g.actions[c] = action;
      }
      for (const auto& [cat, action] : spec.categories) {
        const uint8_t c = categoryOf(cat);
        if (c != kNoCategory && s.category_kinds_[c] == CategoryKind::kContent)
          g.actions[c] = action;
      }
      g.default_action = spec.default_action.value_or(preset->default_action);
      for (const auto& a : spec.allow_lists) {
        const uint8_t c = categoryOf(a);
        if (c != kNoCategory && s.category_kinds_[c] == CategoryKind::kAllowType) {
          g.allow_type_mask |= 1u << c;
        }
      }
      g.safe_google = spec.safe_search_google;
      g.safe_bing = spec.safe_search_bing;
      g.safe_ddg = spec.safe_search_duckduckgo;
      g.youtube = spec.youtube;
      auto canonicalNames = [&](const std::vector<std::string>& in, std::vector<std::string>& out,
                                std::string_view key) {
        for (const auto& n : in) {
          std::string_view v = n;
          if (v.starts_with("*.")) v.remove_prefix(2);
          auto c = normalizeDomain(v);
          if (!c) {
            sink.error(spec.where, "groups." + spec.name + "." + std::string(key) + ": \"" + n +
                                       "\": " + c.status().message());
          } else {
            out.push_back(*c);
          }
        }
      };
      canonicalNames(spec.allow, g.allow, "allow");
      canonicalNames(spec.block, g.block, "block");
      if (spec.schedules.size() > kMaxGroupSchedules) {
        sink.error(spec.where, "groups." + spec.name +
                                   ".schedules: " + std::to_string(spec.schedules.size()) +
                                   " entries; at most " + std::to_string(kMaxGroupSchedules) +
                                   " (merge windows into fewer [[schedules]])");
      }
      for (const auto& gs : spec.schedules) {
        auto it = schedule_index.find(gs.schedule);
        if (it == schedule_index.end()) continue;  // reported by loadConfig
        GroupSchedule out;
        out.schedule = it->second;
        out.actions.fill(-1);
        for (const auto& [cat, action] : gs.categories) {
          const uint8_t c = categoryOf(cat);
          if (c != kNoCategory && s.category_kinds_[c] == CategoryKind::kContent) {
            out.actions[c] = static_cast<int8_t>(action);
          }
        }
        out.allow_only = gs.allow_only;
        canonicalNames(gs.allow, out.allow, "schedules.allow");
        g.schedules.push_back(std::move(out));
      }
      group_index[spec.name] = static_cast<uint16_t>(s.groups_.size());
      s.groups_.push_back(std::move(g));
    }
    if (auto it = group_index.find(config.policy.default_group); it != group_index.end()) {
      s.default_group_ = it->second;
    } else {
      sink.error({}, "policy.default_group: no group \"" + config.policy.default_group + "\"");
    }
  }

  // Clients by address range and MAC.
  void clients() {
    for (const auto& c : config.clients) {
      auto it = group_index.find(c.group);
      if (it == group_index.end()) continue;  // reported by loadConfig
      const uint32_t idx = static_cast<uint32_t>(s.clients_.size());
      s.clients_.push_back(Client{c.name, it->second});
      for (const auto& cidr : c.addresses) {
        s.client_addresses_.add(cidr, idx);
        s.client_cidrs_.emplace_back(cidr, idx);
      }
      for (const auto& mac : c.macs) s.client_macs_.emplace_back(mac, idx);
    }
    s.client_addresses_.finalize();
    std::sort(s.client_macs_.begin(), s.client_macs_.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
  }

  // Safe search and bypass names.
  void safeSearchAndBypass() {
    for (auto d : googleSearchDomains()) {
      s.safe_search_.push_back({std::string(d), 0});
      s.safe_search_.push_back({"www." + std::string(d), 0});
    }
    for (auto d : bingNames()) s.safe_search_.push_back({std::string(d), 1});
    for (auto d : duckDuckGoNames()) s.safe_search_.push_back({std::string(d), 2});
    for (auto d : youtubeNames()) s.safe_search_.push_back({std::string(d), 3});
    std::sort(s.safe_search_.begin(), s.safe_search_.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    s.safe_targets_ = {std::string(kGoogleSafeTarget), std::string(kBingSafeTarget),
                       std::string(kDuckDuckGoSafeTarget), std::string(kYoutubeStrictTarget),
                       std::string(kYoutubeModerateTarget)};
    s.bypass_enabled_ = config.policy.bypass_defaults;
    // Firefox canary (support.mozilla.org "canary domain"), Apple Private Relay
    // (developer.apple.com "Prepare your network for iCloud Private Relay"): NXDOMAIN turns
    // them off. DDR (RFC 9462 §4): answering resolver.arpa SVCB with no records keeps clients
    // from upgrading to an encrypted resolver we do not run.
    s.bypass_ = {{"use-application-dns.net", BlockAnswer::kNxdomain},
                 {"mask.icloud.com", BlockAnswer::kNxdomain},
                 {"mask-h2.icloud.com", BlockAnswer::kNxdomain},
                 {"resolver.arpa", BlockAnswer::kNodata},
                 {"_dns.resolver.arpa", BlockAnswer::kNodata}};
  }

  // Statistics; the verdict on the whole compile; the list cache written.
  Result<PolicySnapshotPtr> finish() {
    s.stats_.groups = s.groups_.size();
    s.stats_.schedules = s.schedules_.size();
    s.stats_.clients = s.clients_.size();
    s.stats_.memory_bytes = s.names_->memoryBytes() + s.list_sources_.size() * 64 +
                            s.groups_.size() * sizeof(Group) + s.safe_search_.size() * 48;

    if (sink.errorCount() > errors_before) {
      const size_t n = sink.errorCount() - errors_before;
      return Status::invalid(std::to_string(n) + " error" + (n == 1 ? "" : "s") +
                             " compiling the policy");
    }
    // Only a policy that compiled is stored, and only from list files that did not change while
    // they were read; the stored image, mapped, replaces the private copy just built.
    if (write_cache) {
      auto key_now = ListCache::keyOf(cacheInputs());
      if (key_now && *key_now == cache_key) {
        auto stored = cache->store(cache_key, *s.names_, residues, formats);
        if (stored) {
          s.names_ = std::move(*stored);
          s.list_cache_key_ = cache_key;
        } else {
          sink.warning(SourceLocation{cache->dir().string(), 0, 0},
                       "compiled lists not saved: " + stored.status().message() +
                           "; the next start reads the list text again");
        }
      }
      residues.clear();
    }
    s.stats_.names_mapped = s.names_->mapped();
    return PolicySnapshotPtr(std::move(snap));
  }
};

Result<PolicySnapshotPtr> PolicySnapshot::compile(const Config& config, DiagnosticSink& sink,
                                                  const CompileOptions& options) {
  Compiler step(config, sink, options);
  step.categories();
  step.schedules();
  step.openListCache();
  step.readLists();
  step.destinationAddresses();
  step.indexLists();
  step.regexRules();
  step.groups();
  step.clients();
  step.safeSearchAndBypass();
  return step.finish();
}

uint16_t PolicySnapshot::groupFor(const IpAddress& client,
                                  const std::optional<MacAddress>& mac) const noexcept {
  if (mac && !client_macs_.empty()) {
    auto it = std::lower_bound(client_macs_.begin(), client_macs_.end(), *mac,
                               [](const auto& e, const MacAddress& m) { return e.first < m; });
    if (it != client_macs_.end() && it->first == *mac) return clients_[it->second].group;
  }
  if (auto idx = client_addresses_.find(client)) return clients_[*idx].group;
  return default_group_;
}

std::vector<PolicySnapshot::GroupFiltering> PolicySnapshot::filteringByGroup() const {
  // Sources per category: list files, pattern matchers and regex rules.
  std::array<size_t, kMaxCategories> per_category{};
  auto count = [&](uint8_t c) {
    if (c < kMaxCategories) ++per_category[c];
  };
  for (const ListSource& l : list_sources_) count(l.category);
  for (const PatternMatcher& m : rule_matchers_) count(m.category);
  for (uint8_t c : regex_categories_) count(c);
  std::vector<GroupFiltering> out;
  out.reserve(groups_.size());
  for (const Group& g : groups_) {
    GroupFiltering f{g.settings.name, g.block.size()};
    if (g.default_action != Action::kAllow) ++f.sources;
    for (const GroupSchedule& s : g.schedules) f.sources += s.allow_only ? 1 : 0;
    for (size_t c = 0; c < category_names_.size() && c < kMaxCategories; ++c) {
      if (category_kinds_[c] == CategoryKind::kAllowType) continue;  // unblocks, never blocks
      bool acted_on =
          category_kinds_[c] == CategoryKind::kIllegal || g.actions[c] != Action::kAllow;
      for (const GroupSchedule& s : g.schedules) {
        if (s.actions[c] >= 0 && static_cast<Action>(s.actions[c]) != Action::kAllow) {
          acted_on = true;
        }
      }
      if (acted_on) f.sources += per_category[c];
    }
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<PolicySnapshot::ClientSource> PolicySnapshot::clientSources() const {
  std::vector<ClientSource> out;
  for (const auto& [mac, idx] : client_macs_) {
    ClientSource c;
    c.mac = mac;
    c.group = clients_[idx].group;
    out.push_back(c);
  }
  auto cidrs = client_cidrs_;
  // CidrSet semantics: the most specific range wins; for identical ranges the first added.
  std::stable_sort(cidrs.begin(), cidrs.end(), [](const auto& a, const auto& b) {
    return a.first.prefixLength() > b.first.prefixLength();
  });
  for (const auto& [cidr, idx] : cidrs) {
    ClientSource c;
    c.cidr = cidr;
    c.group = clients_[idx].group;
    out.push_back(c);
  }
  return out;
}

std::string_view PolicySnapshot::clientName(const IpAddress& client,
                                            const std::optional<MacAddress>& mac) const noexcept {
  if (mac) {
    auto it = std::lower_bound(client_macs_.begin(), client_macs_.end(), *mac,
                               [](const auto& e, const MacAddress& m) { return e.first < m; });
    if (it != client_macs_.end() && it->first == *mac) return clients_[it->second].name;
  }
  if (auto idx = client_addresses_.find(client)) return clients_[*idx].name;
  return {};
}

const std::string* PolicySnapshot::findSafeSearch(std::string_view name,
                                                  const Group& g) const noexcept {
  auto it =
      std::lower_bound(safe_search_.begin(), safe_search_.end(), name,
                       [](const SafeSearchEntry& e, std::string_view n) { return e.name < n; });
  if (it == safe_search_.end() || it->name != name) return nullptr;
  switch (it->engine) {
    case 0: return g.safe_google ? &safe_targets_[0] : nullptr;
    case 1: return g.safe_bing ? &safe_targets_[1] : nullptr;
    case 2: return g.safe_ddg ? &safe_targets_[2] : nullptr;
    case 3:
      if (g.youtube == YoutubeMode::kStrict) return &safe_targets_[3];
      if (g.youtube == YoutubeMode::kModerate) return &safe_targets_[4];
      return nullptr;
  }
  return nullptr;
}

// decide()'s state and its steps, one per level of the precedence in the header comment and
// docs/policy.md. A step returns true when it decided (the Decision is then complete); the
// steps read the list hits, exceptions and active schedules gathered once up front.
struct PolicySnapshot::Decider {
  const PolicySnapshot& s;
  const RequestFacts& facts;
  const ExceptionTable* exceptions;
  const Group& g;
  const std::string_view name;
  Decision d;

  // The strongest list hit per category (most specific first within a level). Only the levels
  // are initialised; ref/suffix are read only where a level was set.
  int8_t level[kMaxCategories];
  NameRef ref[kMaxCategories];
  std::string_view suffix[kMaxCategories];
  // Temporary category exceptions in force, by category index; the first in the table wins
  // (bit set = entry set).
  const TemporaryException* category_exception[kMaxCategories];
  uint32_t excepted_categories = 0;
  // Schedule entries of the group active at the request's time (compile() refused groups with
  // more than kMaxGroupSchedules entries).
  bool active[kMaxGroupSchedules] = {};
  const GroupSchedule* allow_only = nullptr;  // the active allow-only entry, if any

  Decider(const PolicySnapshot& snapshot, const RequestFacts& f, const ExceptionTable* e,
          uint16_t group_index) noexcept
      : s(snapshot), facts(f), exceptions(e), g(snapshot.groups_[group_index]), name(f.name) {
    d.group_index = group_index;
    d.group = g.settings.name;
    d.block_answer = g.settings.block_answer;
    d.strip_ech = g.settings.strip_ech;
  }

  void hit(size_t cat, int8_t lvl, const NameRef& r, std::string_view text) noexcept {
    if (lvl > level[cat]) {
      level[cat] = lvl;
      ref[cat] = r;
      suffix[cat] = text;
    }
  }

  // Every list that names the request: the shared name index, then the per-category pattern
  // matchers (adblock rules with modifiers, and URL rules for plain HTTP).
  void collectListHits() noexcept {
    std::memset(level, kNone, sizeof(level));
    s.names_->forEachMatch(name, [&](const NameRef& r, std::string_view matched) {
      const bool allow = (r.flags & NameRef::kAllow) != 0;
      const bool important = (r.flags & NameRef::kImportant) != 0;
      hit(s.list_sources_[r.list].category,
          important ? (allow ? kImportantAllow : kImportantBlock) : (allow ? kAllowHit : kBlockHit),
          r, matched);
    });
    // A plain-HTTP request is also matched by URL rules (rules with a path): its URL as
    // AdGuard forms it, "http://" + host + path-and-query. The path is also matched as a
    // server resolves it (normalizeHttpPath: "%65", "/./", "//"), so a child cannot spell a
    // blocked page differently. Per-thread buffers: they only grow.
    std::string_view url, normalized_url;
    if (facts.protocol == Protocol::kHttp && !s.rule_matchers_.empty()) {
      thread_local std::string url_buffer, path_buffer, normalized_buffer;
      const std::string_view path =
          facts.http_path.empty() ? std::string_view("/") : facts.http_path;
      url_buffer.assign("http://").append(name).append(path);
      url = url_buffer;
      normalized_buffer.assign("http://").append(name).append(normalizeHttpPath(path, path_buffer));
      if (normalized_buffer != url_buffer) normalized_url = normalized_buffer;
    }
    for (const auto& pm : s.rule_matchers_) {
      ListQuery q;
      q.name = name;
      q.qtype = facts.dns_type;
      q.client = facts.client;
      q.url = url;
      ListMatch m = pm.matcher->match(q);
      if (!m && !normalized_url.empty()) {
        q.url = normalized_url;
        m = pm.matcher->match(q);
      }
      int8_t lvl = kNone;
      if (m.verdict == ListVerdict::kBlocked) lvl = m.important ? kImportantBlock : kBlockHit;
      if (m.verdict == ListVerdict::kAllowed) lvl = m.important ? kImportantAllow : kAllowHit;
      hit(pm.category, lvl,
          NameRef{m.rule.list_id, static_cast<uint8_t>(m.rule.kind), 0, m.rule.line},
          m.rule.text.empty() ? m.rule.matched_name : m.rule.text);
    }
  }

  void fillFromHit(size_t cat) noexcept {
    d.category = s.category_names_[cat];
    d.rule = suffix[cat];
    d.source_file = s.list_sources_[ref[cat].list].path;
    d.source_line = ref[cat].line;
  }

  void fillFromGroup(std::string_view rule) noexcept {
    d.rule = rule;
    d.source_file = g.config_file;
    d.source_line = g.config_line;
  }

  // 1. Illegal lists: blocked, confidential, alerted; nothing overrides them.
  bool illegalList() noexcept {
    for (size_t c = 0; c < s.category_kinds_.size(); ++c) {
      if (s.category_kinds_[c] == CategoryKind::kIllegal && blocks(level[c])) {
        d.verdict = Verdict::kBlock;
        d.reason = DecisionReason::kIllegalList;
        d.category = s.category_names_[c];
        d.confidential = true;
        d.log = true;
        d.alert = true;
        return true;
      }
    }
    return false;
  }

  // 2. Bypass defaults (DNS only): canary and DDR names answered so the client stays here.
  bool bypassDefault() noexcept {
    if (facts.protocol != Protocol::kDns || !s.bypass_enabled_) return false;
    for (const auto& b : s.bypass_) {
      if (name == b.name) {
        d.verdict = Verdict::kBlock;
        d.block_answer = b.answer;
        d.reason = DecisionReason::kBypassDefault;
        d.rule = b.name;
        d.source_file = s.bypass_source_;
        return true;
      }
    }
    return false;
  }

  // 3/4. A pause or a name exception in force at the request's time allows; category
  // exceptions are only collected here (they remove their category in steps 9-11).
  bool temporaryException() noexcept {
    if (!exceptions) return false;
    for (const auto& e : exceptions->entries()) {
      if (e.until_unix_seconds <= facts.unix_time_seconds ||
          e.created_unix_seconds > facts.unix_time_seconds) {
        continue;
      }
      const bool applies = e.scope == TemporaryException::Scope::kClient
                               ? e.client == facts.client
                               : std::string_view(e.group) == d.group;
      if (!applies) continue;
      if (e.kind == TemporaryException::Kind::kPause ||
          (e.kind == TemporaryException::Kind::kName && isSameOrSubdomain(name, e.name))) {
        d.verdict = Verdict::kAllow;
        d.reason = e.kind == TemporaryException::Kind::kPause ? DecisionReason::kPauseException
                                                              : DecisionReason::kTemporaryException;
        d.exception_id = e.id;
        d.granted_by = e.granted_by;
        if (e.kind == TemporaryException::Kind::kName) d.rule = e.name;
        return true;
      }
      if (e.kind == TemporaryException::Kind::kCategory) {
        for (size_t c = 0; c < s.category_names_.size() && c < kMaxCategories; ++c) {
          if (s.category_names_[c] == e.category && !(excepted_categories >> c & 1u)) {
            category_exception[c] = &e;
            excepted_categories |= 1u << c;
          }
        }
      }
    }
    return false;
  }

  // 5. The group's own block names, then its allow names.
  bool groupNames() noexcept {
    std::string_view matched;
    if (coveredBy(name, g.block, &matched)) {
      d.verdict = Verdict::kBlock;
      d.reason = DecisionReason::kCategory;
      d.log = true;
      fillFromGroup(matched);
      return true;
    }
    if (coveredBy(name, g.allow, &matched)) {
      d.verdict = Verdict::kAllow;
      d.reason = DecisionReason::kAllowList;
      fillFromGroup(matched);
      return true;
    }
    return false;
  }

  // Which of the group's schedule entries are active (local time computed once per zone).
  void findActiveSchedules() noexcept {
    if (g.schedules.empty()) return;
    constexpr uint32_t kCachedZones = 8;
    LocalTime local[kCachedZones];
    bool have[kCachedZones] = {};
    for (size_t i = 0; i < g.schedules.size(); ++i) {
      const Schedule& sc = s.schedules_[g.schedules[i].schedule];
      const uint32_t tz = sc.time_zone;
      LocalTime lt;
      if (tz < kCachedZones) {
        if (!have[tz]) {
          local[tz] = s.time_zones_[tz].toLocal(facts.unix_time_seconds);
          have[tz] = true;
        }
        lt = local[tz];
      } else {
        lt = s.time_zones_[tz].toLocal(facts.unix_time_seconds);
      }
      active[i] = sc.activeAt(lt);
      if (active[i] && g.schedules[i].allow_only) allow_only = &g.schedules[i];
    }
  }

  // 6. An allow-only schedule ("bedtime"): only its names and the allow-type lists pass.
  bool allowOnlySchedule() noexcept {
    if (allow_only == nullptr) return false;
    std::string_view matched;
    for (size_t i = 0; i < g.schedules.size(); ++i) {
      if (active[i] && coveredBy(name, g.schedules[i].allow, &matched)) {
        d.verdict = Verdict::kAllow;
        d.reason = DecisionReason::kAllowList;
        fillFromGroup(matched);
        return true;
      }
    }
    if (allowTypeList()) return true;
    d.verdict = Verdict::kBlock;
    d.reason = DecisionReason::kScheduleAllowOnly;
    d.log = true;
    fillFromGroup(s.schedules_[allow_only->schedule].name);
    return true;
  }

  // 7. Safe search (DNS only): the engine's name is rewritten to its restricted target.
  bool safeSearch() noexcept {
    if (facts.protocol != Protocol::kDns) return false;
    const std::string* target = s.findSafeSearch(name, g);
    if (target == nullptr) return false;
    d.verdict = Verdict::kRewrite;
    d.reason = DecisionReason::kSafeSearch;
    d.rewrite_target = *target;
    d.rule = *target;
    d.source_file = s.safe_search_source_;
    return true;
  }

  // 8. An allow-type list (education, health, ...) enabled for the group lists the name.
  bool allowTypeList() noexcept {
    for (size_t c = 0; c < s.category_kinds_.size(); ++c) {
      if (s.category_kinds_[c] == CategoryKind::kAllowType && (g.allow_type_mask >> c & 1u) &&
          blocks(level[c])) {
        d.verdict = Verdict::kAllow;
        d.reason = DecisionReason::kAllowList;
        fillFromHit(c);
        return true;
      }
    }
    return false;
  }

  const TemporaryException* excepted(size_t c) const noexcept {
    return c < kMaxCategories && (excepted_categories >> c & 1u) ? category_exception[c] : nullptr;
  }

  // The group's action for a category now: the last active schedule entry that sets it, else
  // the group's own.
  Action actionFor(size_t category) const noexcept {
    for (size_t i = g.schedules.size(); i-- > 0;) {
      if (active[i] && g.schedules[i].actions[category] >= 0) {
        return static_cast<Action>(g.schedules[i].actions[category]);
      }
    }
    return g.actions[category];
  }

  void apply(Action a) noexcept {
    d.verdict = a == Action::kAllow                               ? Verdict::kAllow
                : a == Action::kBlock || a == Action::kAlertBlock ? Verdict::kBlock
                                                                  : Verdict::kMonitor;
    d.log = a != Action::kAllow;
    d.alert = a == Action::kAlertAllow || a == Action::kAlertBlock;
  }

  // Filled by categoryLists() and regexRules() for step 11.
  int allowed_category = -1;    // a listing category the group sets to allow
  int exception_category = -1;  // a category whose list has an @@ exception for the name
  const TemporaryException* used_exception = nullptr;

  // 9. Category lists: the strongest action among the categories that list the name.
  bool categoryLists() noexcept {
    int best = -1;
    Action best_action = Action::kAllow;
    for (size_t c = 0; c < s.category_kinds_.size(); ++c) {
      if (s.category_kinds_[c] != CategoryKind::kContent || level[c] == kNone) continue;
      if (!blocks(level[c])) {
        if (exception_category < 0) exception_category = static_cast<int>(c);
        continue;
      }
      if (const TemporaryException* e = excepted(c)) {
        used_exception = e;
        continue;
      }
      const Action a = actionFor(c);
      if (a == Action::kAllow) {
        if (allowed_category < 0) allowed_category = static_cast<int>(c);
        continue;
      }
      if (best < 0 || a > best_action) {
        best = static_cast<int>(c);
        best_action = a;
      }
    }
    if (best < 0) return false;
    d.reason = DecisionReason::kCategory;
    apply(best_action);
    fillFromHit(static_cast<size_t>(best));
    return true;
  }

  // 10. Regex rules: the action of the matching rule's category.
  bool regexRules() noexcept {
    if (!s.regex_) return false;
    auto m = s.regex_->match(name);
    if (!m) return false;
    const uint8_t c = s.regex_categories_[m->value];
    if (const TemporaryException* e = excepted(c)) {
      used_exception = e;
      return false;
    }
    const Action a = actionFor(c);
    if (a == Action::kAllow) return false;
    d.reason = DecisionReason::kRegexRule;
    apply(a);
    d.category = s.category_names_[c];
    d.rule = s.regex_text_[m->value];
    d.source_file = s.regex_file_[m->value];
    d.source_line = s.regex_line_[m->value];
    return true;
  }

  // 11. Nothing blocked, but a temporary category exception, a category set to allow or an
  // @@ exception in a list is why: say so.
  bool allowedByException() noexcept {
    if (used_exception) {
      d.verdict = Verdict::kAllow;
      d.reason = DecisionReason::kTemporaryException;
      d.exception_id = used_exception->id;
      d.granted_by = used_exception->granted_by;
      d.category = used_exception->category;
      return true;
    }
    const int c = allowed_category >= 0 ? allowed_category : exception_category;
    if (c < 0) return false;
    d.verdict = Verdict::kAllow;
    d.reason = allowed_category >= 0 ? DecisionReason::kCategory : DecisionReason::kListException;
    fillFromHit(static_cast<size_t>(c));
    return true;
  }

  // 12. The group's default.
  void groupDefault() noexcept {
    d.reason = DecisionReason::kDefault;
    apply(g.default_action);
  }
};

Decision PolicySnapshot::decide(const RequestFacts& facts,
                                const ExceptionTable* exceptions) const noexcept {
  Decider step(*this, facts, exceptions, groupFor(facts.client, facts.mac));
  step.collectListHits();
  if (step.illegalList() || step.bypassDefault() || step.temporaryException() ||
      step.groupNames()) {
    return step.d;
  }
  step.findActiveSchedules();
  if (step.allowOnlySchedule() || step.safeSearch() || step.allowTypeList() ||
      step.categoryLists() || step.regexRules() || step.allowedByException()) {
    return step.d;
  }
  step.groupDefault();
  return step.d;
}

Result<LoadedPolicy> PolicyEngine::load(const std::filesystem::path& config_file,
                                        DiagnosticSink& sink, const LoadOptions& options) {
  auto cfg = loadConfig(config_file, sink, options.state_dir_override);
  if (!cfg) return cfg.status();
  CompileOptions compile_options;
  if (options.read_list_cache || options.write_list_cache) {
    compile_options.list_cache_dir = cfg->daemon.state_dir / "compiled";
    compile_options.write_list_cache = options.write_list_cache;
  }
  auto snap = PolicySnapshot::compile(*cfg, sink, compile_options);
  if (!snap) return snap.status();
  return LoadedPolicy{std::move(*cfg), std::move(*snap)};
}

}  // namespace safegate::policy
