#include "ui-helper/control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "common/fd.h"

namespace safegate::ui {

Result<ControlReply> controlCall(const std::string& socket_path, nlohmann::json request,
                                 int timeout_ms) {
  request["v"] = 1;
  request["id"] = 1;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    return Status::invalid("control socket path too long: " + socket_path);
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd || connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Status::unavailable("cannot connect to " + socket_path + ": " + std::strerror(errno));
  }
  // replace: a visitor's text that is not UTF-8 must not throw here.
  const std::string line =
      request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    return Status::unavailable("cannot send to " + socket_path + ": " + std::strerror(errno));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string buffer;
  char chunk[65536];
  while (buffer.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    pollfd p{fd.get(), POLLIN, 0};
    if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0) {
      return Status::unavailable("no answer from " + socket_path + " within " +
                                 std::to_string(timeout_ms) + " ms");
    }
    const ssize_t n = recv(fd.get(), chunk, sizeof chunk, 0);
    if (n <= 0) break;
    buffer.append(chunk, static_cast<size_t>(n));
  }
  // One answer per request: the first line (a notice may follow before the server closes).
  if (const size_t nl = buffer.find('\n'); nl != std::string::npos) buffer.resize(nl);
  nlohmann::json response = nlohmann::json::parse(buffer, nullptr, false);
  if (response.is_discarded() || !response.is_object()) {
    return Status::unavailable("no valid answer from " + socket_path +
                               " (the connection was refused or closed: check the socket's "
                               "group)");
  }
  ControlReply reply;
  reply.ok = response.value("ok", false);
  if (reply.ok) {
    reply.result = response.contains("result") ? response["result"] : nlohmann::json::object();
  } else {
    reply.error = response.value("error", std::string("request failed"));
    if (auto d = response.find("diagnostics"); d != response.end() && d->is_array()) {
      for (const auto& x : *d) {
        if (x.is_string()) reply.diagnostics.push_back(x.get<std::string>());
      }
    }
  }
  return reply;
}

}  // namespace safegate::ui
