#include "filters/list_matcher.h"

#include <gtest/gtest.h>

#include <string>

#include "filters/domain_name.h"
#include "tests/support/shared_data.h"

namespace safegate {
namespace {

std::unique_ptr<ListMatcher> compileText(std::string_view text, DiagnosticSink& sink,
                                         ListReadOptions options = {}) {
  std::vector<ParsedList> lists;
  lists.push_back(parseListText(text, "rules.txt", options, sink));
  auto m = ListMatcher::compile(std::move(lists), sink);
  EXPECT_TRUE(m.isOk());
  return m.isOk() ? std::move(m).value() : nullptr;
}

ListVerdict verdict(const ListMatcher& m, std::string_view name, uint16_t qtype = 1) {
  return m.match(name, qtype).verdict;
}

TEST(ListMatcherTest, BlocksListedSubtreeButNotSiblingsSharingText) {
  DiagnosticSink sink;
  auto m = compileText("||example.com^\n", sink);
  EXPECT_EQ(verdict(*m, "example.com"), ListVerdict::kBlocked);
  EXPECT_EQ(verdict(*m, "www.example.com"), ListVerdict::kBlocked);
  EXPECT_EQ(verdict(*m, "badexample.com"), ListVerdict::kNone);
  EXPECT_EQ(verdict(*m, "example.com.evil"), ListVerdict::kNone);
}

TEST(ListMatcherTest, ExplainsAPlainMatchWithRuleTextAndFileLine) {
  DiagnosticSink sink;
  auto m = compileText("! header\n||a.example.com^\n", sink);
  const ListMatch r = m->match("x.a.example.com");
  ASSERT_EQ(r.verdict, ListVerdict::kBlocked);
  EXPECT_EQ(r.rule.line, 2u);
  EXPECT_EQ(r.rule.matched_name, "a.example.com");
  EXPECT_EQ(m->ruleText(r), "||a.example.com^");
  EXPECT_EQ(m->source(r), "rules.txt:2");
}

TEST(ListMatcherTest, ExplainsHostsEntriesInTheirOwnSyntax) {
  DiagnosticSink sink;
  auto m = compileText("0.0.0.0 ads.example\n", sink);
  const ListMatch r = m->match("ads.example");
  EXPECT_EQ(m->ruleText(r), "ads.example");
  EXPECT_EQ(m->source(r), "rules.txt:1");
}

TEST(ListMatcherTest, ExceptionBeatsBlockingRule) {
  DiagnosticSink sink;
  auto m = compileText("||example.com^\n@@||good.example.com^\n", sink);
  EXPECT_EQ(verdict(*m, "a.example.com"), ListVerdict::kBlocked);
  const ListMatch r = m->match("x.good.example.com");
  EXPECT_EQ(r.verdict, ListVerdict::kAllowed);
  EXPECT_EQ(m->ruleText(r), "@@||good.example.com^");
}

TEST(ListMatcherTest, ImportantBlockBeatsExceptionAndImportantExceptionBeatsBoth) {
  DiagnosticSink sink;
  auto m = compileText(
      "||a.com^$important\n@@||a.com^\n"
      "||b.com^$important\n@@||b.com^$important\n",
      sink);
  ListMatch r = m->match("a.com");
  EXPECT_EQ(r.verdict, ListVerdict::kBlocked);
  EXPECT_TRUE(r.important);
  EXPECT_EQ(m->ruleText(r), "||a.com^$important");
  r = m->match("www.b.com");
  EXPECT_EQ(r.verdict, ListVerdict::kAllowed);
  EXPECT_TRUE(r.important);
}

TEST(ListMatcherTest, BadfilterDisablesTheIdenticalRuleOnly) {
  DiagnosticSink sink;
  auto m = compileText(
      "||a.com^\n||a.com^$badfilter\n"
      "||b.com^$important\n||b.com^$badfilter\n"
      "||c.com^$dnstype=AAAA\n||c.com^$dnstype=AAAA,badfilter\n",
      sink);
  EXPECT_EQ(verdict(*m, "a.com"), ListVerdict::kNone);
  EXPECT_EQ(verdict(*m, "b.com"), ListVerdict::kBlocked);  // different modifiers
  EXPECT_EQ(verdict(*m, "c.com", 28), ListVerdict::kNone);
  EXPECT_EQ(m->stats().badfiltered, 2u);
}

TEST(ListMatcherTest, BadfilterWorksAcrossLists) {
  DiagnosticSink sink;
  std::vector<ParsedList> lists;
  lists.push_back(parseListText("||a.com^\n", "one.txt", {.list_id = 1}, sink));
  lists.push_back(parseListText("||a.com^$badfilter\n", "two.txt", {.list_id = 2}, sink));
  auto m = ListMatcher::compile(std::move(lists), sink);
  ASSERT_TRUE(m.isOk());
  EXPECT_EQ((*m)->match("a.com").verdict, ListVerdict::kNone);
}

TEST(ListMatcherTest, DnstypeLimitsARuleToQueryTypes) {
  DiagnosticSink sink;
  auto m = compileText("||v6.com^$dnstype=AAAA\n||notmx.com^$dnstype=~MX\n", sink);
  EXPECT_EQ(verdict(*m, "v6.com", 28), ListVerdict::kBlocked);
  EXPECT_EQ(verdict(*m, "v6.com", 1), ListVerdict::kNone);
  EXPECT_EQ(verdict(*m, "notmx.com", 1), ListVerdict::kBlocked);
  EXPECT_EQ(verdict(*m, "notmx.com", 15), ListVerdict::kNone);
  const ListMatch r = m->match("v6.com", 28);
  EXPECT_EQ(m->ruleText(r), "||v6.com^$dnstype=AAAA");
}

TEST(ListMatcherTest, ClientModifierMatchesAddressesCidrsAndNames) {
  DiagnosticSink sink;
  auto m = compileText("||kids.com^$client=192.168.1.0/24|'Kid tablet'|~192.168.1.7\n", sink);
  ListQuery q;
  q.name = "kids.com";
  q.client = IpAddress::parse("192.168.1.20");
  EXPECT_EQ(m->match(q).verdict, ListVerdict::kBlocked);
  q.client = IpAddress::parse("192.168.1.7");
  EXPECT_EQ(m->match(q).verdict, ListVerdict::kNone);
  q.client = IpAddress::parse("10.0.0.1");
  EXPECT_EQ(m->match(q).verdict, ListVerdict::kNone);
  q.client_name = "Kid tablet";
  EXPECT_EQ(m->match(q).verdict, ListVerdict::kBlocked);
}

TEST(ListMatcherTest, CtagModifierMatchesClientTags) {
  DiagnosticSink sink;
  auto m = compileText("||games.com^$ctag=user_child|~device_pc\n", sink);
  const std::string_view child[] = {"user_child"};
  const std::string_view child_pc[] = {"user_child", "device_pc"};
  ListQuery q;
  q.name = "games.com";
  EXPECT_EQ(m->match(q).verdict, ListVerdict::kNone);
  q.ctags = child;
  EXPECT_EQ(m->match(q).verdict, ListVerdict::kBlocked);
  q.ctags = child_pc;
  EXPECT_EQ(m->match(q).verdict, ListVerdict::kNone);
}

TEST(ListMatcherTest, DenyallowExcludesNamesFromABroadRule) {
  DiagnosticSink sink;
  auto m = compileText("*$denyallow=com|net\n||example.org^$denyallow=sub.example.org\n", sink);
  EXPECT_EQ(verdict(*m, "anything.de"), ListVerdict::kBlocked);
  EXPECT_EQ(verdict(*m, "google.com"), ListVerdict::kNone);
  EXPECT_EQ(verdict(*m, "a.b.net"), ListVerdict::kNone);
  EXPECT_EQ(verdict(*m, "www.example.org"), ListVerdict::kBlocked);
  EXPECT_EQ(verdict(*m, "x.sub.example.org"), ListVerdict::kBlocked);  // via "*" rule
  const ListMatch r = m->match("www.example.org");
  EXPECT_EQ(r.rule.line, 2u);
}

TEST(ListMatcherTest, RewriteBeatsPlainExceptionButNotImportantBlock) {
  DiagnosticSink sink;
  auto m = compileText(
      "|www.google.com^$dnsrewrite=NOERROR;CNAME;forcesafesearch.google.com\n"
      "@@||google.com^\n"
      "||bad.com^$dnsrewrite=1.2.3.4\n"
      "||bad.com^$important\n",
      sink);
  ListMatch r = m->match("www.google.com");
  ASSERT_EQ(r.verdict, ListVerdict::kRewrite);
  ASSERT_NE(r.rewrite, nullptr);
  EXPECT_EQ(r.rewrite->rrtype, 5);
  EXPECT_EQ(r.rewrite->value, "forcesafesearch.google.com");
  EXPECT_EQ(m->ruleText(r), "|www.google.com^$dnsrewrite=NOERROR;CNAME;forcesafesearch.google.com");
  EXPECT_EQ(verdict(*m, "mail.google.com"), ListVerdict::kAllowed);
  r = m->match("bad.com");
  EXPECT_EQ(r.verdict, ListVerdict::kBlocked);
  EXPECT_TRUE(r.important);
}

TEST(ListMatcherTest, DnsrewriteExceptionDisablesRewrites) {
  DiagnosticSink sink;
  auto m = compileText(
      "||a.com^$dnsrewrite=1.2.3.4\n@@||x.a.com^$dnsrewrite\n"
      "||b.com^$dnsrewrite=1.2.3.4\n||b.com^$dnsrewrite=5.6.7.8\n@@||b.com^$dnsrewrite=1.2.3.4\n"
      "||c.com^$important,dnsrewrite=1.2.3.4\n@@||c.com^$dnsrewrite\n",
      sink);
  EXPECT_EQ(verdict(*m, "a.com"), ListVerdict::kRewrite);
  EXPECT_EQ(verdict(*m, "c.com"), ListVerdict::kNone);
  EXPECT_EQ(verdict(*m, "x.a.com"), ListVerdict::kNone);
  const ListMatch r = m->match("b.com");
  ASSERT_EQ(r.verdict, ListVerdict::kRewrite);
  EXPECT_EQ(r.rewrite->value, "5.6.7.8");
}

TEST(ListMatcherTest, RegexAndWildcardRulesMatchNames) {
  DiagnosticSink sink;
  auto m = compileText("/^ad[0-9]+\\./\n||track*.example.net^\n@@/^ad7\\./\n", sink);
  ListMatch r = m->match("ad42.example.com");
  EXPECT_EQ(r.verdict, ListVerdict::kBlocked);
  EXPECT_TRUE(r.rule.is_pattern);
  EXPECT_EQ(m->ruleText(r), "/^ad[0-9]+\\./");
  EXPECT_EQ(verdict(*m, "x.tracking.example.net"), ListVerdict::kBlocked);
  EXPECT_EQ(verdict(*m, "example.net"), ListVerdict::kNone);
  EXPECT_EQ(verdict(*m, "ad7.example.com"), ListVerdict::kAllowed);
  EXPECT_EQ(m->stats().pattern_rules, 3u);
}

// URL-shaped rules match names as AdGuard's DNS engine (urlfilter) does — it tests
// "http://" + name for patterns starting "||", "http://", "://", "*://" or shaped "/label.", and
// the bare name otherwise; a trailing "/*" is a separator. Expected rows follow from applying
// urlfilter's pattern-to-regex rules to those two strings.
TEST(ListMatcherTest, UrlShapedRulesMatchNamesAsAdGuardsDnsEngineDoes) {
  struct Row {
    const char* rule;
    const char* name;
    bool blocked;
  } rows[] = {
      {"||example.org/*", "example.org", true},
      {"||example.org/*", "www.example.org", true},
      {"||example.org/*", "example.org.uk", false},
      {"||example.org/*", "notexample.org", false},
      {"://example.org", "example.org", true},
      {"://example.org", "example.org.evil.test", true},  // a prefix of the URL's host part
      {"://example.org", "example.organic", true},
      {"://example.org", "www.example.org", false},
      {"://104.154.", "104.154.1.2", true},
      {"://104.154.", "1104.154.1.2", false},
      {"://104.154.", "10.104.154.1", false},
      {"/sub.", "sub.example.org", true},
      {"/sub.", "www.sub.example.org", false},
      {"/sub.", "subway.example", false},
      {"ample.org|", "example.org", true},
      {"ample.org|", "ample.org", true},
      {"ample.org|", "www.sample.org", true},
      {"ample.org|", "example.org.uk", false},
      {"*://example.org^", "example.org", true},
      {"*://example.org^", "www.example.org", false},
      {"http://tracker.example^", "tracker.example", true},
      {"http://tracker.example^", "a.tracker.example", false},
      {"*^$denyallow=example.org", "anything.test", true},
      {"*^$denyallow=example.org", "example.org", false},
      {"*^$denyallow=example.org", "www.example.org", false},
      {"*$denyallow=example.org|example.net", "www.example.net", false},
      {"*$denyallow=example.org|example.net", "example.com", true},
  };
  ListReadOptions adblock;  // one rule alone is not enough to detect the format
  adblock.format = ListFormat::kAdblock;
  for (const Row& row : rows) {
    DiagnosticSink sink;
    auto m = compileText(std::string(row.rule) + "\n", sink, adblock);
    ASSERT_TRUE(m);
    EXPECT_EQ(sink.all().size(), 0u) << row.rule << ": " << sink.toString();
    EXPECT_EQ(verdict(*m, row.name), row.blocked ? ListVerdict::kBlocked : ListVerdict::kNone)
        << row.rule << " vs " << row.name;
  }
}

// Rules with a path, port or query match no name; they are kept as URL rules and match the URL
// of a plain-HTTP request ("http://" + host + path), as AdGuard matches URL requests — page-level
// entries are how IWF-style lists work. https:// rules never apply (inline sees plain HTTP).
TEST(ListMatcherTest, UrlRulesMatchPlainHttpUrlsNeverNames) {
  ListReadOptions adblock;
  adblock.format = ListFormat::kAdblock;
  DiagnosticSink sink;
  auto m = compileText(
      "||example.org/ads/banner.gif\n"
      "://pages.example/?q=1\n"
      "|http://exact.example/private/\n"
      "/forum/thread-*.html|\n"
      "||example.net/x$client=10.0.0.7\n",
      sink, adblock);
  ASSERT_TRUE(m);
  EXPECT_EQ(sink.all().size(), 0u) << sink.toString();
  EXPECT_EQ(m->stats().url_rules, 5u);
  auto url = [&](std::string_view host, std::string_view url, const char* client = "10.0.0.1") {
    ListQuery q;
    q.name = host;
    q.url = url;
    q.qtype = 0;
    q.client = *IpAddress::parse(client);
    return m->match(q).verdict;
  };
  // No name matches any of them (the DNS path and an HTTP request's host alone).
  for (const char* name : {"example.org", "pages.example", "exact.example", "example.net"}) {
    EXPECT_EQ(verdict(*m, name), ListVerdict::kNone) << name;
  }
  EXPECT_EQ(url("example.org", "http://example.org/ads/banner.gif"), ListVerdict::kBlocked);
  EXPECT_EQ(url("cdn.example.org", "http://cdn.example.org/ads/banner.gif"), ListVerdict::kBlocked);
  EXPECT_EQ(url("example.org", "http://example.org/ads/banner.gif?x=1"), ListVerdict::kBlocked);
  EXPECT_EQ(url("example.org", "http://example.org/news.html"), ListVerdict::kNone);
  EXPECT_EQ(url("notexample.org", "http://notexample.org/ads/banner.gif"), ListVerdict::kNone);
  EXPECT_EQ(url("pages.example", "http://pages.example/?q=1"), ListVerdict::kBlocked);
  EXPECT_EQ(url("exact.example", "http://exact.example/private/a"), ListVerdict::kBlocked);
  EXPECT_EQ(url("exact.example", "http://exact.example/public/"), ListVerdict::kNone);
  EXPECT_EQ(url("board.test", "http://board.test/forum/thread-42.html"), ListVerdict::kBlocked);
  EXPECT_EQ(url("board.test", "http://board.test/forum/thread-42.html?x"), ListVerdict::kNone);
  EXPECT_EQ(url("EXAMPLE.org", "http://EXAMPLE.org/ADS/banner.gif"), ListVerdict::kBlocked);
  // Modifiers still apply: $client limits the URL rule to that client.
  EXPECT_EQ(url("example.net", "http://example.net/x", "10.0.0.7"), ListVerdict::kBlocked);
  EXPECT_EQ(url("example.net", "http://example.net/x", "10.0.0.8"), ListVerdict::kNone);
}

TEST(ListMatcherTest, UrlRulesThatNeverApplyOrWouldOpenTooMuchAreSkippedWithTheReason) {
  ListReadOptions adblock;
  adblock.format = ListFormat::kAdblock;
  struct Row {
    const char* rule;
    const char* why;
  } rows[] = {
      {"https://example.org^", "an https:// URL rule"},
      {"https://example.org/page", "an https:// URL rule"},
      {"||example.org/x$dnsrewrite=1.2.3.4", "$dnsrewrite on a URL rule"},
      {"||example.org:8080^", "a port in a URL rule"},
      {"://example.org:81/x", "a port in a URL rule"},
      // One page allowed would open the whole connection: only its first request is seen.
      {"@@||example.org/ok.html", "an @@ URL rule"},
      // Rules that match every URL are refused like rules that match every name.
      {"/", "matches every URL"},
      {"*/*", "matches every"},
      {"|http://", "matches every URL"},
  };
  for (const Row& row : rows) {
    DiagnosticSink sink;
    auto m = compileText(std::string(row.rule) + "\n", sink, adblock);
    ASSERT_TRUE(m);
    EXPECT_NE(sink.toString().find("rules.txt:1"), std::string::npos) << sink.toString();
    EXPECT_NE(sink.toString().find(row.why), std::string::npos)
        << row.rule << ": " << sink.toString();
    // Nothing was applied: neither a name nor a URL of the site matches.
    ListQuery q;
    q.name = "example.org";
    q.url = "http://example.org/ok.html";
    EXPECT_EQ(m->match(q).verdict, ListVerdict::kNone) << row.rule;
    EXPECT_EQ(verdict(*m, "example.org"), ListVerdict::kNone) << row.rule;
  }
}

TEST(ListMatcherTest, ReportsARegexRe2RejectsWithItsLine) {
  DiagnosticSink sink;
  auto m = compileText("||ok.com^\n/(unclosed/\n", sink);
  EXPECT_EQ(m->stats().rejected_patterns, 1u);
  bool found = false;
  for (const Diagnostic& d : sink.all()) {
    if (d.where.line == 2 && d.where.file == "rules.txt") found = true;
  }
  EXPECT_TRUE(found) << sink.toString();
  EXPECT_EQ(verdict(*m, "ok.com"), ListVerdict::kBlocked);
}

TEST(ListMatcherTest, DecidesAlikeForCaseTrailingDotAndIdnForms) {
  DiagnosticSink sink;
  auto m = compileText("||bücher.example^\n||Example.COM.^\n", sink);
  for (std::string_view q : {"xn--bcher-kva.example", "Xn--Bcher-KVA.example."}) {
    NameBuffer buf;
    ASSERT_EQ(normalizeWireName(q, buf), WireNameStatus::kOk);
    EXPECT_EQ(verdict(*m, buf.view()), ListVerdict::kBlocked) << q;
  }
  for (std::string_view q : {"Example.COM", "example.com.", "WWW.EXAMPLE.com"}) {
    NameBuffer buf;
    ASSERT_EQ(normalizeWireName(q, buf), WireNameStatus::kOk);
    EXPECT_EQ(verdict(*m, buf.view()), ListVerdict::kBlocked) << q;
  }
  auto u = normalizeDomain("BÜCHER.example.");
  ASSERT_TRUE(u.isOk());
  EXPECT_EQ(verdict(*m, *u), ListVerdict::kBlocked);
}

TEST(ListMatcherTest, MostSpecificRuleIsReported) {
  DiagnosticSink sink;
  std::vector<ParsedList> lists;
  lists.push_back(parseListText("example.com\nsub.example.com\n", "a.txt", {.list_id = 7}, sink));
  auto m = ListMatcher::compile(std::move(lists), sink);
  ASSERT_TRUE(m.isOk());
  const ListMatch r = (*m)->match("x.sub.example.com");
  EXPECT_EQ(r.rule.list_id, 7);
  EXPECT_EQ(r.rule.line, 2u);
  EXPECT_EQ((*m)->source(r), "a.txt:2");
  EXPECT_EQ((*m)->sourceInfo(7)->format, ListFormat::kDomains);
}

// --- Real lists --------------------------------------------------------------------------

TEST(ListMatcherRealDataTest, SafeSearchListsRewriteSearchEngines) {
  const auto dir = SAFEGATE_SHARED_DATA_OR_SKIP("adguardhome-safesearch");
  DiagnosticSink sink;
  std::vector<ParsedList> lists;
  uint16_t id = 1;
  for (const char* f : {"google.txt", "bing.txt", "duckduckgo.txt", "youtube.txt", "yandex.txt"}) {
    auto l = readListFile((dir / f).string(), {.list_id = id++}, sink);
    ASSERT_TRUE(l.isOk());
    lists.push_back(std::move(l).value());
  }
  auto m = ListMatcher::compile(std::move(lists), sink);
  ASSERT_TRUE(m.isOk());
  ListMatch r = (*m)->match("www.google.co.uk");
  ASSERT_EQ(r.verdict, ListVerdict::kRewrite);
  EXPECT_EQ(r.rewrite->value, "forcesafesearch.google.com");
  r = (*m)->match("www.youtube.com", 28);
  ASSERT_EQ(r.verdict, ListVerdict::kRewrite);
  EXPECT_EQ(r.rewrite->value, "restrictmoderate.youtube.com");
  EXPECT_NE((*m)->source(r).find("youtube.txt:1"), std::string::npos);
  r = (*m)->match("www.bing.com");
  EXPECT_EQ(r.rewrite->value, "strict.bing.com");
  r = (*m)->match("www.xn--d1acpjx3f.xn--p1ai");  // www.яндекс.рф
  ASSERT_EQ(r.verdict, ListVerdict::kRewrite);
  EXPECT_EQ(r.rewrite->address->toString(), "213.180.193.56");
  // Exact rules: a sibling name is not rewritten.
  EXPECT_EQ((*m)->match("mail.google.com").verdict, ListVerdict::kNone);
}

TEST(ListMatcherRealDataTest, BlocklistProjectSyntaxesDecideAlike) {
  const auto dir = SAFEGATE_SHARED_DATA_OR_SKIP("blocklistproject");
  DiagnosticSink sink;
  std::vector<std::unique_ptr<ListMatcher>> matchers;
  for (const char* f : {"drugs.txt", "alt-version/drugs-nl.txt", "adguard/drugs-ags.txt",
                        "dnsmasq-version/drugs-dnsmasq.txt"}) {
    auto l = readListFile((dir / f).string(), {}, sink);
    ASSERT_TRUE(l.isOk());
    std::vector<ParsedList> lists;
    lists.push_back(std::move(l).value());
    auto m = ListMatcher::compile(std::move(lists), sink);
    ASSERT_TRUE(m.isOk());
    matchers.push_back(std::move(m).value());
  }
  for (std::string_view name : {"001kanpou.com", "www.001kanpou.com", "0755jx.cn", "wikipedia.org",
                                "example.com", "x.0830bbs.com"}) {
    const ListVerdict v = matchers[0]->match(name).verdict;
    for (const auto& m : matchers) EXPECT_EQ(m->match(name).verdict, v) << name;
  }
  EXPECT_EQ(matchers[0]->match("001kanpou.com").verdict, ListVerdict::kBlocked);
  EXPECT_EQ(matchers[0]->match("wikipedia.org").verdict, ListVerdict::kNone);
}

TEST(ListMatcherRealDataTest, HageziBypassListBlocksDohResolvers) {
  const auto p = SAFEGATE_SHARED_DATA_OR_SKIP("hagezi-2022/adblock/doh-vpn-proxy-bypass.txt");
  DiagnosticSink sink;
  auto l = readListFile(p.string(), {}, sink);
  ASSERT_TRUE(l.isOk());
  std::vector<ParsedList> lists;
  lists.push_back(std::move(l).value());
  auto m = ListMatcher::compile(std::move(lists), sink);
  ASSERT_TRUE(m.isOk());
  EXPECT_EQ((*m)->match("1freeproxy.pw").verdict, ListVerdict::kBlocked);
  EXPECT_EQ((*m)->match("a.b.4everproxy.com").verdict, ListVerdict::kBlocked);
  EXPECT_EQ((*m)->match("wikipedia.org").verdict, ListVerdict::kNone);
}

}  // namespace
}  // namespace safegate
