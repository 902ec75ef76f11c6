// /metrics: safegated's counters in the Prometheus text exposition format (version 0.0.4),
// served by safegate-ui on its own listener (ui.metrics_listen; docs/block-page.md "Metrics").
//
// Built from the daemon's `stats` and `status` answers (docs/control-protocol.md), so the
// numbers are the daemon's own: every numeric field becomes one metric named
// safegate_<section>_<field> — counters get `_total`, the few levels (in flight, pending,
// queued, open connections, sizes) and yes/no states (1/0) are gauges — and per-upstream
// figures carry an `upstream` label. `safegate_up` is 1 when the daemon answered, else 0 and
// nothing else. Pure functions; allocates; any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace safegate::ui {

// `stats` and `status` are the daemon's results; null when it could not be asked.
std::string renderPrometheus(const nlohmann::json& stats, const nlohmann::json& status);

}  // namespace safegate::ui
