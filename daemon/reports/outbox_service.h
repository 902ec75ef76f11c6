// OutboxService: the outbox as safegated runs it — destinations built from the configuration
// ([hotline] and [[alerts]]), secrets (the hotline's bearer token, webhook signing keys, SMTP
// passwords) read from files that must be readable by their owner alone (mode 0600), the
// delivery thread started and stopped with the daemon, and the alert router fed by the
// incident writer.
//
// The thread is started only when a destination is configured: a gateway that sends nothing
// does not even create the outbox file. Keys of [outbox] and [hotline] are restart-only.
// Thread-safety: start/stop from the main thread; counts() from the control thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/reports/alert_router.h"
#include "daemon/reports/outbox_delivery.h"
#include "policy/config.h"

namespace safegate {

// The destinations the settings configure (empty when the hotline is off and no alert
// destination exists). Reads token files: kInvalidArgument with the path and the reason when
// one is missing, empty or readable by others.
Result<std::vector<OutboxDestination>> outboxDestinations(const policy::DaemonSettings& s);

OutboxOptions outboxStoreOptions(const policy::DaemonSettings& s);

// The alert router for [[alerts]] (nullptr when there are none); digests run in `time_zone`
// (policy.time_zone).
std::unique_ptr<AlertRouter> makeAlertRouter(const policy::DaemonSettings& s, const Clock& clock,
                                             const std::string& time_zone);

// Starts delivery when there is anything to deliver to; nullptr (and ok) otherwise.
Result<std::unique_ptr<OutboxDelivery>> startOutbox(const policy::DaemonSettings& s,
                                                    const Clock& clock);

}  // namespace safegate
