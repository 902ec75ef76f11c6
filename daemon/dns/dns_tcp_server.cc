#include "daemon/dns/dns_tcp_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "common/clock.h"
#include "common/random.h"
#include "common/thread_name.h"
#include "daemon/dns/encrypted_upstream.h"
#include "filters/dns_message.h"
#include "filters/dns_tcp_stream.h"

namespace safegate {

namespace {

constexpr size_t kMaxDnsMessage = 65535;
// A query never needs more than this (a name is at most 255 octets; EDNS options are small);
// RFC 1035 §4.2.2 allows 65535, but a client sending more is not asking a question.
constexpr size_t kMaxQueryBytes = QuicCryptoAssembler::kCapacity;
constexpr size_t kMaxOutputBytes = 512 * 1024;  // unread answers per connection before closing
constexpr size_t kJobsPerThread = 64;
constexpr uint64_t kTagListener = 1ull << 62;
constexpr uint64_t kTagStop = 1ull << 61;
constexpr uint64_t kTagDone = 1ull << 60;
constexpr int kSweepMs = 100;  // deadlines are checked at most this often

int64_t monotonicMs() { return SystemClock::instance().monotonicMs(); }

IpAddress clientAddress(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    return IpAddress::v4(ntohl(reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr.s_addr));
  }
  const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr;
  // A v4-mapped client on a dual-stack socket is the IPv4 client it really is.
  if (IN6_IS_ADDR_V4MAPPED(&a))
    return IpAddress::v4(std::span<const uint8_t, 4>(a.s6_addr + 12, 4));
  return IpAddress::v6(std::span<const uint8_t, 16>(a.s6_addr, 16));
}

// A fresh upstream query ID (RFC 5452 §9.2). getrandom cannot fail once the pool is seeded;
// if it ever did, the query fails rather than go out with a guessable ID.
Result<uint16_t> randomId() {
  uint8_t b[2];
  if (Status s = fillRandom(b); !s) return s;
  return static_cast<uint16_t>((b[0] << 8) | b[1]);
}

// Waits until `fd` is ready for `events`, the deadline passes or stop_fd is written.
bool waitFor(int fd, short events, int stop_fd, int64_t deadline_ms) {
  for (;;) {
    const int64_t left = deadline_ms - monotonicMs();
    if (left <= 0) return false;
    pollfd p[2] = {{fd, events, 0}, {stop_fd, POLLIN, 0}};
    int n = poll(p, 2, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || p[1].revents) return false;
    if (p[0].revents) return true;
  }
}

// Sends (or receives) exactly `n` bytes on a non-blocking socket before the deadline.
bool transferAll(int fd, uint8_t* data, size_t n, bool sending, int stop_fd, int64_t deadline_ms) {
  while (n > 0) {
    ssize_t r = sending ? ::send(fd, data, n, MSG_NOSIGNAL) : ::recv(fd, data, n, 0);
    if (r > 0) {
      data += r;
      n -= static_cast<size_t>(r);
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!waitFor(fd, sending ? POLLOUT : POLLIN, stop_fd, deadline_ms)) return false;
    } else {
      return false;
    }
  }
  return true;
}

// One question over TCP to one upstream (RFC 7766); `framed` is the query with its two-byte
// length prefix (RFC 1035 §4.2.2). Returns the answer length or 0. The whole exchange
// (connect, write, read) shares one deadline and gives up at once on stop.
size_t queryUpstreamTcp(const SocketAddress& upstream, std::span<uint8_t> framed,
                        std::span<uint8_t> out, int timeout_ms, int stop_fd) {
  const int64_t deadline = monotonicMs() + timeout_ms;
  int fd = socket(upstream.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  size_t result = 0;
  bool connected =
      ::connect(fd, reinterpret_cast<const sockaddr*>(&upstream.storage), upstream.length) == 0;
  if (!connected && errno == EINPROGRESS && waitFor(fd, POLLOUT, stop_fd, deadline)) {
    int err = 0;
    socklen_t len = sizeof(err);
    connected = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
  }
  uint8_t len[2];
  if (connected && transferAll(fd, framed.data(), framed.size(), true, stop_fd, deadline) &&
      transferAll(fd, len, 2, false, stop_fd, deadline)) {
    const size_t n = (size_t{len[0]} << 8) | len[1];
    if (n <= out.size() && transferAll(fd, out.data(), n, false, stop_fd, deadline)) result = n;
  }
  close(fd);
  return result;
}

// One question through a DoT/DoH transport (EncryptedUpstream::exchange). Returns the answer
// length or 0.
size_t queryEncrypted(EncryptedUpstream& transport, std::span<const uint8_t> query,
                      std::span<uint8_t> out, int timeout_ms) {
  auto answer = transport.exchange(query, timeout_ms);
  if (!answer || answer->size() > out.size()) return 0;
  std::memcpy(out.data(), answer->data(), answer->size());
  return answer->size();
}

}  // namespace

