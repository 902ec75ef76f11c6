// FailModeRules: the per-group fail mode (groups[].fail) as firewall rules, so that traffic of
// a fail-closed group is dropped while safegated is not running and everyone else's passes.
//
// Why rules: when no program is bound to an NFQUEUE, the kernel decides alone — the queue rule's
// --queue-bypass flag accepts, its absence drops — and that flag is per rule, not per client.
// So the client sources of each group must be in the rules. The firewall script
// (packaging/firewall/safegate-firewall.sh) installs two chains in the mangle table:
// SAFEGATE_FAILCLOSED (queue TCP and UDP *without* --queue-bypass) and SAFEGATE_FAILMODE (jumped
// to before the bypass rule). safegated fills SAFEGATE_FAILMODE from the compiled policy, in the
// order PolicySnapshot::groupFor() matches clients (MAC, then most specific range; the default
// group last): a fail-closed group's source jumps to SAFEGATE_FAILCLOSED, a fail-open group's
// source RETURNs (to the bypass rule).
//
// On start and after every reload, FailModeRules renders the chain for IPv4 and IPv6, writes
// <state_dir>/firewall-failmode.v4 / .v6 (iptables-restore input; the script loads them on
// `apply`, so the order of starting the two does not matter) and loads them with
// `iptables-legacy-restore --noflush` (which replaces that one chain atomically; commands
// from SAFEGATE_IPTABLES_RESTORE / SAFEGATE_IP6TABLES_RESTORE, "none" = write files only).
// A failed load is retried every 10 s and shown in `stats`.
//
// Control plane only (a thread of its own; never the packet path). Thread-safety: statusJson()
// from any thread; start/stop from one control thread.
#pragma once

#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "common/result.h"
#include "daemon/policy_view.h"
#include "policy/policy_engine.h"

namespace safegate {

// iptables-restore input for SAFEGATE_FAILMODE (family 4 or 6): sources of this family and
// every MAC, then the default group's catch-all; trailing RETURNs are left out (the chain's end
// returns anyway).
std::string renderFailModeRules(const policy::PolicySnapshot& snapshot, int family);

class FailModeRules {
 public:
  struct Options {
    std::filesystem::path state_dir;
    std::string restore4 = "iptables-legacy-restore";  // "" or "none": write files only
    std::string restore6 = "ip6tables-legacy-restore";
    int poll_ms = 1000;  // how often the policy generation is checked
  };
  // Options with the commands from the environment (see the header comment).
  static Options optionsFromEnvironment(const std::filesystem::path& state_dir);
  // Whether either restore command runs (not "" or "none"): they need capabilities passed on
  // (daemon/privileges.h).
  static bool runsCommands(const Options& options);

  static std::unique_ptr<FailModeRules> start(const Options& options, const PolicyHolder& policy);
  ~FailModeRules();
  void stop();

  // Renders, writes and loads the rules for the policy published now. Returns the first error.
  Status syncOnce();
  // {"generation": policy generation written, "applied": bool, "error": "...", "fail_closed_rules":
  // n}
  nlohmann::json statusJson() const;

 private:
  FailModeRules(const Options& options, const PolicyHolder& policy)
      : options_(options), policy_(policy) {}
  void run();

  Options options_;
  const PolicyHolder& policy_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  uint64_t written_generation_ = 0;
  bool applied_ = false;
  std::string error_;
  size_t fail_closed_sources_ = 0;
  std::thread thread_;
};

}  // namespace safegate
