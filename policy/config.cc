#include "policy/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <unordered_map>

#include "common/read_file.h"
#include "policy/config_schema.h"
#include "policy/suggest.h"

namespace safegate::policy {

namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxConfigFileBytes = 16 << 20;  // a config file, not a list: lists are read
                                                  // by filters/list_reader

SourceLocation where(const toml::source_region& src) {
  SourceLocation loc;
  if (src.path) loc.file = *src.path;
  loc.line = src.begin.line;
  loc.column = src.begin.column;
  return loc;
}

// Schema defaults parsed once from their TOML text.
const toml::node* schemaDefault(std::string_view pattern) {
  static std::once_flag once;
  static std::unordered_map<std::string_view, toml::table>* defaults;
  std::call_once(once, [] {
    defaults = new std::unordered_map<std::string_view, toml::table>();
    for (const auto& d : schemaKeys()) {
      if (d.default_value.empty() || d.default_value.front() == '(') continue;
      try {
        (*defaults)[d.path] = toml::parse("v = " + std::string(d.default_value));
      } catch (const toml::parse_error&) {
        // A broken default is a programming error caught by config_schema_test.
      }
    }
  });
  auto it = defaults->find(pattern);
  return it == defaults->end() ? nullptr : it->second.get("v");
}

// Typed access to one table of the tree, falling back to the schema default; wrong types
// were already reported by the schema check, so they read as the default here.
class Section {
 public:
  Section(const toml::table* t, std::string pattern) : t_(t), pattern_(std::move(pattern)) {}

  const toml::node* node(std::string_view key) const {
    if (t_) {
      if (const toml::node* n = t_->get(key)) return n;
    }
    return nullptr;
  }
  const toml::node* nodeOrDefault(std::string_view key) const {
    if (const toml::node* n = node(key)) return n;
    return schemaDefault(path(key));
  }
  std::string path(std::string_view key) const {
    return pattern_.empty() ? std::string(key) : pattern_ + "." + std::string(key);
  }
  std::string str(std::string_view key) const {
    const toml::node* n = node(key);
    if (n && n->is_string()) return *n->value<std::string>();
    const toml::node* d = schemaDefault(path(key));
    return d && d->is_string() ? *d->value<std::string>() : std::string();
  }
  int64_t integer(std::string_view key) const {
    const toml::node* n = node(key);
    if (n && n->is_integer()) return *n->value<int64_t>();
    const toml::node* d = schemaDefault(path(key));
    return d ? d->value<int64_t>().value_or(0) : 0;
  }
  bool boolean(std::string_view key) const {
    const toml::node* n = node(key);
    if (n && n->is_boolean()) return *n->value<bool>();
    const toml::node* d = schemaDefault(path(key));
    return d ? d->value<bool>().value_or(false) : false;
  }
  std::vector<std::string> strings(std::string_view key) const {
    std::vector<std::string> out;
    const toml::node* n = node(key);
    if (!n || !n->is_array()) n = schemaDefault(path(key));
    if (n && n->is_array()) {
      for (const auto& e : *n->as_array()) {
        if (auto s = e.value<std::string>()) out.push_back(*s);
      }
    }
    return out;
  }
  // Strings with the location of each element.
  std::vector<std::pair<std::string, SourceLocation>> stringsAt(std::string_view key) const {
    std::vector<std::pair<std::string, SourceLocation>> out;
    const toml::node* n = node(key);
    if (n && n->is_array()) {
      for (const auto& e : *n->as_array()) {
        if (auto s = e.value<std::string>()) out.emplace_back(*s, where(e.source()));
      }
    }
    return out;
  }
  std::vector<int64_t> integers(std::string_view key) const {
    std::vector<int64_t> out;
    const toml::node* n = node(key);
    if (!n || !n->is_array()) n = schemaDefault(path(key));
    if (n && n->is_array()) {
      for (const auto& e : *n->as_array()) {
        if (auto v = e.value<int64_t>()) out.push_back(*v);
      }
    }
    return out;
  }
  SourceLocation at(std::string_view key) const {
    if (const toml::node* n = node(key)) return where(n->source());
    return here();
  }
  SourceLocation here() const { return t_ ? where(t_->source()) : SourceLocation{}; }
  const toml::table* table() const { return t_; }

  Section sub(std::string_view key) const {
    const toml::node* n = node(key);
    return Section(n ? n->as_table() : nullptr, path(key));
  }
  std::vector<Section> tables(std::string_view key) const {
    std::vector<Section> out;
    const toml::node* n = node(key);
    if (n && n->is_array()) {
      for (const auto& e : *n->as_array()) {
        if (e.is_table()) out.emplace_back(e.as_table(), path(key) + "[]");
      }
    }
    return out;
  }