struct DnsTcpServer::Connection {
  int fd = -1;
  uint64_t id = 0;  // slot | generation << 32
  sockaddr_storage peer{};
  IpAddress client;
  QuicCryptoAssembler assembler;
  DnsTcpStreamState stream;
  uint32_t received = 0;           // octets read so far (the stream's sequence numbers)
  int64_t message_started_ms = 0;  // first octet of an incomplete message; 0 = none
  int64_t last_activity_ms = 0;
  size_t in_progress = 0;  // queries with the query threads
  std::vector<uint8_t> out;
  size_t out_sent = 0;
  uint32_t interest = 0;
  bool peer_closed = false;

  bool idle() const { return message_started_ms == 0 && in_progress == 0 && out.empty(); }
};

struct DnsTcpServer::Job {
  uint64_t conn = 0;
  sockaddr_storage peer{};
  std::vector<uint8_t> query;
};

struct DnsTcpServer::Done {
  uint64_t conn = 0;
  std::vector<uint8_t> answer;  // empty: close the connection (malformed query)
};

DnsTcpServer::DnsTcpServer(DnsTcpOptions options, const PolicyHolder& policy,
                           IncidentStore* incidents, const NeighbourTable* neighbours)
    : options_(std::move(options)),
      policy_(policy),
      incidents_(incidents),
      neighbours_(neighbours) {}

DnsTcpServer::~DnsTcpServer() { stop(); }

Status DnsTcpServer::start(std::vector<int> listeners) {
  listeners_ = std::move(listeners);
  options_.max_connections = std::max<size_t>(1, options_.max_connections);
  options_.max_connections_per_client = std::max<size_t>(1, options_.max_connections_per_client);
  options_.query_threads = std::max(1, options_.query_threads);
  options_.max_pipelined = std::max<size_t>(1, options_.max_pipelined);
  auto fail = [&](const char* what) {
    Status s = Status::fromErrno(what, errno);
    for (int fd : {epoll_fd_, stop_fd_, done_fd_}) {
      if (fd >= 0) close(fd);
    }
    epoll_fd_ = stop_fd_ = done_fd_ = -1;
    for (int fd : listeners_) close(fd);
    listeners_.clear();
    return s;
  };
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return fail("epoll_create1");
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) return fail("eventfd");
  done_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (done_fd_ < 0) return fail("eventfd");
  auto add = [&](int fd, uint64_t tag) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
  };
  for (size_t i = 0; i < listeners_.size(); ++i) {
    int flags = 1;
    if (ioctl(listeners_[i], FIONBIO, &flags) != 0 || !add(listeners_[i], kTagListener | i)) {
      return fail("listener");
    }
  }
  if (!add(stop_fd_, kTagStop) || !add(done_fd_, kTagDone)) return fail("epoll_ctl");
  scratch_ = std::make_unique<std::array<uint8_t, QuicCryptoAssembler::kCapacity>>();
  slots_.resize(options_.max_connections);
  generations_.assign(options_.max_connections, 0);
  // One client holds at most max_connections_per_client * max_pipelined jobs; the queue takes
  // twice that, so a single client cannot fill it and turn everyone else's queries into SERVFAIL.
  max_jobs_ = std::max(kJobsPerThread * static_cast<size_t>(options_.query_threads),
                       2 * options_.max_connections_per_client * options_.max_pipelined);
  query_counters_ = std::make_unique<ProxyCounters[]>(static_cast<size_t>(options_.query_threads));
  for (int i = 0; i < options_.query_threads; ++i) {
    query_threads_.emplace_back([this, i] {
      setThreadName("sg-dns-tcpq" + std::to_string(i));
      queryThread(static_cast<size_t>(i));
    });
  }
  event_thread_ = std::thread([this] {
    setThreadName("sg-dns-tcp");
    eventLoop();
  });
  return Status::ok();
}

