// safegatectl replay --config FILE [--json] CAPTURE.pcap — see ui-helper/replay.h.
//
// One line per observation. Human form:
//   2016-03-01T12:34:56.789Z 10.0.0.5 tls www.casino.example block gambling (lists/gambling.txt:3)
// With --json, one object per line: time, client, server, port, protocol, host, dns_type
// (DNS only), http_path (HTTP only), ech (TLS/QUIC), then the decision as
// policy/decision_text.h renders it for explain too: verdict, decided_by, group, category,
// rule, source, reason. Exit status: 0 when the capture was read (whatever the verdicts), 1 on a
// config or capture error (every diagnostic printed).
#include <iostream>
#include <nlohmann/json.hpp>

#include "policy/policy_engine.h"
#include "ui-helper/commands.h"
#include "ui-helper/replay.h"

namespace safegate::ui {

namespace {

struct ReplayOptions {
  std::string config;
  std::string capture;
  bool json = false;
};

int runReplay(const ReplayOptions& o) {
  DiagnosticSink sink;
  auto loaded = policy::PolicyEngine::load(o.config, sink);
  for (const auto& d : sink.all()) {
    if (d.severity == Severity::kError || !loaded) std::cerr << d.toString() << "\n";
  }
  if (!loaded) {
    if (!sink.hasErrors()) std::cerr << "replay: " << loaded.status().toString() << "\n";
    return 1;
  }
  ReplayStats stats;
  auto obs = replayCapture(o.capture, loaded->snapshot, loaded->config.daemon, &stats);
  if (!obs) {
    std::cerr << "replay: " << obs.status().toString() << "\n";
    return 1;
  }
  for (const ReplayObservation& r : *obs) {
    if (o.json) {
      nlohmann::json j{{"time", isoTimeUtc(r.time_us)},
                       {"client", r.client},
                       {"server", r.server},
                       {"port", r.server_port},
                       {"protocol", protocolName(r.protocol)},
                       {"host", r.host},
                       {"verdict", r.decision.verdict},
                       {"decided_by", r.decision.decided_by},
                       {"group", r.decision.group},
                       {"category", r.decision.category},
                       {"rule", r.decision.rule},
                       {"source", r.decision.source},
                       {"reason", r.decision.reason}};
      if (r.protocol == Protocol::kDns) j["dns_type"] = r.dns_type;
      if (r.protocol == Protocol::kHttp) j["http_path"] = r.http_path;
      if (r.protocol == Protocol::kTls || r.protocol == Protocol::kQuic) j["ech"] = r.ech;
      std::cout << j.dump() << "\n";
    } else {
      std::cout << isoTimeUtc(r.time_us) << " " << r.client << " " << protocolName(r.protocol)
                << " " << (r.host.empty() ? "-" : r.host);
      if (r.protocol == Protocol::kDns) std::cout << " type=" << r.dns_type;
      if (r.protocol == Protocol::kHttp) std::cout << " path=" << r.http_path;
      if (r.ech) std::cout << " ech";
      std::cout << " " << r.decision.verdict;
      if (!r.decision.category.empty()) std::cout << " " << r.decision.category;
      if (!r.decision.source.empty()) std::cout << " (" << r.decision.source << ")";
      std::cout << "\n";
    }
  }
  if (!o.json) {
    std::cerr << "replay: " << obs->size() << " observations from " << stats.frames << " frames ("
              << stats.not_ip << " not IP, " << stats.queued << " queued to the inspector, "
              << stats.malformed << " malformed)\n";
  }
  return 0;
}

}  // namespace

void registerReplayCommand(CLI::App& app) {
  auto opts = std::make_shared<ReplayOptions>();
  CLI::App* cmd = app.add_subcommand(
      "replay",
      "Decide every DNS query, HTTP request, TLS ClientHello and QUIC Initial of a "
      "packet capture with the configured policy");
  cmd->add_option("--config", opts->config, "safegate.toml")->required();
  cmd->add_flag("--json", opts->json, "One JSON object per line");
  cmd->add_option("capture", opts->capture, "pcap or pcapng file")->required();
  cmd->callback([opts] { exitCode() = runReplay(*opts); });
}

}  // namespace safegate::ui
