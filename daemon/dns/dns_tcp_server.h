// DnsTcpServer: safegated's DNS-over-TCP front end (RFC 1035 §4.2.2, RFC 7766), owned and
// started/stopped by DnsProxy, which binds the listening sockets (so port 0 is shared with UDP).
//
// Threads: one event thread runs an epoll loop over the listeners and every connection
// (non-blocking sockets). Each connection is a small state machine: bytes go through the RFC
// 1035 §4.2.2 framing helper (filters/dns_tcp_stream.h), every complete query becomes a job for
// a small fixed pool of query threads, answers come back through a completion queue and an
// eventfd and are written in the order they finish (RFC 7766 §6.2.1.1: several queries per
// connection, answers may be out of order; the client matches them by ID). Query threads run
// the same QueryHandler as the UDP workers and forward to the upstreams over TCP with blocking
// sockets bounded by poll() on a deadline and the stop eventfd, so a slow upstream occupies a
// query thread, never the event loop; the job queue is bounded (at least twice what one client
// can have in progress: per-client cap x max_pipelined) and a full queue answers SERVFAIL
// (counted) instead of growing.
//
// Defences (docs/security.md "DNS over TCP"):
//  - a whole message must arrive within message_timeout_ms of its first byte (slow drip), and a
//    connection with nothing pending is closed after idle_timeout_ms (RFC 7766 §6.2.3);
//  - at most max_connections_per_client connections per client address and max_connections in
//    all; when full, the oldest idle connection is closed first (RFC 7766 §6.2.3), then the one
//    whose current message started longest ago; a connection with a query being answered is
//    never evicted, and when every connection is busy the new one is refused;
//  - an optional admission hook is asked at accept time (ACL / rate limit); default admit all;
//  - stop() writes an eventfd that wakes the loop and every query thread's poll(), so it
//    returns promptly with connections open and upstream exchanges in progress.
//
// Memory: one Connection (about 17 KiB, the framing buffer is inline) per open connection,
// allocated at accept; jobs and answers are small heap buffers. TCP is the truncation fallback
// path (and some stub resolvers' choice), not the hot path, so this allocation is accepted.
// Thread-safety: start()/stop()/stats() from the control thread only. Ownership: borrows the
// PolicyHolder, IncidentStore and NeighbourTable (must outlive it); owns the listener fds it is
// given from start() on.
#pragma once

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/result.h"
#include "daemon/dns/dns_proxy.h"
#include "daemon/dns/proxy_counters.h"
#include "daemon/dns/query_handler.h"
#include "daemon/neighbour_table.h"
#include "daemon/policy_view.h"
#include "daemon/store/incident_store.h"
#include "filters/quic_initial.h"

namespace safegate {

// Asked once per accepted connection with the peer address; false closes it at once.
using DnsAdmissionHook = std::function<bool(const sockaddr*, socklen_t)>;

class EncryptedUpstream;

struct DnsTcpOptions {
  std::vector<SocketAddress> upstreams;
  // Per upstream: its DoT/DoH transport or null (plain TCP); owned and started by the caller.
  std::vector<std::shared_ptr<EncryptedUpstream>> encrypted;
  int upstream_timeout_ms = 1500;
  AnswerSettings answers;
  size_t max_connections = 256;            // all clients together
  size_t max_connections_per_client = 16;  // per client address
  int idle_timeout_ms = 10000;             // nothing pending: close (RFC 7766 §6.2.3)
  int message_timeout_ms = 3000;           // first byte to last byte of one query
  int query_threads = 4;                   // upstream exchanges in parallel
  size_t max_pipelined = 8;                // queries in progress per connection before reads pause
  DnsAdmissionHook admit;                  // empty: admit every connection
};

// clang-format off
#define SAFEGATE_DNS_TCP_COUNTERS(X) \
  X(accepted) \
  X(refused_admission) \
  X(refused_client_cap) \
  X(refused_full) \
  X(evicted_idle) \
  X(evicted_slow) \
  X(idle_timeouts) \
  X(message_timeouts) \
  X(framing_errors) \
  X(queue_full)  /* job queue full or too many queries in progress: SERVFAIL */
// clang-format on

struct DnsTcpStats {
#define SAFEGATE_DNS_TCP_FIELD(name) uint64_t name = 0;
  SAFEGATE_DNS_TCP_COUNTERS(SAFEGATE_DNS_TCP_FIELD)
#undef SAFEGATE_DNS_TCP_FIELD
  uint64_t connections = 0;  // open now
};

class DnsTcpServer {
 public:
  DnsTcpServer(DnsTcpOptions options, const PolicyHolder& policy, IncidentStore* incidents,
               const NeighbourTable* neighbours);
  ~DnsTcpServer();
  DnsTcpServer(const DnsTcpServer&) = delete;
  DnsTcpServer& operator=(const DnsTcpServer&) = delete;

  // Takes ownership of `listeners` (bound, listening TCP sockets) and starts the threads.
  Status start(std::vector<int> listeners);
  // Closes every connection and joins every thread; prompt whatever the clients do.
  void stop();

  DnsTcpStats stats() const;
  // Adds the query threads' counters (queries_tcp, blocked, forwarded, ...) to `sum`.
  void addQueryCounters(ProxyCounters& sum) const;

  struct Connection;  // defined in dns_tcp_server.cc
  struct Job;
  struct Done;

 private:
  void eventLoop();
  void queryThread(size_t index);
  void acceptFrom(int listener);
  void readFrom(Connection& c);
  void flush(Connection& c);
  void closeConnection(Connection& c);
  void drainDone();
  void checkDeadlines(int64_t now_ms);
  void onMessage(Connection& c, std::span<const uint8_t> msg);
  bool makeRoomFor();
  void updateInterest(Connection& c);

  DnsTcpOptions options_;
  const PolicyHolder& policy_;
  IncidentStore* incidents_;
  const NeighbourTable* neighbours_;

  std::vector<int> listeners_;
  int epoll_fd_ = -1;
  int stop_fd_ = -1;  // written once by stop(), never drained: wakes every poll()
  int done_fd_ = -1;  // query threads -> event loop: answers are waiting
  std::thread event_thread_;
  std::vector<std::thread> query_threads_;
  std::atomic<bool> stopping_{false};

  // Event-loop state (event thread only).
  std::vector<std::unique_ptr<Connection>> slots_;  // max_connections entries, null = free
  std::vector<uint32_t> generations_;
  size_t open_ = 0;
  std::unique_ptr<std::array<uint8_t, QuicCryptoAssembler::kCapacity>> scratch_;  // framing
  int64_t next_sweep_ms_ = 0;

  // Job queue (event loop -> query threads), bounded.
  std::mutex jobs_mu_;
  std::condition_variable jobs_cv_;
  std::deque<std::unique_ptr<Job>> jobs_;
  size_t max_jobs_ = 0;
  // Completion queue (query threads -> event loop).
  std::mutex done_mu_;
  std::vector<std::unique_ptr<Done>> done_;

  std::unique_ptr<ProxyCounters[]> query_counters_;  // one per query thread
#define SAFEGATE_DNS_TCP_ATOMIC(name) std::atomic<uint64_t> name##_{0};
  SAFEGATE_DNS_TCP_COUNTERS(SAFEGATE_DNS_TCP_ATOMIC)
#undef SAFEGATE_DNS_TCP_ATOMIC
  std::atomic<uint64_t> connections_{0};
};

}  // namespace safegate
