// Reading the incident database for the control socket (`incidents`, `incidents.summary`;
// docs/control-protocol.md) and so for `safegatectl incidents` and the dashboard.
//
// Each call opens its own read-only connection (WAL: it never blocks the writer thread, and
// the writer never blocks it). Every query is bounded: a filtered list walks one index
// (schema version 2 adds one per filter: client, group, category, and the alerts) and stops
// at `limit` matches or after `scan_budget` rows, whichever comes first; summaries read the
// hourly counters, or one device's rows within the window.
// docs/database.md has the indexes and the plans; bench/dashboard.sh measures them on 1M rows.
// Thread-safety: free functions, no shared state.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "common/result.h"

namespace safegate {

// A stored incident as read back.
struct StoredIncident {
  int64_t id = 0;
  int64_t unix_ms = 0;
  std::string client;
  std::string group;
  std::string name;  // empty for confidential categories
  int64_t qtype = 0;
  std::string category;
  std::string verdict;
  bool alert = false;
  std::string rule;
  std::string source;
  std::string protocol;
  std::string reason;
};

// Which incidents, newest first. Empty strings match everything. The cursor (before_ms,
// before_id) continues a list: only rows older than the last one looked at (0 = from the
// newest).
struct IncidentFilter {
  std::string group{};  // {}: designated initializers may leave it out without a warning
  std::string client{};
  std::string category{};
  bool alerts_only = false;
  int64_t since_ms = 0;
  int64_t until_ms = std::numeric_limits<int64_t>::max();
  int64_t before_ms = 0;
  int64_t before_id = 0;
  size_t limit = 50;
  // At most this many rows are looked at for one answer: a filter that matches few of the
  // rows its index walk meets (group AND category that rarely meet) stops here with a cursor
  // instead of reading the whole table.
  size_t scan_budget = 20000;
};

inline constexpr size_t kMaxIncidentRows = 10000;

struct IncidentPage {
  std::vector<StoredIncident> rows;
  // There may be more: continue from (next_ms, next_id). Set when the page is full, or when
  // the scan budget ran out first (`budget_used`; next_ms is how far back it looked).
  bool more = false;
  bool budget_used = false;
  int64_t next_ms = 0;
  int64_t next_id = 0;
};

// One index walk, newest first: the alerts' partial index when only alerts are asked for,
// else the device's, the category's or the group's index (in that order: the most selective
// first), else the time index; the other filters are checked on each row the walk meets.
Result<IncidentPage> queryIncidents(const std::filesystem::path& db, const IncidentFilter& filter);

// Counts for charts (blocks by hour and by category) and for each group's state.
struct IncidentSummary {
  struct Count {
    std::string key;  // category, or group
    int64_t count = 0;
  };
  struct Hour {
    int64_t hour = 0;  // unix seconds of the hour's start
    int64_t count = 0;
  };
  struct Group {
    std::string group;
    int64_t blocks = 0;         // in [since, until)
    int64_t blocks_before = 0;  // in the 7 days before `since`, for a baseline
    int64_t alerts = 0;         // incidents flagged for the safeguarding lead, in the window
  };
  std::vector<Hour> blocks_by_hour;       // hours with blocks, oldest first
  std::vector<Count> blocks_by_category;  // most first
  std::vector<Group> groups;              // every group with incidents in the 8 days
};

// Blocks in [since_ms, until_ms): from the hourly counters (whole hours), optionally for one
// group; or, with `client` set, from that device's incidents.
struct SummaryFilter {
  std::string group{};
  std::string client{};
  int64_t since_ms = 0;
  int64_t until_ms = std::numeric_limits<int64_t>::max();
};
Result<IncidentSummary> summarizeIncidents(const std::filesystem::path& db,
                                           const SummaryFilter& filter);

}  // namespace safegate
