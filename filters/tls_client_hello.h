// TLS ClientHello parser: the server name (SNI), the ALPN protocols and whether Encrypted
// Client Hello is offered, from the first bytes a client sends on a TLS connection (TCP) or
// from the ClientHello a QUIC Initial carries (filters/quic_initial.h hands over the message).
//
// Provides:
//   - parseTlsClientHello(): the client's TCP stream from its first octet (one segment, or
//     what a QuicCryptoAssembler gathered). Reads TLS records (RFC 8446 §5.1) and
//     joins a ClientHello fragmented over several handshake records into a caller scratch
//     buffer; a ClientHello in one record (the usual case) is read in place.
//   - parseClientHelloMessage(): one complete handshake message (type, u24 length, body), as
//     QUIC CRYPTO frames carry it (RFC 9001 §4).
//   - scanTlsClientHelloPrefix() / scanClientHelloPrefix(): the server name of a ClientHello
//     of which only the first octets are at hand — one longer than any buffer safegate keeps
//     (a padding extension; servers accept ClientHellos far beyond 16 KiB, OpenSSL up to
//     128 KiB, spread over records), or one that never completed.
//
// The record layer's legacy_record_version is ignored, as RFC 8446 §5.1 requires of servers
// ("MUST be ignored for all purposes"): Go's and rustls' servers accept any value, so a
// hello with a record version of 0x0305 or 0x7f01 is still read and decided.
//
// Lengths are checked strictly: every vector must fit exactly in its parent, extensions must
// fill the extensions block, and the extensions safegate decides on (server_name, ALPN, ECH)
// must be well-formed and appear once (RFC 8446 §4.2) — a ClientHello a server could read in
// two ways is kMalformed, never an "allow" on the first reading. What safegate cannot see:
// with ECH (draft-ietf-tls-esni, extension 0xfe0d) the real server name is in the encrypted
// inner ClientHello; `sni` is then the outer (public) name. GREASE ECH looks the same as real
// ECH on the wire.
//
// Data plane: noexcept, no allocation. Views in TlsClientHello point into the input or into
// the scratch buffer and live as long as those. Stateless, thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace safegate {

enum class TlsParseStatus : uint8_t {
  kComplete,   // a whole ClientHello was parsed
  kNeedMore,   // a TLS handshake so far; wait for more bytes
  kNotTls,     // not a TLS handshake record (other protocol, or SSLv2-style hello)
  kMalformed,  // TLS, but lengths or the extensions safegate reads are invalid
  kTooLarge,   // the ClientHello is longer than the scratch buffer / kMaxClientHelloLength
};
std::string_view tlsParseStatusName(TlsParseStatus s);

// Largest ClientHello accepted. A post-quantum hello (X25519MLKEM768 key share, ~1.2 KB of
// key) with ECH and padding is under 3 KB; 16 KiB leaves ample room and matches one record.
inline constexpr size_t kMaxClientHelloLength = 16384;
inline constexpr size_t kMaxAlpnProtocols = 8;

namespace tls_ext {
inline constexpr uint16_t kServerName = 0, kAlpn = 16, kSupportedVersions = 43,
                          kEncryptedClientHello = 0xfe0d, kEsniDraft = 0xffce;
}

struct TlsClientHello {
  uint16_t record_version = 0;  // version field of the first record (0 for a bare message)
  uint16_t legacy_version = 0;  // client_version / legacy_version (0x0303 for TLS 1.2+)
  std::string_view sni;         // host_name of server_name, as sent; empty when absent
  bool has_sni = false;
  std::array<std::string_view, kMaxAlpnProtocols> alpn{};
  uint8_t alpn_count = 0;            // protocols stored in alpn
  bool alpn_truncated = false;       // the client offered more than kMaxAlpnProtocols
  bool has_ech = false;              // encrypted_client_hello (0xfe0d)
  uint8_t ech_type = 0xff;           // ECHClientHelloType: 0 outer, 1 inner; 0xff when absent
  bool has_esni = false;             // the obsolete draft ESNI extension (0xffce)
  bool offers_tls13 = false;         // supported_versions lists 0x0304
  bool extensions_complete = false;  // every extension was read (false for a prefix scan
                                     // that stopped early)
  uint16_t extension_count = 0;
  size_t message_length = 0;  // handshake message length, header included
  size_t consumed = 0;        // stream octets read: to the end of the last record used (or of
                              // what has arrived of it)

  std::span<const std::string_view> alpnProtocols() const { return {alpn.data(), alpn_count}; }
};

// Parses the ClientHello at the start of a TLS client stream. `scratch` receives the
// handshake message when it spans several records (it must hold message_length octets; a
// 16 KiB scratch covers every accepted hello); it is unused otherwise.
TlsParseStatus parseTlsClientHello(std::span<const uint8_t> stream, std::span<uint8_t> scratch,
                                   TlsClientHello& out) noexcept;

// Parses one complete handshake message that must be a ClientHello (type 1). kNeedMore if the
// message is shorter than its header announces.
TlsParseStatus parseClientHelloMessage(std::span<const uint8_t> message,
                                       TlsClientHello& out) noexcept;

// Reads the first octets of a ClientHello handshake message (type, u24 length, body so far)
// as far as they go, with the same checks as parseClientHelloMessage() on what is there.
// kComplete once server_name has been read whole (has_sni) or the whole message was read
// (extensions_complete); kNeedMore when the prefix ends before either; kMalformed /
// kNotTls as for a whole message. Extensions after the prefix are unknown: a duplicate
// server_name there would make a server reject the hello, so the first one is the name.
TlsParseStatus scanClientHelloPrefix(std::span<const uint8_t> message_prefix,
                                     TlsClientHello& out) noexcept;

// The same for a TLS client stream: joins the handshake octets of its records (the last may
// be partial) into `scratch` up to its size, then scans them.
TlsParseStatus scanTlsClientHelloPrefix(std::span<const uint8_t> stream, std::span<uint8_t> scratch,
                                        TlsClientHello& out) noexcept;

}  // namespace safegate
