// InlineInspector: decides the packets NFQUEUE hands to one worker (the NfqPacketHandler of
// the inline path; docs/inline.md describes it end to end).
//
// Per packet: parse IPv4/IPv6 + TCP/UDP, find the flow (client = the side that sent the first
// packet we saw), then by what the client sends:
//   - DNS query over UDP 53 not sent to the proxy: decided by the policy (the same
//     QueryHandler the proxy uses); a blocked query is answered for the client with a forged
//     answer from the resolver's address and the query is dropped; a safe-search rewrite is
//     answered the same way (CNAME + the target's addresses from SafeSearchAnswers); allowed
//     queries pass.
//     DNS over TCP 53: every query of the connection (pipelined, split over segments) is
//     decided; a blocked query resets the connection both ways.
//   - HTTP request (any TCP port): decided on host and path (both hosts when the request is
//     ambiguous); blocked -> the client gets a redirect to block_page.url (or a reset when no
//     URL is set) and the server a reset. HTTP/2 with prior knowledge (the connection preface):
//     the first request's :authority (HPACK-decoded, filters/http2_request.h) and :path decided
//     the same way, blocked -> reset both ways; DNS over HTTPS inside it (application/
//     dns-message) is encrypted DNS.
//   - TLS ClientHello (any TCP port), reassembled across segments up to the cap: decided on
//     SNI; ECH per group (outer SNI or block); no SNI, or an address the proxy never returned
//     to that client: the group's unresolved_destination. Blocked -> reset both ways.
//   - QUIC Initial (UDP 443): the group may drop QUIC (clients fall back to TCP); else
//     decrypted and decided on the ClientHello's SNI like TLS; blocked -> dropped.
//   - Port 853 (DoT/DoQ), and TCP (any port but 53) or UDP 443 to an address that a
//     circumvention list names (a DoH endpoint reached by address, whatever its SNI): the
//     group's encrypted_dns (block / monitor / allow); one incident per client per hour.
// A decided flow's verdict is "repeat" with the decision bits in the packet mark; the
// firewall rules save them in the connection mark so the rest of the flow never comes back
// (offload).
// Undecided flows are bounded by time and bytes, never by a packet count:
// SYNs, empty ACKs, keepalive probes and segments outside the window [0, cap) of the stream
// pass without counting and without taking a buffer, so a client cannot spend a flow's budget
// before it sends its ClientHello. A flow that sent something (TCP payload in the window, a
// UDP 443 datagram) and is still undecided after undecided_timeout_ms, or whose buffer was
// taken back (sweep, per-client share), takes its group's unresolved_destination.
// When the flow table or the whole reassembly pool is full, the group's fail mode decides
// (fail-open: accept; fail-closed: drop), counted. One client holds at most
// reassembly_buffers_per_client buffers: past that its own oldest flow loses its buffer.
//
// Data plane: onPacket() is noexcept, allocation-free and lock-free (policy through a
// SnapshotHolder reader, incidents through the IncidentStore's bounded queue). One inspector
// per queue worker; counters are relaxed atomics readable from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/ip_address.h"
#include "common/result.h"
#include "daemon/dns/proxy_counters.h"
#include "daemon/dns/query_handler.h"
#include "daemon/dns/resolved_addresses.h"
#include "daemon/dns/safe_search_answers.h"
#include "daemon/inline/flow_table.h"
#include "daemon/inline/nfqueue_frontend.h"
#include "daemon/policy_view.h"
#include "daemon/store/incident_store.h"
#include "filters/http2_request.h"
#include "filters/quic_initial.h"
#include "policy/config.h"

namespace safegate {

// Sends packets built by filters/forged_packet.h.
class PacketInjector {
 public:
  virtual ~PacketInjector() = default;
  virtual bool inject(std::span<const uint8_t> ip_packet) noexcept = 0;
};

// Raw IPv4/IPv6 sockets (IPPROTO_RAW: the packet carries its own IP header). Needs
// CAP_NET_RAW. Thread-safe (sendto on shared sockets).
class RawSocketInjector final : public PacketInjector {
 public:
  static Result<std::unique_ptr<RawSocketInjector>> open();
  ~RawSocketInjector() override;
  bool inject(std::span<const uint8_t> ip_packet) noexcept override;

