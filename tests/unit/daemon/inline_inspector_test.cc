// InlineInspector with a real compiled policy (TOML + list file in a temp dir) and crafted
// packets: what each protocol path decides, which packets it forges, what it counts.
#include "daemon/inline/inline_inspector.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon/compiled_policy.h"
#include "filters/forged_packet.h"
#include "policy/policy_engine.h"
#include "tests/support/http2_frames.h"
#include "tests/support/quic_seal.h"
#include "tests/support/quic_vectors.h"
#include "tests/support/shared_data.h"
#include "tests/support/test_packets.h"
#include "tests/unit/daemon/dns_test_util.h"

namespace safegate {
namespace {

using testing::clientHello;
using testing::tcpPacket;
using testing::TempDir;
using testing::udpPacket;

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

struct Packet {
  std::vector<uint8_t> bytes;
};

class InlineInspectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("gambling.txt", "casino.example\nbet.example\nexample.com\n");
    dir_.write("doh.txt", "doh.example\n192.0.2.53\n2001:db8:53::/48\n");
    dir_.write("pages.txt", "||pages.example/casino/*\n");
    dir_.write("safegate.toml", R"(
[policy]
default_group = "kids"

[[lists]]
name = "gambling-pages"
category = "gambling"
format = "adblock"
sources = ["pages.txt"]

[[lists]]
name = "gambling"
category = "gambling"
sources = ["gambling.txt"]

[[lists]]
name = "doh"
category = "circumvention"
format = "domains"
sources = ["doh.txt"]

[[groups]]
name = "kids"
profile = "open"
categories = { gambling = "block" }
safe_search = { google = "on" }

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
    makeInspector();
  }
  void makeInspector() {
    auto in =
        InlineInspector::create(options_, holder_, nullptr, &resolved_, &injector_, &safe_search_);
    ASSERT_TRUE(in.isOk()) << in.status().toString();
    inspector_ = std::move(in).value();
  }
  NfqVerdict feed(const std::vector<uint8_t>& p) {
    return inspector_->inspect(p, 0, ++mono_ms_, kUnixMs);
  }
  // Moves the worker's clock on by `ms` (undecided-flow timeouts, the sweep).
  void advance(int64_t ms) { mono_ms_ += ms; }

  TempDir dir_;
  PolicyHolder holder_;
  InlineOptions options_;
  ResolvedAddressTable resolved_{1024};
  RecordingInjector injector_;
  SafeSearchHolder safe_search_;
  std::unique_ptr<InlineInspector> inspector_;
  int64_t mono_ms_ = 1000;
};

using ::safegate::testing::kRfc9001ClientInitial;

constexpr NfqVerdict kPass{NfqVerdictKind::kAccept, 0};
constexpr NfqVerdict kAllowMark{NfqVerdictKind::kRepeat, 0x1};
constexpr NfqVerdict kBlockMark{NfqVerdictKind::kRepeat, 0x2};

TEST_F(InlineInspectorTest, AllowsTlsToUnlistedNameAndOffloadsTheFlow) {
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.10", 40000, 443, 1000, 0, tcp_flags::kSyn)), kPass);
  auto hello = clientHello("www.example.org");
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.10", 40000, 443, 1001, 77, tcp_flags::kAck, hello)),
            kAllowMark);
  EXPECT_EQ(inspector_->counters().tls_hellos.load(), 1u);
  EXPECT_TRUE(injector_.packets.empty());
}

TEST_F(InlineInspectorTest, BlocksTlsByCategoryAndResetsBothEnds) {
  feed(tcpPacket("10.0.0.5", "192.0.2.10", 40001, 443, 5000, 0, tcp_flags::kSyn));
  auto hello = clientHello("www.casino.example");
  EXPECT_EQ(
      feed(tcpPacket("10.0.0.5", "192.0.2.10", 40001, 443, 5001, 9000, tcp_flags::kAck, hello)),
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
  feed(tcpPacket("10.0.0.5", "192.0.2.10", 40002, 443, 100, 0, tcp_flags::kSyn));
  auto hello = clientHello("bet.example");
  std::span<const uint8_t> h(hello);
  // Segment 2 before segment 1; the one that completes the hello is decided.
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.10", 40002, 443, 101 + 20, 1, tcp_flags::kAck,
                           h.subspan(20, 20))),
            kPass);
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.10", 40002, 443, 101, 1, tcp_flags::kAck,
                           h.subspan(0, 20))),
            kPass);
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.10", 40002, 443, 101 + 40, 1, tcp_flags::kAck,
                           h.subspan(40))),
            kBlockMark);
}

TEST_F(InlineInspectorTest, ClientHelloInManyTinySegmentsIsNotCutShortByThePacketLimit) {
  feed(tcpPacket("10.0.0.5", "192.0.2.10", 40004, 443, 100, 0, tcp_flags::kSyn));
  auto hello = clientHello("www.casino.example");
  std::span<const uint8_t> h(hello);
  NfqVerdict last = kPass;
  for (size_t off = 0; off < hello.size(); off += 3) {
    last =
        feed(tcpPacket("10.0.0.5", "192.0.2.10", 40004, 443, 101 + uint32_t(off), 1,
                       tcp_flags::kAck, h.subspan(off, std::min<size_t>(3, hello.size() - off))));
    if (off + 3 < hello.size()) {
      ASSERT_EQ(last, kPass) << off;
    }
  }
  EXPECT_EQ(last, kBlockMark);
  EXPECT_EQ(inspector_->counters().undecided_default.load(), 0u);
}

TEST_F(InlineInspectorTest, RejectsOverlappingSegmentsThatDisagree) {
  feed(tcpPacket("10.0.0.5", "192.0.2.10", 40003, 443, 100, 0, tcp_flags::kSyn));
  auto hello = clientHello("www.example.org");
  std::span<const uint8_t> h(hello);
  feed(tcpPacket("10.0.0.5", "192.0.2.10", 40003, 443, 101, 1, tcp_flags::kAck, h.subspan(0, 30)));
  std::vector<uint8_t> forged(h.begin() + 20, h.begin() + 40);
  forged[5] ^= 0x55;
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.10", 40003, 443, 121, 1, tcp_flags::kAck, forged)),
            kBlockMark);
}

TEST_F(InlineInspectorTest, RedirectsBlockedHttpToBlockPageAndResetsServer) {
  std::string req = "GET /slots?x=1 HTTP/1.1\r\nHost: casino.example\r\n\r\n";
  std::span<const uint8_t> body(reinterpret_cast<const uint8_t*>(req.data()), req.size());
  feed(tcpPacket("10.0.0.5", "192.0.2.20", 40010, 80, 7, 0, tcp_flags::kSyn));
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.20", 40010, 80, 8, 500, tcp_flags::kAck, body)),
            kBlockMark);
  ASSERT_EQ(injector_.packets.size(), 2u);
  std::string redirect(injector_.packets[0].begin() + 40, injector_.packets[0].end());
  EXPECT_NE(redirect.find("302 Found"), std::string::npos);
  EXPECT_NE(redirect.find("Location: http://10.0.0.1/blocked?host=casino.example"),
            std::string::npos);
  EXPECT_EQ(inspector_->counters().http_redirects.load(), 1u);
}

// A list entry with a path blocks that page of a plain-HTTP site, not the site.
TEST_F(InlineInspectorTest, UrlRuleWithAPathBlocksThatPageOnly) {
  auto get = [&](uint16_t port, const std::string& path) {
    const std::string req = "GET " + path + " HTTP/1.1\r\nHost: pages.example\r\n\r\n";
    std::span<const uint8_t> body(reinterpret_cast<const uint8_t*>(req.data()), req.size());
    feed(tcpPacket("10.0.0.5", "192.0.2.21", port, 80, 7, 0, tcp_flags::kSyn));
    return feed(tcpPacket("10.0.0.5", "192.0.2.21", port, 80, 8, 500, tcp_flags::kAck, body));
  };
  EXPECT_EQ(get(40020, "/casino/roulette.html?seat=3"), kBlockMark);
  EXPECT_EQ(get(40021, "/homework/maths.html"), kAllowMark);
  EXPECT_EQ(get(40022, "/casino"), kBlockMark);  // "^" matches the end of the URL
}

