// Replay is a packet source for the live inline inspector, not a second classifier.
//
// 1. Every capture in ../shared/data/pcaps goes through replayCapture() and through an
//    InlineInspector driven here the way the kernel drives safegated's (a frame reader of the
//    tests' own, tests/support/pcap_reader.h; client-side packets only; a connection whose
//    packet got a "repeat" verdict is never queued again): observations and decisions must be
//    identical, in order.
// 2. Crafted captures for each place the old replay drifted from the live path: UDP 853, TCP
//    853 at its first data segment, ambiguous HTTP hosts, a malformed ClientHello, DNS over TCP
//    split and pipelined; and the kernel model itself (replies and offloaded flows unseen).
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "daemon/compiled_policy.h"
#include "daemon/inline/capture_replay.h"
#include "daemon/inline/inline_inspector.h"
#include "filters/forged_packet.h"
#include "filters/packet.h"
#include "tests/support/pcap_reader.h"
#include "tests/support/pcap_writer.h"
#include "tests/support/shared_data.h"
#include "tests/support/test_packets.h"

namespace safegate {
namespace {

using safegate::testing::clientHello;
using safegate::testing::dnsQuery;
using safegate::testing::PcapWriter;
using safegate::testing::TempDir;
using safegate::testing::udpPacket;

constexpr const char* kConfig = R"(
[policy]
default_group = "kids"

[[lists]]
name = "blocked"
category = "gambling"
sources = ["gambling.txt"]

[[groups]]
name = "kids"
profile = "open"
categories = { gambling = "block" }
encrypted_dns = "block"
)";

class ReplayInlineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Names from the captures (google.com, msquic.net, evil.com) and the crafted ones.
    dir_.write("gambling.txt", "google.com\nmsquic.net\nevil.com\ncasino.test\n");
    dir_.write("safegate.toml", kConfig);
    DiagnosticSink diags;
    auto loaded = policy::PolicyEngine::load(dir_.path() / "safegate.toml", diags);
    ASSERT_TRUE(loaded.isOk()) << diags.toString();
    snapshot_ = loaded->snapshot;
    settings_ = loaded->config.daemon;
  }

  std::vector<ReplayObservation> replay(const std::filesystem::path& p) {
    auto r = replayCapture(p, snapshot_, settings_);
    EXPECT_TRUE(r.isOk()) << r.status().toString();
    return r.isOk() ? *r : std::vector<ReplayObservation>{};
  }
  std::vector<ReplayObservation> replay(const PcapWriter& w) {
    return replay(dir_.write("crafted.pcap", w.bytes()));
  }

  TempDir dir_;
  policy::PolicySnapshotPtr snapshot_;
  policy::DaemonSettings settings_;
};

// --- 1. the same captures through both ---------------------------------------------------------

// One line per observation, every field replay reports.
std::string line(Protocol p, std::string_view client, std::string_view server, uint16_t port,
                 std::string_view host, uint16_t type, std::string_view path, bool ech,
                 const DecisionText& d) {
  const std::string port_text = std::to_string(port);
  const std::string type_text = std::to_string(type);
  const std::string_view fields[] = {
      protocolName(p),   client,    server,       port_text, host,       type_text, path,
      ech ? "ech" : "-", d.verdict, d.decided_by, d.group,   d.category, d.rule,    d.source,
      d.reason};
  std::string s;
  for (std::string_view f : fields) s.append(f).push_back('|');
  return s;
}

class Recorder final : public InlineObserver {
 public:
  void observed(const InlineObservation& o) noexcept override {
    NameBuffer b;
    std::string host = normalizeWireName(o.host, b) == WireNameStatus::kOk ? std::string(b.view())
                                                                           : std::string(o.host);
    lines.push_back(line(o.protocol, o.client.toString(), o.server.toString(), o.server_port, host,
                         o.dns_type, o.http_path, o.ech, describeDecision(*o.decision)));
  }
  std::vector<std::string> lines;
};

