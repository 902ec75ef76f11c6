#include "ui-helper/dashboard_pages.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

#include "common/utc_time.h"
#include "ui-helper/block_page.h"

namespace safegate::ui {

namespace {

constexpr const char* kStyle =
    "body{margin:0;font-family:system-ui,sans-serif;line-height:1.5;color:#1b1b1b;"
    "background:#f7f7f4}"
    "header{background:#1d3f72;color:#fff;padding:.6rem 1.5rem;display:flex;flex-wrap:wrap;"
    "gap:1rem;align-items:center}"
    "header a{color:#fff}header nav ul{list-style:none;display:flex;gap:1rem;margin:0;padding:0}"
    "header form{margin-left:auto}"
    "main{max-width:70rem;margin:0 auto;padding:1rem 1.5rem}"
    "table{border-collapse:collapse;width:100%;background:#fff}"
    "th,td{border:1px solid #bbb;padding:.35rem .5rem;text-align:left;vertical-align:top}"
    "th{background:#e8ecf3}"
    ".cards{display:flex;flex-wrap:wrap;gap:1rem}"
    ".card{background:#fff;border:1px solid #bbb;border-radius:4px;padding:.6rem 1rem;"
    "min-width:10rem}"
    ".card strong{display:block;font-size:1.6rem}"
    ".ok{color:#1a5e20}.bad{color:#a31212}"
    "label{font-weight:bold;margin-inline-end:.3rem}"
    "input,select,button{font:inherit;padding:.3rem .5rem}"
    "button{border:2px solid #1d3f72;border-radius:4px;background:#fff;color:#1d3f72;"
    "cursor:pointer}"
    "button.primary{background:#1d3f72;color:#fff}"
    "header button{border-color:#fff}"
    "a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible"
    "{outline:3px solid #e8a200;outline-offset:2px}"
    ".notice{background:#fff;border-inline-start:6px solid #1d3f72;padding:.5rem 1rem}"
    "form.login{background:#fff;border:1px solid #bbb;padding:1rem;max-width:22rem}"
    "form.login label{display:block;margin-top:.6rem}form.login input{width:100%;"
    "box-sizing:border-box}form.login button{margin-top:1rem}"
    ".rag{font-weight:bold;padding:0 .4rem;border-radius:3px}"
    ".rag-green{background:#dcefdc;color:#14451a}.rag-amber{background:#fbe6b8;color:#5c3b00}"
    ".rag-red{background:#f6d2d2;color:#7a0d0d}"
    "figure{background:#fff;border:1px solid #bbb;margin:1rem 0;padding:.5rem 1rem}"
    "figcaption{font-weight:bold}svg{max-width:100%;height:auto}"
    "form.search{display:flex;flex-wrap:wrap;gap:.6rem 1rem;align-items:end;background:#fff;"
    "border:1px solid #bbb;padding:.6rem 1rem;margin-bottom:1rem}"
    "form.search div{display:flex;flex-direction:column}";

std::string e(std::string_view s) { return htmlEscape(s); }

std::string cell(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return "";
  const auto& v = j[key];
  return v.is_string() ? v.get<std::string>() : v.dump();
}

void open(std::string& h, const std::string& title, const Session* user) {
  h += "<!DOCTYPE html>\n<html lang=\"en\" dir=\"ltr\">\n<head>\n<meta charset=\"utf-8\">\n"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
       "<meta name=\"robots\" content=\"noindex\">\n<title>" +
       e(title) + " - safegate</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  h += "<header>\n<span>safegate</span>\n";
  if (user != nullptr) {
    h += "<nav aria-label=\"Dashboard\">\n<ul>\n<li><a href=\"/\">Overview</a></li>\n";
    if (user->role != Role::kViewer) h += "<li><a href=\"/incidents\">Incidents</a></li>\n";
    h += "<li><a href=\"/requests\">Requests</a></li>\n";
    if (user->role != Role::kViewer) h += "<li><a href=\"/exceptions\">Exceptions</a></li>\n";
    if (user->role == Role::kAdmin) h += "<li><a href=\"/audit\">Audit log</a></li>\n";
    h += "</ul>\n</nav>\n<form method=\"post\" action=\"/logout\">\n"
         "<input type=\"hidden\" name=\"csrf\" value=\"" +
         e(user->csrf) + "\">\n<button type=\"submit\">Sign out " + e(user->user) + " (" +
         e(roleName(user->role)) + ")</button>\n</form>\n";
  }
  h += "</header>\n<main>\n<h1>" + e(title) + "</h1>\n";
}

void close(std::string& h) { h += "</main>\n</body>\n</html>\n"; }

std::string time(const nlohmann::json& j, const char* key, int64_t scale) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number_integer()) return "";
  return isoUtc(j[key].get<int64_t>() / scale);
}

}  // namespace

