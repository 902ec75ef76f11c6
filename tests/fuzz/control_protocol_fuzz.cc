// Fuzz target for the control protocol (daemon/control/control_protocol.h): any request line is
// either refused with a message or parsed into a command, and the responses built for it —
// controlOk() echoing the whole request, controlError() naming the command — are always exactly one
// line of valid JSON with the protocol version, the request's id and "ok" (a client reads one line
// per request, so an embedded newline or invalid UTF-8 would desynchronise it).
// Every parsed request is also read as an "exceptions.add"/"pause" request
// (daemon/control/exception_request.h): an exception it yields starts now, ends after that and at
// most max_minutes later, and its granted_by starts with the connecting peer, whatever the request
// claims.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "daemon/control/control_protocol.h"
#include "daemon/control/exception_request.h"

namespace {

constexpr int64_t kNow = 1'800'000'000;
constexpr int64_t kMaxMinutes = 10080;

void checkException(safegate::ControlRequest request) {
  request.peer.user = "peer";
  auto e = safegate::exceptionFromRequest(request, kNow, kMaxMinutes);
  if (!e) {
    if (e.status().message().empty()) std::abort();
    return;
  }
  if (e->created_unix_seconds != kNow) std::abort();
  if (e->until_unix_seconds <= kNow || e->until_unix_seconds > kNow + kMaxMinutes * 60) {
    std::abort();
  }
  if (e->granted_by.rfind("peer", 0) != 0) std::abort();
  if (e->granted_by.size() > 4 + 5 + safegate::kMaxGrantedForBytes) std::abort();  // "peer for X"
}

void checkResponse(const std::string& line, bool ok) {
  if (line.empty() || line.back() != '\n') std::abort();
  if (line.find('\n') != line.size() - 1) std::abort();
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) std::abort();
  if (j.value("v", 0) != safegate::kControlProtocolVersion) std::abort();
  if (!j.contains("id") || j.value("ok", !ok) != ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  auto request = safegate::parseControlRequest(line);
  if (!request) {
    if (request.status().message().empty()) std::abort();
    checkResponse(safegate::controlError(nullptr, request.status().message()), false);
    return 0;
  }
  if (size > safegate::kMaxControlLineBytes) std::abort();
  if (!request->args.is_object()) std::abort();
  // Only the version this daemon speaks is accepted (a missing "v" means version 1).
  const auto v = request->args.find("v");
  if (v != request->args.end() && *v != safegate::kControlProtocolVersion) std::abort();
  checkResponse(safegate::controlOk(request->id, request->args), true);
  checkException(*request);
  checkResponse(safegate::controlError(request->id, "unknown command \"" + request->command + "\"",
                                       {request->command, std::string(line)}),
                false);
  return 0;
}
