// InlineInspector with a real compiled policy (TOML + list file in a temp dir) and crafted
// packets: what each protocol path decides, which packets it forges, what it counts.
#include "daemon/inline_inspector.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon/compiled_policy.h"
#include "filters/forged_packet.h"
#include "policy/policy_engine.h"
#include "tests/support/shared_data.h"

namespace safegate {
namespace {

using testing::TempDir;

constexpr int64_t kUnixMs = 1'700'000'000'000;

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

class RecordingInjector : public PacketInjector {
 public:
  bool inject(std::span<const uint8_t> p) noexcept override {
    packets.emplace_back(p.begin(), p.end());
    return true;
  }
  std::vector<std::vector<uint8_t>> packets;
};

std::vector<uint8_t> hex(std::string_view s) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < s.size(); i += 2)
    out.push_back(uint8_t(std::stoi(std::string(s.substr(i, 2)), nullptr, 16)));
  return out;
}

// A minimal TLS 1.3 ClientHello record with the given SNI (and an ECH extension if asked).
std::vector<uint8_t> clientHello(std::string_view sni, bool ech = false) {
  std::vector<uint8_t> ext;
  auto u16 = [](std::vector<uint8_t>& v, size_t x) {
    v.push_back(uint8_t(x >> 8));
    v.push_back(uint8_t(x));
  };
  if (!sni.empty()) {
    u16(ext, 0);
    u16(ext, sni.size() + 5);
    u16(ext, sni.size() + 3);
    ext.push_back(0);
    u16(ext, sni.size());
    ext.insert(ext.end(), sni.begin(), sni.end());
  }
  if (ech) {
    u16(ext, 0xfe0d);
    std::vector<uint8_t> body = {0x00, 0x00, 0x01, 0x00, 0x01, 0x07, 0x00, 0x00, 0x00, 0x00};
    u16(ext, body.size());
    ext.insert(ext.end(), body.begin(), body.end());
  }
  std::vector<uint8_t> hs = {0x03, 0x03};
  hs.resize(2 + 32, 0x11);
  hs.push_back(0);  // session id
  u16(hs, 2);
  u16(hs, 0x1301);
  hs.push_back(1);
  hs.push_back(0);
  u16(hs, ext.size());
  hs.insert(hs.end(), ext.begin(), ext.end());
  std::vector<uint8_t> msg = {0x01, 0, uint8_t(hs.size() >> 8), uint8_t(hs.size())};
  msg.insert(msg.end(), hs.begin(), hs.end());
  std::vector<uint8_t> rec = {0x16, 0x03, 0x01};
  u16(rec, msg.size());
  rec.insert(rec.end(), msg.begin(), msg.end());
  return rec;
}

struct Packet {
  std::vector<uint8_t> bytes;
};

std::vector<uint8_t> tcp(const char* src, const char* dst, uint16_t sport, uint16_t dport,
                         uint32_t seq, uint32_t ack, uint8_t flags,
                         std::span<const uint8_t> payload = {}) {
  std::vector<uint8_t> out(70000);
  TcpSegmentSpec s{ip(src), ip(dst), sport, dport, seq, ack, flags, 65535};
  out.resize(buildTcpPacket(s, payload, out));
  return out;
}

std::vector<uint8_t> udp(const char* src, const char* dst, uint16_t sport, uint16_t dport,
                         std::span<const uint8_t> payload) {
  std::vector<uint8_t> out(70000);
  out.resize(buildUdpPacket(ip(src), ip(dst), sport, dport, payload, out));
  return out;
}

class InlineInspectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("gambling.txt", "casino.example\nbet.example\nexample.com\n");
    dir_.write("safegate.toml", R"(
[policy]
default_group = "kids"

[[lists]]
name = "gambling"
category = "gambling"
sources = ["gambling.txt"]

[[groups]]
name = "kids"
profile = "open"
categories = { gambling = "block" }

[[groups]]
name = "strict-inline"
profile = "open"
categories = { gambling = "block" }
quic = "drop"
encrypted_dns = "monitor"
unresolved_destination = "block"
ech = "block"
fail = "closed"

[[clients]]
name = "tablet"
group = "strict-inline"
addresses = ["10.0.0.9/32"]
)");
    DiagnosticSink diags;
    auto loaded = policy::PolicyEngine::load(dir_.path() / "safegate.toml", diags);
    ASSERT_TRUE(loaded.isOk()) << diags.toString();
    holder_.publish(std::make_shared<CompiledPolicyView>(
        loaded->snapshot, std::make_shared<policy::ExceptionTable>()));
    options_.block_page_url = "http://10.0.0.1/blocked";
    options_.max_packets_per_flow = 4;
    makeInspector();
  }
  void makeInspector() {
    auto in = InlineInspector::create(options_, holder_, nullptr, &resolved_, &injector_);
    ASSERT_TRUE(in.isOk()) << in.status().toString();
    inspector_ = std::move(in).value();
  }
  NfqVerdict feed(const std::vector<uint8_t>& p) {
    return inspector_->inspect(p, 0, ++mono_ms_, kUnixMs);
  }

  TempDir dir_;
  PolicyHolder holder_;
  InlineOptions options_;
  ResolvedAddressTable resolved_{1024};
  RecordingInjector injector_;
  std::unique_ptr<InlineInspector> inspector_;
  int64_t mono_ms_ = 1000;
};

// RFC 9001 Appendix A.2: a client Initial whose ClientHello names example.com.
const std::string_view kRfc9001ClientInitial =
    "c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11"
    "d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399"
    "1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c"
    "8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212"
    "30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5"
    "457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208"
    "4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec"
    "4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3"
    "485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db"
    "059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c"
    "7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8"
    "9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556"
    "be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74"
    "68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a"
    "c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00"
    "f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632"
    "291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964"
    "25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd"
    "14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff"
    "ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198"
    "e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd"
    "c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73"
    "203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f"
    "cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e"
    "fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade"
    "a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047"
    "90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2"
    "162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4"
    "40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0"
    "6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e"
    "8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0"
    "be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400"
    "54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab"
    "760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9"
    "f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4"
    "056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064"
    "7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241"
    "e221af44860018ab0856972e194cd934";

constexpr NfqVerdict kPass{NfqVerdictKind::kAccept, 0};
constexpr NfqVerdict kAllowMark{NfqVerdictKind::kRepeat, 0x1};
constexpr NfqVerdict kBlockMark{NfqVerdictKind::kRepeat, 0x2};

TEST_F(InlineInspectorTest, AllowsTlsToUnlistedNameAndOffloadsTheFlow) {
  EXPECT_EQ(feed(tcp("10.0.0.5", "192.0.2.10", 40000, 443, 1000, 0, tcp_flags::kSyn)), kPass);
  auto hello = clientHello("www.example.org");
  EXPECT_EQ(feed(tcp("10.0.0.5", "192.0.2.10", 40000, 443, 1001, 77, tcp_flags::kAck, hello)),
            kAllowMark);
  EXPECT_EQ(inspector_->counters().tls_hellos.load(), 1u);
  EXPECT_TRUE(injector_.packets.empty());
}

TEST_F(InlineInspectorTest, BlocksTlsByCategoryAndResetsBothEnds) {
  feed(tcp("10.0.0.5", "192.0.2.10", 40001, 443, 5000, 0, tcp_flags::kSyn));
  auto hello = clientHello("www.casino.example");
  EXPECT_EQ(feed(tcp("10.0.0.5", "192.0.2.10", 40001, 443, 5001, 9000, tcp_flags::kAck, hello)),
            kBlockMark);
  ASSERT_EQ(injector_.packets.size(), 2u);
  // To the client, from the server, with the server's next sequence number (client's ACK).
  const auto& to_client = injector_.packets[0];
  EXPECT_EQ(std::vector<uint8_t>(to_client.begin() + 12, to_client.begin() + 16), hex("c000020a"));
  EXPECT_EQ(std::vector<uint8_t>(to_client.begin() + 24, to_client.begin() + 28), hex("00002328"));
  EXPECT_EQ(to_client[33] & tcp_flags::kRst, tcp_flags::kRst);
  const auto& to_server = injector_.packets[1];
  EXPECT_EQ(std::vector<uint8_t>(to_server.begin() + 24, to_server.begin() + 28), hex("00001389"));
  EXPECT_EQ(inspector_->counters().tls_blocked.load(), 1u);
}