std::string renderLogin(const std::string& message, const std::string& token) {
  std::string h;
  open(h, "Sign in", nullptr);
  if (!message.empty()) h += "<p class=\"notice\" role=\"alert\">" + e(message) + "</p>\n";
  h += "<form class=\"login\" method=\"post\" action=\"/login\">\n"
       "<input type=\"hidden\" name=\"token\" value=\"" +
       e(token) +
       "\">\n<label for=\"user\">Account</label>\n"
       "<input id=\"user\" name=\"user\" autocomplete=\"username\" required>\n"
       "<label for=\"password\">Password</label>\n"
       "<input id=\"password\" name=\"password\" type=\"password\" "
       "autocomplete=\"current-password\" required>\n"
       "<button class=\"primary\" type=\"submit\">Sign in</button>\n</form>\n";
  close(h);
  return h;
}

namespace {

int64_t integer(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number_integer()) return 0;
  return j[key].get<int64_t>();
}

std::string percentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string deviceLink(const std::string& client) {
  return "<a href=\"/device?client=" + e(percentEncode(client)) + "\">" + e(client) + "</a>";
}

// The incident table of the overview, the search and a device page.
void incidentTable(std::string& h, const nlohmann::json& incidents, const std::string& caption) {
  h += "<table>\n<caption>" + e(caption) +
       "</caption>\n<thead><tr><th scope=\"col\">Time (UTC)</th><th scope=\"col\">Device</th>"
       "<th scope=\"col\">Group</th><th scope=\"col\">Name</th><th scope=\"col\">Category</th>"
       "<th scope=\"col\">Verdict</th></tr></thead>\n<tbody>\n";
  for (const auto& i : incidents) {
    std::string verdict = cell(i, "verdict");
    if (i.value("alert", false)) verdict += ", alert";
    h += "<tr><td>" + e(time(i, "time_ms", 1000)) + "</td><td>" + deviceLink(cell(i, "client")) +
         "</td><td>" + e(cell(i, "group")) + "</td><td>" +
         (cell(i, "name").empty() ? std::string("(not shown)") : e(cell(i, "name"))) + "</td><td>" +
         e(cell(i, "category")) + "</td><td>" + e(verdict) + "</td></tr>\n";
  }
  h += "</tbody>\n</table>\n";
}

// Bars per hour from a summary's blocks_by_hour, `hours` of them ending with the hour that
// holds `last_hour` (hours without blocks are zero bars).
void hourSeries(const nlohmann::json& summary, int64_t first_hour, int hours, int per_bar,
                const char* label_format, std::vector<std::string>& labels,
                std::vector<int64_t>& values) {
  std::map<int64_t, int64_t> counts;
  if (summary.is_object() && summary.contains("blocks_by_hour")) {
    for (const auto& row : summary["blocks_by_hour"]) {
      counts[integer(row, "hour")] += integer(row, "count");
    }
  }
  for (int i = 0; i < hours; i += per_bar) {
    const int64_t start = first_hour + int64_t{i} * 3600;
    int64_t sum = 0;
    for (int k = 0; k < per_bar; ++k) {
      auto it = counts.find(start + int64_t{k} * 3600);
      if (it != counts.end()) sum += it->second;
    }
    labels.push_back(formatUtc(start, label_format));
    values.push_back(sum);
  }
}

void categorySeries(const nlohmann::json& summary, std::vector<std::string>& labels,
                    std::vector<int64_t>& values) {
  if (!summary.is_object() || !summary.contains("blocks_by_category")) return;
  for (const auto& row : summary["blocks_by_category"]) {
    if (labels.size() == 15) break;  // the most blocked; the table below the page has all
    const std::string c = cell(row, "category");
    labels.push_back(c.empty() ? "(none)" : c);
    values.push_back(integer(row, "count"));
  }
}

std::string stateBadge(GroupState s) {
  static const char* const kWords[] = {"Green", "Amber", "Red"};
  return "<span class=\"rag rag-" + std::string(groupStateName(s)) + "\">" +
         kWords[static_cast<int>(s)] + "</span>";
}

}  // namespace

GroupState groupState(int64_t blocks, int64_t blocks_week_before, int64_t alerts,
                      size_t pending_requests) {
  if (alerts > 0) return GroupState::kRed;
  if (pending_requests > 0) return GroupState::kAmber;
  // More than twice a usual day (the week before, per day), and not just a handful.
  if (blocks >= kAmberMinimumBlocks && blocks * 7 > 2 * blocks_week_before) {
    return GroupState::kAmber;
  }
  return GroupState::kGreen;
}

