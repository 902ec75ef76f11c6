#include "daemon/control/control_server.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "common/thread_name.h"

namespace safegate {

namespace {

constexpr size_t kReadChunkBytes = 16384;
constexpr int kMaxAcceptsPerRound = 64;  // then the connections already open get their turn

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Root, the daemon's own user, or a member (primary or supplementary) of `group` when set.
bool rootSelfOrMember(uid_t uid, gid_t gid, gid_t group, bool have_group) {
  if (uid == 0 || uid == geteuid()) return true;
  if (!have_group) return false;
  if (gid == group) return true;
  // Supplementary groups are not in SO_PEERCRED: look the user up in the group database.
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || !found) return false;
  int n = 64;
  std::vector<gid_t> groups(static_cast<size_t>(n));
  if (getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) < 0) {
    groups.resize(static_cast<size_t>(n));
    if (getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) < 0) return false;
  }
  for (int i = 0; i < n; ++i) {
    if (groups[static_cast<size_t>(i)] == group) return true;
  }
  return false;
}

// The user name of `uid`, or "uid N" when it has none (a container's or a deleted user).
std::string userName(uid_t uid) {
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found) return pw.pw_name;
  return "uid " + std::to_string(uid);
}

Status lookupGroup(const std::string& name, const char* key, gid_t& gid) {
  group gr{};
  group* found = nullptr;
  std::vector<char> buf(16384);
  if (getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found) != 0 || !found) {
    return Status::invalid(std::string(key) + ": no such group \"" + name + "\"");
  }
  gid = gr.gr_gid;
  return Status::ok();
}

// Best effort: a client that is being closed gets told why if its socket has room.
void sendNotice(int fd, const std::string& line) {
  (void)!send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace

ControlServer::ControlServer(ControlServerOptions options, Handler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {}

ControlServer::~ControlServer() { stop(); }

bool ControlServer::peerAllowed(uid_t uid, gid_t gid, gid_t allowed_group, bool have_group) {
  return rootSelfOrMember(uid, gid, allowed_group, have_group);
}

bool ControlServer::peerMayChange(uid_t uid, gid_t gid, gid_t admin_group, bool have_admin_group) {
  // The same rule as for the socket, with the (usually smaller) admin group.
  return rootSelfOrMember(uid, gid, admin_group, have_admin_group);
}

std::string ControlServer::deniedMessage(std::string_view command, const ControlPeer& peer,
                                         std::string_view admin_group) {
  std::string who = admin_group.empty()
                        ? "only root or the daemon's user may send it (control.admin_group is "
                          "not set)"
                        : "only root, the daemon's user or members of group \"" +
                              std::string(admin_group) + "\" (control.admin_group) may send it";
  return "permission denied: \"" + std::string(command) + "\" changes filtering; " + who +
         "; you are " + peer.user + " (uid " + std::to_string(peer.uid) + ")";
}

ControlServerStats ControlServer::stats() const {
  return {refused_peers_.load(), refused_busy_.load(), timed_out_.load(), denied_.load()};
}

Status ControlServer::start() {
  const std::string path = options_.socket_path.string();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return Status::invalid("control socket path too long (max " +
                           std::to_string(sizeof(addr.sun_path) - 1) + " bytes): " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (!options_.group.empty()) {
    if (Status s = lookupGroup(options_.group, "control.group", group_id_); !s) return s;
    have_group_ = true;
  }
  if (!options_.admin_group.empty()) {
    Status s = lookupGroup(options_.admin_group, "control.admin_group", admin_group_id_);
    if (!s) return s;
    have_admin_group_ = true;
  }
  std::error_code ec;
  std::filesystem::create_directories(options_.socket_path.parent_path(), ec);
  // A stale socket from a crashed daemon would make bind fail; refuse to steal a live one.
  int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe >= 0) {
    if (connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      close(probe);
      return Status(StatusCode::kAlreadyExists,
                    "control socket " + path + " is in use (is another safegated running?)");
    }
    close(probe);
  }
  ::unlink(path.c_str());
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) return Status::fromErrno("socket", errno);
  // Create with no access, then set the configured mode: no window where others can connect.
  mode_t old = umask(0777);
  int rc = bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int e = errno;
  umask(old);
  if (rc != 0) return Status::fromErrno("bind " + path, e);
  if (have_group_ && chown(path.c_str(), static_cast<uid_t>(-1), group_id_) != 0) {
    return Status::fromErrno("chown " + path, errno);
  }
  if (chmod(path.c_str(), options_.mode & 0777) != 0)
    return Status::fromErrno("chmod " + path, errno);
  if (listen(listen_fd_, 16) != 0) return Status::fromErrno("listen " + path, errno);
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) return Status::fromErrno("eventfd", errno);
  thread_ = std::thread([this] {
    setThreadName("sg-control");
    run();
  });
  return Status::ok();
}

