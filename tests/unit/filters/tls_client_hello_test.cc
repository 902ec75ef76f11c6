#include "filters/tls_client_hello.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "filters/quic_initial.h"

namespace safegate {
namespace {

using Bytes = std::vector<uint8_t>;

void put16(Bytes& b, size_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put24(Bytes& b, size_t v) {
  b.push_back(static_cast<uint8_t>(v >> 16));
  put16(b, v);
}
void append(Bytes& b, const Bytes& more) { b.insert(b.end(), more.begin(), more.end()); }
void appendText(Bytes& b, std::string_view s) { b.insert(b.end(), s.begin(), s.end()); }

Bytes extension(uint16_t type, const Bytes& data) {
  Bytes e;
  put16(e, type);
  put16(e, data.size());
  append(e, data);
  return e;
}

Bytes sniExtension(std::string_view name) {
  Bytes entry = {0};
  put16(entry, name.size());
  appendText(entry, name);
  Bytes list;
  put16(list, entry.size());
  append(list, entry);
  return extension(tls_ext::kServerName, list);
}

Bytes alpnExtension(std::initializer_list<std::string_view> protocols) {
  Bytes names;
  for (auto p : protocols) {
    names.push_back(static_cast<uint8_t>(p.size()));
    appendText(names, p);
  }
  Bytes list;
  put16(list, names.size());
  append(list, names);
  return extension(tls_ext::kAlpn, list);
}

// A TLS 1.3 ClientHello as a browser with post-quantum key agreement sends it: supported
// versions, an X25519MLKEM768 key share (0x11ec, 1184 + 32 octets) plus X25519, and
// whatever `extra` extensions (SNI, ALPN, ECH) are given. Returns the handshake message.
Bytes clientHelloMessage(const Bytes& extra_extensions, bool post_quantum = true) {
  Bytes body;
  put16(body, 0x0303);
  body.insert(body.end(), 32, 0x5a);  // random
  body.push_back(32);
  body.insert(body.end(), 32, 0x11);  // legacy session id
  put16(body, 6);
  append(body, {0x13, 0x01, 0x13, 0x02, 0x13, 0x03});
  append(body, {1, 0});  // compression: null
  Bytes exts;
  append(exts, extension(tls_ext::kSupportedVersions, {4, 0x03, 0x04, 0x03, 0x03}));
  Bytes shares;
  if (post_quantum) {
    put16(shares, 0x11ec);
    put16(shares, 1216);
    shares.insert(shares.end(), 1216, 0x42);
  }
  put16(shares, 0x001d);
  put16(shares, 32);
  shares.insert(shares.end(), 32, 0x24);
  Bytes ks;
  put16(ks, shares.size());
  append(ks, shares);
  append(exts, extension(51, ks));  // key_share
  append(exts, extra_extensions);
  put16(body, exts.size());
  append(body, exts);
  Bytes msg = {1};
  put24(msg, body.size());
  append(msg, body);
  return msg;
}

// Wraps a handshake message in TLS records of at most `fragment` octets each.
Bytes records(const Bytes& message, size_t fragment = 16384) {
  Bytes out;
  for (size_t off = 0; off < message.size(); off += fragment) {
    const size_t n = std::min(fragment, message.size() - off);
    append(out, {22, 3, 1});
    put16(out, n);
    out.insert(out.end(), message.begin() + off, message.begin() + off + n);
  }
  return out;
}

// SNI, ALPN and a padding extension (RFC 7685) as browsers add, for a ~1.9 KB hello.
Bytes standardExtensions() {
  Bytes e = sniExtension("www.example.com");
  append(e, alpnExtension({"h2", "http/1.1"}));
  append(e, extension(21, Bytes(500, 0)));
  return e;
}

TEST(TlsClientHelloTest, ReadsSniAlpnAndVersionFromOneRecord) {
  Bytes stream = records(clientHelloMessage(standardExtensions()));
  std::array<uint8_t, kMaxClientHelloLength> scratch;
  TlsClientHello ch;
  ASSERT_EQ(parseTlsClientHello(stream, scratch, ch), TlsParseStatus::kComplete);
  EXPECT_TRUE(ch.has_sni);
  EXPECT_EQ(ch.sni, "www.example.com");
  ASSERT_EQ(ch.alpn_count, 2);
  EXPECT_EQ(ch.alpn[0], "h2");
  EXPECT_EQ(ch.alpn[1], "http/1.1");
  EXPECT_TRUE(ch.offers_tls13);
  EXPECT_FALSE(ch.has_ech);
  EXPECT_EQ(ch.record_version, 0x0301);
  EXPECT_EQ(ch.legacy_version, 0x0303);
  EXPECT_EQ(ch.consumed, stream.size());
  EXPECT_GT(ch.message_length, 1500u);  // larger than one Ethernet packet
  // Read in place: the SNI view points into the stream, not into scratch.
  EXPECT_GE(reinterpret_cast<const uint8_t*>(ch.sni.data()), stream.data());
  EXPECT_LT(reinterpret_cast<const uint8_t*>(ch.sni.data()), stream.data() + stream.size());
}

TEST(TlsClientHelloTest, JoinsClientHelloFragmentedOverManyRecords) {
  Bytes msg = clientHelloMessage(standardExtensions());
  for (size_t fragment : {1u, 2u, 3u, 5u, 100u, 1000u}) {
    Bytes stream = records(msg, fragment);
    std::array<uint8_t, kMaxClientHelloLength> scratch;
    TlsClientHello ch;
    ASSERT_EQ(parseTlsClientHello(stream, scratch, ch), TlsParseStatus::kComplete) << fragment;
    EXPECT_EQ(ch.sni, "www.example.com") << fragment;
    EXPECT_EQ(ch.alpn_count, 2) << fragment;
    EXPECT_EQ(ch.consumed, stream.size());
  }
}

TEST(TlsClientHelloTest, EveryPrefixOfAValidStreamNeedsMore) {
  Bytes stream = records(clientHelloMessage(standardExtensions()), 700);
  std::array<uint8_t, kMaxClientHelloLength> scratch;
  for (size_t n = 0; n < stream.size(); ++n) {
    TlsClientHello ch;
    ASSERT_EQ(parseTlsClientHello({stream.data(), n}, scratch, ch), TlsParseStatus::kNeedMore) << n;
  }
}

TEST(TlsClientHelloTest, PostQuantumHelloSplitInTinySegmentsIsReassembled) {
  Bytes stream = records(clientHelloMessage(standardExtensions()));
  // The inline inspector's TCP reassembly: the CRYPTO-stream assembler at offset
  // seq - (ISN + 1), the distance taken in serial arithmetic.
  QuicCryptoAssembler flow;
  const uint32_t isn = 0xFFFFFF00;  // wraps during the stream
  std::array<uint8_t, kMaxClientHelloLength> scratch;
  TlsClientHello ch;
  TlsParseStatus status = TlsParseStatus::kNeedMore;
  size_t segments = 0;
  for (size_t off = 0; off < stream.size(); off += 7, ++segments) {
    const size_t n = std::min<size_t>(7, stream.size() - off);
    const uint32_t seq = isn + 1 + static_cast<uint32_t>(off);
    const uint32_t offset = seq - (isn + 1);
    ASSERT_EQ(flow.add(offset, {stream.data() + off, n}), QuicStatus::kOk);
    ASSERT_EQ(flow.contiguousBytes(), off + n);
    status = parseTlsClientHello(flow.contiguous(), scratch, ch);
    if (off + n < stream.size()) {
      ASSERT_EQ(status, TlsParseStatus::kNeedMore) << off;
    }
  }
  EXPECT_GT(segments, 200u);
  ASSERT_EQ(status, TlsParseStatus::kComplete);
  EXPECT_EQ(ch.sni, "www.example.com");
}

TEST(TlsClientHelloTest, ReportsEchAndItsType) {
  Bytes e = sniExtension("public.example");
  append(e, extension(tls_ext::kEncryptedClientHello, {0, 0, 1, 0, 1, 7}));
  Bytes stream = records(clientHelloMessage(e));
  std::array<uint8_t, 16384> scratch;
  TlsClientHello ch;
  ASSERT_EQ(parseTlsClientHello(stream, scratch, ch), TlsParseStatus::kComplete);
  EXPECT_TRUE(ch.has_ech);
  EXPECT_EQ(ch.ech_type, 0);
  EXPECT_EQ(ch.sni, "public.example");
}

TEST(TlsClientHelloTest, HelloWithoutSniHasNoName) {
  Bytes stream = records(clientHelloMessage(alpnExtension({"h2"}), false));
  std::array<uint8_t, 16384> scratch;
  TlsClientHello ch;
  ASSERT_EQ(parseTlsClientHello(stream, scratch, ch), TlsParseStatus::kComplete);
  EXPECT_FALSE(ch.has_sni);
  EXPECT_TRUE(ch.sni.empty());
}

TEST(TlsClientHelloTest, HelloWithoutAnyExtensionsIsComplete) {
  Bytes body;
  put16(body, 0x0301);
  body.insert(body.end(), 32, 1);
  body.push_back(0);
  put16(body, 2);
  append(body, {0x00, 0x2f});
  append(body, {1, 0});
  Bytes msg = {1};
  put24(msg, body.size());
  append(msg, body);
  TlsClientHello ch;
  ASSERT_EQ(parseClientHelloMessage(msg, ch), TlsParseStatus::kComplete);
  EXPECT_FALSE(ch.has_sni);
  EXPECT_EQ(ch.extension_count, 0);
}

TEST(TlsClientHelloTest, TwoHostNamesAreMalformed) {
  Bytes entry = {0, 0, 5, 'a', '.', 'c', 'o', 'm', 0, 0, 5, 'b', '.', 'c', 'o', 'm'};
  Bytes list;
  put16(list, entry.size());
  append(list, entry);
  Bytes stream = records(clientHelloMessage(extension(tls_ext::kServerName, list)));
  std::array<uint8_t, 16384> scratch;
  TlsClientHello ch;
  EXPECT_EQ(parseTlsClientHello(stream, scratch, ch), TlsParseStatus::kMalformed);
}

TEST(TlsClientHelloTest, DuplicateServerNameExtensionIsMalformed) {
  Bytes e = sniExtension("a.example");
  append(e, sniExtension("b.example"));
  std::array<uint8_t, 16384> scratch;
  TlsClientHello ch;
  EXPECT_EQ(parseTlsClientHello(records(clientHelloMessage(e)), scratch, ch),
            TlsParseStatus::kMalformed);
}

TEST(TlsClientHelloTest, SniWithControlOrSpaceIsMalformed) {
  for (std::string_view bad : {std::string_view("a b.example"), std::string_view("a\0b", 3),
                               std::string_view("caf\xc3\xa9.example")}) {
    std::array<uint8_t, 16384> scratch;
    TlsClientHello ch;
    EXPECT_EQ(parseTlsClientHello(records(clientHelloMessage(sniExtension(bad))), scratch, ch),
              TlsParseStatus::kMalformed);
  }
}

TEST(TlsClientHelloTest, BadLengthsAreMalformed) {
  std::array<uint8_t, 16384> scratch;
  TlsClientHello ch;
  // SNI list length one more than the data.
  Bytes sni = sniExtension("a.example");
  sni[5] += 1;
  EXPECT_EQ(parseTlsClientHello(records(clientHelloMessage(sni)), scratch, ch),
            TlsParseStatus::kMalformed);
  // Empty ALPN protocol name.
  EXPECT_EQ(parseTlsClientHello(records(clientHelloMessage(alpnExtension({""}))), scratch, ch),
            TlsParseStatus::kMalformed);
  // Extensions block length disagreeing with the message length.
  Bytes msg = clientHelloMessage(standardExtensions());
  msg.push_back(0);
  msg[3] += 1;  // body one octet longer, extensions length unchanged
  EXPECT_EQ(parseClientHelloMessage(msg, ch), TlsParseStatus::kMalformed);
  // Session id longer than 32.
  Bytes m2 = clientHelloMessage({});
  m2[4 + 2 + 32] = 33;
  EXPECT_EQ(parseClientHelloMessage(m2, ch), TlsParseStatus::kMalformed);
  // Empty ECH extension.
  EXPECT_EQ(
      parseTlsClientHello(
          records(clientHelloMessage(extension(tls_ext::kEncryptedClientHello, {}))), scratch, ch),
      TlsParseStatus::kMalformed);
}

TEST(TlsClientHelloTest, ZeroLengthHandshakeRecordIsMalformed) {
  Bytes stream = {22, 3, 1, 0, 0};
  append(stream, records(clientHelloMessage(standardExtensions())));
  std::array<uint8_t, 16384> scratch;
  TlsClientHello ch;
  EXPECT_EQ(parseTlsClientHello(stream, scratch, ch), TlsParseStatus::kMalformed);
}

TEST(TlsClientHelloTest, OtherRecordInsideFragmentedHelloIsMalformed) {
  Bytes msg = clientHelloMessage(standardExtensions());
  Bytes stream = records(Bytes(msg.begin(), msg.begin() + 100));
  append(stream, {21, 3, 3, 0, 2, 1, 0});  // an alert record
  std::array<uint8_t, 16384> scratch;
  TlsClientHello ch;
  EXPECT_EQ(parseTlsClientHello(stream, scratch, ch), TlsParseStatus::kMalformed);
}

TEST(TlsClientHelloTest, NonHandshakeStartIsNotTls) {
  std::array<uint8_t, 16384> scratch;
  TlsClientHello ch;
  const std::string http = "GET / HTTP/1.1\r\n";
  EXPECT_EQ(parseTlsClientHello({reinterpret_cast<const uint8_t*>(http.data()), http.size()},
                                scratch, ch),
            TlsParseStatus::kNotTls);
  Bytes sslv2 = {0x80, 0x2e, 0x01, 0x00, 0x02};
  EXPECT_EQ(parseTlsClientHello(sslv2, scratch, ch), TlsParseStatus::kNotTls);
}

// RFC 8446 §5.1: legacy_record_version "MUST be ignored for all purposes";
// servers that follow it (Go, rustls) complete the handshake, so the hello must be read.
TEST(TlsClientHelloTest, RecordVersionIsIgnoredAsServersIgnoreIt) {
  std::array<uint8_t, kMaxClientHelloLength> scratch;
  for (uint16_t version : {0x0305, 0x037f, 0x7f01, 0x0000, 0x0a0a}) {
    Bytes stream = records(clientHelloMessage(standardExtensions()), 1000);
    for (size_t pos = 0; pos < stream.size();
         pos += 5 + ((stream[pos + 3] << 8) | stream[pos + 4])) {
      stream[pos + 1] = static_cast<uint8_t>(version >> 8);  // every record of the hello
      stream[pos + 2] = static_cast<uint8_t>(version);
    }
    TlsClientHello ch;
    ASSERT_EQ(parseTlsClientHello(stream, scratch, ch), TlsParseStatus::kComplete) << version;
    EXPECT_EQ(ch.sni, "www.example.com");
    EXPECT_EQ(ch.record_version, version);
  }
}

// A ClientHello over 16 KiB (a padding extension), spread over records: servers accept it
// (OpenSSL up to 128 KiB), so its SNI is read from the prefix that fits.
TEST(TlsClientHelloTest, OversizeHelloShowsItsSniFromThePrefix) {
  Bytes sni_first = sniExtension("www.casino.example");
  append(sni_first, extension(21, Bytes(30000, 0)));
  Bytes stream = records(clientHelloMessage(sni_first));
  std::array<uint8_t, kMaxClientHelloLength> scratch;
  TlsClientHello ch;
  EXPECT_EQ(parseTlsClientHello(stream, scratch, ch), TlsParseStatus::kTooLarge);
  const auto window = std::span<const uint8_t>(stream).first(16384);
  ASSERT_EQ(scanTlsClientHelloPrefix(window, scratch, ch), TlsParseStatus::kComplete);
  EXPECT_TRUE(ch.has_sni);
  EXPECT_EQ(ch.sni, "www.casino.example");
  EXPECT_FALSE(ch.extensions_complete);
  // Only the first bytes so far (the SNI is not in them yet): wait.
  EXPECT_EQ(scanTlsClientHelloPrefix(std::span<const uint8_t>(stream).first(600), scratch, ch),
            TlsParseStatus::kNeedMore);
  // SNI after the padding: never in the window.
  Bytes sni_last = extension(21, Bytes(30000, 0));
  append(sni_last, sniExtension("www.casino.example"));
  Bytes late = records(clientHelloMessage(sni_last));
  EXPECT_EQ(scanTlsClientHelloPrefix(std::span<const uint8_t>(late).first(16384), scratch, ch),
            TlsParseStatus::kNeedMore);
  EXPECT_FALSE(ch.has_sni);
  // What is there must still be valid: a bad server_name in the prefix is malformed.
  Bytes bad = extension(tls_ext::kServerName, {0, 3, 0, 0, 0});
  append(bad, extension(21, Bytes(30000, 0)));
  Bytes broken = records(clientHelloMessage(bad));
  EXPECT_EQ(scanTlsClientHelloPrefix(std::span<const uint8_t>(broken).first(16384), scratch, ch),
            TlsParseStatus::kMalformed);
  // A whole hello scans like a parse.
  Bytes whole = records(clientHelloMessage(standardExtensions()));
  ASSERT_EQ(scanTlsClientHelloPrefix(whole, scratch, ch), TlsParseStatus::kComplete);
  EXPECT_TRUE(ch.extensions_complete);
}

TEST(TlsClientHelloTest, ServerHelloIsNotAClientHello) {
  Bytes msg = clientHelloMessage(standardExtensions());
  msg[0] = 2;
  std::array<uint8_t, 16384> scratch;
  TlsClientHello ch;
  EXPECT_EQ(parseTlsClientHello(records(msg), scratch, ch), TlsParseStatus::kMalformed);
}

TEST(TlsClientHelloTest, HelloLargerThanScratchIsTooLarge) {
  Bytes stream = records(clientHelloMessage(standardExtensions()), 512);
  std::array<uint8_t, 1024> scratch;
  TlsClientHello ch;
  EXPECT_EQ(parseTlsClientHello(stream, scratch, ch), TlsParseStatus::kTooLarge);
  // In one record no scratch is needed at all.
  EXPECT_EQ(parseTlsClientHello(records(clientHelloMessage(standardExtensions())), {}, ch),
            TlsParseStatus::kComplete);
}

TEST(TlsClientHelloTest, AnnouncedLengthBeyondCapIsTooLarge) {
  Bytes stream = {22, 3, 1, 0x40, 0x00, 1, 0x01, 0x00, 0x00};
  std::array<uint8_t, 16384> scratch;
  TlsClientHello ch;
  EXPECT_EQ(parseTlsClientHello(stream, scratch, ch), TlsParseStatus::kTooLarge);
}

TEST(TlsClientHelloTest, KeepsFirstAlpnProtocolsWhenThereAreMany) {
  Bytes stream = records(
      clientHelloMessage(alpnExtension({"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"})));
  std::array<uint8_t, 16384> scratch;
  TlsClientHello ch;
  ASSERT_EQ(parseTlsClientHello(stream, scratch, ch), TlsParseStatus::kComplete);
  EXPECT_EQ(ch.alpn_count, kMaxAlpnProtocols);
  EXPECT_TRUE(ch.alpn_truncated);
  EXPECT_EQ(ch.alpnProtocols().back(), "h");
}

TEST(TlsClientHelloTest, BareMessageAsQuicCarriesIt) {
  Bytes msg = clientHelloMessage(standardExtensions());
  TlsClientHello ch;
  ASSERT_EQ(parseClientHelloMessage(msg, ch), TlsParseStatus::kComplete);
  EXPECT_EQ(ch.sni, "www.example.com");
  EXPECT_EQ(ch.record_version, 0);
  EXPECT_GT(ch.message_length, 1500u);
  EXPECT_EQ(parseClientHelloMessage({msg.data(), msg.size() - 1}, ch), TlsParseStatus::kNeedMore);
}

TEST(TlsClientHelloTest, StatusNames) {
  EXPECT_EQ(tlsParseStatusName(TlsParseStatus::kTooLarge), "too-large");
  EXPECT_EQ(tlsParseStatusName(TlsParseStatus::kNotTls), "not-tls");
}

}  // namespace
}  // namespace safegate