TEST_F(InlineInspectorTest, AmbiguousHttpIsBlockedWhenEitherHostIsBlocked) {
  std::string req = "GET http://www.example.org/ HTTP/1.1\r\nHost: casino.example\r\n\r\n";
  std::span<const uint8_t> body(reinterpret_cast<const uint8_t*>(req.data()), req.size());
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.20", 40011, 80, 8, 1, tcp_flags::kAck, body)),
            kBlockMark);
  EXPECT_EQ(inspector_->counters().http_ambiguous.load(), 1u);
}

// HTTP/2 with prior knowledge: the first request's :authority (HPACK) is decided like a Host
// field; a blocked one resets both ways (no HTTP/1 redirect on an HTTP/2 connection).
TEST_F(InlineInspectorTest, Http2PriorKnowledgeIsDecidedOnItsAuthority) {
  using namespace safegate::testing;
  auto connect = [&](uint16_t port, const Bytes& stream, size_t cut) {
    feed(tcpPacket("10.0.0.5", "192.0.2.22", port, 80, 7, 0, tcp_flags::kSyn));
    // The preface and SETTINGS in one segment, the rest in another, as curl sends them.
    NfqVerdict first = feed(tcpPacket("10.0.0.5", "192.0.2.22", port, 80, 8, 500, tcp_flags::kAck,
                                      std::span(stream).first(cut)));
    EXPECT_EQ(first, kPass);
    return feed(tcpPacket("10.0.0.5", "192.0.2.22", port, 80, static_cast<uint32_t>(8 + cut), 500,
                          tcp_flags::kAck, std::span(stream).subspan(cut)));
  };
  const Bytes blocked = http2Request(getFields("www.casino.example", "/"));
  EXPECT_EQ(connect(40030, blocked, 24 + 21), kBlockMark);
  ASSERT_EQ(injector_.packets.size(), 2u);  // both ends reset
  EXPECT_EQ(injector_.packets[0][33] & tcp_flags::kRst, tcp_flags::kRst);
  EXPECT_EQ(connect(40031, http2Request(getFields("www.example.org", "/")), 24), kAllowMark);
  // A path rule applies to :path.
  EXPECT_EQ(connect(40032, http2Request(getFields("pages.example", "/casino/x")), 24), kBlockMark);
  // :authority allowed, a Host field blocked: the stricter reading wins.
  Fields f = getFields("www.example.org");
  f.emplace_back("host", "casino.example");
  EXPECT_EQ(connect(40033, http2Request(f), 24), kBlockMark);
  EXPECT_EQ(inspector_->counters().http2_requests.load(), 4u);
  EXPECT_EQ(inspector_->counters().http_blocked.load(), 3u);
  EXPECT_EQ(inspector_->counters().http_ambiguous.load(), 1u);
}

TEST_F(InlineInspectorTest, Http2MalformedOrDnsOverHttpsInsideIsNotAllowed) {
  using namespace safegate::testing;
  // HEADERS before SETTINGS: a server must reject it; so do we.
  Bytes bad = http2Preface();
  append(bad, http2Frame(0x1, 0x5, 1, hpackBlock(getFields("www.example.org"))));
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.23", 40040, 80, 8, 1, tcp_flags::kAck, bad)),
            kBlockMark);
  EXPECT_EQ(inspector_->counters().http2_malformed.load(), 1u);
  // DoH in cleartext HTTP/2: "kids" has encrypted_dns = block by default, whatever the host.
  Fields doh = {{":method", "POST"},
                {":scheme", "http"},
                {":authority", "www.example.org"},
                {":path", "/dns-query"},
                {"content-type", "application/dns-message"}};
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.23", 40041, 80, 8, 1, tcp_flags::kAck,
                           http2Request(doh))),
            kBlockMark);
  EXPECT_EQ(inspector_->counters().http2_doh.load(), 1u);
  EXPECT_EQ(inspector_->counters().encrypted_dns_blocked.load(), 1u);
  // The strict group monitors encrypted DNS: allowed, offloaded.
  EXPECT_EQ(feed(tcpPacket("10.0.0.9", "192.0.2.23", 40042, 80, 8, 1, tcp_flags::kAck,
                           http2Request(doh))),
            kAllowMark);
}

// "Upgrade: h2c" starts as an HTTP/1.1 request: decided by its Host before the server switches.
TEST_F(InlineInspectorTest, Http2UpgradeRequestIsDecidedAsHttp1) {
  std::string req =
      "GET / HTTP/1.1\r\nHost: casino.example\r\nConnection: Upgrade, HTTP2-Settings\r\n"
      "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n";
  std::span<const uint8_t> body(reinterpret_cast<const uint8_t*>(req.data()), req.size());
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.24", 40050, 80, 8, 1, tcp_flags::kAck, body)),
            kBlockMark);
  EXPECT_EQ(inspector_->counters().http_blocked.load(), 1u);
}

TEST_F(InlineInspectorTest, AnswersBlockedDnsQueryFromTheResolversAddress) {
  std::vector<uint8_t> query = hex("abcd01000001000000000000");
  for (const char* label : {"casino", "example"}) {
    query.push_back(uint8_t(strlen(label)));
    query.insert(query.end(), label, label + strlen(label));
  }
  query.push_back(0);
  for (uint8_t b : hex("00010001")) query.push_back(b);
  EXPECT_EQ(feed(udpPacket("10.0.0.5", "8.8.8.8", 5555, 53, query)).kind, NfqVerdictKind::kDrop);
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
  EXPECT_EQ(feed(udpPacket("10.0.0.5", "8.8.8.8", 5556, 53, ok)), kPass);
}

TEST_F(InlineInspectorTest, UnparsableDnsDatagramIsDroppedNotPassed) {
  // Garbage, a header without its question, and a truncated name: none can be decided.
  for (const char* payload :
       {"0001020304050607", "abcd01000001000000000000", "abcd010000010000000000000663617369"}) {
    EXPECT_EQ(feed(udpPacket("10.0.0.5", "8.8.8.8", 5557, 53, hex(payload))).kind,
              NfqVerdictKind::kDrop)
        << payload;
  }
  EXPECT_EQ(inspector_->counters().dns_unparsable_dropped.load(), 3u);
  EXPECT_EQ(inspector_->counters().dns_queries.load(), 0u);
}

// A DNS query for `name` (type A), with the two-byte length prefix of DNS over TCP.
std::vector<uint8_t> tcpDnsQuery(uint16_t id, std::string_view name) {
  std::vector<uint8_t> q = {uint8_t(id >> 8), uint8_t(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    q.push_back(uint8_t(dot - start));
    q.insert(q.end(), name.begin() + start, name.begin() + dot);
    start = dot + 1;
  }
  q.push_back(0);
  for (uint8_t b : {0, 1, 0, 1}) q.push_back(b);
  std::vector<uint8_t> out = {uint8_t(q.size() >> 8), uint8_t(q.size())};
  out.insert(out.end(), q.begin(), q.end());
  return out;
}

std::vector<uint8_t> concat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST_F(InlineInspectorTest, DnsOverTcpDecidesALaterQueryInTheSameSegment) {
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "8.8.8.8", 43000, 53, 99, 0, tcp_flags::kSyn)), kPass);
  auto two = concat({tcpDnsQuery(1, "www.example.org"), tcpDnsQuery(2, "casino.example")});
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "8.8.8.8", 43000, 53, 100, 7, tcp_flags::kAck, two)),
            kBlockMark);
  EXPECT_EQ(injector_.packets.size(), 2u);  // reset both ways
  EXPECT_EQ(inspector_->counters().dns_queries.load(), 2u);
  EXPECT_EQ(inspector_->counters().dns_blocked.load(), 1u);
}

