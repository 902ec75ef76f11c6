// safegate-ui: the block page a blocked client sees (docs/block-page.md), and the dashboard
// for the safeguarding lead (docs/dashboard.md).
//
// A separate, unprivileged process: it never opens the daemon's database. For each page view
// it asks safegated over the control socket how the running policy decides the host the
// browser asked for, for the client that asked (`explain`, docs/control-protocol.md), and
// words the answer for the client group's age in the visitor's language. The page's form files
// an access request or a wrong-block report (`requests.add`, docs/access-requests.md), guarded
// by a token bound to the client and host (ui-helper/form_token.h). Only plain HTTP: a
// blocked HTTPS site gets safegate's DNS answer, never this page, because safegate does not
// intercept TLS. The dashboard (ui.dashboard_listen, HTTPS) is on its own listener; it too
// asks safegated over the control socket (status, stats, incidents, requests.*): reading the
// incident database directly would need the daemon's file permissions and bypass the
// pseudonymisation and confidentiality rules the daemon applies to every answer.
//
//   safegate-ui --config /etc/safegate/safegate.toml [--listen ADDR:PORT] [--socket PATH]
//               [--translations DIR] [--dashboard-listen ADDR:PORT] [--state-dir DIR] [--check]
//
// Prints "safegate-ui: ready url=http://ADDR:PORT/ languages=N[ metrics=URL][ dashboard=URL]"
// once it accepts connections;
// SIGTERM or SIGINT stops it. Logs nothing about who visited which page.
#include <httplib.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <thread>

#include "common/clock.h"
#include "common/ip_address.h"
#include "filters/domain_name.h"
#include "policy/config.h"
#include "ui-helper/block_page.h"
#include "ui-helper/control_client.h"
#include "ui-helper/dashboard_server.h"
#include "ui-helper/form_token.h"
#include "ui-helper/metrics.h"
#include "ui-helper/self_signed.h"
#include "ui-helper/web_util.h"

