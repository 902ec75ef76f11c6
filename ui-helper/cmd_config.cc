// safegatectl check-config FILE and safegatectl config-reference (offline commands).
//
// check-config runs exactly what safegated runs on start and reload (load, validate, compile
// the policy with its lists) and prints every diagnostic as "path:line:col: error: message"
// on standard error; exit 0 when the config is valid, 1 otherwise.
#include <iostream>
#include <memory>
#include <string>

#include "policy/config.h"
#include "policy/config_schema.h"
#include "policy/policy_engine.h"
#include "ui-helper/commands.h"

namespace safegate::ui {

namespace {

int runCheckConfig(const std::string& file) {
  DiagnosticSink sink;
  auto cfg = policy::loadConfig(file, sink);
  Result<policy::PolicySnapshotPtr> snap = Status::invalid("config not loaded");
  if (cfg) snap = policy::PolicySnapshot::compile(*cfg, sink);
  for (const auto& d : sink.all()) std::cerr << d.toString() << "\n";
  if (!cfg || !snap || sink.hasErrors()) {
    std::cerr << file << ": " << sink.errorCount() << " error"
              << (sink.errorCount() == 1 ? "" : "s") << "\n";
    return 1;
  }
  std::cout << file << ": ok (" << cfg->groups.size() << " groups, " << cfg->lists.size()
            << " lists, " << cfg->rules.size() << " rule sets, " << cfg->schedules.size()
            << " schedules, " << cfg->clients.size() << " clients, "
            << (*snap)->stats().list_entries << " list entries)\n";
  return 0;
}

}  // namespace

void registerConfigCommands(CLI::App& app) {
  auto file = std::make_shared<std::string>();
  CLI::App* check = app.add_subcommand(
      "check-config",
      "Validate a config file and everything it includes and loads; exit 0 "
      "when valid, else print every diagnostic as path:line:col: error: message");
  check->add_option("FILE", *file, "Config file (TOML)")->required();
  check->callback([file] { exitCode() = runCheckConfig(*file); });

  CLI::App* ref = app.add_subcommand(
      "config-reference", "Print the configuration reference (Markdown) generated from the schema");
  ref->callback([] {
    std::cout << policy::generateConfigReference();
    exitCode() = 0;
  });
}

}  // namespace safegate::ui
