// safegated: the safegate daemon. `safegated --config FILE` runs in the foreground
// (docs/operations.md); see daemon/daemon.h for what it does and how it signals readiness.
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "daemon/daemon.h"
#include "daemon/list_compiler.h"
#include "daemon/privileges.h"

namespace {

void usage() {
  fprintf(stderr,
          "usage: safegated --config FILE [--listen ADDR:PORT]... [--upstream ADDR[:PORT]]...\n"
          "                 [--state-dir DIR] [--control-socket PATH] [--allow-empty-policy]\n"
          "  --listen and --upstream replace dns.listen / dns.upstreams from the config\n"
          "  (an empty dns.upstreams uses the nameservers of /etc/resolv.conf); --state-dir\n"
          "  replaces daemon.state_dir (every state file under it moves along: database,\n"
          "  secret, socket, outbox, list copies, compiled lists).\n"
          "  --allow-empty-policy starts even if a group that had lists at the last run would\n"
          "  have none (refused otherwise: the mark of a truncated config).\n");
}

}  // namespace

int main(int argc, char** argv) {
  safegate::DaemonOptions options;
  bool compile_lists = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        fprintf(stderr, "safegated: %s needs a value\n", name);
        exit(2);
      }
      return argv[++i];
    };
    if (arg == "--config" || arg == "-c") {
      options.config_file = value("--config");
    } else if (arg == "--listen") {
      options.listen_override.push_back(value("--listen"));
    } else if (arg == "--upstream") {
      options.upstream_override.push_back(value("--upstream"));
    } else if (arg == "--state-dir") {
      // Absolute once: reloads resolve it again, whatever the working directory is then.
      options.state_dir_override = std::filesystem::absolute(value("--state-dir"));
    } else if (arg == "--compile-lists") {
      compile_lists = true;  // internal: the daemon's list compiler (daemon/list_compiler.h)
    } else if (arg == "--allow-empty-policy") {
      options.allow_empty_policy = true;
    } else if (arg == "--control-socket") {
      options.control_socket_override = value("--control-socket");
    } else if (arg == "--help" || arg == "-h") {
      usage();
      return 0;
    } else {
      fprintf(stderr, "safegated: unknown argument \"%s\"\n", arg.c_str());
      usage();
      return 2;
    }
  }
  if (options.config_file.empty()) {
    usage();
    return 2;
  }
  // State files (incident database, WAL, pseudonym secret) are personal data: never
  // world-readable, whatever umask the caller had (docs/privacy.md).
  umask(027);
  if (compile_lists) {
    safegate::dropAllCapabilities();  // inherited ambient ones included: it only reads and writes
    return safegate::compileListsOnly(options.config_file, options.state_dir_override);
  }
  safegate::Daemon daemon(std::move(options));
  return daemon.run();
}
