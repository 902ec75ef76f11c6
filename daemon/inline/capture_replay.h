// Replay: what safegate would see and decide in a packet capture — the engine behind
// `safegatectl replay --config FILE [--json] CAPTURE.pcap`, which runs
// `safegated --replay` (ui-helper never links the daemon: the inline path lives here).
//
// Replay is a packet source for the inline path, as a pcap file is for Suricata: it reads the
// capture's frames, models what the kernel does in front of NFQUEUE (conntrack's client side
// only, a decided connection offloaded by its connmark) and hands each packet to the same
// InlineInspector safegated runs (daemon/inline/inline_inspector.h), with the [inline]
// settings of the configuration. Every decision the inspector makes is one Observation:
// time, client, protocol, host, DNS type, HTTP path, ECH, and the decision as explain
// renders it. So replay and the live path cannot disagree: there is one classifier.
// What replay does not model, and says so in docs/inline.md: the unresolved-destination table
// (no proxy answers in a capture), temporary exceptions, fail modes under load, and the
// packets safegated would send (resets, redirects, forged DNS answers).
//
// Control plane: allocates freely; single-threaded. Link layers: Ethernet (802.1Q/802.1ad,
// PPPoE), BSD loopback, raw IP, Linux cooked v1/v2, PPP; pcap and pcapng (libpcap).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/result.h"
#include "policy/config.h"
#include "policy/decision.h"
#include "policy/decision_text.h"
#include "policy/policy_engine.h"

namespace safegate {

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
  uint64_t fragments = 0;  // the kernel reassembles these before the queue; replay skips them
  uint64_t queued = 0;     // client-side packets of undecided connections: what NFQUEUE gets
  uint64_t malformed = 0;  // unreadable IP, HTTP heads, ClientHellos and DNS messages
  uint64_t quic_undecryptable = 0;
};

// Reads the capture and feeds it through an inline inspector deciding with `snapshot` and the
// inline settings in `settings` (policy/config.h [inline], [block_page], [dns]).
Result<std::vector<ReplayObservation>> replayCapture(const std::filesystem::path& capture,
                                                     policy::PolicySnapshotPtr snapshot,
                                                     const policy::DaemonSettings& settings = {},
                                                     ReplayStats* stats = nullptr);

// `safegated --config FILE --replay CAPTURE [--json]` (what `safegatectl replay` runs): loads
// the configuration, replays the capture and prints one line per observation to stdout —
// human form "TIME CLIENT PROTOCOL HOST [type=N] [path=P] [ech] VERDICT [CATEGORY] [(SOURCE)]",
// or with `json` one object per line: time, client, server, port, protocol, host, dns_type
// (DNS only), http_path (HTTP only), ech (TLS/QUIC), then the decision as
// policy/decision_text.h renders it for explain too. Config diagnostics and capture errors go
// to stderr. Returns the exit status: 0 when the capture was read (whatever the verdicts), 1 on
// a config or capture error.
int printCaptureReplay(const std::filesystem::path& config, const std::filesystem::path& capture,
                       bool json);

// "2016-03-01T12:34:56.789Z"
std::string isoTimeUtc(int64_t time_us);
std::string_view protocolName(Protocol p);

}  // namespace safegate