// The live inspector as safegated's queue worker runs it, fed the capture the way the
// firewall rules and conntrack would: the first sender of a 5-tuple is its client; only the
// client's packets are queued; after a "repeat" verdict the connection is offloaded. (Kept
// simple on purpose: no TCP port reuse, no UDP timeout — the captures have neither.)
std::vector<std::string> live(const std::filesystem::path& capture,
                              const policy::PolicySnapshotPtr& snapshot,
                              const policy::DaemonSettings& settings, bool* readable) {
  auto file = safegate::testing::PcapFile::open(capture);
  *readable = file.isOk();
  if (!file.isOk()) return {};
  PolicyHolder policy(std::make_shared<CompiledPolicyView>(snapshot, nullptr));
  auto inspector =
      InlineInspector::create(inlineOptions(settings), policy, nullptr, nullptr, nullptr);
  EXPECT_TRUE(inspector.isOk());
  if (!inspector.isOk()) return {};
  Recorder rec;
  (*inspector)->setObserver(&rec);
  struct Conn {
    std::string client;
    bool offloaded = false;
  };
  std::map<std::string, Conn> conns;
  int64_t last_idle = 0;
  for (const auto& frame : file->frames()) {
    if (frame.ip.empty()) continue;
    const int64_t now_ms = frame.timestamp_ns / 1000000;
    if (now_ms - last_idle >= 100) {
      (*inspector)->onIdle(now_ms);
      last_idle = now_ms;
    }
    PacketView v = parsePacket(frame.ip);
    if (!v.ok() || v.isFragment() || !v.has_ports) continue;
    std::string a = v.src.toString() + "#" + std::to_string(v.src_port);
    std::string b = v.dst.toString() + "#" + std::to_string(v.dst_port);
    std::string key = (a < b ? a + b : b + a) + std::to_string(v.protocol);
    auto [it, inserted] = conns.try_emplace(key, Conn{a});
    if (it->second.client != a || it->second.offloaded) continue;
    std::optional<MacAddress> mac;
    if (file->linkType() == safegate::testing::kLinkTypeEthernet && frame.frame.size() >= 12) {
      std::array<uint8_t, 6> m{};
      std::copy_n(frame.frame.begin() + 6, 6, m.begin());
      mac = MacAddress(m);
    }
    NfqVerdict verdict = (*inspector)->inspect(frame.ip, 0, now_ms, now_ms, mac);
    if (verdict.kind == NfqVerdictKind::kRepeat) it->second.offloaded = true;
  }
  return rec.lines;
}

TEST_F(ReplayInlineTest, EveryCaptureGivesTheLiveInspectorsObservationsAndDecisions) {
  auto root = safegate::testing::sharedDataPath("pcaps");
  if (!root) {
    ASSERT_FALSE(safegate::testing::sharedDataRequired()) << "../shared/data/pcaps is missing";
    GTEST_SKIP() << "shared data not present";
  }
  size_t captures = 0;
  size_t observations = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(*root)) {
    if (entry.path().extension() != ".pcap") continue;
    bool readable = false;
    std::vector<std::string> expected = live(entry.path(), snapshot_, settings_, &readable);
    auto replayed = replayCapture(entry.path(), snapshot_, settings_);
    if (!readable) {
      // Not a file the tests' reader takes (pcapng): replay must still read it.
      EXPECT_TRUE(replayed.isOk()) << entry.path() << ": " << replayed.status().toString();
      continue;
    }
    ASSERT_TRUE(replayed.isOk()) << entry.path() << ": " << replayed.status().toString();
    std::vector<std::string> got;
    for (const auto& o : *replayed) {
      got.push_back(line(o.protocol, o.client, o.server, o.server_port, o.host, o.dns_type,
                         o.http_path, o.ech, o.decision));
    }
    EXPECT_EQ(got, expected) << entry.path();
    ++captures;
    observations += got.size();
  }
  // All 66 captures are classic pcap; most hold something safegate decides.
  EXPECT_GE(captures, 60u);
  EXPECT_GE(observations, 100u);
}

// --- 2. where the old replay drifted ------------------------------------------------------------

std::vector<uint8_t> tcp(const char* src, const char* dst, uint16_t sport, uint16_t dport,
                         uint32_t seq, uint8_t flags, std::span<const uint8_t> payload = {}) {
  return safegate::testing::tcpPacket(src, dst, sport, dport, seq, 1, flags, payload);
}
constexpr uint8_t kData = tcp_flags::kAck | tcp_flags::kPsh;

std::vector<uint8_t> bytesOf(std::string_view s) { return {s.begin(), s.end()}; }

TEST_F(ReplayInlineTest, UdpToPort853IsEncryptedDnsNotQuic) {
  PcapWriter w;
  // A QUIC-looking long header (DNS over QUIC): the port decides, not the payload.
  std::vector<uint8_t> doq(1200, 0);
  doq[0] = 0xc0;
  doq[4] = 0x01;
  w.add(udpPacket("10.0.0.5", "192.0.2.53", 40000, 853, doq));
  w.add(udpPacket("10.0.0.5", "192.0.2.53", 40000, 853, doq));  // offloaded: not seen again
  auto obs = replay(w);
  ASSERT_EQ(obs.size(), 1u);
  EXPECT_EQ(obs[0].protocol, Protocol::kQuic);
  EXPECT_EQ(obs[0].server_port, 853);
  EXPECT_EQ(obs[0].decision.verdict, "block");
  EXPECT_EQ(obs[0].decision.decided_by, "inline-setting");
  EXPECT_EQ(obs[0].decision.category, "circumvention");
  EXPECT_EQ(obs[0].decision.rule, "encrypted_dns (port 853)");
}

