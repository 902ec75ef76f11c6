#include "daemon/daemon.h"

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "common/clock.h"
#include "common/logger.h"
#include "common/utc_time.h"
#include "daemon/control/exception_request.h"
#include "daemon/dns/dns_access.h"
#include "daemon/dns/encrypted_upstream.h"
#include "daemon/inline/fail_mode_rules.h"
#include "daemon/lists/list_compiler.h"
#include "daemon/lists/protected_names_data.h"
#include "daemon/policy_guard.h"
#include "daemon/privileges.h"
#include "daemon/reports/outbox_service.h"
#include "filters/domain_name.h"
#include "policy/decision_text.h"
#include "policy/list_cache.h"

namespace safegate {

namespace {

int64_t unixNow() { return SystemClock::instance().unixSeconds(); }

// sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET ("@" = abstract namespace).
void notifySystemd(const char* state) {
  const char* path = getenv("NOTIFY_SOCKET");
  if (!path || !*path) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  size_t len = strlen(path);
  if (len >= sizeof(addr.sun_path)) return;
  memcpy(addr.sun_path, path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sendto(fd, state, strlen(state), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr),
         static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len));
  close(fd);
}

nlohmann::json exceptionJson(const policy::TemporaryException& e) { return exceptionToJson(e); }

}  // namespace

