// DnsProxy: safegated's filtering DNS forwarder (UDP and TCP, IPv4 and IPv6).
//
// Threads: `workers` UDP worker threads, each with its own SO_REUSEPORT socket per listen
// address (the kernel spreads clients over them), its own upstream sockets, cache, in-flight
// table and counters — nothing is shared between workers, so the query path takes no lock.
// Each worker reads datagrams in batches (recvmmsg) and answers in batches (sendmmsg), reads the
// PolicyView once per request through its SnapshotHolder reader, and allocates nothing after
// start-up. DNS over TCP (RFC 7766) is served by a DnsTcpServer (daemon/dns/dns_tcp_server.h: one
// epoll event thread and a few query threads) on the same addresses, unless options.tcp is off.
//
// Forwarding (RFC 5452): every upstream query gets a random ID (getrandom) and goes out on one
// of several sockets bound to random source ports and connected to the upstream, so the kernel
// drops datagrams from other sources; answers must match ID, name, type and class. The sockets
// are replaced by new ones on new ports every options.upstream_port_rotation_seconds (an old
// one is read until its last query is done), and with options.randomize_case the name goes out
// in random letter case (0x20) that the answer must repeat exactly. Identical
// questions in flight are sent once and answered to every waiting client. An upstream that
// times out or answers SERVFAIL/REFUSED is replaced by the next; when all fail the clients get
// SERVFAIL. Truncated upstream answers are passed to UDP clients with TC set, so they retry over
// TCP, where safegated forwards over TCP. EDNS (size, DO, options) is passed through.
// Encrypted upstreams (DoT, DoH; daemon/dns/encrypted_upstream.h) take the same flights: a worker
// hands the query to the upstream's transport and its answer comes back through an eventfd,
// then goes the same way as a UDP answer (ID and question checked, cached, finished).
// Front door (docs/security.md "DNS proxy"): queries from sources outside options.allow_from are
// dropped (UDP) or their connection is closed at accept (TCP); each UDP worker keeps a token
// bucket per client address and answers REFUSED past options.rate_limit; qtype ANY gets the
// minimal RFC 8482 answer (QueryHandler).
// Ownership: the proxy borrows the PolicyHolder, IncidentStore and NeighbourTable, which must
// outlive it. start()/stop() and the accessors are control plane.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"
#include "common/siphash.h"
#include "daemon/dns/dns_access.h"
#include "daemon/dns/proxy_counters.h"
#include "daemon/dns/query_handler.h"
#include "daemon/neighbour_table.h"
#include "daemon/policy_view.h"
#include "daemon/store/incident_store.h"

namespace safegate {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  // "127.0.0.1:53", "[::1]:53", "192.0.2.1" (port `default_port`).
  static std::optional<SocketAddress> parse(std::string_view text, uint16_t default_port = 53);
  uint16_t port() const;
  void setPort(uint16_t port);
  int family() const { return storage.ss_family; }
  std::string toString() const;  // "127.0.0.1:53" / "[::1]:53"
};

class EncryptedUpstream;

struct ProxyOptions {
  std::vector<SocketAddress> listen;
  std::vector<SocketAddress> upstreams;
  // Per upstream, same index: its DoT/DoH transport (daemon/dns/encrypted_upstream.h), or null for
  // plain DNS. The proxy starts them in start() and stops them in stop(); UDP and TCP clients'
  // queries to that upstream both go through it.
  std::vector<std::shared_ptr<EncryptedUpstream>> encrypted;
  int upstream_timeout_ms = 1500;
  size_t cache_entries = 10000;  // total; split evenly over the workers; 0 = no cache
  int workers = 0;               // 0 = one per online CPU
  AnswerSettings answers;
  // DNS over TCP (daemon/dns/dns_tcp_server.h has what each limit defends against).
  bool tcp = true;  // false: no TCP listener at all
  size_t max_tcp_connections = 256;
  size_t max_tcp_connections_per_client = 16;
  int tcp_idle_timeout_ms = 10000;
  int tcp_message_timeout_ms = 3000;
  int tcp_query_threads = 4;
  // Asked at TCP accept time with the peer address, after allow_from; empty: admit all.
  std::function<bool(const sockaddr*, socklen_t)> tcp_admit;
  // Front-door defences (daemon/dns/dns_access.h, docs/security.md "DNS proxy"). Sources outside
  // allow_from are ignored: UDP queries dropped unanswered, TCP connections closed at accept.
  std::vector<Cidr> allow_from = defaultDnsAllowFrom();
  // Per client address and UDP worker; qps 0 = off. Over the limit: REFUSED.
  RateLimitSettings rate_limit;
  size_t rate_limit_entries = 4096;  // clients tracked per worker (fixed memory)
  // Forgery resistance (RFC 5452, docs/security.md). Each UDP worker replaces its upstream
  // sockets with new ones on new random ports this often (0 = never); a replaced socket is
  // still read until every query sent on it is answered or timed out, then closed.
  int upstream_port_rotation_seconds = 60;
  // 0x20: random letter case in the name sent upstream over UDP; the answer must repeat it
  // byte for byte or it is dropped as a bad answer.
  bool randomize_case = false;
};

struct ProxyStats {
#define SAFEGATE_STATS_FIELD(name) uint64_t name = 0;
  SAFEGATE_PROXY_COUNTERS(SAFEGATE_STATS_FIELD)
#undef SAFEGATE_STATS_FIELD
  uint64_t in_flight = 0;
  uint64_t tcp_connections = 0;
};

class DnsTcpServer;
struct DnsTcpStats;

class DnsProxy {
 public:
  DnsProxy(ProxyOptions options, const PolicyHolder& policy, IncidentStore* incidents,
           const NeighbourTable* neighbours);
  ~DnsProxy();

  // Binds every listener (port 0: one ephemeral port shared by UDP and TCP) and starts threads.
  Status start();
  void stop();

  // The addresses actually bound, in the order of options.listen ("127.0.0.1:40123").
  const std::vector<SocketAddress>& boundAddresses() const { return bound_; }
  ProxyStats stats() const;
  // The TCP front end's connection counters (all zero when TCP is off).
  DnsTcpStats tcpStats() const;
  // Drops every worker's cache (after a reload the same names may be decided differently, but
  // the cache holds upstream answers, not decisions, so this is only for operators).
  int workerCount() const { return static_cast<int>(workers_.size()); }
  // options.encrypted (null entries for plain upstreams), for their counters in `status`.
  const std::vector<std::shared_ptr<EncryptedUpstream>>& encryptedUpstreams() const {
    return options_.encrypted;
  }

  struct Worker;  // defined in dns_proxy.cc

 private:
  Status bindListeners();

  ProxyOptions options_;
  const PolicyHolder& policy_;
  IncidentStore* incidents_;
  const NeighbourTable* neighbours_;
  std::vector<SocketAddress> bound_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<int> tcp_listeners_;
  int stop_event_fd_ = -1;
  std::atomic<bool> stopping_{false};
  DnsSourceAcl acl_;
  std::atomic<uint64_t> tcp_acl_refused_{0};  // written by the TCP event thread
  SipHashKey rate_key_;                       // the rate limiters' hash key (getrandom)
  std::unique_ptr<DnsTcpServer> tcp_server_;
};

}  // namespace safegate
