#include "filters/list_reader.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/support/shared_data.h"

namespace safegate {
namespace {

ParsedList parse(std::string_view text, DiagnosticSink& sink, ListReadOptions options = {}) {
  return parseListText(text, "test.txt", options, sink);
}

std::vector<std::string> names(const ParsedList& l) {
  std::vector<std::string> out;
  for (const auto& e : l.names) out.emplace_back(l.name(e));
  return out;
}

bool hasWarningAtLine(const DiagnosticSink& sink, uint32_t line, std::string_view needle) {
  for (const Diagnostic& d : sink.all()) {
    if (d.severity == Severity::kWarning && d.where.line == line &&
        d.message.find(needle) != std::string::npos) {
      return true;
    }
  }
  return false;
}

TEST(ListReaderTest, DetectsEachFormatFromItsContent) {
  EXPECT_EQ(detectListFormat("# c\n0.0.0.0 a.com\n127.0.0.1 b.com c.com\n"), ListFormat::kHosts);
  EXPECT_EQ(detectListFormat("a.com\nb.org\n"), ListFormat::kDomains);
  EXPECT_EQ(detectListFormat("# x\n*.a.com\n*.b.org\n"), ListFormat::kWildcard);
  EXPECT_EQ(detectListFormat("server=/a.com/\nserver=/b.com/\n"), ListFormat::kDnsmasq);
  EXPECT_EQ(detectListFormat("! Title\n||a.com^\n@@||b.com^\n"), ListFormat::kAdblock);
  EXPECT_EQ(detectListFormat(""), ListFormat::kDomains);
}

TEST(ListReaderTest, ReadsHostsLinesWithAnySinkAndSeveralNames) {
  DiagnosticSink sink;
  auto l = parse(
      "# comment\n"
      "0.0.0.0 a.com\n"
      "127.0.0.1\tb.com  C.com # trailing comment\n"
      "::1 v6.example\n"
      "192.168.1.1 lan.example\n"
      "127.0.0.1 localhost\n",
      sink, {.format = ListFormat::kHosts});
  EXPECT_EQ(names(l),
            (std::vector<std::string>{"a.com", "b.com", "c.com", "v6.example", "lan.example"}));
  EXPECT_EQ(l.names[0].kind, DomainMatchKind::kSubtree);
  EXPECT_EQ(l.names[1].line, 3u);
  EXPECT_EQ(l.stats.lines, 6u);
  EXPECT_EQ(l.stats.comments, 1u);
  EXPECT_EQ(l.stats.skipped, 1u);  // the localhost line
  EXPECT_TRUE(hasWarningAtLine(sink, 6, "boilerplate"));
}

TEST(ListReaderTest, CanGiveHostsEntriesAdGuardExactSemantics) {
  DiagnosticSink sink;
  auto l = parse("0.0.0.0 a.com\n", sink,
                 {.format = ListFormat::kHosts, .plain_names_cover_subdomains = false});
  ASSERT_EQ(l.names.size(), 1u);
  EXPECT_EQ(l.names[0].kind, DomainMatchKind::kExact);
}

TEST(ListReaderTest, ReportsEverySkippedLineWithItsNumberAndReason) {
  DiagnosticSink sink;
  auto l = parse("good.com\nexa mple.com\n192.0.2.1\nhttp://x.com/path\n-bad..com\ngood2.com\n",
                 sink, {.format = ListFormat::kDomains});
  EXPECT_EQ(names(l), (std::vector<std::string>{"good.com", "good2.com"}));
  EXPECT_EQ(l.stats.skipped, 3u);  // 192.0.2.1 is an address entry (next test)
  EXPECT_TRUE(hasWarningAtLine(sink, 2, "no spaces"));
  EXPECT_FALSE(hasWarningAtLine(sink, 3, ""));
  EXPECT_TRUE(hasWarningAtLine(sink, 4, "URL"));
  EXPECT_TRUE(hasWarningAtLine(sink, 5, "empty label"));
  EXPECT_EQ(sink.all()[0].toString(),
            "test.txt:2: warning: skipped \"exa mple.com\": a domain has no spaces");
}

TEST(ListReaderTest, KeepsAddressAndCidrLinesOfDomainListsAsAddressEntries) {
  DiagnosticSink sink;
  auto l = parse(
      "dns.example\n192.0.2.1\n2001:db8::53\n198.51.100.0/24\n2001:db8:1::/48 # x\n"
      "192.0.2.0/40\n*.1.2.3.4\n",
      sink, {.format = ListFormat::kDomains});
  EXPECT_EQ(names(l), (std::vector<std::string>{"dns.example"}));
  ASSERT_EQ(l.addresses.size(), 4u);
  EXPECT_EQ(l.addresses[0].cidr.toString(), "192.0.2.1/32");
  EXPECT_EQ(l.addresses[0].line, 2u);
  EXPECT_EQ(l.addresses[1].cidr.toString(), "2001:db8::53/128");
  EXPECT_EQ(l.addresses[2].cidr.toString(), "198.51.100.0/24");
  EXPECT_EQ(l.addresses[3].cidr.toString(), "2001:db8:1::/48");
  EXPECT_EQ(l.stats.addresses, 4u);
  EXPECT_EQ(l.stats.entries, 5u);
  // A prefix that is too long and an address behind a wildcard are still bad lines.
  EXPECT_EQ(l.stats.skipped, 2u);
  EXPECT_TRUE(hasWarningAtLine(sink, 6, ""));
  EXPECT_TRUE(hasWarningAtLine(sink, 7, ""));
  EXPECT_EQ(l.stats.lines, l.stats.entries + l.stats.comments + l.stats.skipped);
}

TEST(ListReaderTest, CapsLineLengthAndReportedWarnings) {
  DiagnosticSink sink;
  std::string text = std::string(100, 'a') + ".com\n";
  for (int i = 0; i < 10; ++i) text += "bad name\n";
  auto l =
      parse(text, sink,
            {.format = ListFormat::kDomains, .max_line_length = 50, .max_reported_warnings = 3});
  EXPECT_EQ(l.stats.skipped, 11u);
  EXPECT_TRUE(hasWarningAtLine(sink, 1, "longer than 50"));
  ASSERT_EQ(sink.warningCount(), 4u);  // 3 individual + 1 summary
  EXPECT_NE(sink.all().back().message.find("8 more skipped lines"), std::string::npos);
}

TEST(ListReaderTest, RefusesAFileOverTheSizeLimit) {
  testing::TempDir dir;
  const auto path = dir.write("big.txt", std::string(2000, 'a') + ".com\n");
  DiagnosticSink sink;
  auto r = readListFile(path.string(), {.max_file_bytes = 1000}, sink);
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(sink.hasErrors());
  auto missing = readListFile((dir.path() / "none.txt").string(), {}, sink);
  EXPECT_EQ(missing.status().code(), StatusCode::kIoError);
}

TEST(ListReaderTest, ReadsWildcardAndSquidGuardLeadingDotAsSubtrees) {
  DiagnosticSink sink;
  auto l = parse("*.a.com\nb.com\n.c.com\n*.x*.com\n", sink, {.format = ListFormat::kWildcard});
  EXPECT_EQ(names(l), (std::vector<std::string>{"a.com", "b.com", "c.com"}));
  for (const auto& e : l.names) EXPECT_EQ(e.kind, DomainMatchKind::kSubtree);
  EXPECT_EQ(l.stats.skipped, 1u);
}

TEST(ListReaderTest, ReadsDnsmasqServerLines) {
  DiagnosticSink sink;
  auto l = parse("server=/a.com/\naddress=/b.com/c.com/0.0.0.0\nfoo=bar\n", sink,
                 {.format = ListFormat::kDnsmasq});
  EXPECT_EQ(names(l), (std::vector<std::string>{"a.com", "b.com", "c.com"}));
  EXPECT_EQ(l.stats.skipped, 1u);
}

TEST(ListReaderTest, MapsAdblockAnchorsToNameKinds) {
  DiagnosticSink sink;
  auto l = parse(
      "! comment\n"
      "||sub.a.com^\n"
      "|exact.com^\n"
      "bare.com\n"
      "*.subs.com^\n"
      "||*.subs2.com^\n"
      "@@||ok.a.com^\n"
      "||imp.com^$important\n",
      sink, {.format = ListFormat::kAdblock});
  ASSERT_EQ(l.names.size(), 7u);
  EXPECT_TRUE(l.rules.empty());
  EXPECT_EQ(l.names[0].kind, DomainMatchKind::kSubtree);
  EXPECT_EQ(l.names[1].kind, DomainMatchKind::kExact);
  EXPECT_EQ(l.names[2].kind, DomainMatchKind::kExact);
  EXPECT_EQ(l.names[3].kind, DomainMatchKind::kSubdomainsOnly);
  EXPECT_EQ(l.name(l.names[4]), "subs2.com");
  EXPECT_EQ(l.names[4].kind, DomainMatchKind::kSubdomainsOnly);
  EXPECT_EQ(l.names[5].action, RuleAction::kAllow);
  EXPECT_TRUE(l.names[6].important);
  EXPECT_EQ(l.stats.comments, 1u);
}

TEST(ListReaderTest, TurnsWildcardsAndUnanchoredPatternsIntoRegexes) {
  DiagnosticSink sink;
  auto l = parse("||ad*.example.com^\nexample.org^\n||tracker\n/^ads?[0-9]+\\./\n", sink,
                 {.format = ListFormat::kAdblock});
  ASSERT_EQ(l.rules.size(), 4u);
  EXPECT_EQ(l.rules[0].regex, "(?:^|\\.)ad.*\\.example\\.com$");
  EXPECT_EQ(l.rules[1].regex, "example\\.org$");
  EXPECT_EQ(l.rules[2].regex, "(?:^|\\.)tracker");
  EXPECT_EQ(l.rules[3].regex, "^ads?[0-9]+\\.");
  EXPECT_EQ(l.rules[3].line, 4u);
  for (const auto& r : l.rules) EXPECT_EQ(r.target, AdblockRule::Target::kPattern);
}

TEST(ListReaderTest, ParsesEveryDnsModifier) {
  DiagnosticSink sink;
  auto l = parse(
      "||a.com^$dnstype=AAAA|~A\n"
      "||b.com^$client=192.168.0.0/24|~'Frank\\'s laptop'|Kid\n"
      "||c.com^$ctag=device_pc|~user_child\n"
      "*$denyallow=com|net\n"
      "||d.com^$dnsrewrite=NOERROR;CNAME;Safe.D.com\n"
      "||e.com^$dnsrewrite=1.2.3.4\n"
      "||f.com^$dnsrewrite=REFUSED\n"
      "@@||g.com^$dnsrewrite\n"
      "||h.com^$badfilter\n",
      sink, {.format = ListFormat::kAdblock});
  ASSERT_EQ(l.rules.size(), 9u) << sink.toString();
  EXPECT_EQ(l.rules[0].dnstype_include, (std::vector<uint16_t>{28}));
  EXPECT_EQ(l.rules[0].dnstype_exclude, (std::vector<uint16_t>{1}));
  ASSERT_EQ(l.rules[1].client_cidr_include.size(), 1u);
  EXPECT_EQ(l.rules[1].client_name_exclude, (std::vector<std::string>{"Frank's laptop"}));
  EXPECT_EQ(l.rules[1].client_name_include, (std::vector<std::string>{"Kid"}));
  EXPECT_EQ(l.rules[2].ctag_include, (std::vector<std::string>{"device_pc"}));
  EXPECT_EQ(l.rules[2].ctag_exclude, (std::vector<std::string>{"user_child"}));
  EXPECT_EQ(l.rules[3].denyallow, (std::vector<std::string>{"com", "net"}));
  EXPECT_EQ(l.rules[3].target, AdblockRule::Target::kPattern);
  EXPECT_EQ(l.rules[3].regex, "");
  EXPECT_EQ(l.rules[4].rewrite.rrtype, 5);
  EXPECT_EQ(l.rules[4].rewrite.value, "safe.d.com");
  EXPECT_EQ(l.rules[5].rewrite.rrtype, 1);
  ASSERT_TRUE(l.rules[5].rewrite.address.has_value());
  EXPECT_EQ(l.rules[5].rewrite.address->toString(), "1.2.3.4");
  EXPECT_EQ(l.rules[6].rewrite.rcode, 5);
  EXPECT_EQ(l.rules[6].rewrite.rrtype, 0);
  EXPECT_TRUE(l.rules[7].has_dnsrewrite);
  EXPECT_TRUE(l.rules[7].rewrite.empty());
  EXPECT_TRUE(l.rules[8].badfilter);
  EXPECT_EQ(l.stats.skipped, 0u);
}

TEST(ListReaderTest, SkipsRulesThatDnsCannotApply) {
  DiagnosticSink sink;
  auto l = parse(
      "example.com##.banner\n"
      "||a.com^$third-party\n"
      "https://b.com/path^\n"
      "||c.com^$dnsrewrite=noerror;A;1.2.3.4\n"
      "||d.com^$dnsrewrite=NOERROR;MX;mail.d.com\n"
      "||e.com^$dnstype=BOGUS\n"
      "||f.com^$dnsrewrite\n"
      "ex^ample.com\n"
      "||ok.com^\n",
      sink, {.format = ListFormat::kAdblock});
  EXPECT_EQ(l.stats.entries, 1u);
  EXPECT_EQ(l.stats.skipped, 8u);
  EXPECT_TRUE(hasWarningAtLine(sink, 1, "cosmetic"));
  EXPECT_TRUE(hasWarningAtLine(sink, 2, "unsupported modifier $third-party"));
  EXPECT_TRUE(hasWarningAtLine(sink, 3, "https:// URL rule"));
  EXPECT_TRUE(hasWarningAtLine(sink, 4, "upper case"));
  EXPECT_TRUE(hasWarningAtLine(sink, 5, "not supported"));
  EXPECT_TRUE(hasWarningAtLine(sink, 6, "unknown DNS type"));
  EXPECT_TRUE(hasWarningAtLine(sink, 7, "needs a value"));
  EXPECT_TRUE(hasWarningAtLine(sink, 8, "separator"));
}

TEST(ListReaderTest, AcceptsHostsLinesAndUnicodeInsideAdblockLists) {
  DiagnosticSink sink;
  auto l =
      parse("||bücher.example^\n0.0.0.0 hosts.example\n", sink, {.format = ListFormat::kAdblock});
  EXPECT_EQ(names(l), (std::vector<std::string>{"xn--bcher-kva.example", "hosts.example"}));
  EXPECT_EQ(l.names[1].kind, DomainMatchKind::kExact);
}

TEST(ListReaderTest, ParsesFormatNames) {
  EXPECT_EQ(parseListFormat("hosts"), ListFormat::kHosts);
  EXPECT_EQ(parseListFormat("adblock"), ListFormat::kAdblock);
  EXPECT_FALSE(parseListFormat("nope").has_value());
  EXPECT_EQ(listFormatName(ListFormat::kWildcard), "wildcard");
}

// --- Real lists from ../shared/data -------------------------------------------------------

ParsedList readReal(const std::filesystem::path& p, DiagnosticSink& sink,
                    ListReadOptions options = {}) {
  auto r = readListFile(p.string(), options, sink);
  EXPECT_TRUE(r.isOk()) << r.status().toString();
  return r.isOk() ? std::move(r).value() : ParsedList{};
}

TEST(ListReaderRealDataTest, LoadsUt1CategoryListsAndReportsTheIpLines) {
  const auto dir = SAFEGATE_SHARED_DATA_OR_SKIP("ut1-blacklists");
  DiagnosticSink sink;
  auto gambling = readReal(dir / "gambling" / "domains", sink);
  EXPECT_EQ(gambling.format, ListFormat::kDomains);
  EXPECT_GT(gambling.names.size(), 30000u);
  auto redirector = readReal(dir / "redirector" / "domains", sink);
  EXPECT_GT(redirector.names.size(), 100000u);
  // ut1 domain files hold bare IP addresses too; they are address entries, not skipped lines.
  size_t addresses = 0;
  for (const char* cat : {"adult", "agressif", "dating", "drogue", "games", "social_networks",
                          "vpn", "doh", "malware", "phishing", "warez"}) {
    const auto p = dir / cat / "domains";
    if (!std::filesystem::exists(p)) continue;
    DiagnosticSink s;
    auto l = readReal(p, s);
    addresses += l.addresses.size();
    EXPECT_EQ(l.stats.addresses, l.addresses.size()) << p;
    EXPECT_EQ(l.stats.lines, l.stats.entries + l.stats.comments + l.stats.skipped) << p;
    for (const Diagnostic& d : s.all()) {
      EXPECT_EQ(d.severity, Severity::kWarning);
      if (d.where.line != 0) {
        EXPECT_EQ(d.where.file, p.string());
      }
    }
  }
  EXPECT_GT(addresses, 0u);
}

TEST(ListReaderRealDataTest, LoadsSinfoniettaHostsFiles) {
  const auto dir = SAFEGATE_SHARED_DATA_OR_SKIP("sinfonietta-hostfiles");
  DiagnosticSink sink;
  auto porn = readReal(dir / "pornography-hosts", sink);
  EXPECT_EQ(porn.format, ListFormat::kHosts);
  EXPECT_GT(porn.names.size(), 55000u);
  auto social = readReal(dir / "social-hosts", sink);
  EXPECT_GT(social.names.size(), 3000u);
  auto gambling = readReal(dir / "gambling-hosts", sink);
  EXPECT_GT(gambling.names.size(), 2500u);
}

TEST(ListReaderRealDataTest, Loads4skinskywalkerAdultHosts) {
  const auto p = SAFEGATE_SHARED_DATA_OR_SKIP("adult-4skinskywalker/HOSTS.txt");
  DiagnosticSink sink;
  auto l = readReal(p, sink);
  EXPECT_EQ(l.format, ListFormat::kHosts);
  EXPECT_GT(l.names.size(), 85000u);
  EXPECT_LT(l.stats.skipped, 100u);
}

TEST(ListReaderRealDataTest, LoadsBlocklistProjectInAllFourSyntaxesWithTheSameNames) {
  const auto dir = SAFEGATE_SHARED_DATA_OR_SKIP("blocklistproject");
  DiagnosticSink sink;
  auto hosts = readReal(dir / "drugs.txt", sink);
  auto plain = readReal(dir / "alt-version" / "drugs-nl.txt", sink);
  auto adblock = readReal(dir / "adguard" / "drugs-ags.txt", sink);
  auto dnsmasq = readReal(dir / "dnsmasq-version" / "drugs-dnsmasq.txt", sink);
  EXPECT_EQ(hosts.format, ListFormat::kHosts);
  EXPECT_EQ(plain.format, ListFormat::kDomains);
  EXPECT_EQ(adblock.format, ListFormat::kAdblock);
  EXPECT_EQ(dnsmasq.format, ListFormat::kDnsmasq);
  EXPECT_GT(hosts.names.size(), 25000u);
  EXPECT_EQ(names(hosts), names(plain));
  EXPECT_EQ(names(hosts), names(adblock));
  EXPECT_EQ(names(hosts), names(dnsmasq));
  EXPECT_EQ(sink.warningCount(), 0u) << sink.toString();
}

TEST(ListReaderRealDataTest, LoadsHagezi2022InEverySyntax) {
  const auto dir = SAFEGATE_SHARED_DATA_OR_SKIP("hagezi-2022");
  DiagnosticSink sink;
  auto adblock = readReal(dir / "adblock" / "doh-vpn-proxy-bypass.txt", sink);
  auto plain = readReal(dir / "domains" / "doh-vpn-proxy-bypass.txt", sink);
  auto hosts = readReal(dir / "hosts" / "doh-vpn-proxy-bypass.txt", sink);
  auto wildcard = readReal(dir / "wildcard" / "doh-vpn-proxy-bypass.txt", sink);
  EXPECT_EQ(adblock.format, ListFormat::kAdblock);
  EXPECT_EQ(plain.format, ListFormat::kDomains);
  EXPECT_EQ(hosts.format, ListFormat::kHosts);
  EXPECT_EQ(wildcard.format, ListFormat::kWildcard);
  EXPECT_GT(adblock.stats.entries, 700u);
  EXPECT_GT(plain.stats.entries, 1200u);
  EXPECT_GT(hosts.stats.entries, 1200u);
  EXPECT_GT(wildcard.stats.entries, 700u);
  // The compressed forms (adblock, wildcard) name the same suffixes.
  EXPECT_EQ(names(adblock), names(wildcard));
  auto nss = readReal(dir / "adblock" / "nosafesearch.txt", sink);
  EXPECT_GT(nss.stats.entries, 130u);
}

TEST(ListReaderRealDataTest, LoadsAdGuardHomeSafeSearchRewrites) {
  const auto dir = SAFEGATE_SHARED_DATA_OR_SKIP("adguardhome-safesearch");
  DiagnosticSink sink;
  auto google = readReal(dir / "google.txt", sink);
  EXPECT_EQ(google.format, ListFormat::kAdblock);
  ASSERT_GT(google.rules.size(), 190u);
  EXPECT_EQ(google.stats.skipped, 0u);
  for (const AdblockRule& r : google.rules) {
    ASSERT_TRUE(r.has_dnsrewrite) << r.text;
    EXPECT_EQ(r.rewrite.rrtype, 5);
    EXPECT_EQ(r.rewrite.value, "forcesafesearch.google.com");
    EXPECT_EQ(r.kind, DomainMatchKind::kExact);
  }
  auto yandex = readReal(dir / "yandex.txt", sink);
  ASSERT_GT(yandex.rules.size(), 40u);
  EXPECT_EQ(yandex.rules[0].rewrite.rrtype, 1);
  EXPECT_EQ(yandex.rules[0].name, "www.xn--d1acpjx3f.xn--p1ai");
  auto youtube = readReal(dir / "youtube.txt", sink);
  EXPECT_EQ(youtube.rules.size(), 5u);
  EXPECT_EQ(sink.warningCount(), 0u) << sink.toString();
}

}  // namespace
}  // namespace safegate
