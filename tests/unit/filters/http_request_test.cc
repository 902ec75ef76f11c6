#include "filters/http_request.h"

#include <gtest/gtest.h>

#include <string>

namespace safegate {
namespace {

HttpParseStatus parse(std::string_view text, HttpRequest& out) {
  return parseHttpRequest({reinterpret_cast<const uint8_t*>(text.data()), text.size()}, out);
}

TEST(HttpRequestTest, ParsesSimpleGet) {
  HttpRequest r;
  const std::string req =
      "GET /index.html?q=1 HTTP/1.1\r\nHost: www.example.com\r\nAccept: */*\r\n\r\n";
  ASSERT_EQ(parse(req, r), HttpParseStatus::kComplete);
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/index.html?q=1");
  EXPECT_EQ(r.path, "/index.html?q=1");
  EXPECT_EQ(r.version, "HTTP/1.1");
  EXPECT_EQ(r.form, HttpTargetForm::kOrigin);
  EXPECT_EQ(r.host.name, "www.example.com");
  EXPECT_EQ(r.host.port, 0);
  EXPECT_EQ(r.host_fields, 1);
  EXPECT_EQ(r.head_length, req.size());
}

TEST(HttpRequestTest, BodyAfterHeadIsNotPartOfHead) {
  HttpRequest r;
  const std::string head = "POST /form HTTP/1.1\r\nHost: a.example\r\nContent-Length: 3\r\n\r\n";
  ASSERT_EQ(parse(head + "abc", r), HttpParseStatus::kComplete);
  EXPECT_EQ(r.head_length, head.size());
}

TEST(HttpRequestTest, HostFieldNameIsCaseInsensitiveAndSpacingTolerant) {
  for (std::string_view req : {"GET / HTTP/1.1\r\nhoSt:evil.example\r\n\r\n",
                               "GET / HTTP/1.1\r\nHOST: \t evil.example \t\r\n\r\n",
                               "GET / HTTP/1.1\nhost:evil.example\n\n",
                               "\r\n\r\nGET\t/  HTTP/1.1\r\nHost:evil.example\r\n\r\n"}) {
    HttpRequest r;
    EXPECT_EQ(parse(req, r), HttpParseStatus::kComplete) << req;
    EXPECT_EQ(r.host.name, "evil.example") << req;
  }
}

TEST(HttpRequestTest, HostKeepsItsCaseForTheNormaliser) {
  HttpRequest r;
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: EVIL.Example:8080\r\n\r\n", r),
            HttpParseStatus::kComplete);
  EXPECT_EQ(r.host.name, "EVIL.Example");
  EXPECT_EQ(r.host.port, 8080);
}

TEST(HttpRequestTest, Ipv6LiteralHostLosesBrackets) {
  HttpRequest r;
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: [::1]:8000\r\n\r\n", r), HttpParseStatus::kComplete);
  EXPECT_EQ(r.host.name, "::1");
  EXPECT_EQ(r.host.port, 8000);
}

TEST(HttpRequestTest, AbsoluteFormWinsOverHostButDisagreementIsAmbiguous) {
  HttpRequest r;
  ASSERT_EQ(parse("GET http://blocked.example/path?x HTTP/1.1\r\nHost: allowed.example\r\n\r\n", r),
            HttpParseStatus::kAmbiguous);
  EXPECT_EQ(r.form, HttpTargetForm::kAbsolute);
  EXPECT_EQ(r.host.name, "blocked.example");  // RFC 9112 §3.2.2
  EXPECT_EQ(r.target_host.name, "blocked.example");
  EXPECT_EQ(r.header_host.name, "allowed.example");
  EXPECT_EQ(r.path, "/path?x");
  EXPECT_TRUE(r.ambiguity & http_ambiguity::kHostMismatch);
}

TEST(HttpRequestTest, AbsoluteFormAgreeingWithHostIsComplete) {
  HttpRequest r;
  ASSERT_EQ(parse("GET HTTP://Example.COM./a HTTP/1.1\r\nHost: example.com:80\r\n\r\n", r),
            HttpParseStatus::kComplete);
  EXPECT_EQ(r.host.name, "Example.COM.");
}

TEST(HttpRequestTest, AbsoluteFormWithoutPathHasEmptyPath) {
  HttpRequest r;
  ASSERT_EQ(parse("GET http://example.com HTTP/1.0\r\n\r\n", r), HttpParseStatus::kComplete);
  EXPECT_EQ(r.host.name, "example.com");
  EXPECT_EQ(r.path, "");
}

TEST(HttpRequestTest, DifferentExplicitPortsAreAMismatch) {
  HttpRequest r;
  EXPECT_EQ(parse("GET http://a.example:8080/ HTTP/1.1\r\nHost: a.example:9090\r\n\r\n", r),
            HttpParseStatus::kAmbiguous);
}

TEST(HttpRequestTest, DuplicateHostFieldsAreAmbiguousAndBothReported) {
  HttpRequest r;
  ASSERT_EQ(
      parse("GET / HTTP/1.1\r\nHost: allowed.example\r\nX: y\r\nhost: blocked.example\r\n\r\n", r),
      HttpParseStatus::kAmbiguous);
  EXPECT_TRUE(r.ambiguity & http_ambiguity::kDuplicateHost);
  EXPECT_EQ(r.host_fields, 2);
  EXPECT_EQ(r.header_host.name, "allowed.example");
  EXPECT_EQ(r.other_header_host.name, "blocked.example");
}

TEST(HttpRequestTest, IdenticalDuplicateHostIsStillAmbiguous) {
  HttpRequest r;
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: a.example\r\nHost: a.example\r\n\r\n", r),
            HttpParseStatus::kAmbiguous);
  EXPECT_TRUE(r.other_header_host.empty());
}