void DnsTcpServer::stop() {
  if (stop_fd_ < 0) return;
  stopping_ = true;
  uint64_t one = 1;
  (void)!write(stop_fd_, &one, sizeof(one));
  {
    std::lock_guard<std::mutex> lock(jobs_mu_);
    jobs_cv_.notify_all();
  }
  if (event_thread_.joinable()) event_thread_.join();
  for (auto& t : query_threads_) {
    if (t.joinable()) t.join();
  }
  query_threads_.clear();
  for (auto& slot : slots_) {
    if (slot) closeConnection(*slot);
  }
  for (int fd : listeners_) close(fd);
  listeners_.clear();
  for (int fd : {epoll_fd_, done_fd_, stop_fd_}) close(fd);
  epoll_fd_ = done_fd_ = stop_fd_ = -1;
  jobs_.clear();
  done_.clear();
}

DnsTcpStats DnsTcpServer::stats() const {
  DnsTcpStats s;
#define SAFEGATE_DNS_TCP_READ(name) s.name = name##_.load(std::memory_order_relaxed);
  SAFEGATE_DNS_TCP_COUNTERS(SAFEGATE_DNS_TCP_READ)
#undef SAFEGATE_DNS_TCP_READ
  s.connections = connections_.load(std::memory_order_relaxed);
  return s;
}

void DnsTcpServer::addQueryCounters(ProxyCounters& sum) const {
  if (!query_counters_) return;
  for (int i = 0; i < options_.query_threads; ++i) {
#define SAFEGATE_DNS_TCP_SUM(name)                                                                 \
  sum.name.fetch_add(query_counters_[static_cast<size_t>(i)].name.load(std::memory_order_relaxed), \
                     std::memory_order_relaxed);
    SAFEGATE_PROXY_COUNTERS(SAFEGATE_DNS_TCP_SUM)
#undef SAFEGATE_DNS_TCP_SUM
  }
}

// ---------------------------------------------------------------------------------------------
// Event loop

void DnsTcpServer::eventLoop() {
  std::array<epoll_event, 64> events;
  next_sweep_ms_ = monotonicMs() + kSweepMs;
  while (!stopping_.load(std::memory_order_relaxed)) {
    int timeout = open_ > 0 ? kSweepMs : -1;
    int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout);
    if (n < 0 && errno != EINTR) return;
    for (int i = 0; i < n; ++i) {
      const uint64_t tag = events[static_cast<size_t>(i)].data.u64;
      const uint32_t ev = events[static_cast<size_t>(i)].events;
      if (tag == kTagStop) return;
      if (tag == kTagDone) {
        drainDone();
      } else if (tag & kTagListener) {
        acceptFrom(listeners_[static_cast<size_t>(tag & 0xffff)]);
      } else {
        const size_t slot = static_cast<size_t>(tag & 0xffffffffu);
        Connection* c = slot < slots_.size() ? slots_[slot].get() : nullptr;
        if (!c || c->id != tag) continue;  // closed earlier in this batch
        if (ev & (EPOLLERR | EPOLLHUP)) {  // reset, or both directions shut: nobody to answer
          closeConnection(*c);
          continue;
        }
        if (ev & EPOLLOUT) flush(*c);
        c = slots_[slot].get();
        if (c && (ev & (EPOLLIN | EPOLLRDHUP))) readFrom(*c);
      }
    }
    const int64_t now = monotonicMs();
    if (now >= next_sweep_ms_) {
      checkDeadlines(now);
      next_sweep_ms_ = now + kSweepMs;
    }
  }
}

// Frees a slot for a new connection when every slot is taken (RFC 7766 §6.2.3: close idle
// connections first); a connection with a query in progress is kept. False: nothing to evict.
bool DnsTcpServer::makeRoomFor() {
  Connection* oldest_idle = nullptr;
  Connection* slowest = nullptr;
  for (auto& slot : slots_) {
    Connection* c = slot.get();
    if (!c) continue;
    if (c->idle()) {
      if (!oldest_idle || c->last_activity_ms < oldest_idle->last_activity_ms) oldest_idle = c;
    } else if (c->message_started_ms != 0 && c->in_progress == 0 && c->out.empty()) {
      if (!slowest || c->message_started_ms < slowest->message_started_ms) slowest = c;
    }
  }
  if (oldest_idle) {
    evicted_idle_.fetch_add(1, std::memory_order_relaxed);
    closeConnection(*oldest_idle);
    return true;
  }
  if (slowest) {
    evicted_slow_.fetch_add(1, std::memory_order_relaxed);
    closeConnection(*slowest);
    return true;
  }
  return false;
}