TEST_F(ReplayInlineTest, TcpToPort853IsDecidedAtItsFirstDataSegment) {
  PcapWriter w;
  auto hello = clientHello("dot.test");
  w.add(tcp("10.0.0.5", "192.0.2.53", 40001, 853, 100, tcp_flags::kSyn));
  // Only the first ten octets of the hello: the live path does not wait for the rest.
  w.add(tcp("10.0.0.5", "192.0.2.53", 40001, 853, 101, kData, std::span(hello).first(10)));
  w.add(tcp("10.0.0.5", "192.0.2.53", 40001, 853, 111, kData, std::span(hello).subspan(10)));
  auto obs = replay(w);
  ASSERT_EQ(obs.size(), 1u);
  EXPECT_EQ(obs[0].protocol, Protocol::kTls);
  EXPECT_EQ(obs[0].host, "");  // nothing named yet when it was decided
  EXPECT_EQ(obs[0].decision.verdict, "block");
  EXPECT_EQ(obs[0].decision.rule, "encrypted_dns (port 853)");
}

TEST_F(ReplayInlineTest, EveryHostOfAnAmbiguousHttpRequestIsDecided) {
  PcapWriter w;
  // Absolute-form target and Host disagree: a server may use either (filters/http_request.h).
  auto req = bytesOf("GET http://allowed.test/a HTTP/1.1\r\nHost: casino.test\r\n\r\n");
  w.add(tcp("10.0.0.5", "192.0.2.80", 40002, 80, 100, tcp_flags::kSyn));
  w.add(tcp("10.0.0.5", "192.0.2.80", 40002, 80, 101, kData, req));
  auto obs = replay(w);
  ASSERT_EQ(obs.size(), 2u);
  EXPECT_EQ(obs[0].host, "allowed.test");
  EXPECT_EQ(obs[0].decision.verdict, "allow");
  EXPECT_EQ(obs[1].host, "casino.test");
  EXPECT_EQ(obs[1].http_path, "/a");
  EXPECT_EQ(obs[1].decision.verdict, "block");  // the flow's decision: the stricter reading
  EXPECT_EQ(obs[1].decision.category, "gambling");
}

TEST_F(ReplayInlineTest, AMalformedClientHelloIsAnUnresolvedDecision) {
  PcapWriter w;
  auto hello = clientHello("fine.test");
  // The legacy_session_id length (after the record header, the handshake header, the version
  // and the random: octet 43) claims more octets than the handshake holds.
  hello[43] = 0xff;
  w.add(tcp("10.0.0.5", "192.0.2.44", 40003, 443, 100, tcp_flags::kSyn));
  w.add(tcp("10.0.0.5", "192.0.2.44", 40003, 443, 101, kData, hello));
  auto obs = replay(w);
  ASSERT_EQ(obs.size(), 1u);
  EXPECT_EQ(obs[0].protocol, Protocol::kTls);
  EXPECT_EQ(obs[0].decision.category, "unresolved-destination");
  EXPECT_EQ(obs[0].decision.decided_by, "inline-setting");
}

TEST_F(ReplayInlineTest, DnsOverTcpIsReadAsAStreamOfMessages) {
  PcapWriter w;
  std::vector<uint8_t> stream;
  for (auto q : {dnsQuery("fine.test", 1, 1), dnsQuery("casino.test", 28, 2)}) {
    stream.push_back(static_cast<uint8_t>(q.size() >> 8));
    stream.push_back(static_cast<uint8_t>(q.size()));
    stream.insert(stream.end(), q.begin(), q.end());
  }
  // Pipelined, and split inside the second message's length prefix.
  const size_t cut = 2 + dnsQuery("fine.test").size() + 1;
  w.add(tcp("10.0.0.5", "192.0.2.53", 40004, 53, 100, tcp_flags::kSyn));
  w.add(tcp("10.0.0.5", "192.0.2.53", 40004, 53, 101, kData, std::span(stream).first(cut)));
  w.add(tcp("10.0.0.5", "192.0.2.53", 40004, 53, static_cast<uint32_t>(101 + cut), kData,
            std::span(stream).subspan(cut)));
  auto obs = replay(w);
  ASSERT_EQ(obs.size(), 2u);
  EXPECT_EQ(obs[0].host, "fine.test");
  EXPECT_EQ(obs[0].dns_type, 1);
  EXPECT_EQ(obs[0].decision.verdict, "allow");
  EXPECT_EQ(obs[1].host, "casino.test");
  EXPECT_EQ(obs[1].dns_type, 28);
  EXPECT_EQ(obs[1].decision.verdict, "block");
}

