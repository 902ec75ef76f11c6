// safegatectl commands on the outbox (docs/outbox.md, docs/hotline.md):
//
//   safegatectl report URL --category CAT [--note TEXT] [--reporter ROLE] [--config FILE] [--json]
//   safegatectl outbox [--state pending|dead|delivered]... [--limit N] [--config FILE] [--json]
//   safegatectl outbox retry ID [--config FILE]
//
// They open the outbox file named by the config ([outbox] path under daemon.state_dir) directly:
// it is built for several writers (WAL, short transactions), and a report must be queued even
// while safegated is stopped — the daemon delivers it when it runs. `outbox` never prints a
// message's payload: a hotline report names a page nobody should be shown again.
// Exit codes: 0 done (also "not queued: already on a licensed list"); 1 refused (hotline off,
// bad URL or category, outbox full, unknown id); 2 the config or the outbox cannot be opened.
#include <chrono>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "common/outbox_store.h"
#include "common/utc_time.h"
#include "policy/config.h"
#include "policy/hotline_report.h"
#include "policy/policy_engine.h"
#include "ui-helper/commands.h"

namespace safegate::ui {
namespace {

using nlohmann::json;

constexpr const char* kDefaultConfig = "/etc/safegate/safegate.toml";

int64_t nowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string isoTime(int64_t unix_ms) { return unix_ms <= 0 ? "-" : isoUtc(unix_ms / 1000); }

std::optional<policy::Config> loadOrReport(const std::string& file) {
  DiagnosticSink sink;
  auto cfg = policy::loadConfig(file, sink);
  if (!cfg) {
    for (const auto& d : sink.all()) std::cerr << d.toString() << "\n";
    return std::nullopt;
  }
  return std::move(*cfg);
}

OutboxOptions storeOptions(const policy::Config& cfg) {
  OutboxOptions o;
  o.max_messages = cfg.daemon.outbox.max_messages;
  o.max_age_ms = cfg.daemon.outbox.max_age_hours * 3600 * 1000;
  o.keep_delivered_ms = cfg.daemon.outbox.keep_delivered_days * 24 * 3600 * 1000;
  return o;
}

std::optional<OutboxStore> openStore(const policy::Config& cfg) {
  auto store = OutboxStore::open(cfg.daemon.outbox.path.string(), storeOptions(cfg));
  if (!store) {
    std::cerr << "safegatectl: outbox: " << store.status().message() << "\n";
    return std::nullopt;
  }
  return std::move(store.value());
}

struct ReportArgs {
  std::string config = kDefaultConfig;
  std::string url;
  std::string category;
  std::string note;
  std::string reporter = "admin";
  bool json = false;
};

// True when the host is already on a licensed list: then the hotline has it. The answer says
// only that, never which entry or list matched (docs/categories.md: licensed entries are never
// shown).
Result<bool> onLicensedList(const policy::Config& cfg, const std::string& host) {
  DiagnosticSink sink;
  auto snap = policy::PolicySnapshot::compile(cfg, sink);
  if (!snap) return Status::invalid("the policy does not compile: " + sink.toString());
  auto name = normalizeDomain(host, NameSyntax::kHostname);
  if (!name) return false;  // an IP literal: lists hold names
  RequestFacts facts;
  facts.client = *IpAddress::parse("0.0.0.0");
  facts.name = *name;
  facts.unix_time_seconds = nowUnixMs() / 1000;
  const Decision d = (*snap)->decide(facts);
  const auto* info = policy::findCategory(d.category);
  return d.confidential || (info && info->kind == policy::CategoryKind::kIllegal);
}

int runReport(const ReportArgs& a) {
  auto cfg = loadOrReport(a.config);
  if (!cfg) return 2;
  const policy::HotlineSettings& h = cfg->daemon.hotline;
  if (!h.enabled) {
    std::cerr << "safegatectl: report: the hotline is off ([hotline] enabled = false in "
              << a.config << "); nothing was queued. docs/hotline.md says how to enable it.\n";
    return 1;
  }
  auto location = parseReportedLocation(a.url);
  if (!location) {
    std::cerr << "safegatectl: report: " << location.status().message() << "\n";
    return 1;
  }
  auto role = parseReporterRole(a.reporter);
  if (!role) {
    std::cerr << "safegatectl: report: --reporter must be admin, staff, child or parent\n";
    return 1;
  }
  auto listed = onLicensedList(*cfg, location->host);
  if (!listed) {
    std::cerr << "safegatectl: report: " << listed.status().message() << "\n";
    return 2;
  }
  if (listed.value()) {
    if (a.json) {
      std::cout << json{{"queued", false}, {"reason", "already-on-licensed-list"}}.dump() << "\n";
    } else {
      std::cout << "not queued: this address is already on a licensed list, which the hotline "
                   "maintains; a report would tell it nothing new.\n";
    }
    return 0;
  }
  auto key = newIdempotencyKey();
  if (!key) {
    std::cerr << "safegatectl: report: " << key.status().message() << "\n";
    return 2;
  }
  HotlineReportInput in;
  in.location = *location;
  in.category = a.category;
  in.reporter = *role;
  in.note = a.note;
  in.reported_unix_seconds = nowUnixMs() / 1000;
  in.report_id = key.value();
  in.deployment_id = h.deployment_id;
  in.operator_contact = h.operator_contact;
  auto body = buildHotlineReport(in);
  if (!body) {
    std::cerr << "safegatectl: report: " << body.status().message() << "\n";
    return 1;
  }
  auto store = openStore(*cfg);
  if (!store) return 2;
  OutboxNewMessage m;
  m.kind = "hotline-report";
  m.destination = "hotline";
  m.idempotency_key = key.value();
  m.payload = body.value();
  auto id = store->enqueue(m, nowUnixMs());
  if (!id) {
    std::cerr << "safegatectl: report: " << id.status().message() << "\n";
    return 1;
  }
  if (a.json) {
    std::cout << json{{"queued", true}, {"id", id.value()}, {"report_id", key.value()}}.dump()
              << "\n";
  } else {
    std::cout << "queued hotline report " << id.value()
              << "; safegated delivers it (see `safegatectl outbox`)\n";
  }
  return 0;
}

struct OutboxArgs {
  std::string config = kDefaultConfig;
  std::vector<std::string> states;
  int limit = 100;
  bool json = false;
  int64_t retry_id = 0;
};

json messageJson(const OutboxMessage& m) {
  return json{{"id", m.id},
              {"state", outboxStateName(m.state)},
              {"kind", m.kind},
              {"destination", m.destination},
              {"attempts", m.attempts},
              {"created", isoTime(m.created_unix_ms)},
              {"next_attempt", m.state == OutboxState::kPending ? isoTime(m.next_attempt_unix_ms)
                                                                : std::string("-")},
              {"expires", isoTime(m.expires_unix_ms)},
              {"finished", isoTime(m.finished_unix_ms)},
              {"last_error", m.last_error}};
}

int runOutboxList(const OutboxArgs& a) {
  std::vector<OutboxState> states;
  for (const auto& s : a.states) {
    auto st = parseOutboxState(s);
    if (!st) {
      std::cerr << "safegatectl: outbox: --state must be pending, dead or delivered\n";
      return 1;
    }
    states.push_back(*st);
  }
  if (states.empty()) states = {OutboxState::kPending, OutboxState::kDead};
  auto cfg = loadOrReport(a.config);
  if (!cfg) return 2;
  auto store = openStore(*cfg);
  if (!store) return 2;
  auto rows = store->list(states, a.limit);
  auto counts = store->counts();
  if (!rows || !counts) {
    std::cerr << "safegatectl: outbox: " << (rows ? counts.status() : rows.status()).message()
              << "\n";
    return 2;
  }
  if (a.json) {
    for (const auto& m : rows.value()) std::cout << messageJson(m).dump() << "\n";
    return 0;
  }
  std::cout << "outbox " << cfg->daemon.outbox.path.string() << ": " << counts->pending
            << " pending, " << counts->dead << " dead, " << counts->delivered << " delivered (kept "
            << cfg->daemon.outbox.keep_delivered_days << " days)\n";
  if (rows->empty()) return 0;
  std::cout << std::left << std::setw(8) << "ID" << std::setw(11) << "STATE" << std::setw(16)
            << "KIND" << std::setw(14) << "DESTINATION" << std::setw(9) << "TRIES" << std::setw(22)
            << "NEXT ATTEMPT"
            << "LAST ERROR\n";
  for (const auto& m : rows.value()) {
    const json j = messageJson(m);
    std::cout << std::left << std::setw(8) << m.id << std::setw(11) << outboxStateName(m.state)
              << std::setw(16) << m.kind << std::setw(14) << m.destination << std::setw(9)
              << m.attempts << std::setw(22) << j["next_attempt"].get<std::string>()
              << (m.last_error.empty() ? "-" : m.last_error) << "\n";
  }
  return 0;
}

int runOutboxRetry(const OutboxArgs& a) {
  auto cfg = loadOrReport(a.config);
  if (!cfg) return 2;
  auto store = openStore(*cfg);
  if (!store) return 2;
  if (Status s = store->retry(a.retry_id, nowUnixMs()); !s) {
    std::cerr << "safegatectl: outbox retry: " << s.message() << "\n";
    return 1;
  }
  std::cout << "message " << a.retry_id << " will be tried again now\n";
  return 0;
}

}  // namespace

void registerOutboxCommands(CLI::App& app) {
  auto r = std::make_shared<ReportArgs>();
  CLI::App* report = app.add_subcommand(
      "report", "Queue a URL-only report of suspected illegal content for the hotline");
  report->add_option("URL", r->url, "The page (URL) or host to report")->required();
  report->add_option("--category", r->category, "child-abuse or terrorism")->required();
  report->add_option("--note", r->note, "What the reporter saw (at most 1000 bytes; no names)");
  report->add_option("--reporter", r->reporter, "admin (default), staff, child or parent");
  report->add_option("--config", r->config, "Config file (default /etc/safegate/safegate.toml)");
  report->add_flag("--json", r->json, "Print the result as JSON");
  report->callback([r] { exitCode() = runReport(*r); });

  auto o = std::make_shared<OutboxArgs>();
  CLI::App* outbox = app.add_subcommand(
      "outbox", "List undelivered (pending and dead) outbound messages, or retry one");
  outbox->add_option("--state", o->states, "pending, dead or delivered (repeatable)");
  outbox->add_option("--limit", o->limit, "At most this many messages (default 100)");
  outbox->add_option("--config", o->config, "Config file (default /etc/safegate/safegate.toml)");
  outbox->add_flag("--json", o->json, "One JSON object per message");
  outbox->require_subcommand(0, 1);
  CLI::App* retry = outbox->add_subcommand("retry", "Try a dead or waiting message again now");
  retry->add_option("ID", o->retry_id, "Message id (see safegatectl outbox)")->required();
  retry->add_option("--config", o->config, "Config file (default /etc/safegate/safegate.toml)");
  retry->callback([o] { exitCode() = runOutboxRetry(*o); });
  outbox->callback([o, retry] {
    if (retry->parsed()) return;
    exitCode() = runOutboxList(*o);
  });
}

}  // namespace safegate::ui
