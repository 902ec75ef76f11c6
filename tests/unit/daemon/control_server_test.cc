// ControlServer on a real Unix socket in a temp dir: a client that never reads its (large)
// response, a slow-drip client and a stuck client must not stop others from being served or
// stop() from returning. Tests run as root, so the peer check admits them.
#include "daemon/control/control_server.h"

#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/shared_data.h"

namespace safegate {
namespace {

using Clock = std::chrono::steady_clock;

int64_t msSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

class ControlServerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    // Clients first: the old server blocked in send() to a client only returns once it goes.
    for (int fd : clients_) close(fd);
    if (server_) server_->stop();
  }

  // "incidents" answers with `big_response_bytes_` bytes (more than any socket buffer holds);
  // everything else answers a small ok.
  void start(ControlServerOptions options = {}) {
    options.socket_path = dir_.path() / "control.sock";
    if (options.mode == 0) options.mode = 0600;
    server_ = std::make_unique<ControlServer>(options, [this](const ControlRequest& r) {
      ++handled_;
      {
        std::lock_guard<std::mutex> lock(peer_mutex_);
        last_peer_ = r.peer;
      }
      if (r.command == "reload") {
        // A reload of big lists takes seconds: the handler's own duration, not a wait.
        std::this_thread::sleep_for(std::chrono::milliseconds(slow_handler_ms_));
      }
      if (r.command == "incidents") {
        big_started_ = true;
        return controlOk(r.id, {{"pad", std::string(big_response_bytes_, 'x')}});
      }
      return controlOk(r.id, {{"cmd", r.command}});
    });
    ASSERT_TRUE(server_->start());
  }

  int connectClient() {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    const std::string path = (dir_.path() / "control.sock").string();
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << strerror(errno);
    clients_.push_back(fd);
    return fd;
  }

  static bool sendText(int fd, const std::string& text) {
    return send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
  }

  // One response line, or nullopt when none arrives within timeout_ms or the server closes.
  static std::optional<std::string> readLine(int fd, int timeout_ms) {
    std::string line;
    const auto start = Clock::now();
    for (;;) {
      const int left = timeout_ms - static_cast<int>(msSince(start));
      pollfd p{fd, POLLIN, 0};
      if (left <= 0 || poll(&p, 1, left) <= 0) return std::nullopt;
      char c;
      if (recv(fd, &c, 1, 0) != 1) return std::nullopt;
      if (c == '\n') return line;
      line.push_back(c);
    }
  }

  // Whether the server closed `fd` (EOF or reset) within timeout_ms; response bytes are skipped.
  static bool closedWithin(int fd, int timeout_ms) {
    const auto start = Clock::now();
    char buf[4096];
    for (;;) {
      const int left = timeout_ms - static_cast<int>(msSince(start));
      pollfd p{fd, POLLIN, 0};
      if (left <= 0 || poll(&p, 1, left) <= 0) return false;
      if (recv(fd, buf, sizeof(buf), 0) <= 0) return true;
    }
  }

  testing::TempDir dir_;
  std::unique_ptr<ControlServer> server_;
  std::vector<int> clients_;
  std::atomic<int> handled_{0};
  std::atomic<bool> big_started_{false};
  ControlPeer lastPeer() {
    std::lock_guard<std::mutex> lock(peer_mutex_);
    return last_peer_;
  }

  std::mutex peer_mutex_;
  ControlPeer last_peer_;  // of the last request the handler saw (server thread)
  // Far beyond a Unix socket's send buffer (about 200 KiB), small enough to build quickly under
  // ThreadSanitizer (16 MiB took over 3 s there).
  size_t big_response_bytes_ = 4 << 20;
  int slow_handler_ms_ = 0;  // how long "reload" takes
};

TEST_F(ControlServerTest, AnswersStatusWhileAnotherClientNeverReadsItsLargeResponse) {
  start();
  int hog = connectClient();
  ASSERT_TRUE(sendText(hog, "{\"v\":1,\"id\":1,\"cmd\":\"incidents\",\"limit\":10000}\n"));
  // The hog's response is being produced before the second client arrives.
  for (int i = 0; i < 500 && !big_started_; ++i) usleep(10000);
  ASSERT_TRUE(big_started_);
  int admin = connectClient();
  ASSERT_TRUE(sendText(admin, "{\"v\":1,\"id\":2,\"cmd\":\"status\"}\n"));
  auto line = readLine(admin, 3000);
  ASSERT_TRUE(line) << "status not answered while a client does not read its response";
  EXPECT_NE(line->find("\"ok\":true"), std::string::npos) << *line;
  EXPECT_NE(line->find("\"id\":2"), std::string::npos) << *line;
}