TEST_F(InlineInspectorTest, DnsOverTcpResetsAnUnparsableMessageRatherThanPassingIt) {
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "8.8.8.8", 43005, 53, 99, 0, tcp_flags::kSyn)), kPass);
  std::vector<uint8_t> junk = {0, 8, 1, 2, 3, 4, 5, 6, 7, 8};  // length 8, no DNS header
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "8.8.8.8", 43005, 53, 100, 7, tcp_flags::kAck, junk)),
            kBlockMark);
  EXPECT_EQ(injector_.packets.size(), 2u);  // reset both ways
  EXPECT_EQ(inspector_->counters().dns_unparsable_dropped.load(), 1u);
}

TEST_F(InlineInspectorTest, DnsOverTcpDecidesQueriesSplitAcrossSegments) {
  feed(tcpPacket("10.0.0.5", "8.8.8.8", 43001, 53, 99, 0, tcp_flags::kSyn));
  // Stream: allowed query 1, allowed query 2, blocked query 3; cut at odd places (inside a
  // length prefix, inside a name).
  auto stream = concat({tcpDnsQuery(1, "www.example.org"), tcpDnsQuery(2, "news.example.net"),
                        tcpDnsQuery(3, "www.bet.example")});
  std::span<const uint8_t> st(stream);
  const size_t q1 = tcpDnsQuery(1, "www.example.org").size();
  const size_t q2 = tcpDnsQuery(2, "news.example.net").size();
  const size_t cuts[] = {0, 1, 10, q1 + 1, q1 + q2 + 5, stream.size()};
  for (size_t i = 0; i + 1 < std::size(cuts); ++i) {
    auto piece = st.subspan(cuts[i], cuts[i + 1] - cuts[i]);
    NfqVerdict v = feed(tcpPacket("10.0.0.5", "8.8.8.8", 43001, 53, 100 + uint32_t(cuts[i]), 7,
                                  tcp_flags::kAck, piece));
    if (i + 2 < std::size(cuts)) {
      EXPECT_EQ(v, kPass) << "segment " << i;
    } else {
      EXPECT_EQ(v, kBlockMark) << "the segment completing the blocked query";
    }
  }
  EXPECT_EQ(inspector_->counters().dns_queries.load(), 3u);
  EXPECT_EQ(inspector_->counters().dns_blocked.load(), 1u);
}

TEST_F(InlineInspectorTest, DnsOverTcpPutsOutOfOrderSegmentsBackTogether) {
  feed(tcpPacket("10.0.0.5", "8.8.8.8", 43002, 53, 99, 0, tcp_flags::kSyn));
  auto q1 = tcpDnsQuery(1, "www.example.org");
  auto q2 = tcpDnsQuery(2, "casino.example");
  // The blocked second query arrives first: nothing can be read before it yet.
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "8.8.8.8", 43002, 53, 100 + uint32_t(q1.size()), 7,
                           tcp_flags::kAck, q2)),
            kPass);
  EXPECT_EQ(inspector_->counters().dns_queries.load(), 0u);
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "8.8.8.8", 43002, 53, 100, 7, tcp_flags::kAck, q1)),
            kBlockMark);
  EXPECT_EQ(inspector_->counters().dns_queries.load(), 2u);
}

TEST_F(InlineInspectorTest, DnsOverTcpKeepsDecidingPastTheReassemblyCap) {
  feed(tcpPacket("10.0.0.5", "8.8.8.8", 43003, 53, 99, 0, tcp_flags::kSyn));
  // 1,000 allowed queries (~33 KiB, twice the 16 KiB cap), three per segment with the third
  // split, then a blocked one: decided messages leave the buffer, so the cap is never hit.
  uint32_t seq = 100;
  std::vector<uint8_t> pending, last_segment;
  for (uint16_t id = 0; id < 1000; ++id) {
    auto q = tcpDnsQuery(id, "www.example.org");
    pending.insert(pending.end(), q.begin(), q.end());
    if (id % 3 == 2) {
      size_t send = pending.size() - 7;  // keep 7 bytes of the last query for later
      last_segment.assign(pending.begin(), pending.begin() + long(send));
      ASSERT_EQ(
          feed(tcpPacket("10.0.0.5", "8.8.8.8", 43003, 53, seq, 7, tcp_flags::kAck, last_segment)),
          kPass)
          << id;
      seq += uint32_t(send);
      pending.erase(pending.begin(), pending.begin() + long(send));
    }
  }
  // A retransmission of the last segment (decided queries and the held partial one) passes.
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "8.8.8.8", 43003, 53, seq - uint32_t(last_segment.size()), 7,
                           tcp_flags::kAck, last_segment)),
            kPass);
  auto last = concat({pending, tcpDnsQuery(4242, "casino.example")});
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "8.8.8.8", 43003, 53, seq, 7, tcp_flags::kAck, last)),
            kBlockMark);
  EXPECT_EQ(inspector_->counters().dns_queries.load(), 1001u);
  EXPECT_EQ(inspector_->counters().dns_tcp_malformed.load(), 0u);
  EXPECT_EQ(inspector_->counters().undecided_default.load(), 0u);
}

TEST_F(InlineInspectorTest, DnsOverTcpResetsAMessageLargerThanTheCap) {
  feed(tcpPacket("10.0.0.5", "8.8.8.8", 43004, 53, 99, 0, tcp_flags::kSyn));
  std::vector<uint8_t> huge(1400, 0);
  huge[0] = 0xff;  // announces 65,000+ bytes
  huge[1] = 0xf0;
  uint32_t seq = 100;
  NfqVerdict v = kPass;
  for (int i = 0; i < 20 && v == kPass; ++i, seq += 1400) {
    v = feed(tcpPacket("10.0.0.5", "8.8.8.8", 43004, 53, seq, 7, tcp_flags::kAck,
                       i == 0 ? huge : std::vector<uint8_t>(1400, 0)));
  }
  EXPECT_EQ(v, kBlockMark);
  EXPECT_EQ(inspector_->counters().dns_tcp_malformed.load(), 1u);
}

// The records of the DNS answer carried by a forged IPv4 UDP packet, as "name type value".
// The answer records of a forged DNS answer that starts `offset` bytes into `packet` (28: IPv4
// + UDP; 42: IPv4 + TCP + the length prefix).
std::vector<std::string> answerRecords(const std::vector<uint8_t>& packet, uint16_t* id,
                                       size_t offset = 28) {
  std::span<const uint8_t> dns(packet.data() + offset, packet.size() - offset);
  NameBuffer qn, rn, target;
  DnsResponseView v(dns, qn);
  *id = v.header().id;
  std::vector<std::string> out;
  while (auto r = v.next(rn)) {
    if (r->section != DnsRecord::Section::kAnswer) break;
    std::string rec = std::string(r->name) + " " + std::to_string(r->type) + " ";
    if (r->type == dns_type::kCname && v.cnameTarget(*r, target) == DnsParseStatus::kOk) {
      rec += std::string(target.view());
    } else if (r->type == dns_type::kA && r->rdata.size() == 4) {
      rec += IpAddress::v4(r->rdata.first<4>()).toString();
    }
    out.push_back(rec);
  }
  return out;
}

