// The sanity gate a downloaded list version passes before it is used: a list host
// that publishes an empty file, half a file or a file that suddenly blocks the world must not
// switch a school's filtering off or on for everything. A version that fails keeps the last
// good one in force, with the reason shown (`safegatectl lists`, the log).
//
//   checkListGate()       minimum entries, maximum shrink against the version held (default
//                         50 %), maximum share of unusable lines
//   quarantineProtected() removes block entries that would block a protected name (top sites,
//                         universities: names a school needs) and returns them, so they are
//                         reported rather than applied; the rest of the list is used
//
// Pure functions, control plane; safe from any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/result.h"
#include "filters/list_reader.h"

namespace safegate {

struct ListGateOptions {
  size_t min_entries = 1;
  unsigned max_shrink_percent = 50;   // refuse a version with fewer than (100 - this) % of the
                                      // entries of the version held
  unsigned max_skipped_percent = 10;  // refuse when more than this % of the lines are unusable
};

// ok, or kFailedPrecondition naming the gate and both numbers.
Status checkListGate(const ListGateOptions& options, const ListStats& fresh,
                     std::optional<size_t> held_entries);

// Names that must stay reachable, held as the set of every name and every parent of it
// ("www.ox.ac.uk" -> also "ox.ac.uk", "ac.uk", "uk"), so an entry is checked in one lookup.
class ProtectedNames {
 public:
  // Canonical names (filters/domain_name.h normalizeDomain); invalid ones are ignored.
  void add(std::string_view canonical_name);
  size_t size() const { return names_.size(); }
  // Whether an entry of this kind for `name` would block some protected name; `example` gets
  // the first such name.
  bool blocks(std::string_view name, DomainMatchKind kind, std::string* example = nullptr) const;

 private:
  std::unordered_set<std::string> names_;      // the protected names themselves
  std::unordered_set<std::string> ancestors_;  // every proper parent of one
};

struct QuarantinedEntry {
  uint32_t line = 0;
  std::string name;      // the entry
  std::string protects;  // a protected name it would have blocked
};

// Removes from `list` the block entries (plain names and name rules without modifiers that
// limit them) that would block a protected name; allow entries are never touched.
std::vector<QuarantinedEntry> quarantineProtected(ParsedList& list, const ProtectedNames& names);

}  // namespace safegate
