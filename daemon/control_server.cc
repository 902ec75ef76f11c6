#include "daemon/control_server.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "common/thread_name.h"

namespace safegate {

ControlServer::ControlServer(ControlServerOptions options, Handler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {}

ControlServer::~ControlServer() { stop(); }

bool ControlServer::peerAllowed(uid_t uid, gid_t gid, gid_t allowed_group, bool have_group) {
  if (uid == 0 || uid == geteuid()) return true;
  if (!have_group) return false;
  if (gid == allowed_group) return true;
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
    if (groups[static_cast<size_t>(i)] == allowed_group) return true;
  }
  return false;
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
    group gr{};
    group* found = nullptr;
    std::vector<char> buf(16384);
    if (getgrnam_r(options_.group.c_str(), &gr, buf.data(), buf.size(), &found) != 0 || !found) {
      return Status::invalid("control.group: no such group \"" + options_.group + "\"");
    }
    group_id_ = gr.gr_gid;
    have_group_ = true;
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
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
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
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    int c = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
        !peerAllowed(cred.uid, cred.gid, group_id_, have_group_)) {
      ++refused_;
      close(c);
      continue;
    }
    serve(c);
    close(c);
  }
}

void ControlServer::serve(int fd) {
  // One client at a time; a silent client cannot hold the socket for more than 30 s.
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string buffer;
  char chunk[4096];
  for (;;) {
    size_t nl;
    while ((nl = buffer.find('\n')) == std::string::npos) {
      if (buffer.size() > kMaxControlLineBytes) {
        std::string r = controlError(nullptr, "request line too long");
        (void)!send(fd, r.data(), r.size(), MSG_NOSIGNAL);
        return;
      }
      ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) return;
      buffer.append(chunk, static_cast<size_t>(n));
    }
    std::string line = buffer.substr(0, nl);
    buffer.erase(0, nl + 1);
    if (line.empty()) continue;
    std::string response;
    auto req = parseControlRequest(line);
    if (!req) {
      response = controlError(nullptr, req.status().message());
    } else {
      response = handler_(*req);
    }
    size_t off = 0;
    while (off < response.size()) {
      ssize_t n = send(fd, response.data() + off, response.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }
}

}  // namespace safegate
