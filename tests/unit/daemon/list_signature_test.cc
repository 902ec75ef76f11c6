// Minisign verification against signatures made by the real minisign tool
// (tests/support/minisign_vectors.h): both algorithms verify, and every way a signature file can
// be wrong is refused with the reason.
#include "daemon/lists/list_signature.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/support/minisign_vectors.h"

namespace safegate {
namespace {

namespace mv = testing::minisign;

MinisignPublicKey keyA() {
  auto key = parseMinisignPublicKey(mv::kPublicKeyA);
  EXPECT_TRUE(key.isOk()) << key.status().message();
  return *key;
}

std::string replaced(std::string_view text, std::string_view from, std::string_view to) {
  std::string s(text);
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

TEST(ListSignatureTest, KeyParsesFromTheBareKeyAndFromThePubFile) {
  auto bare = parseMinisignPublicKey(mv::kPublicKeyA);
  auto file = parseMinisignPublicKey(mv::kPublicKeyFileA);
  ASSERT_TRUE(bare.isOk() && file.isOk());
  EXPECT_EQ(bare->key, file->key);
  EXPECT_EQ(minisignKeyIdHex(bare->key_id), "636FCDFC1415EF43");
  EXPECT_EQ(minisignKeyIdHex(parseMinisignPublicKey(mv::kPublicKeyB)->key_id), "01E0D6DA16B09D4D");
  EXPECT_TRUE(
      parseMinisignPublicKey(std::string("  ") + std::string(mv::kPublicKeyA) + " \n").isOk());
}

TEST(ListSignatureTest, MalformedKeysAreRefusedWithTheExpectedShape) {
  for (std::string_view bad :
       {std::string_view(""), std::string_view("RWRD7xUU"),
        std::string_view("not base64 at all, not even close to a key here!!!!!!!!"),
        // a 42-byte value not starting with "Ed"
        std::string_view("QUFD7xUU/M1vYzs1SBzftAh24K4WWT/Z+vhMDhNp/ciIWB7QUz88e28o")}) {
    auto key = parseMinisignPublicKey(bad);
    ASSERT_FALSE(key.isOk()) << bad;
    EXPECT_NE(key.status().message().find("56 base64 characters"), std::string::npos);
  }
  auto two = parseMinisignPublicKey(std::string(mv::kPublicKeyA) + "\n" +
                                    std::string(mv::kPublicKeyB) + "\n");
  ASSERT_FALSE(two.isOk());
  EXPECT_NE(two.status().message().find("more than one key line"), std::string::npos);
}

TEST(ListSignatureTest, PrehashedAndLegacySignaturesVerifyAndReturnTheTrustedComment) {
  auto hashed = verifyMinisign(keyA(), mv::kList, mv::kSignatureA);
  ASSERT_TRUE(hashed.isOk()) << hashed.status().message();
  EXPECT_EQ(*hashed, "timestamp:1796000000\tfile:list.txt\thashed");
  auto legacy = verifyMinisign(keyA(), mv::kList, mv::kLegacySignatureA);
  ASSERT_TRUE(legacy.isOk()) << legacy.status().message();
  EXPECT_EQ(*legacy, "timestamp:1796000000\tfile:list.txt");
  // CRLF line ends (a signature file edited on Windows) still verify.
  std::string crlf;
  for (char c : mv::kSignatureA) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  EXPECT_TRUE(verifyMinisign(keyA(), mv::kList, crlf).isOk());
}

TEST(ListSignatureTest, AnAlteredListIsRefused) {
  for (std::string_view sig : {mv::kSignatureA, mv::kLegacySignatureA}) {
    const std::string added = std::string(mv::kList) + "wikipedia.org\n";
    auto r = verifyMinisign(keyA(), added, sig);
    ASSERT_FALSE(r.isOk());
    EXPECT_NE(r.status().message().find("signature does not match the list"), std::string::npos);
    EXPECT_FALSE(verifyMinisign(keyA(), replaced(mv::kList, "two", "tvo"), sig).isOk());
    EXPECT_FALSE(verifyMinisign(keyA(), "", sig).isOk());
  }
}

TEST(ListSignatureTest, AnotherKeysSignatureNamesBothKeyIds) {
  auto r = verifyMinisign(keyA(), mv::kList, mv::kSignatureB);
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().message(),
            "signed with key ID 01E0D6DA16B09D4D, the configured public_key has ID "
            "636FCDFC1415EF43");
}

TEST(ListSignatureTest, AnAlteredTrustedCommentIsRefused) {
  auto r = verifyMinisign(
      keyA(), mv::kList, replaced(mv::kSignatureA, "timestamp:1796000000", "timestamp:1999999999"));
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("comment altered"), std::string::npos);
}

TEST(ListSignatureTest, FilesThatAreNotMinisignsFormatSayWhichLine) {
  const std::string sig(mv::kSignatureA);
  struct Case {
    std::string text;
    std::string_view expect;
  } cases[] = {
      {"", "fewer than 4 lines"},
      {"<html><body>Not Found</body></html>\n", "fewer than 4 lines"},
      {replaced(sig, "untrusted comment:", "comment:"), "line 1"},
      {replaced(sig, "RURD7xUU", "RURD7x*U"), "line 2"},
      {replaced(sig, "RURD7xUU", "RXRD7xUU"), "line 2"},
      {replaced(sig, "trusted comment: timestamp", "timestamp"), "line 3"},
      {replaced(sig, "lEuLtnBu", "lEuL"), "line 4"},
      {sig + "extra line\n", "more than 4 lines"},
  };
  for (const auto& c : cases) {
    auto r = verifyMinisign(keyA(), mv::kList, c.text);
    ASSERT_FALSE(r.isOk()) << c.text;
    EXPECT_NE(r.status().message().find("not minisign's format"), std::string::npos)
        << r.status().message();
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos) << r.status().message();
  }
  // Bounded whatever is sent: a megabyte of empty lines is refused before it is split.
  auto big = verifyMinisign(keyA(), mv::kList, sig + std::string(1 << 20, '\n'));
  ASSERT_FALSE(big.isOk());
  EXPECT_NE(big.status().message().find("larger than 16384 bytes"), std::string::npos);
  // Trailing empty lines are fine.
  EXPECT_TRUE(verifyMinisign(keyA(), mv::kList, sig + "\n\n").isOk());
}

}  // namespace
}  // namespace safegate