namespace safegate::ui {
namespace {

struct Listen {
  std::string host;
  int port = 0;
};

// "addr:port" or "[v6]:port" (checked by the config schema or below).
std::optional<Listen> parseListen(const std::string& text) {
  Listen l;
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size()) return std::nullopt;
  l.host = text.substr(0, colon);
  if (l.host.size() >= 2 && l.host.front() == '[' && l.host.back() == ']') {
    l.host = l.host.substr(1, l.host.size() - 2);
  }
  if (!IpAddress::parse(l.host)) return std::nullopt;
  try {
    size_t used = 0;
    l.port = std::stoi(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1 || l.port < 0 || l.port > 65535) return std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return l;
}

// The host the browser asked for, without the port; "" when it is an address or not a
// host name (someone opened the block page's own address).
std::string requestedHost(const std::string& header) {
  std::string host = header;
  if (!host.empty() && host.front() == '[') return {};  // an IPv6 literal
  if (const size_t colon = host.find(':'); colon != std::string::npos) host.resize(colon);
  if (host.empty() || IpAddress::parse(host)) return {};
  auto canonical = normalizeDomain(host, NameSyntax::kHostname);
  return canonical ? *canonical : std::string();
}

// How the running policy decides `host` for `client`; not blocked when the daemon cannot be
// asked (the page then says so rather than guessing a reason).
BlockFacts askDaemon(const std::string& socket, const std::string& host,
                     const std::string& client) {
  BlockFacts facts;
  facts.name = host;
  if (host.empty()) return facts;
  auto reply = controlCall(socket, {{"cmd", "explain"}, {"name", host}, {"client", client}}, 2000);
  if (!reply || !reply->ok) {
    // Shown as a block without a reason: the browser only reaches this page through a block.
    facts.blocked = true;
    return facts;
  }
  const auto& decisions = reply->result.value("decisions", nlohmann::json::array());
  if (!decisions.is_array() || decisions.empty() || !decisions[0].is_object()) return facts;
  const auto& d = decisions[0];
  facts.blocked = d.value("verdict", std::string()) == "block";
  facts.category = d.value("category", std::string());
  facts.profile = d.value("profile", std::string());
  facts.confidential = d.value("confidential", false);
  return facts;
}

// The school's own folder, read over the installed one ("" = none).
std::filesystem::path customTranslationsDir(const std::string& option,
                                            const policy::Config& config) {
  if (!option.empty()) return option;
  return config.daemon.ui.translations_dir;
}

std::filesystem::path installedTranslationsDir() {
  // Installed: <prefix>/bin/safegate-ui beside <prefix>/share/safegate/translations.
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  const auto installed = exe.parent_path().parent_path() / "share/safegate/translations";
  if (!ec && std::filesystem::exists(installed / "en.toml", ec)) return installed;
  return SAFEGATE_SOURCE_TRANSLATIONS;
}

int run(int argc, char** argv) {
  CLI::App app{"safegate-ui: the block page a blocked client sees (docs/block-page.md)"};
  std::string config_path, listen_option, socket_option, translations_option;
  app.add_option("--config", config_path, "safegate.toml ([ui], control.socket, block_page)")
      ->required();
  app.add_option("--listen", listen_option, "ADDR:PORT to serve on (overrides ui.listen)");
  app.add_option("--socket", socket_option, "safegated's control socket (overrides the config)");
  app.add_option("--translations", translations_option,
                 "folder of <language>.toml files read over the installed ones (overrides "
                 "ui.translations_dir)");
  std::string state_dir_option;
  app.add_option("--state-dir", state_dir_option,
                 "safegated's state directory, as its --state-dir (where the dashboard's "
                 "accounts, certificate and audit log are by default)");
  std::string dashboard_option;
  app.add_option("--dashboard-listen", dashboard_option,
                 "ADDR:PORT of the dashboard (overrides ui.dashboard_listen; \"\" = none)");
  bool check_only = false;
  app.add_flag("--check", check_only,
               "load the config and translations, print what would be served, and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  DiagnosticSink sink;
  auto config =
      policy::loadConfig(config_path, sink,
                         state_dir_option.empty() ? std::filesystem::path()
                                                  : std::filesystem::absolute(state_dir_option));
  for (const auto& d : sink.all()) std::cerr << d.toString() << "\n";
  if (!config) return 1;
  const auto& settings = config->daemon;

  std::string listen_text = listen_option.empty() ? settings.ui.listen : listen_option;
  if (listen_text.empty()) {
    listen_text = settings.block_page.ipv4 ? settings.block_page.ipv4->toString() + ":80"
                                           : std::string("127.0.0.1:8080");
  }
  auto listen = parseListen(listen_text);
  if (!listen) {
    std::cerr << "safegate-ui: \"" << listen_text << "\" is not ADDR:PORT\n";
    return 1;
  }
  const std::filesystem::path installed = installedTranslationsDir();
  const std::filesystem::path custom = customTranslationsDir(translations_option, *config);
  const std::filesystem::path dir = custom.empty() ? installed : custom;
  DiagnosticSink translation_sink;
  auto translations = Translations::load(installed, custom, translation_sink);
  for (const auto& d : translation_sink.all()) std::cerr << d.toString() << "\n";
  if (!translations) {
    std::cerr << "safegate-ui: " << translations.status().message() << "\n";
    return 1;
  }
  if (check_only) {
    std::printf("safegate-ui: ok listen=%s translations=%s languages=%zu\n", listen_text.c_str(),
                dir.c_str(), translations->all().size());
    return 0;
  }
  std::vector<HelpLink> help;
  for (const auto& [label, url] : settings.ui.help_links) help.push_back({label, url});
  const std::string socket =
      socket_option.empty() ? settings.control.socket.string() : socket_option;

  // Signals are taken by one thread (sigwait), so none lands on a server thread.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  httplib::Server server;
  server.set_payload_max_length(16 * 1024);
  server.set_read_timeout(5, 0);
  server.set_write_timeout(5, 0);
  // Headers and body go out as two writes: without NODELAY, Nagle holds the body until the
  // client's delayed ACK (40 ms a page; bench/block_page.sh).
  server.set_tcp_nodelay(true);
  server.set_keep_alive_max_count(100);
  const FormTokens tokens;
  // The third button, "this page may be against the law", only when reports can reach a
  // hotline (the lead forwards them from the dashboard; docs/access-requests.md).
  const bool hotline_on = settings.hotline.enabled;
  auto commonHeaders = [](httplib::Response& res, const Translation& lang) {
    securityHeaders(res);
    res.set_header("Content-Language", lang.code);
    res.set_header("Vary", "Accept-Language");
  };
  server.Get(".*", [&](const httplib::Request& req, httplib::Response& res) {
    const std::string client = clientAddress(req);
    const std::string host = requestedHost(req.get_header_value("Host"));
    const BlockFacts facts = askDaemon(socket, host, client);
    const Translation& lang =
        translations->pick(req.get_param_value("lang"), req.get_header_value("Accept-Language"));
    res.status = facts.blocked ? 403 : 200;
    commonHeaders(res, lang);
    const std::string token =
        facts.blocked && !host.empty()
            ? tokens.issue(client, host, SystemClock::instance().unixSeconds())
            : std::string();
    res.set_content(renderBlockPage(*translations, lang, facts, help, token, hotline_on),
                    "text/html; charset=utf-8");
  });
  // The form: an access request, a wrong-block report or a may-be-illegal report
  // (docs/access-requests.md).
  server.Post(".*", [&](const httplib::Request& req, httplib::Response& res) {
    const std::string client = clientAddress(req);
    const std::string host = requestedHost(req.get_header_value("Host"));
    const Translation& lang =
        translations->pick(req.get_param_value("lang"), req.get_header_value("Accept-Language"));
    commonHeaders(res, lang);
    const std::string kind = req.get_param_value("kind");
    FormOutcome outcome = FormOutcome::kFailed;
    std::string profile;
    // A post from another origin is forged whatever its token; browsers send Origin on POST.
    // "null" is what they send for a page with Referrer-Policy: no-referrer (this one, Fetch
    // §3.2.5), so it cannot be refused; the token decides then.
    const std::string origin = req.get_header_value("Origin");
    const bool same_origin =
        origin.empty() || origin == "null" || origin == "http://" + req.get_header_value("Host");
    if (host.empty() || !same_origin ||
        !tokens.verify(req.get_param_value("token"), client, host,
                       SystemClock::instance().unixSeconds())) {
      outcome = FormOutcome::kExpired;
      res.status = 403;
    } else if (kind != "access" && kind != "wrong-block" &&
               (kind != "suspected-illegal" || !hotline_on)) {
      res.status = 400;
    } else {
      std::string reason = req.get_param_value("reason");
      if (reason.size() > 2000) reason.resize(2000);  // the daemon keeps 500 bytes of it
      auto reply = controlCall(socket,
                               {{"cmd", "requests.add"},
                                {"client", client},
                                {"name", host},
                                {"kind", kind},
                                {"reason", reason}},
                               2000);
      const std::string status =
          reply && reply->ok ? reply->result.value("status", std::string()) : std::string();
      res.status = 200;
      if (status == "already_known" || (status == "added" && kind == "suspected-illegal")) {
        // Known already (a licensed list has it) reads the same as filed: the child is thanked
        // and learns nothing about the list.
        outcome = FormOutcome::kSentIllegal;
      } else if (status == "added") {
        outcome = kind == "access" ? FormOutcome::kSentAccess : FormOutcome::kSentReport;
      } else if (status == "already_pending") {
        outcome = FormOutcome::kAlreadyPending;
      } else if (status == "rate_limited" || status == "full") {
        outcome = FormOutcome::kTooMany;
        res.status = 429;
        const int64_t wait = reply->result.value("retry_after_seconds", int64_t{3600});
        res.set_header("Retry-After", std::to_string(wait));
      } else if (status == "not_blocked") {
        outcome = FormOutcome::kNotBlocked;
      } else {
        outcome = FormOutcome::kFailed;
        res.status = 503;
      }
      if (reply && reply->ok && reply->result.contains("request")) {
        // The request as filed names the group, not its profile: ask explain for the band.
        profile = askDaemon(socket, host, client).profile;
      }
    }
    res.set_content(
        renderFormResult(lang, outcome, "?lang=" + lang.code, help, ageBandForProfile(profile)),
        "text/html; charset=utf-8");
  });

  // /metrics on its own listener (never on the block page's, where every path is a page).
  httplib::Server metrics;
  std::optional<Listen> metrics_listen;
  int metrics_port = 0;
  if (!settings.ui.metrics_listen.empty()) {
    metrics_listen = parseListen(settings.ui.metrics_listen);
    if (!metrics_listen) {
      std::cerr << "safegate-ui: ui.metrics_listen \"" << settings.ui.metrics_listen
                << "\" is not ADDR:PORT\n";
      return 1;
    }
    metrics.set_tcp_nodelay(true);
    metrics.Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
      auto stats = controlCall(socket, {{"cmd", "stats"}}, 2000);
      auto status = controlCall(socket, {{"cmd", "status"}}, 2000);
      const bool up = stats && stats->ok && status && status->ok;
      res.set_content(renderPrometheus(up ? stats->result : nlohmann::json(),
                                       up ? status->result : nlohmann::json()),
                      "text/plain; version=0.0.4; charset=utf-8");
    });
    metrics_port = metrics_listen->port == 0
                       ? metrics.bind_to_any_port(metrics_listen->host)
                       : (metrics.bind_to_port(metrics_listen->host, metrics_listen->port)
                              ? metrics_listen->port
                              : -1);
    if (metrics_port <= 0) {
      std::cerr << "safegate-ui: cannot listen on " << settings.ui.metrics_listen << ": "
                << std::strerror(errno) << "\n";
      return 1;
    }
  }

