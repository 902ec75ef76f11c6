// safegated: the safegate daemon. `safegated --config FILE` runs in the foreground
// (docs/operations.md); see daemon/daemon.h for what it does and how it signals readiness.
// The options are one table: parsing, --help and the manual page (--man) all read it.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/man_page.h"
#include "daemon/daemon.h"
#include "daemon/inline/capture_replay.h"
#include "daemon/lists/list_compiler.h"
#include "daemon/privileges.h"

#ifndef SAFEGATE_VERSION
#define SAFEGATE_VERSION "dev"
#endif

namespace {

enum class Opt {
  kConfig,
  kListen,
  kUpstream,
  kStateDir,
  kControlSocket,
  kAllowEmptyPolicy,
  kCompileLists,
  kReplay,
  kJson,
  kMan,
  kHelp
};

struct OptionSpec {
  Opt id;
  const char* flag;
  const char* short_flag;  // or nullptr
  const char* value;       // nullptr: a flag
  const char* help;
  bool internal;  // not in --help or the manual page
};

constexpr OptionSpec kOptions[] = {
    {Opt::kConfig, "--config", "-c", "FILE",
     "The TOML config (and the files it includes); required. A config with errors stops the "
     "start: every problem is printed as path:line:col and the exit status is 1.",
     false},
    {Opt::kListen, "--listen", nullptr, "ADDR:PORT",
     "Replaces dns.listen (repeatable; [v6]:port for IPv6). Port 0 binds a free port, shown in "
     "the ready line.",
     false},
    {Opt::kUpstream, "--upstream", nullptr, "UPSTREAM",
     "Replaces dns.upstreams (repeatable): ADDR[:PORT], tls://ADDR[:PORT]#NAME or "
     "https://ADDR[:PORT][/PATH]#NAME. With neither, an empty dns.upstreams uses the "
     "nameservers of /etc/resolv.conf other than safegated itself.",
     false},
    {Opt::kStateDir, "--state-dir", nullptr, "DIR",
     "Replaces daemon.state_dir; every state file under it moves along (database, secret, "
     "socket, outbox, list copies, compiled lists).",
     false},
    {Opt::kControlSocket, "--control-socket", nullptr, "PATH", "Replaces control.socket.", false},
    {Opt::kAllowEmptyPolicy, "--allow-empty-policy", nullptr, nullptr,
     "Starts even if a group that had lists at the last run would have none (refused otherwise: "
     "the mark of a truncated config).",
     false},
    {Opt::kCompileLists, "--compile-lists", nullptr, nullptr,
     "Internal: the list compiler child (daemon/lists/list_compiler.h).", true},
    {Opt::kReplay, "--replay", nullptr, "CAPTURE",
     "Does not start the daemon: feeds the pcap or pcapng capture through the inline path "
     "(the same inspector, with the config's policy and [inline] settings) and prints one line "
     "per DNS query, HTTP request, TLS ClientHello and QUIC Initial it decided. Exit status 0 "
     "when the capture was read, 1 on a config or capture error. `safegatectl replay` runs "
     "this.",
     false},
    {Opt::kJson, "--json", nullptr, nullptr,
     "With --replay: one JSON object per line (time, client, server, port, protocol, host, "
     "dns_type, http_path, ech, verdict, decided_by, group, category, rule, source, reason).",
     false},
    {Opt::kMan, "--man", nullptr, nullptr, "Prints this manual page (roff) and exits.", false},
    {Opt::kHelp, "--help", "-h", nullptr, "Prints the options and exits.", false},
};

std::string flagsOf(const OptionSpec& o) {
  return o.short_flag ? std::string(o.flag) + ", " + o.short_flag : std::string(o.flag);
}

// The options, help text wrapped to 80 columns beside them.
void usage(FILE* out) {
  constexpr size_t kIndent = 26, kWidth = 80 - kIndent;
  fprintf(out, "usage: safegated --config FILE [options]\n");
  for (const OptionSpec& o : kOptions) {
    if (o.internal) continue;
    std::string line = "  " + flagsOf(o) + (o.value ? std::string(" ") + o.value : "");
    line.resize(std::max(line.size() + 1, kIndent), ' ');
    size_t used = line.size() > kIndent ? line.size() - kIndent : 0;
    std::string_view help = o.help;
    while (!help.empty()) {
      const size_t end = help.find(' ');
      const std::string_view word = help.substr(0, end);
      if (used > 0 && used + 1 + word.size() > kWidth) {
        line += "\n" + std::string(kIndent, ' ');
        used = 0;
      } else if (used > 0) {
        line += ' ';
        ++used;
      }
      line += word;
      used += word.size();
      help = end == std::string_view::npos ? std::string_view() : help.substr(end + 1);
    }
    fprintf(out, "%s\n", line.c_str());
  }
}

safegate::ManPage manPage() {
  safegate::ManPage page;
  page.name = "safegated";
  page.summary = "child-safety DNS filter and monitoring daemon";
  page.synopsis =
      "safegated --config FILE [--listen ADDR:PORT]... [--upstream UPSTREAM]...\n"
      "          [--state-dir DIR] [--control-socket PATH] [--allow-empty-policy]";
  page.description =
      "safegated answers DNS for a network's clients and, with inline mode, inspects their "
      "HTTP, TLS and QUIC handshakes through NFQUEUE. It matches names against block lists and "
      "RE2 rule sets, applies each client group's policy (categories, schedules, safe search, "
      "temporary exceptions), records incidents in a SQLite database and, only when the "
      "operator enables it, reports suspected child-abuse URLs to a hotline.\n\n"
      "It runs in the foreground and prints one line to standard output when it is ready "
      "(and notifies systemd), for example:\n\n"
      "    safegated: ready dns=127.0.0.1:53 control=/var/lib/safegate/control.sock\n\n"
      "Started as root with daemon.user set, it switches to that user and keeps only the "
      "capabilities its config uses; under the shipped systemd unit it runs as safegate.";
  for (const OptionSpec& o : kOptions) {
    if (!o.internal) page.options.push_back({flagsOf(o), o.value ? o.value : "", o.help});
  }
  page.extra.push_back(
      {"Signals",
       "SIGHUP reloads the config and every list (as safegatectl reload does); a config with "
       "errors is reported and the running policy stays.\n\n"
       "SIGTERM and SIGINT stop listening, write the queued incidents to the database and exit "
       "with status 0."});
  page.extra.push_back({"Files",
                        "/etc/safegate/safegate.toml: the config (safegatectl check-config "
                        "checks it).\n\n"
                        "/var/lib/safegate: the state directory: incidents.sqlite, "
                        "client-secret, control.sock, exceptions.json, compiled lists, "
                        "subscription copies, the outbox.\n\n"
                        "/usr/share/safegate: the bundled starter lists and example policies."});
  page.extra.push_back({"Documentation",
                        "/usr/share/doc/safegate: operations.md (running it), "
                        "config-reference.md (every key), policy.md, inline.md, privacy.md."});
  page.see_also = {"safegatectl(8)", "systemd.exec(5)"};
  return page;
}

const OptionSpec* find(const std::string& arg) {
  for (const OptionSpec& o : kOptions) {
    if (arg == o.flag || (o.short_flag && arg == o.short_flag)) return &o;
  }
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  safegate::DaemonOptions options;
  bool compile_lists = false;
  const char* replay = nullptr;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const OptionSpec* o = find(arg);
    if (!o) {
      fprintf(stderr, "safegated: unknown argument \"%s\"\n", arg.c_str());
      usage(stderr);
      return 2;
    }
    const char* value = nullptr;
    if (o->value) {
      if (i + 1 >= argc) {
        fprintf(stderr, "safegated: %s needs a value (%s)\n", o->flag, o->value);
        return 2;
      }
      value = argv[++i];
    }
    switch (o->id) {
      case Opt::kConfig: options.config_file = value; break;
      case Opt::kListen: options.listen_override.push_back(value); break;
      case Opt::kUpstream: options.upstream_override.push_back(value); break;
      case Opt::kStateDir:
        // Absolute once: reloads resolve it again, whatever the working directory is then.
        options.state_dir_override = std::filesystem::absolute(value);
        break;
      case Opt::kControlSocket: options.control_socket_override = value; break;
      case Opt::kAllowEmptyPolicy: options.allow_empty_policy = true; break;
      case Opt::kCompileLists: compile_lists = true; break;
      case Opt::kReplay: replay = value; break;
      case Opt::kJson: json = true; break;
      case Opt::kMan:
        fputs(safegate::renderManPage(manPage(), SAFEGATE_VERSION).c_str(), stdout);
        return 0;
      case Opt::kHelp: usage(stdout); return 0;
    }
  }
  if (options.config_file.empty()) {
    usage(stderr);
    return 2;
  }
  // State files (incident database, WAL, pseudonym secret) are personal data: never
  // world-readable, whatever umask the caller had (docs/privacy.md).
  umask(027);
  if (replay != nullptr) return safegate::printCaptureReplay(options.config_file, replay, json);
  if (compile_lists) {
    // It only reads lists and writes state_dir/compiled: no capability, ambient ones included.
    // Run as root (no daemon.user) it keeps root's, which a root-owned state_dir needs.
    if (geteuid() != 0) safegate::dropAllCapabilities();
    return safegate::compileListsOnly(options.config_file, options.state_dir_override);
  }
  safegate::Daemon daemon(std::move(options));
  return daemon.run();
}
