#include "filters/http_request.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace safegate {
namespace {

// Longest method we wait for before calling the stream "not HTTP". Registered methods are at
// most 17 octets (VERSION-CONTROL); extension methods this long do not exist in practice.
constexpr size_t kMaxMethodLength = 32;

// tchar (RFC 9110 §5.6.2).
bool isTchar(uint8_t c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~': return true;
    default: return false;
  }
}

bool isWs(char c) noexcept { return c == ' ' || c == '\t'; }

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trimWs(std::string_view s) noexcept {
  while (!s.empty() && isWs(s.front())) s.remove_prefix(1);
  while (!s.empty() && isWs(s.back())) s.remove_suffix(1);
  return s;
}

// Characters of a reg-name / IPv4 host (RFC 3986 §3.2.2: unreserved / pct-encoded /
// sub-delims).
bool isHostChar(char ch) noexcept {
  const auto c = static_cast<uint8_t>(ch);
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':
    case '%':
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=': return true;
    default: return false;
  }
}

// Parses uri-host [":" port] (with userinfo only when allowed). False if invalid.
bool parseAuthority(std::string_view a, bool allow_userinfo, HttpHost& out,
                    uint16_t& ambiguity) noexcept {
  out = {};
  if (const size_t at = a.find('@'); at != std::string_view::npos) {
    // Two '@' cannot be a valid authority (userinfo has no raw '@'); parsers disagree on which
    // one ends the userinfo, which is exactly the ambiguity evasion relies on.
    if (!allow_userinfo || a.find('@', at + 1) != std::string_view::npos) return false;
    ambiguity |= http_ambiguity::kUserinfo;
    a.remove_prefix(at + 1);
  }
  std::string_view port;
  if (!a.empty() && a.front() == '[') {
    const size_t close = a.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    out.name = a.substr(1, close - 1);
    for (char c : out.name) {
      const bool ok =
          (c >= '0' && c <= '9') || (lower(c) >= 'a' && lower(c) <= 'f') || c == ':' || c == '.';
      if (!ok) return false;  // IPvFuture and zone IDs are not used by HTTP clients
    }
    std::string_view rest = a.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
    }
  } else {
    const size_t colon = a.rfind(':');
    out.name = a.substr(0, colon);
    if (colon != std::string_view::npos) port = a.substr(colon + 1);
    if (out.name.empty()) return false;
    for (char c : out.name) {
      if (!isHostChar(c)) return false;
      if (c == '%') ambiguity |= http_ambiguity::kPercentInHost;
    }
  }
  if (port.size() > 5) return false;
  uint32_t value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535) return false;
  out.port = static_cast<uint16_t>(value);
  return true;
}

bool sameHost(const HttpHost& a, const HttpHost& b) noexcept {
  if (!httpHostsEqual(a.name, b.name)) return false;
  // A port given on one side only is the scheme default on the other; only two explicit,
  // different ports are a disagreement.
  return a.port == 0 || b.port == 0 || a.port == b.port;
}

// Scheme of an absolute-form target: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) "://".
size_t schemeLength(std::string_view t) noexcept {
  if (t.empty() || !((lower(t[0]) >= 'a' && lower(t[0]) <= 'z'))) return 0;
  size_t i = 1;
  while (i < t.size()) {
    const char c = lower(t[i]);
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.') {
      ++i;
    } else {
      break;
    }
  }
  return t.substr(i).starts_with("://") ? i : 0;
}

// Methods of RFC 9110 §9 and PATCH (RFC 5789).
bool isKnownMethod(std::string_view m) noexcept {
  for (std::string_view k :
       {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}) {
    if (m == k) return true;
  }
  return false;
}

enum class LineResult : uint8_t { kOk, kNeedMore, kNotHttp, kMalformed };