TEST(HttpRequestTest, SixtyFourKibTargetIsParsed) {
  std::string target = "/" + std::string(64 * 1024, 'a');
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: long.example\r\n\r\n";
  HttpRequest r;
  ASSERT_EQ(parse(req, r), HttpParseStatus::kComplete);
  EXPECT_EQ(r.target.size(), target.size());
  EXPECT_EQ(r.host.name, "long.example");
  // The same request cut before its end waits for more, with the method already known.
  HttpRequest partial;
  EXPECT_EQ(parse(std::string_view(req).substr(0, 30000), partial), HttpParseStatus::kNeedMore);
  EXPECT_EQ(partial.method, "GET");
}

TEST(HttpRequestTest, ObsFoldOfHostIsAmbiguous) {
  HttpRequest r;
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: a.example\r\n b.example\r\n\r\n", r),
            HttpParseStatus::kAmbiguous);
  EXPECT_TRUE(r.ambiguity & http_ambiguity::kFoldedHost);
}

TEST(HttpRequestTest, ObsFoldOfOtherFieldIsTolerated) {
  HttpRequest r;
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nX-Long: a\r\n\tb\r\nHost: a.example\r\n\r\n", r),
            HttpParseStatus::kComplete);
}

TEST(HttpRequestTest, WhitespaceLineRightAfterRequestLineIsAmbiguous) {
  HttpRequest r;
  EXPECT_EQ(parse("GET / HTTP/1.1\r\n Host: hidden.example\r\nHost: a.example\r\n\r\n", r),
            HttpParseStatus::kAmbiguous);
  EXPECT_TRUE(r.ambiguity & http_ambiguity::kFoldedFirstLine);
}

TEST(HttpRequestTest, SpaceBeforeColonInHostIsAmbiguous) {
  HttpRequest r;
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost : a.example\r\n\r\n", r), HttpParseStatus::kAmbiguous);
  EXPECT_TRUE(r.ambiguity & http_ambiguity::kSpaceBeforeColon);
  EXPECT_EQ(r.host.name, "a.example");
}

TEST(HttpRequestTest, UserinfoInAbsoluteTargetIsAmbiguous) {
  HttpRequest r;
  ASSERT_EQ(
      parse("GET http://good.example@evil.example/ HTTP/1.1\r\nHost: evil.example\r\n\r\n", r),
      HttpParseStatus::kAmbiguous);
  EXPECT_TRUE(r.ambiguity & http_ambiguity::kUserinfo);
  EXPECT_EQ(r.host.name, "evil.example");
}

TEST(HttpRequestTest, TwoAtSignsInAuthorityAreMalformed) {
  HttpRequest r;
  EXPECT_EQ(parse("GET http://a@b@c.example/ HTTP/1.1\r\nHost: c.example\r\n\r\n", r),
            HttpParseStatus::kMalformed);
}

TEST(HttpRequestTest, PercentEncodedHostIsAmbiguous) {
  HttpRequest r;
  ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: ev%69l.example\r\n\r\n", r),
            HttpParseStatus::kAmbiguous);
  EXPECT_TRUE(r.ambiguity & http_ambiguity::kPercentInHost);
}

TEST(HttpRequestTest, ConnectTakesHostAndPortFromTarget) {
  HttpRequest r;
  ASSERT_EQ(parse("CONNECT abc:443 HTTP/1.1\r\n\r\n", r), HttpParseStatus::kComplete);
  EXPECT_EQ(r.form, HttpTargetForm::kAuthority);
  EXPECT_EQ(r.host.name, "abc");
  EXPECT_EQ(r.host.port, 443);
}

TEST(HttpRequestTest, ConnectWithDisagreeingHostIsAmbiguous) {
  HttpRequest r;
  ASSERT_EQ(parse("CONNECT blocked.example:443 HTTP/1.1\r\nHost: ok.example:443\r\n\r\n", r),
            HttpParseStatus::kAmbiguous);
  EXPECT_EQ(r.host.name, "blocked.example");
  EXPECT_EQ(r.header_host.name, "ok.example");
}

