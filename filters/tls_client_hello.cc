#include "filters/tls_client_hello.h"

#include <algorithm>
#include <cstring>

#include "common/byte_reader.h"

namespace safegate {
namespace {

constexpr uint8_t kContentTypeHandshake = 22;  // RFC 8446 §5.1
constexpr uint8_t kHandshakeClientHello = 1;   // RFC 8446 §4
constexpr size_t kRecordHeaderSize = 5;
constexpr size_t kHandshakeHeaderSize = 4;
constexpr size_t kMaxPlaintextRecord = 16384;  // 2^14, RFC 8446 §5.1
constexpr uint8_t kHostNameType = 0;           // RFC 6066 §3

std::string_view asView(std::span<const uint8_t> b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// server_name (RFC 6066 §3): a ServerNameList with at most one name per type; HostName is
// ASCII without controls or spaces. Anything else is a ClientHello servers read differently.
bool parseServerName(std::span<const uint8_t> data, TlsClientHello& out) noexcept {
  ByteReader r(data);
  auto list_len = r.u16();
  if (!list_len || *list_len != r.remaining() || *list_len == 0) return false;
  while (!r.empty()) {
    auto type = r.u8();
    auto len = r.u16();
    if (!type || !len || *len == 0) return false;
    auto name = r.bytes(*len);
    if (!name) return false;
    if (*type != kHostNameType) continue;
    if (out.has_sni) return false;
    for (uint8_t c : *name) {
      if (c <= 0x20 || c >= 0x7f) return false;
    }
    out.has_sni = true;
    out.sni = asView(*name);
  }
  return true;
}

// application_layer_protocol_negotiation (RFC 7301 §3.1): non-empty list of non-empty names.
bool parseAlpn(std::span<const uint8_t> data, TlsClientHello& out) noexcept {
  ByteReader r(data);
  auto list_len = r.u16();
  if (!list_len || *list_len != r.remaining() || *list_len < 2) return false;
  while (!r.empty()) {
    auto len = r.u8();
    if (!len || *len == 0) return false;
    auto name = r.bytes(*len);
    if (!name) return false;
    if (out.alpn_count < kMaxAlpnProtocols) {
      out.alpn[out.alpn_count++] = asView(*name);
    } else {
      out.alpn_truncated = true;
    }
  }
  return true;
}

// supported_versions in a ClientHello (RFC 8446 §4.2.1): u8 length, list of u16.
bool parseSupportedVersions(std::span<const uint8_t> data, TlsClientHello& out) noexcept {
  ByteReader r(data);
  auto len = r.u8();
  if (!len || *len != r.remaining() || *len < 2 || *len % 2 != 0) return false;
  while (!r.empty()) {
    if (*r.u16() == 0x0304) out.offers_tls13 = true;
  }
  return true;
}

}  // namespace

std::string_view tlsParseStatusName(TlsParseStatus s) {
  switch (s) {
    case TlsParseStatus::kComplete: return "complete";
    case TlsParseStatus::kNeedMore: return "need-more";
    case TlsParseStatus::kNotTls: return "not-tls";
    case TlsParseStatus::kMalformed: return "malformed";
    case TlsParseStatus::kTooLarge: return "too-large";
  }
  return "unknown";
}

namespace {

// Reads a ClientHello body (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2) that announced `declared`
// octets, of which `body` is at hand: all of them (strict: every length must fit exactly) or
// a prefix (running out is kNeedMore; what is there must still be valid).
TlsParseStatus parseBody(std::span<const uint8_t> body, size_t declared,
                         TlsClientHello& out) noexcept {
  const bool partial = body.size() < declared;
  const TlsParseStatus shortage = partial ? TlsParseStatus::kNeedMore : TlsParseStatus::kMalformed;
  ByteReader r(body);
  auto version = r.u16();
  if (!version || !r.skip(32)) return shortage;  // random
  out.legacy_version = *version;
  auto session_len = r.u8();
  if (!session_len) return shortage;
  if (*session_len > 32) return TlsParseStatus::kMalformed;
  if (!r.skip(*session_len)) return shortage;
  auto suites_len = r.u16();
  if (!suites_len) return shortage;
  if (*suites_len < 2 || *suites_len % 2 != 0) return TlsParseStatus::kMalformed;
  if (!r.skip(*suites_len)) return shortage;
  auto compression_len = r.u8();
  if (!compression_len) return shortage;
  if (*compression_len < 1) return TlsParseStatus::kMalformed;
  if (!r.skip(*compression_len)) return shortage;
  if (!partial && r.empty()) {  // no extensions (SSL 3.0 / old TLS)
    out.extensions_complete = true;
    return TlsParseStatus::kComplete;
  }
  auto extensions_len = r.u16();
  if (!extensions_len) return shortage;
  if (*extensions_len != declared - r.position()) return TlsParseStatus::kMalformed;

  bool seen_sni = false, seen_alpn = false, seen_versions = false;
  while (!r.empty()) {
    auto ext_type = r.u16();
    auto ext_len = r.u16();
    auto data = ext_type && ext_len ? r.bytes(*ext_len) : std::nullopt;
    if (!data) {
      if (!partial) return TlsParseStatus::kMalformed;
      break;  // the prefix ends inside this extension
    }
    if (out.extension_count < 0xFFFF) ++out.extension_count;
    switch (*ext_type) {
      case tls_ext::kServerName:
        if (seen_sni || !parseServerName(*data, out)) return TlsParseStatus::kMalformed;
        seen_sni = true;
        break;
      case tls_ext::kAlpn:
        if (seen_alpn || !parseAlpn(*data, out)) return TlsParseStatus::kMalformed;
        seen_alpn = true;
        break;
      case tls_ext::kSupportedVersions:
        if (seen_versions || !parseSupportedVersions(*data, out)) {
          return TlsParseStatus::kMalformed;
        }
        seen_versions = true;
        break;
      case tls_ext::kEncryptedClientHello:
        // ECHClientHello starts with its type (outer 0 / inner 1); an empty one is invalid.
        if (out.has_ech || data->empty()) return TlsParseStatus::kMalformed;
        out.has_ech = true;
        out.ech_type = (*data)[0];
        break;
      case tls_ext::kEsniDraft: out.has_esni = true; break;
      default: break;
    }
  }
  if (partial) return out.has_sni ? TlsParseStatus::kComplete : TlsParseStatus::kNeedMore;
  out.extensions_complete = true;
  return TlsParseStatus::kComplete;
}

// Clears `out` but for what the record layer already filled in.
void resetKeepingRecordFields(TlsClientHello& out) noexcept {
  const uint16_t record_version = out.record_version;
  const size_t consumed = out.consumed;
  out = TlsClientHello{};
  out.record_version = record_version;
  out.consumed = consumed;
}

}  // namespace

TlsParseStatus parseClientHelloMessage(std::span<const uint8_t> message,
                                       TlsClientHello& out) noexcept {
  resetKeepingRecordFields(out);
  ByteReader m(message);
  auto type = m.u8();
  auto length = m.u24();
  if (!type || !length) return TlsParseStatus::kNeedMore;
  if (*type != kHandshakeClientHello) return TlsParseStatus::kMalformed;
  if (*length > kMaxClientHelloLength) return TlsParseStatus::kTooLarge;
  auto body = m.bytes(*length);
  if (!body) return TlsParseStatus::kNeedMore;
  out.message_length = kHandshakeHeaderSize + *length;
  return parseBody(*body, *length, out);
}

TlsParseStatus scanClientHelloPrefix(std::span<const uint8_t> message_prefix,
                                     TlsClientHello& out) noexcept {
  resetKeepingRecordFields(out);
  ByteReader m(message_prefix);
  auto type = m.u8();
  auto length = m.u24();
  if (!type || !length) return TlsParseStatus::kNeedMore;
  if (*type != kHandshakeClientHello) return TlsParseStatus::kMalformed;
  out.message_length = kHandshakeHeaderSize + *length;
  std::span<const uint8_t> body = m.rest();
  if (body.size() > *length) body = body.first(*length);
  return parseBody(body, *length, out);
}

TlsParseStatus scanTlsClientHelloPrefix(std::span<const uint8_t> stream, std::span<uint8_t> scratch,
                                        TlsClientHello& out) noexcept {
  out = TlsClientHello{};
  if (stream.empty()) return TlsParseStatus::kNeedMore;
  if (stream[0] != kContentTypeHandshake) return TlsParseStatus::kNotTls;
  size_t pos = 0;
  size_t gathered = 0;
  size_t message_total = 0;  // known once the handshake header is gathered
  while (stream.size() - pos >= kRecordHeaderSize && gathered < scratch.size() &&
         (message_total == 0 || gathered < message_total)) {
    const size_t record_len = (size_t{stream[pos + 3]} << 8) | stream[pos + 4];
    if (pos == 0) out.record_version = static_cast<uint16_t>((stream[1] << 8) | stream[2]);
    // As in parseTlsClientHello: handshake records only, none empty, none over 2^14.
    if (stream[pos] != kContentTypeHandshake) return TlsParseStatus::kMalformed;
    if (record_len == 0 || record_len > kMaxPlaintextRecord) return TlsParseStatus::kMalformed;
    const size_t available = std::min(record_len, stream.size() - pos - kRecordHeaderSize);
    const size_t take = std::min(available, scratch.size() - gathered);
    std::memcpy(scratch.data() + gathered, stream.data() + pos + kRecordHeaderSize, take);
    gathered += take;
    if (message_total == 0 && gathered >= kHandshakeHeaderSize) {
      message_total = kHandshakeHeaderSize +
                      ((size_t{scratch[1]} << 16) | (size_t{scratch[2]} << 8) | scratch[3]);
    }
    if (available < record_len) {
      pos += kRecordHeaderSize + available;
      break;
    }
    pos += kRecordHeaderSize + record_len;
  }
  out.consumed = pos;
  return scanClientHelloPrefix(scratch.first(gathered), out);
}

TlsParseStatus parseTlsClientHello(std::span<const uint8_t> stream, std::span<uint8_t> scratch,
                                   TlsClientHello& out) noexcept {
  out = TlsClientHello{};
  if (stream.empty()) return TlsParseStatus::kNeedMore;
  // Cheap early rejection on the first octet. The record version that follows is not
  // checked: RFC 8446 §5.1 has servers ignore it, and servers that do (Go, rustls) would
  // complete a handshake whose hello a version check had called "not TLS".
  if (stream[0] != kContentTypeHandshake) return TlsParseStatus::kNotTls;

  size_t pos = 0;
  size_t gathered = 0;       // handshake octets copied into scratch
  size_t message_total = 0;  // 4 + body length, once the header is known
  bool in_place = false;
  std::span<const uint8_t> in_place_message;
  for (bool first = true;; first = false) {
    if (stream.size() - pos < kRecordHeaderSize) return TlsParseStatus::kNeedMore;
    const uint8_t content_type = stream[pos];
    const uint16_t version = static_cast<uint16_t>((stream[pos + 1] << 8) | stream[pos + 2]);
    const size_t record_len = (size_t{stream[pos + 3]} << 8) | stream[pos + 4];
    if (first) out.record_version = version;
    // RFC 8446 §5.1: handshake messages are not interleaved with other record types, and
    // zero-length handshake fragments are forbidden.
    if (content_type != kContentTypeHandshake) {
      return first ? TlsParseStatus::kNotTls : TlsParseStatus::kMalformed;
    }
    if (record_len == 0 || record_len > kMaxPlaintextRecord) return TlsParseStatus::kMalformed;
    const size_t available = std::min(record_len, stream.size() - pos - kRecordHeaderSize);
    const auto fragment = stream.subspan(pos + kRecordHeaderSize, available);

    if (first && available < kHandshakeHeaderSize && available < record_len) {
      return TlsParseStatus::kNeedMore;  // not even the handshake header yet
    }
    if (first && available >= kHandshakeHeaderSize) {
      const size_t body = (size_t{fragment[1]} << 16) | (size_t{fragment[2]} << 8) | fragment[3];
      if (fragment[0] != kHandshakeClientHello) return TlsParseStatus::kMalformed;
      if (body > kMaxClientHelloLength) return TlsParseStatus::kTooLarge;
      message_total = kHandshakeHeaderSize + body;
      if (message_total <= record_len) {
        // The usual case: the whole ClientHello is in the first record; read it in place.
        if (available < message_total) return TlsParseStatus::kNeedMore;
        in_place = true;
        in_place_message = fragment.first(message_total);
        // The rest of the record (if any) may not have arrived yet.
        pos += kRecordHeaderSize + available;
        break;
      }
      if (message_total > scratch.size()) return TlsParseStatus::kTooLarge;
    }
    // Fragmented: append this record's octets (up to the message end) to scratch.
    size_t take = available;
    if (message_total != 0) take = std::min(take, message_total - gathered);
    if (take > scratch.size() - gathered) return TlsParseStatus::kTooLarge;
    std::memcpy(scratch.data() + gathered, fragment.data(), take);
    gathered += take;
    if (message_total == 0 && gathered >= kHandshakeHeaderSize) {
      // The 4-octet handshake header itself was split across records.
      const size_t body = (size_t{scratch[1]} << 16) | (size_t{scratch[2]} << 8) | scratch[3];
      if (scratch[0] != kHandshakeClientHello) return TlsParseStatus::kMalformed;
      if (body > kMaxClientHelloLength) return TlsParseStatus::kTooLarge;
      message_total = kHandshakeHeaderSize + body;
      if (message_total > scratch.size()) return TlsParseStatus::kTooLarge;
      if (gathered > message_total) gathered = message_total;
    }
    if (available < record_len) return TlsParseStatus::kNeedMore;
    pos += kRecordHeaderSize + record_len;
    if (message_total != 0 && gathered >= message_total) break;
  }
  out.consumed = pos;
  const auto message =
      in_place ? in_place_message : std::span<const uint8_t>(scratch.first(gathered));
  return parseClientHelloMessage(message, out);
}

}  // namespace safegate
