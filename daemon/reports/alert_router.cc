#include "daemon/reports/alert_router.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/logger.h"
#include "common/utc_time.h"
#include "daemon/reports/syslog_sender.h"

namespace safegate {
namespace {

// Rate-limit windows are forgotten once expired; past this many live ones a new key is let
// through unlimited rather than growing memory without bound.
constexpr size_t kMaxWindowsPerRoute = 50'000;
// Alerts held between flushes per destination (a flood while the outbox file is unwritable).
constexpr size_t kMaxPendingPerRoute = 20'000;
// Alerts per webhook body or e-mail; a larger batch becomes several messages.
constexpr size_t kMaxAlertsPerMessage = 500;

std::string isoMs(int64_t unix_ms) { return isoUtc(unix_ms / 1000); }

// Header values come from config and incidents; no CR/LF may reach a header line.
std::string headerSafe(std::string_view v) {
  std::string out;
  for (char c : v) out += (c == '\r' || c == '\n') ? ' ' : c;
  return out;
}

std::string actionOf(const AlertNotice& n) {
  if (!n.alert) return n.blocked ? "block" : "monitor";
  return n.blocked ? "alert-block" : "alert-allow";
}

// What an alert says about the name: nothing for a licensed list (docs/categories.md).
std::string shownName(const AlertNotice& n) {
  return n.confidential ? "(a licensed list entry; not shown)" : n.name;
}

}  // namespace

AlertRouter::AlertRouter(std::vector<policy::AlertSettings> routes, std::string outbox_path,
                         OutboxOptions outbox, std::string hostname, std::string deployment_id,
                         const Clock& clock, policy::TimeZone time_zone,
                         std::filesystem::path incident_db)
    : outbox_path_(std::move(outbox_path)),
      outbox_options_(outbox),
      hostname_(std::move(hostname)),
      deployment_id_(std::move(deployment_id)),
      clock_(clock),
      time_zone_(std::move(time_zone)),
      incident_db_(std::move(incident_db)) {
  for (auto& s : routes) {
    Route r;
    r.settings = std::move(s);
    routes_.push_back(std::move(r));
  }
}

bool AlertRouter::matches(const policy::AlertSettings& s, const AlertNotice& n) const {
  // "block" exports every blocked incident, alerting or not; "monitor" every monitored one.
  const bool wanted = n.alert ? (n.blocked ? s.on_block : s.on_allow) : false;
  const bool exported = n.blocked ? s.on_every_block : !n.alert && s.on_every_monitor;
  if (!wanted && !exported) return false;
  if (!s.categories.empty() &&
      std::find(s.categories.begin(), s.categories.end(), n.category) == s.categories.end()) {
    return false;
  }
  if (!s.groups.empty() && std::find(s.groups.begin(), s.groups.end(), n.group) == s.groups.end()) {
    return false;
  }
  return true;
}

bool AlertRouter::wantsEveryIncident() const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::any_of(routes_.begin(), routes_.end(), [](const Route& r) {
    return r.settings.on_every_block || r.settings.on_every_monitor;
  });
}

void AlertRouter::onAlert(const AlertNotice& notice) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = clock_.unixMs();
  for (Route& r : routes_) {
    if (!matches(r.settings, notice)) continue;
    ++stats_.alerts;
    int64_t folded = 0;
    const int64_t window_ms = int64_t{r.settings.rate_limit_minutes} * 60'000;
    if (window_ms > 0) {
      // Alerts and exported plain incidents have windows of their own: a plain block must not
      // hide a later alert for the same device and category.
      const std::string key =
          notice.device + '\n' + notice.category + (notice.alert ? "\na" : "\ne");
      auto it = r.windows.find(key);
      if (it != r.windows.end() && now - it->second.started_ms < window_ms) {
        ++it->second.suppressed;
        ++stats_.suppressed;
        continue;
      }
      if (it != r.windows.end()) {
        folded = it->second.suppressed;
        it->second = {now, 0};
      } else {
        if (r.windows.size() >= kMaxWindowsPerRoute) {
          std::erase_if(r.windows,
                        [&](const auto& w) { return now - w.second.started_ms >= window_ms; });
        }
        if (r.windows.size() < kMaxWindowsPerRoute) r.windows.emplace(key, Route::Window{now, 0});
      }
    }
    if (r.batch.empty()) r.batch_started_ms = now;
    if (r.batch.size() >= kMaxPendingPerRoute) {
      ++stats_.dropped;  // the incident itself is in the database; counted and logged at flush
      continue;
    }
    r.batch.push_back({notice, folded});
  }
}

