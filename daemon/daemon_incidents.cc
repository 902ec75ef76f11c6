// The control commands that read the incident database (docs/control-protocol.md):
//
//   incidents          group?, client?, category?, alerts?, since_ms?, until_ms?,
//                      before_ms? + before_id? (continue after the last row shown), limit?
//   incidents.summary  group?, client?, since_ms? (default: 24 hours ago), until_ms?
//
// Both are read-only (any reader of the socket). The writer is asked to flush first, so an
// incident recorded a moment ago is in the answer. What a row holds was decided when it was
// written: pseudonymised devices, no name, rule or source for licensed categories.
#include <algorithm>

#include "common/clock.h"
#include "daemon/control/control_protocol.h"
#include "daemon/daemon.h"
#include "daemon/store/incident_query.h"

namespace safegate {

namespace {

// The window's bounds; an error names the argument that is not a time.
Status readWindow(const nlohmann::json& a, int64_t default_since_ms, int64_t& since,
                  int64_t& until) {
  for (const char* key : {"since_ms", "until_ms", "before_ms", "before_id", "limit"}) {
    if (a.contains(key) && !a[key].is_number_integer()) {
      return Status::invalid(std::string("\"") + key + "\" must be an integer");
    }
  }
  since = argInt(a, "since_ms", default_since_ms);
  until = argInt(a, "until_ms", std::numeric_limits<int64_t>::max());
  if (until <= since) return Status::invalid("\"until_ms\" must be after \"since_ms\"");
  return Status::ok();
}

}  // namespace

std::string Daemon::handleIncidents(const ControlRequest& req) {
  const nlohmann::json& a = req.args;
  incidents_->flushSoon();
  if (req.command == "incidents") {
    IncidentFilter f;
    if (Status s = readWindow(a, 0, f.since_ms, f.until_ms); !s) {
      return controlError(req.id, s.message());
    }
    f.group = argText(a, "group");
    f.client = argText(a, "client");
    f.category = argText(a, "category");
    f.alerts_only = a.contains("alerts") && a["alerts"].is_boolean() && a["alerts"].get<bool>();
    f.before_ms = argInt(a, "before_ms", 0);
    f.before_id = argInt(a, "before_id", std::numeric_limits<int64_t>::max());
    const int64_t limit = argInt(a, "limit", 50);
    if (limit < 1) return controlError(req.id, "\"limit\" must be at least 1");
    f.limit = std::min<size_t>(static_cast<size_t>(limit), kMaxIncidentRows);
    // A page looks at up to 20,000 rows; an export of thousands may look further.
    f.scan_budget = std::max<size_t>(20000, f.limit * 4);
    auto page = queryIncidents(settings_.database.path, f);
    if (!page) return controlError(req.id, page.status().message());
    nlohmann::json out = nlohmann::json::array();
    for (const StoredIncident& r : page->rows) {
      out.push_back({{"id", r.id},
                     {"time_ms", r.unix_ms},
                     {"client", r.client},
                     {"group", r.group},
                     {"name", r.name},
                     {"qtype", r.qtype},
                     {"category", r.category},
                     {"verdict", r.verdict},
                     {"alert", r.alert},
                     {"rule", r.rule},
                     {"source", r.source},
                     {"protocol", r.protocol},
                     {"reason", r.reason}});
    }
    // There may be more: the cursor that continues after the last row looked at, and whether
    // the search stopped at its budget rather than at a full page.
    nlohmann::json result = {{"incidents", out}};
    if (page->more) {
      result["next"] = {{"before_ms", page->next_ms}, {"before_id", page->next_id}};
      if (page->budget_used) result["next"]["searched_back_to_ms"] = page->next_ms;
    }
    return controlOk(req.id, std::move(result));
  }
  SummaryFilter f;
  const int64_t day_ago = SystemClock::instance().unixMs() - 24 * 3'600'000;
  if (Status s = readWindow(a, day_ago, f.since_ms, f.until_ms); !s) {
    return controlError(req.id, s.message());
  }
  f.group = argText(a, "group");
  f.client = argText(a, "client");
  auto summary = summarizeIncidents(settings_.database.path, f);
  if (!summary) return controlError(req.id, summary.status().message());
  nlohmann::json hours = nlohmann::json::array();
  for (const auto& h : summary->blocks_by_hour) {
    hours.push_back({{"hour", h.hour}, {"count", h.count}});
  }
  nlohmann::json categories = nlohmann::json::array();
  for (const auto& c : summary->blocks_by_category) {
    categories.push_back({{"category", c.key}, {"count", c.count}});
  }
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& g : summary->groups) {
    groups.push_back({{"group", g.group},
                      {"blocks", g.blocks},
                      {"blocks_before", g.blocks_before},
                      {"alerts", g.alerts}});
  }
  return controlOk(req.id, {{"since_ms", f.since_ms},
                            {"blocks_by_hour", hours},
                            {"blocks_by_category", categories},
                            {"groups", groups}});
}

}  // namespace safegate
