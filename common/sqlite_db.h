// SqliteDb and SqliteStatement: a thin, owning wrapper around the SQLite C API.
//
// This is the only file that includes <sqlite3.h>. It is control plane:
// every call returns Status / Result with SQLite's own message, never throws. A SqliteDb is a
// single connection and is NOT thread-safe: exactly one thread uses it (the incident writer
// owns its connection; readers such as the control socket open their own). Statements borrow
// the connection and must be destroyed before it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace safegate {

// SQLite result codes callers need to tell apart (a subset of SQLITE_*).
enum class SqliteCode : int {
  kOk = 0,
  kBusy = 5,
  kLocked = 6,
  kRow = 100,
  kDone = 101,
  kOther = -1
};

class SqliteStatement {
 public:
  SqliteStatement() = default;
  ~SqliteStatement();
  SqliteStatement(SqliteStatement&& o) noexcept;
  SqliteStatement& operator=(SqliteStatement&& o) noexcept;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  // Parameters are 1-based, like sqlite3_bind_*. Text is copied (SQLITE_TRANSIENT).
  void bindInt(int index, int64_t v);
  void bindText(int index, std::string_view v);
  void bindNull(int index);
  // kRow when a row is ready, kDone at the end, kBusy when the database is locked.
  SqliteCode step();
  // Error message for the last failing step.
  std::string lastError() const;
  // Resets for the next execution and clears bindings.
  void reset();

  int64_t columnInt(int col) const;
  std::string columnText(int col) const;
  bool columnIsNull(int col) const;
  int columnCount() const;
  std::string columnName(int col) const;

 private:
  friend class SqliteDb;
  SqliteStatement(sqlite3* db, sqlite3_stmt* s) : db_(db), stmt_(s) {}
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

struct SqliteOpenOptions {
  bool create = true;  // create the file if missing
  bool read_only = false;
  bool wal = true;                 // journal_mode=WAL (readers never block the writer)
  int busy_timeout_ms = 0;         // how long a statement waits for another process's lock
  bool synchronous_normal = true;  // WAL + NORMAL: a power cut loses at most the last commits,
                                   // never corrupts (sqlite.org/wal.html "Durability")
};

class SqliteDb {
 public:
  ~SqliteDb();
  SqliteDb(SqliteDb&& o) noexcept;
  SqliteDb& operator=(SqliteDb&& o) noexcept;
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  static Result<SqliteDb> open(const std::string& path, const SqliteOpenOptions& options);

  // Runs one or more statements without results.
  Status exec(std::string_view sql);
  // Like exec() but reports kBusy separately so a caller can retry later.
  SqliteCode execCode(std::string_view sql, std::string* error = nullptr);
  Result<SqliteStatement> prepare(std::string_view sql);

  // PRAGMA user_version: the schema version (docs/database.md).
  Result<int64_t> userVersion();
  Status setUserVersion(int64_t v);
  // The single-value result of a query (first column of the first row), if any.
  Result<std::optional<int64_t>> queryInt(std::string_view sql);
  // "ok" when PRAGMA integrity_check passes, else SQLite's report.
  Result<std::string> integrityCheck();
  int64_t changes() const;
  std::string lastError() const;
  const std::string& path() const { return path_; }

 private:
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace safegate