TEST_F(ControlServerTest, ClosesASlowDripClientAtTheRequestDeadline) {
  start();  // default deadline: 5 s for a whole request
  int drip = connectClient();
  const std::string request =
      "{\"v\":1,\"id\":1,\"cmd\":\"status\",\"pad\":\"" + std::string(200, 'x') + "\"}\n";
  const auto start = Clock::now();
  bool closed = false;
  // One byte every 100 ms: the whole line would take 23 s, each byte well inside any
  // per-read timeout.
  for (size_t i = 0; i + 1 < request.size() && msSince(start) < 9000; ++i) {
    if (!sendText(drip, request.substr(i, 1)) || closedWithin(drip, 100)) {
      closed = true;
      break;
    }
  }
  EXPECT_TRUE(closed) << "a client dripping one byte per 100 ms was still connected after "
                      << msSince(start) << " ms";
  EXPECT_GE(msSince(start), 4500);  // not before the deadline
  EXPECT_EQ(handled_, 0);
  // The server is still serving.
  int next = connectClient();
  ASSERT_TRUE(sendText(next, "{\"v\":1,\"id\":3,\"cmd\":\"status\"}\n"));
  EXPECT_TRUE(readLine(next, 3000));
}

TEST_F(ControlServerTest, StopReturnsPromptlyWithStuckClientsConnected) {
  start();
  int stuck = connectClient();
  // The server is serving this connection: it answered one request, then half a line follows.
  ASSERT_TRUE(sendText(stuck, "{\"v\":1,\"id\":1,\"cmd\":\"status\"}\n"));
  ASSERT_TRUE(readLine(stuck, 3000));
  ASSERT_TRUE(sendText(stuck, "{\"v\":1,\"cmd\":"));
  int hog = connectClient();
  ASSERT_TRUE(sendText(hog, "{\"v\":1,\"id\":2,\"cmd\":\"incidents\"}\n"));
  const auto start = Clock::now();
  server_->stop();
  EXPECT_LT(msSince(start), 2000) << "stop() waited for a stuck client";
  EXPECT_TRUE(closedWithin(stuck, 1000));
}

TEST_F(ControlServerTest, ClosesAClientThatDoesNotReadItsResponseByTheDeadline) {
  ControlServerOptions o;
  o.request_timeout_ms = 300;
  start(o);
  int hog = connectClient();
  ASSERT_TRUE(sendText(hog, "{\"v\":1,\"id\":1,\"cmd\":\"incidents\"}\n"));
  for (int i = 0; i < 500 && server_->stats().timed_out == 0; ++i) usleep(10000);
  EXPECT_EQ(server_->stats().timed_out, 1u);
  // What it reads now is part of the response, then the end of the connection.
  EXPECT_TRUE(closedWithin(hog, 3000));
}

TEST_F(ControlServerTest, AHandlerSlowerThanTheDeadlineStillGetsAWholeAnswerAndANextRequest) {
  // The deadline for the next request runs from when the answer was written, not from before
  // the handler ran: a 5 s reload must not be followed by "request not complete" and a close.
  ControlServerOptions o;
  o.request_timeout_ms = 200;
  slow_handler_ms_ = 600;
  start(o);
  int fd = connectClient();
  ASSERT_TRUE(sendText(fd, "{\"v\":1,\"id\":1,\"cmd\":\"reload\"}\n"));
  auto answer = readLine(fd, 5000);
  ASSERT_TRUE(answer);
  EXPECT_NE(answer->find("\"ok\":true"), std::string::npos) << *answer;
  ASSERT_TRUE(sendText(fd, "{\"v\":1,\"id\":2,\"cmd\":\"status\"}\n"));
  auto next = readLine(fd, 5000);
  ASSERT_TRUE(next);
  EXPECT_NE(next->find("\"cmd\":\"status\""), std::string::npos) << *next;
  EXPECT_EQ(server_->stats().timed_out, 0u);
}

