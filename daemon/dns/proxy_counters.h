// ProxyCounters: what the DNS proxy counts, per worker thread.
//
// Each worker owns one instance and bumps it with relaxed atomic adds (no sharing between
// workers, so no cache-line contention); the control thread sums them for `stats`. Every drop,
// timeout and fallback has a counter so that "fail as configured" can be checked, not guessed.
#pragma once

#include <atomic>
#include <cstdint>

namespace safegate {

// clang-format off
#define SAFEGATE_PROXY_COUNTERS(X) \
  X(queries_udp) \
  X(queries_tcp) \
  X(malformed) \
  X(cache_hits) \
  X(blocked) \
  X(rewritten) \
  X(monitored) \
  X(alerted) \
  X(allowed) \
  X(cname_blocked) \
  X(forwarded) \
  X(collapsed) \
  X(upstream_answers) \
  X(upstream_bad_answers) \
  X(upstream_timeouts) \
  X(upstream_errors) \
  X(servfail_sent) \
  X(pending_full) \
  X(truncated_passed) \
  X(send_errors) \
  X(incidents_dropped) \
  X(ech_stripped) \
  X(ech_strip_failed) \
  X(acl_refused)   /* UDP queries dropped, TCP connections closed: source not in dns.allow_from */ \
  X(rate_limited)  /* UDP queries over the client's rate limit: answered REFUSED */ \
  X(upstream_truncated_reads) /* upstream datagram larger than our buffer (MSG_TRUNC): TC to the clients */ \
  X(any_minimal)   /* qtype ANY answered with the RFC 8482 HINFO, not forwarded */ \
  X(upstream_ports_rotated) /* UDP upstream sockets replaced by one on a new random port */
// clang-format on

struct ProxyCounters {
#define SAFEGATE_DECLARE_COUNTER(name) std::atomic<uint64_t> name{0};
  SAFEGATE_PROXY_COUNTERS(SAFEGATE_DECLARE_COUNTER)
#undef SAFEGATE_DECLARE_COUNTER
};

inline void bump(std::atomic<uint64_t>& c, uint64_t n = 1) noexcept {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);  // single writer
}

}  // namespace safegate
