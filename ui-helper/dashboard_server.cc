#include "ui-helper/dashboard_server.h"

#include <charconv>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>

#include "common/clock.h"
#include "ui-helper/accounts.h"
#include "ui-helper/control_client.h"
#include "ui-helper/dashboard.h"
#include "ui-helper/dashboard_pages.h"
#include "ui-helper/form_token.h"
#include "ui-helper/web_util.h"

namespace safegate::ui {
namespace {

int64_t unixNow() { return SystemClock::instance().unixSeconds(); }

}  // namespace

class DashboardServer::Impl {
 public:
  Impl(const policy::UiSettings& ui, std::string socket, bool tls)
      : ui_(ui),
        socket_(std::move(socket)),
        tls_(tls),
        cookie_(tls ? "__Host-sg_session" : "sg_session"),
        sessions_(ui.session_idle_minutes * 60),
        audit_(ui.audit_log) {}

  void install(httplib::Server& server) {
    server.Get("/login", [this](const httplib::Request& req, httplib::Response& res) {
      securityHeaders(res);
      res.set_content(renderLogin("", loginToken(req)), kHtml);
    });
    server.Post("/login", [this](const auto& req, auto& res) { login(req, res); });
    server.Post("/logout", [this](const httplib::Request& req, httplib::Response& res) {
      securityHeaders(res);
      auto s = session(req);
      if (s && sameSecret(req.get_param_value("csrf"), s->csrf)) {
        sessions_.remove(s->id);
        audit(*s, req, "logout", "");
      }
      res.set_header("Set-Cookie", cookie_ + "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" +
                                       (tls_ ? "; Secure" : ""));
      res.set_redirect("/login", 303);
    });
    server.Get("/", [this](const auto& req, auto& res) { page(req, res, &Impl::overview); });
    server.Get("/requests",
               [this](const auto& req, auto& res) { page(req, res, &Impl::requests); });
    server.Post("/requests/decide",
                [this](const auto& req, auto& res) { page(req, res, &Impl::decide); });
    server.Get("/incidents",
               [this](const auto& req, auto& res) { page(req, res, &Impl::incidents); });
    server.Get("/incidents.csv",
               [this](const auto& req, auto& res) { page(req, res, &Impl::incidentsCsvExport); });
    server.Get("/device", [this](const auto& req, auto& res) { page(req, res, &Impl::device); });
    server.Get("/exceptions", [this](const auto& req, auto& res) {
      page(req, res, static_cast<Handler>(&Impl::exceptions));
    });
    server.Post("/exceptions/end",
                [this](const auto& req, auto& res) { page(req, res, &Impl::endException); });
    server.Get("/audit", [this](const auto& req, auto& res) { page(req, res, &Impl::auditView); });
  }

 private:
  static constexpr const char* kHtml = "text/html; charset=utf-8";
  using Handler = void (Impl::*)(const Session&, const httplib::Request&, httplib::Response&);

  std::string loginToken(const httplib::Request& req) {
    return tokens_.issue(clientAddress(req), "dashboard-login", unixNow());
  }

  // The session of the request's cookie, while its account still exists with the same role
  // and password: `safegatectl user remove` or a new password or role ends it at once.
  std::optional<Session> session(const httplib::Request& req) {
    const std::string id = cookieValue(req.get_header_value("Cookie"), cookie_);
    if (id.empty()) return std::nullopt;
    auto s = sessions_.find(id, unixNow());
    if (!s) return s;
    for (const Account& a : accounts()) {
      if (a.name == s->user && a.role == s->role && a.hash == s->hash) return s;
    }
    sessions_.remove(id);
    return std::nullopt;
  }

  void audit(const Session& s, const httplib::Request& req, const std::string& action,
             const std::string& detail) {
    auditAs(s.user, req, action, detail);
  }
  void auditAs(const std::string& user, const httplib::Request& req, const std::string& action,
               const std::string& detail) {
    if (Status st = audit_.append(user, clientAddress(req), action, detail, unixNow()); !st) {
      std::fprintf(stderr, "safegate-ui: audit log: %s\n", st.message().c_str());
    }
  }

