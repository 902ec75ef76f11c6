#include "common/siphash.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace safegate {
namespace {

// Reference vectors of the SipHash paper (key 00..0f, message 00..n-1): the empty message, a
// tail-only message (7 bytes), exactly one word (8) and two words (16).
TEST(SipHashTest, MatchesTheReferenceVectors) {
  const uint64_t k0 = 0x0706050403020100ull, k1 = 0x0f0e0d0c0b0a0908ull;
  std::vector<uint8_t> m(16);
  for (size_t i = 0; i < m.size(); ++i) m[i] = static_cast<uint8_t>(i);
  auto first = [&](size_t n) { return std::span<const uint8_t>(m.data(), n); };
  EXPECT_EQ(sipHash24(first(0), k0, k1), 0x726fdb47dd0e0e31ull);
  EXPECT_EQ(sipHash24(first(7), k0, k1), 0xab0200f58b01d137ull);
  EXPECT_EQ(sipHash24(first(8), k0, k1), 0x93f5f5799a932462ull);
  EXPECT_EQ(sipHash24(first(16), k0, k1), 0x3f2acc7f57c29bdbull);
}

TEST(SipHashTest, RandomKeysDiffer) {
  auto a = SipHashKey::random(), b = SipHashKey::random();
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(a->k0 == b->k0 && a->k1 == b->k1);
}

}  // namespace
}  // namespace safegate