TEST_F(InlineInspectorTest, SafeSearchRewriteIsAnsweredWithTheTargetAndItsAddress) {
  auto target_query = testing::makeQuery(7, "forcesafesearch.google.com", dns_type::kA);
  std::vector<SafeSearchAnswers::Answer> answers;
  answers.push_back({"forcesafesearch.google.com", dns_type::kA,
                     testing::makeResponse(target_query, {{216, 239, 38, 120}}, 300)});
  safe_search_.publish(std::make_shared<const SafeSearchAnswers>(std::move(answers)));

  // "kids" has Google safe search on: the query to a hard-coded resolver is answered for the
  // client with the CNAME and the target's address, from the resolver's address.
  auto query = testing::makeQuery(0x1234, "www.google.com", dns_type::kA);
  EXPECT_EQ(feed(udpPacket("10.0.0.5", "8.8.8.8", 5000, 53, query)).kind, NfqVerdictKind::kDrop);
  ASSERT_EQ(injector_.packets.size(), 1u);
  EXPECT_EQ(
      std::vector<uint8_t>(injector_.packets[0].begin() + 12, injector_.packets[0].begin() + 16),
      hex("08080808"));
  uint16_t id = 0;
  EXPECT_EQ(answerRecords(injector_.packets[0], &id),
            (std::vector<std::string>{"www.google.com 5 forcesafesearch.google.com",
                                      "forcesafesearch.google.com 1 216.239.38.120"}));
  EXPECT_EQ(id, 0x1234);
  EXPECT_EQ(inspector_->counters().dns_rewrite_answered.load(), 1u);

  // No stored answer for AAAA: the CNAME alone, never the unrewritten name.
  auto aaaa = testing::makeQuery(0x1235, "www.google.co.uk", dns_type::kAaaa);
  EXPECT_EQ(feed(udpPacket("10.0.0.5", "8.8.8.8", 5001, 53, aaaa)).kind, NfqVerdictKind::kDrop);
  ASSERT_EQ(injector_.packets.size(), 2u);
  EXPECT_EQ(answerRecords(injector_.packets[1], &id),
            (std::vector<std::string>{"www.google.co.uk 5 forcesafesearch.google.com"}));
  EXPECT_EQ(inspector_->counters().dns_rewrite_cname_only.load(), 1u);

  // "strict-inline" (profile "open", no safe search): the query passes to the resolver.
  EXPECT_EQ(feed(udpPacket("10.0.0.9", "8.8.8.8", 5002, 53, query)), kPass);
  EXPECT_EQ(injector_.packets.size(), 2u);
}

void publishGoogleSafeSearchAnswer(SafeSearchHolder& holder) {
  auto target_query = testing::makeQuery(7, "forcesafesearch.google.com", dns_type::kA);
  std::vector<SafeSearchAnswers::Answer> answers;
  answers.push_back({"forcesafesearch.google.com", dns_type::kA,
                     testing::makeResponse(target_query, {{216, 239, 38, 120}}, 300)});
  holder.publish(std::make_shared<const SafeSearchAnswers>(std::move(answers)));
}

uint32_t be32At(const std::vector<uint8_t>& p, size_t at) {
  return (uint32_t{p[at]} << 24) | (uint32_t{p[at + 1]} << 16) | (uint32_t{p[at + 2]} << 8) |
         p[at + 3];
}

TEST_F(InlineInspectorTest, SafeSearchOverTcpIsAnsweredOnTheConnectionAndTheServerReset) {
  publishGoogleSafeSearchAnswer(safe_search_);
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "8.8.8.8", 43100, 53, 99, 0, tcp_flags::kSyn)), kPass);
  auto q = tcpDnsQuery(0x4321, "www.google.com");
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "8.8.8.8", 43100, 53, 100, 5000,
                           tcp_flags::kAck | tcp_flags::kPsh, q)),
            kBlockMark);
  ASSERT_EQ(injector_.packets.size(), 2u);
  // To the client, from the resolver's address and port, in the server's sequence space (the
  // client's ACK), acknowledging the query, closing the connection.
  const auto& a = injector_.packets[0];
  ASSERT_GT(a.size(), 42u);
  EXPECT_EQ(std::vector<uint8_t>(a.begin() + 12, a.begin() + 24), hex("080808080a0000050035a85c"));
  EXPECT_EQ(be32At(a, 24), 5000u);
  EXPECT_EQ(be32At(a, 28), 100u + q.size());
  EXPECT_EQ(a[33], tcp_flags::kAck | tcp_flags::kPsh | tcp_flags::kFin);
  EXPECT_EQ(size_t{a[40]} << 8 | a[41], a.size() - 42);  // RFC 1035 §4.2.2 length prefix
  uint16_t id = 0;
  EXPECT_EQ(answerRecords(a, &id, 42),
            (std::vector<std::string>{"www.google.com 5 forcesafesearch.google.com",
                                      "forcesafesearch.google.com 1 216.239.38.120"}));
  EXPECT_EQ(id, 0x4321);
  // To the server: a RST at the client's sequence number; it never received the query.
  const auto& r = injector_.packets[1];
  EXPECT_EQ(std::vector<uint8_t>(r.begin() + 12, r.begin() + 20), hex("0a00000508080808"));
  EXPECT_EQ(be32At(r, 24), 100u);
  EXPECT_EQ(r[33] & tcp_flags::kRst, tcp_flags::kRst);
  EXPECT_EQ(inspector_->counters().dns_rewrite_answered.load(), 1u);
  EXPECT_EQ(inspector_->counters().dns_forged_answers.load(), 1u);
  EXPECT_EQ(inspector_->counters().dns_blocked.load(), 0u);
  EXPECT_EQ(inspector_->counters().dns_rewrite_tcp_reset.load(), 0u);
}

TEST_F(InlineInspectorTest, SafeSearchOverTcpAfterAQueryTheServerGotResetsTheConnection) {
  publishGoogleSafeSearchAnswer(safe_search_);
  // The server answered query 1 (it may still be sending): a forged answer could collide with
  // its bytes, so the rewritten query 2 resets both ends instead.
  feed(tcpPacket("10.0.0.5", "8.8.8.8", 43101, 53, 99, 0, tcp_flags::kSyn));
  auto q1 = tcpDnsQuery(1, "www.example.org");
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "8.8.8.8", 43101, 53, 100, 5000, tcp_flags::kAck, q1)),
            kPass);
  auto q2 = tcpDnsQuery(2, "www.google.com");
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "8.8.8.8", 43101, 53, 100 + uint32_t(q1.size()), 5040,
                           tcp_flags::kAck, q2)),
            kBlockMark);
  ASSERT_EQ(injector_.packets.size(), 2u);
  EXPECT_EQ(injector_.packets[0][33] & tcp_flags::kRst, tcp_flags::kRst);
  EXPECT_EQ(injector_.packets[1][33] & tcp_flags::kRst, tcp_flags::kRst);

  // Not first in its own segment either: the allowed query before it is dropped with the
  // segment, but the rule is the same (only a connection's first query is answered).
  feed(tcpPacket("10.0.0.5", "8.8.8.8", 43102, 53, 99, 0, tcp_flags::kSyn));
  auto both = concat({tcpDnsQuery(3, "www.example.org"), tcpDnsQuery(4, "www.google.com")});
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "8.8.8.8", 43102, 53, 100, 5000, tcp_flags::kAck, both)),
            kBlockMark);
  ASSERT_EQ(injector_.packets.size(), 4u);
  EXPECT_EQ(injector_.packets[2][33] & tcp_flags::kRst, tcp_flags::kRst);
  EXPECT_EQ(inspector_->counters().dns_rewrite_tcp_reset.load(), 2u);
  EXPECT_EQ(inspector_->counters().dns_forged_answers.load(), 0u);
  EXPECT_EQ(inspector_->counters().dns_rewrite_answered.load(), 0u);
}

