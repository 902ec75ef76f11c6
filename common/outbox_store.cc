#include "common/outbox_store.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "common/hex.h"
#include "common/random.h"

namespace safegate {
namespace {

constexpr int64_t kSchemaVersion = 1;

// The schema (docs/outbox.md). `state` is 0 pending, 1 delivered, 2 dead (OutboxState).
constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS outbox (
  id               INTEGER PRIMARY KEY,
  kind             TEXT    NOT NULL,
  destination      TEXT    NOT NULL,
  idempotency_key  TEXT    NOT NULL UNIQUE,
  payload          TEXT    NOT NULL,
  state            INTEGER NOT NULL DEFAULT 0,
  created_ms       INTEGER NOT NULL,
  next_attempt_ms  INTEGER NOT NULL,
  expires_ms       INTEGER NOT NULL,
  finished_ms      INTEGER NOT NULL DEFAULT 0,
  attempts         INTEGER NOT NULL DEFAULT 0,
  last_error       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(state, next_attempt_ms);
)sql";

constexpr std::string_view kColumns =
    "id, kind, destination, idempotency_key, payload, state, created_ms, next_attempt_ms, "
    "expires_ms, finished_ms, attempts, last_error";

}  // namespace

Result<std::string> newIdempotencyKey() {
  uint8_t bytes[16];
  if (Status s = fillRandom(bytes); !s) return s;
  return hexEncode(bytes);
}

namespace {

// Runs `body` inside BEGIN IMMEDIATE ... COMMIT (the write lock is taken at the start, so two
// processes checking the size bound cannot both pass it), rolling back on failure.
template <typename F>
auto inWriteTransaction(SqliteDb& db, F&& body) -> decltype(body()) {
  if (Status s = db.exec("BEGIN IMMEDIATE"); !s) return s;
  auto result = body();
  if (!result) {
    (void)db.exec("ROLLBACK");
    return result;
  }
  if (Status s = db.exec("COMMIT"); !s) {
    (void)db.exec("ROLLBACK");
    return s;
  }
  return result;
}

Status stepDone(SqliteStatement& s) {
  SqliteCode c = s.step();
  if (c == SqliteCode::kDone || c == SqliteCode::kRow) return Status::ok();
  return Status::io("outbox: " + s.lastError());
}

}  // namespace

std::string_view outboxStateName(OutboxState s) {
  switch (s) {
    case OutboxState::kPending: return "pending";
    case OutboxState::kDelivered: return "delivered";
    case OutboxState::kDead: return "dead";
  }
  return "pending";
}

std::optional<OutboxState> parseOutboxState(std::string_view name) {
  for (OutboxState s : {OutboxState::kPending, OutboxState::kDelivered, OutboxState::kDead}) {
    if (outboxStateName(s) == name) return s;
  }
  return std::nullopt;
}

int64_t outboxRetryDelayMs(int64_t attempts, const OutboxBackoff& backoff, uint64_t random) {
  const int64_t base = std::max<int64_t>(backoff.base_ms, 1);
  const int64_t cap = std::max(backoff.max_ms, base);
  int64_t delay = base;
  for (int64_t i = 1; i < attempts && delay < cap; ++i) delay = std::min(cap, delay * 2);
  // Full jitter over the upper half: at least half the nominal delay, so a flapping receiver
  // still sees the exponential spacing.
  const int64_t half = delay / 2;
  return half + static_cast<int64_t>(random % static_cast<uint64_t>(delay - half + 1));
}

Result<OutboxStore> OutboxStore::open(const std::string& path, const OutboxOptions& options) {
  SqliteOpenOptions o;
  o.create = true;
  o.wal = true;
  o.busy_timeout_ms = options.busy_timeout_ms;
  o.synchronous_normal = false;
  auto db = SqliteDb::open(path, o);
  if (!db) return db.status();
  // FULL: a commit is on disk before enqueue() returns, so a report safegatectl acknowledged
  // survives a power cut (sqlite.org/pragma.html#pragma_synchronous; in WAL mode NORMAL may
  // lose the last commits).
  if (Status s = db.value().exec("PRAGMA synchronous=FULL"); !s) return s;
  auto version = db.value().userVersion();
  if (!version) return version.status();
  if (version.value() > kSchemaVersion) {
    return Status(StatusCode::kFailedPrecondition,
                  path + ": outbox schema version " + std::to_string(version.value()) +
                      " is newer than this safegate understands (" +
                      std::to_string(kSchemaVersion) + ")");
  }
  if (Status s = db.value().exec(kSchema); !s) return s;
  if (version.value() < kSchemaVersion) {
    if (Status s = db.value().setUserVersion(kSchemaVersion); !s) return s;
  }
  return OutboxStore(std::move(db.value()), options);
}

Result<int64_t> OutboxStore::enqueue(const OutboxNewMessage& m, int64_t now_unix_ms) {
  auto r = enqueueAll(std::span<const OutboxNewMessage>(&m, 1), now_unix_ms);
  if (!r) return r.status();
  if (r->ids.empty()) return r->refused;
  return r->ids.front();
}

Result<OutboxStore::EnqueueResult> OutboxStore::enqueueAll(
    std::span<const OutboxNewMessage> messages, int64_t now_unix_ms) {
  std::vector<std::string> keys;
  for (const OutboxNewMessage& m : messages) {
    if (m.kind.empty() || m.destination.empty()) {
      return Status::invalid("outbox: a message needs a kind and a destination");
    }
    std::string key = m.idempotency_key;
    if (key.empty()) {
      auto k = newIdempotencyKey();
      if (!k) return k.status();
      key = std::move(k.value());
    }
    keys.push_back(std::move(key));
  }
  // One transaction (one fsync under synchronous=FULL) for the whole set.
  return inWriteTransaction(db_, [&]() -> Result<EnqueueResult> {
    EnqueueResult result;
    auto existing = db_.prepare("SELECT id FROM outbox WHERE idempotency_key = ?1");
    auto insert = db_.prepare(
        "INSERT INTO outbox (kind, destination, idempotency_key, payload, created_ms, "
        "next_attempt_ms, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    if (!existing) return existing.status();
    if (!insert) return insert.status();
    auto undelivered = db_.queryInt("SELECT count(*) FROM outbox WHERE state != 1");
    if (!undelivered) return undelivered.status();
    int64_t queued = undelivered.value().value_or(0);
    for (size_t i = 0; i < messages.size(); ++i) {
      const OutboxNewMessage& m = messages[i];
      SqliteStatement& e = existing.value();
      e.reset();
      e.bindText(1, keys[i]);
      if (e.step() == SqliteCode::kRow) {
        result.ids.push_back(e.columnInt(0));
        continue;
      }
      if (queued >= options_.max_messages) {
        result.refused = Status::exhausted("outbox full: " + std::to_string(queued) +
                                           " undelivered messages (outbox.max_messages = " +
                                           std::to_string(options_.max_messages) +
                                           "); see `safegatectl outbox` for what is stuck and why");
        result.refused_count = messages.size() - i;
        break;
      }
      SqliteStatement& s = insert.value();
      s.reset();
      s.bindText(1, m.kind);
      s.bindText(2, m.destination);
      s.bindText(3, keys[i]);
      s.bindText(4, m.payload);
      s.bindInt(5, now_unix_ms);
      s.bindInt(6, std::max(now_unix_ms, m.not_before_unix_ms));
      s.bindInt(7, now_unix_ms + options_.max_age_ms);
      if (Status st = stepDone(s); !st) return st;
      auto id = db_.queryInt("SELECT last_insert_rowid()");
      if (!id) return id.status();
      result.ids.push_back(id.value().value_or(0));
      ++queued;
    }
    return result;
  });
}

Result<OutboxMessage> OutboxStore::readRow(SqliteStatement& s) {
  OutboxMessage m;
  m.id = s.columnInt(0);
  m.kind = s.columnText(1);
  m.destination = s.columnText(2);
  m.idempotency_key = s.columnText(3);
  m.payload = s.columnText(4);
  const int64_t state = s.columnInt(5);
  if (state < 0 || state > 2) {
    return Status::io("outbox: message " + std::to_string(m.id) + " has unknown state " +
                      std::to_string(state));
  }
  m.state = static_cast<OutboxState>(state);
  m.created_unix_ms = s.columnInt(6);
  m.next_attempt_unix_ms = s.columnInt(7);
  m.expires_unix_ms = s.columnInt(8);
  m.finished_unix_ms = s.columnInt(9);
  m.attempts = s.columnInt(10);
  m.last_error = s.columnText(11);
  return m;
}

Result<std::vector<OutboxMessage>> OutboxStore::query(SqliteStatement& s) {
  std::vector<OutboxMessage> out;
  for (;;) {
    SqliteCode c = s.step();
    if (c == SqliteCode::kDone) break;
    if (c != SqliteCode::kRow) return Status::io("outbox: " + s.lastError());
    auto m = readRow(s);
    if (!m) return m.status();
    out.push_back(std::move(m.value()));
  }
  return out;
}

Result<std::vector<OutboxMessage>> OutboxStore::due(int64_t now_unix_ms, int limit) {
  auto s = db_.prepare("SELECT " + std::string(kColumns) +
                       " FROM outbox WHERE state = 0 AND next_attempt_ms <= ?1"
                       " ORDER BY next_attempt_ms, id LIMIT ?2");
  if (!s) return s.status();
  s.value().bindInt(1, now_unix_ms);
  s.value().bindInt(2, limit);
  return query(s.value());
}

Result<std::optional<int64_t>> OutboxStore::nextDueUnixMs() {
  return db_.queryInt("SELECT min(next_attempt_ms) FROM outbox WHERE state = 0");
}

Status OutboxStore::markDelivered(int64_t id, int64_t now_unix_ms) {
  return setState(id, OutboxState::kPending, OutboxState::kDelivered, {}, now_unix_ms);
}

Status OutboxStore::markDead(int64_t id, std::string_view error, int64_t now_unix_ms) {
  return setState(id, OutboxState::kPending, OutboxState::kDead, error, now_unix_ms);
}

Status OutboxStore::setState(int64_t id, OutboxState from, OutboxState to, std::string_view error,
                             int64_t now_unix_ms) {
  auto s = db_.prepare(
      "UPDATE outbox SET state = ?2, finished_ms = ?3, attempts = attempts + 1,"
      " last_error = CASE WHEN ?4 = '' THEN last_error ELSE ?4 END"
      " WHERE id = ?1 AND state = ?5");
  if (!s) return s.status();
  s.value().bindInt(1, id);
  s.value().bindInt(2, static_cast<int64_t>(to));
  s.value().bindInt(3, now_unix_ms);
  s.value().bindText(4, error);
  s.value().bindInt(5, static_cast<int64_t>(from));
  return stepDone(s.value());
}

Status OutboxStore::markFailed(int64_t id, std::string_view error, int64_t now_unix_ms,
                               int64_t next_attempt_unix_ms) {
  // One statement: past its expiry the message goes to the dead-letter state (2) instead of
  // being rescheduled, and the last error explains why it could not be delivered.
  auto s = db_.prepare(
      "UPDATE outbox SET attempts = attempts + 1, last_error = ?2,"
      " next_attempt_ms = ?4,"
      " state = CASE WHEN ?4 >= expires_ms THEN 2 ELSE 0 END,"
      " finished_ms = CASE WHEN ?4 >= expires_ms THEN ?3 ELSE 0 END"
      " WHERE id = ?1 AND state = 0");
  if (!s) return s.status();
  s.value().bindInt(1, id);
  s.value().bindText(2, error);
  s.value().bindInt(3, now_unix_ms);
  s.value().bindInt(4, next_attempt_unix_ms);
  return stepDone(s.value());
}

Result<int64_t> OutboxStore::expire(int64_t now_unix_ms) {
  auto s = db_.prepare(
      "UPDATE outbox SET state = 2, finished_ms = ?1,"
      " last_error = 'not delivered before it expired'"
      "   || CASE WHEN last_error = '' THEN '' ELSE '; last error: ' || last_error END"
      " WHERE state = 0 AND expires_ms <= ?1");
  if (!s) return s.status();
  s.value().bindInt(1, now_unix_ms);
  if (Status st = stepDone(s.value()); !st) return st;
  return db_.changes();
}

Status OutboxStore::retry(int64_t id, int64_t now_unix_ms) {
  auto found = find(id);
  if (!found) return found.status();
  if (!found.value()) return Status::notFound("outbox: no message " + std::to_string(id));
  if (found.value()->state == OutboxState::kDelivered) {
    return Status(StatusCode::kFailedPrecondition,
                  "outbox: message " + std::to_string(id) + " was already delivered");
  }
  auto s = db_.prepare(
      "UPDATE outbox SET state = 0, next_attempt_ms = ?2, expires_ms = ?3, finished_ms = 0"
      " WHERE id = ?1 AND state != 1");
  if (!s) return s.status();
  s.value().bindInt(1, id);
  s.value().bindInt(2, now_unix_ms);
  s.value().bindInt(3, now_unix_ms + options_.max_age_ms);
  return stepDone(s.value());
}

Result<int64_t> OutboxStore::purgeDelivered(int64_t now_unix_ms) {
  auto s = db_.prepare("DELETE FROM outbox WHERE state = 1 AND finished_ms <= ?1");
  if (!s) return s.status();
  s.value().bindInt(1, now_unix_ms - options_.keep_delivered_ms);
  if (Status st = stepDone(s.value()); !st) return st;
  return db_.changes();
}

Result<std::vector<OutboxMessage>> OutboxStore::list(const std::vector<OutboxState>& states,
                                                     int limit) {
  int mask = 0;
  for (OutboxState st : states) mask |= 1 << static_cast<int>(st);
  if (states.empty()) mask = 7;
  auto s = db_.prepare("SELECT " + std::string(kColumns) +
                       " FROM outbox WHERE ((1 << state) & ?1) != 0 ORDER BY id DESC LIMIT ?2");
  if (!s) return s.status();
  s.value().bindInt(1, mask);
  s.value().bindInt(2, limit);
  return query(s.value());
}

Result<std::optional<OutboxMessage>> OutboxStore::find(int64_t id) {
  auto s = db_.prepare("SELECT " + std::string(kColumns) + " FROM outbox WHERE id = ?1");
  if (!s) return s.status();
  s.value().bindInt(1, id);
  auto rows = query(s.value());
  if (!rows) return rows.status();
  if (rows.value().empty()) return std::optional<OutboxMessage>{};
  return std::optional<OutboxMessage>(std::move(rows.value().front()));
}

Result<int64_t> OutboxStore::dataVersion() {
  auto v = db_.queryInt("PRAGMA data_version");
  if (!v) return v.status();
  return v.value().value_or(0);
}

Result<OutboxStore::Counts> OutboxStore::counts() {
  auto s = db_.prepare("SELECT state, count(*) FROM outbox GROUP BY state");
  if (!s) return s.status();
  Counts c;
  for (;;) {
    SqliteCode code = s.value().step();
    if (code == SqliteCode::kDone) break;
    if (code != SqliteCode::kRow) return Status::io("outbox: " + s.value().lastError());
    const int64_t n = s.value().columnInt(1);
    switch (s.value().columnInt(0)) {
      case 0: c.pending = n; break;
      case 1: c.delivered = n; break;
      case 2: c.dead = n; break;
      default: break;
    }
  }
  return c;
}

}  // namespace safegate