void ControlServer::stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof(one));
    thread_.join();
  }
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    listen_fd_ = -1;
    ::unlink(options_.socket_path.c_str());
  }
  if (stop_fd_ >= 0) {
    close(stop_fd_);
    stop_fd_ = -1;
  }
}

void ControlServer::run() {
  std::vector<pollfd> fds;
  for (;;) {
    fds.clear();
    fds.push_back({stop_fd_, POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (const Client& c : clients_) {
      // One request in flight per connection: read only when the next line is incomplete,
      // so a client cannot queue more than one line of input here.
      short events = 0;
      if (!c.out.empty()) {
        events = POLLOUT;
      } else if (!c.peer_done && !hasCompleteLine(c)) {
        events = POLLIN;
      }
      fds.push_back({c.fd, events, 0});
    }
    int n = poll(fds.data(), fds.size(), pollTimeout(nowMs()));
    if (n < 0 && errno != EINTR) break;  // cannot happen with valid fds; close clients anyway
    if (n > 0 && fds[0].revents) break;
    // Deadlines are judged at wake-up, before handlers run, so a slow handler (a reload) does
    // not expire clients whose bytes arrived while it ran: they are read next round.
    const int64_t woke_ms = nowMs();
    for (size_t i = 0; n > 0 && i + 2 < fds.size(); ++i) {
      Client& c = clients_[i];
      if (!fds[i + 2].revents) continue;
      if (!c.out.empty()) {
        flush(c, woke_ms);
      } else {
        readSome(c, woke_ms);
      }
    }
    if (n > 0 && (fds[1].revents & POLLIN)) acceptAll(woke_ms);
    // One request per connection per round: a client that pipelines cannot starve the others.
    for (Client& c : clients_) handleNext(c, nowMs());
    for (Client& c : clients_) {
      if (c.closed || woke_ms < c.deadline_ms) continue;
      if (c.out.empty()) {
        sendNotice(c.fd, controlError(nullptr, "request not complete within " +
                                                   std::to_string(options_.request_timeout_ms) +
                                                   " ms; closing the connection"));
      }
      ++timed_out_;
      closeClient(c);
    }
    std::erase_if(clients_, [](const Client& c) { return c.closed; });
  }
  for (Client& c : clients_) closeClient(c);
  clients_.clear();
}

int ControlServer::pollTimeout(int64_t now_ms) const {
  int64_t timeout = -1;
  for (const Client& c : clients_) {
    if (c.out.empty() && hasCompleteLine(c)) return 0;  // a request waits to be handled
    const int64_t left = std::max<int64_t>(c.deadline_ms - now_ms, 0);
    if (timeout < 0 || left < timeout) timeout = left;
  }
  return static_cast<int>(timeout);
}

bool ControlServer::hasCompleteLine(const Client& c) const {
  return c.in.find('\n') != std::string::npos;
}

void ControlServer::acceptAll(int64_t now_ms) {
  for (int i = 0; i < kMaxAcceptsPerRound; ++i) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;  // EAGAIN: backlog empty (errors on one connection are its own)
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
        !peerAllowed(cred.uid, cred.gid, group_id_, have_group_)) {
      ++refused_peers_;
      close(fd);
      continue;
    }
    const size_t open = static_cast<size_t>(
        std::count_if(clients_.begin(), clients_.end(), [](const Client& c) { return !c.closed; }));
    if (open >= options_.max_clients) {
      ++refused_busy_;
      sendNotice(fd, controlError(nullptr, "too many control connections (" + std::to_string(open) +
                                               " open); try again"));
      close(fd);
      continue;
    }
    Client c;
    c.fd = fd;
    c.peer.uid = cred.uid;
    c.peer.gid = cred.gid;
    c.peer.pid = cred.pid;
    c.peer.user = userName(cred.uid);
    c.peer.may_change = peerMayChange(cred.uid, cred.gid, admin_group_id_, have_admin_group_);
    c.deadline_ms = now_ms + options_.request_timeout_ms;
    clients_.push_back(std::move(c));
  }
}