bool AlertRouter::flush(bool force) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = clock_.unixMs();
  const uint64_t messages_before = stats_.messages;
  if (stats_.dropped > logged_dropped_) {
    logWarning("alerts", "alerts dropped while the outbox could not take them",
               {{"dropped", static_cast<unsigned long>(stats_.dropped - logged_dropped_)}});
    logged_dropped_ = stats_.dropped;
  }
  for (Route& r : routes_) {
    if (!r.list_notices.empty()) {
      enqueueNotices(r, r.list_notices, "list", stats_.list_notices, now,
                     [&](const ListNotice& n, const std::string& key) {
                       return renderListNotice(r, n, now, key);
                     });
    }
    if (!r.request_notices.empty()) {
      enqueueNotices(r, r.request_notices, "request", stats_.request_notices, now,
                     [&](const RequestNotice& n, const std::string& key) {
                       return renderRequestNotice(r, n, now, key);
                     });
    }
    if (r.batch.empty()) continue;
    // Syslog has no batches: each alert is its own message at the next flush.
    const int64_t window_ms = r.settings.kind == policy::AlertKind::kSyslog
                                  ? 0
                                  : int64_t{r.settings.batch_seconds} * 1000;
    // A batch that fills a whole message goes now rather than growing until its window ends.
    if (force || now - r.batch_started_ms >= window_ms || r.batch.size() >= kMaxAlertsPerMessage) {
      enqueue(r, now);
    }
  }
  return stats_.messages != messages_before;
}

AlertRouterStats AlertRouter::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void AlertRouter::sendDueDigests() {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = clock_.unixMs();
  const policy::LocalTime local = time_zone_.toLocal(now / 1000);
  for (Route& r : routes_) {
    const policy::AlertSettings& s = r.settings;
    if (s.digest_minute_of_day < 0 || r.digest_day == local.days_since_epoch ||
        local.minute_of_day < s.digest_minute_of_day) {
      continue;
    }
    char date[16];
    std::snprintf(date, sizeof date, "%04d-%02d-%02d", local.year, local.month, local.day);
    auto groups = buildDigest(incident_db_, now - int64_t{24} * 3600 * 1000, now,
                              {s.digest_amber_alerts, s.digest_red_alerts});
    if (!groups) {
      ++stats_.enqueue_errors;
      stats_.last_error = "digest: " + groups.status().message();
      continue;  // tried again at the next call
    }
    OutboxStore* store = outbox();
    if (!store) continue;
    const std::string key = "digest:" + s.name + ":" + date;
    std::vector<OutboxNewMessage> messages;
    const auto payloads = renderDigest(r, groups.value(), date, key, now);
    for (size_t i = 0; i < payloads.size(); ++i) {
      messages.push_back(
          {"digest", s.name, key + (i ? ":" + std::to_string(i) : ""), payloads[i], 0});
    }
    auto stored = store->enqueueAll(messages, now);
    if (!stored || stored->refused_count > 0) {
      ++stats_.enqueue_errors;
      stats_.last_error = stored ? stored->refused.message() : stored.status().message();
      continue;
    }
    r.digest_day = local.days_since_epoch;
    ++stats_.digests;
  }
}

