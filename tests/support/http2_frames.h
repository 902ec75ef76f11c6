// Builders for a client's side of a cleartext HTTP/2 connection (RFC 9113), for tests of
// filters/http2_request.h and the inline path: the preface, frames, and header blocks encoded
// by nghttp2's HPACK deflater (Huffman where it is shorter, as real clients do). Test support.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "filters/http2_request.h"

namespace safegate::testing {

using Bytes = std::vector<uint8_t>;
using Fields = std::vector<std::pair<std::string, std::string>>;

inline void append(Bytes& out, const Bytes& more) {
  out.insert(out.end(), more.begin(), more.end());
}

inline Bytes http2Frame(uint8_t type, uint8_t flags, uint32_t stream_id, const Bytes& payload) {
  const size_t n = payload.size();
  Bytes f = {uint8_t(n >> 16),
             uint8_t(n >> 8),
             uint8_t(n),
             type,
             flags,
             uint8_t(stream_id >> 24),
             uint8_t(stream_id >> 16),
             uint8_t(stream_id >> 8),
             uint8_t(stream_id)};
  append(f, payload);
  return f;
}

inline Bytes http2Preface() { return Bytes(kHttp2Preface.begin(), kHttp2Preface.end()); }

// SETTINGS with SETTINGS_MAX_CONCURRENT_STREAMS = 100 and SETTINGS_INITIAL_WINDOW_SIZE, as curl.
inline Bytes http2Settings() {
  return http2Frame(0x4, 0, 0, {0, 3, 0, 0, 0, 100, 0, 4, 0, 0x60, 0, 0});
}

inline Bytes hpackBlock(const Fields& fields) {
  nghttp2_hd_deflater* d = nullptr;
  if (nghttp2_hd_deflate_new(&d, 4096) != 0) throw std::runtime_error("deflater");
  std::vector<nghttp2_nv> nv;
  for (const auto& [name, value] : fields) {
    nv.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                  reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                  value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  Bytes out(nghttp2_hd_deflate_bound(d, nv.data(), nv.size()));
  const ssize_t n = nghttp2_hd_deflate_hd(d, out.data(), out.size(), nv.data(), nv.size());
  nghttp2_hd_deflate_del(d);
  if (n < 0) throw std::runtime_error("deflate");
  out.resize(static_cast<size_t>(n));
  return out;
}

// Preface, SETTINGS, WINDOW_UPDATE and one HEADERS frame (END_STREAM | END_HEADERS) on stream 1.
inline Bytes http2Request(const Fields& fields) {
  Bytes s = http2Preface();
  append(s, http2Settings());
  append(s, http2Frame(0x8, 0, 0, {0, 0xef, 0, 1}));
  append(s, http2Frame(0x1, 0x5, 1, hpackBlock(fields)));
  return s;
}

inline Fields getFields(const std::string& authority, const std::string& path = "/") {
  return {{":method", "GET"}, {":scheme", "http"},           {":authority", authority},
          {":path", path},    {"user-agent", "curl/7.88.1"}, {"accept", "*/*"}};
}

}  // namespace safegate::testing
