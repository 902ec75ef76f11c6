// ControlServer: the Unix control socket of safegated (docs/control-protocol.md).
//
// One thread accepts connections and serves them one line at a time (control traffic is tiny;
// serialising it also serialises reloads and exception edits). The socket file gets the
// configured mode and group; every connection's peer credentials (SO_PEERCRED) are checked:
// root, the daemon's own user, or a member of the configured group may talk to it, anyone else
// is refused before a byte is read. Requests are dispatched to a handler supplied by the daemon.
// Thread-safety: start()/stop() from the owner; the handler runs on the server thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "common/result.h"
#include "daemon/control_protocol.h"

namespace safegate {

struct ControlServerOptions {
  std::filesystem::path socket_path;
  uint32_t mode = 0660;
  std::string group;  // empty: the daemon's group
};

class ControlServer {
 public:
  // Returns the response line for a request (controlOk / controlError).
  using Handler = std::function<std::string(const ControlRequest&)>;

  ControlServer(ControlServerOptions options, Handler handler);
  ~ControlServer();
  Status start();
  void stop();
  uint64_t refusedPeers() const { return refused_.load(); }

  // Whether a peer with these credentials may use the socket (exposed for tests).
  static bool peerAllowed(uid_t uid, gid_t gid, gid_t allowed_group, bool have_group);

 private:
  void run();
  void serve(int fd);

  ControlServerOptions options_;
  Handler handler_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;
  gid_t group_id_ = 0;
  bool have_group_ = false;
  std::thread thread_;
  std::atomic<uint64_t> refused_{0};
};

}  // namespace safegate
