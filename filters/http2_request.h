// HTTP/2 over cleartext TCP with prior knowledge (RFC 9113 §3.3): the first request a client
// sends on a connection that starts with the HTTP/2 connection preface, read like an HTTP/1
// request head so the inline path decides its :authority as it decides a Host field.
//
// parseHttp2Request() takes the client's stream from its first octet: the 24-octet preface
// (§3.4), then frames (§4.1) up to the end of the first header block (HEADERS, then
// CONTINUATION frames until END_HEADERS: §6.2, §6.10), decoded with nghttp2's HPACK inflater
// (RFC 7541: static and dynamic table, Huffman strings, table size updates). Frames before it
// (SETTINGS, WINDOW_UPDATE, PRIORITY, PING, unknown types) are skipped. It never allows on its
// own terms:
//   - what a conforming server must reject is kMalformed: a first frame that is not SETTINGS,
//     a header block interrupted by any other frame, DATA or PUSH_PROMISE before the request,
//     a frame longer than the default SETTINGS_MAX_FRAME_SIZE (16,384), padding longer than its
//     frame, a header block the inflater refuses, a pseudo-header that is unknown, repeated or
//     after a regular field, a request without :method, or without :scheme and :path (other than
//     CONNECT), or without any host, an invalid :authority or Host, userinfo in :authority;
//   - :authority and a Host field naming different hosts is kAmbiguous (§8.3.1: a server
//     SHOULD, not MUST, reject it), both reported so the caller can decide both.
// A request whose content-type or accept is application/dns-message is DNS over HTTPS
// (RFC 8484) carried in cleartext: `dns_message` is set.
//
// The HTTP/1.1 "Upgrade: h2c" path needs nothing here: its first request is an HTTP/1.1 head
// with a Host field (filters/http_request.h), decided before the server switches protocols.
//
// Data plane: noexcept, no allocation after the Http2Scratch is built (the inflater allocates
// from the scratch's fixed arena through nghttp2_mem; when the arena is spent the block is
// kMalformed). One scratch per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "filters/http_request.h"

namespace safegate {

inline constexpr std::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// True when `stream` (at least 3 octets) is the preface or starts like it: from then on the
// connection is HTTP/2 or nothing safegate reads.
bool startsLikeHttp2(std::span<const uint8_t> stream) noexcept;

enum class Http2ParseStatus : uint8_t {
  kComplete,   // the first request's header block was read; hosts agree
  kNeedMore,   // the preface or a frame up to the end of the first header block is incomplete
  kAmbiguous,  // complete, but :authority and Host name different hosts (both reported)
  kMalformed,  // a conforming server must reject it (see above)
  kNotHttp2,   // the stream does not start with the preface
};
std::string_view http2ParseStatusName(Http2ParseStatus s);

struct Http2Request {
  std::string_view method;
  std::string_view scheme;
  std::string_view path;  // :path as sent (path and query)
  HttpHost authority;     // :authority
  HttpHost header_host;   // a Host field
  HttpHost host;          // :authority if present, else Host
  uint32_t stream_id = 0;
  bool dns_message = false;  // content-type or accept names application/dns-message
  uint16_t ambiguity = 0;    // http_ambiguity flags (kHostMismatch, kPercentInHost)
};

// The decoder's working memory: the arena the HPACK inflater allocates from and the buffer the
// request's fields are copied to (an Http2Request views it until the next parse).
class Http2Scratch {
 public:
  static constexpr size_t kArenaBytes = 256 * 1024;
  static constexpr size_t kFieldBytes = 32 * 1024;
  Http2Scratch();
  ~Http2Scratch();
  Http2Scratch(const Http2Scratch&) = delete;
  Http2Scratch& operator=(const Http2Scratch&) = delete;

  struct Arena {
    uint8_t* base = nullptr;
    size_t size = 0;
    size_t used = 0;
    size_t last = 0;  // offset of the newest block (freed or grown in place)
  };
  Arena& arena() noexcept { return arena_; }
  std::span<char> fields() noexcept { return {fields_.get(), kFieldBytes}; }

 private:
  std::unique_ptr<uint8_t[]> arena_bytes_;
  std::unique_ptr<char[]> fields_;
  Arena arena_;
};

Http2ParseStatus parseHttp2Request(std::span<const uint8_t> stream, Http2Scratch& scratch,
                                   Http2Request& out) noexcept;

}  // namespace safegate