std::string_view groupStateName(GroupState s) {
  switch (s) {
    case GroupState::kGreen: return "green";
    case GroupState::kAmber: return "amber";
    case GroupState::kRed: return "red";
  }
  return "green";
}

Result<int64_t> parseDay(const std::string& text) {
  int y = 0, m = 0, d = 0;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-' ||
      std::sscanf(text.c_str(), "%4d-%2d-%2d", &y, &m, &d) != 3 || y < 1970 || y > 9999 || m < 1 ||
      m > 12 || d < 1 || d > 31 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(c) || c == '-'; })) {
    return Status::invalid("\"" + text + "\" is not a date (YYYY-MM-DD)");
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = m - 1;
  tm.tm_mday = d;
  const int64_t t = timegm(&tm);
  // timegm normalises 31 February to March: such a day is not a date.
  if (tm.tm_mday != d) return Status::invalid("\"" + text + "\" is not a date (YYYY-MM-DD)");
  return t;
}

Result<nlohmann::json> incidentRequest(const IncidentSearch& s, size_t limit) {
  nlohmann::json r = {{"cmd", "incidents"}, {"limit", limit}};
  if (!s.group.empty()) r["group"] = s.group;
  if (!s.client.empty()) r["client"] = s.client;
  if (!s.category.empty()) r["category"] = s.category;
  if (s.alerts) r["alerts"] = true;
  if (!s.since.empty()) {
    auto t = parseDay(s.since);
    if (!t) return Status::invalid("From: " + t.status().message());
    r["since_ms"] = *t * 1000;
  }
  if (!s.until.empty()) {
    auto t = parseDay(s.until);
    if (!t) return Status::invalid("To: " + t.status().message());
    r["until_ms"] = (*t + 86400) * 1000;  // the whole day
  }
  if (r.contains("since_ms") && r.contains("until_ms") &&
      r["until_ms"].get<int64_t>() <= r["since_ms"].get<int64_t>()) {
    return Status::invalid("To is before From");
  }
  if (s.before_ms > 0) {
    r["before_ms"] = s.before_ms;
    r["before_id"] = s.before_id;
  }
  return r;
}

std::string searchQuery(const IncidentSearch& s) {
  std::string q;
  const auto add = [&](const char* key, const std::string& value) {
    if (value.empty()) return;
    q += (q.empty() ? "" : "&") + std::string(key) + "=" + percentEncode(value);
  };
  add("group", s.group);
  add("client", s.client);
  add("category", s.category);
  add("since", s.since);
  add("until", s.until);
  if (s.alerts) add("alerts", "1");
  return q;
}