void ControlServer::readSome(Client& c, int64_t now_ms) {
  if (c.closed || c.peer_done) return;
  char chunk[kReadChunkBytes];
  ssize_t n = recv(c.fd, chunk, sizeof(chunk), MSG_DONTWAIT);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) closeClient(c);
    return;
  }
  if (n == 0) {
    c.peer_done = true;  // lines already received are still answered (e.g. `socat -`)
    return;
  }
  c.in.append(chunk, static_cast<size_t>(n));
  if (c.in.size() > kMaxControlLineBytes && !hasCompleteLine(c)) {
    c.in.clear();
    c.close_after_write = true;
    respond(c,
            controlError(nullptr, "request line too long (max " +
                                      std::to_string(kMaxControlLineBytes) + " bytes)"),
            now_ms);
  }
}

void ControlServer::handleNext(Client& c, int64_t now_ms) {
  if (c.closed || !c.out.empty()) return;
  for (;;) {
    const size_t nl = c.in.find('\n');
    if (nl == std::string::npos) {
      if (c.peer_done) closeClient(c);  // nothing more will come
      return;
    }
    std::string line = c.in.substr(0, nl);
    c.in.erase(0, nl + 1);
    if (line.empty()) continue;
    auto req = parseControlRequest(line);
    if (!req) {
      respond(c, controlError(nullptr, req.status().message()), now_ms);
      return;
    }
    req->peer = c.peer;
    if (!controlCommandReadsOnly(req->command) && !c.peer.may_change) {
      ++denied_;
      respond(c, controlError(req->id, deniedMessage(req->command, c.peer, options_.admin_group)),
              now_ms);
      return;
    }
    // The handler may take a while (a reload of big lists): the clock is read after it, so the
    // deadline for the next request starts when the answer is written (two arguments of one
    // call are evaluated in no set order).
    std::string response = handler_(*req);
    respond(c, std::move(response), nowMs());
    return;
  }
}

void ControlServer::respond(Client& c, std::string response, int64_t now_ms) {
  c.out = std::move(response);
  c.out_offset = 0;
  c.deadline_ms = now_ms + options_.request_timeout_ms;
  flush(c, now_ms);
}

void ControlServer::flush(Client& c, int64_t now_ms) {
  while (!c.closed && c.out_offset < c.out.size()) {
    ssize_t n = send(c.fd, c.out.data() + c.out_offset, c.out.size() - c.out_offset,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.out_offset += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;  // the rest when the socket has room (POLLOUT)
    } else {
      closeClient(c);
      return;
    }
  }
  if (c.closed) return;
  std::string().swap(c.out);  // a large response's memory goes now, not with the connection
  c.out_offset = 0;
  c.deadline_ms = now_ms + options_.request_timeout_ms;  // for the next request
  if (c.close_after_write) closeClient(c);
}

void ControlServer::closeClient(Client& c) {
  if (c.closed) return;
  close(c.fd);
  c.fd = -1;
  c.closed = true;
}

}  // namespace safegate
