// Daemon: safegated's process — wires config, policy, DNS proxy, incident store and control
// socket together, and runs the control plane (signals, reload, housekeeping).
//
// Start: load + compile the policy (every diagnostic printed, exit non-zero on error), open
// the incident database, bind the DNS listeners and the control socket, then print one line
//   safegated: ready dns=127.0.0.1:5353[,...] control=/path/control.sock
// to stdout (and READY=1 to $NOTIFY_SOCKET for systemd) so scripts and tests wait on it.
// Reload (SIGHUP or the "reload" control command): load + compile a new policy on the control
// thread; on any error nothing changes and the caller gets every diagnostic; on success the new
// policy is published through the PolicyHolder, so no query is dropped or sees two policies.
// Settings marked restart-only in the schema (listen addresses, database path, ...) keep their
// old values until restart. SIGTERM / SIGINT: stop listeners, flush incidents, exit 0.
// Temporary exceptions (control commands) are saved to state_dir/exceptions.json before they
// take effect and restored at start (daemon/control/exception_store.h); access requests from the
// block page likewise in state_dir/requests.json (daemon/control/access_requests.h,
// daemon/daemon_requests.cc). Thread-safety: run() on the main thread; control commands run on the
// control thread and are serialised with reload by mutex_.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/compiled_policy.h"
#include "daemon/control/access_requests.h"
#include "daemon/control/control_server.h"
#include "daemon/control/exception_store.h"
#include "daemon/dns/dns_proxy.h"
#include "daemon/dns/resolved_addresses.h"
#include "daemon/dns/reverse_names.h"
#include "daemon/inline/inline_engine.h"
#include "daemon/lease_names.h"
#include "daemon/lists/list_refresher.h"
#include "daemon/neighbour_table.h"
#include "daemon/reports/alert_router.h"
#include "daemon/reports/outbox_delivery.h"
#include "daemon/store/incident_store.h"

namespace safegate {

struct DaemonOptions {
  std::filesystem::path config_file;
  std::vector<std::string> listen_override;    // --listen (replaces dns.listen)
  std::vector<std::string> upstream_override;  // --upstream (replaces dns.upstreams)
  std::string control_socket_override;         // --control-socket
  std::filesystem::path state_dir_override;    // --state-dir (rebases state files under it)
  bool allow_empty_policy = false;             // --allow-empty-policy (daemon/policy_guard.h)
};

class Daemon {
 public:
  explicit Daemon(DaemonOptions options);
  ~Daemon();
  // Runs until SIGTERM/SIGINT. Returns the process exit code.
  int run();

  // Control plane, also used by the control socket handler.
  std::string handleControl(const ControlRequest& req);

 private:
  Status startUp(DiagnosticSink& diags);
  // Loads + compiles; on success publishes and returns ok; on error returns the diagnostics.
  // `allow_empty_policy`: apply even if a group would lose all its filtering (policy_guard.h).
  Status reload(std::vector<std::string>& diagnostics, bool allow_empty_policy = false);
  std::filesystem::path policySummaryPath() const {
    return settings_.state_dir / "policy-summary.json";
  }
  void publishView();
  // Switches user and narrows capabilities from the config (daemon/privileges.h).
  Status dropPrivileges(DiagnosticSink& diags) const;
  // Runs the list compiler child (daemon/lists/list_compiler.h) before a policy load.
  void compileListsFirst() const;
  // Removes compiled-list entries other than the running policy's (after it is in force).
  void pruneListCache() const;
  // --state-dir, and the compiled list cache under state_dir/compiled (policy/list_cache.h).
  policy::LoadOptions loadOptions() const;
  // Reload: the keys marked `live` take effect (answers, incident store); a warning for each
  // restart-only key that changed. Under mutex_.
  void applyLiveSettings(const policy::Config& config, std::vector<std::string>& diagnostics);
  nlohmann::json statusJson();
  nlohmann::json statsJson();
  // The client's MAC from the kernel's neighbour table (as the DNS path sees it), if known.
  std::optional<MacAddress> macOf(const IpAddress& client) const;
  // requests.add / list / approve / deny (daemon/daemon_requests.cc).
  std::string handleRequests(const ControlRequest& req);
  std::string handleIncidents(const ControlRequest& req);  // daemon_incidents.cc
  // A new request as the alert router tells the lead: the device named as alerts name it.
  RequestNotice requestNotice(const AccessRequest& r, const std::optional<MacAddress>& mac) const;
  // Queues a child's suspected-illegal report as a hotline report; the outbox message id.
  Result<uint64_t> forwardToHotline(const AccessRequest& r, const std::string& category,
                                    int64_t now);
  // Adds a temporary exception: saved to exceptions.json before it takes effect. Under mutex_.
  Result<policy::TemporaryException> grantException(policy::TemporaryException e);

  DaemonOptions options_;
  std::mutex mutex_;  // serialises reload and exception edits
  policy::DaemonSettings settings_;
  // The restart-only keys as the config files gave them at start (before command line
  // overrides): a reload compares against these to warn about each one it cannot apply.
  std::map<std::string, std::string> configured_restart_values_;
  std::shared_ptr<const LiveAnswerSettings> answers_;  // published with each view
  policy::PolicySnapshotPtr snapshot_;
  policy::ExceptionTablePtr exceptions_;
  std::unique_ptr<ExceptionStore> exception_store_;  // state_dir/exceptions.json
  RequestBook requests_;                             // under mutex_
  std::unique_ptr<RequestStore> request_store_;      // state_dir/requests.json
  PolicyHolder holder_;
  uint64_t reloads_ = 0, failed_reloads_ = 0;
  std::unique_ptr<NeighbourTable> neighbours_;
  // Device names from DHCP leases (devices.lease_files); null without any. The names are
  // published with each view, under mutex_ like the exceptions.
  std::unique_ptr<LeaseNames> leases_;
  // Device names from reverse DNS (devices.reverse_lookup_server); null when off. Its thread
  // reads neighbours_, so it is declared after it and stopped first.
  std::unique_ptr<ReverseNames> reverse_names_;
  uint64_t reverse_version_ = 0;  // of the names last merged in
  std::shared_ptr<const LeaseNameMap> lease_names_;
  // Re-reads the lease files and takes the reverse names; republishes the view on a change.
  void refreshLeaseNames();
  std::unique_ptr<IncidentStore> incidents_;
  std::unique_ptr<DnsProxy> proxy_;
  std::unique_ptr<ResolvedAddressTable> resolved_;  // inline mode: fed by the proxy
  std::unique_ptr<InlineEngine> inline_;            // inline mode (NFQUEUE)
  std::unique_ptr<ControlServer> control_;
  std::unique_ptr<OutboxDelivery> outbox_;  // when a destination is configured (docs/outbox.md)
  std::unique_ptr<AlertRouter> alerts_;     // [[alerts]] (docs/alerts.md)
  std::unique_ptr<ListRefresher> lists_;    // https:// list subscriptions (docs/lists.md)
  std::atomic<bool> lists_updated_{false};  // set by the refresher; the main loop reloads
  std::chrono::steady_clock::time_point started_;
  // Written once the control thread is already serving (status may come in that instant).
  std::atomic<double> startup_seconds_{0};
};

// Nameservers from a resolv.conf-format file, as "addr:53", without safegated's own listeners
// (`own_listen`, dns.listen): once the gateway's resolv.conf points at safegated, forwarding
// there would loop. A wildcard listener (0.0.0.0:53, [::]:53) counts as the loopback address.
std::vector<std::string> systemResolvers(const std::filesystem::path& resolv_conf,
                                         const std::vector<std::string>& own_listen = {});

}  // namespace safegate
