#include "daemon/control/control_protocol.h"

namespace safegate {

Result<ControlRequest> parseControlRequest(std::string_view line) {
  if (line.size() > kMaxControlLineBytes) return Status::invalid("request line too long");
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::invalid("request is not valid JSON");
  if (!j.is_object()) return Status::invalid("request must be a JSON object");
  ControlRequest r;
  if (j.contains("id")) r.id = j["id"];
  if (j.contains("v")) {
    const nlohmann::json& v = j["v"];
    if (!v.is_number_integer()) return Status::invalid("\"v\" must be an integer");
    // Compared as JSON numbers: get<int>() would turn 4294967297 into 1.
    if (v < 1 || v > kControlProtocolVersion) {
      return Status::invalid("protocol version " + v.dump() +
                             " not supported; this safegated speaks version " +
                             std::to_string(kControlProtocolVersion));
    }
  }
  if (!j.contains("cmd") || !j["cmd"].is_string()) {
    return Status::invalid("request needs a string \"cmd\"");
  }
  r.command = j["cmd"].get<std::string>();
  r.args = std::move(j);
  return r;
}

bool controlCommandReadsOnly(std::string_view command) {
  for (std::string_view read_only :
       {"status", "stats", "explain", "incidents", "incidents.summary", "exceptions.list", "lists",
        "requests.list",
        // Files a request for an administrator to decide; changes no filtering.
        "requests.add"}) {
    if (command == read_only) return true;
  }
  return false;
}

std::string argText(const nlohmann::json& args, const char* key) {
  auto it = args.find(key);
  if (it == args.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

int64_t argInt(const nlohmann::json& args, const char* key, int64_t fallback) {
  auto it = args.find(key);
  if (it == args.end() || !it->is_number_integer()) return fallback;
  return it->get<int64_t>();
}

std::string controlOk(const nlohmann::json& id, nlohmann::json result) {
  nlohmann::json j = {
      {"v", kControlProtocolVersion}, {"id", id}, {"ok", true}, {"result", std::move(result)}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string controlError(const nlohmann::json& id, std::string_view message,
                         const std::vector<std::string>& diagnostics) {
  nlohmann::json j = {
      {"v", kControlProtocolVersion}, {"id", id}, {"ok", false}, {"error", std::string(message)}};
  if (!diagnostics.empty()) j["diagnostics"] = diagnostics;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace safegate