 private:
  const toml::table* t_;
  std::string pattern_;
};

std::optional<BlockAnswer> parseBlockAnswer(std::string_view s) {
  if (s == "nxdomain") return BlockAnswer::kNxdomain;
  if (s == "nodata") return BlockAnswer::kNodata;
  if (s == "null") return BlockAnswer::kNullAddress;
  if (s == "block-page") return BlockAnswer::kBlockPage;
  if (s == "refused") return BlockAnswer::kRefused;
  return std::nullopt;
}

QuicMode parseQuic(std::string_view s) {
  return s == "drop" ? QuicMode::kDrop : QuicMode::kInspect;
}
EncryptedDnsMode parseEncryptedDns(std::string_view s) {
  if (s == "monitor") return EncryptedDnsMode::kMonitor;
  if (s == "allow") return EncryptedDnsMode::kAllow;
  return EncryptedDnsMode::kBlock;
}
UnresolvedMode parseUnresolved(std::string_view s) {
  if (s == "monitor") return UnresolvedMode::kMonitor;
  if (s == "block") return UnresolvedMode::kBlock;
  return UnresolvedMode::kAllow;
}
EchMode parseEch(std::string_view s) { return s == "block" ? EchMode::kBlock : EchMode::kOuterSni; }

ListFormat parseFormat(std::string_view s) {
  return parseListFormat(s).value_or(ListFormat::kAuto);
}

// ---- reading files and includes ----

class TreeLoader {
 public:
  explicit TreeLoader(DiagnosticSink& sink) : sink_(sink) {}

  // Parses `file` and merges its includes into it; nullopt if the file itself is unusable.
  std::optional<toml::table> load(const fs::path& file, const SourceLocation& included_from) {
    std::error_code ec;
    fs::path canonical = fs::weakly_canonical(file, ec);
    if (ec) canonical = file;
    for (const auto& open : stack_) {
      if (open == canonical) {
        std::string chain;
        for (const auto& p : stack_) chain += p.string() + " -> ";
        sink_.error(included_from, "include: cycle: " + chain + canonical.string());
        return std::nullopt;
      }
    }
    // Not an ifstream: reading a directory (`include = ["conf.d"]`) made its buffer throw.
    Result<std::string> read = readWholeFile(file, kMaxConfigFileBytes);
    if (!read) {
      sink_.error(included_from.known() ? included_from : SourceLocation{file.string(), 0, 0},
                  (included_from.known() ? "include: " : "") + std::string("cannot read ") +
                      read.status().message());
      return std::nullopt;
    }
    const std::string& text = *read;
    files_.push_back(canonical);
    toml::table root;
    try {
      root = toml::parse(text, file.string());
    } catch (const toml::parse_error& e) {
      SourceLocation loc{file.string(), e.source().begin.line, e.source().begin.column};
      sink_.error(loc, std::string(e.description()));
      return std::nullopt;
    }
    stack_.push_back(canonical);
    if (const toml::node* inc = root.get("include")) {
      const toml::array* arr = inc->as_array();
      if (!arr) {
        sink_.error(where(inc->source()), "include: expected list of strings, found another type");
      } else {
        for (const auto& e : *arr) {
          auto s = e.value<std::string>();
          if (!s || s->empty()) {
            sink_.error(where(e.source()), "include: expected a non-empty file name");
            continue;
          }
          fs::path p(*s);
          if (p.is_relative()) p = file.parent_path() / p;
          if (auto child = load(p, where(e.source()))) merge(root, *child, "");
        }
      }
      root.erase("include");
    }
    stack_.pop_back();
    return root;
  }

  const std::vector<fs::path>& files() const { return files_; }

 private:
  // Merges `src` into `dst`: arrays of tables append, tables merge key by key, any other key
  // may be set once. Nodes are moved, not copied: toml++ copies do not keep the source
  // region, and every diagnostic needs it.
  void merge(toml::table& dst, toml::table& src, const std::string& shown) {
    for (auto&& [key, value] : src) {
      const std::string k(key.str());
      const std::string path = shown.empty() ? k : shown + "." + k;
      toml::node* existing = dst.get(key.str());
      if (!existing) {
        // The key is copied out first: clang 14 cannot capture a structured binding in a
        // lambda (C++20 allows it from clang 16; P1091R3).
        const toml::key& dst_key = key;
        value.visit([&](auto& v) { dst.insert(dst_key, std::move(v)); });
        continue;
      }
      if (existing->is_table() && value.is_table()) {
        merge(*existing->as_table(), *value.as_table(), path);
      } else if (existing->is_array() && value.is_array() &&
                 existing->as_array()->is_array_of_tables() &&
                 value.as_array()->is_array_of_tables()) {
        for (auto& e : *value.as_array()) {
          existing->as_array()->push_back(std::move(*e.as_table()));
        }
      } else {
        sink_.error(where(value.source()),
                    path + ": already set at " + where(existing->source()).toString());
      }
    }
  }

  DiagnosticSink& sink_;
  std::vector<fs::path> stack_;
  std::vector<fs::path> files_;
};

fs::path resolveAgainst(const fs::path& base, const std::string& p) {
  fs::path path(p);
  return path.is_absolute() ? path.lexically_normal() : (base / path).lexically_normal();
}

// ---- model building ----

class ModelBuilder {
 public:
  ModelBuilder(DiagnosticSink& sink, Config& cfg, fs::path state_dir_override)
      : sink_(sink), cfg_(cfg), state_dir_override_(std::move(state_dir_override)) {}

  void build(const toml::table& root) {
    Section top(&root, "");
    buildDaemon(top);
    buildPolicy(top);
    for (const auto& s : top.tables("lists")) buildList(s);
    for (const auto& s : top.tables("rules")) buildRules(s);
    for (const auto& s : top.tables("schedules")) buildSchedule(s);
    for (const auto& s : top.tables("groups")) buildGroup(s);
    for (const auto& s : top.tables("clients")) buildClient(s);
    for (const auto& s : top.tables("alerts")) buildAlert(s);
    addImplicitDefaultGroup();
    crossCheck();
  }