std::string barChart(const std::string& id, const std::string& caption,
                     const std::vector<std::string>& labels, const std::vector<int64_t>& values,
                     bool time_axis) {
  std::string h = "<figure>\n<figcaption id=\"" + e(id) + "\">" + e(caption) + "</figcaption>\n";
  const int64_t top = values.empty() ? 0 : *std::max_element(values.begin(), values.end());
  if (top <= 0) {
    h += "<p>No blocks.</p>\n</figure>\n";
    return h;
  }
  const size_t n = values.size();
  if (time_axis) {
    // Vertical bars, left to right in time; every few labels so they do not overlap.
    const int bar = 24, gap = 4, height = 140, left = 40, bottom = 20;
    const int width = left + static_cast<int>(n) * (bar + gap);
    h += "<svg role=\"img\" aria-labelledby=\"" + e(id) + "\" viewBox=\"0 0 " +
         std::to_string(width) + " " + std::to_string(height + bottom + 10) + "\" width=\"" +
         std::to_string(width) + "\" xmlns=\"http://www.w3.org/2000/svg\">\n";
    h += "<text x=\"0\" y=\"16\" font-size=\"12\" fill=\"#1b1b1b\">" + std::to_string(top) +
         "</text>\n<line x1=\"" + std::to_string(left - 4) + "\" y1=\"" +
         std::to_string(height + 10) + "\" x2=\"" + std::to_string(width) + "\" y2=\"" +
         std::to_string(height + 10) + "\" stroke=\"#595959\"/>\n";
    const size_t every = n > 12 ? (n + 7) / 8 : 1;
    for (size_t i = 0; i < n; ++i) {
      const int x = left + static_cast<int>(i) * (bar + gap);
      const int hgt = static_cast<int>(values[i] * height / top);
      h += "<rect x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(height + 10 - hgt) +
           "\" width=\"" + std::to_string(bar) + "\" height=\"" + std::to_string(hgt) +
           "\" fill=\"#1d3f72\"><title>" + e(labels[i]) + ": " + std::to_string(values[i]) +
           "</title></rect>\n";
      if (i % every == 0) {
        h += "<text x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(height + bottom + 6) +
             "\" font-size=\"11\" fill=\"#1b1b1b\">" + e(labels[i]) + "</text>\n";
      }
    }
  } else {
    // Horizontal bars, one row per label, most first as given.
    const int row = 22, label = 170, span = 380;
    const int width = label + span + 60;
    h += "<svg role=\"img\" aria-labelledby=\"" + e(id) + "\" viewBox=\"0 0 " +
         std::to_string(width) + " " + std::to_string(static_cast<int>(n) * row + 4) +
         "\" width=\"" + std::to_string(width) + "\" xmlns=\"http://www.w3.org/2000/svg\">\n";
    for (size_t i = 0; i < n; ++i) {
      const int y = static_cast<int>(i) * row;
      const int w = std::max<int>(1, static_cast<int>(values[i] * span / top));
      h += "<text x=\"0\" y=\"" + std::to_string(y + 15) + "\" font-size=\"12\" fill=\"#1b1b1b\">" +
           e(labels[i].substr(0, 24)) + "</text>\n<rect x=\"" + std::to_string(label) + "\" y=\"" +
           std::to_string(y + 3) + "\" width=\"" + std::to_string(w) +
           "\" height=\"16\" fill=\"#1d3f72\"/>\n<text x=\"" + std::to_string(label + w + 6) +
           "\" y=\"" + std::to_string(y + 15) + "\" font-size=\"12\" fill=\"#1b1b1b\">" +
           std::to_string(values[i]) + "</text>\n";
    }
  }
  h += "</svg>\n<details>\n<summary>The numbers</summary>\n<table>\n<caption>" + e(caption) +
       "</caption>\n<tbody>\n";
  for (size_t i = 0; i < n; ++i) {
    h += "<tr><th scope=\"row\">" + e(labels[i]) + "</th><td>" + std::to_string(values[i]) +
         "</td></tr>\n";
  }
  h += "</tbody>\n</table>\n</details>\n</figure>\n";
  return h;
}

std::string incidentsCsv(const nlohmann::json& incidents) {
  const auto field = [](std::string v) {
    if (!v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' ||
                       v[0] == '\r')) {
      v.insert(v.begin(), '\'');
    }
    if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
    std::string q = "\"";
    for (char c : v) {
      if (c == '"') q += '"';
      q += c;
    }
    return q + "\"";
  };
  std::string out = "time_utc,device,group,name,category,verdict,alert,protocol\r\n";
  for (const auto& i : incidents.is_array() ? incidents : nlohmann::json::array()) {
    out += field(time(i, "time_ms", 1000)) + "," + field(cell(i, "client")) + "," +
           field(cell(i, "group")) + "," + field(cell(i, "name")) + "," +
           field(cell(i, "category")) + "," + field(cell(i, "verdict")) + "," +
           (i.value("alert", false) ? "1" : "0") + "," + field(cell(i, "protocol")) + "\r\n";
  }
  return out;
}

