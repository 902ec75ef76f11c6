// SipHash-2-4 (Aumasson & Bernstein, "SipHash: a fast short-input PRF", 2012): a keyed hash
// whose outputs a client cannot predict without the key, for tables whose keys a client
// chooses (the inline flow table, the DNS per-client rate limiter) — with an unkeyed hash it
// could aim its entries at one slot and push everyone else out.
// Data plane: noexcept, no allocation.
#pragma once

#include <cstdint>
#include <span>

#include "common/result.h"

namespace safegate {

struct SipHashKey {
  uint64_t k0 = 0, k1 = 0;
  // 128 bits from getrandom(): one per table, per process.
  static Result<SipHashKey> random();
};

uint64_t sipHash24(std::span<const uint8_t> message, uint64_t k0, uint64_t k1) noexcept;
inline uint64_t sipHash24(std::span<const uint8_t> message, const SipHashKey& key) noexcept {
  return sipHash24(message, key.k0, key.k1);
}

}  // namespace safegate