  // The dashboard, on its own listener (HTTPS unless ui.dashboard_tls is false).
  const std::string dashboard_text =
      app.count("--dashboard-listen") ? dashboard_option : settings.ui.dashboard_listen;
  std::unique_ptr<httplib::Server> dashboard_server;
  std::unique_ptr<DashboardServer> dashboard;
  int dashboard_port = 0;
  std::optional<Listen> dashboard_listen;
  if (!dashboard_text.empty()) {
    dashboard_listen = parseListen(dashboard_text);
    if (!dashboard_listen) {
      std::cerr << "safegate-ui: dashboard address \"" << dashboard_text << "\" is not ADDR:PORT\n";
      return 1;
    }
    if (settings.ui.dashboard_tls) {
      if (Status st = ensureSelfSignedCertificate(
              settings.ui.dashboard_cert, settings.ui.dashboard_key, dashboard_listen->host);
          !st) {
        std::cerr << "safegate-ui: dashboard certificate: " << st.message() << "\n";
        return 1;
      }
      auto tls = std::make_unique<httplib::SSLServer>(settings.ui.dashboard_cert.c_str(),
                                                      settings.ui.dashboard_key.c_str());
      if (!tls->is_valid()) {
        std::cerr << "safegate-ui: cannot use " << settings.ui.dashboard_cert << " and "
                  << settings.ui.dashboard_key << " for HTTPS\n";
        return 1;
      }
      dashboard_server = std::move(tls);
    } else {
      dashboard_server = std::make_unique<httplib::Server>();
    }
    std::error_code ec;
    if (!std::filesystem::exists(settings.ui.users_file, ec)) {
      std::cerr << "safegate-ui: no dashboard accounts yet (" << settings.ui.users_file.string()
                << "); add one with: safegatectl user add NAME --role admin\n";
    }
    dashboard_server->set_payload_max_length(16 * 1024);
    dashboard_server->set_read_timeout(5, 0);
    dashboard_server->set_write_timeout(5, 0);
    dashboard_server->set_tcp_nodelay(true);
    dashboard = std::make_unique<DashboardServer>(settings.ui, socket, settings.ui.dashboard_tls);
    dashboard->install(*dashboard_server);
    dashboard_port =
        dashboard_listen->port == 0
            ? dashboard_server->bind_to_any_port(dashboard_listen->host)
            : (dashboard_server->bind_to_port(dashboard_listen->host, dashboard_listen->port)
                   ? dashboard_listen->port
                   : -1);
    if (dashboard_port <= 0) {
      std::cerr << "safegate-ui: cannot listen on " << dashboard_text << ": "
                << std::strerror(errno) << "\n";
      return 1;
    }
  }

