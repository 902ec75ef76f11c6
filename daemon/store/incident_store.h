// IncidentStore: the SQLite incident log, written by one thread fed from a bounded queue.
//
// DNS workers call record() (noexcept, lock-free, no allocation): the event is copied into a
// BoundedMpmcQueue and, when the queue is full, dropped and counted — a slow or locked database
// never delays a query. One writer thread drains the queue every batch_ms into a single
// transaction (incidents + hourly counts per group/category/verdict), retries later when another
// process holds the lock (busy counter), enforces retention in small chunks, and owns the only
// write connection. What can be lost on kill -9 / power cut: events still in the queue or in
// the current batch — at most batch_ms of incidents plus the queue (docs/database.md).
//
// Privacy (docs/privacy.md): clients become keyed pseudonyms unless the config names the device;
// licensed categories (child abuse, terrorism; Decision::confidential) store the category only.
// Thread-safety: record() and stats() from any thread; start()/stop() from the owner thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"
#include "common/sqlite_db.h"
#include "daemon/bounded_queue.h"
#include "daemon/store/incident_query.h"
#include "daemon/store/pseudonymizer.h"
#include "policy/decision.h"

namespace safegate {

inline constexpr int64_t kIncidentSchemaVersion = 2;

// Fixed-capacity text so an event is trivially copyable (no allocation on the data plane).
// Longer text is cut at N bytes.
template <size_t N>
struct FixedText {
  char data[N];
  uint16_t length = 0;
  void assign(std::string_view s) noexcept {
    length = static_cast<uint16_t>(s.size() < N ? s.size() : N);
    if (length > 0) std::memcpy(data, s.data(), length);  // an empty view may have data() == null
  }
  std::string_view view() const noexcept { return {data, length}; }
};

struct IncidentEvent {
  int64_t unix_ms = 0;
  IpAddress client;
  bool has_mac = false;
  MacAddress mac;
  Protocol protocol = Protocol::kDns;
  uint16_t qtype = 0;
  Verdict verdict = Verdict::kAllow;
  DecisionReason reason = DecisionReason::kDefault;
  bool alert = false;
  bool confidential = false;
  bool query_log_only = false;  // an allowed query, recorded only with full_query_log on
  uint32_t source_line = 0;
  FixedText<254> name;
  FixedText<64> group;
  FixedText<64> category;
  FixedText<64> device;  // configured device name; empty = pseudonymize
  FixedText<200> rule;
  FixedText<160> source_file;

  // Fills an event from a decision (confidential decisions keep only the category).
  static IncidentEvent fromDecision(const RequestFacts& facts, const Decision& d,
                                    int64_t unix_ms) noexcept;
};

// An incident with an alert-* action, as the alert router sees it (docs/alerts.md): the device
// as stored (configured name or pseudonym, never the address), no name for licensed categories.
struct AlertNotice {
  int64_t unix_ms = 0;
  std::string device;
  bool device_named = false;  // a [[clients]] name rather than a pseudonym
  std::string group;
  std::string category;
  std::string name;  // empty when confidential
  bool confidential = false;
  bool blocked = false;  // alert-block / block (else alert-allow / monitor)
  bool alert = true;     // an alert-* action; false: a plain block or monitor (incident export)
  std::string protocol;
};
using AlertSink = std::function<void(const AlertNotice&)>;

struct IncidentStoreOptions {
  std::filesystem::path database_path;
  std::filesystem::path secret_file;
  size_t queue_capacity = 8192;  // ~7 MiB of events (sizeof(IncidentEvent) is under 1 KiB)
  int batch_ms = 200;
  int retention_days = 30;
  bool pseudonymize_clients = true;
  bool full_query_log = false;
  int busy_timeout_ms = 100;  // per attempt; the writer retries on the next batch
  size_t retention_chunk_rows = 500;
  int retention_interval_ms = 60'000;
};

// The settings a reload changes on a running store (keys marked `live` in the schema).
struct IncidentLiveSettings {
  int retention_days = 30;
  bool pseudonymize_clients = true;
  bool full_query_log = false;
};

struct IncidentStoreStats {
  uint64_t queued = 0;
  uint64_t dropped_queue_full = 0;
  uint64_t written = 0;
  uint64_t batches = 0;
  uint64_t busy_retries = 0;
  uint64_t write_errors = 0;
  uint64_t retention_deleted = 0;
  uint64_t pending = 0;  // taken from the queue, waiting for the database
};

// Incidents written since start, per category and verdict (/metrics' blocks by category).
struct IncidentCount {
  std::string category;
  std::string verdict;
  uint64_t count = 0;
};

// Whether incidents reach the database (a full disk, an I/O error): `safegatectl status`
// shows it as the health line.
struct IncidentStoreHealth {
  bool ok = true;
  int64_t failing_since_ms = 0;  // unix ms of the first failure of the current streak
  std::string last_error;
};

class IncidentStore {
 public:
  // Opens (creating and migrating) the database and the pseudonym secret. Does not start the
  // writer thread.
  static Result<std::unique_ptr<IncidentStore>> open(const IncidentStoreOptions& options);
  ~IncidentStore();