 private:
  fs::path configDir() const { return cfg_.file.parent_path(); }
  fs::path sourceDirOf(const SourceLocation& loc) const {
    return loc.file.empty() ? configDir() : fs::path(loc.file).parent_path();
  }

  void buildDaemon(const Section& top) {
    DaemonSettings& d = cfg_.daemon;
    d.config_file = cfg_.file;
    const fs::path configured = resolveAgainst(configDir(), top.sub("daemon").str("state_dir"));
    d.state_dir = state_dir_override_.empty()
                      ? configured
                      : fs::absolute(state_dir_override_).lexically_normal();
    // A state path: relative ones resolve against state_dir; with an override, absolute ones
    // that lie under the configured state_dir move with it too (a test instance started with
    // --state-dir must never write to the production database next to the real config).
    auto statePath = [&](const std::string& p) {
      fs::path resolved = resolveAgainst(d.state_dir, p);
      if (!state_dir_override_.empty() && fs::path(p).is_absolute()) {
        const fs::path rel = resolved.lexically_normal().lexically_relative(configured);
        if (!rel.empty() && *rel.begin() != "..") resolved = d.state_dir / rel;
      }
      return resolved;
    };
    d.user = top.sub("daemon").str("user");
    Section dns = top.sub("dns");
    d.dns.listen = dns.strings("listen");
    d.dns.upstreams = dns.strings("upstreams");
    if (!dns.str("upstream_ca_file").empty()) {
      d.dns.upstream_ca_file = resolveAgainst(configDir(), dns.str("upstream_ca_file"));
    }
    d.dns.upstream_timeout_ms = static_cast<int>(dns.integer("upstream_timeout_ms"));
    d.dns.cache_entries = static_cast<int>(dns.integer("cache_entries"));
    d.dns.workers = static_cast<int>(dns.integer("workers"));
    d.dns.block_ttl_seconds = static_cast<int>(dns.integer("block_ttl_seconds"));
    d.dns.tcp = dns.boolean("tcp");
    d.dns.tcp_max_connections = static_cast<int>(dns.integer("tcp_max_connections"));
    d.dns.tcp_max_connections_per_client =
        static_cast<int>(dns.integer("tcp_max_connections_per_client"));
    d.dns.tcp_idle_timeout_ms = static_cast<int>(dns.integer("tcp_idle_timeout_ms"));
    d.dns.tcp_message_timeout_ms = static_cast<int>(dns.integer("tcp_message_timeout_ms"));
    d.dns.tcp_query_threads = static_cast<int>(dns.integer("tcp_query_threads"));
    for (const auto& a : dns.strings("allow_from")) {
      if (auto cidr = Cidr::parse(a)) d.dns.allow_from.push_back(*cidr);
    }
    if (const toml::node* n = dns.node("allow_from");
        n && n->is_array() && n->as_array()->empty()) {
      // Nobody could use the resolver; an open one must be asked for explicitly.
      sink_.error(where(n->source()),
                  "dns.allow_from: must not be empty; list the client networks, or "
                  "[\"0.0.0.0/0\", \"::/0\"] to answer every source (an open resolver)");
    }
    d.dns.rate_limit_qps = static_cast<int>(dns.integer("rate_limit_qps"));
    d.dns.rate_limit_burst = static_cast<int>(dns.integer("rate_limit_burst"));
    d.dns.upstream_port_rotation_seconds =
        static_cast<int>(dns.integer("upstream_port_rotation_seconds"));
    d.dns.randomize_case = dns.boolean("randomize_case");
    Section db = top.sub("database");
    d.database.path = statePath(db.str("path"));
    d.database.retention_days = static_cast<int>(db.integer("retention_days"));
    d.database.full_query_log = db.boolean("full_query_log");
    d.database.queue_capacity = static_cast<int>(db.integer("queue_capacity"));
    d.database.batch_ms = static_cast<int>(db.integer("batch_ms"));
    Section priv = top.sub("privacy");
    d.privacy.pseudonymize_clients = priv.boolean("pseudonymize_clients");
    d.privacy.secret_file = statePath(priv.str("secret_file"));
    Section ctl = top.sub("control");
    d.control.socket = statePath(ctl.str("socket"));
    d.control.mode = static_cast<uint32_t>(std::strtoul(ctl.str("mode").c_str(), nullptr, 8));
    d.control.group = ctl.str("group");
    d.control.admin_group = ctl.str("admin_group");
    d.control.max_exception_minutes = ctl.integer("max_exception_minutes");
    Section dev = top.sub("devices");
    for (const std::string& f : dev.strings("lease_files")) {
      d.devices.lease_files.push_back(resolveAgainst(configDir(), f));
    }
    d.devices.refresh_seconds = dev.integer("refresh_seconds");
    d.devices.reverse_lookup_server = dev.str("reverse_lookup_server");
    Section bp = top.sub("block_page");
    d.block_page.ipv4 = IpAddress::parse(bp.str("ipv4"));
    d.block_page.ipv6 = IpAddress::parse(bp.str("ipv6"));
    d.block_page.url = bp.str("url");
    Section ui = top.sub("ui");
    d.ui.listen = ui.str("listen");
    d.ui.metrics_listen = ui.str("metrics_listen");
    if (!ui.str("translations_dir").empty()) {
      d.ui.translations_dir = resolveAgainst(configDir(), ui.str("translations_dir"));
    }
    for (const std::string& link : ui.strings("help_links")) {
      const size_t bar = link.find('|');
      if (bar != std::string::npos)
        d.ui.help_links.emplace_back(link.substr(0, bar), link.substr(bar + 1));
    }
    d.ui.dashboard_listen = ui.str("dashboard_listen");
    d.ui.dashboard_tls = ui.boolean("dashboard_tls");
    // The UI's own folder when it runs as a user of its own; with --state-dir everything,
    // this too, stays under the override.
    const std::string ui_dir = ui.str("state_dir");
    const bool own_ui_dir = !ui_dir.empty() && state_dir_override_.empty();
    d.ui.state_dir = own_ui_dir ? resolveAgainst(configDir(), ui_dir) : d.state_dir;
    auto uiPath = [&](const std::string& p) {
      return own_ui_dir ? resolveAgainst(d.ui.state_dir, p) : statePath(p);
    };
    d.ui.dashboard_cert = uiPath(ui.str("dashboard_cert"));
    d.ui.dashboard_key = uiPath(ui.str("dashboard_key"));
    d.ui.users_file = uiPath(ui.str("users_file"));
    d.ui.audit_log = uiPath(ui.str("audit_log"));
    d.ui.session_idle_minutes = ui.integer("session_idle_minutes");
    Section rq = top.sub("requests");
    d.requests.per_client_per_hour = rq.integer("per_client_per_hour");
    d.requests.max_pending = rq.integer("max_pending");
    d.requests.pending_hours = rq.integer("pending_hours");
    d.requests.keep_days = rq.integer("keep_days");
    Section ob = top.sub("outbox");
    d.outbox.path = statePath(ob.str("path"));
    d.outbox.max_messages = ob.integer("max_messages");
    d.outbox.max_age_hours = ob.integer("max_age_hours");
    d.outbox.keep_delivered_days = ob.integer("keep_delivered_days");
    Section hl = top.sub("hotline");
    d.hotline.enabled = hl.boolean("enabled");
    d.hotline.endpoint = hl.str("endpoint");
    if (!hl.str("ca_file").empty())
      d.hotline.ca_file = resolveAgainst(configDir(), hl.str("ca_file"));
    d.hotline.pin_sha256 = hl.str("pin_sha256");
    if (!hl.str("token_file").empty()) {
      d.hotline.token_file = resolveAgainst(configDir(), hl.str("token_file"));
    }
    d.hotline.deployment_id = hl.str("deployment_id");
    d.hotline.operator_contact = hl.str("operator_contact");
    if (d.hotline.enabled && d.hotline.endpoint.empty()) {
      sink_.error(hl.at("enabled"),
                  "hotline.enabled: the hotline is enabled but hotline.endpoint is empty");
    }
    Section il = top.sub("inline");
    d.inline_mode.enabled = il.boolean("enabled");
    d.inline_mode.queues.clear();
    for (int64_t q : il.integers("queues"))
      d.inline_mode.queues.push_back(static_cast<uint16_t>(q));
    d.inline_mode.fail_open = il.boolean("fail_open");
    d.inline_mode.fail_closed_queues.clear();
    for (int64_t q : il.integers("fail_closed_queues")) {
      const auto queue = static_cast<uint16_t>(q);
      // One queue cannot be both: the kernel's fail-open flag belongs to the queue.
      if (std::find(d.inline_mode.queues.begin(), d.inline_mode.queues.end(), queue) !=
          d.inline_mode.queues.end()) {
        sink_.error(il.at("fail_closed_queues"),
                    "inline.fail_closed_queues: queue " + std::to_string(q) +
                        " is also in inline.queues; a queue is either fail-open or fail-closed");
      }
      d.inline_mode.fail_closed_queues.push_back(queue);
    }
    d.inline_mode.max_packets_per_flow = static_cast<int>(il.integer("max_packets_per_flow"));
    if (il.node("max_packets_per_flow")) {
      sink_.warning(il.at("max_packets_per_flow"),
                    "inline.max_packets_per_flow is no longer used and can be removed: undecided "
                    "flows are bounded by inline.undecided_timeout_ms and "
                    "inline.max_client_hello_bytes");
    }
    d.inline_mode.max_client_hello_bytes = static_cast<int>(il.integer("max_client_hello_bytes"));
    d.inline_mode.undecided_timeout_ms = static_cast<int>(il.integer("undecided_timeout_ms"));
    d.inline_mode.reassembly_buffers = static_cast<int>(il.integer("reassembly_buffers"));
    d.inline_mode.reassembly_buffers_per_client =
        static_cast<int>(il.integer("reassembly_buffers_per_client"));
    d.inline_mode.receive_buffer_bytes = static_cast<int>(il.integer("receive_buffer_bytes"));
    d.inline_mode.offload_mark = static_cast<uint32_t>(il.integer("offload_mark"));
    d.inline_mode.quic = parseQuic(il.str("quic"));
    d.inline_mode.encrypted_dns = parseEncryptedDns(il.str("encrypted_dns"));
    d.inline_mode.unresolved_destination = parseUnresolved(il.str("unresolved_destination"));
    d.inline_mode.ech = parseEch(il.str("ech"));
  }