  // Signed-in pages: a visitor without a session goes to the sign-in page; a post needs the
  // session's CSRF token.
  void page(const httplib::Request& req, httplib::Response& res, Handler handler) {
    securityHeaders(res);
    auto s = session(req);
    if (!s) {
      res.set_redirect("/login", 303);
      return;
    }
    if (req.method == "POST" && !sameSecret(req.get_param_value("csrf"), s->csrf)) {
      res.status = 403;
      audit(*s, req, "csrf_refused", req.path);
      res.set_content(renderMessage(&*s, "Not done",
                                    "This form was not sent from this dashboard page (its "
                                    "security token is missing or old). Open the page again and "
                                    "retry."),
                      kHtml);
      return;
    }
    (this->*handler)(*s, req, res);
  }

  std::vector<Account> accounts() {
    std::ifstream in(ui_.users_file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    DiagnosticSink sink;
    auto out = parseAccounts(text.str(), ui_.users_file.string(), sink);
    for (const auto& d : sink.all()) std::fprintf(stderr, "%s\n", d.toString().c_str());
    return out;
  }

  void login(const httplib::Request& req, httplib::Response& res) {
    securityHeaders(res);
    const std::string address = clientAddress(req);
    // Account names are at most 32 bytes; a longer one is cut so it cannot bloat the throttle
    // or the audit log (it matches no account either way).
    const std::string name = req.get_param_value("user").substr(0, 64);
    const int64_t now = unixNow();
    if (!tokens_.verify(req.get_param_value("token"), address, "dashboard-login", now)) {
      res.status = 403;
      res.set_content(
          renderLogin("The sign-in form was too old. Please try again.", loginToken(req)), kHtml);
      return;
    }
    const auto locked_page = [&](int64_t wait) {
      res.status = 429;
      res.set_header("Retry-After", std::to_string(wait));
      res.set_content(renderLogin("Too many wrong passwords. Signing in is locked for " +
                                      std::to_string((wait + 59) / 60) + " minutes.",
                                  loginToken(req)),
                      kHtml);
    };
    // Refused while locked without a scrypt check and without an audit line each (the lock
    // itself was audited once), so a locked name costs nothing to hammer.
    if (const int64_t wait = throttle_.lockedFor(name, address, now); wait > 0) {
      locked_page(wait);
      return;
    }
    const std::string password = req.get_param_value("password");
    std::optional<Account> found;
    for (Account& a : accounts()) {
      if (a.name == name) found = std::move(a);
    }
    // An unknown name costs the same scrypt as a known one: no timing tells which exist.
    static const std::string kDummy = [] {
      auto h = hashPassword("safegate-no-such-account");
      if (!h) std::abort();  // no randomness: nothing here can be safe
      return *h;
    }();
    bool ok = false;
    bool locked_now = false;
    {
      // One check at a time: each takes 32 MiB and 0.1 s, so a flood of sign-ins queues
      // instead of taking the router's memory. The lock is checked again and a failure counted
      // inside, so posts queued together cannot make more guesses than the limit.
      std::lock_guard<std::mutex> one_at_a_time(password_check_);
      if (const int64_t wait = throttle_.lockedFor(name, address, unixNow()); wait > 0) {
        locked_page(wait);
        return;
      }
      ok = verifyPassword(password, found ? found->hash : kDummy) && found;
      if (!ok) locked_now = throttle_.failed(name, address, unixNow());
    }
    if (!ok) {
      auditAs(name, req, locked_now ? "login_locked" : "login_failed", "");
      res.status = 401;
      res.set_content(renderLogin(locked_now ? "Too many wrong passwords. Signing in is locked "
                                               "for 15 minutes."
                                             : "Wrong account or password.",
                                  loginToken(req)),
                      kHtml);
      return;
    }
    throttle_.succeeded(name, now);
    const Session s = sessions_.create(found->name, found->role, found->hash, now);
    audit(s, req, "login", std::string(roleName(s.role)));
    res.set_header("Set-Cookie", cookie_ + "=" + s.id + "; Path=/; HttpOnly; SameSite=Strict" +
                                     (tls_ ? "; Secure" : ""));
    res.set_redirect("/", 303);
  }

  // The daemon's answer to `request`, or an empty JSON value when it did not answer.
  nlohmann::json ask(nlohmann::json request, int timeout_ms = 2000) {
    auto r = controlCall(socket_, std::move(request), timeout_ms);
    if (r && r->ok) return std::move(r->result);
    return nlohmann::json();
  }

  // Pages with incident data are for the safeguarding lead and admins; a viewer sees counts.
  bool mayReadIncidents(const Session& s, httplib::Response& res) {
    if (s.role != Role::kViewer) return true;
    res.status = 403;
    res.set_content(renderMessage(&s, "Not allowed",
                                  "A viewer account sees the overview's counts, not incidents, "
                                  "devices or exceptions."),
                    kHtml);
    return false;
  }

  void overview(const Session& s, const httplib::Request& req, httplib::Response& res) {
    OverviewData d;
    d.status = ask({{"cmd", "status"}});
    d.stats = ask({{"cmd", "stats"}});
    const nlohmann::json pending = ask({{"cmd", "requests.list"}, {"state", "pending"}});
    d.pending = pending.value("pending", size_t{0});
    for (const auto& r : pending.value("requests", nlohmann::json::array())) {
      ++d.pending_by_group[r.value("group", std::string())];
    }
    // 24 whole hours, the current one last.
    const int64_t hour = unixNow() / 3600 * 3600;
    d.summary = ask({{"cmd", "incidents.summary"}, {"since_ms", (hour - 23 * 3600) * 1000}});
    d.lists = ask({{"cmd", "lists"}}).value("lists", nlohmann::json::array());
    if (s.role != Role::kViewer) {
      d.incidents = ask({{"cmd", "incidents"}, {"limit", 20}}, 5000)
                        .value("incidents", nlohmann::json::array());
      audit(s, req, "view_incidents", "overview: latest " + std::to_string(d.incidents.size()));
    } else {
      // A viewer sees counts only, but counts of children's blocks are incident data too.
      audit(s, req, "view_counts", "overview");
    }
    res.set_content(renderOverview(s, d), kHtml);
  }

  static IncidentSearch searchOf(const httplib::Request& req) {
    IncidentSearch q;
    q.group = req.get_param_value("group").substr(0, 64);
    q.client = req.get_param_value("client").substr(0, 64);
    q.category = req.get_param_value("category").substr(0, 64);
    q.since = req.get_param_value("since").substr(0, 10);
    q.until = req.get_param_value("until").substr(0, 10);
    q.alerts = req.get_param_value("alerts") == "1";
    const auto number = [&](const char* key) {
      const std::string t = req.get_param_value(key);
      int64_t v = 0;
      std::from_chars(t.data(), t.data() + t.size(), v);
      return v;
    };
    q.before_ms = number("before_ms");
    q.before_id = number("before_id");
    return q;
  }

  void incidents(const Session& s, const httplib::Request& req, httplib::Response& res) {
    if (!mayReadIncidents(s, res)) return;
    const IncidentSearch q = searchOf(req);
    std::vector<std::string> groups;
    for (const auto& g :
         ask({{"cmd", "incidents.summary"}}).value("groups", nlohmann::json::array())) {
      groups.push_back(g.value("group", std::string()));
    }
    nlohmann::json rows = nlohmann::json::array(), next;
    std::string notice;
    auto call = incidentRequest(q, 50);
    if (!call) {
      res.status = 400;
      notice = call.status().message();
    } else if (auto r = controlCall(socket_, *call, 5000); r && r->ok) {
      rows = r->result.value("incidents", nlohmann::json::array());
      next = r->result.value("next", nlohmann::json());
    } else {
      notice = "safegated cannot be asked right now: " + (r ? r->error : r.status().message());
    }
    const std::string query = searchQuery(q);
    audit(s, req, "view_incidents",
          (query.empty() ? std::string("all") : query) + ": " + std::to_string(rows.size()));
    res.set_content(renderIncidents(s, q, groups, rows, next, notice), kHtml);
  }

  void incidentsCsvExport(const Session& s, const httplib::Request& req, httplib::Response& res) {
    if (!mayReadIncidents(s, res)) return;
    IncidentSearch q = searchOf(req);
    q.before_ms = q.before_id = 0;
    auto call = incidentRequest(q, 10000);
    if (!call) {
      res.status = 400;
      res.set_content(renderMessage(&s, "Not exported", call.status().message()), kHtml);
      return;
    }
    auto r = controlCall(socket_, *call, 10000);
    if (!r || !r->ok) {
      res.status = 503;
      res.set_content(renderMessage(&s, "Not exported", "safegated cannot be asked right now."),
                      kHtml);
      return;
    }
    const auto& rows = r->result["incidents"];
    const std::string query = searchQuery(q);
    // Written to the audit log before the data leaves: an export that fails to be audited is
    // still recorded as attempted.
    const nlohmann::json next = r->result.value("next", nlohmann::json::object());
    audit(s, req, "export_incidents",
          (query.empty() ? std::string("all") : query) + ": " + std::to_string(rows.size()) +
              " rows" + (next.empty() ? "" : " (more not exported)"));
    res.set_header("Content-Disposition", "attachment; filename=\"incidents.csv\"");
    res.set_content(incidentsCsv(rows), "text/csv; charset=utf-8");
  }

  void device(const Session& s, const httplib::Request& req, httplib::Response& res) {
    if (!mayReadIncidents(s, res)) return;
    const std::string client = req.get_param_value("client").substr(0, 64);
    if (client.empty()) {
      res.status = 400;
      res.set_content(renderMessage(&s, "Which device?", "Choose a device from an incident list."),
                      kHtml);
      return;
    }
    // Seven whole days, today last.
    const int64_t day = unixNow() / 86400 * 86400;
    const nlohmann::json summary = ask(
        {{"cmd", "incidents.summary"}, {"client", client}, {"since_ms", (day - 6 * 86400) * 1000}},
        5000);
    const nlohmann::json rows = ask({{"cmd", "incidents"}, {"client", client}, {"limit", 20}}, 5000)
                                    .value("incidents", nlohmann::json::array());
    audit(s, req, "view_device", client);
    res.set_content(renderDevice(s, client, summary, rows), kHtml);
  }

  void exceptions(const Session& s, const httplib::Request& req, httplib::Response& res,
                  const std::string& notice) {
    const nlohmann::json list = ask({{"cmd", "exceptions.list"}});
    audit(s, req, "view_exceptions", "");
    res.set_content(
        renderExceptions(s, list.value("exceptions", nlohmann::json::array()),
                         list.is_null() ? "safegated cannot be asked right now." : notice),
        kHtml);
  }
  void exceptions(const Session& s, const httplib::Request& req, httplib::Response& res) {
    if (mayReadIncidents(s, res)) exceptions(s, req, res, {});
  }

  void endException(const Session& s, const httplib::Request& req, httplib::Response& res) {
    if (!mayReadIncidents(s, res)) return;
    uint64_t id = 0;
    const std::string text = req.get_param_value("exception");
    std::from_chars(text.data(), text.data() + text.size(), id);
    auto r = controlCall(socket_, {{"cmd", "exceptions.remove"}, {"exception", id}}, 5000);
    std::string notice;
    if (r && r->ok) {
      notice = "Exception " + std::to_string(id) + " ended.";
      audit(s, req, "end_exception", std::to_string(id));
    } else {
      res.status = 409;
      notice = "Not done: " + (r ? r->error : r.status().message());
    }
    exceptions(s, req, res, notice);
  }

  void requests(const Session& s, const httplib::Request& req, httplib::Response& res,
                const std::string& notice = {}) {
    // Every pending request (at most requests.max_pending), then the newest decided ones: one
    // list of both could push the oldest pending ones - the next to expire - off the page.
    auto pending = controlCall(socket_, {{"cmd", "requests.list"}, {"state", "pending"}}, 2000);
    nlohmann::json rows = nlohmann::json::array();
    const bool up = pending && pending->ok;
    if (up) rows = pending->result["requests"];
    for (const char* state : {"approved", "denied", "expired"}) {
      auto r =
          controlCall(socket_, {{"cmd", "requests.list"}, {"state", state}, {"limit", 50}}, 2000);
      if (r && r->ok) {
        for (auto& row : r->result["requests"]) rows.push_back(std::move(row));
      }
    }
    audit(s, req, "view_requests", "");
    res.set_content(renderRequests(s, rows, up ? notice : "safegated cannot be asked right now."),
                    kHtml);
  }
  void requests(const Session& s, const httplib::Request& req, httplib::Response& res) {
    requests(s, req, res, {});
  }

  void decide(const Session& s, const httplib::Request& req, httplib::Response& res) {
    if (s.role == Role::kViewer) {
      res.status = 403;
      res.set_content(renderMessage(&s, "Not allowed", "A viewer account cannot decide requests."),
                      kHtml);
      return;
    }
    const std::string action = req.get_param_value("action");
    uint64_t id = 0;
    const std::string id_text = req.get_param_value("request");
    std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
    nlohmann::json call = {{"request", id},
                           {"note", req.get_param_value("note")},
                           {"granted_by", s.user + " (dashboard)"}};
    if (action == "approve") {
      call["cmd"] = "requests.approve";
      call["minutes"] = std::atoi(req.get_param_value("minutes").c_str());
      if (req.has_param("category")) call["category"] = req.get_param_value("category");
    } else {
      call["cmd"] = "requests.deny";
    }
    auto r = controlCall(socket_, call, 5000);
    std::string notice;
    if (r && r->ok) {
      const auto& q = r->result["request"];
      notice = "Request " + std::to_string(id) + " " + q.value("state", std::string()) + ": " +
               q.value("name", std::string()) + " for " + q.value("client", std::string()) + ".";
      const bool forwarded = r->result.contains("outbox_id");
      if (forwarded) {
        notice = "Request " + std::to_string(id) + " forwarded to the hotline as " +
                 req.get_param_value("category") + ": " + q.value("name", std::string()) + ".";
      }
      audit(s, req, forwarded ? "forward_hotline" : action,
            "request " + std::to_string(id) + " " + q.value("name", std::string()) + " for " +
                q.value("client", std::string()) +
                (forwarded ? ", " + req.get_param_value("category") + ", outbox " +
                                 std::to_string(r->result.value("outbox_id", uint64_t{0}))
                 : action == "approve" ? ", " + req.get_param_value("minutes") + " minutes"
                                       : ""));
    } else {
      res.status = 409;
      notice = "Not done: " + (r ? r->error : r.status().message());
    }
    requests(s, req, res, notice);
  }

  void auditView(const Session& s, const httplib::Request& req, httplib::Response& res) {
    if (s.role != Role::kAdmin) {
      res.status = 403;
      res.set_content(renderMessage(&s, "Not allowed", "Only an admin account sees the audit log."),
                      kHtml);
      return;
    }
    audit(s, req, "view_audit", "");
    res.set_content(renderAudit(s, audit_.recent(500)), kHtml);
  }

  const policy::UiSettings& ui_;
  std::string socket_;
  bool tls_;
  std::string cookie_;
  SessionStore sessions_;
  AuditLog audit_;
  LoginThrottle throttle_;
  FormTokens tokens_;
  std::mutex password_check_;
};

DashboardServer::DashboardServer(const policy::UiSettings& ui, std::string socket, bool tls)
    : impl_(std::make_unique<Impl>(ui, std::move(socket), tls)) {}
DashboardServer::~DashboardServer() = default;
void DashboardServer::install(httplib::Server& server) { impl_->install(server); }

}  // namespace safegate::ui