std::string renderOverview(const Session& user, const OverviewData& d) {
  std::string h;
  open(h, "Overview", &user);
  const std::string health = cell(d.status, "health");
  const bool up = d.status.is_object() && !d.status.empty();
  const bool healthy = up && health.starts_with("ok");
  h += "<div class=\"cards\">\n<div class=\"card\">Filter <strong class=\"" +
       std::string(healthy ? "ok" : "bad") + "\">" +
       (up ? e(healthy ? "working" : "needs attention") : "not reachable") + "</strong>" +
       e(health) + "</div>\n";
  const nlohmann::json dns =
      d.stats.is_object() ? d.stats.value("dns", nlohmann::json()) : nlohmann::json();
  h += "<div class=\"card\">Questions answered <strong>" + e(cell(dns, "queries_udp")) +
       "</strong>over UDP since start</div>\n";
  h += "<div class=\"card\">Blocked <strong>" + e(cell(dns, "blocked")) +
       "</strong>since start</div>\n";
  h += "<div class=\"card\">Requests waiting <strong>" + std::to_string(d.pending) +
       "</strong><a href=\"/requests\">Decide</a></div>\n";
  if (d.status.is_object() && d.status.contains("outbox")) {
    const auto& o = d.status["outbox"];
    const int64_t dead = integer(o, "dead");
    h += "<div class=\"card\">Reports to send <strong class=\"" +
         std::string(dead > 0 || o.contains("error") ? "bad" : "ok") + "\">" +
         std::to_string(integer(o, "pending")) + "</strong>" +
         (o.contains("error") ? e(cell(o, "error"))
                              : std::to_string(dead) + " given up, " +
                                    std::to_string(integer(o, "delivered")) + " delivered") +
         "</div>\n";
  }
  h += "</div>\n";

  // Each group's state over the last 24 hours.
  std::map<std::string, nlohmann::json> groups;
  if (d.summary.is_object() && d.summary.contains("groups")) {
    for (const auto& g : d.summary["groups"]) groups[cell(g, "group")] = g;
  }
  for (const auto& [group, count] : d.pending_by_group) {
    if (!groups.count(group)) groups[group] = nlohmann::json::object();
  }
  h += "<h2>Groups, last 24 hours</h2>\n";
  if (groups.empty()) {
    h += "<p>No blocks, alerts or requests in the last 8 days.</p>\n";
  } else {
    h += "<table>\n<caption>Red: an alert to look at. Amber: a request waiting, or more than "
         "twice the usual blocks. Green: nothing unusual.</caption>\n<thead><tr><th scope=\"col\">"
         "Group</th><th scope=\"col\">State</th><th scope=\"col\">Blocks</th><th scope=\"col\">"
         "Usual a day (week before)</th><th scope=\"col\">Alerts</th><th scope=\"col\">Requests "
         "waiting</th></tr></thead>\n<tbody>\n";
    for (const auto& [group, g] : groups) {
      const auto pending_it = d.pending_by_group.find(group);
      const size_t pending = pending_it == d.pending_by_group.end() ? 0 : pending_it->second;
      const GroupState state = groupState(integer(g, "blocks"), integer(g, "blocks_before"),
                                          integer(g, "alerts"), pending);
      std::string name = e(group);
      if (user.role != Role::kViewer) {
        name = "<a href=\"/incidents?group=" + e(percentEncode(group)) + "\">" + name + "</a>";
      }
      h += "<tr><th scope=\"row\">" + name + "</th><td>" + stateBadge(state) + "</td><td>" +
           std::to_string(integer(g, "blocks")) + "</td><td>" +
           std::to_string((integer(g, "blocks_before") + 6) / 7) + "</td><td>" +
           std::to_string(integer(g, "alerts")) + "</td><td>" + std::to_string(pending) +
           "</td></tr>\n";
    }
    h += "</tbody>\n</table>\n";
  }

  std::vector<std::string> labels;
  std::vector<int64_t> values;
  const int64_t since = integer(d.summary, "since_ms") / 1000;
  hourSeries(d.summary, since - since % 3600, 24, 1, "%H:00", labels, values);
  h += barChart("by-hour", "Blocks by hour, last 24 hours (UTC)", labels, values, true);
  labels.clear();
  values.clear();
  categorySeries(d.summary, labels, values);
  h += barChart("by-category", "Blocks by category, last 24 hours", labels, values, false);

  h += "<h2>Block lists</h2>\n";
  if (!d.lists.is_array() || d.lists.empty()) {
    h += "<p>No subscribed lists: the lists shipped with safegate and those in the policy "
         "folder are used as they are.</p>\n";
  } else {
    h += "<table>\n<caption>Subscribed lists and when they were last brought up to date"
         "</caption>\n<thead><tr><th scope=\"col\">List</th><th scope=\"col\">Entries</th>"
         "<th scope=\"col\">Updated (UTC)</th><th scope=\"col\">Next check (UTC)</th>"
         "<th scope=\"col\">Problem</th></tr></thead>\n<tbody>\n";
    for (const auto& l : d.lists) {
      const std::string updated = integer(l, "last_success_unix_ms") > 0
                                      ? time(l, "last_success_unix_ms", 1000)
                                      : std::string("never");
      const std::string problem = cell(l, "last_error");
      h += "<tr><th scope=\"row\">" + e(cell(l, "name")) + "</th><td>" +
           std::to_string(integer(l, "entries")) + "</td><td>" + e(updated) + "</td><td>" +
           e(time(l, "next_refresh_unix_ms", 1000)) + "</td><td" +
           (problem.empty() ? ">none" : " class=\"bad\">" + e(problem)) + "</td></tr>\n";
    }
    h += "</tbody>\n</table>\n";
  }

  if (user.role != Role::kViewer) {
    h += "<h2>Latest incidents</h2>\n";
    if (!d.incidents.is_array() || d.incidents.empty()) {
      h += "<p>None recorded.</p>\n";
    } else {
      incidentTable(h, d.incidents, "The newest incidents first");
      h += "<p><a href=\"/incidents\">Search all incidents</a></p>\n";
    }
  }
  close(h);
  return h;
}