void DnsTcpServer::acceptFrom(int listener) {
  // A bounded number per wake-up, so one flooded listener cannot starve the connections.
  for (int round = 0; round < 64; ++round) {
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof(peer);
    int fd = accept4(listener, reinterpret_cast<sockaddr*>(&peer), &peer_len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or a connection reset before we took it
    if (options_.admit && !options_.admit(reinterpret_cast<const sockaddr*>(&peer), peer_len)) {
      refused_admission_.fetch_add(1, std::memory_order_relaxed);
      close(fd);
      continue;
    }
    const IpAddress client = clientAddress(peer);
    size_t same_client = 0;
    for (const auto& slot : slots_) {
      if (slot && slot->client == client) ++same_client;
    }
    if (same_client >= options_.max_connections_per_client) {
      refused_client_cap_.fetch_add(1, std::memory_order_relaxed);
      close(fd);
      continue;
    }
    const int64_t now = monotonicMs();
    if (open_ >= slots_.size() && !makeRoomFor()) {
      refused_full_.fetch_add(1, std::memory_order_relaxed);
      close(fd);
      continue;
    }
    size_t slot = 0;
    while (slots_[slot]) ++slot;
    auto c = std::make_unique<Connection>();
    c->fd = fd;
    c->id = slot | (uint64_t{++generations_[slot]} << 32);
    c->peer = peer;
    c->client = client;
    c->last_activity_ms = now;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = c->id;
    c->interest = ev.events;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      close(fd);
      continue;
    }
    slots_[slot] = std::move(c);
    ++open_;
    connections_.store(open_, std::memory_order_relaxed);
    accepted_.fetch_add(1, std::memory_order_relaxed);
  }
}

