#include "daemon/reports/alert_digest.h"

#include <algorithm>

#include "common/sqlite_db.h"

namespace safegate {

Result<std::vector<GroupDigest>> buildDigest(const std::filesystem::path& incident_db,
                                             int64_t from_ms, int64_t to_ms,
                                             const DigestThresholds& thresholds, size_t top_names) {
  SqliteOpenOptions o;
  o.create = false;
  o.read_only = true;
  o.busy_timeout_ms = 2000;
  auto db = SqliteDb::open(incident_db.string(), o);
  if (!db) return db.status();
  std::map<std::string, GroupDigest> groups;

  auto counts = db->prepare(
      "SELECT grp, coalesce(category, ''), verdict, alert, count(*) FROM incidents"
      " WHERE ts_ms >= ?1 AND ts_ms < ?2 GROUP BY grp, category, verdict, alert");
  if (!counts) return counts.status();
  counts->bindInt(1, from_ms);
  counts->bindInt(2, to_ms);
  for (SqliteCode c; (c = counts->step()) != SqliteCode::kDone;) {
    if (c != SqliteCode::kRow) return Status::io("digest: " + counts->lastError());
    GroupDigest& g = groups[counts->columnText(0)];
    const int64_t n = counts->columnInt(4);
    g.by_category[counts->columnText(1)] += n;
    if (counts->columnText(2) == "block") g.blocks += n;
    if (counts->columnInt(3) != 0) g.alerts += n;
  }

  // Names are NULL for licensed categories, so they never rank here.
  auto top = db->prepare(
      "SELECT grp, name, count(*) AS n FROM incidents"
      " WHERE ts_ms >= ?1 AND ts_ms < ?2 AND verdict = 'block' AND name IS NOT NULL"
      " GROUP BY grp, name ORDER BY grp, n DESC, name");
  if (!top) return top.status();
  top->bindInt(1, from_ms);
  top->bindInt(2, to_ms);
  for (SqliteCode c; (c = top->step()) != SqliteCode::kDone;) {
    if (c != SqliteCode::kRow) return Status::io("digest: " + top->lastError());
    GroupDigest& g = groups[top->columnText(0)];
    if (g.top_blocked.size() < top_names) {
      g.top_blocked.emplace_back(top->columnText(1), top->columnInt(2));
    }
  }

  std::vector<GroupDigest> out;
  for (auto& [name, g] : groups) {
    g.group = name;
    g.status = g.alerts >= thresholds.red_alerts     ? "red"
               : g.alerts >= thresholds.amber_alerts ? "amber"
                                                     : "green";
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace safegate