  void buildPolicy(const Section& top) {
    Section p = top.sub("policy");
    cfg_.policy.time_zone = p.str("time_zone");
    cfg_.policy.default_group = p.str("default_group");
    cfg_.policy.block_answer =
        parseBlockAnswer(p.str("block_answer")).value_or(BlockAnswer::kNxdomain);
    cfg_.policy.bypass_defaults = p.boolean("bypass_defaults");
    default_group_at_ = p.at("default_group");
  }

  void checkCategory(const std::string& name, const SourceLocation& at, const std::string& shown) {
    if (name.empty() || findCategory(name)) return;
    sink_.error(at,
                shown + ": unknown category \"" + name + "\"" + didYouMean(name, categoryNames()));
  }

  void buildList(const Section& s) {
    ListSpec l;
    l.name = s.str("name");
    l.category = s.str("category");
    l.format = parseFormat(s.str("format"));
    l.enabled = s.boolean("enabled");
    l.where = s.here();
    const std::string shown = "lists[" + std::to_string(cfg_.lists.size()) + "]";
    checkCategory(l.category, s.at("category"), shown + ".category");
    for (const auto& [src, loc] : s.stringsAt("sources")) {
      if (src.starts_with("https://")) {
        if (l.subscription) {
          sink_.error(loc, shown +
                               ".sources: one https:// subscription per list; define "
                               "another list for \"" +
                               src + "\"");
          continue;
        }
        if (l.name.starts_with(".")) {
          sink_.error(s.at("name"), shown +
                                        ".name: a subscribed list's name is a file name "
                                        "under state_dir/lists and must not start with '.'");
        }
        ListSubscriptionSpec sub;
        sub.url = src;
        sub.copy = cfg_.daemon.state_dir / "lists" / (l.name + ".list");
        sub.update_interval_hours = s.integer("update_interval_hours");
        sub.max_bytes = s.integer("max_bytes");
        sub.timeout_seconds = s.integer("timeout_seconds");
        sub.sha256 = s.str("sha256");
        sub.public_key = s.str("public_key");
        sub.ca_file = s.str("ca_file");
        sub.min_entries = s.integer("min_entries");
        sub.max_shrink_percent = s.integer("max_shrink_percent");
        sub.max_skipped_percent = s.integer("max_skipped_percent");
        l.subscription = std::move(sub);
      } else if (src.starts_with("file://")) {
        l.sources.push_back(resolveAgainst(sourceDirOf(loc), src.substr(7)));
      } else {
        l.sources.push_back(resolveAgainst(sourceDirOf(loc), src));
      }
    }
    if (!l.name.empty() && !list_names_.insert(l.name).second) {
      sink_.error(s.at("name"), shown + ".name: duplicate list name \"" + l.name + "\"");
    }
    cfg_.lists.push_back(std::move(l));
  }

