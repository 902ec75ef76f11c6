// SafeSearchAnswers / SafeSearchRefresher: the upstream resolver's answers for the safe-search
// targets (forcesafesearch.google.com, strict.bing.com, safe.duckduckgo.com,
// restrict.youtube.com, restrictmoderate.youtube.com — policy/safe_search.h), kept fresh for
// the inline DNS path.
//
// Why: a query sent to a hard-coded resolver that the policy rewrites (safe search) cannot be
// forwarded by the inline path — the query is dropped and safegate answers for the client,
// which needs the target's addresses at once, without waiting on the network in a packet
// worker. The refresher resolves each target (A and AAAA) through the daemon's upstreams on
// its own control-plane thread at start and again when the answers' TTL runs out (clamped to
// 60 s .. 1 h; 10 s after a failure), and publishes an immutable SafeSearchAnswers through a
// SnapshotHolder. Workers look an answer up with find() and turn it into the client's answer
// with QueryHandler::finish() — the DNS proxy's own rewrite builder.
//
// Thread-safety: SafeSearchAnswers is immutable (any thread; find() is noexcept and does not
// allocate). SafeSearchRefresher owns its thread; start/stop from one control thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/result.h"
#include "common/snapshot_holder.h"
#include "daemon/dns/dns_proxy.h"

namespace safegate {

class EncryptedUpstream;

class SafeSearchAnswers {
 public:
  struct Answer {
    std::string target;             // canonical (lower case, no trailing dot)
    uint16_t qtype = 0;             // dns_type::kA or kAaaa
    std::vector<uint8_t> response;  // the upstream's whole response, validated
  };
  explicit SafeSearchAnswers(std::vector<Answer> answers) : answers_(std::move(answers)) {}

  // The stored upstream response for (target, qtype); empty when there is none.
  std::span<const uint8_t> find(std::string_view target, uint16_t qtype) const noexcept;
  size_t size() const { return answers_.size(); }

 private:
  std::vector<Answer> answers_;
};

using SafeSearchHolder = SnapshotHolder<SafeSearchAnswers>;

// The names resolved: every safe-search target policy/ can rewrite to.
std::span<const std::string_view> safeSearchTargets();

// One blocking UDP query (control plane): `name`/`qtype` to `upstream`, waiting at most
// `timeout_ms`. Returns the response once it matches the question (RFC 5452 §9.1: id, name,
// type, class; the connected socket checks the source), with RCODE NOERROR.
Result<std::vector<uint8_t>> queryUpstreamOnce(const SocketAddress& upstream, std::string_view name,
                                               uint16_t qtype, int timeout_ms);
// The same through a DoT/DoH transport (daemon/dns/encrypted_upstream.h), with the same checks.
Result<std::vector<uint8_t>> queryUpstreamOnce(EncryptedUpstream& upstream, std::string_view name,
                                               uint16_t qtype, int timeout_ms);

// One upstream as the refresher asks it: name, qtype, timeout -> a checked NOERROR response.
using UpstreamAsker = std::function<Result<std::vector<uint8_t>>(std::string_view, uint16_t, int)>;
// Askers for dns.upstreams in order: plain entries over UDP, tls:// and https:// ones through
// `encrypted` (the proxy's transports, same index); an entry without a transport is skipped.
std::vector<UpstreamAsker> upstreamAskers(
    const std::vector<std::string>& upstreams,
    const std::vector<std::shared_ptr<EncryptedUpstream>>& encrypted);

class SafeSearchRefresher {
 public:
  // Starts the thread, which resolves at once and then keeps the answers fresh. A failure is
  // not an error (retried in 10 s); until the first answers arrive, find() finds nothing.
  static std::unique_ptr<SafeSearchRefresher> start(std::vector<UpstreamAsker> upstreams,
                                                    int timeout_ms, SafeSearchHolder& holder);
  // Plain UDP upstreams.
  static std::unique_ptr<SafeSearchRefresher> start(const std::vector<SocketAddress>& upstreams,
                                                    int timeout_ms, SafeSearchHolder& holder);
  ~SafeSearchRefresher();
  void stop();

  // One round now: resolve every target, publish what was obtained (keeping the previous
  // answer for a target that failed). Returns the seconds until the next round.
  int refreshOnce();

 private:
  SafeSearchRefresher(std::vector<UpstreamAsker> upstreams, int timeout_ms,
                      SafeSearchHolder& holder)
      : upstreams_(std::move(upstreams)), timeout_ms_(timeout_ms), holder_(holder) {}
  void run();

  std::vector<UpstreamAsker> upstreams_;
  int timeout_ms_;
  SafeSearchHolder& holder_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  int next_seconds_ = 60;
  std::thread thread_;
};

}  // namespace safegate
