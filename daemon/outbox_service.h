// OutboxService: the outbox delivery thread as safegated runs it — destinations built from the
// configuration ([hotline] now; [[alerts]] with issue 10's next slice), the hotline's bearer
// token read from its file and checked (mode 0600: readable by the daemon's user alone), and the
// thread started and stopped with the daemon.
//
// The thread is started only when a destination is configured: a gateway that sends nothing
// does not even create the outbox file. Keys of [outbox] and [hotline] are restart-only.
// Thread-safety: start/stop from the main thread; counts() from the control thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/outbox_delivery.h"
#include "policy/config.h"

namespace safegate {

// The destinations the settings configure (empty when the hotline is off and no alert
// destination exists). Reads token files: kInvalidArgument with the path and the reason when
// one is missing, empty or readable by others.
Result<std::vector<OutboxDestination>> outboxDestinations(const policy::DaemonSettings& s);

// Starts delivery when there is anything to deliver to; nullptr (and ok) otherwise.
Result<std::unique_ptr<OutboxDelivery>> startOutbox(const policy::DaemonSettings& s,
                                                    const Clock& clock);

}  // namespace safegate
