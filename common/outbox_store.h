// OutboxStore: the durable queue behind every message safegate sends out of the machine —
// hotline reports, alerts to the safeguarding lead, digests (docs/outbox.md).
//
// One SQLite file of its own (not the incident database: the incident writer batches with
// synchronous=NORMAL, while an acknowledged report must survive a power cut, so the outbox runs
// synchronous=FULL). Several processes write it: safegated (alerts, and the delivery thread that
// marks results) and safegatectl (`report`, `outbox retry`), so it is opened in WAL mode with a
// busy timeout and every change is one short transaction.
//
// Delivery is at-least-once: a message is marked delivered only after the receiver acknowledged
// it, so a crash between the two sends it again — with the same idempotency key (sent as the
// `Idempotency-Key` header), by which the receiver drops the copy. Nothing is dropped silently:
// a message that cannot be delivered before its expiry moves to the dead-letter state, where
// `safegatectl outbox` shows it and `outbox retry` revives it. The queue is bounded
// (max_messages undelivered, dead ones included); enqueue past that fails with a clear error
// instead of growing the file on a small router without limit.
//
// Thread-safety: an OutboxStore is one connection and is NOT thread-safe; each thread (and each
// process) opens its own. Control plane only: never call it from a DNS or packet worker.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/sqlite_db.h"

namespace safegate {

enum class OutboxState : uint8_t { kPending, kDelivered, kDead };

std::string_view outboxStateName(OutboxState s);  // "pending", "delivered", "dead"
std::optional<OutboxState> parseOutboxState(std::string_view name);

// What a producer hands over.
struct OutboxNewMessage {
  std::string kind;         // what it is: "hotline-report", "alert", "digest", ...
  std::string destination;  // which configured destination delivers it: "hotline", "lead-mail"
  // Unique per message; the same key enqueued twice is one message (the second enqueue returns
  // the first one's id). Empty: the store makes a random 128-bit key.
  std::string idempotency_key;
  std::string payload;  // the body as it will be sent (JSON for webhooks and the hotline)
  // 0: deliverable at once. Otherwise the earliest time (Unix ms), e.g. the end of a batching
  // window.
  int64_t not_before_unix_ms = 0;
};

struct OutboxMessage {
  int64_t id = 0;
  std::string kind;
  std::string destination;
  std::string idempotency_key;
  std::string payload;
  OutboxState state = OutboxState::kPending;
  int64_t created_unix_ms = 0;
  int64_t next_attempt_unix_ms = 0;
  int64_t expires_unix_ms = 0;   // a pending message still undelivered then becomes dead
  int64_t finished_unix_ms = 0;  // when it was delivered or declared dead; 0 while pending
  int64_t attempts = 0;
  std::string last_error;  // "" until an attempt failed
};

struct OutboxOptions {
  // Undelivered messages (pending + dead) the store accepts; enqueue past it fails.
  int64_t max_messages = 10000;
  // How long the delivery thread keeps trying before a message is dead-lettered.
  int64_t max_age_ms = int64_t{7} * 24 * 3600 * 1000;
  // Delivered messages are kept this long (for `safegatectl outbox` and audits), then purged.
  int64_t keep_delivered_ms = int64_t{7} * 24 * 3600 * 1000;
  int busy_timeout_ms = 5000;  // another process holding the write lock
};

// A fresh idempotency key: 128 random bits (getrandom) as 32 lower-case hex digits.
Result<std::string> newIdempotencyKey();

// Backoff between attempts: exponential from base_ms, capped at max_ms, with "full jitter"
// (a uniformly random delay in [delay/2, delay]) so many gateways that lost the same hotline do
// not retry in lock-step. A server's Retry-After (429, 503) replaces it when it is longer.
struct OutboxBackoff {
  int64_t base_ms = 30'000;
  int64_t max_ms = int64_t{6} * 3600 * 1000;
};
// `attempts` failed attempts so far (>= 1); `random` any 64-bit random number.
int64_t outboxRetryDelayMs(int64_t attempts, const OutboxBackoff& backoff, uint64_t random);

class OutboxStore {
 public:
  // Opens (creating if needed) the outbox at `path`, schema version checked (docs/outbox.md).
  static Result<OutboxStore> open(const std::string& path, const OutboxOptions& options);

  // Queues a message; returns its id. kResourceExhausted when max_messages undelivered messages
  // are already queued (the message is not stored: the caller reports the error).
  Result<int64_t> enqueue(const OutboxNewMessage& m, int64_t now_unix_ms);

  // Queues several messages in one transaction (one fsync). Stores in order as many as fit:
  // `ids` of those stored (or already present by key), `refused` why the remaining
  // `refused_count` were not.
  struct EnqueueResult {
    std::vector<int64_t> ids;
    Status refused;
    size_t refused_count = 0;
  };
  Result<EnqueueResult> enqueueAll(std::span<const OutboxNewMessage> messages, int64_t now_unix_ms);

  // Pending messages whose next attempt is due at `now`, oldest first, at most `limit`.
  Result<std::vector<OutboxMessage>> due(int64_t now_unix_ms, int limit);
  // When the next pending message becomes due (nullopt: nothing pending).
  Result<std::optional<int64_t>> nextDueUnixMs();

  // The receiver acknowledged the message.
  Status markDelivered(int64_t id, int64_t now_unix_ms);
  // An attempt failed; the next one is at `next_attempt_unix_ms`. A message past its expiry
  // goes to the dead-letter state instead, keeping `error` as the reason.
  Status markFailed(int64_t id, std::string_view error, int64_t now_unix_ms,
                    int64_t next_attempt_unix_ms);
  // The message can never be delivered as it is (the destination is gone from the config, the
  // receiver rejected it permanently): straight to the dead-letter state.
  Status markDead(int64_t id, std::string_view error, int64_t now_unix_ms);
  // Moves every pending message past its expiry to the dead-letter state; returns how many.
  Result<int64_t> expire(int64_t now_unix_ms);
  // A dead (or pending) message is tried again now, with a fresh max_age.
  // kNotFound for an unknown id, kFailedPrecondition for a delivered one.
  Status retry(int64_t id, int64_t now_unix_ms);
  // Deletes delivered messages older than keep_delivered_ms; returns how many.
  Result<int64_t> purgeDelivered(int64_t now_unix_ms);

  // Messages in the given states (all when empty), newest first, at most `limit`.
  Result<std::vector<OutboxMessage>> list(const std::vector<OutboxState>& states, int limit);
  Result<std::optional<OutboxMessage>> find(int64_t id);

  struct Counts {
    int64_t pending = 0;
    int64_t delivered = 0;
    int64_t dead = 0;
  };
  Result<Counts> counts();

  // SQLite's data_version: changes when another connection (safegatectl) committed, so the
  // delivery thread notices new messages with one cheap query instead of a full scan.
  Result<int64_t> dataVersion();

  const OutboxOptions& options() const { return options_; }

 private:
  OutboxStore(SqliteDb db, OutboxOptions options) : db_(std::move(db)), options_(options) {}
  Result<OutboxMessage> readRow(SqliteStatement& s);
  Result<std::vector<OutboxMessage>> query(SqliteStatement& s);
  Status setState(int64_t id, OutboxState from, OutboxState to, std::string_view error,
                  int64_t now_unix_ms);

  SqliteDb db_;
  OutboxOptions options_;
};

}  // namespace safegate
