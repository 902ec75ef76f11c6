// The DNS, HTTP and TLS parsers against real captures (../shared/data/pcaps), checked against
// what tshark found in them (INDEX.tsv): every DNS name/qtype/rcode, every SNI and ALPN, every
// HTTP request; and the malformed captures must be rejected with the right status.
//
// Frames come from tests/support/pcap_reader.h, IP/UDP/TCP from filters/packet.h, TCP streams
// are put back in order with the QuicCryptoAssembler (filters/quic_initial.h), as the inline
// inspector does.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "filters/dns_message.h"
#include "filters/http_request.h"
#include "filters/packet.h"
#include "filters/quic_initial.h"
#include "filters/tls_client_hello.h"
#include "tests/support/pcap_reader.h"
#include "tests/support/shared_data.h"

namespace safegate {
namespace {

using testing::PcapFile;

// One row of INDEX.tsv, by column name.
using IndexRow = std::map<std::string, std::string>;

std::map<std::string, IndexRow> readIndex(const std::filesystem::path& tsv) {
  std::map<std::string, IndexRow> rows;
  std::ifstream in(tsv);
  std::string line;
  std::vector<std::string> header;
  auto split = [](const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string f;
    while (std::getline(ss, f, '\t')) out.push_back(f);
    return out;
  };
  if (std::getline(in, line)) header = split(line);
  while (std::getline(in, line)) {
    auto fields = split(line);
    IndexRow row;
    for (size_t i = 0; i < header.size() && i < fields.size(); ++i) row[header[i]] = fields[i];
    rows[fields.at(0)] = row;
  }
  return rows;
}

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string w;
  while (ss >> w) out.push_back(w);
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The client-to-server (or any) TCP byte streams of a capture, one per direction, in order:
// the first QuicCryptoAssembler::kCapacity octets, the window the inline inspector reads.
struct TcpStream {
  uint16_t src_port = 0, dst_port = 0;
  bool started = false;
  uint32_t first_seq = 0;  // sequence number of the stream's first octet (ISN + 1)
  std::unique_ptr<QuicCryptoAssembler> buffer = std::make_unique<QuicCryptoAssembler>();
  // The first thing that went wrong: kCryptoOverflow (octets past the window; what fits is
  // kept), kCryptoConflict (a retransmission with different octets), kTooFragmented.
  QuicStatus worst = QuicStatus::kOk;