  void buildRules(const Section& s) {
    RuleSetSpec r;
    r.name = s.str("name");
    r.category = s.str("category");
    r.where = s.here();
    const std::string shown = "rules[" + std::to_string(cfg_.rules.size()) + "]";
    checkCategory(r.category, s.at("category"), shown + ".category");
    r.patterns = s.stringsAt("patterns");
    for (const auto& [src, loc] : s.stringsAt("sources")) {
      r.sources.push_back(resolveAgainst(sourceDirOf(loc), src));
    }
    if (r.patterns.empty() && r.sources.empty()) {
      sink_.error(s.here(), shown + ": needs patterns or sources");
    }
    if (!r.name.empty() && !rule_names_.insert(r.name).second) {
      sink_.error(s.at("name"), shown + ".name: duplicate rule set name \"" + r.name + "\"");
    }
    cfg_.rules.push_back(std::move(r));
  }

  void buildSchedule(const Section& s) {
    ScheduleSpec sc;
    sc.name = s.str("name");
    sc.time_zone = s.str("time_zone");
    if (sc.time_zone.empty()) sc.time_zone = cfg_.policy.time_zone;
    sc.windows = s.strings("windows");
    sc.active_dates = s.strings("active_dates");
    sc.inactive_dates = s.strings("inactive_dates");
    sc.where = s.here();
    const std::string shown = "schedules[" + std::to_string(cfg_.schedules.size()) + "]";
    if (!sc.name.empty() && !schedule_names_.insert(sc.name).second) {
      sink_.error(s.at("name"), shown + ".name: duplicate schedule name \"" + sc.name + "\"");
    }
    schedule_list_.push_back(sc.name);
    cfg_.schedules.push_back(std::move(sc));
  }

  std::vector<std::pair<std::string, Action>> actionsOf(const Section& s, std::string_view key,
                                                        const std::string& shown) {
    std::vector<std::pair<std::string, Action>> out;
    const toml::node* n = s.node(key);
    if (!n || !n->is_table()) return out;
    for (auto&& [k, v] : *n->as_table()) {
      const std::string cat(k.str());
      const std::string path = shown + "." + std::string(key) + "." + cat;
      const CategoryInfo* info = findCategory(cat);
      if (!info) {
        sink_.error(where(k.source()),
                    path + ": unknown category \"" + cat + "\"" + didYouMean(cat, categoryNames()));
        continue;
      }
      auto text = v.value<std::string>();
      if (!text) continue;  // type reported by the schema check
      auto action = parseAction(*text);
      if (!action) continue;  // reported by the schema check
      if (info->kind == CategoryKind::kIllegal && *action != Action::kBlock &&
          *action != Action::kAlertBlock) {
        sink_.error(where(v.source()), path + ": \"" + cat +
                                           "\" is a licensed illegal-content category; it is "
                                           "always blocked and cannot be set to \"" +
                                           *text + "\"");
        continue;
      }
      if (info->kind == CategoryKind::kAllowType) {
        sink_.error(where(k.source()), path + ": \"" + cat +
                                           "\" is an allow-type category; choose it with "
                                           "allow_lists, not an action");
        continue;
      }
      out.emplace_back(cat, *action);
    }
    return out;
  }

