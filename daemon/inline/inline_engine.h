// InlineEngine: safegated's inline mode as one piece the Daemon starts and stops — the
// NFQUEUE front end (one worker per inline.queues and inline.fail_closed_queues entry), one
// InlineInspector per worker, the raw-socket injector, and their counters for the control socket's
// "stats".
//
// Built from the daemon settings ([inline], [block_page], [dns] block TTL); the policy comes
// from the daemon's PolicyHolder (reloads apply on the next packet) and incidents go to the
// daemon's IncidentStore queue. A SafeSearchRefresher thread keeps the safe-search targets
// answers from the daemon's upstreams ([dns] upstreams) for inline safe-search rewrites, and a
// FailModeRules thread writes the groups' fail modes as firewall rules on start and reload. Control
// plane: start()/stop()/statsJson() on the daemon's threads; the workers are the data plane
// (daemon/inline/inline_inspector.h).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/result.h"
#include "daemon/dns/resolved_addresses.h"
#include "daemon/dns/safe_search_answers.h"
#include "daemon/inline/fail_mode_rules.h"
#include "daemon/inline/inline_inspector.h"
#include "daemon/inline/nfqueue_frontend.h"
#include "daemon/policy_view.h"
#include "daemon/store/incident_store.h"
#include "policy/config.h"

namespace safegate {

class EncryptedUpstream;

class InlineEngine {
 public:
  // Binds every queue and starts the workers. Errors name the queue and the cause (another
  // process bound to it, no CAP_NET_ADMIN, no nfnetlink_queue in the kernel).
  static Result<std::unique_ptr<InlineEngine>> start(
      const policy::DaemonSettings& settings, const PolicyHolder& policy, IncidentStore* incidents,
      const ResolvedAddressTable* resolved,
      const std::vector<std::shared_ptr<EncryptedUpstream>>& encrypted = {});
  // The queues to bind and the kernel's fail-open flag of each (NFQA_CFG_F_FAIL_OPEN: what a
  // full queue does). Without inline.fail_closed_queues every queue follows inline.fail_open;
  // with them, inline.queues fail open and the fail-closed queues do not, so the firewall's
  // per-group split (SAFEGATE_FAILCLOSED -> SAFEGATE_FAIL_CLOSED_QUEUES) makes a full queue
  // per group too (docs/inline.md, "Fail-open / fail-closed, exactly").
  static std::vector<NfqueueOptions> queueOptions(const policy::InlineSettings& settings);

  ~InlineEngine();
  void stop();

  // {"queues":[{queue, received, accepted, dropped, repeated, ..., kernel: {...}}],
  //  "inspector": {summed InlineCounters}}
  nlohmann::json statsJson() const;
  std::vector<uint16_t> queues() const;

 private:
  InlineEngine() = default;
  std::unique_ptr<RawSocketInjector> injector_;
  // Declared before frontend_: the inspectors read it until the frontend is gone.
  std::unique_ptr<SafeSearchHolder> safe_search_;
  std::unique_ptr<SafeSearchRefresher> refresher_;
  std::unique_ptr<FailModeRules> fail_mode_;
  std::unique_ptr<NfqueueFrontend> frontend_;
  std::vector<InlineInspector*> inspectors_;  // owned by frontend_
};

}  // namespace safegate