std::string renderIncidents(const Session& user, const IncidentSearch& s,
                            const std::vector<std::string>& groups, const nlohmann::json& incidents,
                            const nlohmann::json& next, const std::string& notice) {
  std::string h;
  open(h, "Incidents", &user);
  h += "<form class=\"search\" method=\"get\" action=\"/incidents\" role=\"search\">\n"
       "<div><label for=\"group\">Group</label>\n<select id=\"group\" name=\"group\">\n"
       "<option value=\"\">Any</option>\n";
  bool listed = s.group.empty();
  for (const std::string& g : groups) {
    listed = listed || g == s.group;
    h += "<option" + std::string(g == s.group ? " selected" : "") + ">" + e(g) + "</option>\n";
  }
  if (!listed) h += "<option selected>" + e(s.group) + "</option>\n";
  h += "</select></div>\n<div><label for=\"client\">Device</label>\n<input id=\"client\" "
       "name=\"client\" value=\"" +
       e(s.client) +
       "\" maxlength=\"64\"></div>\n<div><label for=\"category\">Category</label>\n"
       "<input id=\"category\" name=\"category\" value=\"" +
       e(s.category) +
       "\" maxlength=\"64\"></div>\n<div><label for=\"since\">From (UTC)</label>\n"
       "<input id=\"since\" name=\"since\" type=\"date\" value=\"" +
       e(s.since) +
       "\"></div>\n<div><label for=\"until\">To (UTC)</label>\n<input id=\"until\" "
       "name=\"until\" type=\"date\" value=\"" +
       e(s.until) + "\"></div>\n<div><span><input id=\"alerts\" name=\"alerts\" value=\"1\" " +
       "type=\"checkbox\"" + (s.alerts ? " checked" : "") +
       "> <label for=\"alerts\">Alerts only</label></span></div>\n"
       "<div><button class=\"primary\" type=\"submit\">Search</button></div>\n</form>\n";
  if (!notice.empty()) h += "<p class=\"notice\" role=\"alert\">" + e(notice) + "</p>\n";
  const std::string query = searchQuery(s);
  // A search that looked at its share of rows without filling the page says how far back it
  // got; the link continues from there.
  const bool partial = next.is_object() && next.contains("searched_back_to_ms");
  if (!incidents.is_array() || incidents.empty()) {
    h += partial ? "<p>No match yet.</p>\n" : "<p>No incident matches.</p>\n";
  } else {
    incidentTable(h, incidents, "Matching incidents, newest first");
  }
  if (next.is_object() && !next.empty()) {
    if (partial) {
      h += "<p class=\"notice\" role=\"status\">Looked through the incidents back to " +
           e(time(next, "searched_back_to_ms", 1000)) + " (UTC). Older ones may match too.</p>\n";
    }
    h += "<p><a href=\"/incidents?" + e(query) + (query.empty() ? "" : "&amp;") +
         "before_ms=" + std::to_string(integer(next, "before_ms")) +
         "&amp;before_id=" + std::to_string(integer(next, "before_id")) + "\">" +
         (partial ? "Search further back" : "Older incidents") + "</a></p>\n";
  }
  if (incidents.is_array() && !incidents.empty()) {
    h += "<p><a href=\"/incidents.csv" + std::string(query.empty() ? "" : "?") + e(query) +
         "\" download>Download every match as CSV</a> (up to 10,000; the download is "
         "written to the audit log)</p>\n";
  }
  close(h);
  return h;
}

std::string renderDevice(const Session& user, const std::string& client,
                         const nlohmann::json& summary, const nlohmann::json& incidents) {
  std::string h;
  open(h, "Device " + client, &user);
  int64_t blocks = 0, alerts = 0;
  std::string group_names;
  if (summary.is_object() && summary.contains("groups")) {
    for (const auto& g : summary["groups"]) {
      blocks += integer(g, "blocks");
      alerts += integer(g, "alerts");
      group_names += (group_names.empty() ? "" : ", ") + cell(g, "group");
    }
  }
  h += "<p>The last 7 days. A device is shown by its configured name, or by a pseudonym that "
       "does not reveal its address.</p>\n<div class=\"cards\">\n<div class=\"card\">Blocks "
       "<strong>" +
       std::to_string(blocks) + "</strong>" + e(group_names) +
       "</div>\n<div class=\"card\">Alerts <strong class=\"" + (alerts > 0 ? "bad" : "ok") + "\">" +
       std::to_string(alerts) + "</strong>for the safeguarding lead</div>\n</div>\n";
  std::vector<std::string> labels;
  std::vector<int64_t> values;
  const int64_t since = integer(summary, "since_ms") / 1000;
  hourSeries(summary, since - since % 86400, 7 * 24, 24, "%a %d", labels, values);
  h += barChart("by-day", "Blocks by day (UTC)", labels, values, true);
  labels.clear();
  values.clear();
  categorySeries(summary, labels, values);
  h += barChart("by-category", "Blocks by category", labels, values, false);
  h += "<h2>Latest incidents</h2>\n";
  if (!incidents.is_array() || incidents.empty()) {
    h += "<p>None recorded.</p>\n";
  } else {
    incidentTable(h, incidents, "This device's newest incidents");
    h += "<p><a href=\"/incidents?client=" + e(percentEncode(client)) +
         "\">All of this device's incidents</a></p>\n";
  }
  close(h);
  return h;
}

