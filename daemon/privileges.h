// Privileges: safegated needs root's powers only to bind port 53 and to open NFQUEUE and raw
// sockets; it runs as an unprivileged user keeping just the capabilities its configuration uses.
//
// Two ways in, one result:
//  - started as root (OpenWrt procd, an init script, a shell) with daemon.user set:
//    dropPrivileges() gives the state directory to that user (once, while it is still root's,
//    and only a directory of safegate's own: see giveStateDirectory), lets it take the iptables
//    lock
//    (see below), switches to it (initgroups, setgid, setuid, capabilities kept across the
//    switch) and keeps only requiredCapabilities();
//  - started by systemd as User=safegate with the unit's ambient capabilities: the same call
//    narrows them to requiredCapabilities() (a DNS-only config on port 5353 keeps none).
// Both end with no_new_privs set and a check that root cannot be regained and that no
// capability beyond the needed ones is held in any set.
//
// It runs on the main thread before any other thread starts and before any state file is
// written, so every thread and file inherits the result. Capabilities belong to each thread
// and cannot be taken from threads that already run, which is why what is kept is decided from
// the config up front instead of after binding: CAP_NET_BIND_SERVICE stays while the process
// lives (a reload does not rebind; dns.listen is restart-only).
//
// Why the daemon itself still runs iptables-legacy-restore (daemon/inline/fail_mode_rules.h): the
// SAFEGATE_FAILMODE chain follows the policy's groups, which change on every reload without a
// restart, so a start-time helper (ExecStartPre) cannot keep it current. The two capabilities
// that command needs (CAP_NET_ADMIN, CAP_NET_RAW) are ones inline mode keeps anyway; they are
// passed to it as ambient capabilities. The command also takes the xtables lock, a root-owned
// 0600 file in /run; the daemon (as root, before the switch) or the unit's ExecStartPre=+
// makes it readable by the daemon's group so the lock keeps serialising us with the system's
// own iptables calls (flock needs only a read-only descriptor).
//
// Control plane only; not thread-safe (call before threads start).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "policy/config.h"

namespace safegate {

enum Capability : uint32_t {
  kCapNetBindService = 1u << 0,  // dns.listen on a port below 1024
  kCapNetAdmin = 1u << 1,        // NFQUEUE: binding the queue and every verdict
  kCapNetRaw = 1u << 2,          // inline resets/injection (raw sockets), iptables-restore
};

struct CapabilityNeeds {
  uint32_t keep = 0;     // permitted and effective for the daemon
  uint32_t inherit = 0;  // also ambient: passed to the fail-mode iptables-restore commands
};

// What `settings` makes the daemon use (dns.listen after --listen overrides);
// `fail_mode_commands` = the iptables-restore commands are in use (not "none").
CapabilityNeeds requiredCapabilities(const policy::DaemonSettings& settings,
                                     bool fail_mode_commands);

// "CAP_NET_BIND_SERVICE", ... in the order of the enum.
std::vector<std::string> capabilityNames(uint32_t set);

// Switches to settings.user (when started as root and it is set) and keeps only `needs`;
// explained in the header comment. Errors name the setting and what to do; nothing is changed
// when the user does not exist.
Status dropPrivileges(const policy::DaemonSettings& settings, const CapabilityNeeds& needs);

// For helper processes that need none (the list compiler child): drops every capability,
// ambient ones included. Best effort.
void dropAllCapabilities();

// The lock file iptables takes: $XTABLES_LOCKFILE or /run/xtables.lock.
std::string xtablesLockPath();

}  // namespace safegate