void DnsTcpServer::closeConnection(Connection& c) {
  const size_t slot = static_cast<size_t>(c.id & 0xffffffffu);
  if (epoll_fd_ >= 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
  close(c.fd);
  slots_[slot].reset();  // answers still coming for it find a new generation and are dropped
  --open_;
  connections_.store(open_, std::memory_order_relaxed);
}

void DnsTcpServer::updateInterest(Connection& c) {
  uint32_t want = 0;
  // Reads pause while the client has many queries in progress or answers it does not read
  // (level-triggered: a paused or half-closed socket must not report readiness again).
  if (!c.peer_closed && c.in_progress < options_.max_pipelined && c.out.size() < kMaxOutputBytes) {
    want |= EPOLLIN | EPOLLRDHUP;
  }
  if (!c.out.empty()) want |= EPOLLOUT;
  if (want == c.interest) return;
  epoll_event ev{};
  ev.events = want;
  ev.data.u64 = c.id;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
  c.interest = want;
}

void DnsTcpServer::readFrom(Connection& c) {
  std::array<uint8_t, 4096> buf;
  for (int round = 0; round < 4; ++round) {
    if (c.in_progress >= options_.max_pipelined) break;
    const size_t held = c.received - c.stream.base_seq;
    const size_t room = std::min(buf.size(), kMaxQueryBytes - std::min(held, kMaxQueryBytes));
    if (room == 0) break;
    ssize_t r = ::recv(c.fd, buf.data(), room, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (r <= 0) {
      // EOF: the client sent everything it will (RFC 7766 §6.2.4 lets it half-close after its
      // queries); answer what is in progress, then close.
      c.peer_closed = true;
      if (c.in_progress == 0 && c.out.empty()) {
        closeConnection(c);
        return;
      }
      break;
    }
    const uint32_t seq = c.received;
    c.received += static_cast<uint32_t>(r);
    c.last_activity_ms = monotonicMs();
    const uint64_t id = c.id;
    const size_t slot = static_cast<size_t>(id & 0xffffffffu);
    DnsTcpStatus st = feedDnsTcpSegment(
        c.assembler, c.stream, seq, std::span<const uint8_t>(buf.data(), static_cast<size_t>(r)),
        kMaxQueryBytes, *scratch_, [&](std::span<const uint8_t> msg) {
          onMessage(c, msg);
          return true;
        });
    if (!slots_[slot] || slots_[slot]->id != id) return;  // closed while handling a message
    if (st != DnsTcpStatus::kOk) {
      framing_errors_.fetch_add(1, std::memory_order_relaxed);
      closeConnection(c);
      return;
    }
    const bool partial = c.received != c.stream.base_seq + c.stream.consumed;
    if (!partial) {
      c.message_started_ms = 0;
    } else if (c.message_started_ms == 0) {
      c.message_started_ms = c.last_activity_ms;
    }
  }
  updateInterest(c);
}

void DnsTcpServer::onMessage(Connection& c, std::span<const uint8_t> msg) {
  if (msg.empty()) return;
  // The message that just completed ends the slow-drip clock; the next one starts its own.
  c.message_started_ms = 0;
  // Reads pause at max_pipelined, but one read may complete several queries: those beyond the
  // limit are refused like a full queue, so the bound per connection (and per client) is exact.
  if (c.in_progress < options_.max_pipelined) {
    auto job = std::make_unique<Job>();
    job->conn = c.id;
    job->peer = c.peer;
    job->query.assign(msg.begin(), msg.end());
    std::lock_guard<std::mutex> lock(jobs_mu_);
    if (jobs_.size() < max_jobs_) {
      jobs_.push_back(std::move(job));
      jobs_cv_.notify_one();
      ++c.in_progress;
      return;
    }
  }
  // Every query thread is busy and the queue is full (or this connection has too many queries
  // in progress): SERVFAIL now rather than queue without bound.
  queue_full_.fetch_add(1, std::memory_order_relaxed);
  DnsQuery q;
  NameBuffer name;
  std::array<uint8_t, 1024> out;
  size_t n = 0;
  if (msg.size() <= 512 && parseDnsQuery(msg, q, name) == DnsParseStatus::kOk) {
    n = buildServfail(msg, q, out);
  }
  if (n == 0) return;
  c.out.push_back(static_cast<uint8_t>(n >> 8));
  c.out.push_back(static_cast<uint8_t>(n));
  c.out.insert(c.out.end(), out.begin(), out.begin() + static_cast<ptrdiff_t>(n));
}

void DnsTcpServer::drainDone() {
  uint64_t count;
  (void)!read(done_fd_, &count, sizeof(count));
  std::vector<std::unique_ptr<Done>> batch;
  {
    std::lock_guard<std::mutex> lock(done_mu_);
    batch.swap(done_);
  }
  for (auto& d : batch) {
    const size_t slot = static_cast<size_t>(d->conn & 0xffffffffu);
    Connection* c = slot < slots_.size() ? slots_[slot].get() : nullptr;
    if (!c || c->id != d->conn) continue;  // the connection closed meanwhile
    --c->in_progress;
    if (d->answer.empty()) {
      closeConnection(*c);  // malformed query: RFC 7766 §6.2.4 lets the server close
      continue;
    }
    const size_t n = d->answer.size();
    c->out.push_back(static_cast<uint8_t>(n >> 8));
    c->out.push_back(static_cast<uint8_t>(n));
    c->out.insert(c->out.end(), d->answer.begin(), d->answer.end());
    flush(*c);
  }
}

void DnsTcpServer::flush(Connection& c) {
  while (c.out_sent < c.out.size()) {
    ssize_t r = ::send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
    if (r > 0) {
      c.out_sent += static_cast<size_t>(r);
      c.last_activity_ms = monotonicMs();
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    closeConnection(c);
    return;
  }
  if (c.out_sent == c.out.size()) {
    c.out.clear();
    c.out_sent = 0;
    if (c.peer_closed && c.in_progress == 0) {
      closeConnection(c);
      return;
    }
  } else if (c.out.size() - c.out_sent > kMaxOutputBytes) {
    closeConnection(c);  // the client asks and never reads
    return;
  }
  updateInterest(c);
}

void DnsTcpServer::checkDeadlines(int64_t now_ms) {
  for (auto& slot : slots_) {
    Connection* c = slot.get();
    if (!c) continue;
    if (c->message_started_ms != 0 &&
        now_ms - c->message_started_ms >= options_.message_timeout_ms) {
      message_timeouts_.fetch_add(1, std::memory_order_relaxed);
      closeConnection(*c);
    } else if (c->in_progress == 0 && now_ms - c->last_activity_ms >= options_.idle_timeout_ms) {
      // Idle, or answers the client does not read: either way nothing moves.
      idle_timeouts_.fetch_add(1, std::memory_order_relaxed);
      closeConnection(*c);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Query threads

void DnsTcpServer::queryThread(size_t index) {
  ProxyCounters& counters = query_counters_[index];
  QueryHandler handler(options_.answers, incidents_, counters);
  PolicyHolder::Reader reader(policy_);
  std::optional<SnapshotHolder<NeighbourMap>::Reader> neighbours;
  if (neighbours_) neighbours.emplace(neighbours_->holder());
  // The upstream query with room for its length prefix in front.
  auto upstream_framed = std::make_unique<uint8_t[]>(2 + kMaxDnsMessage);
  uint8_t* const upstream_query = upstream_framed.get() + 2;
  auto answer = std::make_unique<uint8_t[]>(kMaxDnsMessage);
  auto out = std::make_unique<uint8_t[]>(kMaxDnsMessage);
  for (;;) {
    std::unique_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(jobs_mu_);
      jobs_cv_.wait(lock, [&] { return stopping_.load() || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    auto done = std::make_unique<Done>();
    done->conn = job->conn;
    const std::span<const uint8_t> msg(job->query);
    bump(counters.queries_tcp);
    DnsQuery q;
    NameBuffer name;
    const auto& policy = reader.current();
    if (parseDnsQuery(msg, q, name) != DnsParseStatus::kOk || !policy) {
      bump(counters.malformed);
    } else {
      ClientInfo client;
      client.address = clientAddress(job->peer);
      if (neighbours) {
        const auto& map = neighbours->current();
        if (map) client.mac = map->find(client.address);
      }
      const int64_t now = SystemClock::instance().unixMs();
      std::span<uint8_t> out_span(out.get(), kMaxDnsMessage);
      QueryPlan plan = handler.plan(*policy, msg, q, client, now, out_span);
      size_t answer_len = plan.answer_length;
      if (plan.action != QueryAction::kAnswered) {
        const bool rewrite = plan.action == QueryAction::kForwardRewrite;
        std::string_view upstream_name = rewrite ? plan.rewrite_target : q.question.name;
        size_t qlen;
        if (rewrite) {
          qlen = buildDnsQuery(0, upstream_name, q.question.qtype, q.has_edns ? 65535 : 0,
                               q.edns_do, std::span(upstream_query, kMaxDnsMessage));
        } else {
          std::memcpy(upstream_query, msg.data(), msg.size());
          qlen = msg.size();
        }
        size_t got = 0;
        bump(counters.forwarded);
        for (size_t attempt = 0; attempt < options_.upstreams.size() && got == 0; ++attempt) {
          if (stopping_) return;
          Result<uint16_t> fresh_id = randomId();
          if (!fresh_id) break;  // answered SERVFAIL below, like an unreachable upstream
          const uint16_t id = *fresh_id;
          upstream_query[0] = static_cast<uint8_t>(id >> 8);
          upstream_query[1] = static_cast<uint8_t>(id);
          upstream_framed[0] = static_cast<uint8_t>(qlen >> 8);
          upstream_framed[1] = static_cast<uint8_t>(qlen);
          EncryptedUpstream* transport =
              attempt < options_.encrypted.size() ? options_.encrypted[attempt].get() : nullptr;
          got = transport != nullptr ? queryEncrypted(*transport, std::span(upstream_query, qlen),
                                                      std::span(answer.get(), kMaxDnsMessage),
                                                      options_.upstream_timeout_ms)
                                     : queryUpstreamTcp(options_.upstreams[attempt],
                                                        std::span(upstream_framed.get(), 2 + qlen),
                                                        std::span(answer.get(), kMaxDnsMessage),
                                                        options_.upstream_timeout_ms, stop_fd_);
          if (got > 0 && !responseMatchesQuestion(std::span(answer.get(), got), id, upstream_name,
                                                  q.question.qtype, q.question.qclass)) {
            bump(counters.upstream_bad_answers);
            got = 0;
          }
          if (got == 0) bump(counters.upstream_errors);
        }
        if (got == 0) {
          bump(counters.servfail_sent);
          answer_len = buildServfail(msg, q, out_span);
        } else {
          bump(counters.upstream_answers);
          answer_len =
              handler.finish(*policy, msg, q, client, rewrite ? upstream_name : std::string_view(),
                             std::span(answer.get(), got), now, out_span);
        }
      }
      done->answer.assign(out.get(), out.get() + answer_len);
    }
    {
      std::lock_guard<std::mutex> lock(done_mu_);
      done_.push_back(std::move(done));
    }
    uint64_t one = 1;
    (void)!write(done_fd_, &one, sizeof(one));
  }
}

}  // namespace safegate