  void start(uint32_t seq) {
    started = true;
    first_seq = seq;
    buffer->reset();
    worst = QuicStatus::kOk;
  }
  // Places a segment at its offset from the first octet, as daemon/inline/inline_inspector.cc does.
  void add(uint32_t seq, std::span<const uint8_t> payload) {
    // Serial-number distance (RFC 9293 §3.4, RFC 1982): octets before the start are dropped.
    const auto distance = static_cast<int32_t>(seq - first_seq);
    size_t offset = 0;
    if (distance < 0) {
      const auto before = static_cast<size_t>(-static_cast<int64_t>(distance));
      if (payload.size() <= before) return;
      payload = payload.subspan(before);
    } else {
      offset = static_cast<size_t>(distance);
    }
    QuicStatus st = QuicStatus::kOk;
    if (offset >= QuicCryptoAssembler::kCapacity) {
      st = QuicStatus::kCryptoOverflow;
    } else {
      const size_t room = QuicCryptoAssembler::kCapacity - offset;
      if (payload.size() > room) {
        payload = payload.first(room);
        st = QuicStatus::kCryptoOverflow;
      }
      const QuicStatus placed = buffer->add(offset, payload);
      if (placed != QuicStatus::kOk) st = placed;
    }
    if (worst == QuicStatus::kOk) worst = st;
  }
};

struct CaptureContents {
  std::vector<std::span<const uint8_t>> udp_payloads;  // with ports
  std::vector<std::pair<uint16_t, uint16_t>> udp_ports;
  std::vector<TcpStream> tcp;
};

std::string flowKey(const PacketView& p) {
  return p.src.toString() + ":" + std::to_string(p.src_port) + ">" + p.dst.toString() + ":" +
         std::to_string(p.dst_port);
}

CaptureContents readCapture(const PcapFile& pcap) {
  CaptureContents c;
  std::map<std::string, size_t> index;
  for (const auto& f : pcap.ipFrames()) {
    PacketView p = parsePacket(f.ip);
    if (p.ok() && p.isUdp() && p.udp_length == 8 &&
        p.ip_packet.size() > size_t{p.ip_header_length} + 8) {
      // The dns-zlip captures (compression-loop PoCs from 2000) carry a UDP length of 8, so
      // by the UDP header the datagram is empty; the DNS message is the rest of the IP
      // packet, which is what the PoC meant a server to read.
      c.udp_payloads.push_back(p.ip_packet.subspan(p.ip_header_length + 8));
      c.udp_ports.emplace_back(p.src_port, p.dst_port);
      continue;
    }
    if (!p.ok() || !p.has_ports) continue;
    if (p.isUdp()) {
      c.udp_payloads.push_back(p.payload);
      c.udp_ports.emplace_back(p.src_port, p.dst_port);
      continue;
    }
    if (!p.isTcp()) continue;
    const std::string key = flowKey(p);
    auto it = index.find(key);
    if (it == index.end()) {
      it = index.emplace(key, c.tcp.size()).first;
      c.tcp.emplace_back();
      c.tcp.back().src_port = p.src_port;
      c.tcp.back().dst_port = p.dst_port;
    }
    TcpStream& s = c.tcp[it->second];
    if (p.tcp_flags & tcp_flag::kSyn) {
      s.start(p.tcp_seq + 1);
      continue;
    }
    if (p.payload.empty()) continue;
    if (!s.started) s.start(p.tcp_seq);  // capture began mid-connection
    s.add(p.tcp_seq, p.payload);
  }
  return c;
}

// ---------------------------------------------------------------------------------------------
// DNS

struct DnsSeen {
  std::set<std::string> queries;        // "name/qtype/"
  std::set<std::string> responses;      // "name/qtype/rcode"
  std::map<std::string, int> failures;  // "query:status" / "response:status" -> count
  int records = 0;
};

// 53, and the ports the captures' authors ran their test servers on (tcpdump's 8053,
// suricata-verify's 5353 and 1053).
bool isDnsPort(uint16_t p) { return p == 53 || p == 8053 || p == 5353 || p == 1053; }

void inspectDns(std::span<const uint8_t> msg, DnsSeen& seen) {
  if (msg.size() < kDnsHeaderSize) {
    seen.failures["short"]++;
    return;
  }
  const bool is_response = msg[2] & 0x80;
  NameBuffer name;
  if (!is_response) {
    DnsQuery q;
    DnsParseStatus s = parseDnsQuery(msg, q, name);
    if (s == DnsParseStatus::kOk) {
      seen.queries.insert(std::string(q.question.name) + "/" + std::to_string(q.question.qtype) +
                          "/");
    } else {
      seen.failures["query:" + std::string(dnsParseStatusName(s))]++;
      // An opcode we do not filter still has a readable question; note it for the comparison.
      if (s == DnsParseStatus::kBadOpcode) {
        size_t next = 0;
        if (readDnsName(msg, kDnsHeaderSize, name, next) == DnsParseStatus::kOk &&
            next + 4 <= msg.size()) {
          seen.queries.insert(std::string(name.view()) + "/" +
                              std::to_string((msg[next] << 8) | msg[next + 1]) + "/");
        }
      }
    }
    return;
  }
  DnsResponseView view(msg, name);
  if (view.status() != DnsParseStatus::kOk) {
    seen.failures["response:" + std::string(dnsParseStatusName(view.status()))]++;
    return;
  }
  seen.responses.insert(std::string(view.question().name) + "/" +
                        std::to_string(view.question().qtype) + "/" +
                        std::to_string(view.header().rcode()));
  NameBuffer rn, target;
  while (auto r = view.next(rn)) {
    ++seen.records;
    if (r->type == dns_type::kCname) {
      EXPECT_EQ(view.cnameTarget(*r, target), DnsParseStatus::kOk);
    }
  }
  if (view.status() != DnsParseStatus::kOk) {
    seen.failures["records:" + std::string(dnsParseStatusName(view.status()))]++;
  }
}

DnsSeen inspectDnsCapture(const std::filesystem::path& path) {
  auto pcap = PcapFile::open(path);
  EXPECT_TRUE(pcap.isOk()) << path;
  DnsSeen seen;
  if (!pcap.isOk()) return seen;
  CaptureContents c = readCapture(pcap.value());
  for (size_t i = 0; i < c.udp_payloads.size(); ++i) {
    if (isDnsPort(c.udp_ports[i].first) || isDnsPort(c.udp_ports[i].second)) {
      inspectDns(c.udp_payloads[i], seen);
    }
  }
  for (const TcpStream& s : c.tcp) {
    if (!isDnsPort(s.src_port) && !isDnsPort(s.dst_port)) continue;
    // The inline inspector would not read such a stream whole (DnsTcpStatus::kOverCap or
    // kAmbiguous), so a well-formed capture must not have one.
    if (s.worst != QuicStatus::kOk) seen.failures["tcp:" + std::string(quicStatusName(s.worst))]++;
    // RFC 1035 §4.2.2 / RFC 7766 §8: each message is prefixed by a two-octet length.
    std::span<const uint8_t> rest = s.buffer->contiguous();
    while (rest.size() >= 2) {
      const size_t len = (size_t{rest[0]} << 8) | rest[1];
      if (rest.size() - 2 < len) break;  // incomplete (a gap, or the capture ends)
      inspectDns(rest.subspan(2, len), seen);
      rest = rest.subspan(2 + len);
    }
  }
  return seen;
}

// The Q:/R: entries of INDEX.tsv in our form (lower case, root as ""); `complete` is false when
// tshark's list was cut (INDEX.tsv stops a column at ~640 characters).
struct IndexDns {
  std::set<std::string> queries, responses;
  bool complete = true;
};

IndexDns indexDns(const IndexRow& row) {
  IndexDns out;
  const std::string col = row.at("dns_queries(name/type/rcode)");
  if (col.size() > 600) out.complete = false;
  for (const std::string& w : words(col)) {
    if (w.size() < 2) continue;
    std::string entry = w.substr(2);
    if (entry.starts_with("<Root>")) entry = entry.substr(6);
    if (entry.find("<Name too long>") != std::string::npos) continue;
    // A Q: entry ends with '/', an R: entry with the rcode; a cut-off token has neither form.
    const size_t slashes = std::count(entry.begin(), entry.end(), '/');
    if (slashes < 2) continue;
    if (entry.starts_with("//")) continue;  // tshark's view of a non-DNS datagram ("Q://")
    (w[0] == 'Q' ? out.queries : out.responses).insert(lower(entry));
  }
  return out;
}

class DnsCaptureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DnsCaptureTest, ParsedNamesTypesAndRcodesMatchIndex) {
  const auto dir = SAFEGATE_SHARED_DATA_OR_SKIP("pcaps");
  const std::string rel = GetParam();
  const auto slash = rel.find('/');
  const auto rows = readIndex(dir / rel.substr(0, slash) / "INDEX.tsv");
  const IndexRow& row = rows.at(rel.substr(slash + 1));
  const IndexDns expected = indexDns(row);
  const DnsSeen seen = inspectDnsCapture(dir / rel);
  IndexDns want = expected;
  // tcpdump's dns_udp_2 captured the response with a 98-octet snap length (266 on the wire):
  // the IP packet is cut, so there is no whole datagram to read.
  if (rel.ends_with("dns_udp_2.pcap")) want.responses.clear();
  if (expected.complete) {
    EXPECT_EQ(seen.queries, want.queries) << rel;
    EXPECT_EQ(seen.responses, want.responses) << rel;
  } else {
    for (const auto& q : expected.queries) EXPECT_TRUE(seen.queries.count(q)) << rel << " " << q;
  }
  EXPECT_FALSE(seen.queries.empty() && seen.responses.empty()) << rel;
  // Well-formed captures: nothing we could not read, except the documented odd ones.
  std::map<std::string, int> allowed_failures;
  if (rel.ends_with("dns-udp-invalid-opcode.pcap")) allowed_failures["query:bad-opcode"] = 1;
  // A DNS UPDATE (opcode 5) whose zone section tshark lists as an SOA question.
  if (rel.ends_with("dns-tcp-answer-emptydata.pcap")) allowed_failures["query:bad-opcode"] = 1;
  if (rel.ends_with("dns-udp-notify-opcode.pcap")) allowed_failures["query:bad-opcode"] = 1;
  if (rel.ends_with("dns-udp-junk-request-first.pcap")) {
    // An SNMP request sent to port 53, and the server's answer to it.
    allowed_failures["query:bad-question-count"] = 1;
    allowed_failures["response:bad-question-count"] = 1;
  }
  EXPECT_EQ(seen.failures, allowed_failures) << rel;
}

INSTANTIATE_TEST_SUITE_P(
    RealCaptures, DnsCaptureTest,
    ::testing::Values(
        "suricata-verify/dns-rawip-srv.pcap", "suricata-verify/dns-tcp-answer-emptydata.pcap",
        "suricata-verify/dns-tcp-incomplete.pcap", "suricata-verify/dns-tcp-ts-gap.pcap",
        "suricata-verify/dns-tcp-www-google-com.pcap", "suricata-verify/dns-udp-bbc-co-uk.pcap",
        "suricata-verify/dns-udp-cname-additionals.pcap",
        "suricata-verify/dns-udp-double-request-response.pcap",
        "suricata-verify/dns-udp-google-a-aaaa-mx.pcap", "suricata-verify/dns-udp-https-rr.pcap",
        "suricata-verify/dns-udp-invalid-opcode.pcap",
        "suricata-verify/dns-udp-junk-request-first.pcap",
        "suricata-verify/dns-udp-notify-opcode.pcap", "suricata-verify/dns-udp-null-rr-tunnel.pcap",
        "suricata-verify/dns-udp-nxdomain-soa.pcap", "suricata-verify/dns-udp-ptr.pcap",
        "suricata-verify/dns-udp-response-before-request.pcap",
        "suricata-verify/dns-udp-single-request.pcap",
        "suricata-verify/dns-udp-subdomains-evil.pcap",
        "suricata-verify/dns-udp-tunnel-iodine-like.pcap", "suricata-verify/dns-udp-txt.pcap",
        "suricata-verify/dns-udp-unsolicited-response.pcap", "suricata-verify/dns-udp-z-bit.pcap",
        "suricata-verify/dns-udp-z-flag.pcap", "tcpdump/dns-badcookie.pcap",
        "tcpdump/dns-badvers.pcap", "tcpdump/dns-uri.pcap", "tcpdump/dns_tcp.pcap",
        "tcpdump/dns_udp.pcap", "tcpdump/dns_udp_2.pcap", "tcpdump/dns_udp_8053.pcap",
        "tcpdump/dnssec.pcap", "tcpdump/edns-opts.pcap"),
    [](const auto& info) {
      std::string n = info.param.substr(info.param.find('/') + 1);
      n = n.substr(0, n.size() - 5);
      for (char& c : n) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return n;
    });

TEST(DnsCaptureTest, NonStandardPortTcpCaptureHoldsTheSameExchangeAsPort53) {
  const auto dir = SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/tcpdump");
  // tshark does not decode port 8053 over TCP, so INDEX.tsv is silent; it is dns_tcp's exchange.
  DnsSeen seen = inspectDnsCapture(dir / "dns_tcp_8053.pcap");
  EXPECT_EQ(seen.queries, (std::set<std::string>{"www.tcpdump.org/1/"}));
  EXPECT_EQ(seen.responses, (std::set<std::string>{"www.tcpdump.org/1/0"}));
  EXPECT_TRUE(seen.failures.empty());
}

TEST(DnsCaptureTest, PppCaptureWithBrokenIpHeaderYieldsNothing) {
  const auto dir = SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/tcpdump");
  // tcpdump's own decoding of this frame: "IP [total length 49441 > length 348] (invalid)".
  DnsSeen seen = inspectDnsCapture(dir / "ppp_ip_udp_dns.pcap");
  EXPECT_TRUE(seen.queries.empty());
  EXPECT_TRUE(seen.responses.empty());
  EXPECT_TRUE(seen.failures.empty());
}

TEST(DnsCaptureTest, CompressionLoopCapturesAreRejected) {
  const auto dir = SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/tcpdump");
  for (const char* f : {"dns-zlip-1.pcap", "dns-zlip-2.pcap", "dns-zlip-3.pcap"}) {
    DnsSeen seen = inspectDnsCapture(dir / f);
    EXPECT_TRUE(seen.queries.empty()) << f;
    EXPECT_TRUE(seen.responses.empty()) << f;
    // zlip-1 and -2 loop; zlip-3's pointers run forwards, which are followed, until the name
    // passes 255 octets.
    const std::string expected =
        std::string_view(f) == "dns-zlip-3.pcap" ? "query:bad-name" : "query:compression-loop";
    EXPECT_EQ(seen.failures, (std::map<std::string, int>{{expected, 1}})) << f;
  }
}

TEST(DnsCaptureTest, OverlongNameCapturesAreRejected) {
  const auto dir = SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/tcpdump");
  for (const char* f : {"dns-badlabel.pcap", "dns_fwdptr.pcap"}) {
    // 63 KB responses whose header counts are garbage (QDCOUNT 64259) and whose first name is
    // a chain of pointers tshark reports as "<Name too long>".
    DnsSeen seen = inspectDnsCapture(dir / f);
    EXPECT_TRUE(seen.responses.empty()) << f;
    EXPECT_EQ(seen.failures, (std::map<std::string, int>{{"response:bad-question-count", 1}})) << f;
    auto pcap = PcapFile::open(dir / f);
    ASSERT_TRUE(pcap.isOk());
    CaptureContents c = readCapture(pcap.value());
    ASSERT_EQ(c.udp_payloads.size(), 1u);
    NameBuffer name;
    size_t next = 0;
    // badlabel's first name runs past 255 octets; so does fwdptr's, through forward pointers.
    EXPECT_EQ(readDnsName(c.udp_payloads[0], kDnsHeaderSize, name, next), DnsParseStatus::kBadName)
        << f;
    // Every offset of the message: no name read may run over 255 octets or loop.
    for (size_t off = 0; off < c.udp_payloads[0].size(); off += 7) {
      if (readDnsName(c.udp_payloads[0], off, name, next) == DnsParseStatus::kOk) {
        EXPECT_LE(name.length, sizeof(name.data));
        EXPECT_GT(next, off);
      }
    }
  }
}

TEST(DnsCaptureTest, TruncatedRnameCaptureIsRejectedWithoutCrash) {
  const auto dir = SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/suricata-verify");
  // Redmine 7280 PoC: a 16 KB TCP "query" claiming 1500 questions. Its 16,773 octets (plus
  // the length prefix) do not fit in the 16 KiB window, as the inline inspector would find.
  DnsSeen seen = inspectDnsCapture(dir / "dns-tcp-truncated-rname-malformed.pcap");
  EXPECT_TRUE(seen.queries.empty());
  EXPECT_EQ(seen.failures, (std::map<std::string, int>{{"tcp:crypto-overflow", 1}}));
  // The part that fits already says what the message is: the header claims 1500 questions.
  auto pcap = PcapFile::open(dir / "dns-tcp-truncated-rname-malformed.pcap");
  ASSERT_TRUE(pcap.isOk());
  CaptureContents c = readCapture(pcap.value());
  const auto query = std::find_if(c.tcp.begin(), c.tcp.end(),
                                  [](const TcpStream& s) { return s.dst_port == 1053; });
  ASSERT_NE(query, c.tcp.end());
  EXPECT_EQ(query->worst, QuicStatus::kCryptoOverflow);
  const std::span<const uint8_t> held = query->buffer->contiguous();
  ASSERT_EQ(held.size(), QuicCryptoAssembler::kCapacity);
  EXPECT_EQ((size_t{held[0]} << 8) | held[1], 16773u);
  DnsQuery q;
  NameBuffer name;
  EXPECT_EQ(parseDnsQuery(held.subspan(2), q, name), DnsParseStatus::kBadQuestionCount);
}

// ---------------------------------------------------------------------------------------------
// TLS

struct TlsSeen {
  std::set<std::string> snis, alpns;
  int hellos = 0, no_sni = 0, ech = 0;
  std::map<std::string, int> failures;
};

TlsSeen inspectTlsCapture(const std::filesystem::path& path) {
  auto pcap = PcapFile::open(path);
  EXPECT_TRUE(pcap.isOk()) << path;
  TlsSeen seen;
  if (!pcap.isOk()) return seen;
  CaptureContents c = readCapture(pcap.value());
  static std::array<uint8_t, kMaxClientHelloLength> scratch;
  for (const TcpStream& s : c.tcp) {
    auto stream = s.buffer->contiguous();
    if (stream.empty() || stream[0] != 22) continue;
    TlsClientHello ch;
    TlsParseStatus st = parseTlsClientHello(stream, scratch, ch);
    if (st == TlsParseStatus::kMalformed && stream.size() > 5 && stream[5] == 2)
      continue;  // server
    if (st != TlsParseStatus::kComplete) {
      seen.failures[std::string(tlsParseStatusName(st))]++;
      continue;
    }
    ++seen.hellos;
    if (ch.has_sni) {
      seen.snis.insert(std::string(ch.sni));
    } else {
      ++seen.no_sni;
    }
    if (ch.has_ech) ++seen.ech;
    for (auto p : ch.alpnProtocols()) seen.alpns.insert(std::string(p));
  }
  return seen;
}

std::set<std::string> wordSet(const std::string& s) {
  auto w = words(s);
  return {w.begin(), w.end()};
}

class TlsCaptureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TlsCaptureTest, SniAlpnAndEchMatchIndex) {
  const auto dir = SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/suricata-verify");
  const auto rows = readIndex(dir / "INDEX.tsv");
  const IndexRow& row = rows.at(GetParam());
  const TlsSeen seen = inspectTlsCapture(dir / GetParam());
  EXPECT_GE(seen.hellos, 1);
  EXPECT_TRUE(seen.failures.empty()) << GetParam();
  EXPECT_EQ(seen.snis, wordSet(row.at("tls_sni"))) << GetParam();
  EXPECT_EQ(seen.alpns, wordSet(row.at("alpn"))) << GetParam();
  EXPECT_EQ(seen.ech > 0, row.at("ech_ext_frames") != "0") << GetParam();
}