// The request line, complete or not: on a partial line, answers kNeedMore while it could
// still become an HTTP/1.x request line and kNotHttp as soon as it cannot.
LineResult parseRequestLine(std::string_view line, bool complete, HttpRequest& out) noexcept {
  size_t i = 0;
  while (i < line.size() && isTchar(static_cast<uint8_t>(line[i]))) ++i;
  if (i == line.size()) {
    if (complete) {
      if (!isKnownMethod(line)) return LineResult::kNotHttp;
      out.method = line;
      out.malformation = HttpMalformation::kBadRequestLine;
      return LineResult::kMalformed;
    }
    return i <= kMaxMethodLength ? LineResult::kNeedMore : LineResult::kNotHttp;
  }
  if (i == 0 || i > kMaxMethodLength || !isWs(line[i])) return LineResult::kNotHttp;
  const std::string_view method = line.substr(0, i);
  // Split the rest on runs of SP/HTAB (RFC 9112 §3 allows recipients to do so).
  std::string_view first, last;
  size_t count = 0;
  while (i < line.size()) {
    while (i < line.size() && isWs(line[i])) ++i;
    if (i == line.size()) break;
    const size_t start = i;
    while (i < line.size() && !isWs(line[i])) ++i;
    if (count++ == 0) first = line.substr(start, i - start);
    last = line.substr(start, i - start);
  }
  out.method = method;
  // A partial line with a valid method: it may still become a request line (the target can
  // be 64 KiB long), so wait for its end.
  if (!complete) return LineResult::kNeedMore;
  // Without a version, only a well-known method makes it (broken) HTTP rather than another
  // protocol ("EHLO x", "SSH-2.0-...").
  if (count == 0 || !last.starts_with("HTTP/")) {
    if (!isKnownMethod(method)) return LineResult::kNotHttp;
  }
  out.target = first;
  if (count != 2) {
    // HTTP/0.9 ("GET /"), or a target with spaces ("GET /a b HTTP/1.1"), which lenient
    // servers still serve: never a clean request.
    out.malformation = HttpMalformation::kBadRequestLine;
    return LineResult::kMalformed;
  }
  const std::string_view version = last;
  // HTTP-version = "HTTP/" DIGIT "." DIGIT (case-sensitive, RFC 9112 §2.3). HTTP/2 appears
  // here only as the prior-knowledge preface "PRI * HTTP/2.0", which is not HTTP/1.
  if (version.size() != 8 || version[6] != '.' || version[5] < '0' || version[5] > '9' ||
      version[7] < '0' || version[7] > '9') {
    out.malformation = HttpMalformation::kBadRequestLine;
    return LineResult::kMalformed;
  }
  if (version[5] != '1') return LineResult::kNotHttp;
  out.version = version;
  return LineResult::kOk;
}

bool hasControlOctet(std::string_view s) noexcept {
  for (char ch : s) {
    const auto c = static_cast<uint8_t>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7f) return true;
  }
  return false;
}

// Fills out.form / path / target_host from out.target. False (with malformation set) if the
// target cannot be read.
bool classifyTarget(HttpRequest& out) noexcept {
  const std::string_view t = out.target;
  if (out.method == "CONNECT") {
    // authority-form, port required (RFC 9110 §9.3.6).
    out.form = HttpTargetForm::kAuthority;
    if (!parseAuthority(t, false, out.target_host, out.ambiguity) || out.target_host.port == 0 ||
        t.back() == ':') {
      out.malformation = HttpMalformation::kBadConnectTarget;
      return false;
    }
    return true;
  }
  if (t == "*") {
    out.form = HttpTargetForm::kAsterisk;
    return true;
  }
  if (t.front() == '/') {
    out.form = HttpTargetForm::kOrigin;
    out.path = t;
    return true;
  }
  const size_t scheme = schemeLength(t);
  if (scheme == 0) {
    out.malformation = HttpMalformation::kBadRequestLine;
    return false;
  }
  out.form = HttpTargetForm::kAbsolute;
  const std::string_view rest = t.substr(scheme + 3);
  const size_t end = std::min(rest.find_first_of("/?#"), rest.size());
  out.path = rest.substr(end);
  if (!parseAuthority(rest.substr(0, end), true, out.target_host, out.ambiguity)) {
    out.malformation = HttpMalformation::kBadHostValue;
    return false;
  }
  return true;
}

}  // namespace

