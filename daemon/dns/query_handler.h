// QueryHandler: what the DNS proxy does with one query, independent of sockets.
//
// plan() decides a parsed query against the current PolicyView: answer now (blocked name,
// REFUSED, ...), forward the question unchanged, or forward the safe-search target instead
// (rewrite); qtype ANY that policy lets through gets the minimal RFC 8482 answer (one HINFO
// record) instead of being forwarded, and a blocked name still gets the block answer. finish()
// turns an upstream answer into the client's answer: every CNAME target in the chain is decided
// too (CNAME cloaking: a tracker hidden behind a first-party alias is still blocked), a rewrite
// becomes "name CNAME target" plus the target's address records, and the client's ID is
// restored. For a client whose group has strip_ech, the "ech" SvcParam is removed from
// HTTPS/SVCB records here, on the way out (the cache keeps the upstream's bytes, since groups
// differ); if that cannot be done the client gets SERVFAIL, never the ECH keys.
// Incidents (block, monitor, alert) are handed to the IncidentStore's
// lock-free queue. Both UDP workers and TCP connection threads use it.
// Data plane: noexcept, no allocation, no locks. One instance per thread (counters are that
// thread's); the PolicyView must be held by the caller for the duration of each call.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "common/ip_address.h"
#include "daemon/dns/proxy_counters.h"
#include "daemon/policy_view.h"
#include "daemon/store/incident_store.h"
#include "filters/dns_message.h"

namespace safegate {

class ResolvedAddressTable;

struct AnswerSettings {
  uint32_t block_ttl_seconds = 10;
  // Inline mode: every address answered to a client is recorded here (the "unresolved
  // destination" check, daemon/dns/resolved_addresses.h); null when inline mode is off.
  ResolvedAddressTable* resolved = nullptr;
  IpAddress block_page_v4 = IpAddress();              // 0.0.0.0 unless configured
  IpAddress block_page_v6 = *IpAddress::parse("::");  // :: unless configured
};

struct ClientInfo {
  IpAddress address;
  std::optional<MacAddress> mac;
};

enum class QueryAction : uint8_t { kAnswered, kForward, kForwardRewrite };

struct QueryPlan {
  QueryAction action = QueryAction::kForward;
  size_t answer_length = 0;         // kAnswered: bytes written to `out`
  std::string_view rewrite_target;  // kForwardRewrite: points into the PolicyView
  Decision decision;                // the policy's decision for the query (views the PolicyView)
};

class QueryHandler {
 public:
  QueryHandler(const AnswerSettings& settings, IncidentStore* incidents, ProxyCounters& counters)
      : settings_(settings), incidents_(incidents), counters_(counters) {}

  QueryPlan plan(const PolicyView& policy, std::span<const uint8_t> query, const DnsQuery& q,
                 const ClientInfo& client, int64_t now_ms, std::span<uint8_t> out) noexcept;

  // `upstream` is an answer already validated against the upstream question. For a rewrite,
  // `rewrite_target` names the target the upstream was asked about. Returns the length written
  // to `out` (a SERVFAIL when the answer cannot be built).
  size_t finish(const PolicyView& policy, std::span<const uint8_t> query, const DnsQuery& q,
                const ClientInfo& client, std::string_view rewrite_target,
                std::span<const uint8_t> upstream, int64_t now_ms, std::span<uint8_t> out) noexcept;

  // The configured block answer for `d` (NXDOMAIN, NODATA, null / block-page address, REFUSED),
  // with the TTL and block-page addresses `policy` carries (reloadable), else the start-up ones.
  size_t buildBlockAnswer(std::span<const uint8_t> query, const DnsQuery& q, const Decision& d,
                          std::span<uint8_t> out,
                          const PolicyView* policy = nullptr) const noexcept;

 private:
  // qtype ANY that policy lets through: the RFC 8482 answer instead of forwarding.
  QueryPlan minimalAny(QueryPlan plan, std::span<const uint8_t> query, const DnsQuery& q,
                       std::span<uint8_t> out) noexcept;
  void recordIncident(const PolicyView& policy, const RequestFacts& facts, const Decision& d,
                      std::string_view logged_name, int64_t now_ms) noexcept;

  AnswerSettings settings_;
  IncidentStore* incidents_;
  ProxyCounters& counters_;
};

// True when `response` answers the question (id, name, qtype, qclass) — RFC 5452 §9.1 checks;
// the source address is checked by the connected socket.
bool responseMatchesQuestion(std::span<const uint8_t> response, uint16_t id, std::string_view name,
                             uint16_t qtype, uint16_t qclass) noexcept;

}  // namespace safegate