  int port = listen->port;
  if (port == 0) {
    port = server.bind_to_any_port(listen->host);
  } else if (!server.bind_to_port(listen->host, port)) {
    port = -1;
  }
  if (port <= 0) {
    std::cerr << "safegate-ui: cannot listen on " << listen_text << ": " << std::strerror(errno)
              << "\n";
    return 1;
  }
  std::thread stopper([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    server.stop();
    metrics.stop();
    if (dashboard_server) dashboard_server->stop();
  });
  std::thread metrics_thread;
  if (metrics_port > 0) metrics_thread = std::thread([&] { metrics.listen_after_bind(); });
  std::thread dashboard_thread;
  if (dashboard_server) {
    dashboard_thread = std::thread([&] { dashboard_server->listen_after_bind(); });
  }
  const std::string shown_host =
      listen->host.find(':') != std::string::npos ? "[" + listen->host + "]" : listen->host;
  std::string metrics_url;
  if (metrics_port > 0) {
    const std::string& h = metrics_listen->host;
    metrics_url = " metrics=http://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) +
                  ":" + std::to_string(metrics_port) + "/metrics";
  }
  if (dashboard_server) {
    const std::string& h = dashboard_listen->host;
    metrics_url += std::string(" dashboard=") + (settings.ui.dashboard_tls ? "https" : "http") +
                   "://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" +
                   std::to_string(dashboard_port) + "/";
  }
  std::printf("safegate-ui: ready url=http://%s:%d/ languages=%zu%s\n", shown_host.c_str(), port,
              translations->all().size(), metrics_url.c_str());
  std::fflush(stdout);
  const bool ok = server.listen_after_bind();
  // listen_after_bind returns after stop(); a failure before any signal also ends here.
  if (stopper.joinable()) {
    pthread_kill(stopper.native_handle(), SIGTERM);
    stopper.join();
  }
  if (metrics_thread.joinable()) metrics_thread.join();
  if (dashboard_thread.joinable()) dashboard_thread.join();
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace safegate::ui

int main(int argc, char** argv) { return safegate::ui::run(argc, argv); }