TEST_F(InlineInspectorTest, DecryptsQuicInitialAndBlocksOnItsSni) {
  auto initial = hex(kRfc9001ClientInitial);
  EXPECT_EQ(feed(udpPacket("10.0.0.5", "192.0.2.30", 6001, 443, initial)), kBlockMark);
  EXPECT_EQ(inspector_->counters().quic_initials.load(), 1u);
  EXPECT_EQ(inspector_->counters().quic_hellos.load(), 1u);
  EXPECT_EQ(inspector_->counters().quic_blocked.load(), 1u);
  EXPECT_TRUE(injector_.packets.empty());  // QUIC is dropped, not reset
}

TEST_F(InlineInspectorTest, GroupCanDropQuicToForceTcp) {
  std::vector<uint8_t> initial(1200, 0);
  initial[0] = 0xc0;
  initial[4] = 0x01;
  EXPECT_EQ(feed(udpPacket("10.0.0.9", "192.0.2.30", 6000, 443, initial)), kBlockMark);
  EXPECT_EQ(inspector_->counters().quic_dropped_by_group.load(), 1u);
}

TEST_F(InlineInspectorTest, Port853IsHandledPerGroupWithOneIncidentPerHour) {
  // "kids": encrypted_dns defaults to block.
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.40", 41000, 853, 1, 0, tcp_flags::kSyn)), kPass);
  auto hello = clientHello("dns.example");
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.40", 41000, 853, 2, 5, tcp_flags::kAck, hello)),
            kBlockMark);
  // "strict-inline": monitor -> allowed and offloaded.
  feed(tcpPacket("10.0.0.9", "192.0.2.40", 41001, 853, 1, 0, tcp_flags::kSyn));
  EXPECT_EQ(feed(tcpPacket("10.0.0.9", "192.0.2.40", 41001, 853, 2, 5, tcp_flags::kAck, hello)),
            kAllowMark);
  EXPECT_EQ(feed(udpPacket("10.0.0.5", "192.0.2.40", 41002, 853, hello)), kBlockMark);
  EXPECT_EQ(inspector_->counters().encrypted_dns.load(), 3u);
  EXPECT_EQ(inspector_->counters().encrypted_dns_blocked.load(), 2u);
}

TEST_F(InlineInspectorTest, TlsToACircumventionListAddressIsBlockedWhateverItsSni) {
  // "kids" (encrypted_dns = block): an innocuous SNI to a listed DoH address is reset.
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.53", 42000, 443, 1, 0, tcp_flags::kSyn)), kPass);
  auto hello = clientHello("www.example.org");
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.53", 42000, 443, 2, 5, tcp_flags::kAck, hello)),
            kBlockMark);
  EXPECT_EQ(injector_.packets.size(), 2u);  // reset both ways
  EXPECT_EQ(inspector_->counters().tls_hellos.load(), 0u);
  // No SNI at all, and IPv6 inside a listed CIDR: the same.
  auto bare = clientHello("");
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.53", 42001, 443, 2, 5, tcp_flags::kAck, bare)),
            kBlockMark);
  EXPECT_EQ(
      feed(tcpPacket("fd00::5", "2001:db8:53:7::1", 42002, 8443, 2, 5, tcp_flags::kAck, hello)),
      kBlockMark);
  // DoH over HTTP/3 to the address: dropped without being decrypted.
  EXPECT_EQ(feed(udpPacket("10.0.0.5", "192.0.2.53", 42003, 443, hex(kRfc9001ClientInitial))),
            kBlockMark);
  EXPECT_EQ(inspector_->counters().quic_initials.load(), 0u);
  EXPECT_EQ(inspector_->counters().doh_address.load(), 4u);
  EXPECT_EQ(inspector_->counters().encrypted_dns_blocked.load(), 4u);
  // One incident per client per hour: the first event of 10.0.0.5 and of fd00::5 count.
  EXPECT_EQ(inspector_->counters().incidents_rate_limited.load(), 2u);
  // Plain DNS to the address is still decided as DNS, not by address.
  std::vector<uint8_t> ok =
      hex("abce0100000100000000000003777777076578616d706c65036f72670000010001");
  EXPECT_EQ(feed(udpPacket("10.0.0.5", "192.0.2.53", 5557, 53, ok)), kPass);
  // An address next to it is not listed.
  feed(tcpPacket("10.0.0.5", "192.0.2.54", 42004, 443, 1, 0, tcp_flags::kSyn));
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.54", 42004, 443, 2, 5, tcp_flags::kAck, hello)),
            kAllowMark);
}

TEST_F(InlineInspectorTest, CircumventionListAddressIsOnlyMonitoredForGroupThatMonitors) {
  auto hello = clientHello("www.example.org");
  // "strict-inline": encrypted_dns = monitor -> allowed and offloaded, counted.
  EXPECT_EQ(feed(tcpPacket("10.0.0.9", "192.0.2.53", 42010, 443, 2, 5, tcp_flags::kAck, hello)),
            kAllowMark);
  EXPECT_TRUE(injector_.packets.empty());
  EXPECT_EQ(inspector_->counters().doh_address.load(), 1u);
  EXPECT_EQ(inspector_->counters().encrypted_dns_blocked.load(), 0u);
}

TEST_F(InlineInspectorTest, UnresolvedDestinationBlockedOnlyForGroupThatAsks) {
  auto hello = clientHello("www.example.org");
  // strict-inline: the proxy never returned 192.0.2.50 to 10.0.0.9 -> blocked.
  EXPECT_EQ(feed(tcpPacket("10.0.0.9", "192.0.2.50", 42000, 443, 1, 1, tcp_flags::kAck, hello)),
            kBlockMark);
  // Once the proxy has answered with that address, the same connection is allowed.
  resolved_.record(ip("10.0.0.9"), ip("192.0.2.50"), kUnixMs / 1000, 60);
  EXPECT_EQ(feed(tcpPacket("10.0.0.9", "192.0.2.50", 42001, 443, 1, 1, tcp_flags::kAck, hello)),
            kAllowMark);
  // kids (unresolved_destination = allow by default) never checks.
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.51", 42002, 443, 1, 1, tcp_flags::kAck, hello)),
            kAllowMark);
  // No SNI at all: the group's unresolved setting.
  auto no_sni = clientHello("");
  EXPECT_EQ(feed(tcpPacket("10.0.0.9", "192.0.2.50", 42003, 443, 1, 1, tcp_flags::kAck, no_sni)),
            kBlockMark);
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.50", 42004, 443, 1, 1, tcp_flags::kAck, no_sni)),
            kAllowMark);
  EXPECT_EQ(inspector_->counters().tls_no_sni.load(), 2u);
}

TEST_F(InlineInspectorTest, EchIsBlockedForGroupThatBlocksItAndJudgedByOuterSniOtherwise) {
  resolved_.record(ip("10.0.0.9"), ip("192.0.2.60"), kUnixMs / 1000, 60);
  auto hello = clientHello("public.example.org", true);
  EXPECT_EQ(feed(tcpPacket("10.0.0.9", "192.0.2.60", 43000, 443, 1, 1, tcp_flags::kAck, hello)),
            kBlockMark);
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.60", 43001, 443, 1, 1, tcp_flags::kAck, hello)),
            kAllowMark);
  EXPECT_EQ(inspector_->counters().tls_ech.load(), 2u);
}

TEST_F(InlineInspectorTest, ServerSpeaksFirstFlowWithOnlyAcksStaysUndecided) {
  // The client only sends ACKs (SSH banner wait, server push): nothing to decide on, and no
  // budget or clock runs out on ACKs alone — they pass unmarked, without a buffer.
  feed(tcpPacket("10.0.0.5", "192.0.2.70", 44000, 22, 0, 0, tcp_flags::kSyn));
  for (int i = 0; i < 40; ++i) {
    advance(1000);
    EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.70", 44000, 22, 1, 1, tcp_flags::kAck)), kPass);
  }
  EXPECT_EQ(inspector_->counters().undecided_default.load(), 0u);
  EXPECT_EQ(inspector_->counters().ignored_empty.load(), 40u);
}

