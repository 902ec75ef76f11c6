#include "daemon/store/incident_query.h"

#include <algorithm>
#include <map>
#include <type_traits>
#include <utility>

#include "common/sqlite_db.h"

namespace safegate {
namespace {

constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kBaselineSeconds = 7 * 24 * 3600;

Result<SqliteDb> openReadOnly(const std::filesystem::path& path) {
  SqliteOpenOptions o;
  o.read_only = true;
  o.wal = false;
  o.synchronous_normal = false;
  o.busy_timeout_ms = 2000;
  return SqliteDb::open(path.string(), o);
}

// Hands each row of `st` to `row`, until the end or until `row` returns false.
template <typename Row>
Status eachRow(SqliteStatement& st, const std::filesystem::path& path, Row&& row) {
  for (;;) {
    const SqliteCode c = st.step();
    if (c == SqliteCode::kDone) return Status::ok();
    if (c != SqliteCode::kRow) return Status::unavailable(path.string() + ": " + st.lastError());
    if constexpr (std::is_same_v<decltype(row(st)), bool>) {
      if (!row(st)) return Status::ok();
    } else {
      row(st);
    }
  }
}

// Bound parameters in the order their placeholders were added to the SQL.
struct Params {
  std::vector<std::pair<bool, std::pair<int64_t, std::string>>> values;  // true = text
  void add(int64_t v) { values.push_back({false, {v, {}}}); }
  void add(std::string v) { values.push_back({true, {0, std::move(v)}}); }
  void bind(SqliteStatement& st) const {
    int index = 1;
    for (const auto& [text, v] : values) {
      if (text) {
        st.bindText(index++, v.second);
      } else {
        st.bindInt(index++, v.first);
      }
    }
  }
};

int64_t hourStart(int64_t unix_ms) {
  // Floor, also for a negative time (an "until" before 1970 matches nothing anyway).
  const int64_t hours = unix_ms >= 0 ? unix_ms / kHourMs : -((-unix_ms + kHourMs - 1) / kHourMs);
  return hours * 3600;
}

}  // namespace

Result<IncidentPage> queryIncidents(const std::filesystem::path& path, const IncidentFilter& f) {
  auto db = openReadOnly(path);
  if (!db) return db.status();
  // The walk: one index, named so the plan does not depend on statistics the file may lack.
  // Each keeps (ts_ms, id) order after its equality column (an index holds the rowid last).
  std::string sql =
      "SELECT id, ts_ms, client, grp, COALESCE(category,''), alert, COALESCE(name,''), "
      "COALESCE(qtype,0), verdict, COALESCE(rule,''), COALESCE(source,''), protocol, "
      "COALESCE(reason,'') FROM incidents INDEXED BY ";
  Params p;
  std::string where = " WHERE ts_ms >= ? AND ts_ms < ?";
  p.add(f.since_ms);
  p.add(f.until_ms);
  if (f.alerts_only) {
    sql += "incidents_alert_ts";
    where += " AND alert = 1";
  } else if (!f.client.empty()) {
    sql += "incidents_client_ts";
    where += " AND client = ?";
    p.add(f.client);
  } else if (!f.category.empty()) {
    sql += "incidents_category_ts";
    where += " AND category = ?";
    p.add(f.category);
  } else if (!f.group.empty()) {
    sql += "incidents_grp_ts";
    where += " AND grp = ?";
    p.add(f.group);
  } else {
    sql += "incidents_ts";
  }
  if (f.before_ms > 0) {
    where += " AND ts_ms <= ? AND NOT (ts_ms = ? AND id >= ?)";
    p.add(f.before_ms);
    p.add(f.before_ms);
    p.add(f.before_id);
  }
  const size_t limit = std::clamp<size_t>(f.limit, 1, kMaxIncidentRows);
  const size_t budget = std::max(f.scan_budget, limit);
  sql += where + " ORDER BY ts_ms DESC, id DESC LIMIT ?";
  p.add(static_cast<int64_t>(budget));
  auto st = db->prepare(sql);
  if (!st) return st.status();
  p.bind(*st);
  IncidentPage page;
  size_t scanned = 0;
  bool full = false;
  Status s = eachRow(*st, path, [&](SqliteStatement& r) {
    ++scanned;
    page.next_ms = r.columnInt(1);
    page.next_id = r.columnInt(0);
    StoredIncident i;
    i.client = r.columnText(2);
    i.group = r.columnText(3);
    i.category = r.columnText(4);
    i.alert = r.columnInt(5) != 0;
    if ((!f.client.empty() && i.client != f.client) || (!f.group.empty() && i.group != f.group) ||
        (!f.category.empty() && i.category != f.category) || (f.alerts_only && !i.alert)) {
      return true;
    }
    i.id = page.next_id;
    i.unix_ms = page.next_ms;
    i.name = r.columnText(6);
    i.qtype = r.columnInt(7);
    i.verdict = r.columnText(8);
    i.rule = r.columnText(9);
    i.source = r.columnText(10);
    i.protocol = r.columnText(11);
    i.reason = r.columnText(12);
    page.rows.push_back(std::move(i));
    full = page.rows.size() == limit;
    return !full;
  });
  if (!s) return s;
  page.more = full || scanned == budget;
  page.budget_used = !full && scanned == budget;
  if (!page.more) page.next_ms = page.next_id = 0;
  return page;
}

Result<IncidentSummary> summarizeIncidents(const std::filesystem::path& path,
                                           const SummaryFilter& f) {
  auto db = openReadOnly(path);
  if (!db) return db.status();
  IncidentSummary out;
  std::map<std::string, IncidentSummary::Group> groups;
  const auto run = [&](const std::string& sql, const Params& p, auto&& row) -> Status {
    auto st = db->prepare(sql);
    if (!st) return st.status();
    p.bind(*st);
    return eachRow(*st, path, row);
  };
  const auto hourRow = [&](SqliteStatement& r) {
    out.blocks_by_hour.push_back({r.columnInt(0), r.columnInt(1)});
  };
  const auto categoryRow = [&](SqliteStatement& r) {
    out.blocks_by_category.push_back({r.columnText(0), r.columnInt(1)});
  };
  Status s;
  if (!f.client.empty()) {
    // One device: its own rows in the window (the client index bounds the walk).
    std::string where = " FROM incidents WHERE client = ? AND ts_ms >= ? AND ts_ms < ?";
    Params p;
    p.add(f.client);
    p.add(f.since_ms);
    p.add(f.until_ms);
    if (!f.group.empty()) {
      where += " AND grp = ?";
      p.add(f.group);
    }
    s = run("SELECT (ts_ms / 3600000) * 3600, COUNT(*)" + where +
                " AND verdict = 'block' GROUP BY 1 ORDER BY 1",
            p, hourRow);
    if (s) {
      s = run("SELECT COALESCE(category,''), COUNT(*)" + where +
                  " AND verdict = 'block' GROUP BY 1 ORDER BY 2 DESC, 1",
              p, categoryRow);
    }
    if (s) {
      s = run("SELECT grp, SUM(verdict = 'block'), SUM(alert)" + where + " GROUP BY grp", p,
              [&](SqliteStatement& r) {
                auto& g = groups[r.columnText(0)];
                g.blocks = r.columnInt(1);
                g.alerts = r.columnInt(2);
              });
    }
  } else {
    // Whole hours from the counters: a window's first and last hour count whole.
    const int64_t since = hourStart(f.since_ms);
    const int64_t until = f.until_ms == std::numeric_limits<int64_t>::max()
                              ? std::numeric_limits<int64_t>::max()
                              : hourStart(f.until_ms - 1) + 3600;
    std::string where = " FROM hourly_counts WHERE verdict = 'block' AND hour >= ? AND hour < ?";
    Params p;
    p.add(since);
    p.add(until);
    Params baseline;
    baseline.add(since);
    baseline.add(since);
    baseline.add(since - kBaselineSeconds);
    baseline.add(until);
    std::string group_clause;
    if (!f.group.empty()) {
      group_clause = " AND grp = ?";
      p.add(f.group);
      baseline.add(f.group);
    }
    s = run("SELECT hour, SUM(count)" + where + group_clause + " GROUP BY hour ORDER BY hour", p,
            hourRow);
    if (s) {
      s = run("SELECT category, SUM(count)" + where + group_clause +
                  " GROUP BY category ORDER BY 2 DESC, 1",
              p, categoryRow);
    }
    if (s) {
      s =
          run("SELECT grp, SUM(CASE WHEN hour >= ? THEN count ELSE 0 END), "
              "SUM(CASE WHEN hour < ? THEN count ELSE 0 END) FROM hourly_counts "
              "WHERE verdict = 'block' AND hour >= ? AND hour < ?" +
                  group_clause + " GROUP BY grp",
              baseline, [&](SqliteStatement& r) {
                auto& g = groups[r.columnText(0)];
                g.blocks = r.columnInt(1);
                g.blocks_before = r.columnInt(2);
              });
    }
    if (s) {
      // Alerts are few: the partial index holds only them.
      Params a;
      a.add(f.since_ms);
      a.add(f.until_ms);
      if (!f.group.empty()) a.add(f.group);
      s = run("SELECT grp, COUNT(*) FROM incidents WHERE alert = 1 AND ts_ms >= ? AND ts_ms < ?" +
                  group_clause + " GROUP BY grp",
              a, [&](SqliteStatement& r) { groups[r.columnText(0)].alerts = r.columnInt(1); });
    }
  }
  if (!s) return s;
  for (auto& [name, g] : groups) {
    g.group = name;
    out.groups.push_back(std::move(g));
  }
  return out;
}

}  // namespace safegate
