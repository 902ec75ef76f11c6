// PolicyView: what the DNS proxy needs from one compiled policy, published whole.
//
// The daemon publishes a PolicyView through SnapshotHolder<PolicyView> (common/snapshot_holder.h);
// each worker reads it once per request, so a request never sees two policies and a reload
// drops no query. The production implementation wraps policy/'s compiled PolicySnapshot
// (daemon/compiled_policy.h); tests can publish small fixed policies. decide() is data plane:
// noexcept, no allocation, no locks. Implementations are immutable and safe from any thread.
#pragma once

#include <optional>
#include <string_view>

#include "common/ip_address.h"
#include "common/snapshot_holder.h"
#include "policy/decision.h"

namespace safegate {

namespace policy {
struct GroupSettings;
class PolicySnapshot;
}  // namespace policy

// Answer settings a reload may change (dns.block_ttl_seconds, block_page.ipv4/ipv6): published
// with the policy, so a reload changes them for every worker at once with no extra lock.
struct LiveAnswerSettings {
  uint32_t block_ttl_seconds = 60;
  IpAddress block_page_v4 = IpAddress();              // 0.0.0.0 unless configured
  IpAddress block_page_v6 = *IpAddress::parse("::");  // :: unless configured
};

class PolicyView {
 public:
  virtual ~PolicyView() = default;
  // The decision for one request; string_views in it live as long as this PolicyView.
  virtual Decision decide(const RequestFacts& facts) const noexcept = 0;
  // The device name the config gives this client ("" = none: incidents use a pseudonym).
  virtual std::string_view deviceName(const IpAddress& client,
                                      const std::optional<MacAddress>& mac) const noexcept {
    return {};
  }
  // The answer settings in force with this policy; null: the proxy's start-up settings.
  virtual const LiveAnswerSettings* answerSettings() const noexcept { return nullptr; }
  // The group `client` falls into and its settings the inline path enforces (QUIC, ECH,
  // encrypted DNS, unresolved destinations), `index` set to its index; null when the view has
  // no groups (a fixed test policy: the inline path then keeps its defaults).
  virtual const policy::GroupSettings* groupFor(const IpAddress& client,
                                                const std::optional<MacAddress>& mac,
                                                uint16_t& index) const noexcept {
    return nullptr;
  }
  // True when `destination` is listed by address in a circumvention list (a DoH or VPN
  // endpoint), which the inline path blocks whatever the handshake names.
  virtual bool isCircumventionDestination(const IpAddress& destination) const noexcept {
    return false;
  }
  // The compiled policy, for what renders all of it at once (the fail-mode firewall chain);
  // null for views without one.
  virtual const policy::PolicySnapshot* compiled() const noexcept { return nullptr; }
};

using PolicyHolder = SnapshotHolder<PolicyView>;

}  // namespace safegate
