#include "daemon/dns/dns_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "common/fd.h"
#include "common/random.h"
#include "common/thread_name.h"
#include "daemon/dns/dns_cache.h"
#include "daemon/dns/dns_tcp_server.h"
#include "daemon/dns/encrypted_upstream.h"
#include "filters/dns_message.h"

namespace safegate {

namespace {

constexpr size_t kBatch = 32;                  // datagrams per recvmmsg / sendmmsg
constexpr size_t kMaxMessage = 4096;           // largest UDP message we read or answer
constexpr size_t kMaxFlights = 2048;           // upstream questions in flight per worker
constexpr size_t kMaxWaiters = 4096;           // clients waiting for them per worker
constexpr size_t kMaxQueryBytes = 512;         // client queries we keep while waiting
constexpr size_t kSocketsPerUpstream = 4;      // random source ports per upstream per worker
constexpr size_t kFlightBuckets = 4096;        // power of two
constexpr uint16_t kNoSocket = 0xffff;         // Flight::socket when no query of it is out
constexpr uint16_t kEncryptedSocket = 0xfffe;  // Flight::socket: out on a DoT/DoH transport

int64_t monotonicMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}
int64_t wallMs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

IpAddress addressOf(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    return IpAddress::v4(ntohl(in->sin_addr.s_addr));
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
  std::span<const uint8_t, 16> b(in6->sin6_addr.s6_addr, 16);
  // A v4-mapped client on a dual-stack socket is the IPv4 client it really is.
  if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
    std::span<const uint8_t, 4> v4(in6->sin6_addr.s6_addr + 12, 4);
    return IpAddress::v4(v4);
  }
  return IpAddress::v6(b);
}

// The largest answer a UDP client accepts (RFC 1035 §4.2.1; RFC 6891 §6.2.3).
size_t udpLimit(const DnsQuery& q) {
  if (!q.has_edns) return 512;
  return std::clamp<size_t>(q.edns_udp_size, 512, kMaxMessage);
}

// Cuts an answer down to header + question with TC set, so the client retries over TCP.
size_t truncateForUdp(std::span<uint8_t> msg, const DnsQuery& q) {
  msg[2] |= 0x02;
  for (int i = 6; i < 12; ++i) msg[i] = 0;
  return q.question_end;
}

struct RandomPool {
  std::array<uint8_t, 4096> bytes{};
  size_t used = bytes.size();
  uint16_t u16() noexcept {
    if (used + 2 > bytes.size()) {
      // Query IDs and source ports must not be guessable (RFC 5452); a kernel that cannot give
      // random bytes leaves nothing safe to send, so stop loudly rather than reuse old ones.
      if (Status s = fillRandom(bytes); !s) {
        std::fprintf(stderr, "safegated: fatal: %s\n", s.toString().c_str());
        std::abort();
      }
      used = 0;
    }
    uint16_t v = static_cast<uint16_t>((bytes[used] << 8) | bytes[used + 1]);
    used += 2;
    return v;
  }
  uint64_t u64() noexcept {
    return (uint64_t{u16()} << 48) | (uint64_t{u16()} << 32) | (uint64_t{u16()} << 16) | u16();
  }
};

// Length of the uncompressed wire name at `offset` (labels and the root byte), 0 if it is not
// one. Queries carry their question name uncompressed (a pointer could only point into the
// header, which the parser rejects).
size_t wireNameLength(std::span<const uint8_t> msg, size_t offset) {
  size_t at = offset;
  while (at < msg.size()) {
    const uint8_t label = msg[at];
    if (label == 0) return at + 1 - offset;
    if (label > 63) return 0;
    at += 1 + label;
  }
  return 0;
}

bool isAsciiLetter(uint8_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// 0x20 (draft-vixie-dnsext-dns0x20): every letter of the wire name gets a random case, one
// random bit each. Label length bytes are at most 63, below 'A', so only name text changes.
void randomizeCase(std::span<uint8_t> wire_name, RandomPool& rnd) {
  uint64_t bits = 0;
  int left = 0;
  for (uint8_t& c : wire_name) {
    if (!isAsciiLetter(c)) continue;
    if (left == 0) {
      bits = rnd.u64();
      left = 64;
    }
    c = (bits & 1) ? static_cast<uint8_t>(c | 0x20) : static_cast<uint8_t>(c & ~0x20);
    bits >>= 1;
    --left;
  }
}

// Puts the client's own spelling of the question name into an answer to it (whose question
// may carry another client's case, or the random case sent upstream): same name ignoring
// case, so the length and every compression pointer into it stay valid.
void giveClientItsCase(std::span<uint8_t> answer, std::span<const uint8_t> query,
                       const DnsQuery& q) {
  const size_t length = wireNameLength(query, kDnsHeaderSize);
  if (length == 0 || q.question_end < kDnsHeaderSize + length ||
      answer.size() < kDnsHeaderSize + length) {
    return;
  }
  uint8_t* a = answer.data() + kDnsHeaderSize;
  const uint8_t* c = query.data() + kDnsHeaderSize;
  for (size_t i = 0; i < length; ++i) {
    if ((a[i] | 0x20) != (c[i] | 0x20)) return;  // not the same name: leave it alone
  }
  std::memcpy(a, c, length);
}

[[maybe_unused]] Status setNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL, 0);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    return Status::fromErrno("fcntl O_NONBLOCK", errno);
  }
  return Status::ok();
}

// A UDP socket bound to a random source port and connected to `upstream`.
Result<int> openUpstreamSocket(const SocketAddress& upstream, RandomPool& rnd) {
  int fd = socket(upstream.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::fromErrno("socket", errno);
  SocketAddress local;
  local.storage.ss_family = static_cast<sa_family_t>(upstream.family());
  local.length = upstream.family() == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  // Random port in 1024..65535 (RFC 5452 §9.2), a few tries before letting the kernel choose.
  bool bound = false;
  for (int attempt = 0; attempt < 16 && !bound; ++attempt) {
    local.setPort(static_cast<uint16_t>(1024 + rnd.u16() % (65536 - 1024)));
    bound = ::bind(fd, reinterpret_cast<sockaddr*>(&local.storage), local.length) == 0;
  }
  if (!bound) {
    local.setPort(0);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local.storage), local.length) != 0) {
      int e = errno;
      close(fd);
      return Status::fromErrno("bind upstream socket", e);
    }
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&upstream.storage), upstream.length) != 0) {
    int e = errno;
    close(fd);
    return Status::fromErrno("connect " + upstream.toString(), e);
  }
  return fd;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SocketAddress

