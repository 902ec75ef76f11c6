// The daily digest for the safeguarding lead (docs/alerts.md): per group, what the last day
// looked like — alerts and blocks by category, the most blocked names, and a red-amber-green
// status from configured thresholds on the number of alerting incidents.
//
// Built from the incident database through its own read-only connection (WAL: never blocks
// the incident writer). Licensed (child-abuse, terrorism) incidents are stored without a name,
// so they count by category and never appear among the top names.
// Pure functions over a database file; safe from any thread that owns its call.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace safegate {

struct DigestThresholds {
  int64_t amber_alerts = 1;  // alerting incidents in a day at which a group turns amber
  int64_t red_alerts = 5;    // ... and red
};

struct GroupDigest {
  std::string group;
  std::string status;                                        // "green", "amber", "red"
  int64_t alerts = 0;                                        // incidents with an alert-* action
  int64_t blocks = 0;                                        // blocked incidents (alerting or not)
  std::map<std::string, int64_t> by_category;                // every incident, by category
  std::vector<std::pair<std::string, int64_t>> top_blocked;  // most blocked names, at most N
};

// Incidents with from_ms <= ts < to_ms, one entry per group that had any, sorted by group.
Result<std::vector<GroupDigest>> buildDigest(const std::filesystem::path& incident_db,
                                             int64_t from_ms, int64_t to_ms,
                                             const DigestThresholds& thresholds,
                                             size_t top_names = 10);

}  // namespace safegate
