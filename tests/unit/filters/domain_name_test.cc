#include "filters/domain_name.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace safegate {
namespace {

std::string norm(std::string_view in, NameSyntax s = NameSyntax::kListEntry) {
  auto r = normalizeDomain(in, s);
  return r ? *r : "ERROR: " + r.status().message();
}

TEST(DomainNameTest, LowerCasesAndStripsOneTrailingDot) {
  EXPECT_EQ(norm("Example.COM"), "example.com");
  EXPECT_EQ(norm("example.com."), "example.com");
  EXPECT_EQ(norm("WWW.Example.Com."), "www.example.com");
}

TEST(DomainNameTest, RejectsTwoTrailingDotsAsAnEmptyLabel) {
  EXPECT_FALSE(normalizeDomain("example.com..").isOk());
  EXPECT_FALSE(normalizeDomain(".example.com").isOk());
  EXPECT_FALSE(normalizeDomain("a..b").isOk());
}

TEST(DomainNameTest, RejectsTheRootName) {
  EXPECT_FALSE(normalizeDomain("").isOk());
  EXPECT_FALSE(normalizeDomain(".").isOk());
}

TEST(DomainNameTest, AcceptsUnderscoreLabels) {
  EXPECT_EQ(norm("_dmarc.Example.com"), "_dmarc.example.com");
  EXPECT_EQ(norm("_sip._tcp.example.com", NameSyntax::kHostname), "_sip._tcp.example.com");
}

TEST(DomainNameTest, EnforcesLabelAndNameLengths) {
  const std::string label63(63, 'a');
  EXPECT_EQ(norm(label63 + ".com"), label63 + ".com");
  auto r = normalizeDomain(std::string(64, 'a') + ".com");
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("63"), std::string::npos);
  // 4 labels of 61 + 3 dots = 247, plus ".abcde" = 253: the maximum.
  std::string name = std::string(61, 'a') + "." + std::string(61, 'b') + "." +
                     std::string(61, 'c') + "." + std::string(61, 'd') + ".abcde";
  ASSERT_EQ(name.size(), 253u);
  EXPECT_TRUE(normalizeDomain(name).isOk());
  EXPECT_FALSE(normalizeDomain(name + "f").isOk());
}

TEST(DomainNameTest, RejectsSpacesAndPunctuationWithAReason) {
  auto r = normalizeDomain("exa mple.com");
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("no spaces"), std::string::npos);
  EXPECT_FALSE(normalizeDomain("example.com/path").isOk());
  EXPECT_FALSE(normalizeDomain("user@example.com").isOk());
  EXPECT_FALSE(normalizeDomain("*.example.com").isOk());
}

TEST(DomainNameTest, ConvertsULabelsToALabels) {
  EXPECT_EQ(norm("bücher.example"), "xn--bcher-kva.example");
  EXPECT_EQ(norm("BÜCHER.example"), "xn--bcher-kva.example");
  EXPECT_EQ(norm("xn--bcher-kva.example"), "xn--bcher-kva.example");
  EXPECT_EQ(norm("XN--BCHER-KVA.Example."), "xn--bcher-kva.example");
  // Real names: the Russian Federation's registry and a Japanese domain.
  EXPECT_EQ(norm("пример.рф"), "xn--e1afmkfd.xn--p1ai");
  EXPECT_EQ(norm("яндекс.рф"), "xn--d1acpjx3f.xn--p1ai");
  EXPECT_EQ(norm("日本語.jp"), "xn--wgv71a119e.jp");
}

TEST(DomainNameTest, UsesNonTransitionalProcessingForSharpS) {
  // IDNA2008 keeps ß distinct from "ss" (UTS #46 non-transitional), as browsers do.
  EXPECT_EQ(norm("faß.de"), "xn--fa-hia.de");
}

TEST(DomainNameTest, MapsIdeographicFullStopToALabelSeparator) {
  EXPECT_EQ(norm("例え。jp"), norm("例え.jp"));
}

TEST(DomainNameTest, NormalisesDecomposedUnicodeToTheSameALabel) {
  // "u" + COMBINING DIAERESIS must give the same A-label as the precomposed "ü".
  EXPECT_EQ(norm("bu\xcc\x88"
                 "cher.example"),
            "xn--bcher-kva.example");
}