std::optional<SocketAddress> SocketAddress::parse(std::string_view text, uint16_t default_port) {
  std::string_view host = text;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close_at = text.find(']');
    if (close_at == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close_at - 1);
    std::string_view rest = text.substr(close_at + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port_text = rest.substr(1);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    size_t colon = text.find(':');
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  uint32_t port = default_port;
  if (!port_text.empty()) {
    port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9') return std::nullopt;
      port = port * 10 + static_cast<uint32_t>(c - '0');
      if (port > 65535) return std::nullopt;
    }
  }
  auto ip = IpAddress::parse(host);
  if (!ip) return std::nullopt;
  SocketAddress a;
  if (ip->isV4()) {
    auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
    in->sin_family = AF_INET;
    std::memcpy(&in->sin_addr, ip->bytes().data(), 4);
    a.length = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    in6->sin6_family = AF_INET6;
    std::memcpy(&in6->sin6_addr, ip->bytes().data(), 16);
    a.length = sizeof(sockaddr_in6);
  }
  a.setPort(static_cast<uint16_t>(port));
  return a;
}

uint16_t SocketAddress::port() const {
  if (storage.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
}

void SocketAddress::setPort(uint16_t port) {
  if (storage.ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(port);
  }
}

std::string SocketAddress::toString() const {
  std::string ip = addressOf(storage).toString();
  if (storage.ss_family == AF_INET6) ip = "[" + ip + "]";
  return ip + ":" + std::to_string(port());
}

// ---------------------------------------------------------------------------------------------
// Worker: one UDP event loop. Everything it touches on the query path is its own.

struct DnsProxy::Worker {
  struct Flight {
    bool in_use = false;
    bool collapsible = true;
    uint16_t id = 0;
    uint8_t upstream = 0;         // index into options.upstreams
    uint8_t attempts = 0;         // upstreams tried so far
    uint16_t socket = kNoSocket;  // index into `sockets` while a query is out
    uint8_t qname_length = 0;     // wire length of the name in `query` at offset 12
    int64_t deadline_ms = 0;
    uint64_t hash = 0;
    int32_t bucket_next = -1;
    int32_t first_waiter = -1;
    uint16_t qtype = 0, qclass = 1;
    bool has_edns = false, dnssec_ok = false, checking_disabled = false;
    uint8_t name_length = 0;
    char name[256];
    uint16_t query_length = 0;
    uint8_t query[kMaxQueryBytes];  // what we send upstream (ID patched per attempt)
    DnsCacheKey key() const {
      return {std::string_view(name, name_length),
              qtype,
              qclass,
              has_edns,
              dnssec_ok,
              checking_disabled};
    }
  };
  struct Waiter {
    int32_t next = -1;
    int listen_fd = -1;
    bool rewrite = false;
    sockaddr_storage peer{};
    socklen_t peer_length = 0;
    uint16_t query_length = 0;
    uint8_t query[kMaxQueryBytes];
  };
  struct Outgoing {
    int fd;
    sockaddr_storage peer;
    socklen_t peer_length;
    uint16_t length;
    uint8_t data[kMaxMessage];
  };

  Worker(DnsProxy& proxy, size_t cache_entries)
      : proxy(proxy),
        opts(proxy.options_),
        policy_reader(proxy.policy_),
        handler(opts.answers, proxy.incidents_, counters),
        cache(cache_entries, 86400, 0),
        limiter(opts.rate_limit, opts.rate_limit_entries, proxy.rate_key_.k0, proxy.rate_key_.k1) {
    // Seed the cache hash from the random pool so collisions cannot be chosen remotely.
    flights = std::make_unique<Flight[]>(kMaxFlights);
    waiters = std::make_unique<Waiter[]>(kMaxWaiters);
    id_to_flight = std::make_unique<int32_t[]>(65536);
    std::fill_n(id_to_flight.get(), 65536, -1);
    std::fill(std::begin(buckets), std::end(buckets), -1);
    free_flights.reserve(kMaxFlights);
    for (size_t i = kMaxFlights; i-- > 0;) free_flights.push_back(static_cast<int32_t>(i));
    free_waiters.reserve(kMaxWaiters);
    for (size_t i = kMaxWaiters; i-- > 0;) free_waiters.push_back(static_cast<int32_t>(i));
    outgoing = std::make_unique<Outgoing[]>(kBatch * 2);
    if (proxy.neighbours_) neighbour_reader.emplace(proxy.neighbours_->holder());
  }
  ~Worker() {
    for (int fd : listen_fds) close(fd);
    for (const UpstreamSocket& u : sockets) {
      if (u.fd >= 0) close(u.fd);
    }
    if (epoll_fd >= 0) close(epoll_fd);
  }

  // --- upstream sockets ----------------------------------------------------------------------
  // `active` holds kSocketsPerUpstream slots per upstream, where new queries go. Rotation
  // replaces them with new sockets on new random ports and retires the old ones: a retired
  // socket is still read, and closed when the last query sent on it is answered or has moved
  // on (timeout, retry), so no answer in flight is lost.

  // Called after setupEpoll (every socket is registered as it opens).
  Status openUpstreams() {
    sockets.reserve(opts.upstreams.size() * kSocketsPerUpstream * 4);
    free_slots.reserve(sockets.capacity());
    for (size_t u = 0; u < opts.upstreams.size(); ++u) {
      for (size_t k = 0; k < kSocketsPerUpstream; ++k) {
        if (encrypted(u)) {
          active.push_back(kNoSocket);  // its transport carries the queries
          continue;
        }
        auto slot = openSlot(u);
        if (!slot) return slot.status();
        active.push_back(*slot);
      }
    }
    if (opts.upstream_port_rotation_seconds > 0) {
      next_rotation_ms = monotonicMs() + int64_t{opts.upstream_port_rotation_seconds} * 1000;
    }
    return Status::ok();
  }

  Result<uint16_t> openSlot(size_t upstream) {
    auto fd = openUpstreamSocket(opts.upstreams[upstream], rnd);
    if (!fd) return fd.status();
    uint16_t slot;
    if (!free_slots.empty()) {
      slot = free_slots.back();
      free_slots.pop_back();
    } else if (sockets.size() < kNoSocket) {
      slot = static_cast<uint16_t>(sockets.size());
      sockets.emplace_back();
    } else {
      close(*fd);
      return Status::unavailable("too many upstream sockets in use");
    }
    sockets[slot] = UpstreamSocket{*fd, static_cast<uint8_t>(upstream), false, 0};
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kUpstreamTag | slot;
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, *fd, &ev) != 0) {
      int e = errno;
      closeSlot(slot);
      return Status::fromErrno("epoll_ctl upstream socket", e);
    }
    return slot;
  }

  void closeSlot(uint16_t slot) {
    UpstreamSocket& u = sockets[slot];
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, u.fd, nullptr);
    close(u.fd);
    u = UpstreamSocket{};
    free_slots.push_back(slot);
  }

  // The flight's query no longer waits on its socket (answered, given up, or sent again).
  void releaseSocket(Flight& f) {
    if (f.socket == kNoSocket) return;
    if (f.socket == kEncryptedSocket) {
      f.socket = kNoSocket;
      return;
    }
    UpstreamSocket& u = sockets[f.socket];
    if (--u.pending == 0 && u.retired) closeSlot(f.socket);
    f.socket = kNoSocket;
  }

  void rotateUpstreamSockets(int64_t now_mono) {
    next_rotation_ms = now_mono + int64_t{opts.upstream_port_rotation_seconds} * 1000;
    for (uint16_t& slot : active) {
      if (slot == kNoSocket) continue;
      auto fresh = openSlot(sockets[slot].upstream);
      if (!fresh) {
        bump(counters.upstream_errors);  // keep the old port until the next rotation
        continue;
      }
      const uint16_t old = slot;
      slot = *fresh;
      sockets[old].retired = true;
      if (sockets[old].pending == 0) closeSlot(old);
      bump(counters.upstream_ports_rotated);
    }
  }

  Status setupEpoll(int stop_fd) {
    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd < 0) return Status::fromErrno("epoll_create1", errno);
    auto add = [&](int fd, uint64_t tag) -> Status {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = tag;
      if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        return Status::fromErrno("epoll_ctl", errno);
      }
      return Status::ok();
    };
    Status s = add(stop_fd, kStopTag);
    for (size_t i = 0; s && i < listen_fds.size(); ++i) s = add(listen_fds[i], kListenTag | i);
    if (s && !opts.encrypted.empty()) {
      answers_ready.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
      if (!answers_ready) return Status::fromErrno("eventfd", errno);
      s = add(answers_ready.get(), kEncryptedTag);
    }
    return s;
  }

  void run() {
    epoll_event events[16];
    for (;;) {
      int timeout = 200;
      if (in_flight.load(std::memory_order_relaxed) > 0) {
        int64_t wait = next_deadline_ms - monotonicMs();
        timeout = static_cast<int>(std::clamp<int64_t>(wait, 0, 200));
      }
      int n = epoll_wait(epoll_fd, events, 16, timeout);
      for (int i = 0; i < n; ++i) {
        uint64_t tag = events[i].data.u64;
        if (tag == kStopTag) return;
        if ((tag & kKindMask) == kListenTag) {
          readClients(listen_fds[tag & ~kKindMask]);
        } else if (tag == kEncryptedTag) {
          takeEncryptedAnswers();
        } else {
          readUpstream(static_cast<uint16_t>(tag & ~kKindMask));
        }
      }
      if (in_flight.load(std::memory_order_relaxed) > 0 && monotonicMs() >= next_deadline_ms) {
        expireFlights();
      }
      // After the events: a socket closed here can have no event left in this batch.
      if (next_rotation_ms > 0 && monotonicMs() >= next_rotation_ms) {
        rotateUpstreamSockets(monotonicMs());
      }
      flushOutgoing();
    }
  }

  // --- client side ---------------------------------------------------------------------------

  void readClients(int fd) {
    std::array<mmsghdr, kBatch> msgs{};
    std::array<iovec, kBatch> iovs{};
    for (size_t i = 0; i < kBatch; ++i) {
      iovs[i] = {recv_buffers[i].data(), kMaxMessage};
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &recv_peers[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    }
    int n = recvmmsg(fd, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return;
    const int64_t now_wall = wallMs();
    const int64_t now_mono = monotonicMs();
    const auto& policy = policy_reader.current();
    for (int i = 0; i < n; ++i) {
      bump(counters.queries_udp);
      if (!proxy.acl_.allows(reinterpret_cast<const sockaddr*>(&recv_peers[i]),
                             msgs[i].msg_hdr.msg_namelen)) {
        // Not one of our clients: no answer at all, so we are nobody's reflector.
        bump(counters.acl_refused);
        continue;
      }
      handleClientQuery(fd, std::span(recv_buffers[i].data(), msgs[i].msg_len), recv_peers[i],
                        msgs[i].msg_hdr.msg_namelen, policy.get(), now_wall, now_mono);
    }
  }

  Outgoing* reserveOutgoing(int fd, const sockaddr_storage& peer, socklen_t peer_length) {
    if (outgoing_count == kBatch * 2) flushOutgoing();
    Outgoing& o = outgoing[outgoing_count++];
    o.fd = fd;
    o.peer = peer;
    o.peer_length = peer_length;
    o.length = 0;
    return &o;
  }

  void commitOutgoing(Outgoing* o, size_t length, const DnsQuery& q) {
    if (length == 0) {
      --outgoing_count;  // nothing to send (only the last reservation can be undone)
      return;
    }
    if (length > udpLimit(q)) length = truncateForUdp(std::span(o->data, length), q);
    o->length = static_cast<uint16_t>(length);
  }

  void flushOutgoing() {
    size_t start = 0;
    while (start < outgoing_count) {
      // sendmmsg per run of answers for the same listening socket.
      size_t end = start;
      std::array<mmsghdr, kBatch * 2> msgs{};
      std::array<iovec, kBatch * 2> iovs{};
      while (end < outgoing_count && outgoing[end].fd == outgoing[start].fd) {
        size_t k = end - start;
        iovs[k] = {outgoing[end].data, outgoing[end].length};
        msgs[k].msg_hdr.msg_iov = &iovs[k];
        msgs[k].msg_hdr.msg_iovlen = 1;
        msgs[k].msg_hdr.msg_name = &outgoing[end].peer;
        msgs[k].msg_hdr.msg_namelen = outgoing[end].peer_length;
        ++end;
      }
      size_t count = end - start;
      size_t sent = 0;
      while (sent < count) {
        int r = sendmmsg(outgoing[start].fd, msgs.data() + sent,
                         static_cast<unsigned>(count - sent), 0);
        if (r <= 0) {
          if (r < 0 && errno == EINTR) continue;
          bump(counters.send_errors, count - sent);
          break;
        }
        sent += static_cast<size_t>(r);
      }
      start = end;
    }
    outgoing_count = 0;
  }

  ClientInfo clientOf(const sockaddr_storage& peer) {
    ClientInfo c;
    c.address = addressOf(peer);
    if (neighbour_reader) {
      const auto& map = neighbour_reader->current();
      if (map) c.mac = map->find(c.address);
    }
    return c;
  }

  void handleClientQuery(int fd, std::span<const uint8_t> msg, const sockaddr_storage& peer,
                         socklen_t peer_length, const PolicyView* policy, int64_t now_wall,
                         int64_t now_mono) {
    // Every datagram costs a token, parseable or not, so garbage cannot be sent for free.
    const bool within_limit = limiter.allow(addressOf(peer), now_mono);
    DnsQuery q;
    NameBuffer name;
    if (parseDnsQuery(msg, q, name) != DnsParseStatus::kOk || policy == nullptr) {
      bump(counters.malformed);
      return;
    }
    if (!within_limit) {
      answerRateLimited(fd, msg, q, peer, peer_length);
      return;
    }
    const ClientInfo client = clientOf(peer);
    Outgoing* out = reserveOutgoing(fd, peer, peer_length);
    std::span<uint8_t> out_span(out->data, kMaxMessage);
    QueryPlan plan = handler.plan(*policy, msg, q, client, now_wall, out_span);
    if (plan.action == QueryAction::kAnswered) {
      commitOutgoing(out, plan.answer_length, q);
      return;
    }
    const bool rewrite = plan.action == QueryAction::kForwardRewrite;
    const std::string_view upstream_name = rewrite ? plan.rewrite_target : q.question.name;
    DnsCacheKey key{upstream_name, q.question.qtype, q.question.qclass,
                    q.has_edns,    q.edns_do,        q.header.checkingDisabled()};
    size_t cached = cache.lookup(key, now_wall, scratch);
    if (cached > 0) {
      bump(counters.cache_hits);
      if (!rewrite) giveClientItsCase(std::span(scratch.data(), cached), msg, q);
      size_t n =
          handler.finish(*policy, msg, q, client, rewrite ? upstream_name : std::string_view(),
                         std::span(scratch.data(), cached), now_wall, out_span);
      commitOutgoing(out, n, q);
      return;
    }
    commitOutgoing(out, 0, q);  // answered later, when the upstream replies
    if (msg.size() > kMaxQueryBytes || upstream_name.size() > 255) {
      // Too big to keep while waiting: answer SERVFAIL rather than grow memory.
      Outgoing* o = reserveOutgoing(fd, peer, peer_length);
      bump(counters.servfail_sent);
      commitOutgoing(o, buildServfail(msg, q, std::span(o->data, kMaxMessage)), q);
      return;
    }
    forward(fd, msg, q, peer, peer_length, key, rewrite, now_mono);
  }

  uint64_t keyHash(const DnsCacheKey& k) const {
    uint64_t h = 1469598103934665603ull;
    for (char c : k.name) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
    h ^= (uint64_t{k.qtype} << 32) | (uint64_t{k.qclass} << 8) | (k.has_edns ? 4 : 0) |
         (k.dnssec_ok ? 2 : 0) | (k.checking_disabled ? 1 : 0);
    return h * 0x9e3779b97f4a7c15ull;
  }

  int32_t findFlight(const DnsCacheKey& key, uint64_t h) {
    for (int32_t i = buckets[h & (kFlightBuckets - 1)]; i >= 0; i = flights[i].bucket_next) {
      const Flight& f = flights[i];
      if (f.hash == h && f.collapsible && f.key().name == key.name && f.qtype == key.qtype &&
          f.qclass == key.qclass && f.has_edns == key.has_edns && f.dnssec_ok == key.dnssec_ok &&
          f.checking_disabled == key.checking_disabled) {
        return i;
      }
    }
    return -1;
  }

  void unlinkFlight(int32_t index) {
    Flight& f = flights[index];
    int32_t* link = &buckets[f.hash & (kFlightBuckets - 1)];
    while (*link >= 0 && *link != index) link = &flights[*link].bucket_next;
    if (*link == index) *link = f.bucket_next;
    if (id_to_flight[f.id] == index) id_to_flight[f.id] = -1;
    releaseSocket(f);
    for (int32_t w = f.first_waiter; w >= 0;) {
      int32_t next = waiters[w].next;
      free_waiters.push_back(w);
      w = next;
    }
    f.in_use = false;
    f.first_waiter = -1;
    free_flights.push_back(index);
    in_flight.store(in_flight.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  }

  void forward(int fd, std::span<const uint8_t> msg, const DnsQuery& q,
               const sockaddr_storage& peer, socklen_t peer_length, const DnsCacheKey& key,
               bool rewrite, int64_t now_mono) {
    if (free_waiters.empty()) {
      bump(counters.pending_full);
      answerServfail(fd, msg, q, peer, peer_length);
      return;
    }
    const uint64_t h = keyHash(key);
    int32_t fi = findFlight(key, h);
    if (fi < 0) {
      if (free_flights.empty()) {
        bump(counters.pending_full);
        answerServfail(fd, msg, q, peer, peer_length);
        return;
      }
      fi = free_flights.back();
      free_flights.pop_back();
      Flight& f = flights[fi];
      f = Flight();
      f.in_use = true;
      f.hash = h;
      f.qtype = key.qtype;
      f.qclass = key.qclass;
      f.has_edns = key.has_edns;
      f.dnssec_ok = key.dnssec_ok;
      f.checking_disabled = key.checking_disabled;
      f.name_length = static_cast<uint8_t>(key.name.size());
      std::memcpy(f.name, key.name.data(), key.name.size());
      if (rewrite) {
        // Ask the upstream about the safe-search target with the client's EDNS settings.
        size_t n = buildDnsQuery(0, key.name, key.qtype, q.has_edns ? q.edns_udp_size : 0,
                                 q.edns_do, std::span(f.query, kMaxQueryBytes));
        f.query_length = static_cast<uint16_t>(n);
      } else {
        std::memcpy(f.query, msg.data(), msg.size());  // EDNS and options passed through
        f.query_length = static_cast<uint16_t>(msg.size());
      }
      f.qname_length = static_cast<uint8_t>(
          wireNameLength(std::span<const uint8_t>(f.query, f.query_length), kDnsHeaderSize));
      int32_t& head = buckets[h & (kFlightBuckets - 1)];
      f.bucket_next = head;
      head = fi;
      in_flight.store(in_flight.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      f.upstream = static_cast<uint8_t>(preferred_upstream);
      if (f.query_length == 0 || !sendUpstream(fi, now_mono)) {
        // Could not send anywhere: the waiter below is answered SERVFAIL by failFlight().
      }
      bump(counters.forwarded);
    } else {
      bump(counters.collapsed);
    }
    int32_t wi = free_waiters.back();
    free_waiters.pop_back();
    Waiter& w = waiters[wi];
    w.listen_fd = fd;
    w.rewrite = rewrite;
    w.peer = peer;
    w.peer_length = peer_length;
    w.query_length = static_cast<uint16_t>(msg.size());
    std::memcpy(w.query, msg.data(), msg.size());
    w.next = flights[fi].first_waiter;
    flights[fi].first_waiter = wi;
    if (flights[fi].query_length == 0) failFlight(fi);
  }

  // Sends (or re-sends) flight `fi` to its current upstream with a fresh random ID and socket.
  bool sendUpstream(int32_t fi, int64_t now_mono) {
    Flight& f = flights[fi];
    while (f.attempts < opts.upstreams.size() * 2) {
      if (id_to_flight[f.id] == fi) id_to_flight[f.id] = -1;
      uint16_t id;
      do {
        id = rnd.u16();
      } while (id_to_flight[id] >= 0);
      f.id = id;
      id_to_flight[id] = fi;
      f.query[0] = static_cast<uint8_t>(id >> 8);
      f.query[1] = static_cast<uint8_t>(id);
      if (EncryptedUpstream* transport = encrypted(f.upstream)) {
        releaseSocket(f);
        f.socket = kEncryptedSocket;
        ++f.attempts;
        f.deadline_ms = now_mono + opts.upstream_timeout_ms;
        if (in_flight.load(std::memory_order_relaxed) == 1 || f.deadline_ms < next_deadline_ms)
          next_deadline_ms = f.deadline_ms;
        const uint8_t upstream = f.upstream;
        transport->submit(std::span<const uint8_t>(f.query, f.query_length),
                          opts.upstream_timeout_ms,
                          [this, fi, id, upstream](std::span<const uint8_t> answer) {
                            deliverEncryptedAnswer(fi, id, upstream, answer);
                          });
        return true;
      }
      // A fresh case pattern per attempt, like the fresh ID: 1 bit more per letter to guess.
      if (opts.randomize_case) {
        randomizeCase(std::span(f.query + kDnsHeaderSize, f.qname_length), rnd);
      }
      releaseSocket(f);
      f.socket = active[f.upstream * kSocketsPerUpstream + rnd.u16() % kSocketsPerUpstream];
      ++sockets[f.socket].pending;
      ++f.attempts;
      f.deadline_ms = now_mono + opts.upstream_timeout_ms;
      if (in_flight.load(std::memory_order_relaxed) == 1 || f.deadline_ms < next_deadline_ms)
        next_deadline_ms = f.deadline_ms;
      if (::send(sockets[f.socket].fd, f.query, f.query_length, 0) ==
          static_cast<ssize_t>(f.query_length)) {
        return true;
      }
      bump(counters.upstream_errors);
      f.upstream = static_cast<uint8_t>((f.upstream + 1) % opts.upstreams.size());
    }
    f.query_length = 0;  // marks "give up"
    return false;
  }

  // REFUSED rather than silence: a legitimate but chatty client learns at once and backs off
  // instead of retrying into the limit, and the answer is no larger than the query (no
  // amplification); sources outside allow_from never get this far.
  void answerRateLimited(int fd, std::span<const uint8_t> msg, const DnsQuery& q,
                         const sockaddr_storage& peer, socklen_t peer_length) {
    bump(counters.rate_limited);
    Outgoing* o = reserveOutgoing(fd, peer, peer_length);
    BlockResponseOptions refused;
    refused.ede_blocked = false;
    commitOutgoing(o, buildRefused(msg, q, refused, std::span(o->data, kMaxMessage)), q);
  }

  void answerServfail(int fd, std::span<const uint8_t> msg, const DnsQuery& q,
                      const sockaddr_storage& peer, socklen_t peer_length) {
    Outgoing* o = reserveOutgoing(fd, peer, peer_length);
    bump(counters.servfail_sent);
    commitOutgoing(o, buildServfail(msg, q, std::span(o->data, kMaxMessage)), q);
  }

  // Calls fn(waiter, its query, the parsed query) for each client waiting for flight `fi`.
  // A waiter's query parsed when it was stored; one that somehow no longer does is skipped.
  template <typename Fn>
  void forEachWaiter(int32_t fi, Fn&& fn) {
    for (int32_t w = flights[fi].first_waiter; w >= 0; w = waiters[w].next) {
      const Waiter& wt = waiters[w];
      DnsQuery q;
      NameBuffer name;
      std::span<const uint8_t> msg(wt.query, wt.query_length);
      if (parseDnsQuery(msg, q, name) != DnsParseStatus::kOk) continue;
      fn(wt, msg, q);
    }
  }

  // Header and question with TC set, to every client waiting for flight `fi`; nothing cached.
  void answerTruncated(int32_t fi) {
    forEachWaiter(fi, [&](const Waiter& wt, std::span<const uint8_t> msg, const DnsQuery& q) {
      Outgoing* o = reserveOutgoing(wt.listen_fd, wt.peer, wt.peer_length);
      std::span<uint8_t> out(o->data, kMaxMessage);
      size_t n = buildServfail(msg, q, out);  // header + question (+ OPT), then made NOERROR+TC
      if (n > 0) {
        o->data[3] &= 0xf0;
        n = truncateForUdp(out.first(n), q);
        bump(counters.truncated_passed);
      }
      commitOutgoing(o, n, q);
    });
    unlinkFlight(fi);
  }

  void failFlight(int32_t fi) {
    forEachWaiter(fi, [&](const Waiter& wt, std::span<const uint8_t> msg, const DnsQuery& q) {
      answerServfail(wt.listen_fd, msg, q, wt.peer, wt.peer_length);
    });
    unlinkFlight(fi);
  }

  void expireFlights() {
    const int64_t now = monotonicMs();
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < kMaxFlights; ++i) {
      Flight& f = flights[i];
      if (!f.in_use) continue;
      if (f.deadline_ms <= now) {
        bump(counters.upstream_timeouts);
        retryOrFail(static_cast<int32_t>(i), now);
        if (!f.in_use) continue;
      }
      next = std::min(next, f.deadline_ms);
    }
    next_deadline_ms = next == INT64_MAX ? now + 200 : next;
  }

  // --- encrypted upstreams --------------------------------------------------------------------
  // A transport calls back on its own thread; the answer is queued for this worker, which takes
  // it in its loop (kEncryptedTag) and treats it like a UDP answer from that upstream.

  EncryptedUpstream* encrypted(size_t upstream) const {
    return upstream < opts.encrypted.size() ? opts.encrypted[upstream].get() : nullptr;
  }

  // Any thread.
  void deliverEncryptedAnswer(int32_t fi, uint16_t id, uint8_t upstream,
                              std::span<const uint8_t> answer) {
    bool was_empty;
    {
      std::lock_guard lock(encrypted_mu);
      was_empty = encrypted_answers.empty();
      encrypted_answers.push_back({fi, id, upstream, {answer.begin(), answer.end()}});
    }
    if (was_empty) {
      const uint64_t one = 1;
      (void)!::write(answers_ready.get(), &one, sizeof one);
    }
  }

  void takeEncryptedAnswers() {
    uint64_t v;
    (void)!::read(answers_ready.get(), &v, sizeof v);
    {
      std::lock_guard lock(encrypted_mu);
      encrypted_taken.swap(encrypted_answers);
    }
    const int64_t now_wall = wallMs();
    const int64_t now_mono = monotonicMs();
    const auto& policy = policy_reader.current();
    for (EncryptedAnswer& a : encrypted_taken) {
      // Still the flight's current attempt? (It may have timed out and moved on.)
      if (id_to_flight[a.id] != a.fi || flights[a.fi].socket != kEncryptedSocket ||
          flights[a.fi].upstream != a.upstream) {
        continue;
      }
      if (a.answer.empty()) {
        bump(counters.upstream_errors);
        retryOrFail(a.fi, now_mono);
        continue;
      }
      // Over TLS the answer can exceed what a UDP client takes; past our buffer the client is
      // told to come back over TCP (TC), as for a truncated UDP read.
      const bool cut = a.answer.size() > kMaxMessage;
      handleUpstreamAnswer(
          kEncryptedSocket,
          std::span<const uint8_t>(a.answer.data(), std::min(a.answer.size(), kMaxMessage)), cut,
          policy.get(), now_wall, now_mono);
    }
    encrypted_taken.clear();
  }

  // The flight's current attempt failed: the next upstream (or the same one again when there is
  // only one), then SERVFAIL.
  void retryOrFail(int32_t fi, int64_t now) {
    Flight& f = flights[fi];
    f.upstream = static_cast<uint8_t>((f.upstream + 1) % opts.upstreams.size());
    f.collapsible = true;
    if (f.attempts >= std::max<size_t>(2, opts.upstreams.size()) || !sendUpstream(fi, now)) {
      failFlight(fi);
    }
  }

  // --- upstream side -------------------------------------------------------------------------

  void readUpstream(uint16_t socket) {
    std::array<mmsghdr, kBatch> msgs{};
    std::array<iovec, kBatch> iovs{};
    for (size_t i = 0; i < kBatch; ++i) {
      iovs[i] = {recv_buffers[i].data(), kMaxMessage};
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    if (sockets[socket].fd < 0) return;  // closed by an answer earlier in this event batch
    int n = recvmmsg(sockets[socket].fd, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      // ECONNREFUSED: the upstream's port is closed (ICMP). The flights time out and move on.
      if (errno != EAGAIN && errno != EINTR) bump(counters.upstream_errors);
      return;
    }
    const int64_t now_wall = wallMs();
    const int64_t now_mono = monotonicMs();
    const auto& policy = policy_reader.current();
    for (int i = 0; i < n; ++i) {
      // MSG_TRUNC: the datagram was larger than our buffer and msg_len bytes are only its start
      // (the client asked for a bigger EDNS size than we read). Never parse, cache or pass that.
      const bool cut = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
      handleUpstreamAnswer(socket, std::span(recv_buffers[i].data(), msgs[i].msg_len), cut,
                           policy.get(), now_wall, now_mono);
    }
  }

  void handleUpstreamAnswer(uint16_t socket, std::span<const uint8_t> resp, bool cut,
                            const PolicyView* policy, int64_t now_wall, int64_t now_mono) {
    if (resp.size() < kDnsHeaderSize) {
      bump(counters.upstream_bad_answers);
      return;
    }
    const uint16_t id = static_cast<uint16_t>((resp[0] << 8) | resp[1]);
    const int32_t fi = id_to_flight[id];
    if (fi < 0 || flights[fi].socket != socket ||
        !responseMatchesQuestion(resp, id, flights[fi].key().name, flights[fi].qtype,
                                 flights[fi].qclass) ||
        (opts.randomize_case && !repeatsSentCase(resp, flights[fi]))) {
      // Late, spoofed or mismatched (RFC 5452 §9.1): ignore and keep waiting for the real one.
      bump(counters.upstream_bad_answers);
      return;
    }
    bump(counters.upstream_answers);
    if (cut) {
      // The start is genuine (ID and question match) but the rest is lost: tell the clients to
      // ask over TCP, where the whole answer fits, instead of waiting for a timeout.
      bump(counters.upstream_truncated_reads);
      answerTruncated(fi);
      return;
    }
    Flight& f = flights[fi];
    const uint8_t rcode = resp[3] & 0x0f;
    if ((rcode == dns_rcode::kServFail || rcode == dns_rcode::kRefused) &&
        opts.upstreams.size() > 1 && f.attempts < opts.upstreams.size()) {
      f.upstream = static_cast<uint8_t>((f.upstream + 1) % opts.upstreams.size());
      if (sendUpstream(fi, now_mono)) return;
    }
    preferred_upstream = f.upstream;
    cache.insert(f.key(), resp, now_wall);
    // A copy each waiter's own question case is written into (the cache keeps the original).
    std::span<uint8_t> answer(scratch.data(), resp.size());
    std::memcpy(answer.data(), resp.data(), resp.size());
    forEachWaiter(fi, [&](const Waiter& wt, std::span<const uint8_t> msg, const DnsQuery& q) {
      if (policy == nullptr) return;
      if (!wt.rewrite) giveClientItsCase(answer, msg, q);
      Outgoing* o = reserveOutgoing(wt.listen_fd, wt.peer, wt.peer_length);
      size_t len = handler.finish(*policy, msg, q, clientOf(wt.peer),
                                  wt.rewrite ? f.key().name : std::string_view(), answer, now_wall,
                                  std::span(o->data, kMaxMessage));
      commitOutgoing(o, len, q);
    });
    unlinkFlight(fi);
  }

  // 0x20: the answer's question name is byte for byte the one sent (same case pattern).
  static bool repeatsSentCase(std::span<const uint8_t> resp, const Flight& f) {
    const size_t end = kDnsHeaderSize + f.qname_length;
    return f.qname_length > 0 && resp.size() >= end &&
           std::memcmp(resp.data() + kDnsHeaderSize, f.query + kDnsHeaderSize, f.qname_length) == 0;
  }

  static constexpr uint64_t kKindMask = 0xff00'0000'0000'0000ull;
  static constexpr uint64_t kStopTag = 0x0100'0000'0000'0000ull;
  static constexpr uint64_t kListenTag = 0x0200'0000'0000'0000ull;
  static constexpr uint64_t kUpstreamTag = 0x0300'0000'0000'0000ull;
  static constexpr uint64_t kEncryptedTag = 0x0400'0000'0000'0000ull;

  DnsProxy& proxy;
  const ProxyOptions& opts;
  ProxyCounters counters;
  PolicyHolder::Reader policy_reader;
  std::optional<SnapshotHolder<NeighbourMap>::Reader> neighbour_reader;
  QueryHandler handler;
  DnsCache cache;
  ClientRateLimiter limiter;
  RandomPool rnd;
  std::vector<int> listen_fds;
  struct UpstreamSocket {
    int fd = -1;
    uint8_t upstream = 0;  // index into options.upstreams
    bool retired = false;  // replaced by rotation: closed when `pending` reaches 0
    uint32_t pending = 0;  // flights whose current query went out on this socket
  };
  std::vector<UpstreamSocket> sockets;  // slots; indices are stable (epoll tags, Flight::socket)
  std::vector<uint16_t> free_slots;
  std::vector<uint16_t> active;  // kSocketsPerUpstream slots per upstream for new queries
  int64_t next_rotation_ms = 0;  // 0: rotation off
  int epoll_fd = -1;
  std::thread thread;

  struct EncryptedAnswer {
    int32_t fi;
    uint16_t id;
    uint8_t upstream;
    std::vector<uint8_t> answer;  // empty: the exchange failed
  };
  Fd answers_ready;  // eventfd: encrypted_answers has entries
  std::mutex encrypted_mu;
  std::vector<EncryptedAnswer> encrypted_answers;  // guarded by encrypted_mu
  std::vector<EncryptedAnswer> encrypted_taken;    // worker only

  std::unique_ptr<Flight[]> flights;
  std::unique_ptr<Waiter[]> waiters;
  std::unique_ptr<int32_t[]> id_to_flight;
  int32_t buckets[kFlightBuckets];
  std::vector<int32_t> free_flights;  // capacity reserved up front: push/pop never allocate
  std::vector<int32_t> free_waiters;
  std::atomic<size_t> in_flight{0};  // written by the worker only; read by stats()
  int64_t next_deadline_ms = 0;
  size_t preferred_upstream = 0;

  std::array<std::array<uint8_t, kMaxMessage>, kBatch> recv_buffers{};
  std::array<sockaddr_storage, kBatch> recv_peers{};
  std::array<uint8_t, kMaxMessage> scratch{};
  std::unique_ptr<Outgoing[]> outgoing;
  size_t outgoing_count = 0;
};

// ---------------------------------------------------------------------------------------------
// DnsProxy

DnsProxy::DnsProxy(ProxyOptions options, const PolicyHolder& policy, IncidentStore* incidents,
                   const NeighbourTable* neighbours)
    : options_(std::move(options)),
      policy_(policy),
      incidents_(incidents),
      neighbours_(neighbours) {}

DnsProxy::~DnsProxy() { stop(); }

Status DnsProxy::bindListeners() {
  const size_t worker_count = workers_.size();
  for (size_t li = 0; li < options_.listen.size(); ++li) {
    SocketAddress addr = options_.listen[li];
    // Port 0: find one port free for UDP and TCP alike, then share it with every worker.
    for (int attempt = 0; attempt < 20; ++attempt) {
      std::vector<int> udp;
      int tcp = -1;
      SocketAddress chosen = addr;
      Status failure;
      for (size_t w = 0; w < worker_count && failure; ++w) {
        int fd = socket(addr.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
          failure = Status::fromErrno("socket", errno);
          break;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
        if (addr.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        int rcvbuf = 4 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
        if (::bind(fd, reinterpret_cast<sockaddr*>(&chosen.storage), chosen.length) != 0) {
          failure = Status::fromErrno("bind udp " + chosen.toString(), errno);
          close(fd);
          break;
        }
        if (w == 0) {
          socklen_t len = sizeof(chosen.storage);
          getsockname(fd, reinterpret_cast<sockaddr*>(&chosen.storage), &len);
        }
        udp.push_back(fd);
      }
      if (failure && options_.tcp) {
        tcp = socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (addr.family() == AF_INET6) {
          setsockopt(tcp, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        }
        if (tcp < 0 ||
            ::bind(tcp, reinterpret_cast<sockaddr*>(&chosen.storage), chosen.length) != 0 ||
            listen(tcp, 128) != 0) {
          failure = Status::fromErrno("bind tcp " + chosen.toString(), errno);
          if (tcp >= 0) close(tcp);
          tcp = -1;
        }
      }
      if (failure) {
        for (size_t w = 0; w < worker_count; ++w) workers_[w]->listen_fds.push_back(udp[w]);
        if (tcp >= 0) tcp_listeners_.push_back(tcp);
        bound_.push_back(chosen);
        break;
      }
      for (int fd : udp) close(fd);
      if (addr.port() != 0 || attempt == 19) return failure;
    }
  }
  return Status::ok();
}

Status DnsProxy::start() {
  if (options_.upstreams.empty()) return Status::invalid("no upstream DNS server configured");
  if (options_.upstreams.size() > 64) return Status::invalid("at most 64 upstreams");
  int n = options_.workers > 0 ? options_.workers
                               : std::max(1, static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)));
  auto rate_key = SipHashKey::random();
  if (!rate_key) return Status::unavailable("rate limiter: " + rate_key.status().message());
  rate_key_ = *rate_key;
  acl_ = DnsSourceAcl(options_.allow_from);
  stop_event_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_event_fd_ < 0) return Status::fromErrno("eventfd", errno);
  const size_t per_worker_cache =
      options_.cache_entries == 0 ? 0 : std::max<size_t>(4, options_.cache_entries / n);
  for (int i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>(*this, per_worker_cache));
  Status s = bindListeners();
  for (auto& w : workers_) {
    if (s) s = w->setupEpoll(stop_event_fd_);
    if (s) s = w->openUpstreams();
  }
  for (const auto& transport : options_.encrypted) {
    if (s && transport) s = transport->start();
  }
  if (!s) {
    for (const auto& transport : options_.encrypted) {
      if (transport) transport->stop();
    }
    workers_.clear();
    for (int fd : tcp_listeners_) close(fd);
    tcp_listeners_.clear();
    return s;
  }
  for (size_t i = 0; i < workers_.size(); ++i) {
    Worker* raw = workers_[i].get();
    raw->thread = std::thread([raw, i] {
      setThreadName("sg-dns-" + std::to_string(i));
      raw->run();
    });
  }
  if (options_.tcp) {
    DnsTcpOptions to;
    to.upstreams = options_.upstreams;
    to.encrypted = options_.encrypted;
    to.upstream_timeout_ms = options_.upstream_timeout_ms;
    to.answers = options_.answers;
    to.max_connections = options_.max_tcp_connections;
    to.max_connections_per_client = options_.max_tcp_connections_per_client;
    to.idle_timeout_ms = options_.tcp_idle_timeout_ms;
    to.message_timeout_ms = options_.tcp_message_timeout_ms;
    to.query_threads = options_.tcp_query_threads;
    to.admit = [this](const sockaddr* peer, socklen_t length) {
      if (!acl_.allows(peer, length)) {
        tcp_acl_refused_.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
      return !options_.tcp_admit || options_.tcp_admit(peer, length);
    };
    tcp_server_ = std::make_unique<DnsTcpServer>(std::move(to), policy_, incidents_, neighbours_);
    s = tcp_server_->start(std::move(tcp_listeners_));
    tcp_listeners_.clear();
    if (!s) {
      stop();
      return s;
    }
  }
  return Status::ok();
}

DnsTcpStats DnsProxy::tcpStats() const {
  return tcp_server_ ? tcp_server_->stats() : DnsTcpStats{};
}

void DnsProxy::stop() {
  if (stop_event_fd_ < 0) return;
  stopping_ = true;
  uint64_t one = 1;
  (void)!write(stop_event_fd_, &one, sizeof(one));
  // Transports first: they answer everything still waiting (empty), which wakes TCP query
  // threads at once; the workers are still alive to take those answers.
  for (const auto& transport : options_.encrypted) {
    if (transport) transport->stop();
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  if (tcp_server_) tcp_server_->stop();
  tcp_server_.reset();
  workers_.clear();
  for (int fd : tcp_listeners_) close(fd);
  tcp_listeners_.clear();
  close(stop_event_fd_);
  stop_event_fd_ = -1;
}

ProxyStats DnsProxy::stats() const {
  ProxyStats s;
  auto add = [&](const ProxyCounters& c) {
#define SAFEGATE_ADD_COUNTER(name) s.name += c.name.load(std::memory_order_relaxed);
    SAFEGATE_PROXY_COUNTERS(SAFEGATE_ADD_COUNTER)
#undef SAFEGATE_ADD_COUNTER
  };
  for (const auto& w : workers_) {
    add(w->counters);
    s.in_flight += w->in_flight.load(std::memory_order_relaxed);
  }
  if (tcp_server_) {
    ProxyCounters tcp;
    tcp_server_->addQueryCounters(tcp);
    add(tcp);
    s.tcp_connections = tcp_server_->stats().connections;
  }
  s.acl_refused += tcp_acl_refused_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace safegate