TEST(HttpRequestTest, ConnectWithoutPortIsMalformed) {
  for (std::string_view req : {"CONNECT abc HTTP/1.1\r\n\r\n", "CONNECT abc: HTTP/1.1\r\n\r\n",
                               "CONNECT /x HTTP/1.1\r\n\r\n"}) {
    HttpRequest r;
    EXPECT_EQ(parse(req, r), HttpParseStatus::kMalformed) << req;
    EXPECT_EQ(r.malformation, HttpMalformation::kBadConnectTarget) << req;
  }
}

TEST(HttpRequestTest, Http11WithoutHostIsMalformed) {
  HttpRequest r;
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", r), HttpParseStatus::kMalformed);
  EXPECT_EQ(r.malformation, HttpMalformation::kMissingHost);
}

TEST(HttpRequestTest, Http10WithoutHostIsCompleteWithEmptyHost) {
  HttpRequest r;
  ASSERT_EQ(parse("GET / HTTP/1.0\r\n\r\n", r), HttpParseStatus::kComplete);
  EXPECT_TRUE(r.host.empty());
}

TEST(HttpRequestTest, EmptyOrInvalidHostValueIsMalformed) {
  for (std::string_view req :
       {"GET / HTTP/1.1\r\nHost:\r\n\r\n", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a.example/x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: u@a.example\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a.example:99999\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: [zz]\r\n\r\n"}) {
    HttpRequest r;
    EXPECT_EQ(parse(req, r), HttpParseStatus::kMalformed) << req;
    EXPECT_EQ(r.malformation, HttpMalformation::kBadHostValue) << req;
  }
}

TEST(HttpRequestTest, BareCrIsMalformed) {
  HttpRequest r;
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a.example\rX: y\r\n\r\n", r),
            HttpParseStatus::kMalformed);
  EXPECT_EQ(r.malformation, HttpMalformation::kBareCr);
}

TEST(HttpRequestTest, FieldLineWithoutColonIsMalformed) {
  HttpRequest r;
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost a.example\r\n\r\n", r), HttpParseStatus::kMalformed);
  EXPECT_EQ(r.malformation, HttpMalformation::kBadFieldLine);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHo\"st: a.example\r\n\r\n", r), HttpParseStatus::kMalformed);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a.exa\x01mple\r\n\r\n", r), HttpParseStatus::kMalformed);
}

TEST(HttpRequestTest, TargetWithSpacesOrHttp09IsMalformed) {
  HttpRequest r;
  EXPECT_EQ(parse("GET /a b HTTP/1.1\r\nHost: a.example\r\n\r\n", r), HttpParseStatus::kMalformed);
  EXPECT_EQ(r.malformation, HttpMalformation::kBadRequestLine);
  EXPECT_EQ(parse("GET /\r\n\r\n", r), HttpParseStatus::kMalformed);
  EXPECT_EQ(parse("GET / HTTP/1.x\r\n\r\n", r), HttpParseStatus::kMalformed);
  EXPECT_EQ(parse("GET foo HTTP/1.1\r\nHost: a\r\n\r\n", r), HttpParseStatus::kMalformed);
}

TEST(HttpRequestTest, OtherProtocolsAreNotHttp) {
  HttpRequest r;
  EXPECT_EQ(parse("\x16\x03\x01\x02\x00\x01", r), HttpParseStatus::kNotHttp);
  EXPECT_EQ(parse("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", r), HttpParseStatus::kNotHttp);
  EXPECT_EQ(parse("EHLO mail.example\r\n", r), HttpParseStatus::kNotHttp);
  EXPECT_EQ(parse("SSH-2.0-OpenSSH_9.2\r\n", r), HttpParseStatus::kNotHttp);
  EXPECT_EQ(parse(std::string(40, 'G'), r), HttpParseStatus::kNotHttp);
}

TEST(HttpRequestTest, PartialRequestsNeedMore) {
  const std::string req = "GET /x HTTP/1.1\r\nHost: a.example\r\n\r\n";
  for (size_t n = 0; n < req.size(); ++n) {
    HttpRequest r;
    EXPECT_EQ(parse(std::string_view(req).substr(0, n), r), HttpParseStatus::kNeedMore) << n;
  }
  HttpRequest r;
  EXPECT_EQ(parse(req, r), HttpParseStatus::kComplete);
}

TEST(HttpRequestTest, HigherMinorVersionCountsAsHttp11) {
  HttpRequest r;
  EXPECT_EQ(parse("GET / HTTP/1.2\r\n\r\n", r), HttpParseStatus::kMalformed);
  EXPECT_EQ(r.malformation, HttpMalformation::kMissingHost);
}