  void buildGroup(const Section& s) {
    GroupSpec g;
    g.name = s.str("name");
    g.description = s.str("description");
    g.profile = s.str("profile");
    g.where = s.here();
    const std::string shown = "groups[" + std::to_string(cfg_.groups.size()) + "]";
    const ProfilePreset* preset = findProfile(g.profile);
    if (!preset) preset = findProfile("strict");
    g.categories = actionsOf(s, "categories", shown);
    const std::string def = s.str("default");
    if (!def.empty()) g.default_action = parseAction(def);
    const std::string answer = s.str("block_answer");
    g.block_answer = answer.empty() ? cfg_.policy.block_answer
                                    : parseBlockAnswer(answer).value_or(cfg_.policy.block_answer);
    g.allow = s.strings("allow");
    g.block = s.strings("block");
    g.allow_lists = s.strings("allow_lists");
    for (const auto& [name, loc] : s.stringsAt("allow_lists")) {
      const CategoryInfo* info = findCategory(name);
      if (!info || info->kind != CategoryKind::kAllowType) {
        std::vector<std::string> allow_types;
        for (const auto& c : standardCategories()) {
          if (c.kind == CategoryKind::kAllowType) allow_types.emplace_back(c.name);
        }
        sink_.error(loc, shown + ".allow_lists: \"" + name + "\" is not an allow-type category" +
                             didYouMean(name, allow_types));
      }
    }
    Section ss = s.sub("safe_search");
    auto tri = [&](std::string_view key, bool profile_value) {
      const std::string v = ss.str(key);
      return v.empty() ? profile_value : v == "on";
    };
    g.safe_search_google = tri("google", preset->safe_search);
    g.safe_search_bing = tri("bing", preset->safe_search);
    g.safe_search_duckduckgo = tri("duckduckgo", preset->safe_search);
    const std::string yt = ss.str("youtube");
    g.youtube = yt.empty()         ? preset->youtube
                : yt == "strict"   ? YoutubeMode::kStrict
                : yt == "moderate" ? YoutubeMode::kModerate
                                   : YoutubeMode::kOff;
    g.strip_ech = s.boolean("strip_ech");
    const InlineSettings& il = cfg_.daemon.inline_mode;
    const std::string fail = s.str("fail");
    g.fail_open = fail.empty() ? il.fail_open : fail == "open";
    const std::string quic = s.str("quic");
    g.quic = quic.empty() ? il.quic : parseQuic(quic);
    const std::string edns = s.str("encrypted_dns");
    g.encrypted_dns = edns.empty() ? il.encrypted_dns : parseEncryptedDns(edns);
    const std::string unres = s.str("unresolved_destination");
    g.unresolved_destination = unres.empty() ? il.unresolved_destination : parseUnresolved(unres);
    const std::string ech = s.str("ech");
    g.ech = ech.empty() ? il.ech : parseEch(ech);
    size_t i = 0;
    for (const auto& gs : s.tables("schedules")) {
      const std::string sub = shown + ".schedules[" + std::to_string(i++) + "]";
      GroupScheduleSpec spec;
      spec.schedule = gs.str("schedule");
      spec.categories = actionsOf(gs, "categories", sub);
      spec.allow_only = gs.boolean("allow_only");
      spec.allow = gs.strings("allow");
      spec.where = gs.at("schedule");
      pending_schedule_refs_.emplace_back(spec.schedule, spec.where, sub + ".schedule");
      g.schedules.push_back(std::move(spec));
    }
    if (!g.name.empty() && !group_names_.insert(g.name).second) {
      sink_.error(s.at("name"), shown + ".name: duplicate group name \"" + g.name + "\"");
    }
    group_list_.push_back(g.name);
    cfg_.groups.push_back(std::move(g));
  }

  void buildClient(const Section& s) {
    ClientSpec c;
    c.name = s.str("name");
    c.group = s.str("group");
    c.where = s.here();
    const std::string shown = "clients[" + std::to_string(cfg_.clients.size()) + "]";
    for (const auto& a : s.strings("addresses")) {
      if (auto cidr = Cidr::parse(a)) c.addresses.push_back(*cidr);
    }
    for (const auto& m : s.strings("macs")) {
      if (auto mac = MacAddress::parse(m)) c.macs.push_back(*mac);
    }
    if (!s.node("addresses") && !s.node("macs")) {
      sink_.error(s.here(), shown + ": needs addresses or macs to identify the device");
    }
    pending_group_refs_.emplace_back(c.group, s.at("group"), shown + ".group");
    cfg_.clients.push_back(std::move(c));
  }

