// safegatectl: the administrator's command-line tool. A thin main: every sub-command lives in
// its own ui-helper/cmd_*.cc and registers itself through ui-helper/commands.h.
#include <CLI/CLI.hpp>

#include "ui-helper/commands.h"

namespace {

using Registrar = void (*)(CLI::App&);

// One line per command file.
constexpr Registrar kRegistrars[] = {
    safegate::ui::registerConfigCommands,  safegate::ui::registerExplainCommand,
    safegate::ui::registerControlCommands, safegate::ui::registerReplayCommand,
    safegate::ui::registerOutboxCommands,  safegate::ui::registerUserCommands,
    safegate::ui::registerManCommand,
};

}  // namespace

int& safegate::ui::exitCode() {
  static int code = 0;
  return code;
}

int main(int argc, char** argv) {
  CLI::App app{"safegatectl: check, explain and control the safegate child-safety filter"};
  app.require_subcommand(1);
  for (Registrar r : kRegistrars) r(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return safegate::ui::exitCode();
}