TEST_F(ControlServerTest, RefusesConnectionsBeyondTheCapAndAdmitsOnceOneCloses) {
  ControlServerOptions o;
  o.max_clients = 2;
  start(o);
  int first = connectClient();
  int second = connectClient();
  // Both are being served (the cap counts them) before the third arrives.
  for (int fd : {first, second}) {
    ASSERT_TRUE(sendText(fd, "{\"cmd\":\"status\"}\n"));
    ASSERT_TRUE(readLine(fd, 3000));
  }
  int third = connectClient();
  auto refusal = readLine(third, 3000);
  ASSERT_TRUE(refusal);
  EXPECT_NE(refusal->find("too many control connections"), std::string::npos) << *refusal;
  EXPECT_TRUE(closedWithin(third, 3000));
  EXPECT_EQ(server_->stats().refused_busy, 1u);
  close(first);
  clients_.erase(clients_.begin());
  std::optional<std::string> answer;
  // The server notices the close on its next round; retry until the slot is free.
  for (int attempt = 0; attempt < 50 && !answer; ++attempt) {
    int fd = connectClient();
    if (sendText(fd, "{\"cmd\":\"status\"}\n")) answer = readLine(fd, 3000);
    if (answer && answer->find("\"ok\":true") == std::string::npos) answer.reset();
  }
  EXPECT_TRUE(answer) << "no slot after a client left";
}

TEST_F(ControlServerTest, AnswersPipelinedRequestsInOrderAndAfterTheClientShutsDownItsSide) {
  start();
  int fd = connectClient();
  ASSERT_TRUE(sendText(fd,
                       "{\"id\":1,\"cmd\":\"status\"}\n\n{\"id\":2,\"cmd\":\"stats\"}\n"
                       "{\"id\":3,\"cmd\":\"explain\"}\n"));
  ASSERT_EQ(shutdown(fd, SHUT_WR), 0);
  for (int id = 1; id <= 3; ++id) {
    auto line = readLine(fd, 3000);
    ASSERT_TRUE(line) << id;
    EXPECT_NE(line->find("\"id\":" + std::to_string(id)), std::string::npos) << *line;
  }
  EXPECT_TRUE(closedWithin(fd, 3000));
}

TEST_F(ControlServerTest, RefusesAnOverlongLineAndCloses) {
  start();
  int fd = connectClient();
  ASSERT_TRUE(
      sendText(fd, "{\"cmd\":\"status\",\"pad\":\"" + std::string(kMaxControlLineBytes + 10, 'x')));
  auto line = readLine(fd, 3000);
  ASSERT_TRUE(line);
  EXPECT_NE(line->find("request line too long"), std::string::npos) << *line;
  EXPECT_TRUE(closedWithin(fd, 3000));
  EXPECT_EQ(handled_, 0);
}

TEST_F(ControlServerTest, PassesThePeersCredentialsNotTheRequestsClaim) {
  start();
  int fd = connectClient();
  ASSERT_TRUE(sendText(fd, "{\"cmd\":\"status\",\"granted_by\":\"someone-else\"}\n"));
  ASSERT_TRUE(readLine(fd, 3000));
  EXPECT_EQ(lastPeer().uid, geteuid());
  EXPECT_EQ(lastPeer().pid, getpid());
  EXPECT_EQ(lastPeer().user, "root");
  EXPECT_TRUE(lastPeer().may_change);
}

TEST(ControlServerRoleTest, OnlyRootTheDaemonUserOrTheAdminGroupMayChangeState) {
  EXPECT_TRUE(ControlServer::peerMayChange(0, 0, 0, false));
  EXPECT_TRUE(ControlServer::peerMayChange(geteuid(), 4242, 0, false));
  EXPECT_FALSE(ControlServer::peerMayChange(65534, 65534, 0, false));  // no admin group set
  EXPECT_TRUE(ControlServer::peerMayChange(65534, 65534, 65534, true));
  EXPECT_FALSE(ControlServer::peerMayChange(65534, 65534, 4242, true));
}

TEST(ControlServerRoleTest, ReadOnlyCommandsAreListedAndEverythingElseChangesState) {
  for (const char* cmd : {"status", "stats", "explain", "incidents", "exceptions.list"}) {
    EXPECT_TRUE(controlCommandReadsOnly(cmd)) << cmd;
  }
  for (const char* cmd :
       {"exceptions.add", "exceptions.remove", "pause", "reload", "no-such-command", ""}) {
    EXPECT_FALSE(controlCommandReadsOnly(cmd)) << cmd;
  }
}