 private:
  RawSocketInjector() = default;
  int fd4_ = -1;
  int fd6_ = -1;
};

// What the inspector read from a client and what it decided: one per decision it made (a DNS
// query, an HTTP request head, a ClientHello, an encrypted-DNS or unresolved flow). Views into
// the packet and the policy, valid only during the call.
struct InlineObservation {
  Protocol protocol = Protocol::kDns;
  IpAddress client;
  IpAddress server;
  uint16_t server_port = 0;
  std::string_view host;  // canonical name; empty when the flow named none
  uint16_t dns_type = 0;
  std::string_view http_path;
  bool ech = false;  // the ClientHello offered ECH (host is then the outer SNI)
  const Decision* decision = nullptr;
};

// Told every observation (replay: `safegatectl replay` feeds captures through the inspector
// and reports what it saw). Called on the packet's thread, inside inspect().
class InlineObserver {
 public:
  virtual ~InlineObserver() = default;
  virtual void observed(const InlineObservation& o) noexcept = 0;
};

struct InlineOptions {
  int64_t undecided_timeout_ms = 10000;  // a flow that sent data is decided within this
  uint32_t offload_mark = 1;   // bit for "decided, allow"; the next bit up = "decided, block"
  std::string block_page_url;  // HTTP redirect target; empty = reset instead
  size_t max_client_hello_bytes = 16384;
  size_t flow_capacity = 65536;
  size_t reassembly_buffers = 1024;
  size_t reassembly_buffers_per_client = 32;
  size_t sweep_slots = 4096;  // table slots visited per onIdle() call
  int64_t flow_idle_ms = 30000;
  AnswerSettings dns_answers;
  bool fail_open_without_policy = true;  // before the first policy is published
};

// The options the configuration gives ([inline], [block_page], [dns]): what safegated's
// inline engine and `safegatectl replay` both run with.
InlineOptions inlineOptions(const policy::DaemonSettings& settings);

// clang-format off
#define SAFEGATE_INLINE_COUNTERS(X) \
  X(packets) \
  X(not_parsed) \
  X(fragments) \
  X(reply_direction) \
  X(dns_queries) \
  X(dns_blocked) \
  X(dns_forged_answers) \
  X(dns_rewrite_tcp_reset) \
  X(dns_rewrite_answered) \
  X(dns_rewrite_cname_only) \
  X(dns_tcp_malformed) \
  X(dns_unparsable_dropped) \
  X(http_requests) \
  X(http_blocked) \
  X(http_redirects) \
  X(http_ambiguous) \
  X(http_malformed) \
  X(http2_requests) \
  X(http2_malformed) \
  X(http2_doh) \
  X(tls_hellos) \
  X(tls_blocked) \
  X(tls_no_sni) \
  X(tls_ech) \
  X(tls_malformed) \
  X(tls_oversize) \
  X(partial_hello_by_sni) \
  X(partial_hello_unresolved) \
  X(quic_initials) \
  X(quic_hellos) \
  X(quic_blocked) \
  X(quic_dropped_by_group) \
  X(quic_undecryptable) \
  X(encrypted_dns) \
  X(encrypted_dns_blocked) \
  X(doh_address) \
  X(unresolved_destination) \
  X(undecided_default) \
  X(undecided_timeout) \
  X(ignored_empty) \
  X(ignored_keepalive) \
  X(ignored_out_of_window) \
  X(stream_too_fragmented) \
  X(quic_not_initial) \
  X(buffer_aged) \
  X(buffer_evicted) \
  X(overload_fail_open) \
  X(overload_fail_closed) \
  X(no_policy) \
  X(offload_allow) \
  X(offload_block) \
  X(resets_sent) \
  X(inject_errors) \
  X(incidents) \
  X(incidents_rate_limited) \
  X(monitored)
// clang-format on

struct InlineCounters {
#define SAFEGATE_DECLARE_INLINE_COUNTER(name) std::atomic<uint64_t> name{0};
  SAFEGATE_INLINE_COUNTERS(SAFEGATE_DECLARE_INLINE_COUNTER)
#undef SAFEGATE_DECLARE_INLINE_COUNTER
};

class InlineInspector final : public NfqPacketHandler {
 public:
  // `incidents`, `resolved`, `injector` and `safe_search` may be null (no incidents / no
  // unresolved check / no forged packets / safe-search rewrites answered with the CNAME only);
  // those that are given must outlive the inspector.
  static Result<std::unique_ptr<InlineInspector>> create(
      const InlineOptions& options, const PolicyHolder& policy, IncidentStore* incidents,
      const ResolvedAddressTable* resolved, PacketInjector* injector,
      const SafeSearchHolder* safe_search = nullptr);

  NfqVerdict onPacket(const NfqPacketView& packet) noexcept override;
  // Sweeps the flow table a slice at a time (idle entries, buffers held too long).
  void onIdle(int64_t now_ms) noexcept override;

  // Same as onPacket with explicit clocks (tests). `mac` is the client's MAC when the frame
  // came from a directly attached network (groups and clients may be matched by MAC).
  NfqVerdict inspect(std::span<const uint8_t> ip, uint32_t mark, int64_t monotonic_ms,
                     int64_t unix_ms, const std::optional<MacAddress>& mac = std::nullopt) noexcept;

  // Every decision from now on is also told to `observer` (null: none; the daemon sets none).
  // Set before packets arrive; it must outlive the inspector.
  void setObserver(InlineObserver* observer) noexcept { observer_ = observer; }

  const InlineCounters& counters() const noexcept { return counters_; }
  const FlowTable& flows() const noexcept { return *flows_; }

  struct Impl;  // packet-handling steps (inline_inspector.cc)

 private:
  InlineInspector(const InlineOptions& options, const PolicyHolder& policy);

  InlineOptions options_;
  PolicyHolder::Reader policy_;
  IncidentStore* incidents_ = nullptr;
  const ResolvedAddressTable* resolved_ = nullptr;
  PacketInjector* injector_ = nullptr;
  std::unique_ptr<SafeSearchHolder::Reader> safe_search_;
  std::unique_ptr<FlowTable> flows_;
  std::unique_ptr<QuicInitialInspector> quic_;
  ProxyCounters dns_counters_;
  std::unique_ptr<QueryHandler> dns_;
  std::unique_ptr<uint8_t[]> scratch_;   // forged packets and TLS record joining
  std::unique_ptr<Http2Scratch> http2_;  // HPACK arena and decoded fields
  // One incident per client per hour for encrypted-DNS events: tag of (client, hour).
  std::unique_ptr<std::atomic<uint64_t>[]> rate_limit_;
  InlineObserver* observer_ = nullptr;
  InlineCounters counters_;
};

}  // namespace safegate
