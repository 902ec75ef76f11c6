// safegatectl sub-commands: each cmd_*.cc registers its sub-commands on the CLI11 app.
//
// To add commands: write ui-helper/cmd_<topic>.cc with `void register<Topic>Commands(
// CLI::App&)`, declare it below and add one line to kRegistrars in safegatectl_main.cc.
// A command's callback sets the process exit code through `exitCode()`.
//
// Offline commands (check-config, config-reference, explain) use the policy library only;
// commands that talk to a running safegated use the control socket (never link daemon/).
// Single-threaded CLI; no shared state beyond the exit code.
#pragma once

#include <CLI/CLI.hpp>

namespace safegate::ui {

// The exit code the command chose (0 when it never set one).
int& exitCode();

// check-config FILE, config-reference (ui-helper/cmd_config.cc).
void registerConfigCommands(CLI::App& app);
// explain (ui-helper/cmd_explain.cc).
void registerExplainCommand(CLI::App& app);
// status, stats, reload, live-explain, incidents, exceptions, pause (ui-helper/cmd_control.cc).
void registerControlCommands(CLI::App& app);
// replay --config FILE [--json] CAPTURE (ui-helper/cmd_replay.cc).
void registerReplayCommand(CLI::App& app);
// report, outbox, outbox retry (ui-helper/cmd_outbox.cc).
void registerOutboxCommands(CLI::App& app);
// user add|remove|list: dashboard accounts (ui-helper/cmd_user.cc).
void registerUserCommands(CLI::App& app);
// man: the manual page from these definitions (ui-helper/cmd_man.cc).
void registerManCommand(CLI::App& app);

}  // namespace safegate::ui
