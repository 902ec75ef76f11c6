#include "common/hex.h"

#include <gtest/gtest.h>

#include <array>

namespace safegate {
namespace {

TEST(HexTest, EncodesLowerCaseAndDecodesBack) {
  const std::array<unsigned char, 5> bytes = {0x00, 0x0f, 0xa5, 0xff, 0x10};
  EXPECT_EQ(hexEncode(bytes), "000fa5ff10");
  EXPECT_EQ(hexEncode({}), "");
  auto back = hexDecode("000FA5ff10");  // either case is read
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, std::vector<unsigned char>(bytes.begin(), bytes.end()));
  EXPECT_TRUE(hexDecode("")->empty());
}

TEST(HexTest, OddLengthsAndNonDigitsAreRefused) {
  EXPECT_FALSE(hexDecode("abc"));
  EXPECT_FALSE(hexDecode("0g"));
  EXPECT_FALSE(hexDecode("+1"));  // from_chars-style signs are not digits
  EXPECT_FALSE(hexDecode(" 1"));
}

}  // namespace
}  // namespace safegate
