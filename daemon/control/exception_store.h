// ExceptionStore: temporary exceptions and pauses kept across restarts, in
// state_dir/exceptions.json.
//
// Why a JSON file and not the incident database: the database has exactly one writer thread
// fed by a bounded queue and may be locked by another process for a long time (backups,
// sqlite3 shells); an administrator granting "one hour of YouTube" must not wait for that, and
// the control thread must not become a second SQLite writer. The table is small (tens of
// entries), written whole on every change, and readable with any text tool.
//
// save() writes the whole table atomically: a temporary file in the same directory (mode
// 0640), fsync, rename over the old file, fsync of the directory — a crash leaves either the
// old or the new table, never half of one. load() drops entries that expired while the daemon
// was down. A file that cannot be parsed, or entries that fail validation, are reported as
// `path:line:col: error: reason` diagnostics; the unreadable file is renamed aside
// (exceptions.json.corrupt-<unix seconds>) so nothing is lost and the next save() does not
// overwrite it; the valid entries are kept and the daemon starts normally.
//
// File format (version 1):
//   {"version": 1, "next_id": 4, "exceptions": [ {"id": 3, "kind": "name", "client":
//    "192.168.1.20", "name": "youtube.com", "created": 1795430000, "until": 1795433600,
//    "granted_by": "safegatectl", "note": "reward"} ]}
// Each exception has the keys of the control protocol's exceptions.list (docs/control-protocol.md).
// Thread-safety: none; the daemon calls it from the control thread under its mutex.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"
#include "policy/exception_table.h"

namespace safegate {

// One exception as the control protocol and the exceptions file show it.
nlohmann::json exceptionToJson(const policy::TemporaryException& e);
// The reverse; an error names the key that is missing or wrong. Validation of content (names,
// categories, times) is ExceptionTable's.
Result<policy::TemporaryException> exceptionFromJson(const nlohmann::json& j);

class ExceptionStore {
 public:
  explicit ExceptionStore(std::filesystem::path path) : path_(std::move(path)) {}
  const std::filesystem::path& path() const { return path_; }

  struct Loaded {
    policy::ExceptionTablePtr table;    // never null; empty when there was no file
    size_t expired_dropped = 0;         // entries whose `until` had passed
    std::filesystem::path moved_aside;  // set when a damaged file was renamed
  };
  // Reads the file (none yet = an empty table). Problems go to `diags` (errors with the file's
  // path and line:col); the result is always a usable table.
  Loaded load(int64_t now_unix_seconds, DiagnosticSink& diags) const;
  // Writes `table` atomically (see above).
  Status save(const policy::ExceptionTable& table) const;

 private:
  std::filesystem::path path_;
};

}  // namespace safegate
