// Temporary exceptions ("one hour of YouTube as a reward", "pause filtering for the staff
// room until 16:00"): runtime state granted through the control socket, not config.
//
// An ExceptionTable is an immutable value. The daemon keeps the current one in a
// SnapshotHolder<ExceptionTable> (common/snapshot_holder.h), builds a new table on every
// add/remove (withAdded()/withRemoved(), control plane) and passes the current table to
// PolicySnapshot::decide(). decide() ignores entries whose `until_unix_seconds` is not after
// RequestFacts::unix_time_seconds, so exceptions expire by themselves at the request's time
// with no timer; withoutExpired() drops them from the table (housekeeping, e.g. once a minute).
//
// Illegal-content categories (child-abuse, terrorism) are never affected by any exception.
//
// Thread-safety: immutable after construction; share freely via ExceptionTablePtr.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"

namespace safegate::policy {

struct TemporaryException {
  enum class Kind : uint8_t {
    kPause,     // no filtering at all (illegal lists and bypass defaults still apply)
    kName,      // allow `name` and its subdomains
    kCategory,  // allow the content category `category`
  };
  enum class Scope : uint8_t { kClient, kGroup };

  uint64_t id = 0;  // assigned by withAdded()
  Kind kind = Kind::kName;
  Scope scope = Scope::kClient;
  IpAddress client;      // for kClient
  std::string group;     // for kGroup
  std::string name;      // canonical, for kName
  std::string category;  // for kCategory
  int64_t created_unix_seconds = 0;
  int64_t until_unix_seconds = 0;  // exclusive
  std::string granted_by;          // who granted it (recorded with every decision it causes)
  std::string note;                // free text ("reward: homework done")
};
std::string_view exceptionKindName(TemporaryException::Kind k);  // "pause", "name", "category"

class ExceptionTable;
using ExceptionTablePtr = std::shared_ptr<const ExceptionTable>;

class ExceptionTable {
 public:
  ExceptionTable() = default;
  explicit ExceptionTable(std::vector<TemporaryException> entries, uint64_t next_id = 1);

  // Validates (name canonical, category a content category, until after created) and returns
  // a new table with the entry added and given the next id.
  Result<ExceptionTablePtr> withAdded(TemporaryException e) const;
  // A new table without entry `id`; NotFound if there is none.
  Result<ExceptionTablePtr> withRemoved(uint64_t id) const;
  // A new table without the entries expired at `now_unix_seconds`.
  ExceptionTablePtr withoutExpired(int64_t now_unix_seconds) const;

  const std::vector<TemporaryException>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }
  uint64_t nextId() const { return next_id_; }

 private:
  std::vector<TemporaryException> entries_;
  uint64_t next_id_ = 1;
};

}  // namespace safegate::policy
