// ListStore: the last good copy of every subscribed list under state_dir/lists/, so
// start-up never waits for the network and works offline, and a failed or refused download
// never leaves the daemon without a list it had.
//
//   lists/NAME.list   the list text exactly as downloaded and accepted (after decoding)
//   lists/NAME.json   its record: source URL, version (ETag, Last-Modified, SHA-256, size),
//                     entries, last success, last attempt and its error, next refresh, and the
//                     entries quarantined by the over-blocking guard
//
// Both are replaced atomically (common/atomic_file.h); the copy is written before the record,
// and a record's copy_sha256 must match its copy, so a crash between the two is detected at load
// and the older pair is not mixed with the newer. Names are the config's list names and must
// be safe file names ([A-Za-z0-9._-], not starting with a dot).
//
// Thread-safety: one ListStore per thread of use (it holds no state but the directory).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/lists/list_fetcher.h"
#include "daemon/lists/list_gate.h"

namespace safegate {

struct ListRecord {
  std::string name;
  std::string url;
  std::optional<ListVersion> good;  // the download in force; absent until a first success
  std::string copy_sha256;          // of NAME.list as kept (the download minus quarantined lines)
  uint64_t entries = 0;             // of the good copy, after quarantine
  int64_t last_success_unix_ms = 0;
  int64_t last_attempt_unix_ms = 0;
  std::string last_error;  // of the last attempt, "" when it succeeded (or was a 304)
  int64_t next_refresh_unix_ms = 0;
  std::vector<QuarantinedEntry> quarantined;  // of the good copy
};

// A change in a subscription's health worth telling a person (docs/alerts.md "List notices"):
// produced by the refresher (daemon/lists/list_refresher.h), sent by the alert router to every
// destination with list_notices on. It carries no browsing data.
struct ListNotice {
  enum class Kind : uint8_t {
    kFailed,       // could not be downloaded (or verified); the last good copy stays
    kRefused,      // downloaded but failed the sanity gate; the last good copy stays
    kQuarantined,  // a new version is in force, minus entries that would block protected names
    kRecovered,    // current again after a failure or refusal
  };
  int64_t unix_ms = 0;
  Kind kind = Kind::kFailed;
  std::string list;
  std::string error;           // why (kFailed, kRefused)
  bool has_good_copy = false;  // a version is in force (else the list adds no entries)
  uint64_t entries = 0;        // of the version in force
  int64_t last_success_unix_ms = 0;
  std::vector<QuarantinedEntry> quarantined;  // kQuarantined
};
std::string_view listNoticeKindName(ListNotice::Kind k);

class ListStore {
 public:
  explicit ListStore(std::filesystem::path dir) : dir_(std::move(dir)) {}

  static bool validName(std::string_view name);
  std::filesystem::path copyPath(const std::string& name) const { return dir_ / (name + ".list"); }

  // The record of `name`, or nullopt when there is none yet. A record whose copy is missing or
  // does not match its sha256 loses its `good` version (the copy cannot be trusted) and says
  // so in last_error.
  Result<std::optional<ListRecord>> load(const std::string& name) const;
  // A new good copy: the text first, then the record.
  Status saveGood(const ListRecord& record, std::string_view text) const;
  // An attempt that changed nothing in force (error, refusal, 304): the record only.
  Status saveRecord(const ListRecord& record) const;

 private:
  std::filesystem::path recordPath(const std::string& name) const {
    return dir_ / (name + ".json");
  }
  Status ensureDir() const;

  std::filesystem::path dir_;
};

}  // namespace safegate
