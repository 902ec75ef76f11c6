// The control-socket protocol (docs/control-protocol.md): versioned JSON lines.
//
// Each request is one line holding a JSON object {"v":1,"id":<any>,"cmd":"<name>", ...args};
// each response is one line {"v":1,"id":<same>,"ok":true,"result":{...}} or
// {"v":1,"id":<same>,"ok":false,"error":"message","diagnostics":["file:line:col: error: ..."]}.
// A request with a higher "v" than kControlProtocolVersion is refused with an error naming the
// supported version, so old daemons and new CLIs fail clearly rather than half-work.
// Control plane: allocates; pure functions, safe from any thread.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace safegate {

inline constexpr int kControlProtocolVersion = 1;
inline constexpr size_t kMaxControlLineBytes = 64 * 1024;

// Who sent a request: the connection's SO_PEERCRED, filled in by ControlServer (never taken
// from the request, which a client writes as it likes).
struct ControlPeer {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
  std::string user;         // the user name, or "uid N" when the uid has no passwd entry
  bool may_change = false;  // root, the daemon's user or a member of control.admin_group
};

struct ControlRequest {
  nlohmann::json id;  // echoed back; null when absent
  std::string command;
  nlohmann::json args;  // the whole request object
  ControlPeer peer;
};

// Parses one request line; the Status explains what is wrong (bad JSON, missing "cmd", version).
Result<ControlRequest> parseControlRequest(std::string_view line);

// Whether `command` only reads state (or, like requests.add, only files a request an
// administrator decides), so that any user admitted to the socket may send it.
// Every other command, including unknown ones, needs the admin role (docs/control-protocol.md
// "Access"): a new command is refused to readers until it is listed here.
bool controlCommandReadsOnly(std::string_view command);

// An argument of a request: its string ("" when absent or not a string), or its integer
// (`fallback` when absent or not an integer).
std::string argText(const nlohmann::json& args, const char* key);
int64_t argInt(const nlohmann::json& args, const char* key, int64_t fallback);

std::string controlOk(const nlohmann::json& id, nlohmann::json result);
std::string controlError(const nlohmann::json& id, std::string_view message,
                         const std::vector<std::string>& diagnostics = {});

}  // namespace safegate