std::string renderExceptions(const Session& user, const nlohmann::json& exceptions,
                             const std::string& notice) {
  std::string h;
  open(h, "Exceptions and pauses", &user);
  if (!notice.empty()) h += "<p class=\"notice\" role=\"status\">" + e(notice) + "</p>\n";
  h += "<p>Temporary exceptions in force (granted here, from a request, or with "
       "<code>safegatectl exceptions add</code> or <code>pause</code>). Each ends by itself at "
       "its time.</p>\n";
  if (!exceptions.is_array() || exceptions.empty()) {
    h += "<p>None in force.</p>\n";
    close(h);
    return h;
  }
  const bool can_end = user.role != Role::kViewer;
  h += "<table>\n<caption>Exceptions and pauses in force</caption>\n<thead><tr>"
       "<th scope=\"col\">Id</th><th scope=\"col\">Kind</th><th scope=\"col\">For</th>"
       "<th scope=\"col\">Name or category</th><th scope=\"col\">Until (UTC)</th>"
       "<th scope=\"col\">Granted by</th><th scope=\"col\">Note</th>" +
       std::string(can_end ? "<th scope=\"col\">End</th>" : "") + "</tr></thead>\n<tbody>\n";
  for (const auto& x : exceptions) {
    const std::string id = cell(x, "id");
    const std::string who =
        x.contains("client") ? "device " + cell(x, "client") : "group " + cell(x, "group");
    const std::string what = !cell(x, "name").empty()       ? cell(x, "name")
                             : !cell(x, "category").empty() ? "category " + cell(x, "category")
                                                            : "everything";
    h += "<tr><td>" + e(id) + "</td><td>" + e(cell(x, "kind")) + "</td><td>" + e(who) +
         "</td><td>" + e(what) + "</td><td>" + e(time(x, "until", 1)) + "</td><td>" +
         e(cell(x, "granted_by")) + "</td><td>" + e(cell(x, "note")) + "</td>";
    if (can_end) {
      h += "<td><form method=\"post\" action=\"/exceptions/end\">\n<input type=\"hidden\" "
           "name=\"csrf\" value=\"" +
           e(user.csrf) + "\">\n<input type=\"hidden\" name=\"exception\" value=\"" + e(id) +
           "\">\n<button type=\"submit\" aria-label=\"End now: exception " + e(id) +
           "\">End now</button>\n</form></td>";
    }
    h += "</tr>\n";
  }
  h += "</tbody>\n</table>\n";
  close(h);
  return h;
}