  void buildAlert(const Section& s) {
    AlertSettings a;
    const std::string shown = "alerts[" + std::to_string(cfg_.daemon.alerts.size()) + "]";
    a.name = s.str("name");
    a.where = s.here();
    const std::string kind = s.str("kind");
    a.kind = kind == "email"    ? AlertKind::kEmail
             : kind == "syslog" ? AlertKind::kSyslog
                                : AlertKind::kWebhook;
    auto path = [&](std::string_view key) {
      const std::string v = s.str(key);
      return v.empty() ? fs::path() : resolveAgainst(configDir(), v);
    };
    a.url = s.str("url");
    a.secret_file = path("secret_file");
    a.ca_file = path("ca_file");
    a.smtp_url = s.str("smtp_url");
    a.from = s.str("from");
    a.to = s.strings("to");
    a.username = s.str("username");
    a.password_file = path("password_file");
    a.syslog_tls = s.boolean("syslog_tls");
    a.batch_seconds = static_cast<int>(s.integer("batch_seconds"));
    a.rate_limit_minutes = static_cast<int>(s.integer("rate_limit_minutes"));
    // Validated by the schema (HH:MM); a bad value was reported there and leaves no digest.
    if (const std::string t = s.str("digest_time");
        t.size() == 5 && std::isdigit(static_cast<unsigned char>(t[0])) &&
        std::isdigit(static_cast<unsigned char>(t[1])) &&
        std::isdigit(static_cast<unsigned char>(t[3])) &&
        std::isdigit(static_cast<unsigned char>(t[4]))) {
      a.digest_minute_of_day =
          ((t[0] - '0') * 10 + (t[1] - '0')) * 60 + (t[3] - '0') * 10 + (t[4] - '0');
    }
    a.digest_amber_alerts = s.integer("digest_amber_alerts");
    a.digest_red_alerts = s.integer("digest_red_alerts");
    if (a.digest_red_alerts < a.digest_amber_alerts) {
      sink_.error(s.at("digest_red_alerts"),
                  shown + ".digest_red_alerts: must not be below digest_amber_alerts");
    }
    a.categories = s.strings("categories");
    a.groups = s.strings("groups");
    a.list_notices = s.boolean("list_notices");
    const auto actions = s.strings("actions");
    a.on_block = a.on_allow = false;
    for (const auto& act : actions) {
      if (act == "alert-block") {
        a.on_block = true;
      } else if (act == "alert-allow") {
        a.on_allow = true;
      } else if (act == "block") {
        a.on_every_block = true;
      } else if (act == "monitor") {
        a.on_every_monitor = true;
      } else {
        sink_.error(s.at("actions"), shown + ".actions: \"" + act +
                                         "\" is not alert-block, alert-allow, block or monitor");
      }
    }
    // A destination that takes no incidents (actions = [], list notices for the IT contact;
    // or only an export to a collector) hears of children's requests only when it says so.
    a.request_notices =
        s.node("request_notices") ? s.boolean("request_notices") : (a.on_block || a.on_allow);
    for (const auto& c : a.categories) checkCategory(c, s.at("categories"), shown + ".categories");
    for (const auto& g : a.groups) {
      pending_group_refs_.emplace_back(g, s.at("groups"), shown + ".groups");
    }
    for (const auto& other : cfg_.daemon.alerts) {
      if (other.name == a.name) {
        sink_.error(s.at("name"), shown + ".name: \"" + a.name + "\" is used twice");
      }
    }
    auto require = [&](bool ok, std::string_view key, const std::string& why) {
      if (!ok) sink_.error(s.here(), shown + ": " + std::string(key) + " " + why);
    };
    switch (a.kind) {
      case AlertKind::kWebhook: require(!a.url.empty(), "url", "is required for a webhook"); break;
      case AlertKind::kEmail:
        require(a.smtp_url.rfind("smtps://", 0) == 0 || a.smtp_url.rfind("smtp://", 0) == 0,
                "smtp_url", "must be smtps://host[:465] or smtp://host[:587] (STARTTLS)");
        require(!a.from.empty(), "from", "is required for e-mail");
        require(!a.to.empty(), "to", "needs at least one recipient");
        break;
      case AlertKind::kSyslog: {
        const std::string addr = s.str("syslog_address");
        const size_t colon = addr.rfind(':');
        std::string host = addr;
        if (colon != std::string::npos && addr.find(':') == colon) {
          host = addr.substr(0, colon);
          const std::string port = addr.substr(colon + 1);
          const long p = std::strtol(port.c_str(), nullptr, 10);
          require(p > 0 && p <= 65535 && port.find_first_not_of("0123456789") == std::string::npos,
                  "syslog_address", "has no valid port");
          a.syslog_port = static_cast<uint16_t>(p);
        } else {
          a.syslog_port = a.syslog_tls ? 6514 : 601;
        }
        a.syslog_host = host;
        require(!host.empty(), "syslog_address", "is required for syslog (host:port)");
        break;
      }
    }
    cfg_.daemon.alerts.push_back(std::move(a));
  }

  void addImplicitDefaultGroup() {
    const std::string& dg = cfg_.policy.default_group;
    if (group_names_.count(dg)) return;
    if (dg == "unknown") {
      GroupSpec g;
      g.name = "unknown";
      g.description = "Devices no [[clients]] entry names (strict profile).";
      g.profile = "strict";
      g.block_answer = cfg_.policy.block_answer;
      g.allow_lists = {"education", "press", "sex-education", "health"};
      g.fail_open = cfg_.daemon.inline_mode.fail_open;
      g.quic = cfg_.daemon.inline_mode.quic;
      g.encrypted_dns = cfg_.daemon.inline_mode.encrypted_dns;
      g.unresolved_destination = cfg_.daemon.inline_mode.unresolved_destination;
      g.ech = cfg_.daemon.inline_mode.ech;
      g.implicit = true;
      cfg_.groups.push_back(std::move(g));
      group_names_.insert("unknown");
      return;
    }
    sink_.error(default_group_at_,
                "policy.default_group: unknown group \"" + dg + "\"" + didYouMean(dg, group_list_));
  }

