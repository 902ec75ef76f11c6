#include "common/byte_reader.h"

#include <gtest/gtest.h>

#include <array>

namespace safegate {
namespace {

TEST(ByteReaderTest, ReadsNetworkOrderIntegers) {
  std::array<uint8_t, 10> b{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a};
  ByteReader r(b);
  EXPECT_EQ(*r.u8(), 0x01);
  EXPECT_EQ(*r.u16(), 0x0203);
  EXPECT_EQ(*r.u24(), 0x040506u);
  EXPECT_EQ(*r.u32(), 0x0708090au);
  EXPECT_TRUE(r.empty());
}

TEST(ByteReaderTest, FailedReadDoesNotAdvance) {
  std::array<uint8_t, 3> b{1, 2, 3};
  ByteReader r(b);
  ASSERT_TRUE(r.skip(2));
  EXPECT_FALSE(r.u16().has_value());
  EXPECT_EQ(r.position(), 2u);
  EXPECT_FALSE(r.bytes(2).has_value());
  EXPECT_FALSE(r.skip(2));
  EXPECT_EQ(*r.u8(), 3);
}

TEST(ByteReaderTest, DecodesQuicVariableLengthIntegers) {
  // RFC 9000 §A.1 examples.
  std::array<uint8_t, 8> eight{0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c};
  EXPECT_EQ(*ByteReader(eight).quicVarint(), 151288809941952652ull);
  std::array<uint8_t, 4> four{0x9d, 0x7f, 0x3e, 0x7d};
  EXPECT_EQ(*ByteReader(four).quicVarint(), 494878333u);
  std::array<uint8_t, 2> two{0x7b, 0xbd};
  EXPECT_EQ(*ByteReader(two).quicVarint(), 15293u);
  std::array<uint8_t, 1> one{0x25};
  EXPECT_EQ(*ByteReader(one).quicVarint(), 37u);
  std::array<uint8_t, 3> truncated{0x9d, 0x7f, 0x3e};
  EXPECT_FALSE(ByteReader(truncated).quicVarint().has_value());
}

TEST(ByteReaderTest, SeekRejectsOffsetsPastTheEnd) {
  std::array<uint8_t, 4> b{};
  ByteReader r(b);
  EXPECT_TRUE(r.seek(4));
  EXPECT_FALSE(r.seek(5));
  EXPECT_EQ(r.position(), 4u);
}

}  // namespace
}  // namespace safegate
