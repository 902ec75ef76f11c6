#include "ui-helper/dashboard.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>

#include "common/fd.h"
#include "common/utc_time.h"
#include "ui-helper/block_page.h"

namespace safegate::ui {

std::string randomToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) std::abort();  // no randomness: nothing is safe
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

Session SessionStore::create(const std::string& user, Role role, const std::string& hash,
                             int64_t now) {
  Session s{randomToken(), randomToken(), user, role, hash, now, now};
  std::lock_guard<std::mutex> lock(mutex_);
  // Sweep ended sessions here, so the map never outgrows the people signed in.
  std::erase_if(sessions_, [&](const auto& kv) {
    return now - kv.second.last_seen_unix > idle_ || now - kv.second.created_unix > max_;
  });
  sessions_[s.id] = s;
  return s;
}

std::optional<Session> SessionStore::find(const std::string& id, int64_t now) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  if (now - it->second.last_seen_unix > idle_ || now - it->second.created_unix > max_) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.last_seen_unix = now;
  return it->second;
}

void SessionStore::remove(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  sessions_.erase(id);
}

size_t SessionStore::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return sessions_.size();
}

bool LoginThrottle::add(Record& r, int limit, int64_t now) {
  std::erase_if(r.failures, [&](int64_t t) { return now - t >= kWindowSeconds; });
  r.failures.push_back(now);
  if (static_cast<int>(r.failures.size()) >= limit && r.locked_until <= now) {
    r.locked_until = now + kLockSeconds;
    r.failures.clear();
    return true;
  }
  return false;
}

int64_t LoginThrottle::lockedFor(const std::string& name, const std::string& address, int64_t now) {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t wait = 0;
  if (auto it = names_.find(name); it != names_.end()) {
    wait = std::max(wait, it->second.locked_until - now);
  }
  if (auto it = addresses_.find(address); it != addresses_.end()) {
    wait = std::max(wait, it->second.locked_until - now);
  }
  return std::max<int64_t>(wait, 0);
}

bool LoginThrottle::failed(const std::string& name, const std::string& address, int64_t now) {
  std::lock_guard<std::mutex> lock(mutex_);
  // Bounded: a flood of made-up names cannot grow the maps without limit. Records that lock
  // nothing and hold no recent failure go first; a lock in force is never dropped.
  for (auto* records : {&names_, &addresses_}) {
    if (records->size() < kMaxRecords) continue;
    std::erase_if(*records, [&](const auto& kv) {
      return kv.second.locked_until <= now &&
             (kv.second.failures.empty() || now - kv.second.failures.back() >= kWindowSeconds);
    });
    // Still full: a flood of names tried once each. Drop those first, so a real account's
    // recent failures are the last thing a flood can wash out.
    if (records->size() >= kMaxRecords) {
      std::erase_if(*records, [&](const auto& kv) {
        return kv.second.locked_until <= now && kv.second.failures.size() <= 1;
      });
    }
    if (records->size() >= kMaxRecords) {
      std::erase_if(*records, [&](const auto& kv) { return kv.second.locked_until <= now; });
    }
  }
  const bool by_name = add(names_[name], kMaxPerName, now);
  const bool by_address = add(addresses_[address], kMaxPerAddress, now);
  return by_name || by_address;
}

void LoginThrottle::succeeded(const std::string& name, int64_t now) {
  std::lock_guard<std::mutex> lock(mutex_);
  // A lock in force stays; once it has run out, a right password starts the count afresh.
  auto it = names_.find(name);
  if (it != names_.end() && it->second.locked_until <= now) names_.erase(it);
}

Status AuditLog::append(const std::string& user, const std::string& address,
                        const std::string& action, const std::string& detail, int64_t now) {
  nlohmann::json j = {{"time", isoUtc(now)},
                      {"user", user},
                      {"address", address},
                      {"action", action},
                      {"detail", detail}};
  const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::lock_guard<std::mutex> lock(mutex_);
  Fd fd(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
  if (!fd) return Status::io("cannot open " + path_.string() + ": " + std::strerror(errno));
  if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    return Status::io("cannot write " + path_.string() + ": " + std::strerror(errno));
  }
  return Status::ok();
}