// The keepalive repro: TCP_KEEPIDLE=1/KEEPINTVL=1 to a blocked HTTPS site
// makes the client send empty ACKs and keepalive probes (no data, or one garbage octet at
// SND.UNA - 1) before its ClientHello. They used to spend max_packets_per_flow and the flow
// was offloaded as "allow"; now they pass uncounted and the ClientHello is decided.
TEST_F(InlineInspectorTest, KeepaliveProbesBeforeTheClientHelloDoNotMakeItPass) {
  const size_t free_before = inspector_->flows().buffersFree();
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.10", 46000, 443, 1000, 0, tcp_flags::kSyn)), kPass);
  const std::vector<uint8_t> garbage = {0x00};
  for (int i = 0; i < 30; ++i) {
    advance(1000);
    EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.10", 46000, 443, 1001, 1, tcp_flags::kAck)),
              kPass);
    EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.10", 46000, 443, 1000, 1, tcp_flags::kAck)),
              kPass);
    EXPECT_EQ(
        feed(tcpPacket("10.0.0.5", "192.0.2.10", 46000, 443, 1000, 1, tcp_flags::kAck, garbage)),
        kPass);
  }
  EXPECT_EQ(inspector_->flows().buffersFree(), free_before);  // no buffer taken for any of them
  auto hello = clientHello("www.casino.example");
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.10", 46000, 443, 1001, 1, tcp_flags::kAck, hello)),
            kBlockMark);
  EXPECT_EQ(inspector_->counters().tls_blocked.load(), 1u);
  EXPECT_EQ(inspector_->counters().undecided_default.load(), 0u);
  EXPECT_EQ(inspector_->counters().ignored_keepalive.load(), 30u);
}

TEST_F(InlineInspectorTest, KeepaliveInsideAPartialHelloIsNotAConflict) {
  feed(tcpPacket("10.0.0.5", "192.0.2.10", 46001, 443, 1000, 0, tcp_flags::kSyn));
  auto hello = clientHello("www.casino.example");
  std::span<const uint8_t> h(hello);
  EXPECT_EQ(
      feed(tcpPacket("10.0.0.5", "192.0.2.10", 46001, 443, 1001, 1, tcp_flags::kAck, h.first(30))),
      kPass);
  const std::vector<uint8_t> garbage = {0xee};  // one octet at SND.UNA - 1, not the real one
  EXPECT_EQ(
      feed(tcpPacket("10.0.0.5", "192.0.2.10", 46001, 443, 1001 + 29, 1, tcp_flags::kAck, garbage)),
      kPass);
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.10", 46001, 443, 1001 + 30, 1, tcp_flags::kAck,
                           h.subspan(30))),
            kBlockMark);
}

// Segments the server drops or cannot read before a gap fills (before the stream start, or
// beyond the reassembly window) used to count as well.
TEST_F(InlineInspectorTest, OutOfWindowSegmentsNeitherCountNorTakeABuffer) {
  const size_t free_before = inspector_->flows().buffersFree();
  feed(tcpPacket("10.0.0.5", "192.0.2.10", 46002, 443, 5000, 0, tcp_flags::kSyn));
  std::vector<uint8_t> junk(100, 'x');
  for (int i = 0; i < 20; ++i) {
    // Wholly before the stream, and far beyond the 16 KiB window (within the server's).
    EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.10", 46002, 443, 5001 - 1000, 1, tcp_flags::kAck,
                             junk)),
              kPass);
    EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.10", 46002, 443, 5001 + 40000 + 100 * i, 1,
                             tcp_flags::kAck, junk)),
              kPass);
  }
  EXPECT_EQ(inspector_->flows().buffersFree(), free_before);
  EXPECT_EQ(inspector_->counters().ignored_out_of_window.load(), 20u);
  EXPECT_EQ(inspector_->counters().ignored_keepalive.load(), 20u);
  auto hello = clientHello("bet.example");
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.10", 46002, 443, 5001, 1, tcp_flags::kAck, hello)),
            kBlockMark);
}

TEST_F(InlineInspectorTest, SegmentsBeyondAGapAtTheStartWaitForTheGap) {
  // The tail of a ClientHello first, in many segments; the head last. A packet budget would
  // have offloaded the flow before the head came.
  feed(tcpPacket("10.0.0.5", "192.0.2.10", 46003, 443, 100, 0, tcp_flags::kSyn));
  auto hello = clientHello("www.casino.example");
  std::span<const uint8_t> h(hello);
  for (size_t off = 10; off < hello.size(); off += 4) {
    ASSERT_EQ(
        feed(tcpPacket("10.0.0.5", "192.0.2.10", 46003, 443, 101 + uint32_t(off), 1,
                       tcp_flags::kAck, h.subspan(off, std::min<size_t>(4, hello.size() - off)))),
        kPass);
  }
  EXPECT_EQ(
      feed(tcpPacket("10.0.0.5", "192.0.2.10", 46003, 443, 101, 1, tcp_flags::kAck, h.first(10))),
      kBlockMark);
}

// More disjoint pieces than the assembler tracks: the one too many is held back (dropped), not
// passed unread — else the server could complete a ClientHello the filter never sees.
TEST_F(InlineInspectorTest, SegmentPastTheAssemblersRangesIsHeldBackNotPassedUnread) {
  feed(tcpPacket("10.0.0.5", "192.0.2.10", 46010, 443, 100, 0, tcp_flags::kSyn));
  auto hello = clientHello("www.casino.example");
  std::span<const uint8_t> h(hello);
  const size_t ranges = QuicCryptoAssembler::kMaxRanges;
  ASSERT_GT(hello.size(), 12 + 2 * ranges);
  for (size_t i = 0; i < ranges; ++i) {  // octets 10, 12, 14, ...: each its own range
    ASSERT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.10", 46010, 443, 101 + uint32_t(10 + 2 * i), 1,
                             tcp_flags::kAck, h.subspan(10 + 2 * i, 1))),
              kPass)
        << i;
  }
  const size_t extra = 10 + 2 * ranges;
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.10", 46010, 443, 101 + uint32_t(extra), 1,
                           tcp_flags::kAck, h.subspan(extra, 1)))
                .kind,
            NfqVerdictKind::kDrop);
  EXPECT_EQ(inspector_->counters().stream_too_fragmented.load(), 1u);
  // The sender goes back to its first unacknowledged octet: the whole hello, decided on its SNI.
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.10", 46010, 443, 101, 1, tcp_flags::kAck, h)),
            kBlockMark);
}

std::vector<uint8_t> quicInitialWithFrames(uint8_t pn, std::vector<uint8_t> frames) {
  static const std::vector<uint8_t> dcid = {1, 2, 3, 4, 5, 6, 7, 8};
  auto decryptor = QuicInitialDecryptor::create();
  EXPECT_TRUE(decryptor.isOk());
  frames.resize(std::max<size_t>(frames.size(), 1100), 0);  // PADDING to a full-size Initial
  return sealInitial(**decryptor, kQuicVersion1, dcid, pn, std::move(frames));
}

TEST_F(InlineInspectorTest, QuicCryptoOctetsThatChangeOnRetransmissionAreBlocked) {
  auto record = clientHello("www.example.org");
  std::span<const uint8_t> h = std::span<const uint8_t>(record).subspan(5);  // CRYPTO: no record
  EXPECT_EQ(feed(udpPacket("10.0.0.5", "192.0.2.30", 6010, 443,
                           quicInitialWithFrames(0, cryptoFrame(0, h.first(40))))),
            kPass);
  std::vector<uint8_t> forged(h.begin() + 20, h.end());
  forged[5] ^= 0x55;  // the server could read either version of these octets
  EXPECT_EQ(feed(udpPacket("10.0.0.5", "192.0.2.30", 6010, 443,
                           quicInitialWithFrames(1, cryptoFrame(20, forged)))),
            kBlockMark);
  EXPECT_EQ(inspector_->counters().tls_malformed.load(), 1u);
}

