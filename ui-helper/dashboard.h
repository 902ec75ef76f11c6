// The dashboard's state and pages (docs/dashboard.md): sessions, the sign-in throttle, the
// audit log, and the HTML of each page. The HTTP wiring is in safegate_ui_main.cc.
//
// Sessions: a random 256-bit id in a cookie (`sg_session`, HttpOnly, SameSite=Strict, Secure
// over HTTPS), kept in memory only — a restart signs everyone out. Each session has its own
// random CSRF token that every form carries; a post without it is refused. A session ends
// after `idle` without a request and 12 hours after sign-in, whichever comes first.
// Sign-in throttle: 5 failures for one account name, or 20 from one address, within 15 minutes
// lock further attempts for 15 minutes (the answer says how long; the lock and each failure
// are audited). A correct password does not unlock a locked name.
// Audit log: one JSON object per line — `time` (ISO-8601 UTC), `user`, `address`, `action`
// (`login`, `login_failed`, `login_locked`, `logout`, `view_requests`, `view_incidents`,
// `approve`, `deny`, `view_audit`), `detail` — appended with O_APPEND, mode 0640.
// Thread-safety: SessionStore, LoginThrottle and AuditLog lock internally (the HTTP server
// runs handlers on a thread pool); the render functions are pure.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "ui-helper/accounts.h"

namespace safegate::ui {

struct Session {
  std::string id;    // 64 hex
  std::string csrf;  // 64 hex
  std::string user;
  Role role = Role::kViewer;
  std::string hash;  // the account's password hash at sign-in: a new password ends the session
  int64_t created_unix = 0;
  int64_t last_seen_unix = 0;
};

class SessionStore {
 public:
  explicit SessionStore(int64_t idle_seconds, int64_t max_seconds = 12 * 3600)
      : idle_(idle_seconds), max_(max_seconds) {}
  Session create(const std::string& user, Role role, const std::string& hash, int64_t now);
  // The live session with this id (its last use set to now), or nullopt.
  std::optional<Session> find(const std::string& id, int64_t now);
  void remove(const std::string& id);
  size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Session> sessions_;
  int64_t idle_, max_;
};

class LoginThrottle {
 public:
  static constexpr int kMaxPerName = 5;
  static constexpr int kMaxPerAddress = 20;
  static constexpr int64_t kWindowSeconds = 15 * 60;
  static constexpr int64_t kLockSeconds = 15 * 60;
  static constexpr size_t kMaxRecords = 10000;  // per map; see failed()

  // Seconds until `name` from `address` may try again; 0 = now.
  int64_t lockedFor(const std::string& name, const std::string& address, int64_t now);
  // Records a failure; true when it locked the name or address.
  bool failed(const std::string& name, const std::string& address, int64_t now);
  // Forgets the name's failures (a successful sign-in), unless a lock is in force.
  void succeeded(const std::string& name, int64_t now);

 private:
  struct Record {
    std::vector<int64_t> failures;
    int64_t locked_until = 0;
  };
  static bool add(Record& r, int limit, int64_t now);
  std::mutex mutex_;
  std::map<std::string, Record> names_, addresses_;
};

class AuditLog {
 public:
  explicit AuditLog(std::filesystem::path path) : path_(std::move(path)) {}
  const std::filesystem::path& path() const { return path_; }
  Status append(const std::string& user, const std::string& address, const std::string& action,
                const std::string& detail, int64_t now);
  // The newest `limit` entries, newest first.
  std::vector<nlohmann::json> recent(size_t limit) const;

 private:
  mutable std::mutex mutex_;
  std::filesystem::path path_;
};

// A random 256-bit value as 64 hex digits.
std::string randomToken();

}  // namespace safegate::ui
