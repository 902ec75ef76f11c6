#include "daemon/store/incident_store.h"

#include <sched.h>

#include <chrono>
#include <map>
#include <tuple>
#include <unordered_map>

#include "common/logger.h"
#include "common/thread_name.h"

namespace safegate {

namespace {

int64_t nowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view protocolName(Protocol p) {
  switch (p) {
    case Protocol::kDns: return "dns";
    case Protocol::kHttp: return "http";
    case Protocol::kTls: return "tls";
    case Protocol::kQuic: return "quic";
  }
  return "dns";
}

// Schema migrations: migrations[i] takes user_version i to i+1 (docs/database.md).
constexpr const char* kMigrations[] = {
    // 0 -> 1
    R"sql(
CREATE TABLE IF NOT EXISTS incidents (
  id INTEGER PRIMARY KEY,
  ts_ms INTEGER NOT NULL,
  client TEXT NOT NULL,
  client_named INTEGER NOT NULL DEFAULT 0,
  grp TEXT NOT NULL,
  name TEXT,
  qtype INTEGER,
  category TEXT,
  verdict TEXT NOT NULL,
  alert INTEGER NOT NULL DEFAULT 0,
  rule TEXT,
  source TEXT,
  protocol TEXT NOT NULL,
  reason TEXT
);
CREATE INDEX IF NOT EXISTS incidents_ts ON incidents(ts_ms);
CREATE TABLE IF NOT EXISTS hourly_counts (
  hour INTEGER NOT NULL,
  grp TEXT NOT NULL,
  category TEXT NOT NULL,
  verdict TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (hour, grp, category, verdict)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS query_log (
  id INTEGER PRIMARY KEY,
  ts_ms INTEGER NOT NULL,
  client TEXT NOT NULL,
  grp TEXT NOT NULL,
  name TEXT NOT NULL,
  qtype INTEGER,
  verdict TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS query_log_ts ON query_log(ts_ms);
)sql",
    // 1 -> 2: the dashboard's filters (daemon/store/incident_query.h) each walk one index, newest
    // first, instead of scanning every row in the time window.
    R"sql(
CREATE INDEX IF NOT EXISTS incidents_client_ts ON incidents(client, ts_ms);
CREATE INDEX IF NOT EXISTS incidents_grp_ts ON incidents(grp, ts_ms);
CREATE INDEX IF NOT EXISTS incidents_category_ts ON incidents(category, ts_ms);
CREATE INDEX IF NOT EXISTS incidents_alert_ts ON incidents(ts_ms) WHERE alert = 1;
)sql",
};
constexpr int64_t kMigrationCount = sizeof(kMigrations) / sizeof(kMigrations[0]);
static_assert(kMigrationCount == kIncidentSchemaVersion);

}  // namespace

IncidentEvent IncidentEvent::fromDecision(const RequestFacts& facts, const Decision& d,
                                          int64_t unix_ms) noexcept {
  IncidentEvent e;
  e.unix_ms = unix_ms;
  e.client = facts.client;
  if (facts.mac) {
    e.has_mac = true;
    e.mac = *facts.mac;
  }
  e.protocol = facts.protocol;
  e.qtype = facts.dns_type;
  e.verdict = d.verdict;
  e.reason = d.reason;
  e.alert = d.alert;
  e.confidential = d.confidential;
  e.group.assign(d.group);
  e.category.assign(d.category);
  if (!d.confidential) {
    // Licensed lists: the name and the rule would disclose list entries.
    e.name.assign(facts.name);
    e.rule.assign(d.rule);
    e.source_file.assign(d.source_file);
    e.source_line = d.source_line;
  }
  return e;
}

IncidentStore::IncidentStore(IncidentStoreOptions options, SqliteDb db, Pseudonymizer p)
    : options_(std::move(options)),
      retention_days_(options_.retention_days),
      pseudonymize_clients_(options_.pseudonymize_clients),
      full_query_log_(options_.full_query_log),
      db_(std::move(db)),
      pseudonymizer_(p),
      queue_(options_.queue_capacity) {
  // One transaction takes at most kMaxBatch events: enough to amortise the commit, small enough
  // that the batch buffer stays a few MiB whatever the queue's capacity.
  pending_.reserve(std::min(queue_.capacity(), kMaxBatch));
}

IncidentStore::~IncidentStore() { stop(); }

void IncidentStore::applyLive(const IncidentLiveSettings& live) {
  retention_days_.store(live.retention_days, std::memory_order_relaxed);
  pseudonymize_clients_.store(live.pseudonymize_clients, std::memory_order_relaxed);
  full_query_log_.store(live.full_query_log, std::memory_order_relaxed);
}

IncidentLiveSettings IncidentStore::live() const {
  return {retention_days_.load(std::memory_order_relaxed),
          pseudonymize_clients_.load(std::memory_order_relaxed),
          full_query_log_.load(std::memory_order_relaxed)};
}

Status IncidentStore::migrate(SqliteDb& db) {
  auto v = db.userVersion();
  if (!v) return v.status();
  if (*v > kIncidentSchemaVersion) {
    return Status(StatusCode::kFailedPrecondition,
                  db.path() + ": schema version " + std::to_string(*v) +
                      " is newer than this safegated understands (" +
                      std::to_string(kIncidentSchemaVersion) + ")");
  }
  for (int64_t from = *v; from < kIncidentSchemaVersion; ++from) {
    Status s = db.exec("BEGIN IMMEDIATE");
    if (!s) return s;
    s = db.exec(kMigrations[from]);
    if (s) s = db.setUserVersion(from + 1);
    if (s) s = db.exec("COMMIT");
    if (!s) {
      db.exec("ROLLBACK");
      return Status(s.code(), "migrating schema " + std::to_string(from) + " -> " +
                                  std::to_string(from + 1) + ": " + s.message());
    }
  }
  return Status::ok();
}

Result<std::unique_ptr<IncidentStore>> IncidentStore::open(const IncidentStoreOptions& options) {
  SqliteOpenOptions o;
  o.busy_timeout_ms = 5000;  // start-up may wait a little for a lock; the hot path never does
  auto db = SqliteDb::open(options.database_path.string(), o);
  if (!db) return db.status();
  Status s = migrate(*db);
  if (!s) return s;
  s = db->exec("PRAGMA busy_timeout=" + std::to_string(options.busy_timeout_ms));
  if (!s) return s;
  auto p = Pseudonymizer::loadOrCreate(options.secret_file);
  if (!p) return p.status();
  return std::unique_ptr<IncidentStore>(new IncidentStore(options, std::move(*db), *p));
}

void IncidentStore::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    setThreadName("sg-incidents");
    run();
  });
}