  void crossCheck() {
    for (const auto& [name, loc, shown] : pending_schedule_refs_) {
      if (!name.empty() && !schedule_names_.count(name)) {
        sink_.error(
            loc, shown + ": unknown schedule \"" + name + "\"" + didYouMean(name, schedule_list_));
      }
    }
    for (const auto& [name, loc, shown] : pending_group_refs_) {
      if (!name.empty() && !group_names_.count(name)) {
        sink_.error(loc,
                    shown + ": unknown group \"" + name + "\"" + didYouMean(name, group_list_));
      }
    }
  }

  DiagnosticSink& sink_;
  Config& cfg_;
  fs::path state_dir_override_;
  SourceLocation default_group_at_;
  std::set<std::string> list_names_, rule_names_, schedule_names_, group_names_;
  std::vector<std::string> schedule_list_, group_list_;
  std::vector<std::tuple<std::string, SourceLocation, std::string>> pending_schedule_refs_;
  std::vector<std::tuple<std::string, SourceLocation, std::string>> pending_group_refs_;
};

}  // namespace

namespace {

std::string tomlText(const toml::node& n) {
  std::ostringstream os;
  n.visit([&](const auto& v) { os << v; });
  return os.str();
}

// Adds the value of every key matching the schema pattern `rest` under `t` (whose concrete
// path is `prefix`) to `out`; an absent key counts as its schema default.
void collectValues(const toml::table* t, std::string_view pattern, std::string_view rest,
                   const std::string& prefix, std::map<std::string, std::string>& out) {
  const size_t dot = rest.find('.');
  std::string_view segment = rest.substr(0, dot);
  const bool array = segment.ends_with("[]");
  if (array) segment.remove_suffix(2);
  const std::string here =
      prefix.empty() ? std::string(segment) : prefix + "." + std::string(segment);
  const toml::node* n = t ? t->get(segment) : nullptr;
  if (array) {
    const toml::array* a = n ? n->as_array() : nullptr;
    if (!a || dot == std::string_view::npos) return;
    for (size_t i = 0; i < a->size(); ++i) {
      collectValues(a->get(i)->as_table(), pattern, rest.substr(dot + 1),
                    here + "[" + std::to_string(i) + "]", out);
    }
  } else if (dot != std::string_view::npos) {
    collectValues(n ? n->as_table() : nullptr, pattern, rest.substr(dot + 1), here, out);
  } else if (n) {
    out[here] = tomlText(*n);
  } else if (const toml::node* d = schemaDefault(pattern)) {
    out[here] = tomlText(*d);
  } else {
    out[here] = "";
  }
}

// See Config::restart_only_values.
std::map<std::string, std::string> restartOnlyValues(const toml::table& root) {
  std::map<std::string, std::string> out;
  for (const KeyDef& d : schemaKeys()) {
    if (d.reload != Reload::kRestart || d.type == KeyType::kTable ||
        d.type == KeyType::kTableArray || d.path.find('*') != std::string_view::npos) {
      continue;
    }
    collectValues(&root, d.path, d.path, "", out);
  }
  return out;
}

}  // namespace

Result<Config> loadConfig(const std::filesystem::path& file, DiagnosticSink& sink,
                          const std::filesystem::path& state_dir_override) {
  const size_t errors_before = sink.errorCount();
  Config cfg;
  std::error_code ec;
  cfg.file = fs::absolute(file, ec).lexically_normal();
  if (ec) cfg.file = file;
  TreeLoader loader(sink);
  std::optional<toml::table> root = loader.load(cfg.file, {});
  cfg.files = loader.files();
  if (!root) return Status::invalid("cannot load " + file.string());
  validateAgainstSchema(*root, sink);
  ModelBuilder(sink, cfg, state_dir_override).build(*root);
  cfg.restart_only_values = restartOnlyValues(*root);
  const size_t errors = sink.errorCount() - errors_before;
  if (errors > 0) {
    return Status::invalid(std::to_string(errors) + " error" + (errors == 1 ? "" : "s") + " in " +
                           file.string());
  }
  return cfg;
}

Config configForLists(const std::vector<std::filesystem::path>& lists) {
  Config cfg;
  cfg.policy.default_group = "default";
  GroupSpec g;
  g.name = "default";
  g.description = "explain --list: blocks what the lists block";
  g.profile = "open";
  g.categories = {{"custom", Action::kBlock}};
  g.default_action = Action::kAllow;
  g.safe_search_google = g.safe_search_bing = g.safe_search_duckduckgo = false;
  g.youtube = YoutubeMode::kOff;
  cfg.policy.bypass_defaults = false;
  cfg.groups.push_back(std::move(g));
  for (const auto& p : lists) {
    ListSpec l;
    l.name = p.filename().string();
    l.category = "custom";
    l.sources = {fs::absolute(p).lexically_normal()};
    cfg.lists.push_back(std::move(l));
  }
  return cfg;
}

}  // namespace safegate::policy