TEST_F(InlineInspectorTest, ReassemblesClientHelloSplitIntoOutOfOrderSegments) {
  feed(tcp("10.0.0.5", "192.0.2.10", 40002, 443, 100, 0, tcp_flags::kSyn));
  auto hello = clientHello("bet.example");
  std::span<const uint8_t> h(hello);
  // Segment 2 before segment 1; the one that completes the hello is decided.
  EXPECT_EQ(feed(tcp("10.0.0.5", "192.0.2.10", 40002, 443, 101 + 20, 1, tcp_flags::kAck,
                     h.subspan(20, 20))),
            kPass);
  EXPECT_EQ(
      feed(tcp("10.0.0.5", "192.0.2.10", 40002, 443, 101, 1, tcp_flags::kAck, h.subspan(0, 20))),
      kPass);
  EXPECT_EQ(
      feed(tcp("10.0.0.5", "192.0.2.10", 40002, 443, 101 + 40, 1, tcp_flags::kAck, h.subspan(40))),
      kBlockMark);
}

TEST_F(InlineInspectorTest, ClientHelloInManyTinySegmentsIsNotCutShortByThePacketLimit) {
  feed(tcp("10.0.0.5", "192.0.2.10", 40004, 443, 100, 0, tcp_flags::kSyn));
  auto hello = clientHello("www.casino.example");
  std::span<const uint8_t> h(hello);
  NfqVerdict last = kPass;
  for (size_t off = 0; off < hello.size(); off += 3) {
    last = feed(tcp("10.0.0.5", "192.0.2.10", 40004, 443, 101 + uint32_t(off), 1, tcp_flags::kAck,
                    h.subspan(off, std::min<size_t>(3, hello.size() - off))));
    if (off + 3 < hello.size()) {
      ASSERT_EQ(last, kPass) << off;
    }
  }
  EXPECT_EQ(last, kBlockMark);
  EXPECT_EQ(inspector_->counters().undecided_default.load(), 0u);
}

TEST_F(InlineInspectorTest, RejectsOverlappingSegmentsThatDisagree) {
  feed(tcp("10.0.0.5", "192.0.2.10", 40003, 443, 100, 0, tcp_flags::kSyn));
  auto hello = clientHello("www.example.org");
  std::span<const uint8_t> h(hello);
  feed(tcp("10.0.0.5", "192.0.2.10", 40003, 443, 101, 1, tcp_flags::kAck, h.subspan(0, 30)));
  std::vector<uint8_t> forged(h.begin() + 20, h.begin() + 40);
  forged[5] ^= 0x55;
  EXPECT_EQ(feed(tcp("10.0.0.5", "192.0.2.10", 40003, 443, 121, 1, tcp_flags::kAck, forged)),
            kBlockMark);
}

TEST_F(InlineInspectorTest, RedirectsBlockedHttpToBlockPageAndResetsServer) {
  std::string req = "GET /slots?x=1 HTTP/1.1\r\nHost: casino.example\r\n\r\n";
  std::span<const uint8_t> body(reinterpret_cast<const uint8_t*>(req.data()), req.size());
  feed(tcp("10.0.0.5", "192.0.2.20", 40010, 80, 7, 0, tcp_flags::kSyn));
  EXPECT_EQ(feed(tcp("10.0.0.5", "192.0.2.20", 40010, 80, 8, 500, tcp_flags::kAck, body)),
            kBlockMark);
  ASSERT_EQ(injector_.packets.size(), 2u);
  std::string redirect(injector_.packets[0].begin() + 40, injector_.packets[0].end());
  EXPECT_NE(redirect.find("302 Found"), std::string::npos);
  EXPECT_NE(redirect.find("Location: http://10.0.0.1/blocked?host=casino.example"),
            std::string::npos);
  EXPECT_EQ(inspector_->counters().http_redirects.load(), 1u);
}