TEST_F(InlineInspectorTest, QuicInitialWithMoreCryptoPiecesThanTrackedIsDropped) {
  auto record = clientHello("www.a-name-long-enough-for-the-pieces.example");
  std::span<const uint8_t> h = std::span<const uint8_t>(record).subspan(5);
  ASSERT_GT(h.size(), 12 + 2 * QuicCryptoAssembler::kMaxRanges);
  std::vector<uint8_t> frames;
  for (size_t i = 0; i <= QuicCryptoAssembler::kMaxRanges; ++i) {  // one piece too many
    auto f = cryptoFrame(10 + 2 * i, h.subspan(10 + 2 * i, 1));
    frames.insert(frames.end(), f.begin(), f.end());
  }
  EXPECT_EQ(feed(udpPacket("10.0.0.5", "192.0.2.30", 6011, 443,
                           quicInitialWithFrames(0, std::move(frames))))
                .kind,
            NfqVerdictKind::kDrop);
  EXPECT_EQ(inspector_->counters().stream_too_fragmented.load(), 1u);
}

// "Same for UDP/443": datagrams that are no QUIC Initial do not spend the flow's budget.
TEST_F(InlineInspectorTest, JunkDatagramsToUdp443DoNotMakeALaterInitialPass) {
  std::vector<uint8_t> junk(1200, 0x5a);
  junk[0] = 0x40;  // short header
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(feed(udpPacket("10.0.0.5", "192.0.2.30", 6002, 443, junk)), kPass);
  }
  EXPECT_EQ(feed(udpPacket("10.0.0.5", "192.0.2.30", 6002, 443, hex(kRfc9001ClientInitial))),
            kBlockMark);
  EXPECT_EQ(inspector_->counters().quic_not_initial.load(), 20u);
  EXPECT_EQ(inspector_->counters().quic_blocked.load(), 1u);
}

TEST_F(InlineInspectorTest, FlowThatSentDataTakesGroupDefaultAfterTheUndecidedTimeout) {
  auto hello = clientHello("www.example.org");
  std::span<const uint8_t> h(hello);
  // kids (unresolved_destination = allow) and strict-inline (block), both stuck mid-hello.
  feed(tcpPacket("10.0.0.5", "192.0.2.71", 44001, 443, 1, 1, tcp_flags::kAck, h.first(20)));
  feed(tcpPacket("10.0.0.9", "192.0.2.71", 44002, 443, 1, 1, tcp_flags::kAck, h.first(20)));
  advance(options_.undecided_timeout_ms - 10);
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.71", 44001, 443, 21, 1, tcp_flags::kAck)), kPass);
  advance(10);
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.71", 44001, 443, 21, 1, tcp_flags::kAck)),
            kAllowMark);
  EXPECT_EQ(feed(tcpPacket("10.0.0.9", "192.0.2.71", 44002, 443, 21, 1, tcp_flags::kAck)),
            kBlockMark);
  EXPECT_EQ(inspector_->counters().undecided_timeout.load(), 2u);
  // UDP 443 that never completes an Initial: the same clock.
  std::vector<uint8_t> junk(1200, 0x5a);
  junk[0] = 0x40;
  feed(udpPacket("10.0.0.9", "192.0.2.72", 6003, 443, junk));
  advance(options_.undecided_timeout_ms);
  EXPECT_EQ(feed(udpPacket("10.0.0.9", "192.0.2.72", 6003, 443, junk)), kBlockMark);
}

TEST_F(InlineInspectorTest, TimedOutHelloIsDecidedByItsSniIfItShowedOne) {
  // server_name whole, the ECH extension after it cut short.
  auto hello = clientHello("www.casino.example", true);
  std::span<const uint8_t> h(hello);
  feed(tcpPacket("10.0.0.5", "192.0.2.73", 44003, 443, 1, 1, tcp_flags::kAck,
                 h.first(hello.size() - 2)));
  advance(options_.undecided_timeout_ms);
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.73", 44003, 443, 1, 1, tcp_flags::kAck)),
            kBlockMark);
  EXPECT_EQ(inspector_->counters().partial_hello_by_sni.load(), 1u);
}

TEST_F(InlineInspectorTest, FlowPickedUpWithoutItsSynIsNotAllowedOnADecoy) {
  // No SYN seen (the entry idled out): a decoy segment that is no protocol safegate reads
  // could sit at a sequence number the server drops. strict-inline: unresolved -> block.
  std::vector<uint8_t> decoy(200, 'z');
  EXPECT_EQ(feed(tcpPacket("10.0.0.9", "192.0.2.74", 44004, 443, 777, 1, tcp_flags::kAck, decoy)),
            kBlockMark);
  // A one-octet first segment (a keepalive) is not taken as the stream start at all.
  const std::vector<uint8_t> one = {0};
  EXPECT_EQ(feed(tcpPacket("10.0.0.9", "192.0.2.74", 44005, 443, 777, 1, tcp_flags::kAck, one)),
            kPass);
  auto hello = clientHello("www.casino.example");
  EXPECT_EQ(feed(tcpPacket("10.0.0.9", "192.0.2.74", 44005, 443, 778, 1, tcp_flags::kAck, hello)),
            kBlockMark);
}

// A ClientHello record for `sni` whose padding extension (RFC 7685) of `padding` octets comes
// before or after the server_name, split into TLS records of at most 16 KiB.
std::vector<uint8_t> paddedHello(std::string_view sni, size_t padding, bool sni_first) {
  auto u16 = [](std::vector<uint8_t>& v, size_t x) {
    v.push_back(uint8_t(x >> 8));
    v.push_back(uint8_t(x));
  };
  std::vector<uint8_t> name_ext, pad_ext, ext;
  u16(name_ext, 0);
  u16(name_ext, sni.size() + 5);
  u16(name_ext, sni.size() + 3);
  name_ext.push_back(0);
  u16(name_ext, sni.size());
  name_ext.insert(name_ext.end(), sni.begin(), sni.end());
  u16(pad_ext, 21);
  u16(pad_ext, padding);
  pad_ext.resize(pad_ext.size() + padding, 0);
  ext = sni_first ? concat({name_ext, pad_ext}) : concat({pad_ext, name_ext});
  std::vector<uint8_t> body = {0x03, 0x03};
  body.resize(2 + 32, 0x11);
  body.push_back(0);
  u16(body, 2);
  u16(body, 0x1301);
  body.push_back(1);
  body.push_back(0);
  u16(body, ext.size());
  body.insert(body.end(), ext.begin(), ext.end());
  std::vector<uint8_t> msg = {0x01, uint8_t(body.size() >> 16), uint8_t(body.size() >> 8),
                              uint8_t(body.size())};
  msg.insert(msg.end(), body.begin(), body.end());
  std::vector<uint8_t> out;
  for (size_t off = 0; off < msg.size(); off += 16384) {
    size_t n = std::min<size_t>(16384, msg.size() - off);
    out.insert(out.end(), {0x16, 0x03, 0x01});
    u16(out, n);
    out.insert(out.end(), msg.begin() + off, msg.begin() + off + n);
  }
  return out;
}