  void start();
  // Flushes what is queued (best effort, one attempt) and joins the writer.
  void stop();

  // Data plane: enqueue or drop-and-count.
  bool record(const IncidentEvent& e) noexcept;
  bool fullQueryLog() const { return full_query_log_.load(std::memory_order_relaxed); }
  // Reload: events written from the next batch on, and the next retention pass, use these.
  // Any thread.
  void applyLive(const IncidentLiveSettings& live);
  IncidentLiveSettings live() const;

  IncidentStoreStats stats() const;
  IncidentStoreHealth health() const;
  // Written (committed) incidents since start by category and verdict, in key order. The
  // writer adds each batch after its commit; DNS workers never touch it.
  std::vector<IncidentCount> countsByCategory() const;
  // Called on the writer thread for every alerting incident as it is taken from the queue —
  // before and independently of the database write, so a full disk does not silence alerts.
  // Set before start(); the sink must be quick (it is the alert router's enqueue).
  // With `every_incident`, also every plain block and monitor incident (a destination exports
  // incidents to a collector, docs/alerts.md "Incident export"); never full-query-log rows.
  void setAlertSink(AlertSink sink, bool every_incident = false) {
    alert_sink_ = std::move(sink);
    sink_every_incident_ = every_incident;
  }
  // How incidents and alerts show a device: its [[clients]] name (`device_name`), else its
  // pseudonym (or its MAC / address with pseudonymize_clients off; *named is then true). Any
  // thread.
  std::string deviceText(std::string_view device_name, const std::optional<MacAddress>& mac,
                         const IpAddress& client, bool* named) const;
  // Wakes the writer now (tests, shutdown) instead of waiting for batch_ms.
  void flushSoon();

  // Control plane: newest first, through a separate read-only connection.

  // Migrates a database to kIncidentSchemaVersion (exposed for tests of old versions).
  static Status migrate(SqliteDb& db);

 private:
  IncidentStore(IncidentStoreOptions options, SqliteDb db, Pseudonymizer p);
  void run();
  bool writeBatch();  // false: database busy, keep pending_
  void enforceRetention(int64_t now_ms);
  // Moves queued events into pending_ (as many as fit), telling the alert sink about alerts.
  void takeQueued();
  std::string clientText(const IncidentEvent& e, bool* named) const;
  // Writer thread: the first failure of a streak is logged with its reason, then a summary at
  // most once a minute, and the recovery; a failing store never logs per batch.
  void noteWriteFailure(const std::string& error);
  void noteWriteSuccess();

  IncidentStoreOptions options_;
  std::atomic<int> retention_days_;
  std::atomic<bool> pseudonymize_clients_, full_query_log_;
  SqliteDb db_;
  Pseudonymizer pseudonymizer_;
  BoundedMpmcQueue<IncidentEvent> queue_;
  static constexpr size_t kMaxBatch = 4096;    // events per transaction
  static constexpr size_t kRowsPerYield = 64;  // see writeBatch()
  std::vector<IncidentEvent> pending_;         // writer thread only
  bool sink_every_incident_ = false;           // set before start()
  std::thread thread_;
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool wake_now_ = false;
  int64_t last_retention_ms_ = 0;
  mutable std::mutex counts_mutex_;
  std::map<std::pair<std::string, std::string>, uint64_t> counts_;  // guarded by counts_mutex_
  mutable std::mutex health_mutex_;
  IncidentStoreHealth health_;                                         // guarded by health_mutex_
  int64_t last_failure_log_ms_ = 0;                                    // writer thread
  uint64_t errors_at_streak_start_ = 0, dropped_at_streak_start_ = 0;  // writer thread
  AlertSink alert_sink_;

  std::atomic<uint64_t> queued_{0}, dropped_{0}, written_{0}, batches_{0}, busy_{0}, errors_{0},
      retention_deleted_{0}, pending_count_{0};
};

}  // namespace safegate
