#include "ui-helper/replay.h"

#include <pcap/pcap.h>

#include <cstdio>
#include <ctime>
#include <map>
#include <memory>

#include "filters/dns_message.h"
#include "filters/domain_name.h"
#include "filters/http_request.h"
#include "filters/packet.h"
#include "filters/quic_initial.h"
#include "filters/tls_client_hello.h"

namespace safegate::ui {

namespace {

uint16_t rd16(const u_char* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

// The IP layer of a frame, by link type (https://www.tcpdump.org/linktypes.html).
std::span<const uint8_t> ipLayer(int dlt, std::span<const uint8_t> f) {
  auto from = [&](size_t off) {
    return off <= f.size() ? f.subspan(off) : std::span<const uint8_t>();
  };
  switch (dlt) {
    case DLT_NULL:
    case DLT_LOOP: return from(4);
    case DLT_RAW:  // 12 or 14 depending on the platform; libpcap maps LINKTYPE_RAW (101) here
    case 228:      // LINKTYPE_IPV4
    case 229:      // LINKTYPE_IPV6
      return f;
    case DLT_LINUX_SLL: return from(16);
    case 276:  // LINKTYPE_LINUX_SLL2
      return from(20);
    case DLT_PPP: {
      size_t off = (f.size() >= 2 && f[0] == 0xff && f[1] == 0x03) ? 2 : 0;
      if (f.size() < off + 2) return {};
      uint16_t proto = rd16(f.data() + off);
      return proto == 0x0021 || proto == 0x0057 ? from(off + 2) : std::span<const uint8_t>();
    }
    case DLT_EN10MB: {
      size_t off = 12;
      while (f.size() >= off + 2) {
        uint16_t type = rd16(f.data() + off);
        if (type == 0x8100 || type == 0x88a8) {  // 802.1Q / 802.1ad tag
          off += 4;
          continue;
        }
        if (type == 0x8864) {  // PPPoE session: 6-byte header, then the PPP protocol
          if (f.size() < off + 2 + 8) return {};
          uint16_t ppp = rd16(f.data() + off + 8);
          return ppp == 0x0021 || ppp == 0x0057 ? from(off + 10) : std::span<const uint8_t>();
        }
        if (type == 0x0800 || type == 0x86dd) return from(off + 2);
        return {};
      }
      return {};
    }
    default: return {};
  }
}

std::string flowKey(const PacketView& v) {
  return v.src.toString() + "|" + std::to_string(v.src_port) + "|" + v.dst.toString() + "|" +
         std::to_string(v.dst_port) + "|" + std::to_string(v.protocol);
}

struct TcpStream {
  bool has_base = false;
  uint32_t base_seq = 0;
  std::unique_ptr<QuicFlowState> buffer = std::make_unique<QuicFlowState>();
  size_t consumed = 0;    // stream octets already reported (HTTP requests, DNS messages)
  bool finished = false;  // TLS hello reported, or not a protocol we read
};

struct QuicStream {
  std::unique_ptr<QuicFlowState> state = std::make_unique<QuicFlowState>();
  bool finished = false;
};

class Replayer {
 public:
  Replayer(const policy::PolicySnapshot& snap, ReplayStats& stats) : snap_(snap), stats_(stats) {}

  Status run(const std::filesystem::path& capture) {
    char err[PCAP_ERRBUF_SIZE] = {0};
    pcap_t* p =
        pcap_open_offline_with_tstamp_precision(capture.c_str(), PCAP_TSTAMP_PRECISION_MICRO, err);
    if (p == nullptr) return Status::io(capture.string() + ": " + err);
    auto quic = QuicInitialInspector::create();
    if (!quic.isOk()) {
      pcap_close(p);
      return quic.status();
    }
    quic_ = std::move(quic).value();
    int dlt = pcap_datalink(p);
    pcap_pkthdr* h = nullptr;
    const u_char* data = nullptr;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
      ++stats_.frames;
      now_us_ = int64_t{h->ts.tv_sec} * 1000000 + h->ts.tv_usec;
      auto ip = ipLayer(dlt, {data, h->caplen});
      if (ip.empty()) {
        ++stats_.not_ip;
        continue;
      }
      ++stats_.ip_packets;
      packet(ip);
    }
    Status s = Status::ok();
    if (rc == -1) s = Status::invalid(capture.string() + ": " + pcap_geterr(p));
    pcap_close(p);
    return s;
  }

  std::vector<ReplayObservation> take() { return std::move(out_); }

 private:
  void packet(std::span<const uint8_t> ip) {
    PacketView v = parsePacket(ip);
    if (!v.ok() || !v.has_ports) {
      if (!v.ok()) ++stats_.malformed;
      return;
    }
    if (v.isNonFirstFragment()) return;
    if (v.isUdp()) {
      if (v.dst_port == 53) {
        dnsMessage(v, v.payload);
      } else if (v.dst_port == 443 && snap_.isCircumventionDestination(v.dst)) {
        circumventionDatagram(v);
      } else if (looksLikeQuicInitial(v.payload)) {
        quicDatagram(v);
      }
      return;
    }
    if (v.isTcp()) tcpSegment(v);
  }

  void dnsMessage(const PacketView& v, std::span<const uint8_t> msg) {
    NameBuffer name;
    DnsQuery q;
    if (parseDnsQuery(msg, q, name) != DnsParseStatus::kOk) return;
    ReplayObservation o = base(v, Protocol::kDns);
    o.host = std::string(q.question.name);
    o.dns_type = q.question.qtype;
    RequestFacts f = facts(v, Protocol::kDns, q.question.name);
    f.dns_type = q.question.qtype;
    decide(o, f);
  }

  void quicDatagram(const PacketView& v) {
    QuicStream& s = quic_flows_[flowKey(v)];
    if (s.finished) return;
    const policy::GroupSettings& g = snap_.group(snap_.groupFor(v.src, std::nullopt));
    QuicFeedResult r = quic_->feed(v.payload, *s.state);
    if (r.initials_opened == 0) ++stats_.quic_undecryptable;
    if (!r.client_hello_complete) return;
    s.finished = true;
    TlsClientHello hello;
    if (parseClientHelloMessage(*s.state->crypto.firstHandshakeMessage(), hello) !=
        TlsParseStatus::kComplete) {
      ++stats_.malformed;
      return;
    }
    ReplayObservation o = base(v, Protocol::kQuic);
    if (g.quic == policy::QuicMode::kDrop) {
      o.host = canonical(hello.sni);
      own(o, v, Verdict::kBlock, "quic", "quic = \"drop\" (the client falls back to TCP)");
      return;
    }
    hello_(o, v, hello, g);
  }

  // UDP 443 to an address a circumvention list names (DoH over HTTP/3): the inline path
  // drops or records the flow at its first datagram, whatever it holds; one observation per
  // flow (the live path records one incident per client per hour).
  void circumventionDatagram(const PacketView& v) {
    QuicStream& s = quic_flows_[flowKey(v)];
    if (s.finished) return;
    s.finished = true;
    ReplayObservation o = base(v, Protocol::kQuic);
    encryptedDnsByAddress(o, v);
  }

  // TCP to an address a circumvention list names, any port but 53 (DNS, decided as DNS) and
  // 853 (the port rule comes first live too): decided at the first data segment whatever the
  // SNI says, or with none, as daemon/inline/inline_inspector.cc does. The host shown is what that
  // segment names when it holds a whole ClientHello or request head.
  void circumventionSegment(ReplayObservation& o, const PacketView& v) {
    TlsClientHello hello;
    HttpRequest req;
    if (!v.payload.empty() && v.payload[0] == 0x16) {
      if (parseTlsClientHello(v.payload, scratch_, hello) == TlsParseStatus::kComplete) {
        o.host = canonical(hello.sni);
        o.ech = hello.has_ech;
      }
    } else if (parseHttpRequest(v.payload, req) == HttpParseStatus::kComplete) {
      o.protocol = Protocol::kHttp;
      o.host = canonical(req.host.name);
      o.http_path = std::string(req.path);
    }
    encryptedDnsByAddress(o, v);
  }

  void encryptedDnsByAddress(ReplayObservation& o, const PacketView& v) {
    const policy::GroupSettings& g = snap_.group(snap_.groupFor(v.src, std::nullopt));
    own(o, v, policy::settingVerdict(g.encrypted_dns), "circumvention",
        "encrypted_dns (circumvention list address)");
  }

  void tcpSegment(const PacketView& v) {
    std::string key = flowKey(v);
    TcpStream& s = tcp_flows_[key];
    if (v.tcp_flags & tcp_flag::kSyn) {
      s.has_base = true;
      s.base_seq = v.tcp_seq + 1;
      return;
    }
    if (s.finished || v.payload.empty()) return;
    if (v.dst_port != 53 && v.dst_port != 853 && snap_.isCircumventionDestination(v.dst)) {
      s.finished = true;
      ReplayObservation o = base(v, Protocol::kTls);
      circumventionSegment(o, v);
      return;
    }
    if (!s.has_base) {
      s.has_base = true;
      s.base_seq = v.tcp_seq;
    }
    uint32_t offset = v.tcp_seq - s.base_seq;
    if (offset >= QuicCryptoAssembler::kCapacity) return;
    size_t room = QuicCryptoAssembler::kCapacity - offset;
    auto data = v.payload.first(std::min(v.payload.size(), room));
    if (s.buffer->crypto.add(offset, data) != QuicStatus::kOk) {
      ++stats_.malformed;
      s.finished = true;
      return;
    }
    auto stream = s.buffer->crypto.contiguous();
    if (stream.size() <= s.consumed) return;
    auto rest = stream.subspan(s.consumed);
    if (v.dst_port == 53) {
      // DNS over TCP: two-octet length prefix per message (RFC 1035 §4.2.2, RFC 7766).
      while (rest.size() >= 2) {
        size_t len = rd16(rest.data());
        if (rest.size() < 2 + len) break;
        dnsMessage(v, rest.subspan(2, len));
        s.consumed += 2 + len;
        rest = rest.subspan(2 + len);
      }
      return;
    }
    if (s.consumed == 0 && rest[0] == 0x16) {
      TlsClientHello hello;
      TlsParseStatus ts = parseTlsClientHello(rest, scratch_, hello);
      if (ts == TlsParseStatus::kNeedMore) return;
      s.finished = true;
      if (ts != TlsParseStatus::kComplete) {
        ++stats_.malformed;
        return;
      }
      ReplayObservation o = base(v, Protocol::kTls);
      const policy::GroupSettings& g = snap_.group(snap_.groupFor(v.src, std::nullopt));
      if (v.dst_port == 853) {
        o.host = canonical(hello.sni);
        own(o, v, policy::settingVerdict(g.encrypted_dns), "circumvention",
            "encrypted_dns (DNS over TLS, port 853)");
        return;
      }
      hello_(o, v, hello, g);
      return;
    }
    // HTTP/1.x: every request head on the connection (keep-alive), in order.
    while (!rest.empty()) {
      HttpRequest req;
      HttpParseStatus hs = parseHttpRequest(rest, req);
      if (hs == HttpParseStatus::kNeedMore) return;
      if (hs == HttpParseStatus::kNotHttp || hs == HttpParseStatus::kMalformed ||
          req.head_length == 0) {
        if (hs == HttpParseStatus::kMalformed) ++stats_.malformed;
        s.finished = true;
        return;
      }
      ReplayObservation o = base(v, Protocol::kHttp);
      o.host = canonical(req.host.name);
      o.http_path = std::string(req.path);
      RequestFacts f = facts(v, Protocol::kHttp, o.host);
      f.http_path = req.path;
      decide(o, f);
      s.consumed += req.head_length;
      rest = rest.subspan(req.head_length);
    }
  }

  // TLS / QUIC ClientHello: ECH per group, SNI through the policy, no SNI per group.
  void hello_(ReplayObservation& o, const PacketView& v, const TlsClientHello& hello,
              const policy::GroupSettings& g) {
    o.ech = hello.has_ech;
    o.host = canonical(hello.sni);
    if (hello.has_ech && g.ech == policy::EchMode::kBlock) {
      own(o, v, Verdict::kBlock, "ech", "ech = \"block\"");
      return;
    }
    if (o.host.empty()) {
      own(o, v, policy::settingVerdict(g.unresolved_destination), "unresolved-destination",
          "unresolved_destination (no SNI)");
      return;
    }
    decide(o, facts(v, o.protocol, o.host));
  }

  std::string canonical(std::string_view name) {
    NameBuffer b;
    if (normalizeWireName(name, b) != WireNameStatus::kOk) return std::string(name);
    return std::string(b.view());
  }

  ReplayObservation base(const PacketView& v, Protocol p) {
    ReplayObservation o;
    o.time_us = now_us_;
    o.client = v.src.toString();
    o.server = v.dst.toString();
    o.server_port = v.dst_port;
    o.protocol = p;
    return o;
  }

  RequestFacts facts(const PacketView& v, Protocol p, std::string_view name) {
    RequestFacts f;
    f.client = v.src;
    f.protocol = p;
    f.name = name;
    f.dns_type = 0;
    f.unix_time_seconds = now_us_ / 1000000;
    return f;
  }

  void decide(ReplayObservation& o, const RequestFacts& f) {
    o.decision = describeDecision(snap_.decide(f));
    out_.push_back(std::move(o));
  }

  // A decision the inline path makes from a group setting (as daemon/inline/inline_inspector.cc).
  void own(ReplayObservation& o, const PacketView& v, Verdict verdict, std::string_view category,
           std::string_view rule) {
    const uint16_t gi = snap_.groupFor(v.src, std::nullopt);
    o.decision = describeDecision(
        policy::inlineSettingDecision(verdict, snap_.group(gi), gi, category, rule));
    out_.push_back(std::move(o));
  }

  const policy::PolicySnapshot& snap_;
  ReplayStats& stats_;
  int64_t now_us_ = 0;
  std::unique_ptr<QuicInitialInspector> quic_;
  std::map<std::string, TcpStream> tcp_flows_;
  std::map<std::string, QuicStream> quic_flows_;
  std::vector<ReplayObservation> out_;
  std::array<uint8_t, kMaxClientHelloLength> scratch_{};
};

}  // namespace

std::string isoTimeUtc(int64_t time_us) {
  time_t secs = static_cast<time_t>(time_us / 1000000);
  tm t{};
  gmtime_r(&secs, &t);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900,
                t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                static_cast<int>((time_us % 1000000) / 1000));
  return buf;
}

std::string_view protocolName(Protocol p) {
  switch (p) {
    case Protocol::kDns: return "dns";
    case Protocol::kHttp: return "http";
    case Protocol::kTls: return "tls";
    case Protocol::kQuic: return "quic";
  }
  return "unknown";
}

Result<std::vector<ReplayObservation>> replayCapture(const std::filesystem::path& capture,
                                                     const policy::PolicySnapshot& snapshot,
                                                     ReplayStats* stats) {
  ReplayStats local;
  Replayer r(snapshot, stats != nullptr ? *stats : local);
  Status s = r.run(capture);
  if (!s.isOk()) return s;
  return r.take();
}

}  // namespace safegate::ui
