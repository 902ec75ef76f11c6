// The DNS proxy's front-door defences (docs/security.md "DNS proxy"): who may ask (DnsSourceAcl,
// dns.allow_from) and how fast (ClientRateLimiter, dns.rate_limit_qps / rate_limit_burst).
//
// Without them safegated is an open resolver: anyone who can reach the listen address can use it
// (a reflection/amplification source when a listen address faces the WAN), and one client on the
// LAN can flood the upstreams and take the proxy's in-flight table for everyone else.
//
// DnsSourceAcl: a CidrSet of allowed networks; an IPv4-mapped IPv6 source (a dual-stack socket's
// view of an IPv4 client) is checked as the IPv4 address it carries. Immutable after
// construction, safe to read from any thread (UDP workers, the TCP accept loop).
//
// ClientRateLimiter: a token bucket per client address in a fixed-size table (no allocation
// after construction), 4-way set associative, indexed by SipHash-2-4 of the address under a
// per-process random key, so a remote sender cannot choose addresses that collide. When a set is
// full the least recently used entry is recycled for the new client, which starts with a full
// bucket: a flood of spoofed sources can only make limiting more lenient, never starve a real
// client. Not thread-safe: one instance per UDP worker (docs/security.md says what that means for
// a client whose queries the kernel spreads over several workers).
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "common/ip_address.h"

namespace safegate {

// dns.allow_from's default: loopback, RFC 1918, IPv4 link-local, ULA and IPv6 link-local.
std::vector<Cidr> defaultDnsAllowFrom();

// The client address of a socket peer; an IPv4-mapped IPv6 peer becomes its IPv4 address.
IpAddress peerAddress(const sockaddr* peer, socklen_t length) noexcept;

class DnsSourceAcl {
 public:
  DnsSourceAcl() = default;  // allows nothing
  explicit DnsSourceAcl(std::span<const Cidr> allowed);
  bool allows(const IpAddress& source) const noexcept;
  bool allows(const sockaddr* peer, socklen_t length) const noexcept {
    return allows(peerAddress(peer, length));
  }

 private:
  CidrSet allowed_;
};

struct RateLimitSettings {
  uint32_t qps = 0;    // tokens added per second; 0 = no limit
  uint32_t burst = 0;  // bucket size (queries a quiet client may send at once); at least 1
};

class ClientRateLimiter {
 public:
  static constexpr size_t kWays = 4;

  // `entries` is rounded up to a power of two (at least kWays); k0/k1 key the hash.
  ClientRateLimiter(RateLimitSettings settings, size_t entries, uint64_t k0, uint64_t k1);

  bool enabled() const { return settings_.qps > 0; }
  // Takes one token from `client`'s bucket; false when the bucket is empty (over the limit).
  // `now_ms` is a monotonic clock in milliseconds. Always true when disabled.
  bool allow(const IpAddress& client, int64_t now_ms) noexcept;

  size_t capacity() const { return sets_ * kWays; }
  // Entries that were taken over by another client (the table was full for that set).
  uint64_t recycled() const { return recycled_; }

 private:
  struct Entry {
    std::array<uint8_t, 16> key{};  // IPv4 as ::ffff:a.b.c.d
    int64_t last_ms = 0;
    uint32_t milli_tokens = 0;  // tokens x 1000, so refills need no floating point
    bool used = false;
  };
  void refill(Entry& e, int64_t now_ms) const noexcept;

  RateLimitSettings settings_;
  uint64_t k0_, k1_;
  size_t sets_;
  uint64_t capacity_milli_;
  std::unique_ptr<Entry[]> entries_;
  uint64_t recycled_ = 0;
};

}  // namespace safegate
