// Fuzz target for the TLS ClientHello parser (filters/tls_client_hello.h).
//
// The input is parsed as a TLS client stream (records, fragmented hellos joined in a scratch
// buffer) and as a bare handshake message (as QUIC delivers it). Every view must lie inside
// the input or the scratch buffer, and the record path must agree with the message path when
// the hello sits in one record.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "filters/tls_client_hello.h"

namespace {

using namespace safegate;

[[noreturn]] void fail() { __builtin_trap(); }

void checkInside(std::string_view v, std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (v.empty()) return;
  const auto* p = reinterpret_cast<const uint8_t*>(v.data());
  const bool in_a = p >= a.data() && p + v.size() <= a.data() + a.size();
  const bool in_b = p >= b.data() && p + v.size() <= b.data() + b.size();
  if (!in_a && !in_b) fail();
}

void checkHello(const TlsClientHello& ch, std::span<const uint8_t> a, std::span<const uint8_t> b) {
  checkInside(ch.sni, a, b);
  if (ch.alpn_count > kMaxAlpnProtocols) fail();
  for (auto p : ch.alpnProtocols()) {
    if (p.empty()) fail();
    checkInside(p, a, b);
  }
  if (ch.has_sni == ch.sni.empty()) fail();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  static std::array<uint8_t, kMaxClientHelloLength> scratch;
  TlsClientHello stream_hello;
  const TlsParseStatus s = parseTlsClientHello(in, scratch, stream_hello);
  if (s == TlsParseStatus::kComplete) {
    checkHello(stream_hello, in, scratch);
    if (stream_hello.consumed > size) fail();
  }
  TlsClientHello msg_hello;
  if (parseClientHelloMessage(in, msg_hello) == TlsParseStatus::kComplete) {
    checkHello(msg_hello, in, {});
    if (msg_hello.message_length > size) fail();
  }
  // The same bytes behind a single record header must give the same hello.
  if (size >= 4 && size <= 16384 && data[0] == 1) {
    static std::array<uint8_t, 16384 + 5> wrapped;
    wrapped[0] = 22;
    wrapped[1] = 3;
    wrapped[2] = 1;
    wrapped[3] = static_cast<uint8_t>(size >> 8);
    wrapped[4] = static_cast<uint8_t>(size);
    std::copy(data, data + size, wrapped.begin() + 5);
    TlsClientHello rec_hello;
    const TlsParseStatus rs = parseTlsClientHello({wrapped.data(), size + 5}, scratch, rec_hello);
    const TlsParseStatus ms = parseClientHelloMessage(in, msg_hello);
    if (ms == TlsParseStatus::kComplete && msg_hello.message_length == size) {
      if (rs != TlsParseStatus::kComplete || rec_hello.sni != msg_hello.sni ||
          rec_hello.has_ech != msg_hello.has_ech || rec_hello.alpn_count != msg_hello.alpn_count) {
        fail();
      }
    }
  }
  return 0;
}