TEST_F(InlineInspectorTest, AmbiguousHttpIsBlockedWhenEitherHostIsBlocked) {
  std::string req = "GET http://www.example.org/ HTTP/1.1\r\nHost: casino.example\r\n\r\n";
  std::span<const uint8_t> body(reinterpret_cast<const uint8_t*>(req.data()), req.size());
  EXPECT_EQ(feed(tcp("10.0.0.5", "192.0.2.20", 40011, 80, 8, 1, tcp_flags::kAck, body)),
            kBlockMark);
  EXPECT_EQ(inspector_->counters().http_ambiguous.load(), 1u);
}

TEST_F(InlineInspectorTest, AnswersBlockedDnsQueryFromTheResolversAddress) {
  std::vector<uint8_t> query = hex("abcd01000001000000000000");
  for (const char* label : {"casino", "example"}) {
    query.push_back(uint8_t(strlen(label)));
    query.insert(query.end(), label, label + strlen(label));
  }
  query.push_back(0);
  for (uint8_t b : hex("00010001")) query.push_back(b);
  EXPECT_EQ(feed(udp("10.0.0.5", "8.8.8.8", 5555, 53, query)).kind, NfqVerdictKind::kDrop);
  ASSERT_EQ(injector_.packets.size(), 1u);
  const auto& answer = injector_.packets[0];
  EXPECT_EQ(std::vector<uint8_t>(answer.begin() + 12, answer.begin() + 20),
            hex("080808080a000005"));  // from 8.8.8.8 to 10.0.0.5
  EXPECT_EQ(answer[28], 0xab);         // same DNS ID
  EXPECT_EQ(answer[31] & 0x0f, 3);     // NXDOMAIN (the policy's default)
  EXPECT_EQ(inspector_->counters().dns_forged_answers.load(), 1u);
  // An allowed query passes untouched.
  std::vector<uint8_t> ok =
      hex("abce0100000100000000000003777777076578616d706c65036f72670000010001");
  EXPECT_EQ(feed(udp("10.0.0.5", "8.8.8.8", 5556, 53, ok)), kPass);
}

TEST_F(InlineInspectorTest, DecryptsQuicInitialAndBlocksOnItsSni) {
  auto initial = hex(kRfc9001ClientInitial);
  EXPECT_EQ(feed(udp("10.0.0.5", "192.0.2.30", 6001, 443, initial)), kBlockMark);
  EXPECT_EQ(inspector_->counters().quic_initials.load(), 1u);
  EXPECT_EQ(inspector_->counters().quic_hellos.load(), 1u);
  EXPECT_EQ(inspector_->counters().quic_blocked.load(), 1u);
  EXPECT_TRUE(injector_.packets.empty());  // QUIC is dropped, not reset
}

TEST_F(InlineInspectorTest, GroupCanDropQuicToForceTcp) {
  std::vector<uint8_t> initial(1200, 0);
  initial[0] = 0xc0;
  initial[4] = 0x01;
  EXPECT_EQ(feed(udp("10.0.0.9", "192.0.2.30", 6000, 443, initial)), kBlockMark);
  EXPECT_EQ(inspector_->counters().quic_dropped_by_group.load(), 1u);
}

TEST_F(InlineInspectorTest, Port853IsHandledPerGroupWithOneIncidentPerHour) {
  // "kids": encrypted_dns defaults to block.
  EXPECT_EQ(feed(tcp("10.0.0.5", "192.0.2.40", 41000, 853, 1, 0, tcp_flags::kSyn)), kPass);
  auto hello = clientHello("dns.example");
  EXPECT_EQ(feed(tcp("10.0.0.5", "192.0.2.40", 41000, 853, 2, 5, tcp_flags::kAck, hello)),
            kBlockMark);
  // "strict-inline": monitor -> allowed and offloaded.
  feed(tcp("10.0.0.9", "192.0.2.40", 41001, 853, 1, 0, tcp_flags::kSyn));
  EXPECT_EQ(feed(tcp("10.0.0.9", "192.0.2.40", 41001, 853, 2, 5, tcp_flags::kAck, hello)),
            kAllowMark);
  EXPECT_EQ(feed(udp("10.0.0.5", "192.0.2.40", 41002, 853, hello)), kBlockMark);
  EXPECT_EQ(inspector_->counters().encrypted_dns.load(), 3u);
  EXPECT_EQ(inspector_->counters().encrypted_dns_blocked.load(), 2u);
}