std::string_view httpParseStatusName(HttpParseStatus s) {
  switch (s) {
    case HttpParseStatus::kComplete: return "complete";
    case HttpParseStatus::kNeedMore: return "need-more";
    case HttpParseStatus::kAmbiguous: return "ambiguous";
    case HttpParseStatus::kMalformed: return "malformed";
    case HttpParseStatus::kNotHttp: return "not-http";
  }
  return "unknown";
}

bool parseHttpAuthority(std::string_view authority, HttpHost& out, uint16_t& ambiguity) noexcept {
  return parseAuthority(authority, false, out, ambiguity);
}

bool httpHostsEqual(std::string_view a, std::string_view b) noexcept {
  if (a.ends_with('.')) a.remove_suffix(1);
  if (b.ends_with('.')) b.remove_suffix(1);
  return iequals(a, b);
}

HttpParseStatus parseHttpRequest(std::span<const uint8_t> stream, HttpRequest& out) noexcept {
  out = HttpRequest{};
  const std::string_view s(reinterpret_cast<const char*>(stream.data()), stream.size());
  size_t pos = 0;
  // RFC 9112 §2.2: a server SHOULD ignore empty lines received before the request line.
  while (pos < s.size()) {
    if (s[pos] == '\n') {
      ++pos;
    } else if (s[pos] == '\r' && (pos + 1 == s.size() || s[pos + 1] == '\n')) {
      if (pos + 1 == s.size()) return HttpParseStatus::kNeedMore;
      pos += 2;
    } else {
      break;
    }
  }
  if (pos == s.size()) return HttpParseStatus::kNeedMore;

  // Reads the line starting at `pos`: content without the CR LF / LF. False if no LF yet.
  bool bare_cr = false;
  auto nextLine = [&](std::string_view& line) noexcept {
    const size_t lf = s.find('\n', pos);
    if (lf == std::string_view::npos) return false;
    size_t end = lf;
    if (end > pos && s[end - 1] == '\r') --end;
    line = s.substr(pos, end - pos);
    if (line.find('\r') != std::string_view::npos) bare_cr = true;
    pos = lf + 1;
    return true;
  };

  std::string_view line;
  if (!nextLine(line)) {
    std::string_view partial = s.substr(pos);
    if (partial.ends_with('\r')) partial.remove_suffix(1);
    switch (parseRequestLine(partial, false, out)) {
      case LineResult::kNotHttp: return HttpParseStatus::kNotHttp;
      default: return HttpParseStatus::kNeedMore;
    }
  }
  switch (parseRequestLine(line, true, out)) {
    case LineResult::kOk: break;
    case LineResult::kNotHttp: return HttpParseStatus::kNotHttp;
    default: return HttpParseStatus::kMalformed;
  }
  if (bare_cr) {
    out.malformation = HttpMalformation::kBareCr;
    return HttpParseStatus::kMalformed;
  }
  if (hasControlOctet(line)) {
    out.malformation = HttpMalformation::kBadRequestLine;
    return HttpParseStatus::kMalformed;
  }
  if (!classifyTarget(out)) return HttpParseStatus::kMalformed;

  bool previous_was_host = false;
  bool any_field = false;
  for (;;) {
    if (!nextLine(line)) return HttpParseStatus::kNeedMore;
    if (bare_cr) {
      out.malformation = HttpMalformation::kBareCr;
      return HttpParseStatus::kMalformed;
    }
    if (line.empty()) break;
    if (hasControlOctet(line)) {
      out.malformation = HttpMalformation::kBadFieldLine;
      return HttpParseStatus::kMalformed;
    }
    if (isWs(line.front())) {
      // obs-fold (RFC 9112 §5.2): a continuation of the previous field line. Harmless for any
      // field but Host; before the first field it may hide one from some servers.
      if (!any_field) out.ambiguity |= http_ambiguity::kFoldedFirstLine;
      if (previous_was_host) out.ambiguity |= http_ambiguity::kFoldedHost;
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      out.malformation = HttpMalformation::kBadFieldLine;
      return HttpParseStatus::kMalformed;
    }
    std::string_view name = line.substr(0, colon);
    if (isWs(name.back())) {
      name = trimWs(name);
      if (name.empty()) {
        out.malformation = HttpMalformation::kBadFieldLine;
        return HttpParseStatus::kMalformed;
      }
      // RFC 9112 §5.1: a server MUST reject this; some accept it as the trimmed name.
      if (iequals(name, "host")) out.ambiguity |= http_ambiguity::kSpaceBeforeColon;
    }
    for (char c : name) {
      if (!isTchar(static_cast<uint8_t>(c))) {
        out.malformation = HttpMalformation::kBadFieldLine;
        return HttpParseStatus::kMalformed;
      }
    }
    any_field = true;
    previous_was_host = iequals(name, "host");
    if (!previous_was_host) continue;
    if (out.host_fields < 255) ++out.host_fields;
    HttpHost h;
    if (!parseAuthority(trimWs(line.substr(colon + 1)), false, h, out.ambiguity)) {
      out.malformation = HttpMalformation::kBadHostValue;
      return HttpParseStatus::kMalformed;
    }
    if (out.host_fields == 1) {
      out.header_host = h;
    } else {
      out.ambiguity |= http_ambiguity::kDuplicateHost;
      if (out.other_header_host.empty() && !sameHost(h, out.header_host)) {
        out.other_header_host = h;
      }
    }
  }
  out.head_length = pos;

  if (!out.target_host.empty()) {
    out.host = out.target_host;
    if (!out.header_host.empty() && !sameHost(out.header_host, out.target_host)) {
      out.ambiguity |= http_ambiguity::kHostMismatch;
    }
  } else {
    out.host = out.header_host;
  }
  if (out.host.empty() && out.version != "HTTP/1.0") {
    out.malformation = HttpMalformation::kMissingHost;
    return HttpParseStatus::kMalformed;
  }
  return out.ambiguity != 0 ? HttpParseStatus::kAmbiguous : HttpParseStatus::kComplete;
}

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

}  // namespace