// A ClientHello over 16 KiB used to be "unresolved" (allowed by default).
TEST_F(InlineInspectorTest, OversizeHelloIsDecidedByItsSniOnceSeen) {
  auto hello = paddedHello("www.casino.example", 40000, true);
  std::span<const uint8_t> h(hello);
  feed(tcpPacket("10.0.0.5", "192.0.2.90", 47000, 443, 0, 0, tcp_flags::kSyn));
  NfqVerdict v = kPass;
  size_t off = 0;
  for (; off < hello.size() && v == kPass; off += 1400) {
    v = feed(tcpPacket("10.0.0.5", "192.0.2.90", 47000, 443, 1 + uint32_t(off), 1, tcp_flags::kAck,
                       h.subspan(off, std::min<size_t>(1400, hello.size() - off))));
  }
  EXPECT_EQ(v, kBlockMark);
  EXPECT_EQ(off, 1400u);  // the SNI is in the first segment
  EXPECT_EQ(inspector_->counters().tls_oversize.load(), 1u);
  EXPECT_EQ(inspector_->counters().partial_hello_by_sni.load(), 1u);
}

TEST_F(InlineInspectorTest, OversizeHelloWithoutSniInTheWindowTakesUnresolvedDestination) {
  auto hello = paddedHello("www.example.org", 40000, false);
  std::span<const uint8_t> h(hello);
  for (const char* client : {"10.0.0.9", "10.0.0.5"}) {  // strict-inline: block; kids: allow
    feed(tcpPacket(client, "192.0.2.91", 47001, 443, 0, 0, tcp_flags::kSyn));
    NfqVerdict v = kPass;
    for (size_t off = 0; off < hello.size() && v == kPass; off += 1400) {
      v = feed(tcpPacket(client, "192.0.2.91", 47001, 443, 1 + uint32_t(off), 1, tcp_flags::kAck,
                         h.subspan(off, std::min<size_t>(1400, hello.size() - off))));
    }
    EXPECT_EQ(v, std::string_view(client) == "10.0.0.9" ? kBlockMark : kAllowMark) << client;
  }
  EXPECT_EQ(inspector_->counters().partial_hello_unresolved.load(), 2u);
}

TEST_F(InlineInspectorTest, HelloWithARecordVersionAbove0304IsStillDecided) {
  auto hello = clientHello("www.casino.example");
  hello[1] = 0x03;
  hello[2] = 0x05;
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.92", 47002, 443, 1, 1, tcp_flags::kAck, hello)),
            kBlockMark);
  hello[1] = 0x7f;
  EXPECT_EQ(feed(tcpPacket("10.0.0.5", "192.0.2.92", 47003, 443, 1, 1, tcp_flags::kAck, hello)),
            kBlockMark);
  EXPECT_EQ(inspector_->counters().tls_blocked.load(), 2u);
}

// 256 idle connections that sent "\x16\x03\x01" used to take every buffer of
// the worker's pool, and every other client's hello then failed open.
TEST_F(InlineInspectorTest, OneClientsIdleFlowsDoNotMakeAnotherClientsHelloPass) {
  options_.reassembly_buffers = 256;
  options_.reassembly_buffers_per_client = 32;
  makeInspector();
  const std::vector<uint8_t> start = {0x16, 0x03, 0x01};
  for (uint16_t i = 0; i < 300; ++i) {
    feed(tcpPacket("10.0.0.66", "192.0.2.93", uint16_t(20000 + i), 443, 0, 0, tcp_flags::kSyn));
    EXPECT_EQ(feed(tcpPacket("10.0.0.66", "192.0.2.93", uint16_t(20000 + i), 443, 1, 1,
                             tcp_flags::kAck, start)),
              kPass);
  }
  EXPECT_EQ(inspector_->flows().buffersHeldBy(ip("10.0.0.66")), 32u);
  EXPECT_EQ(inspector_->flows().buffersFree(), 256u - 32u);
  EXPECT_EQ(inspector_->counters().overload_fail_open.load(), 0u);
  // Another client's blocked hello in two segments (it needs a buffer): blocked.
  auto hello = clientHello("www.casino.example");
  std::span<const uint8_t> h(hello);
  feed(tcpPacket("10.0.0.5", "192.0.2.94", 47004, 443, 0, 0, tcp_flags::kSyn));
  EXPECT_EQ(
      feed(tcpPacket("10.0.0.5", "192.0.2.94", 47004, 443, 1, 1, tcp_flags::kAck, h.first(20))),
      kPass);
  EXPECT_EQ(
      feed(tcpPacket("10.0.0.5", "192.0.2.94", 47004, 443, 21, 1, tcp_flags::kAck, h.subspan(20))),
      kBlockMark);
  // The attacker's own new flow is still inspected: it takes the attacker's oldest buffer.
  feed(tcpPacket("10.0.0.66", "192.0.2.94", 47005, 443, 0, 0, tcp_flags::kSyn));
  EXPECT_EQ(
      feed(tcpPacket("10.0.0.66", "192.0.2.94", 47005, 443, 1, 1, tcp_flags::kAck, h.first(20))),
      kPass);
  EXPECT_EQ(
      feed(tcpPacket("10.0.0.66", "192.0.2.94", 47005, 443, 21, 1, tcp_flags::kAck, h.subspan(20))),
      kBlockMark);
  // An evicted flow is decided at its next packet by its group's unresolved_destination
  // (kids: allow), counted.
  EXPECT_EQ(feed(tcpPacket("10.0.0.66", "192.0.2.93", 20000, 443, 4, 1, tcp_flags::kAck)),
            kAllowMark);
  EXPECT_EQ(inspector_->counters().buffer_evicted.load(), 1u);
}

TEST_F(InlineInspectorTest, SweepTakesBackBuffersOfFlowsUndecidedTooLong) {
  const size_t free_before = inspector_->flows().buffersFree();
  const std::vector<uint8_t> start = {0x16, 0x03, 0x01};
  for (uint16_t i = 0; i < 10; ++i) {
    feed(tcpPacket("10.0.0.9", "192.0.2.95", uint16_t(21000 + i), 443, 0, 0, tcp_flags::kSyn));
    feed(tcpPacket("10.0.0.9", "192.0.2.95", uint16_t(21000 + i), 443, 1, 1, tcp_flags::kAck,
                   start));
  }
  EXPECT_EQ(inspector_->flows().buffersFree(), free_before - 10);
  advance(options_.undecided_timeout_ms);
  for (size_t i = 0; i < inspector_->flows().capacity() / options_.sweep_slots + 1; ++i) {
    inspector_->onIdle(mono_ms_);
  }
  EXPECT_EQ(inspector_->flows().buffersFree(), free_before);
  // Their next packet: strict-inline's unresolved_destination (block).
  EXPECT_EQ(feed(tcpPacket("10.0.0.9", "192.0.2.95", 21000, 443, 4, 1, tcp_flags::kAck)),
            kBlockMark);
  EXPECT_EQ(inspector_->counters().buffer_aged.load(), 1u);
}

TEST_F(InlineInspectorTest, OtherUdpIsOffloadedAtOnceAndIcmpPasses) {
  std::vector<uint8_t> data = {1, 2, 3};
  EXPECT_EQ(feed(udpPacket("10.0.0.5", "192.0.2.80", 5000, 3478, data)), kAllowMark);
  std::vector<uint8_t> icmp =
      hex("450000540000400040010000"
          "0a000005c0000250"
          "0800f7ff00000000");
  EXPECT_EQ(feed(icmp), kPass);
}

TEST_F(InlineInspectorTest, IpV6TlsIsDecidedToo) {
  auto hello = clientHello("casino.example");
  EXPECT_EQ(feed(tcpPacket("fd00::5", "2001:db8::10", 45000, 443, 1, 1, tcp_flags::kAck, hello)),
            kBlockMark);
  ASSERT_EQ(injector_.packets.size(), 2u);
  EXPECT_EQ(injector_.packets[0][0] >> 4, 6);
}

}  // namespace
}  // namespace safegate