TEST(HttpRequestTest, AsteriskFormForOptions) {
  HttpRequest r;
  ASSERT_EQ(parse("OPTIONS * HTTP/1.1\r\nHost: a.example\r\n\r\n", r), HttpParseStatus::kComplete);
  EXPECT_EQ(r.form, HttpTargetForm::kAsterisk);
}

TEST(HttpRequestTest, HostComparisonIgnoresCaseAndOneTrailingDot) {
  EXPECT_TRUE(httpHostsEqual("Example.COM.", "example.com"));
  EXPECT_FALSE(httpHostsEqual("badexample.com", "example.com"));
  EXPECT_FALSE(httpHostsEqual("example.com..", "example.com"));
}

// URL rules match the path as a server resolves it, so these spellings of one page are one.
TEST(HttpRequestTest, NormalizedPathDecodesUnreservedAndRemovesDotSegments) {
  struct Row {
    const char* in;
    const char* out;
  } rows[] = {
      {"/gallery/explicit/1.jpg", "/gallery/explicit/1.jpg"},
      {"/gallery/%65xplicit/1.jpg", "/gallery/explicit/1.jpg"},
      {"/gallery/%45XPLICIT/", "/gallery/EXPLICIT/"},
      {"/a/./b", "/a/b"},
      {"/a/x/../b", "/a/b"},
      {"/../../etc", "/etc"},
      {"//a///b", "/a/b"},
      {"/a\\b", "/a/b"},
      {"/a/b/.", "/a/b/"},
      {"/a/b/..", "/a/"},
      {"/a/%2e%2E/b", "/b"},  // encoded dots are unreserved: decoded, then a dot segment
      {"/a%2Fb", "/a%2Fb"},   // an encoded slash is reserved: kept
      {"/a%zz%4", "/a%zz%4"},
      {"/p?q=/../x&%65", "/p?q=/../x&%65"},  // the query is kept as sent
      {"", "/"},
      {"/", "/"},
      {"a/b", "/a/b"},
      {"/..", "/"},
      {"/a/b/../../..", "/"},
      {"/aa/bbb/../c", "/aa/c"},
      {"/abc/../x/", "/x/"},
  };
  std::string out;
  for (const Row& r : rows) EXPECT_EQ(normalizeHttpPath(r.in, out), r.out) << r.in;
}

// The in-place pass against a plain one that keeps a vector of segments, on every path of up
// to six characters over an alphabet that makes dot segments, empty segments and escapes.
TEST(HttpRequestTest, NormalizedPathInPlaceAgreesWithASegmentListOnEveryShortPath) {
  auto reference = [](std::string_view path) {
    const size_t query = path.find('?');
    std::string decoded;
    for (char c : path.substr(0, query)) decoded += c == '\\' ? '/' : c;
    for (size_t i; (i = decoded.find("%2e")) != std::string::npos;) decoded.replace(i, 3, ".");
    std::vector<std::string> segments;
    size_t start = 0;
    bool trailing = false;
    while (start < decoded.size()) {
      const size_t slash = decoded.find('/', start);
      const std::string seg = decoded.substr(start, slash - start);
      const bool last = slash == std::string::npos || slash + 1 == decoded.size();
      if (seg == "..") {
        if (!segments.empty()) segments.pop_back();
      } else if (!seg.empty() && seg != ".") {
        segments.push_back(seg);
      }
      if (last) trailing = slash != std::string::npos || seg == "." || seg == "..";
      start = slash == std::string::npos ? decoded.size() : slash + 1;
    }
    std::string out;
    for (const auto& seg : segments) out += "/" + seg;
    if (out.empty() || trailing) out += '/';
    if (query != std::string_view::npos) out += path.substr(query);
    return out;
  };
  const std::string_view alphabet[] = {"a", "/", ".", "\\", "%2e", "?"};
  std::string out;
  size_t checked = 0;
  std::vector<size_t> digits;
  for (size_t len = 0; len <= 6; ++len) {
    digits.assign(len, 0);
    for (;;) {
      std::string path;
      for (size_t d : digits) path += alphabet[d];
      ASSERT_EQ(normalizeHttpPath(path, out), reference(path)) << path;
      ++checked;
      size_t k = 0;
      while (k < len && ++digits[k] == std::size(alphabet)) digits[k++] = 0;
      if (k == len) break;
    }
  }
  EXPECT_EQ(checked, 55'987u);  // 6^0 + ... + 6^6
}

TEST(HttpRequestTest, StatusNames) {
  EXPECT_EQ(httpParseStatusName(HttpParseStatus::kAmbiguous), "ambiguous");
  EXPECT_EQ(httpParseStatusName(HttpParseStatus::kNotHttp), "not-http");
}

}  // namespace
}  // namespace safegate
