// Encrypted upstreams: DNS over TLS (RFC 7858) and DNS over HTTPS (RFC 8484), so the questions
// a school's or a family's devices ask leave the gateway unreadable to the networks in between.
//
// How an upstream is written in dns.upstreams: policy/upstream_spec.h. Certificates are always
// verified (against dns.upstream_ca_file, or the system store) for the spec's verifyName(); a
// failed verification is an upstream failure, never a fallback to plain DNS.
//
// EncryptedUpstream is the transport behind one such upstream. DoT keeps one TLS connection
// open and pipelines every query on it (RFC 7766 §6.2.1), giving each its own wire ID, so
// answers may come in any order; the connection is reopened on demand (with TLS session
// resumption) after the server closes it or it sat idle for idle_timeout_ms; a query written
// to a connection that then closed is sent once more on the next. A connection that stops
// answering (max_silent_timeouts) or acknowledging (dead_connection_ms) is replaced. DoH
// multiplexes the queries as HTTP/2 streams on one connection through libcurl
// (daemon/http_client.h), POST with application/dns-message, ID 0 as RFC 8484 §4.1 asks for
// cacheability.
//
// Threads: each transport runs one I/O thread. submit() is thread-safe and never blocks on the
// network; `done` runs exactly once, on the transport's thread, with the answer (its ID set
// back to the query's) or with an empty span when the exchange failed or timed out — or at once,
// on the caller's thread inside submit(), with an empty span when the query is refused
// (malformed, max_in_flight reached, transport stopped).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "daemon/dns/dns_proxy.h"
#include "policy/upstream_spec.h"

namespace safegate {

struct EncryptedUpstreamOptions {
  std::string ca_file;  // PEM bundle the upstreams' certificates must chain to; "" = system
  int connect_timeout_ms = 3000;
  int idle_timeout_ms = 30000;  // an unused connection is closed after this
  size_t max_in_flight = 4096;  // queries queued or unanswered; more fail at once
  // A connection whose written data goes unacknowledged this long is dead (TCP_USER_TIMEOUT):
  // the path changed under it (a new WAN address, a NAT that forgot it). Without this Linux
  // retransmits for ~15 minutes while every query times out.
  int dead_connection_ms = 10000;
  // DoT: this many queries in a row timing out on a connection with nothing received from it
  // in the meantime also close it; the next query opens a fresh one.
  int max_silent_timeouts = 3;
};

struct EncryptedUpstreamStats {
  uint64_t queries = 0;
  uint64_t answers = 0;
  uint64_t failures = 0;     // errors and timeouts (done got an empty span)
  uint64_t connections = 0;  // connections opened (TLS handshakes started)
  uint64_t resumed = 0;      // of those, TLS sessions resumed
};

class EncryptedUpstream {
 public:
  using Done = std::function<void(std::span<const uint8_t> answer)>;

  virtual ~EncryptedUpstream() = default;
  // Starts the I/O thread. A transport is started once.
  virtual Status start() = 0;
  // Fails every waiting query and joins the thread; idempotent.
  virtual void stop() = 0;
  // Queues `query` (a whole DNS message) with a deadline of timeout_ms from now.
  virtual void submit(std::span<const uint8_t> query, int timeout_ms, Done done) = 0;
  virtual EncryptedUpstreamStats stats() const = 0;
  // submit() and wait for the answer (control plane and DNS-over-TCP query threads): the
  // answer, or unavailable when the exchange failed, timed out or the transport stopped.
  Result<std::vector<uint8_t>> exchange(std::span<const uint8_t> query, int timeout_ms);
  virtual const UpstreamSpec& spec() const = 0;

  // A DoT or DoH transport for `spec` (not started); invalid for a plain spec.
  static Result<std::unique_ptr<EncryptedUpstream>> create(const UpstreamSpec& spec,
                                                           const EncryptedUpstreamOptions& options);
};

}  // namespace safegate