TEST(DomainNameTest, RejectsInvalidUnicode) {
  EXPECT_FALSE(normalizeDomain("\xff\xfe.example").isOk());
}

TEST(DomainNameTest, KeepsAnEscapedDotInsideOneLabel) {
  EXPECT_EQ(norm("a\\.b.example.com"), "a\\.b.example.com");
  EXPECT_NE(norm("a\\.b.example.com"), norm("a.b.example.com"));
  // "\046" is the same octet as "\.".
  EXPECT_EQ(norm("a\\046b.example.com"), "a\\.b.example.com");
  // A printable octet written as \DDD becomes the character itself, lower-cased.
  EXPECT_EQ(norm("\\065bc.com"), "abc.com");
  EXPECT_FALSE(normalizeDomain("a\\.b.com", NameSyntax::kHostname).isOk());
  EXPECT_FALSE(normalizeDomain("a\\4.com").isOk());
}

TEST(DomainNameTest, WireNameNormaliserMatchesTheControlPlane) {
  NameBuffer buf;
  ASSERT_EQ(normalizeWireName("WWW.Example.COM.", buf), WireNameStatus::kOk);
  EXPECT_EQ(buf.view(), "www.example.com");
  ASSERT_EQ(normalizeWireName("a\\.B.com", buf), WireNameStatus::kOk);
  EXPECT_EQ(buf.view(), "a\\.b.com");
  EXPECT_EQ(normalizeWireName("bücher.de", buf), WireNameStatus::kNotAscii);
  EXPECT_EQ(buf.view(), "");
  EXPECT_EQ(normalizeWireName("a b.com", buf), WireNameStatus::kBadCharacter);
  EXPECT_EQ(normalizeWireName("a..com", buf), WireNameStatus::kEmptyLabel);
  EXPECT_EQ(normalizeWireName(".", buf), WireNameStatus::kEmpty);
  EXPECT_EQ(normalizeWireName(std::string(64, 'x') + ".com", buf), WireNameStatus::kLabelTooLong);
  std::string long_name;
  for (int i = 0; i < 64; ++i) long_name += "abc.";
  long_name += "com";
  EXPECT_EQ(normalizeWireName(long_name, buf), WireNameStatus::kNameTooLong);
}

TEST(DomainNameTest, WireNameNormaliserKeepsAnEscapedTrailingDot) {
  NameBuffer buf;
  ASSERT_EQ(normalizeWireName("a.b\\.", buf), WireNameStatus::kOk);
  EXPECT_EQ(buf.view(), "a.b\\.");
}

TEST(DomainNameTest, LabelStartsSkipEscapedDots) {
  std::array<uint16_t, kMaxLabels> starts;
  ASSERT_EQ(labelStarts("www.example.com", starts), 3u);
  EXPECT_EQ(starts[0], 0);
  EXPECT_EQ(starts[1], 4);
  EXPECT_EQ(starts[2], 12);
  ASSERT_EQ(labelStarts("a\\.b.com", starts), 2u);
  EXPECT_EQ(starts[1], 5);
  EXPECT_EQ(labelStarts("", starts), 0u);
}

TEST(DomainNameTest, SuffixWalkYieldsTheNameThenEachParent) {
  std::vector<std::string> seen;
  for (SuffixWalk w("a\\.b.example.com"); !w.done(); w.next()) seen.emplace_back(w.suffix());
  EXPECT_EQ(seen, (std::vector<std::string>{"a\\.b.example.com", "example.com", "com"}));
}

TEST(DomainNameTest, SubdomainTestRespectsLabelBoundaries) {
  EXPECT_TRUE(isSameOrSubdomain("example.com", "example.com"));
  EXPECT_TRUE(isSameOrSubdomain("www.example.com", "example.com"));
  EXPECT_FALSE(isSameOrSubdomain("badexample.com", "example.com"));
  EXPECT_FALSE(isSameOrSubdomain("a\\.example.com", "example.com"));
  EXPECT_TRUE(isSameOrSubdomain("a\\\\.example.com", "example.com"));
  EXPECT_FALSE(isSameOrSubdomain("com", "example.com"));
}

}  // namespace
}  // namespace safegate
