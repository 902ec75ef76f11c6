// RequestFacts and Decision: the contract between the front ends (DNS proxy, NFQUEUE, replay,
// safegatectl explain) and PolicyEngine::decide().
//
// Facts are what a front end observed; a Decision is what policy answers, with enough to
// explain it (group, category, rule text, file:line, reason). Both are plain values; the
// string_views in a Decision point into the PolicySnapshot that produced it and stay valid for
// as long as the caller holds that snapshot (PolicySnapshotPtr). Decision building never
// allocates (data plane); renderReason() is control plane.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/ip_address.h"

namespace safegate {

enum class Protocol : uint8_t { kDns, kHttp, kTls, kQuic };

struct RequestFacts {
  IpAddress client;
  std::optional<MacAddress> mac;
  Protocol protocol = Protocol::kDns;
  // Normalised host name (filters/domain_name.h: lower-case A-labels, no trailing dot).
  std::string_view name;
  uint16_t dns_type = 1;       // QTYPE for DNS (A = 1); 0 when not DNS
  std::string_view http_path;  // request target path for plain HTTP, else empty
  int64_t unix_time_seconds = 0;
};

enum class Verdict : uint8_t { kAllow, kBlock, kRewrite, kMonitor };
std::string_view verdictName(Verdict v);  // "allow", "block", "rewrite", "monitor"

// How a blocked DNS query is answered (per group, config key block_answer).
enum class BlockAnswer : uint8_t { kNxdomain, kNodata, kNullAddress, kBlockPage, kRefused };

// Why the verdict was reached: the step of the documented precedence (docs/policy.md).
enum class DecisionReason : uint8_t {
  kIllegalList,         // licensed child-abuse / terrorism list: always blocked
  kPauseException,      // temporary pause of filtering
  kTemporaryException,  // temporary allow of a name or category
  kAllowList,           // allow-type list (education, health, ...)
  kScheduleAllowOnly,   // schedule turned the group allow-list-only and the name is not named
  kBypassDefault,       // canary / DDR / private relay handling
  kSafeSearch,          // rewritten to the safe-search / restricted-mode target
  kCategory,            // a category list matched, action from the group (and schedule)
  kRegexRule,           // a regex rule matched
  kListException,       // an @@ exception in a list
  kDefault,             // nothing matched: the group's default
  kInlineSetting,       // the inline path's own group setting (ech, quic, encrypted_dns, ...)
};
std::string_view decisionReasonName(DecisionReason r);

struct Decision {
  Verdict verdict = Verdict::kAllow;
  bool alert = false;  // flag for the safeguarding lead
  bool log = false;    // record an incident (block, monitor, alert)
  DecisionReason reason = DecisionReason::kDefault;
  BlockAnswer block_answer = BlockAnswer::kNxdomain;
  std::string_view group;        // group name
  std::string_view category;     // category name, or empty
  std::string_view rule;         // rule text as written in its file; empty for illegal lists
  std::string_view source_file;  // file of the rule; empty for illegal lists
  uint32_t source_line = 0;
  std::string_view rewrite_target;  // CNAME target for kRewrite
  bool confidential = false;        // licensed list: never show rule/source anywhere
  // Extensions (policy engineer):
  uint16_t group_index = 0;     // PolicySnapshot::group(group_index) has the group's settings
  bool strip_ech = false;       // strip ECH (SvcParam "ech") from HTTPS answers for this client
  uint64_t exception_id = 0;    // the temporary exception that decided, or 0
  std::string_view granted_by;  // who granted it (views the ExceptionTable passed to decide)
  // Note on `rule`: for plain list entries it is the listed name, which is a suffix of
  // RequestFacts::name (a view into the caller's name, valid as long as that is).
};

// The config spelling of a block answer: "nxdomain", "nodata", "null", "block-page", "refused".
std::string_view blockAnswerName(BlockAnswer a);

// True when a decision is recorded as an incident, on every path that decides (DNS over UDP
// and TCP, inline DNS, HTTP, TLS, QUIC): anything the policy logs or alerts on, and every block
// or monitor except the bypass defaults (canary and DDR answers keep a client on this resolver;
// they say nothing about the child).
constexpr bool isIncident(const Decision& d) noexcept {
  return d.log || d.alert ||
         ((d.verdict == Verdict::kBlock || d.verdict == Verdict::kMonitor) &&
          d.reason != DecisionReason::kBypassDefault);
}

// One line a person can read: "blocked: pornography (list adult, adult.txt:12) for group
// year7". Never mentions the entry of a confidential decision. Control plane (allocates).
std::string renderReason(const Decision& d);

}  // namespace safegate
