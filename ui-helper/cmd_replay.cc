// safegatectl replay --config FILE [--json] CAPTURE.pcap — what the inline path would see and
// decide in a packet capture (daemon/inline/capture_replay.h).
//
// The inline path is the daemon's (one classifier for NFQUEUE and captures), and ui-helper
// never links daemon/, so this command runs `safegated --config FILE --replay CAPTURE
// [--json]` in its place: same output, same exit status. safegated is found at
// $SAFEGATE_DAEMON, else beside this program (installed: <prefix>/bin/safegatectl and
// <prefix>/sbin/safegated; in a build tree: ui-helper/ and daemon/), else on PATH. Replay
// needs no privilege: safegated opens no socket and reads only the config, its lists and the
// capture in this mode.
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "ui-helper/commands.h"

namespace safegate::ui {

namespace {

struct ReplayOptions {
  std::string config;
  std::string capture;
  bool json = false;
};

// Where safegated is; "" = let execvp search PATH.
std::string daemonProgram() {
  if (const char* env = std::getenv("SAFEGATE_DAEMON"); env != nullptr && *env != '\0') {
    return env;
  }
  std::error_code ec;
  const auto dir = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
  if (ec) return "";
  for (const auto& candidate : {dir / "safegated", dir.parent_path() / "sbin/safegated",
                                dir.parent_path() / "daemon/safegated"}) {
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

int runReplay(const ReplayOptions& o) {
  const std::string program = daemonProgram();
  std::vector<std::string> args = {program.empty() ? "safegated" : program, "--config", o.config,
                                   "--replay", o.capture};
  if (o.json) args.push_back("--json");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::cout.flush();
  if (program.empty()) {
    ::execvp("safegated", argv.data());
  } else {
    ::execv(program.c_str(), argv.data());
  }
  std::cerr << "replay: cannot run " << args[0] << " (" << std::strerror(errno)
            << "); set SAFEGATE_DAEMON to safegated's path\n";
  return 1;
}

}  // namespace

void registerReplayCommand(CLI::App& app) {
  auto opts = std::make_shared<ReplayOptions>();
  CLI::App* cmd = app.add_subcommand(
      "replay",
      "Decide every DNS query, HTTP request, TLS ClientHello and QUIC Initial of a "
      "packet capture with the configured policy, as the inline path would (runs "
      "safegated --replay)");
  cmd->add_option("--config", opts->config, "safegate.toml")->required();
  cmd->add_flag("--json", opts->json, "One JSON object per line");
  cmd->add_option("capture", opts->capture, "pcap or pcapng file")->required();
  cmd->callback([opts] { exitCode() = runReplay(*opts); });
}

}  // namespace safegate::ui