TEST(ControlServerRoleTest, RefusalNamesTheGroupNeededAndThePeer) {
  ControlPeer peer;
  peer.uid = 1001;
  peer.user = "alice";
  std::string m = ControlServer::deniedMessage("pause", peer, "sg-admin");
  EXPECT_NE(m.find("\"pause\""), std::string::npos) << m;
  EXPECT_NE(m.find("group \"sg-admin\" (control.admin_group)"), std::string::npos) << m;
  EXPECT_NE(m.find("alice (uid 1001)"), std::string::npos) << m;
  m = ControlServer::deniedMessage("reload", peer, "");
  EXPECT_NE(m.find("control.admin_group is not set"), std::string::npos) << m;
}

// A real unprivileged peer: a forked child that drops to nobody/nogroup before connecting.
class ControlServerPeerTest : public ControlServerTest {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to switch to another user";
    passwd* pw = getpwnam("nobody");
    if (!pw) GTEST_SKIP() << "no user \"nobody\"";
    uid_ = pw->pw_uid;
    gid_ = pw->pw_gid;
    group* gr = getgrgid(gid_);
    if (!gr) GTEST_SKIP() << "nobody's group has no name";
    group_name_ = gr->gr_name;
    chmod(dir_.path().c_str(), 0755);  // the child must reach the socket
  }

  // Sends `request` as nobody and returns the response line ("" when there is none).
  std::string requestAsNobody(const std::string& request) {
    int out[2];
    if (pipe(out) != 0) return "";
    const std::string path = (dir_.path() / "control.sock").string();
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    pid_t pid = fork();
    if (pid == 0) {
      // Only system calls from here on: this process was forked from a threaded one.
      close(out[0]);
      if (setgroups(0, nullptr) != 0 || setgid(gid_) != 0 || setuid(uid_) != 0) _exit(2);
      int fd = socket(AF_UNIX, SOCK_STREAM, 0);
      if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) _exit(3);
      // A refused peer may see its send fail: the server closed first. That is no response.
      if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) _exit(0);
      char buf[4096];
      ssize_t n;
      while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
        if (write(out[1], buf, static_cast<size_t>(n)) != n) _exit(5);
        if (memchr(buf, '\n', static_cast<size_t>(n))) break;
      }
      _exit(0);
    }
    close(out[1]);
    std::string response;
    char buf[4096];
    ssize_t n;
    while ((n = read(out[0], buf, sizeof(buf))) > 0) response.append(buf, static_cast<size_t>(n));
    close(out[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    return response;
  }

  uid_t uid_ = 0;
  gid_t gid_ = 0;
  std::string group_name_;
};

TEST_F(ControlServerPeerTest, ASocketGroupMemberMayReadButNotChangeState) {
  ControlServerOptions o;
  o.mode = 0660;
  o.group = group_name_;
  start(o);
  std::string r = requestAsNobody("{\"id\":1,\"cmd\":\"status\"}\n");
  EXPECT_NE(r.find("\"ok\":true"), std::string::npos) << r;
  EXPECT_EQ(lastPeer().uid, uid_);
  EXPECT_EQ(lastPeer().user, "nobody");
  EXPECT_FALSE(lastPeer().may_change);
  const int handled = handled_;
  r = requestAsNobody("{\"id\":2,\"cmd\":\"pause\",\"group\":\"kids\",\"minutes\":5}\n");
  EXPECT_NE(r.find("permission denied"), std::string::npos) << r;
  EXPECT_NE(r.find("control.admin_group is not set"), std::string::npos) << r;
  EXPECT_EQ(handled_, handled);  // the handler never saw it
  EXPECT_EQ(server_->stats().denied, 1u);
}

TEST_F(ControlServerPeerTest, AnAdminGroupMemberMayChangeStateAndIsNamedAsThePeer) {
  ControlServerOptions o;
  o.mode = 0660;
  o.group = group_name_;
  o.admin_group = group_name_;
  start(o);
  std::string r =
      requestAsNobody("{\"id\":2,\"cmd\":\"pause\",\"granted_by\":\"root\",\"minutes\":5}\n");
  EXPECT_NE(r.find("\"ok\":true"), std::string::npos) << r;
  EXPECT_EQ(lastPeer().user, "nobody");
  EXPECT_TRUE(lastPeer().may_change);
}

TEST_F(ControlServerPeerTest, RefusesAPeerOutsideTheSocketGroupBeforeReading) {
  ControlServerOptions o;
  o.mode = 0666;  // the file lets anyone connect: the credential check still refuses
  start(o);
  std::string r = requestAsNobody("{\"id\":1,\"cmd\":\"status\"}\n");
  EXPECT_EQ(r, "");
  EXPECT_EQ(handled_, 0);
  EXPECT_EQ(server_->refusedPeers(), 1u);
}

}  // namespace
}  // namespace safegate