TEST_F(InlineInspectorTest, UnresolvedDestinationBlockedOnlyForGroupThatAsks) {
  auto hello = clientHello("www.example.org");
  // strict-inline: the proxy never returned 192.0.2.50 to 10.0.0.9 -> blocked.
  EXPECT_EQ(feed(tcp("10.0.0.9", "192.0.2.50", 42000, 443, 1, 1, tcp_flags::kAck, hello)),
            kBlockMark);
  // Once the proxy has answered with that address, the same connection is allowed.
  resolved_.record(ip("10.0.0.9"), ip("192.0.2.50"), kUnixMs / 1000, 60);
  EXPECT_EQ(feed(tcp("10.0.0.9", "192.0.2.50", 42001, 443, 1, 1, tcp_flags::kAck, hello)),
            kAllowMark);
  // kids (unresolved_destination = allow by default) never checks.
  EXPECT_EQ(feed(tcp("10.0.0.5", "192.0.2.51", 42002, 443, 1, 1, tcp_flags::kAck, hello)),
            kAllowMark);
  // No SNI at all: the group's unresolved setting.
  auto no_sni = clientHello("");
  EXPECT_EQ(feed(tcp("10.0.0.9", "192.0.2.50", 42003, 443, 1, 1, tcp_flags::kAck, no_sni)),
            kBlockMark);
  EXPECT_EQ(feed(tcp("10.0.0.5", "192.0.2.50", 42004, 443, 1, 1, tcp_flags::kAck, no_sni)),
            kAllowMark);
  EXPECT_EQ(inspector_->counters().tls_no_sni.load(), 2u);
}

TEST_F(InlineInspectorTest, EchIsBlockedForGroupThatBlocksItAndJudgedByOuterSniOtherwise) {
  resolved_.record(ip("10.0.0.9"), ip("192.0.2.60"), kUnixMs / 1000, 60);
  auto hello = clientHello("public.example.org", true);
  EXPECT_EQ(feed(tcp("10.0.0.9", "192.0.2.60", 43000, 443, 1, 1, tcp_flags::kAck, hello)),
            kBlockMark);
  EXPECT_EQ(feed(tcp("10.0.0.5", "192.0.2.60", 43001, 443, 1, 1, tcp_flags::kAck, hello)),
            kAllowMark);
  EXPECT_EQ(inspector_->counters().tls_ech.load(), 2u);
}

TEST_F(InlineInspectorTest, FlowUndecidedAfterMaxPacketsTakesGroupDefault) {
  // A server-speaks-first protocol: the client only sends ACKs.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(feed(tcp("10.0.0.5", "192.0.2.70", 44000, 22, 1, 1, tcp_flags::kAck)), kPass);
  }
  EXPECT_EQ(feed(tcp("10.0.0.5", "192.0.2.70", 44000, 22, 1, 1, tcp_flags::kAck)), kAllowMark);
  EXPECT_EQ(inspector_->counters().undecided_default.load(), 1u);
}

TEST_F(InlineInspectorTest, OtherUdpIsOffloadedAtOnceAndIcmpPasses) {
  std::vector<uint8_t> data = {1, 2, 3};
  EXPECT_EQ(feed(udp("10.0.0.5", "192.0.2.80", 5000, 3478, data)), kAllowMark);
  std::vector<uint8_t> icmp =
      hex("450000540000400040010000"
          "0a000005c0000250"
          "0800f7ff00000000");
  EXPECT_EQ(feed(icmp), kPass);
}

TEST_F(InlineInspectorTest, IpV6TlsIsDecidedToo) {
  auto hello = clientHello("casino.example");
  EXPECT_EQ(feed(tcp("fd00::5", "2001:db8::10", 45000, 443, 1, 1, tcp_flags::kAck, hello)),
            kBlockMark);
  ASSERT_EQ(injector_.packets.size(), 2u);
  EXPECT_EQ(injector_.packets[0][0] >> 4, 6);
}

}  // namespace
}  // namespace safegate
