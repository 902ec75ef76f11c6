// Access requests: what a child asks for from the block page — "let me open this page" or "this
// page is blocked by mistake" — waiting for an administrator (docs/access-requests.md).
//
// RequestBook is the table and its rules, pure and in memory:
//   - add(): one pending request per client, name and kind (asking twice returns the first);
//     at most `per_client_per_hour` new requests from one client in any hour, and at most
//     `max_pending` pending in all, so a child (or a page script posting in a loop) cannot bury
//     the lead's list; the child's reason is cut to kMaxReasonBytes and control characters
//     become spaces.
//   - approve()/deny(): only a pending request is decided, once; approving an access request
//     is the caller's cue to grant a temporary exception (the daemon does that first and
//     records its id here, so a request never says "approved" without an exception behind it).
//   - expire(): a request nobody decided within `pending_hours` is closed as expired; decided
//     ones are forgotten `keep_days` after they were decided (children's data is kept briefly,
//     docs/privacy.md).
//
// RequestStore keeps the book across restarts in state_dir/requests.json, written whole and
// atomically on every change like exceptions.json (why a file and not the incident database:
// see daemon/control/exception_store.h). A damaged file is reported with path and line, renamed
// aside and the daemon starts with the entries it could read.
//
// Thread-safety: none; the daemon uses both from the control thread under its mutex.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"
#include "policy/config.h"

namespace safegate {

inline constexpr size_t kMaxReasonBytes = 500;

struct AccessRequest {
  // kSuspectedIllegal: "this page may be against the law" (offered only with [hotline] on);
  // approving it forwards a URL-only report to the hotline outbox, never an exception.
  enum class Kind : uint8_t { kAccess, kWrongBlock, kSuspectedIllegal };
  enum class State : uint8_t { kPending, kApproved, kDenied, kExpired };

  uint64_t id = 0;
  Kind kind = Kind::kAccess;
  IpAddress client;
  std::string name;      // canonical host name the client was refused
  std::string category;  // what blocked it when asked ("" = unknown)
  std::string group;     // the client's group when asked
  std::string reason;    // the child's words, cleaned (may be empty)
  int64_t created_unix_seconds = 0;
  State state = State::kPending;
  int64_t decided_unix_seconds = 0;  // 0 while pending
  std::string decided_by;            // the control peer (as exceptions' granted_by)
  std::string note;                  // the administrator's note
  uint64_t exception_id = 0;         // the exception an approval granted
  uint64_t outbox_id = 0;            // the hotline report a forwarded suspected-illegal became
};

// A new request as the alert router tells the safeguarding lead (docs/alerts.md): the device
// as alerts name it (a [[clients]] name, else its pseudonym — the address only with
// pseudonymize_clients off), the name only
// for access and wrong-block requests (a page that may be illegal is not spread by e-mail; the
// lead reads it on the dashboard), and whether the child wrote a reason, never the reason.
struct RequestNotice {
  int64_t unix_ms = 0;
  uint64_t request = 0;
  AccessRequest::Kind kind = AccessRequest::Kind::kAccess;
  std::string device;
  bool device_named = false;
  std::string group;
  std::string category;
  std::string name;  // empty for kSuspectedIllegal
  bool reason_given = false;
};

// "access", "wrong-block", "suspected-illegal"
std::string_view requestKindName(AccessRequest::Kind k);
std::optional<AccessRequest::Kind> parseRequestKind(std::string_view s);
std::string_view requestStateName(AccessRequest::State s);  // "pending", ...
std::optional<AccessRequest::State> parseRequestState(std::string_view s);

nlohmann::json requestToJson(const AccessRequest& r);
// The reverse; an error names the key that is missing or wrong.
Result<AccessRequest> requestFromJson(const nlohmann::json& j);

// `text` with control characters (C0, DEL, C1, line/paragraph separators, bidi controls) as
// spaces, runs of spaces collapsed, trimmed, and cut
// to at most `max_bytes` on a UTF-8 character boundary. The input must be valid UTF-8 (a parsed
// JSON string is).
std::string cleanReason(std::string_view text, size_t max_bytes = kMaxReasonBytes);

// [requests]: per_client_per_hour, max_pending, pending_hours, keep_days.
using RequestLimits = policy::RequestSettings;

class RequestBook {
 public:
  explicit RequestBook(RequestLimits limits = {}) : limits_(limits) {}

  enum class AddOutcome : uint8_t { kAdded, kAlreadyPending, kRateLimited, kFull };
  struct Added {
    AddOutcome outcome = AddOutcome::kAdded;
    const AccessRequest* request = nullptr;  // the new or the already pending one
    int64_t retry_after_seconds = 0;         // kRateLimited: when the oldest of the hour ages out
  };
  // `r.id`, state and decision fields are set here; `r.name` must already be canonical.
  Added add(AccessRequest r, int64_t now_unix_seconds);

  // kNotFound for an unknown id, kFailedPrecondition when it is not pending.
  Result<const AccessRequest*> decide(uint64_t id, AccessRequest::State to, std::string by,
                                      std::string note, uint64_t exception_id,
                                      int64_t now_unix_seconds, uint64_t outbox_id = 0);
  const AccessRequest* find(uint64_t id) const;

  // Closes pending requests older than pending_hours and drops decided ones older than
  // keep_days. Returns whether anything changed (the caller then saves).
  bool expire(int64_t now_unix_seconds);

  const std::vector<AccessRequest>& entries() const { return entries_; }  // oldest first
  size_t pending() const;
  uint64_t nextId() const { return next_id_; }
  // For the store: the entries and id counter read from disk.
  void restore(std::vector<AccessRequest> entries, uint64_t next_id);

 private:
  RequestLimits limits_;
  std::vector<AccessRequest> entries_;
  uint64_t next_id_ = 1;
};

class RequestStore {
 public:
  explicit RequestStore(std::filesystem::path path) : path_(std::move(path)) {}
  const std::filesystem::path& path() const { return path_; }

  // Fills `book` from the file (none yet = empty). Problems go to `diags` with path and
  // line:col; a file that cannot be parsed is renamed aside (requests.json.corrupt-<unix s>).
  void load(RequestBook& book, DiagnosticSink& diags, int64_t now_unix_seconds) const;
  Status save(const RequestBook& book) const;

 private:
  std::filesystem::path path_;
};

}  // namespace safegate
