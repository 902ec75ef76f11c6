#include "common/siphash.h"

#include <bit>
#include <cerrno>
#include <cstring>

#include "common/random.h"

namespace safegate {
namespace {

struct SipState {
  uint64_t v0, v1, v2, v3;
  void round() noexcept {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  }
  void compress(uint64_t m) noexcept {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};

}  // namespace

uint64_t sipHash24(std::span<const uint8_t> m, uint64_t k0, uint64_t k1) noexcept {
  SipState s{k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull, k0 ^ 0x6c7967656e657261ull,
             k1 ^ 0x7465646279746573ull};
  const size_t whole = m.size() & ~size_t{7};
  for (size_t i = 0; i < whole; i += 8) {
    uint64_t w = 0;
    for (int j = 7; j >= 0; --j) w = (w << 8) | m[i + static_cast<size_t>(j)];  // little endian
    s.compress(w);
  }
  // Last block: the tail bytes and the message length in the top byte.
  uint64_t last = uint64_t{m.size() & 0xff} << 56;
  for (size_t j = 0; whole + j < m.size(); ++j) last |= uint64_t{m[whole + j]} << (8 * j);
  s.compress(last);
  s.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

Result<SipHashKey> SipHashKey::random() {
  uint8_t bytes[16];
  if (Status s = fillRandom(bytes); !s) return Status(s.code(), "hash key: " + s.message());
  SipHashKey key;
  std::memcpy(&key.k0, bytes, 8);
  std::memcpy(&key.k1, bytes + 8, 8);
  return key;
}

}  // namespace safegate
