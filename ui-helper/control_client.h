// controlCall: one request to a running safegated over its control socket
// (docs/control-protocol.md), shared by safegatectl and safegate-ui.
//
// Sends one JSON line and reads the first line back. A daemon that does not answer within
// timeout_ms is an error, so the block page never hangs on a stuck daemon. Blocking; allocates;
// safe from any thread (one socket per call).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"

namespace safegate::ui {

struct ControlReply {
  bool ok = false;                       // the daemon's "ok"
  nlohmann::json result;                 // "result" when ok
  std::string error;                     // "error" when not ok
  std::vector<std::string> diagnostics;  // "diagnostics" when not ok (a bad reload)
};

// unavailable: the socket could not be reached, or no valid answer came in time.
Result<ControlReply> controlCall(const std::string& socket_path, nlohmann::json request,
                                 int timeout_ms = 10000);

}  // namespace safegate::ui
