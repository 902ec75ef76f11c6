// HTTP/1.x request head parser for inline inspection: method, target and the host the request
// is really for, from the first bytes a client sends on a TCP connection.
//
// Provides parseHttpRequest(): takes the client's stream from its first octet (one segment,
// or the contiguous octets a QuicCryptoAssembler has gathered so far) and returns an
// HttpParseStatus plus views into that buffer. It never decides "allow" on its own terms:
// anything a real server could read differently from us is kAmbiguous (with the reasons as
// flags), anything a conforming server must reject is kMalformed, and both hosts are reported
// where they differ, so policy can check both and never let the weaker reading win.
//
// What is tolerated as the servers we protect tolerate it (RFC 9112):
//   - any case in field names ("hoSt:"), no space or several spaces/tabs after the colon,
//     trailing OWS (SP / HTAB), bare LF line ends (§2.2), empty lines before the request line
//     (§2.2), runs of SP/HTAB between request-line words (§3), targets of any length that fits
//     in the buffer (a 64 KiB target is fine), obs-fold in fields other than Host (§5.2);
// and what is not:
//   - absolute-form whose authority differs from Host: the target wins (§3.2.2) but the request
//     is kAmbiguous (kHostMismatch) with both hosts reported; same for CONNECT;
//   - several Host fields (§3.2: a server MUST answer 400): kAmbiguous (kDuplicateHost);
//   - obs-fold continuing a Host field, whitespace between a field name and its colon (§5.1:
//     MUST reject), userinfo in an authority (RFC 9110 §4.2.4), '%' in a host: kAmbiguous;
//   - HTTP/1.1 without any host (§3.2), bare CR, NUL or other controls, a field line without
//     a colon or with a non-token name, an invalid Host value: kMalformed.
//
// Data plane: noexcept, no allocation; views point into the caller's buffer and live as long
// as it does. Stateless and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace safegate {

enum class HttpParseStatus : uint8_t {
  kComplete,   // the whole request head (up to the empty line) was read; hosts agree
  kNeedMore,   // looks like HTTP so far; the head is not complete yet (fields may be partial)
  kAmbiguous,  // complete, but servers could read the target host differently (see flags)
  kMalformed,  // looks like HTTP but a conforming server must reject it
  kNotHttp,    // not an HTTP/1.x request (other protocol, TLS, HTTP/2 preface, ...)
};
std::string_view httpParseStatusName(HttpParseStatus s);

// Why a request is ambiguous (bit flags in HttpRequest::ambiguity).
namespace http_ambiguity {
inline constexpr uint16_t kHostMismatch = 1 << 0;      // target authority vs Host field
inline constexpr uint16_t kDuplicateHost = 1 << 1;     // more than one Host field
inline constexpr uint16_t kFoldedHost = 1 << 2;        // obs-fold continuing a Host field
inline constexpr uint16_t kSpaceBeforeColon = 1 << 3;  // "Host : x" (RFC 9112 §5.1)
inline constexpr uint16_t kUserinfo = 1 << 4;          // "user@host" in an authority
inline constexpr uint16_t kPercentInHost = 1 << 5;     // pct-encoded octets in a host
inline constexpr uint16_t kFoldedFirstLine = 1 << 6;   // a field line starting with whitespace
}  // namespace http_ambiguity

// Why a request is malformed (first reason found), for counters.
enum class HttpMalformation : uint8_t {
  kNone,
  kBadRequestLine,    // missing target or version, bad version, control octets
  kBareCr,            // CR not followed by LF (RFC 9112 §2.2)
  kBadFieldLine,      // no colon, empty or non-token field name
  kBadHostValue,      // Host / authority not a valid uri-host [":" port]
  kMissingHost,       // HTTP/1.1 without Host and without absolute-form (RFC 9112 §3.2)
  kBadConnectTarget,  // CONNECT target not "host:port" (RFC 9110 §9.3.6)
};

enum class HttpTargetForm : uint8_t { kOrigin, kAbsolute, kAuthority, kAsterisk };

// A host as written: name (without brackets for an IPv6 literal) and port (0 = none given).
struct HttpHost {
  std::string_view name;
  uint16_t port = 0;
  bool empty() const { return name.empty(); }
};

struct HttpRequest {
  std::string_view method;   // "GET", "CONNECT", ... (case as sent; methods are case-sensitive)
  std::string_view target;   // request-target as sent
  std::string_view version;  // "HTTP/1.1" or "HTTP/1.0"
  HttpTargetForm form = HttpTargetForm::kOrigin;
  std::string_view path;       // path and query: the origin-form target, or what follows the
                               // authority of an absolute-form target ("" if none)
  HttpHost host;               // effective host: target authority if any (§3.2.2), else Host
  HttpHost target_host;        // authority of an absolute-form or CONNECT target
  HttpHost header_host;        // the (first) Host field
  HttpHost other_header_host;  // a second, different Host field (kDuplicateHost)
  uint8_t host_fields = 0;     // number of Host fields seen (saturates at 255)
  uint16_t ambiguity = 0;      // http_ambiguity flags
  HttpMalformation malformation = HttpMalformation::kNone;
  size_t head_length = 0;  // octets up to and including the empty line (when complete)
};

// Parses the request head at the start of `stream`. On kNeedMore, the fields decoded so far
// are filled in (e.g. method/target once the request line is complete) so a caller may block
// early, but must never allow before kComplete.
HttpParseStatus parseHttpRequest(std::span<const uint8_t> stream, HttpRequest& out) noexcept;

// The path-and-query of a request as a server would resolve it, for matching URL rules that a
// child could otherwise dodge by spelling the path differently (RFC 3986 §6.2.2): percent-
// encoded unreserved characters decoded ("%65" -> "e"), dot segments removed (§5.2.4: "/a/./b",
// "/a/x/../b" -> "/a/b"), empty segments collapsed ("//a" -> "/a") and '\\' read as '/' (as
// some servers do). The query (from '?') is kept as sent. Writes into `out`; returns it.
std::string_view normalizeHttpPath(std::string_view path, std::string& out);

// Parses an authority without userinfo, uri-host [":" port] (an HTTP/2 :authority, RFC 9113
// §8.3.1), as the Host field is parsed; false if invalid. `ambiguity` gets kPercentInHost.
bool parseHttpAuthority(std::string_view authority, HttpHost& out, uint16_t& ambiguity) noexcept;

// Case-insensitive ASCII host comparison ignoring one trailing dot ("Example.com." ==
// "example.com"), as used for the mismatch check.
bool httpHostsEqual(std::string_view a, std::string_view b) noexcept;

}  // namespace safegate