void IncidentStore::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(wake_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void IncidentStore::flushSoon() {
  {
    std::lock_guard<std::mutex> lock(wake_mutex_);
    wake_now_ = true;
  }
  wake_.notify_all();
}

bool IncidentStore::record(const IncidentEvent& e) noexcept {
  if (queue_.tryPush(e)) {
    queued_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  dropped_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

IncidentStoreStats IncidentStore::stats() const {
  IncidentStoreStats s;
  s.queued = queued_.load(std::memory_order_relaxed);
  s.dropped_queue_full = dropped_.load(std::memory_order_relaxed);
  s.written = written_.load(std::memory_order_relaxed);
  s.batches = batches_.load(std::memory_order_relaxed);
  s.busy_retries = busy_.load(std::memory_order_relaxed);
  s.write_errors = errors_.load(std::memory_order_relaxed);
  s.retention_deleted = retention_deleted_.load(std::memory_order_relaxed);
  s.pending = pending_count_.load(std::memory_order_relaxed);
  return s;
}

void IncidentStore::takeQueued() {
  IncidentEvent e;
  // One pseudonym (an HMAC) per device per pass, as writeBatch() does, not one per alert.
  std::unordered_map<std::string, std::string> devices;
  while (pending_.size() < pending_.capacity() && queue_.tryPop(e)) {
    pending_.push_back(e);
    if (e.query_log_only || !alert_sink_) continue;
    const bool exported =
        sink_every_incident_ && (e.verdict == Verdict::kBlock || e.verdict == Verdict::kMonitor);
    if (!e.alert && !exported) continue;
    AlertNotice n;
    n.unix_ms = e.unix_ms;
    std::string key = e.device.length ? std::string(e.device.view())
                      : e.has_mac     ? "m" + e.mac.toString()
                                      : "i" + e.client.toString();
    auto it = devices.find(key);
    if (it == devices.end()) {
      bool named = false;
      it = devices.emplace(std::move(key), clientText(e, &named)).first;
    }
    n.device = it->second;
    n.device_named = e.device.length > 0;
    n.group = e.group.view();
    n.category = e.category.view();
    n.confidential = e.confidential;
    if (!e.confidential) n.name = e.name.view();
    n.blocked = e.verdict == Verdict::kBlock;
    n.alert = e.alert;
    n.protocol = protocolName(e.protocol);
    alert_sink_(n);
  }
}

void IncidentStore::run() {
  bool more = false;  // the last batch was full: drain again without waiting
  for (;;) {
    bool stopping;
    {
      std::unique_lock<std::mutex> lock(wake_mutex_);
      if (!more) {
        wake_.wait_for(lock, std::chrono::milliseconds(options_.batch_ms),
                       [this] { return stopping_ || wake_now_; });
      }
      wake_now_ = false;
      stopping = stopping_;
    }
    // Take from the queue only what pending_ can hold: while the database is locked the queue
    // fills up and further events are dropped and counted, so memory stays bounded.
    takeQueued();
    pending_count_.store(pending_.size(), std::memory_order_relaxed);
    const bool full = pending_.size() == pending_.capacity();
    more = false;
    if (!pending_.empty()) more = writeBatch() && full;
    int64_t now = nowUnixMs();
    if (now - last_retention_ms_ >= options_.retention_interval_ms) enforceRetention(now);
    if (stopping) {
      // Drain what is queued so that a clean shutdown loses nothing that fits.
      do {
        takeQueued();
      } while (!pending_.empty() && writeBatch());
      if (!pending_.empty()) {
        // The database refused the last batch: say what is lost, never silently.
        size_t lost = pending_.size();
        IncidentEvent e;
        while (queue_.tryPop(e)) ++lost;
        logError("incidents", "incidents lost at shutdown: the database could not take them",
                 {{"path", options_.database_path.string()},
                  {"lost", static_cast<uint64_t>(lost)},
                  {"error", health().last_error}});
      }
      return;
    }
  }
}

std::string IncidentStore::clientText(const IncidentEvent& e, bool* named) const {
  return deviceText(e.device.view(), e.has_mac ? std::optional<MacAddress>(e.mac) : std::nullopt,
                    e.client, named);
}

std::string IncidentStore::deviceText(std::string_view device_name,
                                      const std::optional<MacAddress>& mac, const IpAddress& client,
                                      bool* named) const {
  if (!device_name.empty()) {
    *named = true;
    return std::string(device_name);
  }
  std::string identity = mac ? "mac:" + mac->toString() : "ip:" + client.toString();
  if (!pseudonymize_clients_.load(std::memory_order_relaxed)) {
    *named = true;
    return identity.substr(identity.find(':') + 1);
  }
  *named = false;
  return pseudonymizer_.pseudonym(identity);
}

bool IncidentStore::writeBatch() {
  std::string err;
  SqliteCode c = db_.execCode("BEGIN IMMEDIATE", &err);
  if (c == SqliteCode::kBusy || c == SqliteCode::kLocked) {
    busy_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (c != SqliteCode::kOk) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    noteWriteFailure(err.empty() ? "cannot begin a transaction" : err);
    return false;
  }
  auto ins = db_.prepare(
      "INSERT INTO incidents (ts_ms, client, client_named, grp, name, qtype, category, verdict, "
      "alert, rule, source, protocol, reason) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)");
  auto cnt = db_.prepare(
      "INSERT INTO hourly_counts (hour, grp, category, verdict, count) VALUES (?,?,?,?,?) "
      "ON CONFLICT (hour, grp, category, verdict) DO UPDATE SET count = count + excluded.count");
  auto qlog = db_.prepare(
      "INSERT INTO query_log (ts_ms, client, grp, name, qtype, verdict) VALUES (?,?,?,?,?,?)");
  if (!ins || !cnt || !qlog) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    noteWriteFailure(!ins   ? ins.status().message()
                     : !cnt ? cnt.status().message()
                            : qlog.status().message());
    db_.execCode("ROLLBACK");
    return false;
  }
  std::unordered_map<std::string, std::string> client_cache;
  std::map<std::tuple<int64_t, std::string, std::string, std::string>, int64_t> hourly;
  bool ok = true;
  size_t rows = 0;
  for (const IncidentEvent& e : pending_) {
    // The writer shares CPUs with the DNS workers. A 100 ms batch is a few ms of SQLite work,
    // and the scheduler (EEVDF) lets a running thread finish its slice before a woken worker
    // runs, so answers waited behind the batch: p99 at 20k qps was 1.7-2.2 ms. Yielding every
    // kRowsPerYield rows bounds that wait to ~0.25 ms (p99 0.37-0.50 ms, bench/dns_vs_dnsdist.sh)
    // while the writer keeps its normal CPU share (SCHED_IDLE would starve it under load).
    if (++rows % kRowsPerYield == 0) sched_yield();
    bool named = false;
    std::string key = e.device.length ? std::string(e.device.view())
                      : e.has_mac     ? "m" + e.mac.toString()
                                      : "i" + e.client.toString();
    auto it = client_cache.find(key);
    if (it == client_cache.end()) it = client_cache.emplace(key, clientText(e, &named)).first;
    named = e.device.length > 0 || !pseudonymize_clients_.load(std::memory_order_relaxed);
    const std::string& client = it->second;
    std::string_view verdict =
        e.alert && e.verdict == Verdict::kAllow ? "alert" : verdictName(e.verdict);
    SqliteCode r;
    if (e.query_log_only) {
      qlog->bindInt(1, e.unix_ms);
      qlog->bindText(2, client);
      qlog->bindText(3, e.group.view());
      qlog->bindText(4, e.name.view());
      qlog->bindInt(5, e.qtype);
      qlog->bindText(6, verdict);
      r = qlog->step();
      if (r != SqliteCode::kDone) err = qlog->lastError();
      qlog->reset();
    } else {
      ins->bindInt(1, e.unix_ms);
      ins->bindText(2, client);
      ins->bindInt(3, named ? 1 : 0);
      ins->bindText(4, e.group.view());
      if (e.confidential) {
        ins->bindNull(5);
        ins->bindNull(10);
        ins->bindNull(11);
      } else {
        ins->bindText(5, e.name.view());
        ins->bindText(10, e.rule.view());
        if (e.source_file.length) {
          ins->bindText(11,
                        std::string(e.source_file.view()) + ":" + std::to_string(e.source_line));
        } else {
          ins->bindNull(11);
        }
      }
      ins->bindInt(6, e.qtype);
      ins->bindText(7, e.category.view());
      ins->bindText(8, verdict);
      ins->bindInt(9, e.alert ? 1 : 0);
      ins->bindText(12, protocolName(e.protocol));
      ins->bindText(13, decisionReasonName(e.reason));
      r = ins->step();
      if (r != SqliteCode::kDone) err = ins->lastError();
      ins->reset();
      // Counted per batch and written once per key below (one upsert instead of one per row).
      ++hourly[{(e.unix_ms / 3'600'000) * 3600, std::string(e.group.view()),
                std::string(e.category.view()), std::string(verdict)}];
    }
    if (r != SqliteCode::kDone) {
      ok = false;
      break;
    }
  }
  for (const auto& [key, count] : hourly) {
    if (!ok) break;
    cnt->bindInt(1, std::get<0>(key));
    cnt->bindText(2, std::get<1>(key));
    cnt->bindText(3, std::get<2>(key));
    cnt->bindText(4, std::get<3>(key));
    cnt->bindInt(5, count);
    ok = cnt->step() == SqliteCode::kDone;
    if (!ok) err = cnt->lastError();
    cnt->reset();
  }
  if (ok) {
    c = db_.execCode("COMMIT", &err);
    if (c == SqliteCode::kOk) {
      {
        std::lock_guard<std::mutex> lock(counts_mutex_);
        for (const auto& [key, count] : hourly) {
          counts_[{std::get<2>(key), std::get<3>(key)}] += static_cast<uint64_t>(count);
        }
      }
      written_.fetch_add(pending_.size(), std::memory_order_relaxed);
      batches_.fetch_add(1, std::memory_order_relaxed);
      pending_.clear();
      pending_count_.store(0, std::memory_order_relaxed);
      noteWriteSuccess();
      return true;
    }
  }
  db_.execCode("ROLLBACK");
  // In WAL mode a writer that began with BEGIN IMMEDIATE holds the write lock, so failure here
  // is unusual (disk full, I/O error); keep the batch and try again next time.
  if (c == SqliteCode::kBusy || c == SqliteCode::kLocked) {
    busy_.fetch_add(1, std::memory_order_relaxed);
  } else {
    errors_.fetch_add(1, std::memory_order_relaxed);
    noteWriteFailure(err.empty() ? "write failed" : err);
  }
  return false;
}

std::vector<IncidentCount> IncidentStore::countsByCategory() const {
  std::lock_guard<std::mutex> lock(counts_mutex_);
  std::vector<IncidentCount> out;
  out.reserve(counts_.size());
  for (const auto& [key, count] : counts_) out.push_back({key.first, key.second, count});
  return out;
}

IncidentStoreHealth IncidentStore::health() const {
  std::lock_guard<std::mutex> lock(health_mutex_);
  return health_;
}

void IncidentStore::noteWriteFailure(const std::string& error) {
  const int64_t now = nowUnixMs();
  const uint64_t errors = errors_.load(std::memory_order_relaxed);
  const uint64_t dropped = dropped_.load(std::memory_order_relaxed);
  bool first = false;
  {
    std::lock_guard<std::mutex> lock(health_mutex_);
    first = health_.ok;
    if (first) {
      health_.ok = false;
      health_.failing_since_ms = now;
    }
    health_.last_error = error;
  }
  if (first) {
    errors_at_streak_start_ = errors - 1;
    dropped_at_streak_start_ = dropped;
    last_failure_log_ms_ = now;
    logError("incidents",
             "cannot write to the incident database; incidents wait in memory and are retried, "
             "new ones are dropped (and counted) once the queue is full",
             {{"path", options_.database_path.string()},
              {"error", error},
              {"queue_capacity", static_cast<uint64_t>(queue_.capacity())}});
  } else if (now - last_failure_log_ms_ >= 60'000) {
    last_failure_log_ms_ = now;
    logError("incidents", "incident database still failing",
             {{"path", options_.database_path.string()},
              {"error", error},
              {"failing_for_s", (now - health().failing_since_ms) / 1000},
              {"failed_writes", errors - errors_at_streak_start_},
              {"dropped", dropped - dropped_at_streak_start_}});
  }
}

void IncidentStore::noteWriteSuccess() {
  int64_t since = 0;
  {
    std::lock_guard<std::mutex> lock(health_mutex_);
    if (health_.ok) return;
    since = health_.failing_since_ms;
    health_ = IncidentStoreHealth{};
  }
  logInfo("incidents", "incident database writable again",
          {{"path", options_.database_path.string()},
           {"failed_for_s", (nowUnixMs() - since) / 1000},
           {"failed_writes", errors_.load(std::memory_order_relaxed) - errors_at_streak_start_},
           {"dropped", dropped_.load(std::memory_order_relaxed) - dropped_at_streak_start_}});
}

void IncidentStore::enforceRetention(int64_t now_ms) {
  last_retention_ms_ = now_ms;
  const int retention_days = retention_days_.load(std::memory_order_relaxed);
  if (retention_days <= 0) return;
  const int64_t cutoff = now_ms - int64_t{retention_days} * 86'400'000;
  // Small chunks keep each write transaction short so the incident writer (and readers) are
  // never held up for long; DELETE ... LIMIT needs a compile option Debian does not set, so the
  // chunk is chosen by rowid in a subquery.
  const std::string limit = std::to_string(options_.retention_chunk_rows);
  for (const char* table : {"incidents", "query_log"}) {
    std::string sql = std::string("DELETE FROM ") + table + " WHERE id IN (SELECT id FROM " +
                      table + " WHERE ts_ms < " + std::to_string(cutoff) + " ORDER BY id LIMIT " +
                      limit + ")";
    if (db_.execCode(sql) == SqliteCode::kOk) {
      retention_deleted_.fetch_add(static_cast<uint64_t>(db_.changes()), std::memory_order_relaxed);
      if (static_cast<size_t>(db_.changes()) == options_.retention_chunk_rows) {
        last_retention_ms_ = 0;  // more to delete: next round, after the next batch
      }
    }
  }
  const int64_t hour_cutoff = cutoff / 1000;
  db_.execCode("DELETE FROM hourly_counts WHERE hour < " + std::to_string(hour_cutoff - 3600));
}

}  // namespace safegate