std::string AlertRouter::emailHead(const Route& r, const std::string& subject, int64_t now_ms,
                                   const std::string& key) const {
  std::string to;
  for (const auto& t : r.settings.to) to += (to.empty() ? "" : ", ") + headerSafe(t);
  return "From: safegate <" + headerSafe(r.settings.from) + ">\r\nTo: " + to +
         "\r\nSubject: [safegate] " + headerSafe(subject) +
         "\r\nDate: " + formatUtc(now_ms / 1000, "%a, %d %b %Y %H:%M:%S +0000") +
         "\r\nMessage-ID: <" + headerSafe(key) + "@safegate." + headerSafe(hostname_) +
         ">\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
         "Content-Transfer-Encoding: 8bit\r\nAuto-Submitted: auto-generated\r\n\r\n";
}

std::vector<std::string> AlertRouter::renderDigest(const Route& r,
                                                   const std::vector<GroupDigest>& groups,
                                                   const std::string& date, const std::string& key,
                                                   int64_t now_ms) const {
  switch (r.settings.kind) {
    case policy::AlertKind::kWebhook: {
      nlohmann::json gs = nlohmann::json::array();
      for (const GroupDigest& g : groups) {
        nlohmann::json top = nlohmann::json::array();
        for (const auto& [name, n] : g.top_blocked) top.push_back({{"name", name}, {"count", n}});
        gs.push_back({{"group", g.group},
                      {"status", g.status},
                      {"alerts", g.alerts},
                      {"blocks", g.blocks},
                      {"by_category", g.by_category},
                      {"top_blocked", std::move(top)}});
      }
      nlohmann::json body{
          {"type", "safegate.digest"},       {"version", 1}, {"gateway", hostname_},
          {"deployment_id", deployment_id_}, {"date", date}, {"sent_at", isoMs(now_ms)},
          {"groups", std::move(gs)}};
      return {body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
    }
    case policy::AlertKind::kEmail: {
      int red = 0, amber = 0;
      for (const GroupDigest& g : groups) {
        red += g.status == "red";
        amber += g.status == "amber";
      }
      std::string m = emailHead(r,
                                "daily digest " + date + ": " + std::to_string(red) + " red, " +
                                    std::to_string(amber) + " amber",
                                now_ms, key);
      m += "The last 24 hours on " + hostname_ + ", per group:\r\n";
      if (groups.empty()) m += "\r\nNo incidents.\r\n";
      for (const GroupDigest& g : groups) {
        std::string upper = g.status;
        for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        m += "\r\n" + g.group + ": " + upper + " - " + std::to_string(g.alerts) + " alerts, " +
             std::to_string(g.blocks) + " blocks\r\n";
        for (const auto& [c, n] : g.by_category) {
          m += "  " + (c.empty() ? std::string("(none)") : c) + ": " + std::to_string(n) + "\r\n";
        }
        if (!g.top_blocked.empty()) {
          m += "  most blocked:";
          for (const auto& [name, n] : g.top_blocked) {
            m += " " + name + " (" + std::to_string(n) + ")";
          }
          m += "\r\n";
        }
      }
      return {m};
    }
    case policy::AlertKind::kSyslog: {
      std::vector<std::string> out;
      for (const GroupDigest& g : groups) {
        std::string cats;
        for (const auto& [c, n] : g.by_category) {
          cats += (cats.empty() ? "" : ",") + c + ":" + std::to_string(n);
        }
        out.push_back(formatRfc5424(g.status == "red"     ? 3
                                    : g.status == "amber" ? 4
                                                          : 6,
                                    now_ms, hostname_, "digest", "safegate@32473",
                                    {{"date", date},
                                     {"group", g.group},
                                     {"status", g.status},
                                     {"alerts", std::to_string(g.alerts)},
                                     {"blocks", std::to_string(g.blocks)},
                                     {"categories", cats}},
                                    "daily digest " + date + " " + g.group + ": " + g.status));
      }
      return out;
    }
  }
  return {};
}

OutboxStore* AlertRouter::outbox() {
  if (!outbox_) {
    auto store = OutboxStore::open(outbox_path_, outbox_options_);
    if (!store) {
      ++stats_.enqueue_errors;
      stats_.last_error = store.status().message();
      return nullptr;  // what was to be queued stays; the next call tries again
    }
    outbox_ = std::make_unique<OutboxStore>(std::move(store.value()));
  }
  return outbox_.get();
}

void AlertRouter::onListNotice(const ListNotice& notice) {
  std::lock_guard<std::mutex> lock(mu_);
  for (Route& r : routes_) {
    if (!r.settings.list_notices) continue;
    // Bounded like alerts: the refresher sends a few a day; a backlog means the outbox is down.
    if (r.list_notices.size() >= kMaxPendingPerRoute) {
      ++stats_.dropped;
      continue;
    }
    r.list_notices.push_back(notice);
  }
}

void AlertRouter::onRequestNotice(const RequestNotice& notice) {
  std::lock_guard<std::mutex> lock(mu_);
  for (Route& r : routes_) {
    const auto& groups = r.settings.groups;
    if (!r.settings.request_notices ||
        (!groups.empty() &&
         std::find(groups.begin(), groups.end(), notice.group) == groups.end())) {
      continue;
    }
    if (r.request_notices.size() >= kMaxPendingPerRoute) {
      ++stats_.dropped;  // the request itself is in requests.json and on the dashboard
      continue;
    }
    r.request_notices.push_back(notice);
  }
}

template <typename Notice, typename Render>
void AlertRouter::enqueueNotices(Route& r, std::vector<Notice>& notices, const char* kind,
                                 uint64_t& counter, int64_t now_ms, Render render) {
  OutboxStore* store = outbox();
  if (!store) return;
  std::vector<OutboxNewMessage> messages;
  for (const Notice& n : notices) {
    auto key = newIdempotencyKey();
    if (!key) {
      ++stats_.enqueue_errors;
      return;
    }
    messages.push_back({kind, r.settings.name, key.value(), render(n, key.value()), 0});
  }
  auto stored = store->enqueueAll(messages, now_ms);
  if (!stored) {
    ++stats_.enqueue_errors;
    stats_.last_error = stored.status().message();
    return;  // kept for the next flush
  }
  counter += stored->ids.size();
  stats_.messages += stored->ids.size();
  if (stored->refused_count > 0) {
    // Outbox full: the notice is lost, so say so where the operator looks (the list's state
    // stays in `safegatectl lists`, a request on the dashboard, and the log).
    stats_.enqueue_errors += stored->refused_count;
    stats_.last_error = stored->refused.message();
    logWarning("alerts", std::string(kind) + " notices not queued",
               {{"destination", r.settings.name},
                {"messages", static_cast<unsigned long>(stored->refused_count)},
                {"error", stored->refused.message()}});
  }
  notices.clear();
}

void AlertRouter::enqueue(Route& r, int64_t now_ms) {
  OutboxStore* store = outbox();
  if (!store) return;  // the batch stays; the next flush tries again
  std::vector<OutboxNewMessage> messages;
  if (r.settings.kind == policy::AlertKind::kSyslog) {
    for (const Pending& p : r.batch) {
      messages.push_back({"alert", r.settings.name, {}, renderSyslog(p), 0});
    }
  } else {
    for (size_t from = 0; from < r.batch.size(); from += kMaxAlertsPerMessage) {
      const std::span<const Pending> part(r.batch.data() + from,
                                          std::min(kMaxAlertsPerMessage, r.batch.size() - from));
      auto key = newIdempotencyKey();
      if (!key) {
        ++stats_.enqueue_errors;
        return;
      }
      OutboxNewMessage m{"alert", r.settings.name, key.value(), {}, 0};
      m.payload = r.settings.kind == policy::AlertKind::kEmail
                      ? renderEmail(r, part, now_ms, key.value())
                      : renderWebhook(part, now_ms);
      messages.push_back(std::move(m));
    }
  }
  // One transaction for the whole flush: the outbox runs synchronous=FULL, and one fsync per
  // alert would cost a flood of alerts far more than it needs.
  auto stored = store->enqueueAll(messages, now_ms);
  if (!stored) {
    ++stats_.enqueue_errors;
    stats_.last_error = stored.status().message();
    return;  // the batch stays; the next flush tries again
  }
  stats_.messages += stored->ids.size();
  if (stored->refused_count > 0) {
    // Outbox full: say so; the alerts themselves are in the incident database (docs/alerts.md).
    stats_.enqueue_errors += stored->refused_count;
    stats_.last_error = stored->refused.message();
    logWarning("alerts", "alerts not queued",
               {{"destination", r.settings.name},
                {"messages", static_cast<unsigned long>(stored->refused_count)},
                {"error", stored->refused.message()}});
  }
  r.batch.clear();
}

std::string AlertRouter::renderWebhook(std::span<const Pending> batch, int64_t now_ms) const {
  nlohmann::json alerts = nlohmann::json::array();
  for (const Pending& p : batch) {
    nlohmann::json a{{"time", isoMs(p.notice.unix_ms)},       {"device", p.notice.device},
                     {"device_named", p.notice.device_named}, {"group", p.notice.group},
                     {"category", p.notice.category},         {"action", actionOf(p.notice)},
                     {"protocol", p.notice.protocol}};
    if (!p.notice.confidential) a["name"] = p.notice.name;
    if (p.suppressed_before > 0) a["suppressed_before"] = p.suppressed_before;
    alerts.push_back(std::move(a));
  }
  nlohmann::json body{{"type", "safegate.alerts"}, {"version", 1},
                      {"gateway", hostname_},      {"deployment_id", deployment_id_},
                      {"sent_at", isoMs(now_ms)},  {"alerts", std::move(alerts)}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string AlertRouter::renderEmail(const Route& r, std::span<const Pending> batch, int64_t now_ms,
                                     const std::string& key) const {
  std::map<std::string, int> by_category;
  for (const Pending& p : batch) ++by_category[p.notice.category];
  std::string categories;
  for (const auto& [c, n] : by_category) {
    categories += (categories.empty() ? "" : ", ") + c + " (" + std::to_string(n) + ")";
  }
  const size_t n = batch.size();
  std::string m = emailHead(r, std::to_string(n) + (n == 1 ? " alert: " : " alerts: ") + categories,
                            now_ms, key);
  m += "safegate on " + hostname_ + " recorded these alerts";
  if (!deployment_id_.empty()) m += " (" + deployment_id_ + ")";
  m += ":\r\n\r\n";
  for (const Pending& p : batch) {
    m += isoMs(p.notice.unix_ms) + "  " + p.notice.device + " (" + p.notice.group + ")  " +
         p.notice.category + "  " + (p.notice.blocked ? "blocked" : "allowed") + "  " +
         shownName(p.notice);
    if (p.suppressed_before > 0) {
      m += "  [+" + std::to_string(p.suppressed_before) + " similar before, not sent separately]";
    }
    m += "\r\n";
  }
  m += "\r\nDevices without a name in the configuration are shown by their pseudonym; "
       "`safegatectl incidents` on the gateway has the details.\r\n";
  // SMTP (RFC 5321 §4.5.2): a line starting with '.' is doubled by curl; nothing to do here.
  return m;
}

std::string AlertRouter::renderSyslog(const Pending& p) const {
  std::vector<SyslogField> params = {{"device", p.notice.device},
                                     {"group", p.notice.group},
                                     {"category", p.notice.category},
                                     {"action", actionOf(p.notice)},
                                     {"protocol", p.notice.protocol}};
  if (!p.notice.confidential) params.push_back({"name", p.notice.name});
  if (p.suppressed_before > 0) {
    params.push_back({"suppressed_before", std::to_string(p.suppressed_before)});
  }
  if (!deployment_id_.empty()) params.push_back({"deployment", deployment_id_});
  // alert-allow (the child reached the content) is more urgent than a block: error vs warning;
  // exported plain incidents: a block is a notice, a monitored one informational.
  const int severity = p.notice.alert ? (p.notice.blocked ? 4 : 3) : (p.notice.blocked ? 5 : 6);
  return formatRfc5424(severity, p.notice.unix_ms, hostname_, "alert", "safegate@32473", params,
                       p.notice.category + " " + (p.notice.blocked ? "blocked" : "allowed") +
                           " for " + p.notice.device + " (" + p.notice.group + ")");
}

std::string AlertRouter::renderListNotice(const Route& r, const ListNotice& n, int64_t now_ms,
                                          const std::string& key) const {
  // One sentence for people (e-mail subject, syslog message) and what it means for filtering.
  std::string headline, meaning;
  switch (n.kind) {
    case ListNotice::Kind::kFailed:
      headline = "list \"" + n.list + "\" could not be updated";
      break;
    case ListNotice::Kind::kRefused:
      headline = "list \"" + n.list + "\" was refused by the sanity gate";
      break;
    case ListNotice::Kind::kQuarantined:
      headline = "list \"" + n.list + "\": " + std::to_string(n.quarantined.size()) +
                 (n.quarantined.size() == 1 ? " entry" : " entries") + " quarantined";
      break;
    case ListNotice::Kind::kRecovered: headline = "list \"" + n.list + "\" is current again"; break;
  }
  if (n.kind == ListNotice::Kind::kFailed || n.kind == ListNotice::Kind::kRefused) {
    meaning = n.has_good_copy
                  ? "The last good copy (" + std::to_string(n.entries) + " entries, downloaded " +
                        isoMs(n.last_success_unix_ms) + ") stays in force."
                  : "No copy has been downloaded yet: this list blocks nothing "
                    "until a download succeeds.";
  } else if (n.kind == ListNotice::Kind::kQuarantined) {
    meaning =
        "The new version is in force without these entries: each would have blocked a name "
        "of the shipped protected lists (top sites, universities). Check the list's source.";
  } else {
    meaning = "In force: " + std::to_string(n.entries) + " entries.";
  }
  constexpr size_t kMaxQuarantinedShown = 50;
  const std::string_view event = listNoticeKindName(n.kind);
  switch (r.settings.kind) {
    case policy::AlertKind::kWebhook: {
      nlohmann::json body{{"type", "safegate.list"},
                          {"version", 1},
                          {"gateway", hostname_},
                          {"deployment_id", deployment_id_},
                          {"sent_at", isoMs(now_ms)},
                          {"time", isoMs(n.unix_ms)},
                          {"list", n.list},
                          {"event", event},
                          {"in_force", n.has_good_copy},
                          {"entries", n.entries}};
      if (n.has_good_copy) body["last_success"] = isoMs(n.last_success_unix_ms);
      if (!n.error.empty()) body["error"] = n.error;
      if (!n.quarantined.empty()) {
        nlohmann::json q = nlohmann::json::array();
        for (size_t i = 0; i < n.quarantined.size() && i < kMaxQuarantinedShown; ++i) {
          const QuarantinedEntry& e = n.quarantined[i];
          q.push_back({{"line", e.line}, {"entry", e.name}, {"protects", e.protects}});
        }
        body["quarantined"] = std::move(q);
        body["quarantined_count"] = n.quarantined.size();
      }
      return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    case policy::AlertKind::kEmail: {
      std::string m = emailHead(r, headline, now_ms, key);
      m += "safegate on " + hostname_;
      if (!deployment_id_.empty()) m += " (" + deployment_id_ + ")";
      m += ", " + isoMs(n.unix_ms) + ": " + headline + ".\r\n";
      // The error comes from a server's answer as well: no bare line breaks in the body.
      if (!n.error.empty()) m += "\r\nWhy: " + headerSafe(n.error) + "\r\n";
      m += "\r\n" + meaning + "\r\n";
      for (size_t i = 0; i < n.quarantined.size() && i < kMaxQuarantinedShown; ++i) {
        const QuarantinedEntry& e = n.quarantined[i];
        m += "  line " + std::to_string(e.line) + ": " + e.name + " (would block " + e.protects +
             ")\r\n";
      }
      if (n.quarantined.size() > kMaxQuarantinedShown) {
        m += "  ... and " + std::to_string(n.quarantined.size() - kMaxQuarantinedShown) +
             " more\r\n";
      }
      m += "\r\n`safegatectl lists` on the gateway shows every list's state.\r\n";
      return m;
    }
    case policy::AlertKind::kSyslog: {
      std::vector<SyslogField> params = {{"list", n.list},
                                         {"event", std::string(event)},
                                         {"in_force", n.has_good_copy ? "true" : "false"},
                                         {"entries", std::to_string(n.entries)}};
      if (!n.error.empty()) params.push_back({"error", n.error});
      if (!n.quarantined.empty()) {
        params.push_back({"quarantined", std::to_string(n.quarantined.size())});
      }
      if (!deployment_id_.empty()) params.push_back({"deployment", deployment_id_});
      return formatRfc5424(n.kind == ListNotice::Kind::kRecovered ? 5 : 4, n.unix_ms, hostname_,
                           "list", "safegate@32473", params, headline);
    }
  }
  return {};
}

std::string AlertRouter::renderRequestNotice(const Route& r, const RequestNotice& n, int64_t now_ms,
                                             const std::string& key) const {
  const bool illegal = n.kind == AccessRequest::Kind::kSuspectedIllegal;
  const std::string who = n.device + " (" + n.group + ")";
  std::string headline;
  switch (n.kind) {
    case AccessRequest::Kind::kAccess:
      headline = "access request from " + who + ": " + n.name;
      break;
    case AccessRequest::Kind::kWrongBlock:
      headline = "wrong block reported by " + who + ": " + n.name;
      break;
    case AccessRequest::Kind::kSuspectedIllegal:
      headline = "a child reports a page that may be illegal (" + n.group + ")";
      break;
  }
  const std::string_view kind = requestKindName(n.kind);
  switch (r.settings.kind) {
    case policy::AlertKind::kWebhook: {
      nlohmann::json body{{"type", "safegate.request"},
                          {"version", 1},
                          {"gateway", hostname_},
                          {"deployment_id", deployment_id_},
                          {"sent_at", isoMs(now_ms)},
                          {"time", isoMs(n.unix_ms)},
                          {"request", n.request},
                          {"kind", kind},
                          {"device", n.device},
                          {"device_named", n.device_named},
                          {"group", n.group},
                          {"category", n.category},
                          {"reason_given", n.reason_given}};
      if (!illegal) body["name"] = n.name;
      return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    case policy::AlertKind::kEmail: {
      std::string m = emailHead(r, headline, now_ms, key);
      m += "safegate on " + hostname_;
      if (!deployment_id_.empty()) m += " (" + deployment_id_ + ")";
      m += ", " + isoMs(n.unix_ms) + ": request " + std::to_string(n.request) +
           " is waiting.\r\n\r\n";
      if (illegal) {
        m += "A child on " + who + " reports that a page blocked as " + n.category +
             " may be against the law. The address is not in this e-mail; the dashboard's "
             "Requests page shows it, and forwards it to the hotline or closes it.\r\n";
      } else {
        m += (n.kind == AccessRequest::Kind::kAccess ? "Asks to open: "
                                                     : "Says this is blocked "
                                                       "by mistake: ") +
             n.name + " (blocked as " + n.category + ")\r\n";
        m += "Device: " + who + "\r\n";
        m += std::string(n.reason_given ? "The child gave a reason; it is shown on the dashboard."
                                        : "No reason given.") +
             "\r\n\r\nApprove or deny it on the dashboard's Requests page, or with "
             "`safegatectl requests` on the gateway.\r\n";
      }
      if (!n.device_named) {
        m += "\r\nDevices without a name in the configuration are shown by their pseudonym.\r\n";
      }
      return m;
    }
    case policy::AlertKind::kSyslog: {
      std::vector<SyslogField> params = {{"request", std::to_string(n.request)},
                                         {"kind", std::string(kind)},
                                         {"device", n.device},
                                         {"group", n.group},
                                         {"category", n.category}};
      if (!illegal) params.push_back({"name", n.name});
      if (!deployment_id_.empty()) params.push_back({"deployment", deployment_id_});
      // notice; a page that may be illegal is a warning (someone should look today).
      return formatRfc5424(illegal ? 4 : 5, n.unix_ms, hostname_, "request", "safegate@32473",
                           params, headline);
    }
  }
  return {};
}

}  // namespace safegate