std::string_view normalizeHttpPath(std::string_view path, std::string& out) {
  const size_t query = path.find('?');
  const std::string_view p = path.substr(0, query);
  // Decode unreserved %XX and read '\\' as '/', behind a leading '/': every segment then has a
  // slash before it in `out`, which lets the pass below work in place (no allocation once
  // `out` has grown: the policy calls this per plain-HTTP decision).
  out.clear();
  out += '/';
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '%' && i + 2 < p.size()) {
      const int hi = hexValue(p[i + 1]), lo = hexValue(p[i + 2]);
      if (hi >= 0 && lo >= 0 && unreserved(static_cast<char>(hi * 16 + lo))) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += p[i] == '\\' ? '/' : p[i];
  }
  // Keep segments but empty ones, "." and ".." (which removes the one kept before it), as
  // "/seg", compacted to the front of `out`. The write position w never passes the slash
  // before the segment being read, so a segment is read before anything overwrites it.
  const size_t n = out.size();
  size_t w = 0;
  bool trailing_slash = false;
  for (size_t r = 1; r < n;) {
    const size_t slash = out.find('/', r);
    const size_t end = slash == std::string::npos ? n : slash;
    const std::string_view seg(out.data() + r, end - r);
    const bool dot = seg == ".", dotdot = seg == "..";
    if (slash == std::string::npos || slash + 1 == n) {
      trailing_slash = slash != std::string::npos || dot || dotdot;
    }
    if (dotdot) {
      while (w > 0 && out[--w] != '/') {
      }
    } else if (!seg.empty() && !dot) {
      out[w++] = '/';
      std::memmove(out.data() + w, seg.data(), seg.size());
      w += seg.size();
    }
    r = end + 1;
  }
  out.resize(w);
  if (out.empty() || trailing_slash) out += '/';
  if (query != std::string_view::npos) out += path.substr(query);
  return out;
}

}  // namespace safegate