std::vector<nlohmann::json> AuditLog::recent(size_t limit) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::ifstream in(path_);
  std::deque<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(std::move(line));
    if (lines.size() > limit) lines.pop_front();
  }
  std::vector<nlohmann::json> out;
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    auto j = nlohmann::json::parse(*it, nullptr, false);
    if (j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

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
    "box-sizing:border-box}form.login button{margin-top:1rem}";

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
    h += "<nav aria-label=\"Dashboard\">\n<ul>\n<li><a href=\"/\">Overview</a></li>\n"
         "<li><a href=\"/requests\">Requests</a></li>\n";
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

std::string renderOverview(const Session& user, const nlohmann::json& status,
                           const nlohmann::json& stats, size_t pending_requests,
                           const nlohmann::json& incidents) {
  std::string h;
  open(h, "Overview", &user);
  const std::string health = cell(status, "health");
  const bool up = status.is_object() && !status.empty();
  const bool healthy = up && health.starts_with("ok");
  h += "<div class=\"cards\">\n<div class=\"card\">Filter <strong class=\"" +
       std::string(healthy ? "ok" : "bad") + "\">" +
       (up ? e(healthy ? "working" : "needs attention") : "not reachable") + "</strong>" +
       e(health) + "</div>\n";
  const nlohmann::json dns = stats.is_object() ? stats.value("dns", nlohmann::json()) : nullptr;
  h += "<div class=\"card\">Questions answered <strong>" + e(cell(dns, "queries_udp")) +
       "</strong>over UDP since start</div>\n";
  h += "<div class=\"card\">Blocked <strong>" + e(cell(dns, "blocked")) +
       "</strong>since start</div>\n";
  h += "<div class=\"card\">Requests waiting <strong>" + std::to_string(pending_requests) +
       "</strong><a href=\"/requests\">Decide</a></div>\n</div>\n";
  if (user.role != Role::kViewer) {
    h += "<h2>Latest incidents</h2>\n";
    if (!incidents.is_array() || incidents.empty()) {
      h += "<p>None recorded.</p>\n";
    } else {
      h += "<table>\n<caption>The newest incidents first</caption>\n<thead><tr><th scope=\"col\">"
           "Time (UTC)</th><th scope=\"col\">Device</th><th scope=\"col\">Group</th>"
           "<th scope=\"col\">Name</th><th scope=\"col\">Category</th>"
           "<th scope=\"col\">Verdict</th></tr></thead>\n<tbody>\n";
      for (const auto& i : incidents) {
        h += "<tr><td>" + e(time(i, "time_ms", 1000)) + "</td><td>" + e(cell(i, "client")) +
             "</td><td>" + e(cell(i, "group")) + "</td><td>" + e(cell(i, "name")) + "</td><td>" +
             e(cell(i, "category")) + "</td><td>" + e(cell(i, "verdict")) + "</td></tr>\n";
      }
      h += "</tbody>\n</table>\n";
    }
  }
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
        const std::string f = "r" + e(id);
        row +=
            "<td><form method=\"post\" action=\"/requests/decide\">\n"
            "<input type=\"hidden\" name=\"csrf\" value=\"" +
            e(user.csrf) + "\">\n<input type=\"hidden\" name=\"request\" value=\"" + e(id) +
            "\">\n<label for=\"" + f + "m\">For</label>\n<select id=\"" + f +
            "m\" name=\"minutes\">\n<option value=\"30\">30 minutes</option>\n"
            "<option value=\"60\" selected>1 hour</option>\n"
            "<option value=\"240\">4 hours</option>\n"
            "<option value=\"1440\">1 day</option>\n"
            "<option value=\"10080\">7 days</option>\n</select>\n<label for=\"" +
            f + "n\">Note</label>\n<input id=\"" + f +
            "n\" name=\"note\" maxlength=\"200\">\n"
            "<button class=\"primary\" type=\"submit\" name=\"action\" value=\"approve\" "
            "aria-label=\"Approve request " +
            e(id) +
            "\">Approve</button>\n<button type=\"submit\" name=\"action\" "
            "value=\"deny\" aria-label=\"Deny request " +
            e(id) + "\">Deny</button>\n</form></td>";
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
