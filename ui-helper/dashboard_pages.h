// The dashboard's pages (docs/dashboard.md) as HTML, and the pure pieces behind them: the
// incident search form and its control request, each group's red/amber/green state, the
// server-rendered SVG charts, and the CSV export. No I/O: the server (dashboard_server.cc)
// asks safegated and passes its answers in; a missing answer is an empty JSON value and the
// page says the filter cannot be asked. Every value from the daemon or the request is escaped.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"
#include "ui-helper/dashboard.h"

namespace safegate::ui {

// A group's state on the overview, over the last 24 hours:
//   red   — an incident flagged for the safeguarding lead (an alert category);
//   amber — a request waiting for a decision, or more blocks than twice the day's average
//           of the 7 days before (and at least kAmberMinimumBlocks);
//   green — otherwise.
enum class GroupState { kGreen, kAmber, kRed };
inline constexpr int64_t kAmberMinimumBlocks = 10;
GroupState groupState(int64_t blocks, int64_t blocks_week_before, int64_t alerts,
                      size_t pending_requests);
std::string_view groupStateName(GroupState s);  // "green", "amber", "red"

// The incident search as the form sends it (GET /incidents?...). Dates are YYYY-MM-DD (UTC
// days, the `until` day included).
struct IncidentSearch {
  std::string group{};
  std::string client{};
  std::string category{};
  std::string since{};
  std::string until{};
  bool alerts = false;
  int64_t before_ms = 0;  // the cursor of "Older"
  int64_t before_id = 0;
};
// The `incidents` control request for a search; an error names the field that is wrong.
Result<nlohmann::json> incidentRequest(const IncidentSearch& search, size_t limit);
// The search as a URL query ("group=kids&since=2026-12-01"), percent-encoded, without the
// cursor; "" for no filter.
std::string searchQuery(const IncidentSearch& search);
// "YYYY-MM-DD" to the Unix time of that day's 00:00 UTC.
Result<int64_t> parseDay(const std::string& text);

// What the overview shows; each field is safegated's answer, or empty when it did not answer.
struct OverviewData {
  nlohmann::json status;     // "status"
  nlohmann::json stats;      // "stats"
  nlohmann::json summary;    // "incidents.summary" over the last 24 hours
  nlohmann::json lists;      // "lists"
  nlohmann::json incidents;  // "incidents" (the newest; empty for a viewer)
  std::map<std::string, size_t> pending_by_group;
  size_t pending = 0;
};

// A bar chart as inline SVG inside a <figure> with a caption, and the numbers in a table
// for screen readers and for reading exact values. `labels` and `values` have one entry per
// bar; an empty chart says "No blocks". A time axis draws vertical bars left to right, else
// horizontal bars in the order given.
std::string barChart(const std::string& id, const std::string& caption,
                     const std::vector<std::string>& labels, const std::vector<int64_t>& values,
                     bool time_axis);

// Incidents as CSV (RFC 4180), one header line; a cell a spreadsheet would run as a formula
// (starting with = + - @ or a tab) gets a leading apostrophe.
std::string incidentsCsv(const nlohmann::json& incidents);

// Pages. `user` is the signed-in account (for the header and which actions are shown).
std::string renderLogin(const std::string& message, const std::string& token);
std::string renderOverview(const Session& user, const OverviewData& data);
std::string renderIncidents(const Session& user, const IncidentSearch& search,
                            const std::vector<std::string>& groups, const nlohmann::json& incidents,
                            const nlohmann::json& next, const std::string& notice);
std::string renderDevice(const Session& user, const std::string& client,
                         const nlohmann::json& summary, const nlohmann::json& incidents);
std::string renderExceptions(const Session& user, const nlohmann::json& exceptions,
                             const std::string& notice);
std::string renderRequests(const Session& user, const nlohmann::json& requests,
                           const std::string& notice);
std::string renderAudit(const Session& user, const std::vector<nlohmann::json>& entries);
std::string renderMessage(const Session* user, const std::string& title, const std::string& text);

}  // namespace safegate::ui
