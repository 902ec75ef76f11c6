// safegatectl explain: the decision for each name, offline, from the same compiled policy the
// daemon uses:
//
//   safegatectl explain --config FILE --client IP [--mac MAC] [--at ISO-8601] [--json] [NAME...]
//   safegatectl explain --list FILE [--list FILE...] [--json] [NAME...]
//
// Without NAMEs, names are read one per line from standard input (blank lines and # comments
// skipped). With --json, one JSON object per line: name, verdict, group, category, rule,
// source (file:line), reason, plus alert, log, block_answer, rewrite_target and decided_by.
// Entries of the licensed illegal-content categories are never printed: rule and source stay
// empty for them. `rule` is the line of the list file as written ("0.0.0.0 example.com",
// "||example.com^"), or the regex / config name that decided. Exit 0; 1 when the config does not
// load; 2 when a name is not a valid host name (reported per name, the others are still explained).
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "filters/domain_name.h"
#include "policy/decision_text.h"
#include "policy/policy_engine.h"
#include "ui-helper/commands.h"

namespace safegate::ui {

namespace {

struct ExplainOptions {
  std::string config;
  std::vector<std::string> lists;
  std::string client = "0.0.0.0";
  std::string mac;
  std::string at;
  bool json = false;
  std::vector<std::string> names;
};

// ISO 8601: YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM|-HH:MM]; without a zone, local time in `tz`.
std::optional<int64_t> parseIsoTime(std::string_view s, const policy::TimeZone& tz) {
  auto num = [&](size_t at, size_t len, int& out) {
    if (at + len > s.size()) return false;
    out = 0;
    for (size_t i = at; i < at + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int y, mo, d, h = 0, mi = 0, se = 0;
  if (!num(0, 4, y) || s.size() < 10 || s[4] != '-' || !num(5, 2, mo) || s[7] != '-' ||
      !num(8, 2, d)) {
    return std::nullopt;
  }
  size_t pos = 10;
  if (pos < s.size() && (s[pos] == 'T' || s[pos] == ' ')) {
    if (!num(pos + 1, 2, h) || pos + 3 >= s.size() || s[pos + 3] != ':' || !num(pos + 4, 2, mi)) {
      return std::nullopt;
    }
    pos += 6;
    if (pos < s.size() && s[pos] == ':') {
      if (!num(pos + 1, 2, se)) return std::nullopt;
      pos += 3;
    }
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return std::nullopt;
  const int64_t local =
      static_cast<int64_t>(policy::daysFromCivil(y, mo, d)) * 86400 + h * 3600 + mi * 60 + se;
  if (pos == s.size()) {
    // Local wall time in the policy's zone.
    const int64_t guess = local - tz.offsetAt(local);
    return local - tz.offsetAt(guess);
  }
  if (s[pos] == 'Z' && pos + 1 == s.size()) return local;
  if ((s[pos] == '+' || s[pos] == '-') && s.size() == pos + 6 && s[pos + 3] == ':') {
    int oh, om;
    if (!num(pos + 1, 2, oh) || !num(pos + 4, 2, om)) return std::nullopt;
    const int64_t off = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
    return local - off;
  }
  return std::nullopt;
}

// The rule as written in its list file: explain is control plane, so it reads line N of the
// file (each file once) rather than making the snapshot keep every line's text. Used only
// when the line really contains the listed name (a group's own names point at the group's
// config line, which does not).
class RuleTextReader {
 public:
  std::string ruleAsWritten(std::string_view file, uint32_t line, std::string_view listed) {
    if (file.empty() || line == 0 || listed.empty()) return std::string(listed);
    auto it = files_.find(std::string(file));
    if (it == files_.end()) {
      std::vector<std::string> lines;
      std::ifstream in{std::string(file)};
      std::string l;
      while (std::getline(in, l)) lines.push_back(l);
      it = files_.emplace(std::string(file), std::move(lines)).first;
    }
    if (line > it->second.size()) return std::string(listed);
    std::string text = it->second[line - 1];
    const size_t a = text.find_first_not_of(" \t");
    const size_t b = text.find_last_not_of(" \t\r");
    text = a == std::string::npos ? std::string() : text.substr(a, b - a + 1);
    if (text.find(listed) == std::string::npos || text.size() > 1024) return std::string(listed);
    return text;
  }

 private:
  std::map<std::string, std::vector<std::string>> files_;
};

int runExplain(const ExplainOptions& o) {
  if (o.config.empty() == o.lists.empty()) {
    std::cerr << "explain: give either --config FILE or one or more --list FILE\n";
    return 1;
  }
  DiagnosticSink sink;
  policy::Config cfg;
  if (!o.config.empty()) {
    auto loaded = policy::loadConfig(o.config, sink);
    if (!loaded) {
      for (const auto& d : sink.all()) std::cerr << d.toString() << "\n";
      return 1;
    }
    cfg = std::move(*loaded);
  } else {
    std::vector<std::filesystem::path> paths(o.lists.begin(), o.lists.end());
    cfg = policy::configForLists(paths);
  }
  auto snap = policy::PolicySnapshot::compile(cfg, sink);
  for (const auto& d : sink.all()) {
    if (d.severity == Severity::kError) std::cerr << d.toString() << "\n";
  }
  if (!snap) return 1;

  auto client = IpAddress::parse(o.client);
  if (!client) {
    std::cerr << "explain: --client \"" << o.client << "\" is not an IP address\n";
    return 1;
  }
  std::optional<MacAddress> mac;
  if (!o.mac.empty()) {
    mac = MacAddress::parse(o.mac);
    if (!mac) {
      std::cerr << "explain: --mac \"" << o.mac << "\" is not a MAC address\n";
      return 1;
    }
  }
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  if (!o.at.empty()) {
    auto tz = policy::TimeZone::load(cfg.policy.time_zone);
    auto t = parseIsoTime(o.at, tz ? *tz : policy::TimeZone::utc());
    if (!t) {
      std::cerr << "explain: --at \"" << o.at
                << "\" is not ISO 8601 (YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM])\n";
      return 1;
    }
    now = *t;
  }

  int rc = 0;
  RuleTextReader rule_text;
  auto explainOne = [&](const std::string& raw) {
    auto canonical = normalizeDomain(raw, NameSyntax::kHostname);
    if (!canonical) {
      rc = 2;
      if (o.json) {
        nlohmann::json j{{"name", raw}, {"error", canonical.status().message()}};
        std::cout << j.dump() << "\n";
      } else {
        std::cerr << "explain: \"" << raw << "\": " << canonical.status().message() << "\n";
      }
      return;
    }
    RequestFacts facts;
    facts.client = *client;
    facts.mac = mac;
    facts.name = *canonical;
    facts.unix_time_seconds = now;
    const Decision d = (*snap)->decide(facts);
    const bool from_list = d.reason == DecisionReason::kCategory ||
                           d.reason == DecisionReason::kAllowList ||
                           d.reason == DecisionReason::kListException;
    const std::string rule = from_list && !d.confidential
                                 ? rule_text.ruleAsWritten(d.source_file, d.source_line, d.rule)
                                 : std::string();
    const DecisionText t = describeDecision(d, rule);
    if (o.json) {
      std::cout << decisionJson(*canonical, t).dump() << "\n";
    } else {
      std::cout << *canonical << ": " << t.verdict << " — " << t.reason << "\n";
    }
  };
  if (!o.names.empty()) {
    for (const auto& n : o.names) explainOne(n);
  } else {
    std::string line;
    while (std::getline(std::cin, line)) {
      const size_t a = line.find_first_not_of(" \t\r");
      if (a == std::string::npos || line[a] == '#') continue;
      const size_t b = line.find_last_not_of(" \t\r");
      explainOne(line.substr(a, b - a + 1));
    }
  }
  return rc;
}

}  // namespace

void registerExplainCommand(CLI::App& app) {
  auto o = std::make_shared<ExplainOptions>();
  CLI::App* cmd = app.add_subcommand(
      "explain", "Show the decision for each NAME (or names read from stdin) for one client");
  cmd->add_option("--config", o->config, "Config file (the policy the daemon uses)");
  cmd->add_option("--list", o->lists,
                  "List file to judge names against alone (repeatable, instead of --config)")
      ->allow_extra_args(false);
  cmd->add_option("--client", o->client, "Client IP address (default 0.0.0.0: default group)");
  cmd->add_option("--mac", o->mac, "Client MAC address");
  cmd->add_option("--at", o->at,
                  "Time as ISO 8601 (2026-11-23T21:30:00Z, or local time in policy.time_zone)");
  cmd->add_flag("--json", o->json, "One JSON object per line");
  cmd->add_option("NAME", o->names, "Host names (default: one per line from stdin)");
  cmd->callback([o] { exitCode() = runExplain(*o); });
}

}  // namespace safegate::ui