INSTANTIATE_TEST_SUITE_P(RealCaptures, TlsCaptureTest,
                         ::testing::Values("tls-clienthello-no-sni.pcap",
                                           "tls-duplicate-clienthello.pcap",
                                           "tls-ipv6-sni-example-com.pcap", "tls12-sni-apple.pcap",
                                           "tls13-draft28-ipv6.pcap"),
                         [](const auto& info) {
                           std::string n = info.param.substr(0, info.param.size() - 5);
                           for (char& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

TEST(TlsCaptureTest, HelloWithoutSniIsReportedAsSuch) {
  const auto dir = SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/suricata-verify");
  const TlsSeen seen = inspectTlsCapture(dir / "tls-clienthello-no-sni.pcap");
  EXPECT_GE(seen.no_sni, 1);
  EXPECT_TRUE(seen.snis.empty());
}

TEST(TlsCaptureTest, TcpHalfOfTheQuicAndTlsCaptureNamesCloudflare) {
  const auto dir = SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/suricata-verify");
  const TlsSeen seen = inspectTlsCapture(dir / "quic-and-tls-ipv6-cloudflare.pcap");
  EXPECT_EQ(seen.snis, (std::set<std::string>{"cloudflare-quic.com"}));
  // The TCP connections offer h2 and http/1.1; h3 is only in the QUIC Initials.
  EXPECT_EQ(seen.alpns, (std::set<std::string>{"h2", "http/1.1"}));
  EXPECT_TRUE(seen.failures.empty());
}

// ---------------------------------------------------------------------------------------------
// HTTP

struct HttpSeen {
  std::vector<std::string> requests;  // "METHOD host:port target status"
};

HttpSeen inspectHttpCapture(const std::filesystem::path& path) {
  auto pcap = PcapFile::open(path);
  EXPECT_TRUE(pcap.isOk()) << path;
  HttpSeen seen;
  if (!pcap.isOk()) return seen;
  CaptureContents c = readCapture(pcap.value());
  for (const TcpStream& s : c.tcp) {
    std::span<const uint8_t> rest = s.buffer->contiguous();
    // Successive requests on one connection (after CONNECT, the tunnel's first bytes).
    while (!rest.empty()) {
      HttpRequest r;
      HttpParseStatus st = parseHttpRequest(rest, r);
      if (st == HttpParseStatus::kNotHttp) break;
      seen.requests.push_back(std::string(r.method) + " " + std::string(r.host.name) + ":" +
                              std::to_string(r.host.port) + " " + std::string(r.target) + " " +
                              std::string(httpParseStatusName(st)));
      if (st != HttpParseStatus::kComplete && st != HttpParseStatus::kAmbiguous) break;
      rest = rest.subspan(r.head_length);
    }
  }
  std::sort(seen.requests.begin(), seen.requests.end());
  return seen;
}

TEST(HttpCaptureTest, ConnectProxyCapturesGiveConnectHostAndPort) {
  const auto dir = SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/suricata-verify");
  // After "CONNECT abc:443", the simple capture sends "GET /" through the tunnel without a
  // Host field: an HTTP/1.1 request no server may accept (RFC 9112 §3.2), never an "allow".
  EXPECT_EQ(inspectHttpCapture(dir / "http-connect-proxy-simple.pcap").requests,
            (std::vector<std::string>{"CONNECT abc:443 abc:443 complete", "GET :0 / malformed"}));
  // The TLS variant tunnels a ClientHello, which is not HTTP.
  EXPECT_EQ(inspectHttpCapture(dir / "http-connect-proxy-tls.pcap").requests,
            (std::vector<std::string>{"CONNECT abc:443 abc:443 complete"}));
}

TEST(HttpCaptureTest, Ipv6LoopbackCaptureGivesBracketlessHostAndPort) {
  const auto dir = SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/suricata-verify");
  HttpSeen seen = inspectHttpCapture(dir / "http1-ipv6-loopback.pcap");
  EXPECT_EQ(seen.requests, (std::vector<std::string>{"GET ::1:8000 / complete"}));
}

TEST(HttpCaptureTest, Http2PriorKnowledgeCapturesAreNotHttp1) {
  const auto dir = SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/suricata-verify");
  for (const char* f : {"http2-authority-host-mismatch.pcap", "http2-userinfo-in-authority.pcap"}) {
    auto pcap = PcapFile::open(dir / f);
    ASSERT_TRUE(pcap.isOk());
    CaptureContents c = readCapture(pcap.value());
    int prefaces = 0;
    for (const TcpStream& s : c.tcp) {
      const auto stream = s.buffer->contiguous();
      const std::string_view text(reinterpret_cast<const char*>(stream.data()), stream.size());
      if (!text.starts_with("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")) continue;
      ++prefaces;
      HttpRequest r;
      EXPECT_EQ(parseHttpRequest(stream, r), HttpParseStatus::kNotHttp) << f;
    }
    EXPECT_EQ(prefaces, 1) << f;
    EXPECT_TRUE(inspectHttpCapture(dir / f).requests.empty()) << f;
  }
}

TEST(HttpCaptureTest, ServerResponseIsNotARequest) {
  const auto dir = SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/tcpdump");
  // One frame: the server's "HTTP/1.1 200 OK" with an XML body.
  auto pcap = PcapFile::open(dir / "ipv4_tcp_http_xml.pcap");
  ASSERT_TRUE(pcap.isOk());
  CaptureContents c = readCapture(pcap.value());
  ASSERT_EQ(c.tcp.size(), 1u);
  HttpRequest r;
  EXPECT_EQ(parseHttpRequest(c.tcp[0].buffer->contiguous(), r), HttpParseStatus::kNotHttp);
  EXPECT_TRUE(inspectHttpCapture(dir / "ipv4_tcp_http_xml.pcap").requests.empty());
}

}  // namespace
}  // namespace safegate
