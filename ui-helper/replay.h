// Replay: what safegate would see and decide in a packet capture — the engine behind
// `safegatectl replay --config FILE [--json] CAPTURE.pcap`.
//
// For every DNS query (UDP/TCP, any port that carries one: 53 and the DNS-looking rest),
// HTTP/1.x request, TLS ClientHello (reassembled across TCP segments) and QUIC v1/v2 Initial
// ClientHello (decrypted, CRYPTO frames gathered across Initials) from a client, one
// Observation: time, client, protocol, host, DNS type, HTTP path, and the policy's decision,
// using the same parsers (filters/) and the same compiled policy (policy/) as safegated.
// Like the inline path, a TCP connection (any port but 53) or UDP 443 flow to an address a
// circumvention list names is one observation decided by the group's encrypted_dns setting,
// whatever its SNI (PolicySnapshot::isCircumventionDestination).
// What replay does not model, and says so in docs/inline.md: the unresolved-destination table
// (no proxy answers in a capture) and per-packet fail modes.
//
// Control plane: allocates freely; single-threaded. Link layers: Ethernet (802.1Q/802.1ad,
// PPPoE), BSD loopback, raw IP, Linux cooked v1/v2, PPP; pcap and pcapng (libpcap).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/result.h"
#include "policy/decision.h"
#include "policy/decision_text.h"
#include "policy/policy_engine.h"

namespace safegate::ui {

struct ReplayObservation {
  int64_t time_us = 0;  // capture timestamp, microseconds since the epoch
  std::string client;   // source address of the request
  std::string server;   // destination address
  uint16_t server_port = 0;
  Protocol protocol = Protocol::kDns;
  std::string host;  // canonical name; "" when the protocol carried none (TLS without SNI)
  uint16_t dns_type = 0;
  std::string http_path;
  bool ech = false;       // TLS/QUIC ClientHello offered ECH (host is then the outer SNI)
  DecisionText decision;  // as the control socket and `safegatectl explain` show it
};

struct ReplayStats {
  uint64_t frames = 0;
  uint64_t ip_packets = 0;
  uint64_t not_ip = 0;
  uint64_t malformed = 0;
  uint64_t quic_undecryptable = 0;
};

// Reads the capture and decides every observation against `snapshot`.
Result<std::vector<ReplayObservation>> replayCapture(const std::filesystem::path& capture,
                                                     const policy::PolicySnapshot& snapshot,
                                                     ReplayStats* stats = nullptr);

// "2016-03-01T12:34:56.789Z"
std::string isoTimeUtc(int64_t time_us);
std::string_view protocolName(Protocol p);

}  // namespace safegate::ui
