// ControlServer: the Unix control socket of safegated (docs/control-protocol.md).
//
// One thread runs a poll() loop over the listening socket and every connection (non-blocking
// sockets), so a client that is slow, silent or never reads its response holds only its own
// connection, never the others or stop(). Requests are still handled one at a
// time, on that thread, by the handler the daemon supplies (control traffic is tiny; serialising
// it also serialises reloads and exception edits); only the socket I/O is event-driven. A
// connection has one request in flight: its next line is read once the response is written.
//
// Defences (docs/security.md "Control socket"):
//  - the socket file gets the configured mode and group; every connection's peer credentials
//    (SO_PEERCRED) are checked at accept: root, the daemon's own user or a member of the socket
//    group may talk to it, anyone else is closed before a byte is read;
//  - roles: commands that change state (controlCommandReadsOnly() is false) are refused unless
//    the peer is root, the daemon's user or a member of the admin group;
//  - a whole request must arrive within request_timeout_ms of the connection being accepted or
//    of its previous response, and a whole response must be written within request_timeout_ms
//    of being produced; otherwise the connection is closed (slow drip, reader that never reads);
//  - at most max_clients connections at once; one more is told so and closed;
//  - stop() writes an eventfd the loop polls, so it returns as soon as a running handler does.
// Thread-safety: start()/stop() from the owner; the handler runs on the server thread; the
// counters may be read from any thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "daemon/control/control_protocol.h"

namespace safegate {

struct ControlServerOptions {
  std::filesystem::path socket_path;
  uint32_t mode = 0660;
  std::string group;        // empty: the daemon's group
  std::string admin_group;  // empty: only root and the daemon's user may change state
  int request_timeout_ms = 5000;
  size_t max_clients = 16;
};

struct ControlServerStats {
  uint64_t refused_peers = 0;  // not root, the daemon's user or in the socket group
  uint64_t refused_busy = 0;   // max_clients connections were open
  uint64_t timed_out = 0;      // request or response not complete within the deadline
  uint64_t denied = 0;         // a reader sent a command that changes state
};

class ControlServer {
 public:
  // Returns the response line for a request (controlOk / controlError); request.peer is set.
  using Handler = std::function<std::string(const ControlRequest&)>;

  ControlServer(ControlServerOptions options, Handler handler);
  ~ControlServer();
  Status start();
  void stop();
  uint64_t refusedPeers() const { return refused_peers_.load(); }
  ControlServerStats stats() const;

  // Whether a peer with these credentials may use the socket (exposed for tests).
  static bool peerAllowed(uid_t uid, gid_t gid, gid_t allowed_group, bool have_group);
  // Whether a peer with these credentials may send commands that change state: root, the
  // daemon's user, or a member (primary or supplementary) of the admin group when one is set.
  static bool peerMayChange(uid_t uid, gid_t gid, gid_t admin_group, bool have_admin_group);
  // The refusal a reader gets for `command` (names the group it would need).
  static std::string deniedMessage(std::string_view command, const ControlPeer& peer,
                                   std::string_view admin_group);

 private:
  struct Client {
    int fd = -1;
    ControlPeer peer;
    std::string in;           // bytes read, not yet a complete request
    std::string out;          // the response being written
    size_t out_offset = 0;    // bytes of `out` already written
    int64_t deadline_ms = 0;  // steady clock: the current request or response must be done by
    bool peer_done = false;   // the client shut down its side: finish, then close
    bool close_after_write = false;
    bool closed = false;
  };

  void run();
  int pollTimeout(int64_t now_ms) const;
  void acceptAll(int64_t now_ms);
  void readSome(Client& c, int64_t now_ms);
  void handleNext(Client& c, int64_t now_ms);
  void respond(Client& c, std::string response, int64_t now_ms);
  void flush(Client& c, int64_t now_ms);
  void closeClient(Client& c);
  bool hasCompleteLine(const Client& c) const;

  ControlServerOptions options_;
  Handler handler_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;
  gid_t group_id_ = 0;
  bool have_group_ = false;
  gid_t admin_group_id_ = 0;
  bool have_admin_group_ = false;
  std::vector<Client> clients_;  // server thread only
  std::thread thread_;
  std::atomic<uint64_t> refused_peers_{0};
  std::atomic<uint64_t> refused_busy_{0};
  std::atomic<uint64_t> timed_out_{0};
  std::atomic<uint64_t> denied_{0};
};

}  // namespace safegate