namespace {

bool isLoopbackOrAny(const IpAddress& ip) {
  const auto b = ip.bytes();
  if (ip.isV4()) return b[0] == 127 || ip == IpAddress();
  bool zero_prefix = true;
  for (size_t i = 0; i < 15; ++i) zero_prefix = zero_prefix && b[i] == 0;
  return zero_prefix && (b[15] == 1 || b[15] == 0);
}

// Whether a query to `ip` port 53 would reach one of our own sockets.
bool isOwnListener(const IpAddress& ip, const std::vector<std::string>& own_listen) {
  for (const std::string& l : own_listen) {
    auto own = SocketAddress::parse(l, 53);
    if (!own || own->port() != 53) continue;
    const IpAddress own_ip =
        peerAddress(reinterpret_cast<const sockaddr*>(&own->storage), own->length);
    if (own_ip.isV4() != ip.isV4()) continue;
    if (own_ip == ip) return true;
    const bool wildcard = own_ip == (own_ip.isV4() ? IpAddress() : *IpAddress::parse("::"));
    if (wildcard && isLoopbackOrAny(ip)) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> systemResolvers(const std::filesystem::path& resolv_conf,
                                         const std::vector<std::string>& own_listen) {
  std::vector<std::string> out;
  std::ifstream in(resolv_conf);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string key, value;
    if (!(f >> key >> value) || key != "nameserver") continue;
    if (value.find('%') != std::string::npos) continue;  // link-local with zone: not supported
    auto ip = IpAddress::parse(value);
    if (!ip) continue;
    if (isOwnListener(*ip, own_listen)) continue;
    out.push_back(ip->isV4() ? value + ":53" : "[" + value + "]:53");
  }
  return out;
}

namespace {

std::shared_ptr<const LiveAnswerSettings> liveAnswers(const policy::DaemonSettings& s) {
  auto a = std::make_shared<LiveAnswerSettings>();
  a->block_ttl_seconds = static_cast<uint32_t>(s.dns.block_ttl_seconds);
  if (s.block_page.ipv4) a->block_page_v4 = *s.block_page.ipv4;
  if (s.block_page.ipv6) a->block_page_v6 = *s.block_page.ipv6;
  return a;
}

}  // namespace

void Daemon::applyLiveSettings(const policy::Config& config,
                               std::vector<std::string>& diagnostics) {
  // Every key the schema marks restart-only, compared as the files give it (a key that appears
  // or disappears in either counts as changed).
  const auto& before = configured_restart_values_;
  const auto& after = config.restart_only_values;
  std::set<std::string> changed;
  for (const auto& [key, value] : before) {
    auto it = after.find(key);
    if (it == after.end() || it->second != value) changed.insert(key);
  }
  for (const auto& [key, value] : after) {
    if (!before.contains(key)) changed.insert(key);
  }
  for (const auto& key : changed) {
    diagnostics.push_back(options_.config_file.string() + ": warning: " + key +
                          " changed; it takes effect at the next restart");
  }
  const policy::DaemonSettings& next = config.daemon;
  settings_.dns.block_ttl_seconds = next.dns.block_ttl_seconds;
  settings_.block_page.ipv4 = next.block_page.ipv4;
  settings_.block_page.ipv6 = next.block_page.ipv6;
  settings_.database.retention_days = next.database.retention_days;
  settings_.database.full_query_log = next.database.full_query_log;
  settings_.privacy.pseudonymize_clients = next.privacy.pseudonymize_clients;
  answers_ = liveAnswers(settings_);
  incidents_->applyLive({settings_.database.retention_days, settings_.privacy.pseudonymize_clients,
                         settings_.database.full_query_log});
}

Daemon::Daemon(DaemonOptions options) : options_(std::move(options)) {
  exceptions_ = std::make_shared<policy::ExceptionTable>();
}

Daemon::~Daemon() {
  if (lists_) lists_->stop();
  if (outbox_) outbox_->stop();
  if (control_) control_->stop();
  if (inline_) inline_->stop();
  if (proxy_) proxy_->stop();
  if (incidents_) incidents_->stop();
}

namespace {

std::vector<Subscription> subscriptionsOf(const policy::Config& config) {
  std::vector<Subscription> out;
  for (const auto& l : config.lists) {
    if (!l.enabled || !l.subscription) continue;
    const auto& s = *l.subscription;
    Subscription sub;
    sub.spec.name = l.name;
    sub.spec.url = s.url;
    sub.spec.format = l.format;
    sub.spec.sha256 = s.sha256;
    if (!s.public_key.empty()) {
      auto key = parseMinisignPublicKey(s.public_key);
      if (!key) {  // the config check makes this unreachable; never fetch unverified
        Logger::global().error(
            "lists", "list \"" + l.name + "\": " + key.status().message() + "; not refreshed");
        continue;
      }
      sub.spec.public_key = *key;
    }
    sub.spec.update_interval_ms = s.update_interval_hours * 3600 * 1000;
    sub.spec.gate.min_entries = static_cast<size_t>(s.min_entries);
    sub.spec.gate.max_shrink_percent = static_cast<unsigned>(s.max_shrink_percent);
    sub.spec.gate.max_skipped_percent = static_cast<unsigned>(s.max_skipped_percent);
    sub.http = listClientOptions(s.ca_file, static_cast<uint64_t>(s.max_bytes),
                                 static_cast<int>(s.timeout_seconds * 1000));
    out.push_back(std::move(sub));
  }
  return out;
}

nlohmann::json listRecordJson(const ListRecord& r) {
  nlohmann::json j = {{"name", r.name},
                      {"url", r.url},
                      {"entries", r.entries},
                      {"last_success_unix_ms", r.last_success_unix_ms},
                      {"last_attempt_unix_ms", r.last_attempt_unix_ms},
                      {"last_error", r.last_error},
                      {"next_refresh_unix_ms", r.next_refresh_unix_ms}};
  j["version"] = !r.good ? "" : !r.good->etag.empty() ? r.good->etag : r.good->last_modified;
  j["signed_by"] = r.good ? r.good->signed_by : "";
  j["signed_comment"] = r.good ? r.good->signed_comment : "";
  nlohmann::json q = nlohmann::json::array();
  for (const auto& e : r.quarantined) {
    q.push_back({{"line", e.line}, {"name", e.name}, {"protects", e.protects}});
  }
  j["quarantined"] = std::move(q);
  return j;
}

}  // namespace

void Daemon::compileListsFirst() const {
  // A bad config exits 1: the load below reports it. Anything else is worth a line.
  Status s = compileListsInChild(options_.config_file, options_.state_dir_override);
  if (!s && s.code() != StatusCode::kInvalidArgument) {
    fprintf(stderr, "safegated: warning: %s; compiling the lists in the daemon\n",
            s.message().c_str());
  }
}

void Daemon::pruneListCache() const {
  if (!snapshot_ || snapshot_->listCacheKey().empty()) return;
  policy::ListCache(settings_.state_dir / "compiled").removeOthers(snapshot_->listCacheKey());
}

policy::LoadOptions Daemon::loadOptions() const {
  policy::LoadOptions o;
  o.state_dir_override = options_.state_dir_override;
  o.read_list_cache = true;
  o.write_list_cache = true;
  return o;
}

void Daemon::refreshLeaseNames() {
  bool changed = false;
  if (leases_) {
    std::vector<std::string> problems;
    changed = leases_->refresh(unixNow(), problems);
    for (const auto& p : problems) {
      fprintf(stderr, "safegated: devices.lease_files: %s\n", p.c_str());
    }
  }
  if (reverse_names_ && reverse_names_->version() != reverse_version_) changed = true;
  if (!changed) return;
  // Lease names as read, plus the reverse names (asked for last by LeaseNameMap::find).
  auto merged = leases_ ? std::make_shared<LeaseNameMap>(*leases_->names())
                        : std::make_shared<LeaseNameMap>();
  if (reverse_names_) {
    reverse_version_ = reverse_names_->version();
    const auto reverse = reverse_names_->names();
    merged->by_reverse_dns.insert(reverse->begin(), reverse->end());
  }
  std::lock_guard<std::mutex> lock(mutex_);
  lease_names_ = std::move(merged);
  publishView();
}

void Daemon::publishView() {
  holder_.publish(
      std::make_shared<CompiledPolicyView>(snapshot_, exceptions_, answers_, lease_names_));
}

Status Daemon::dropPrivileges(DiagnosticSink& diags) const {
  // The settings alone (no lists) decide the user and the capabilities. A config with errors
  // stops the start here, still privileged but before anything is written or bound.
  // Its warnings are the full load's too, so only a failed read is reported from here.
  DiagnosticSink first;
  auto config = policy::loadConfig(options_.config_file, first, options_.state_dir_override);
  if (!config) {
    diags.append(first);
    if (!diags.hasErrors()) diags.error({}, config.status().message());
    return Status::invalid("configuration has errors");
  }
  policy::DaemonSettings s = config->daemon;
  if (!options_.listen_override.empty()) s.dns.listen = options_.listen_override;
  if (!options_.control_socket_override.empty()) {
    s.control.socket = options_.control_socket_override;
  }
  const bool commands =
      FailModeRules::runsCommands(FailModeRules::optionsFromEnvironment(s.state_dir));
  Status dropped = safegate::dropPrivileges(s, requiredCapabilities(s, commands));
  if (!dropped) return Status::unavailable("dropping privileges: " + dropped.message());
  return Status::ok();
}

Status Daemon::startUp(DiagnosticSink& diags) {
  started_ = std::chrono::steady_clock::now();
  // Before any thread starts and before any state file is written (daemon/privileges.h).
  if (Status s = dropPrivileges(diags); !s) return s;
  compileListsFirst();
  auto loaded = policy::PolicyEngine::load(options_.config_file, diags, loadOptions());
  if (!loaded) {
    if (!diags.hasErrors()) diags.error({}, loaded.status().message());
    return Status::invalid("configuration has errors");
  }
  settings_ = loaded->config.daemon;
  configured_restart_values_ = loaded->config.restart_only_values;
  snapshot_ = loaded->snapshot;
  answers_ = liveAnswers(settings_);
  if (!options_.listen_override.empty()) settings_.dns.listen = options_.listen_override;
  if (!options_.upstream_override.empty()) settings_.dns.upstreams = options_.upstream_override;
  if (!options_.control_socket_override.empty()) {
    settings_.control.socket = options_.control_socket_override;
  }
  if (settings_.dns.upstreams.empty()) {
    settings_.dns.upstreams = systemResolvers("/etc/resolv.conf", settings_.dns.listen);
    if (settings_.dns.upstreams.empty()) {
      return Status::invalid(
          "no upstream resolver: dns.upstreams is empty and /etc/resolv.conf names no "
          "nameserver other than safegated itself; set dns.upstreams");
    }
  }
  {
    std::string problem;
    auto previous = loadPolicySummary(policySummaryPath(), problem);
    if (!problem.empty()) fprintf(stderr, "safegated: warning: %s\n", problem.c_str());
    if (previous && !options_.allow_empty_policy) {
      Status kept = checkFilteringKept(*previous, snapshot_->filteringByGroup());
      if (!kept) return kept;
    }
  }
  publishView();
  pruneListCache();

  std::error_code ec;
  std::filesystem::create_directories(settings_.state_dir, ec);
  if (ec)
    return Status::io("create state_dir " + settings_.state_dir.string() + ": " + ec.message());
  ::chmod(settings_.state_dir.c_str(), 0750);
  if (Status saved = savePolicySummary(policySummaryPath(), snapshot_->filteringByGroup());
      !saved) {
    fprintf(stderr, "safegated: warning: %s\n", saved.toString().c_str());
  }

  // Temporary exceptions granted before a restart (daemon/control/exception_store.h). A damaged
  // file is reported and set aside; it never stops the start.
  exception_store_ = std::make_unique<ExceptionStore>(settings_.state_dir / "exceptions.json");
  {
    DiagnosticSink problems;
    ExceptionStore::Loaded restored = exception_store_->load(unixNow(), problems);
    for (const Diagnostic& d : problems.all()) fprintf(stderr, "%s\n", d.toString().c_str());
    exceptions_ = restored.table;
    if (restored.expired_dropped > 0 || !restored.moved_aside.empty()) {
      Status saved = exception_store_->save(*exceptions_);
      if (!saved) fprintf(stderr, "safegated: %s\n", saved.toString().c_str());
    }
    publishView();
  }
  // Requests children sent from the block page (daemon/control/access_requests.h); like exceptions,
  // a damaged file is reported and set aside.
  requests_ = RequestBook(settings_.requests);
  request_store_ = std::make_unique<RequestStore>(settings_.state_dir / "requests.json");
  {
    DiagnosticSink problems;
    request_store_->load(requests_, problems, unixNow());
    for (const Diagnostic& d : problems.all()) fprintf(stderr, "%s\n", d.toString().c_str());
  }

  IncidentStoreOptions io;
  io.database_path = settings_.database.path;
  io.secret_file = settings_.privacy.secret_file;
  io.queue_capacity = static_cast<size_t>(std::max(1, settings_.database.queue_capacity));
  io.batch_ms = settings_.database.batch_ms;
  io.retention_days = settings_.database.retention_days;
  io.pseudonymize_clients = settings_.privacy.pseudonymize_clients;
  io.full_query_log = settings_.database.full_query_log;
  auto store = IncidentStore::open(io);
  if (!store) return store.status();
  incidents_ = std::move(*store);
  alerts_ = makeAlertRouter(settings_, SystemClock::instance(), loaded->config.policy.time_zone);
  if (alerts_) {
    incidents_->setAlertSink([router = alerts_.get()](const AlertNotice& n) { router->onAlert(n); },
                             alerts_->wantsEveryIncident());
  }
  incidents_->start();

  neighbours_ = std::make_unique<NeighbourTable>();
  (void)neighbours_->refresh();  // no /proc/net/arp (containers): identify by address only
  if (!settings_.devices.lease_files.empty()) {
    leases_ = std::make_unique<LeaseNames>(settings_.devices.lease_files);
    refreshLeaseNames();
  }
  if (!settings_.devices.reverse_lookup_server.empty()) {
    auto server = SocketAddress::parse(settings_.devices.reverse_lookup_server, 53);
    if (!server) {
      return Status::invalid("devices.reverse_lookup_server: not an address: \"" +
                             settings_.devices.reverse_lookup_server + "\"");
    }
    ReverseNamesOptions ro;
    ro.server = *server;
    ro.refresh_seconds = static_cast<int>(settings_.devices.refresh_seconds);
    const NeighbourTable* table = neighbours_.get();
    reverse_names_ = std::make_unique<ReverseNames>(ro, [table] {
      std::vector<IpAddress> clients;
      const auto map = table->holder().get();
      if (!map) return clients;
      for (const auto& [v4, mac] : map->v4) clients.push_back(IpAddress::v4(v4));
      for (const auto& [v6, mac] : map->v6) clients.push_back(IpAddress::v6(v6));
      return clients;
    });
    reverse_names_->start();
  }

  ProxyOptions po;
  for (const std::string& l : settings_.dns.listen) {
    auto a = SocketAddress::parse(l, 53);
    if (!a) return Status::invalid("dns.listen: not an address: \"" + l + "\"");
    po.listen.push_back(*a);
  }
  EncryptedUpstreamOptions eo;
  eo.ca_file = settings_.dns.upstream_ca_file;
  eo.connect_timeout_ms = settings_.dns.upstream_timeout_ms;
  for (const std::string& u : settings_.dns.upstreams) {
    auto spec = UpstreamSpec::parse(u);
    if (!spec) return Status::invalid("dns.upstreams: " + spec.status().message());
    auto a = SocketAddress::parse(spec->hostPort());
    if (!a) return Status::invalid("dns.upstreams: not an address: \"" + u + "\"");
    po.upstreams.push_back(*a);
    std::shared_ptr<EncryptedUpstream> transport;
    if (spec->encrypted()) {
      auto t = EncryptedUpstream::create(*spec, eo);
      if (!t) return Status::invalid("dns.upstreams: " + t.status().message());
      transport = std::move(*t);
    }
    po.encrypted.push_back(std::move(transport));
  }
  if (po.upstreams.empty()) {
    return Status::invalid("no upstream resolver: set dns.upstreams or /etc/resolv.conf");
  }
  po.upstream_timeout_ms = settings_.dns.upstream_timeout_ms;
  po.cache_entries = static_cast<size_t>(std::max(0, settings_.dns.cache_entries));
  po.workers = settings_.dns.workers;
  po.tcp = settings_.dns.tcp;
  po.max_tcp_connections = static_cast<size_t>(settings_.dns.tcp_max_connections);
  po.max_tcp_connections_per_client =
      static_cast<size_t>(settings_.dns.tcp_max_connections_per_client);
  po.tcp_idle_timeout_ms = settings_.dns.tcp_idle_timeout_ms;
  po.tcp_message_timeout_ms = settings_.dns.tcp_message_timeout_ms;
  po.tcp_query_threads = settings_.dns.tcp_query_threads;
  po.allow_from = settings_.dns.allow_from;
  po.rate_limit.qps = static_cast<uint32_t>(settings_.dns.rate_limit_qps);
  po.rate_limit.burst = static_cast<uint32_t>(settings_.dns.rate_limit_burst);
  po.upstream_port_rotation_seconds = settings_.dns.upstream_port_rotation_seconds;
  po.randomize_case = settings_.dns.randomize_case;
  po.answers.block_ttl_seconds = static_cast<uint32_t>(settings_.dns.block_ttl_seconds);
  if (settings_.block_page.ipv4) po.answers.block_page_v4 = *settings_.block_page.ipv4;
  if (settings_.block_page.ipv6) po.answers.block_page_v6 = *settings_.block_page.ipv6;
  if (settings_.inline_mode.enabled) {
    resolved_ = std::make_unique<ResolvedAddressTable>();
    po.answers.resolved = resolved_.get();
  }
  proxy_ = std::make_unique<DnsProxy>(po, holder_, incidents_.get(), neighbours_.get());
  Status s = proxy_->start();
  if (!s) return s;
  if (settings_.inline_mode.enabled) {
    auto engine = InlineEngine::start(settings_, holder_, incidents_.get(), resolved_.get(),
                                      proxy_->encryptedUpstreams());
    if (!engine) return Status::unavailable("inline mode: " + engine.status().toString());
    inline_ = std::move(*engine);
  }

  // List subscriptions: refreshed in the background; the policy above compiled from the copies
  // already kept, so start-up never waits for the network.
  lists_ = std::make_unique<ListRefresher>(settings_.state_dir / "lists", shippedProtectedNames(),
                                           SystemClock::instance(),
                                           [this] { lists_updated_.store(true); });
  if (alerts_) {
    lists_->setNoticeSink(
        [router = alerts_.get()](const ListNotice& n) { router->onListNotice(n); });
  }
  lists_->setSubscriptions(subscriptionsOf(loaded->config));
  lists_->start();

  // Outbound messages (hotline reports): the delivery thread starts only when a destination
  // is configured; a bad token file stops the start with the reason.
  auto outbox = startOutbox(settings_, SystemClock::instance());
  if (!outbox) return outbox.status();
  outbox_ = std::move(outbox.value());
  if (alerts_ && outbox_) {
    // Batches whose window closed are rendered and committed (one fsync) on the delivery
    // thread at its low priority, not on the main loop that shares the DNS workers' CPU.
    outbox_->setProducer([router = alerts_.get()] { return router->flush(); });
  }

  ControlServerOptions co;
  co.socket_path = settings_.control.socket;
  co.mode = settings_.control.mode;
  co.group = settings_.control.group;
  co.admin_group = settings_.control.admin_group;
  control_ = std::make_unique<ControlServer>(
      co, [this](const ControlRequest& r) { return handleControl(r); });
  s = control_->start();
  if (!s) return s;
  startup_seconds_.store(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count(),
      std::memory_order_relaxed);
  malloc_trim(0);  // the list parser's temporary memory goes back to the OS
  return Status::ok();
}

Status Daemon::reload(std::vector<std::string>& diagnostics, bool allow_empty_policy) {
  DiagnosticSink sink;
  compileListsFirst();
  auto loaded = policy::PolicyEngine::load(options_.config_file, sink, loadOptions());
  for (const Diagnostic& d : sink.all()) diagnostics.push_back(d.toString());
  std::lock_guard<std::mutex> lock(mutex_);
  if (!loaded) {
    ++failed_reloads_;
    if (diagnostics.empty()) diagnostics.push_back("error: " + loaded.status().message());
    return Status::invalid("reload failed; the running policy is unchanged");
  }
  const auto filtering = loaded->snapshot->filteringByGroup();
  if (!allow_empty_policy) {
    if (Status kept = checkFilteringKept(snapshot_->filteringByGroup(), filtering); !kept) {
      ++failed_reloads_;
      diagnostics.push_back(options_.config_file.string() + ": error: " + kept.message());
      return Status::invalid("reload refused; the running policy is unchanged");
    }
  }
  snapshot_ = loaded->snapshot;
  applyLiveSettings(loaded->config, diagnostics);
  if (lists_) lists_->setSubscriptions(subscriptionsOf(loaded->config));
  publishView();
  pruneListCache();
  ++reloads_;
  if (Status saved = savePolicySummary(policySummaryPath(), filtering); !saved) {
    diagnostics.push_back("warning: " + saved.toString());
  }
  loaded = Status::internal("released");  // drop the parsed config before trimming
  malloc_trim(0);  // compile garbage back to the OS: RSS stays near one snapshot between reloads
  return Status::ok();
}

nlohmann::json Daemon::statusJson() {
  nlohmann::json j;
  j["version"] = "0.1.0";
  j["protocol"] = kControlProtocolVersion;
  j["pid"] = getpid();
  j["uptime_seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  j["startup_seconds"] = startup_seconds_.load(std::memory_order_relaxed);
  j["config"] = options_.config_file.string();
  std::vector<std::string> listen;
  for (const auto& a : proxy_->boundAddresses()) listen.push_back(a.toString());
  j["dns"] = listen;
  j["upstreams"] = settings_.dns.upstreams;
  nlohmann::json encrypted = nlohmann::json::array();
  for (const auto& transport : proxy_->encryptedUpstreams()) {
    if (!transport) continue;
    const EncryptedUpstreamStats st = transport->stats();
    encrypted.push_back({{"upstream", transport->spec().toString()},
                         {"queries", st.queries},
                         {"answers", st.answers},
                         {"failures", st.failures},
                         {"connections", st.connections},
                         {"resumed", st.resumed}});
  }
  if (!encrypted.empty()) j["encrypted_upstreams"] = encrypted;
  j["workers"] = proxy_->workerCount();
  j["control"] = settings_.control.socket.string();
  j["database"] = settings_.database.path.string();
  // One line an operator reads first: are incidents reaching the database?
  const IncidentStoreHealth health = incidents_->health();
  j["health"] = health.ok ? std::string("ok: incident database writable")
                          : "FAILING: incident database not writable since " +
                                isoUtc(health.failing_since_ms / 1000) + " (" + health.last_error +
                                "); see `safegatectl stats` for drops";
  j["policy_generation"] = holder_.generation();
  {
    // SIGHUP reloads on the main thread and housekeeping prunes exceptions there: the pointers
    // and counters they replace are read under the same lock (a data race before, seen by TSan).
    std::lock_guard<std::mutex> lock(mutex_);
    j["reloads"] = reloads_;
    j["failed_reloads"] = failed_reloads_;
    j["exceptions"] = exceptions_->entries().size();
    // How many devices have a name from the lease files / from reverse DNS right now.
    if (lease_names_) {
      j["device_names"] = {{"leases", lease_names_->by_address.size()},
                           {"reverse_dns", lease_names_->by_reverse_dns.size()}};
    }
    // The reloadable settings as the components hold them (what a reload changed).
    const IncidentLiveSettings live = incidents_->live();
    j["live_settings"] = {{"block_ttl_seconds", answers_->block_ttl_seconds},
                          {"block_page_ipv4", answers_->block_page_v4.toString()},
                          {"block_page_ipv6", answers_->block_page_v6.toString()},
                          {"retention_days", live.retention_days},
                          {"full_query_log", live.full_query_log},
                          {"pseudonymize_clients", live.pseudonymize_clients}};
    if (snapshot_) {
      j["policy"] = {{"list_entries", snapshot_->stats().list_entries},
                     {"regex_rules", snapshot_->stats().regex_rules},
                     {"groups", snapshot_->stats().groups},
                     {"memory_bytes", snapshot_->stats().memory_bytes},
                     {"names_from_cache", snapshot_->stats().names_from_cache},
                     {"names_mapped", snapshot_->stats().names_mapped}};
    }
  }
  if (outbox_) {
    // Its own short-lived connection: the delivery thread's is not shared across threads.
    auto store = OutboxStore::open(settings_.outbox.path.string(), outboxStoreOptions(settings_));
    auto counts = store ? store->counts() : Result<OutboxStore::Counts>(store.status());
    if (counts) {
      j["outbox"] = {{"path", settings_.outbox.path.string()},
                     {"pending", counts->pending},
                     {"dead", counts->dead},
                     {"delivered", counts->delivered}};
    } else {
      j["outbox"] = {{"path", settings_.outbox.path.string()},
                     {"error", counts.status().message()}};
    }
  }
  return j;
}

nlohmann::json Daemon::statsJson() {
  nlohmann::json j;
  ProxyStats p = proxy_->stats();
  nlohmann::json dns;
#define SAFEGATE_JSON_COUNTER(name) dns[#name] = p.name;
  SAFEGATE_PROXY_COUNTERS(SAFEGATE_JSON_COUNTER)
#undef SAFEGATE_JSON_COUNTER
  dns["in_flight"] = p.in_flight;
  dns["tcp_connections"] = p.tcp_connections;
  j["dns"] = dns;
  IncidentStoreStats s = incidents_->stats();
  j["incidents"] = {{"queued", s.queued},
                    {"dropped_queue_full", s.dropped_queue_full},
                    {"written", s.written},
                    {"batches", s.batches},
                    {"busy_retries", s.busy_retries},
                    {"write_errors", s.write_errors},
                    {"retention_deleted", s.retention_deleted},
                    {"pending", s.pending}};
  nlohmann::json by_category = nlohmann::json::array();
  for (const IncidentCount& c : incidents_->countsByCategory()) {
    by_category.push_back({{"category", c.category}, {"verdict", c.verdict}, {"count", c.count}});
  }
  j["incidents_by_category"] = std::move(by_category);
  const ControlServerStats cs = control_ ? control_->stats() : ControlServerStats{};
  j["control"] = {{"refused_peers", cs.refused_peers},
                  {"refused_busy", cs.refused_busy},
                  {"timed_out", cs.timed_out},
                  {"denied", cs.denied}};
  if (inline_) j["inline"] = inline_->statsJson();
  if (outbox_) {
    const OutboxDeliveryStats o = outbox_->stats();
    j["outbox"] = {{"delivered", o.delivered},
                   {"failed_attempts", o.failed_attempts},
                   {"dead_lettered", o.dead_lettered},
                   {"last_error", o.last_error}};
  }
  if (alerts_) {
    const AlertRouterStats a = alerts_->stats();
    j["alerts"] = {{"alerts", a.alerts},
                   {"suppressed", a.suppressed},
                   {"messages", a.messages},
                   {"enqueue_errors", a.enqueue_errors},
                   {"dropped", a.dropped},
                   {"list_notices", a.list_notices},
                   {"request_notices", a.request_notices},
                   {"last_error", a.last_error}};
  }
  return j;
}

std::string Daemon::handleControl(const ControlRequest& req) {
  const std::string& cmd = req.command;
  const nlohmann::json& a = req.args;
  if (cmd == "status") return controlOk(req.id, statusJson());
  if (cmd == "stats") return controlOk(req.id, statsJson());
  if (cmd == "lists") {
    nlohmann::json rows = nlohmann::json::array();
    if (lists_) {
      for (const auto& r : lists_->records()) rows.push_back(listRecordJson(r));
    }
    return controlOk(req.id, {{"lists", std::move(rows)}});
  }
  if (cmd == "reload") {
    std::vector<std::string> diags;
    const bool allow_empty = a.contains("allow_empty_policy") &&
                             a["allow_empty_policy"].is_boolean() &&
                             a["allow_empty_policy"].get<bool>();
    Status s = reload(diags, allow_empty);
    if (!s) return controlError(req.id, s.message(), diags);
    return controlOk(req.id, {{"policy_generation", holder_.generation()}, {"warnings", diags}});
  }
  if (cmd == "explain") {
    std::string client_text = argText(a, "client");
    auto client = IpAddress::parse(client_text.empty() ? "127.0.0.1" : client_text);
    if (!client) return controlError(req.id, "\"client\" is not an IP address: " + client_text);
    // Without "mac", the one the DNS path would see for that address (a group chosen by MAC
    // must decide here as it does for the device's queries).
    std::optional<MacAddress> mac = macOf(*client);
    if (!argText(a, "mac").empty()) {
      mac = MacAddress::parse(argText(a, "mac"));
      if (!mac) return controlError(req.id, "\"mac\" is not a MAC address");
    }
    std::vector<std::string> names;
    if (a.contains("names") && a["names"].is_array()) {
      for (const auto& n : a["names"]) {
        if (n.is_string()) names.push_back(n.get<std::string>());
      }
    }
    if (!argText(a, "name").empty()) names.push_back(argText(a, "name"));
    if (names.empty()) return controlError(req.id, "explain needs \"name\" or \"names\"");
    int64_t at =
        a.contains("at") && a["at"].is_number_integer() ? a["at"].get<int64_t>() : unixNow();
    auto view = holder_.get();
    nlohmann::json out = nlohmann::json::array();
    for (const std::string& raw : names) {
      auto canonical = normalizeDomain(raw, NameSyntax::kHostname);
      if (!canonical) {
        out.push_back({{"name", raw}, {"error", canonical.status().message()}});
        continue;
      }
      RequestFacts f;
      f.client = *client;
      f.mac = mac;
      f.name = *canonical;
      f.unix_time_seconds = at;
      nlohmann::json j = decisionJson(*canonical, describeDecision(view->decide(f)));
      // The group's profile (its age band): the block page words itself for it.
      uint16_t group_index = 0;
      if (const policy::GroupSettings* g = view->groupFor(*client, mac, group_index)) {
        j["profile"] = g->profile;
      }
      out.push_back(std::move(j));
    }
    return controlOk(req.id, {{"decisions", out}});
  }
  if (cmd == "incidents" || cmd == "incidents.summary") return handleIncidents(req);
  if (cmd == "exceptions.list") {
    std::lock_guard<std::mutex> lock(mutex_);
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : exceptions_->entries()) out.push_back(exceptionJson(e));
    return controlOk(req.id, {{"exceptions", out}});
  }
  if (cmd == "exceptions.add" || cmd == "pause") {
    // Bounded duration, granted_by from the connection's peer.
    auto e = exceptionFromRequest(req, unixNow(), settings_.control.max_exception_minutes);
    if (!e) return controlError(req.id, e.status().message());
    std::lock_guard<std::mutex> lock(mutex_);
    auto granted = grantException(std::move(*e));
    if (!granted) return controlError(req.id, granted.status().message());
    return controlOk(req.id, exceptionJson(*granted));
  }
  if (cmd.starts_with("requests.")) return handleRequests(req);
  if (cmd == "exceptions.remove") {
    if (!a.contains("id") && !a.contains("exception")) {
      return controlError(req.id, "exceptions.remove needs \"exception\" (the exception id)");
    }
    const auto& idj = a.contains("exception") ? a["exception"] : a["id"];
    if (!idj.is_number_unsigned()) return controlError(req.id, "exception id must be a number");
    std::lock_guard<std::mutex> lock(mutex_);
    auto next = exceptions_->withRemoved(idj.get<uint64_t>());
    if (!next) return controlError(req.id, next.status().message());
    if (Status saved = exception_store_->save(**next); !saved) {
      return controlError(req.id, saved.message());
    }
    exceptions_ = *next;
    publishView();
    return controlOk(req.id, {{"removed", idj.get<uint64_t>()}});
  }
  return controlError(req.id,
                      "unknown command \"" + cmd +
                          "\" (status, stats, reload, explain, incidents, incidents.summary, "
                          "exceptions.list, exceptions.add, exceptions.remove, pause, "
                          "requests.add, requests.list, requests.approve, requests.deny)");
}

std::optional<MacAddress> Daemon::macOf(const IpAddress& client) const {
  if (!neighbours_) return std::nullopt;
  const auto map = neighbours_->holder().get();
  return map ? map->find(client) : std::nullopt;
}

Result<policy::TemporaryException> Daemon::grantException(policy::TemporaryException e) {
  auto next = exceptions_->withAdded(std::move(e));
  if (!next) return next.status();
  // Saved before it takes effect: an exception that would vanish on restart is refused.
  if (Status saved = exception_store_->save(**next); !saved) return saved;
  exceptions_ = *next;
  publishView();
  return exceptions_->entries().back();
}

int Daemon::run() {
  // Signals are taken synchronously through a signalfd on this thread; block them before any
  // thread starts so every thread inherits the mask.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGHUP);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC);

  DiagnosticSink diags;
  Status s = startUp(diags);
  // Errors in full; list warnings (e.g. IP addresses in host lists) are capped so a start-up
  // log stays readable — `safegatectl check-config FILE` prints every one.
  size_t warnings_shown = 0, warnings_hidden = 0;
  for (const Diagnostic& d : diags.all()) {
    if (d.severity == Severity::kError || warnings_shown < 10) {
      fprintf(stderr, "%s\n", d.toString().c_str());
      if (d.severity != Severity::kError) ++warnings_shown;
    } else {
      ++warnings_hidden;
    }
  }
  if (warnings_hidden > 0) {
    fprintf(stderr,
            "safegated: %zu more warnings not shown (safegatectl check-config %s lists them)\n",
            warnings_hidden, options_.config_file.c_str());
  }
  if (!s) {
    fprintf(stderr, "safegated: %s\n", s.toString().c_str());
    return 1;
  }
  std::string dns;
  for (const auto& a : proxy_->boundAddresses()) dns += (dns.empty() ? "" : ",") + a.toString();
  std::string queues;
  if (inline_) {
    for (uint16_t q : inline_->queues()) queues += (queues.empty() ? "" : ",") + std::to_string(q);
  }
  printf("safegated: ready dns=%s control=%s%s%s\n", dns.c_str(), settings_.control.socket.c_str(),
         queues.empty() ? "" : " inline=", queues.c_str());
  fflush(stdout);
  notifySystemd("READY=1");

  auto last_neighbours = std::chrono::steady_clock::now();
  auto last_expiry = last_neighbours;
  auto last_leases = last_neighbours;
  for (;;) {
    pollfd p{sfd, POLLIN, 0};
    int n = poll(&p, 1, 1000);
    if (n > 0) {
      signalfd_siginfo si{};
      if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
          std::vector<std::string> d;
          Status r = reload(d);
          for (const auto& line : d) fprintf(stderr, "%s\n", line.c_str());
          fprintf(stderr, "safegated: reload %s\n", r ? "applied" : r.message().c_str());
          notifySystemd("READY=1");
        } else {
          break;
        }
      }
    }
    if (lists_updated_.exchange(false)) {
      std::vector<std::string> d;
      Status r = reload(d);
      for (const auto& line : d) fprintf(stderr, "%s\n", line.c_str());
      fprintf(stderr, "safegated: reload after a list update %s\n",
              r ? "applied" : r.message().c_str());
    }
    if (alerts_ && !outbox_) alerts_->flush();  // normally the delivery thread's producer
    auto now = std::chrono::steady_clock::now();
    if (now - last_neighbours >= std::chrono::seconds(5)) {
      (void)neighbours_->refresh();
      last_neighbours = now;
    }
    if ((leases_ || reverse_names_) &&
        now - last_leases >= std::chrono::seconds(settings_.devices.refresh_seconds)) {
      refreshLeaseNames();
      last_leases = now;
    }
    if (now - last_expiry >= std::chrono::seconds(60)) {
      std::lock_guard<std::mutex> lock(mutex_);
      auto pruned = exceptions_->withoutExpired(unixNow());
      if (pruned->entries().size() != exceptions_->entries().size()) {
        exceptions_ = pruned;
        publishView();
        // Expired entries would be dropped at the next start anyway; saving now keeps client
        // addresses on disk no longer than needed.
        if (Status saved = exception_store_->save(*exceptions_); !saved) {
          fprintf(stderr, "safegated: %s\n", saved.toString().c_str());
        }
      }
      // Undecided requests close, decided ones are forgotten after requests.keep_days.
      if (requests_.expire(unixNow())) {
        if (Status saved = request_store_->save(requests_); !saved) {
          fprintf(stderr, "safegated: %s\n", saved.toString().c_str());
        }
      }
      last_expiry = now;
      if (alerts_) alerts_->sendDueDigests();
    }
  }
  notifySystemd("STOPPING=1");
  if (reverse_names_) reverse_names_->stop();
  if (lists_) lists_->stop();
  if (outbox_) outbox_->stop();
  control_->stop();
  if (inline_) inline_->stop();
  proxy_->stop();
  incidents_->stop();                           // flushes what is queued
  if (alerts_) alerts_->flush(/*force=*/true);  // durable in the outbox, sent after a restart
  close(sfd);
  return 0;
}

}  // namespace safegate
