// ResolvedAddressTable: which addresses safegate's DNS proxy recently returned to which client,
// so the inline path can tell a TLS/QUIC connection to a name it resolved from one to an
// address the client got elsewhere (hard-coded IP, DoH, a cache from before) — the per-group
// "unresolved destination" setting (docs/inline.md).
//
// Best effort by design: a fixed-size, 4-way set-associative table of (client, address) tags
// with an expiry; when a set is full the entry that expires first is replaced, so under a flood
// of answers old entries are forgotten early (a connection then counts as unresolved, which
// the group's setting handles). Entries live max(TTL, kMinRetentionSeconds), capped at a day,
// because clients keep using addresses past their TTL.
//
// Thread-safety: record() from any number of DNS workers and wasResolvedFor() from any number
// of inline workers at once, lock-free (relaxed atomics; a torn race can only lose an entry).
// Data plane: noexcept, no allocation after construction.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>

#include "common/ip_address.h"

namespace safegate {

class ResolvedAddressTable {
 public:
  static constexpr uint32_t kMinRetentionSeconds = 900;
  static constexpr uint32_t kMaxRetentionSeconds = 86400;

  explicit ResolvedAddressTable(size_t entries = 1 << 18);

  void record(const IpAddress& client, const IpAddress& address, int64_t now_s,
              uint32_t ttl_s) noexcept;
  bool wasResolvedFor(const IpAddress& client, const IpAddress& address,
                      int64_t now_s) const noexcept;
  // Records every A/AAAA record of a DNS response sent to `client`; returns how many.
  size_t recordResponse(const IpAddress& client, std::span<const uint8_t> response,
                        int64_t now_s) noexcept;

 private:
  static constexpr size_t kWays = 4;
  struct Slot {
    std::atomic<uint64_t> tag{0};
    std::atomic<int64_t> expires_s{0};
  };
  size_t sets_mask_ = 0;
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace safegate
