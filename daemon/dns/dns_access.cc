#include "daemon/dns/dns_access.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "common/siphash.h"

namespace safegate {

std::vector<Cidr> defaultDnsAllowFrom() {
  static constexpr std::string_view kDefaults[] = {
      "127.0.0.0/8",    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
      "169.254.0.0/16", "::1/128",    "fc00::/7",      "fe80::/10",
  };
  std::vector<Cidr> out;
  for (std::string_view s : kDefaults) out.push_back(*Cidr::parse(s));
  return out;
}

IpAddress peerAddress(const sockaddr* peer, socklen_t length) noexcept {
  if (peer->sa_family == AF_INET && length >= sizeof(sockaddr_in)) {
    return IpAddress::v4(ntohl(reinterpret_cast<const sockaddr_in*>(peer)->sin_addr.s_addr));
  }
  if (peer->sa_family == AF_INET6 && length >= sizeof(sockaddr_in6)) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(peer)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a)) {
      return IpAddress::v4(std::span<const uint8_t, 4>(a.s6_addr + 12, 4));
    }
    return IpAddress::v6(std::span<const uint8_t, 16>(a.s6_addr, 16));
  }
  // Not an IP peer (cannot happen on our sockets): "::", which no sane allow_from contains.
  return *IpAddress::parse("::");
}

// ---------------------------------------------------------------------------------------------
// DnsSourceAcl

DnsSourceAcl::DnsSourceAcl(std::span<const Cidr> allowed) {
  for (const Cidr& c : allowed) allowed_.add(c, 1);
  allowed_.finalize();
}

bool DnsSourceAcl::allows(const IpAddress& source) const noexcept {
  if (source.isV4Mapped()) {
    // Check ::ffff:a.b.c.d as a.b.c.d itself, so "10.0.0.0/8" admits a dual-stack socket's view
    // of 10.1.2.3 and "::/0" alone does not silently admit every IPv4 client.
    const auto b = source.bytes();
    const uint8_t v4[4] = {b[12], b[13], b[14], b[15]};
    return allowed_.find(IpAddress::v4(std::span<const uint8_t, 4>(v4, 4))).has_value();
  }
  return allowed_.find(source).has_value();
}

// ---------------------------------------------------------------------------------------------
// ClientRateLimiter

namespace {

std::array<uint8_t, 16> keyOf(const IpAddress& a) noexcept {
  std::array<uint8_t, 16> k{};
  const auto b = a.bytes();
  if (a.isV4()) {
    k[10] = k[11] = 0xff;  // ::ffff:a.b.c.d, so v4 and v6 keys never collide
    std::memcpy(k.data() + 12, b.data(), 4);
  } else {
    std::memcpy(k.data(), b.data(), 16);
  }
  return k;
}

}  // namespace

ClientRateLimiter::ClientRateLimiter(RateLimitSettings settings, size_t entries, uint64_t k0,
                                     uint64_t k1)
    : settings_(settings),
      k0_(k0),
      k1_(k1),
      sets_(std::bit_ceil(std::max(entries, kWays)) / kWays),
      capacity_milli_(uint64_t{std::max<uint32_t>(settings.burst, 1)} * 1000),
      entries_(std::make_unique<Entry[]>(sets_ * kWays)) {}

void ClientRateLimiter::refill(Entry& e, int64_t now_ms) const noexcept {
  // qps tokens per second = qps milli-tokens per millisecond.
  const int64_t elapsed = now_ms - e.last_ms;
  e.last_ms = now_ms;
  if (elapsed <= 0) return;
  const uint64_t full_after_ms = capacity_milli_ / settings_.qps + 1;
  if (static_cast<uint64_t>(elapsed) >= full_after_ms) {
    e.milli_tokens = static_cast<uint32_t>(capacity_milli_);
    return;
  }
  const uint64_t tokens = e.milli_tokens + static_cast<uint64_t>(elapsed) * settings_.qps;
  e.milli_tokens = static_cast<uint32_t>(std::min(tokens, capacity_milli_));
}

bool ClientRateLimiter::allow(const IpAddress& client, int64_t now_ms) noexcept {
  if (!enabled()) return true;
  const std::array<uint8_t, 16> key = keyOf(client);
  Entry* set = &entries_[(sipHash24(key, k0_, k1_) & (sets_ - 1)) * kWays];
  Entry* victim = &set[0];
  for (size_t i = 0; i < kWays; ++i) {
    Entry& e = set[i];
    if (e.used && e.key == key) {
      refill(e, now_ms);
      if (e.milli_tokens < 1000) return false;
      e.milli_tokens -= 1000;
      return true;
    }
    // Prefer a free way, else the least recently seen client.
    if (victim->used && (!e.used || e.last_ms < victim->last_ms)) victim = &e;
  }
  if (victim->used) ++recycled_;
  victim->used = true;
  victim->key = key;
  victim->last_ms = now_ms;
  victim->milli_tokens = static_cast<uint32_t>(capacity_milli_ - 1000);  // this query's token
  return true;
}

}  // namespace safegate
