#include "common/sqlite_db.h"

#include <sqlite3.h>

#include <utility>

namespace safegate {

namespace {
SqliteCode toCode(int rc) {
  switch (rc & 0xff) {  // extended codes: the primary code is the low byte
    case SQLITE_OK: return SqliteCode::kOk;
    case SQLITE_BUSY: return SqliteCode::kBusy;
    case SQLITE_LOCKED: return SqliteCode::kLocked;
    case SQLITE_ROW: return SqliteCode::kRow;
    case SQLITE_DONE: return SqliteCode::kDone;
    default: return SqliteCode::kOther;
  }
}
}  // namespace

SqliteStatement::~SqliteStatement() {
  if (stmt_) sqlite3_finalize(stmt_);
}
SqliteStatement::SqliteStatement(SqliteStatement&& o) noexcept
    : db_(std::exchange(o.db_, nullptr)), stmt_(std::exchange(o.stmt_, nullptr)) {}
SqliteStatement& SqliteStatement::operator=(SqliteStatement&& o) noexcept {
  if (this != &o) {
    if (stmt_) sqlite3_finalize(stmt_);
    db_ = std::exchange(o.db_, nullptr);
    stmt_ = std::exchange(o.stmt_, nullptr);
  }
  return *this;
}
void SqliteStatement::bindInt(int index, int64_t v) { sqlite3_bind_int64(stmt_, index, v); }
void SqliteStatement::bindText(int index, std::string_view v) {
  // An empty string_view may have a null data(); SQLite would bind that as NULL, not ''.
  sqlite3_bind_text(stmt_, index, v.data() ? v.data() : "", static_cast<int>(v.size()),
                    SQLITE_TRANSIENT);
}
void SqliteStatement::bindNull(int index) { sqlite3_bind_null(stmt_, index); }
SqliteCode SqliteStatement::step() { return toCode(sqlite3_step(stmt_)); }
std::string SqliteStatement::lastError() const { return db_ ? sqlite3_errmsg(db_) : "no database"; }
void SqliteStatement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}
int64_t SqliteStatement::columnInt(int col) const { return sqlite3_column_int64(stmt_, col); }
std::string SqliteStatement::columnText(int col) const {
  const unsigned char* t = sqlite3_column_text(stmt_, col);
  if (!t) return {};
  return std::string(reinterpret_cast<const char*>(t),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}
bool SqliteStatement::columnIsNull(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}
int SqliteStatement::columnCount() const { return sqlite3_column_count(stmt_); }
std::string SqliteStatement::columnName(int col) const {
  const char* n = sqlite3_column_name(stmt_, col);
  return n ? n : "";
}

SqliteDb::~SqliteDb() {
  if (db_) sqlite3_close_v2(db_);
}
SqliteDb::SqliteDb(SqliteDb&& o) noexcept
    : db_(std::exchange(o.db_, nullptr)), path_(std::move(o.path_)) {}
SqliteDb& SqliteDb::operator=(SqliteDb&& o) noexcept {
  if (this != &o) {
    if (db_) sqlite3_close_v2(db_);
    db_ = std::exchange(o.db_, nullptr);
    path_ = std::move(o.path_);
  }
  return *this;
}

Result<SqliteDb> SqliteDb::open(const std::string& path, const SqliteOpenOptions& options) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_NOMUTEX;  // one connection per thread, see header
  if (options.read_only) {
    flags |= SQLITE_OPEN_READONLY;
  } else {
    flags |= SQLITE_OPEN_READWRITE;
    if (options.create) flags |= SQLITE_OPEN_CREATE;
  }
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    if (raw) sqlite3_close_v2(raw);
    return Status::io("open " + path + ": " + msg);
  }
  SqliteDb db(raw, path);
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);
  if (!options.read_only) {
    if (options.wal) {
      // journal_mode needs a write lock the first time; a locked database is reported as such.
      Status s = db.exec("PRAGMA journal_mode=WAL");
      if (!s) return s;
    }
    if (options.synchronous_normal) {
      Status s = db.exec("PRAGMA synchronous=NORMAL");
      if (!s) return s;
    }
  }
  return db;
}

SqliteCode SqliteDb::execCode(std::string_view sql, std::string* error) {
  std::string copy(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, copy.c_str(), nullptr, nullptr, &err);
  if (err) {
    if (error) *error = err;
    sqlite3_free(err);
  }
  return toCode(rc);
}

Status SqliteDb::exec(std::string_view sql) {
  std::string err;
  SqliteCode c = execCode(sql, &err);
  if (c == SqliteCode::kOk) return Status::ok();
  if (c == SqliteCode::kBusy || c == SqliteCode::kLocked) {
    return Status::unavailable(path_ + ": database is locked: " + err);
  }
  return Status::io(path_ + ": " + err + " (in: " + std::string(sql.substr(0, 80)) + ")");
}

Result<SqliteStatement> SqliteDb::prepare(std::string_view sql) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &s, nullptr);
  if (rc != SQLITE_OK) {
    return Status::io(path_ + ": prepare failed: " + sqlite3_errmsg(db_) +
                      " (in: " + std::string(sql.substr(0, 80)) + ")");
  }
  return SqliteStatement(db_, s);
}

Result<std::optional<int64_t>> SqliteDb::queryInt(std::string_view sql) {
  auto st = prepare(sql);
  if (!st) return st.status();
  SqliteCode c = st->step();
  if (c == SqliteCode::kRow) {
    if (st->columnIsNull(0)) return std::optional<int64_t>();
    return std::optional<int64_t>(st->columnInt(0));
  }
  if (c == SqliteCode::kDone) return std::optional<int64_t>();
  if (c == SqliteCode::kBusy || c == SqliteCode::kLocked) {
    return Status::unavailable(path_ + ": database is locked");
  }
  return Status::io(path_ + ": " + st->lastError());
}

Result<int64_t> SqliteDb::userVersion() {
  auto v = queryInt("PRAGMA user_version");
  if (!v) return v.status();
  return v->value_or(0);
}

Status SqliteDb::setUserVersion(int64_t v) {
  return exec("PRAGMA user_version=" + std::to_string(v));
}

Result<std::string> SqliteDb::integrityCheck() {
  auto st = prepare("PRAGMA integrity_check");
  if (!st) return st.status();
  std::string out;
  while (st->step() == SqliteCode::kRow) {
    if (!out.empty()) out += "\n";
    out += st->columnText(0);
  }
  return out;
}

int64_t SqliteDb::changes() const { return sqlite3_changes64(db_); }
std::string SqliteDb::lastError() const { return sqlite3_errmsg(db_); }

}  // namespace safegate