// The suricata-verify HTTP/2 cleartext captures: :authority is read (HPACK), a differing Host
// decided too, DoH inside is encrypted DNS, userinfo in :authority is malformed (reset).
TEST_F(ReplayInlineTest, CleartextHttp2CapturesAreDecidedOnTheirAuthority) {
  auto dir = safegate::testing::sharedDataPath("pcaps/suricata-verify");
  if (!dir) {
    ASSERT_FALSE(safegate::testing::sharedDataRequired()) << "../shared/data/pcaps is missing";
    GTEST_SKIP() << "shared data not present";
  }
  dir_.write("gambling.txt", "foo.com\n");
  DiagnosticSink diags;
  auto loaded = policy::PolicyEngine::load(dir_.path() / "safegate.toml", diags);
  ASSERT_TRUE(loaded.isOk()) << diags.toString();
  snapshot_ = loaded->snapshot;

  auto mismatch = replay(*dir / "http2-authority-host-mismatch.pcap");
  ASSERT_EQ(mismatch.size(), 2u);
  EXPECT_EQ(mismatch[0].protocol, Protocol::kHttp);
  EXPECT_EQ(mismatch[0].host, "example.com");  // :authority
  EXPECT_EQ(mismatch[0].http_path, "/");
  EXPECT_EQ(mismatch[0].decision.verdict, "allow");
  EXPECT_EQ(mismatch[1].host, "foo.com");  // the Host field, decided too: blocked
  EXPECT_EQ(mismatch[1].decision.verdict, "block");

  auto doh = replay(*dir / "doh-h2c-get-dns-google.pcap");
  ASSERT_EQ(doh.size(), 1u);
  EXPECT_EQ(doh[0].protocol, Protocol::kHttp);
  EXPECT_EQ(doh[0].decision.category, "circumvention");
  EXPECT_EQ(doh[0].decision.rule, "encrypted_dns (DNS over HTTP/2 in cleartext)");
  EXPECT_EQ(doh[0].decision.verdict, "block");

  ReplayStats stats;
  auto userinfo =
      replayCapture(*dir / "http2-userinfo-in-authority.pcap", snapshot_, settings_, &stats);
  ASSERT_TRUE(userinfo.isOk());
  EXPECT_TRUE(userinfo->empty());
  EXPECT_EQ(stats.malformed, 1u);
}

TEST_F(ReplayInlineTest, RepliesAndOffloadedConnectionsAreNotInspected) {
  PcapWriter w;
  auto req = bytesOf("GET / HTTP/1.1\r\nHost: fine.test\r\n\r\n");
  auto second = bytesOf("GET / HTTP/1.1\r\nHost: casino.test\r\n\r\n");
  w.add(tcp("10.0.0.5", "192.0.2.80", 40005, 80, 100, tcp_flags::kSyn));
  w.add(tcp("10.0.0.5", "192.0.2.80", 40005, 80, 101, kData, req));
  // The server's answer reads like a request from 192.0.2.80: replies are never queued.
  w.add(tcp("192.0.2.80", "10.0.0.5", 80, 40005, 500, kData, second));
  // Keep-alive: the connection was allowed and offloaded at its first request.
  w.add(tcp("10.0.0.5", "192.0.2.80", 40005, 80, static_cast<uint32_t>(101 + req.size()), kData,
            second));
  // A new connection on the same ports (SYN after the old one was decided) is inspected again.
  w.add(tcp("10.0.0.5", "192.0.2.80", 40005, 80, 9000, tcp_flags::kSyn));
  w.add(tcp("10.0.0.5", "192.0.2.80", 40005, 80, 9001, kData, second));
  auto obs = replay(w);
  ASSERT_EQ(obs.size(), 2u);
  EXPECT_EQ(obs[0].host, "fine.test");
  EXPECT_EQ(obs[0].decision.verdict, "allow");
  EXPECT_EQ(obs[1].host, "casino.test");
  EXPECT_EQ(obs[1].decision.verdict, "block");
}

}  // namespace
}  // namespace safegate
