#include "filters/quic_initial.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <string>
#include <string_view>
#include <vector>

#include "tests/support/quic_seal.h"
#include "tests/support/quic_vectors.h"

namespace safegate {
namespace {

std::vector<uint8_t> hex(std::string_view s) {
  std::vector<uint8_t> out;
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return c - 'A' + 10;
  };
  for (size_t i = 0; i + 1 < s.size(); i += 2)
    out.push_back(uint8_t(nib(s[i]) << 4 | nib(s[i + 1])));
  return out;
}

// RFC 9001 Appendix A / RFC 9369 Appendix A: client DCID.
const std::vector<uint8_t> kDcid = hex("8394c8f03e515708");

// RFC 9001 A.2 (and RFC 9369 A.2): the CRYPTO frame with the ClientHello, then 917 PADDING.
std::vector<uint8_t> rfcClientPayload() {
  auto p =
      hex("060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868"
          "04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578"
          "616d706c652e636f6dff01000100000a00080006001d00170018001000070005"
          "04616c706e000500050100000000003300260024001d00209370b2c9caa47fba"
          "baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400"
          "0d0010000e0403050306030203080408050806002d00020101001c0002400100"
          "3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000"
          "75300901100f088394c8f03e51570806048000ffff");
  p.resize(p.size() + 917, 0);
  return p;
}

using ::safegate::testing::kRfc9001ClientInitial;

// RFC 9369 A.2: the same client Initial protected under QUIC v2.
const std::string_view kRfc9369ClientInitial =
    "d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485"
    "dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad04"
    "9f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d"
    "250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a"
    "12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500"
    "cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68"
    "18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff33"
    "12ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3"
    "d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd"
    "6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520"
    "bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045"
    "636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f"
    "ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c12"
    "16ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e5"
    "4df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4"
    "fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b"
    "8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de7"
    "14d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9"
    "9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91"
    "abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd"
    "80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db"
    "848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18"
    "d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15"
    "c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc"
    "7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61"
    "f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e70710"
    "10d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b"
    "3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e"
    "06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce"
    "8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1"
    "34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1"
    "e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd"
    "5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3"
    "8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89"
    "d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53"
    "6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19"
    "9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b"
    "a18b2faa745b6fe189cf772a9f84cbfc";

std::unique_ptr<QuicInitialDecryptor> makeDecryptor() {
  auto d = QuicInitialDecryptor::create();
  EXPECT_TRUE(d.isOk()) << d.status().toString();
  return std::move(d).value();
}

// The ClientHello of RFC 9001 A.2 (the CRYPTO frame's data).
std::vector<uint8_t> rfcClientHello() {
  auto p = rfcClientPayload();
  return std::vector<uint8_t>(p.begin() + 4, p.begin() + 4 + 0xf1);
}

TEST(QuicInitialTest, DerivesRfc9001ClientKeys) {
  auto d = makeDecryptor();
  QuicInitialKeys keys;
  ASSERT_EQ(d->deriveClientKeys(kQuicVersion1, kDcid, &keys), QuicStatus::kOk);
  EXPECT_EQ(std::vector<uint8_t>(keys.key.begin(), keys.key.end()),
            hex("1f369613dd76d5467730efcbe3b1a22d"));
  EXPECT_EQ(std::vector<uint8_t>(keys.iv.begin(), keys.iv.end()), hex("fa044b2f42a3fd3b46fb255c"));
  EXPECT_EQ(std::vector<uint8_t>(keys.hp.begin(), keys.hp.end()),
            hex("9f50449e04a0e810283a1e9933adedd2"));
}

TEST(QuicInitialTest, DerivesRfc9369ClientKeysWithV2SaltAndLabels) {
  auto d = makeDecryptor();
  QuicInitialKeys keys;
  ASSERT_EQ(d->deriveClientKeys(kQuicVersion2, kDcid, &keys), QuicStatus::kOk);
  EXPECT_EQ(std::vector<uint8_t>(keys.key.begin(), keys.key.end()),
            hex("8b1a0bc121284290a29e0971b5cd045d"));
  EXPECT_EQ(std::vector<uint8_t>(keys.iv.begin(), keys.iv.end()), hex("91f73e2351d8fa91660e909f"));
  EXPECT_EQ(std::vector<uint8_t>(keys.hp.begin(), keys.hp.end()),
            hex("45b95e15235d6f45a6b19cbcb0294ba9"));
}

void expectOpensRfcPacket(uint32_t version, std::string_view packet_hex) {
  auto d = makeDecryptor();
  auto packet = hex(packet_hex);
  ASSERT_EQ(packet.size(), 1200u);
  std::vector<uint8_t> scratch(2048);
  QuicInitialPacket out;
  size_t size = 0;
  ASSERT_EQ(d->openInitial(packet, {}, scratch, &out, &size), QuicStatus::kOk);
  EXPECT_EQ(size, 1200u);
  EXPECT_EQ(out.version, version);
  EXPECT_EQ(std::vector<uint8_t>(out.dcid.begin(), out.dcid.end()), kDcid);
  EXPECT_TRUE(out.scid.empty());
  EXPECT_EQ(out.packet_number, 2u);
  EXPECT_EQ(std::vector<uint8_t>(out.payload.begin(), out.payload.end()), rfcClientPayload());

  QuicCryptoAssembler assembler;
  QuicFrameSummary summary;
  ASSERT_EQ(parseInitialFrames(out.payload, assembler, &summary), QuicStatus::kOk);
  EXPECT_EQ(summary.crypto_frames, 1u);
  EXPECT_EQ(summary.padding_bytes, 917u);
  auto hello = assembler.firstHandshakeMessage();
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ(std::vector<uint8_t>(hello->begin(), hello->end()), rfcClientHello());
}

TEST(QuicInitialTest, OpensRfc9001ClientInitialByteExact) {
  expectOpensRfcPacket(kQuicVersion1, kRfc9001ClientInitial);
}

TEST(QuicInitialTest, OpensRfc9369V2ClientInitialByteExact) {
  expectOpensRfcPacket(kQuicVersion2, kRfc9369ClientInitial);
}

TEST(QuicInitialTest, RejectsPacketWithOneFlippedCiphertextBit) {
  auto d = makeDecryptor();
  auto packet = hex(kRfc9001ClientInitial);
  packet[600] ^= 0x01;
  std::vector<uint8_t> scratch(2048);
  QuicInitialPacket out;
  size_t size = 0;
  EXPECT_EQ(d->openInitial(packet, {}, scratch, &out, &size), QuicStatus::kDecryptFailed);
}

TEST(QuicInitialTest, ReportsTruncatedPacketWithoutReadingPastTheEnd) {
  auto d = makeDecryptor();
  auto packet = hex(kRfc9001ClientInitial);
  std::vector<uint8_t> scratch(2048);
  QuicInitialPacket out;
  size_t size = 0;
  for (size_t cut : {0, 1, 5, 6, 14, 17, 20, 40, 1199}) {
    std::vector<uint8_t> part(packet.begin(), packet.begin() + cut);
    EXPECT_NE(d->openInitial(part, {}, scratch, &out, &size), QuicStatus::kOk) << cut;
  }
}

TEST(QuicInitialTest, ServerInitialDoesNotOpenWithClientKeys) {
  auto d = makeDecryptor();
  // RFC 9001 A.3 server Initial: sealed with server keys, so client keys fail to authenticate.
  auto packet =
      hex("cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a"
          "5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3"
          "dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84"
          "022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc4"
          "2158407dd074ee");
  std::vector<uint8_t> scratch(2048);
  QuicInitialPacket out;
  size_t size = 0;
  EXPECT_EQ(d->openInitial(packet, {}, scratch, &out, &size), QuicStatus::kDecryptFailed);
}

TEST(QuicInitialTest, ShortHeaderAndUnknownVersionAreNotOpened) {
  auto d = makeDecryptor();
  std::vector<uint8_t> scratch(2048);
  QuicInitialPacket out;
  size_t size = 0;
  auto short_header = hex("41b01fd24a586a9cf33dec094aaec6d6b4b7a5e15f5a3f05d06cf1ad");
  EXPECT_EQ(d->openInitial(short_header, {}, scratch, &out, &size), QuicStatus::kNotLongHeader);
  auto draft29 = hex("c0ff00001d088394c8f03e515708000044");
  EXPECT_EQ(d->openInitial(draft29, {}, scratch, &out, &size), QuicStatus::kUnsupportedVersion);
  auto vn = hex("c0000000000800000000000000000800000000000000000000000001");
  EXPECT_EQ(d->openInitial(vn, {}, scratch, &out, &size), QuicStatus::kVersionNegotiation);
  EXPECT_FALSE(looksLikeQuicInitial(short_header));
  EXPECT_TRUE(looksLikeQuicInitial(hex(kRfc9001ClientInitial)));
  EXPECT_TRUE(looksLikeQuicInitial(hex(kRfc9369ClientInitial)));
}

TEST(QuicInitialTest, RejectsStreamFrameInInitial) {
  QuicCryptoAssembler a;
  auto stream = hex("0800036162630000");  // STREAM frame: never allowed in an Initial
  EXPECT_EQ(parseInitialFrames(stream, a), QuicStatus::kForbiddenFrame);
  auto ack = hex("020a00010203");  // ACK largest 10, delay 0, 1 range: first 2, gap 3 len ?
  EXPECT_EQ(parseInitialFrames(ack, a), QuicStatus::kTruncated);
  auto ack_ok = hex("030a0001020304050607");  // ACK_ECN, 1 extra range + 3 ECN counts
  QuicFrameSummary s;
  EXPECT_EQ(parseInitialFrames(ack_ok, a, &s), QuicStatus::kOk);
  EXPECT_EQ(s.ack_frames, 1u);
  auto close = hex("1c0a0003616263");  // CONNECTION_CLOSE with reason "abc"
  EXPECT_EQ(parseInitialFrames(close, a, &s), QuicStatus::kOk);
  EXPECT_TRUE(s.connection_close);
}

TEST(QuicCryptoAssemblerTest, AssemblesOutOfOrderFragmentsIntoTheClientHello) {
  auto hello = rfcClientHello();
  QuicCryptoAssembler a;
  std::span<const uint8_t> h(hello);
  EXPECT_EQ(a.add(200, h.subspan(200)), QuicStatus::kOk);
  EXPECT_EQ(a.add(50, h.subspan(50, 100)), QuicStatus::kOk);
  EXPECT_FALSE(a.firstHandshakeMessage().has_value());
  EXPECT_EQ(a.rangeCount(), 2u);
  EXPECT_EQ(a.add(0, h.subspan(0, 60)), QuicStatus::kOk);  // overlaps, same bytes
  EXPECT_FALSE(a.firstHandshakeMessage().has_value());     // 150..200 missing
  EXPECT_EQ(a.add(140, h.subspan(140, 70)), QuicStatus::kOk);
  auto m = a.firstHandshakeMessage();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(std::vector<uint8_t>(m->begin(), m->end()), hello);
  EXPECT_EQ(a.rangeCount(), 1u);
}

TEST(QuicCryptoAssemblerTest, RejectsRetransmissionWithDifferentBytes) {
  auto hello = rfcClientHello();
  QuicCryptoAssembler a;
  ASSERT_EQ(a.add(0, std::span<const uint8_t>(hello).subspan(0, 100)), QuicStatus::kOk);
  std::vector<uint8_t> forged(hello.begin() + 50, hello.begin() + 80);
  forged[10] ^= 0xff;
  EXPECT_EQ(a.add(50, forged), QuicStatus::kCryptoConflict);
}

TEST(QuicCryptoAssemblerTest, EnforcesByteCapAndRangeCount) {
  QuicCryptoAssembler a;
  std::vector<uint8_t> one = {1};
  EXPECT_EQ(a.add(QuicCryptoAssembler::kCapacity, one), QuicStatus::kCryptoOverflow);
  EXPECT_EQ(a.add(uint64_t{1} << 61, one), QuicStatus::kCryptoOverflow);
  for (size_t i = 0; i < QuicCryptoAssembler::kMaxRanges; ++i) {
    ASSERT_EQ(a.add(i * 4 + 10, one), QuicStatus::kOk);
  }
  EXPECT_EQ(a.add(2000, one), QuicStatus::kTooFragmented);
  // A handshake message announcing 1 MiB can never complete.
  QuicCryptoAssembler b;
  auto big = hex("01100000");
  ASSERT_EQ(b.add(0, big), QuicStatus::kOk);
  EXPECT_TRUE(b.exceedsCapacity());
  EXPECT_FALSE(b.firstHandshakeMessage().has_value());
}

TEST(QuicInitialInspectorTest, GathersClientHelloFromThreeInitialsArrivingOutOfOrder) {
  auto inspector = QuicInitialInspector::create();
  ASSERT_TRUE(inspector.isOk());
  auto& d = (*inspector)->decryptor();
  auto hello = rfcClientHello();
  std::span<const uint8_t> h(hello);
  auto p0 = sealInitial(d, kQuicVersion1, kDcid, 0, cryptoFrame(0, h.subspan(0, 80)));
  auto p1 = sealInitial(d, kQuicVersion1, kDcid, 1, cryptoFrame(80, h.subspan(80, 80)));
  auto p2 = sealInitial(d, kQuicVersion1, kDcid, 2, cryptoFrame(160, h.subspan(160)));
  QuicFlowState flow;
  auto r = (*inspector)->feed(p2, flow);
  EXPECT_EQ(r.status, QuicStatus::kOk);
  EXPECT_EQ(r.initials_opened, 1u);
  EXPECT_FALSE(r.client_hello_complete);
  r = (*inspector)->feed(p0, flow);
  EXPECT_FALSE(r.client_hello_complete);
  r = (*inspector)->feed(p1, flow);
  EXPECT_TRUE(r.client_hello_complete);
  auto m = flow.crypto.firstHandshakeMessage();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(std::vector<uint8_t>(m->begin(), m->end()), hello);
  EXPECT_EQ(flow.initials_opened, 3u);
}

TEST(QuicInitialInspectorTest, LaterInitialWithNewDcidOpensWithOriginalKeys) {
  auto inspector = QuicInitialInspector::create();
  ASSERT_TRUE(inspector.isOk());
  auto& d = (*inspector)->decryptor();
  auto hello = rfcClientHello();
  std::span<const uint8_t> h(hello);
  // The second Initial is addressed to the server's chosen ID but still sealed with keys from
  // the original DCID (RFC 9001 §5.2).
  auto p0 = sealInitial(d, kQuicVersion2, kDcid, 0, cryptoFrame(0, h.subspan(0, 100)));
  QuicFlowState flow;
  auto r = (*inspector)->feed(p0, flow);
  ASSERT_EQ(r.initials_opened, 1u);
  EXPECT_EQ(flow.version, kQuicVersion2);
  EXPECT_EQ(std::vector<uint8_t>(flow.keyDcid().begin(), flow.keyDcid().end()), kDcid);
  auto p1 = sealInitial(d, kQuicVersion2, kDcid, 1, cryptoFrame(100, h.subspan(100)),
                        hex("a1a2a3a4a5a6a7a8a9"));
  r = (*inspector)->feed(p1, flow);
  EXPECT_EQ(r.status, QuicStatus::kOk);
  EXPECT_TRUE(r.client_hello_complete);
}

TEST(QuicInitialInspectorTest, SkipsCoalescedHandshakePacketAndReadsBothInitials) {
  auto inspector = QuicInitialInspector::create();
  ASSERT_TRUE(inspector.isOk());
  auto& d = (*inspector)->decryptor();
  auto hello = rfcClientHello();
  std::span<const uint8_t> h(hello);
  auto p0 = sealInitial(d, kQuicVersion1, kDcid, 0, cryptoFrame(0, h.subspan(0, 100)));
  auto p1 = sealInitial(d, kQuicVersion1, kDcid, 1, cryptoFrame(100, h.subspan(100)));
  // A Handshake packet (type 2) with a 20-byte opaque body, between the two Initials.
  auto hs = hex("e000000001088394c8f03e5157080014");
  hs.resize(hs.size() + 20, 0xaa);
  std::vector<uint8_t> datagram = p0;
  datagram.insert(datagram.end(), hs.begin(), hs.end());
  datagram.insert(datagram.end(), p1.begin(), p1.end());
  datagram.resize(datagram.size() + 300, 0);  // trailing zero padding
  QuicFlowState flow;
  auto r = (*inspector)->feed(datagram, flow);
  EXPECT_EQ(r.status, QuicStatus::kOk);
  EXPECT_EQ(r.initials_opened, 2u);
  EXPECT_TRUE(r.client_hello_complete);
}

}  // namespace
}  // namespace safegate