std::string renderRequests(const Session& user, const nlohmann::json& requests,
                           const std::string& notice) {
  std::string h;
  open(h, "Requests", &user);
  if (!notice.empty()) h += "<p class=\"notice\" role=\"status\">" + e(notice) + "</p>\n";
  const bool can_decide = user.role != Role::kViewer;
  std::string pending, decided;
  for (const auto& r : requests.is_array() ? requests : nlohmann::json::array()) {
    const std::string id = cell(r, "id");
    std::string row = "<tr><td>" + e(id) + "</td><td>" + e(cell(r, "kind")) + "</td><td>" +
                      e(cell(r, "client")) + "</td><td>" + e(cell(r, "group")) + "</td><td>" +
                      e(cell(r, "name")) + "</td><td>" + e(cell(r, "category")) + "</td><td>" +
                      e(time(r, "created", 1)) + "</td><td>" + e(cell(r, "reason")) + "</td>";
    if (cell(r, "state") == "pending") {
      if (can_decide) {
        // One form per request: its fields, then approve/deny buttons named for the request.
        const std::string f = "r" + e(id);
        const auto form = [&](const std::string& fields, const std::string& yes,
                              const std::string& no) {
          return "<td><form method=\"post\" action=\"/requests/decide\">\n"
                 "<input type=\"hidden\" name=\"csrf\" value=\"" +
                 e(user.csrf) + "\">\n<input type=\"hidden\" name=\"request\" value=\"" + e(id) +
                 "\">\n" + fields +
                 "<button class=\"primary\" type=\"submit\" name=\"action\" value=\"approve\" "
                 "aria-label=\"" +
                 yes + " request " + e(id) + "\">" + yes +
                 "</button>\n<button type=\"submit\" name=\"action\" value=\"deny\" "
                 "aria-label=\"" +
                 no + " request " + e(id) + "\">" + no + "</button>\n</form></td>";
        };
        if (cell(r, "kind") == "suspected-illegal") {
          // A child's "this may be against the law": the lead forwards it to the hotline with
          // the hotline's category, or closes it; no exception either way.
          row += form("<label for=\"" + f + "c\">Hotline category</label>\n<select id=\"" + f +
                          "c\" name=\"category\">\n<option value=\"child-abuse\">child abuse"
                          "</option>\n<option value=\"terrorism\">terrorism</option>\n</select>\n",
                      "Forward to the hotline", "Close without forwarding");
        } else {
          row += form("<label for=\"" + f + "m\">For</label>\n<select id=\"" + f +
                          "m\" name=\"minutes\">\n<option value=\"30\">30 minutes</option>\n"
                          "<option value=\"60\" selected>1 hour</option>\n"
                          "<option value=\"240\">4 hours</option>\n"
                          "<option value=\"1440\">1 day</option>\n"
                          "<option value=\"10080\">7 days</option>\n</select>\n<label for=\"" +
                          f + "n\">Note</label>\n<input id=\"" + f +
                          "n\" name=\"note\" maxlength=\"200\">\n",
                      "Approve", "Deny");
        }
      }
      pending += row + "</tr>\n";
    } else {
      decided += row + "<td>" + e(cell(r, "state")) + " by " + e(cell(r, "decided_by")) + " " +
                 e(time(r, "decided", 1)) + (cell(r, "note").empty() ? "" : ": ") +
                 e(cell(r, "note")) + "</td></tr>\n";
    }
  }
  const std::string head =
      "<thead><tr><th scope=\"col\">Id</th><th scope=\"col\">Kind</th><th scope=\"col\">"
      "Device</th><th scope=\"col\">Group</th><th scope=\"col\">Name</th><th scope=\"col\">"
      "Category</th><th scope=\"col\">Asked (UTC)</th><th scope=\"col\">Reason</th>";
  h += "<h2>Waiting</h2>\n";
  if (pending.empty()) {
    h += "<p>No request is waiting.</p>\n";
  } else {
    h += "<table>\n<caption>Requests waiting for a decision</caption>\n" + head +
         (can_decide ? "<th scope=\"col\">Decision</th>" : "") + "</tr></thead>\n<tbody>\n" +
         pending + "</tbody>\n</table>\n";
  }
  h += "<h2>Decided</h2>\n";
  if (decided.empty()) {
    h += "<p>None in the last days.</p>\n";
  } else {
    h += "<table>\n<caption>Decided and expired requests</caption>\n" + head +
         "<th scope=\"col\">Outcome</th></tr></thead>\n<tbody>\n" + decided +
         "</tbody>\n</table>\n";
  }
  close(h);
  return h;
}

std::string renderAudit(const Session& user, const std::vector<nlohmann::json>& entries) {
  std::string h;
  open(h, "Audit log", &user);
  h += "<table>\n<caption>Who signed in, looked at or decided what, newest first</caption>\n"
       "<thead><tr><th scope=\"col\">Time (UTC)</th><th scope=\"col\">Account</th>"
       "<th scope=\"col\">Address</th><th scope=\"col\">Action</th><th scope=\"col\">Detail"
       "</th></tr></thead>\n<tbody>\n";
  for (const auto& a : entries) {
    h += "<tr><td>" + e(cell(a, "time")) + "</td><td>" + e(cell(a, "user")) + "</td><td>" +
         e(cell(a, "address")) + "</td><td>" + e(cell(a, "action")) + "</td><td>" +
         e(cell(a, "detail")) + "</td></tr>\n";
  }
  h += "</tbody>\n</table>\n";
  close(h);
  return h;
}

std::string renderMessage(const Session* user, const std::string& title, const std::string& text) {
  std::string h;
  open(h, title, user);
  h += "<p>" + e(text) + "</p>\n<p><a href=\"/\">Back to the overview</a></p>\n";
  close(h);
  return h;
}

}  // namespace safegate::ui
