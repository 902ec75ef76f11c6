#include "daemon/inline/capture_replay.h"

#include <pcap/pcap.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "daemon/compiled_policy.h"
#include "daemon/inline/inline_inspector.h"
#include "filters/domain_name.h"
#include "filters/packet.h"

namespace safegate {

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

// What the kernel does in front of the inspector (docs/inline.md, "Firewall rules"): conntrack
// names a connection's originator the client; only the client's packets are queued (replies
// follow conntrack); a connection whose packet got a "repeat" verdict carries the decision in
// its connmark and is never queued again (offload). A new SYN, or a UDP flow idle longer
// than conntrack's UDP timeout, starts a new connection on the same addresses.
class ConntrackModel {
 public:
  enum class Fate : uint8_t { kQueue, kReply, kOffloaded };

  Fate admit(const PacketView& v, int64_t now_ms) {
    Key k = key(v);
    auto [it, inserted] = conns_.try_emplace(k);
    Conn& c = it->second;
    const bool from_client_side = inserted || (c.client == v.src && c.client_port == v.src_port);
    const bool new_syn =
        v.isTcp() && (v.tcp_flags & tcp_flag::kSyn) != 0 && (v.tcp_flags & tcp_flag::kAck) == 0;
    const bool udp_expired = v.isUdp() && now_ms - c.last_ms > kUdpTimeoutMs;
    if (inserted || (new_syn && c.offloaded) || udp_expired) {
      c = Conn{v.src, v.src_port};
    } else if (!from_client_side) {
      c.last_ms = now_ms;
      return Fate::kReply;
    }
    c.last_ms = now_ms;
    return c.offloaded ? Fate::kOffloaded : Fate::kQueue;
  }

  // The inspector's verdict on a queued packet of `v`'s connection.
  void verdict(const PacketView& v, NfqVerdict verdict) {
    if (verdict.kind == NfqVerdictKind::kRepeat) conns_[key(v)].offloaded = true;
  }

 private:
  static constexpr int64_t kUdpTimeoutMs = 30000;  // nf_conntrack_udp_timeout
  // The addresses and ports of both ends, lower end first, and the protocol.
  using Key = std::string;
  static Key key(const PacketView& v) {
    std::string a = v.src.toString() + "|" + std::to_string(v.src_port);
    std::string b = v.dst.toString() + "|" + std::to_string(v.dst_port);
    if (b < a) std::swap(a, b);
    return a + "|" + b + "|" + std::to_string(v.protocol);
  }
  struct Conn {
    IpAddress client;
    uint16_t client_port = 0;
    bool offloaded = false;
    int64_t last_ms = 0;
  };
  std::map<Key, Conn> conns_;
};

std::string canonicalOrAsIs(std::string_view name) {
  NameBuffer b;
  if (normalizeWireName(name, b) != WireNameStatus::kOk) return std::string(name);
  return std::string(b.view());
}

// Reads the capture and hands the client side of every connection to the inline inspector,
// the one the daemon runs on NFQUEUE; its observations are the replay's.
class Replayer final : public InlineObserver {
 public:
  Replayer(ReplayStats& stats) : stats_(stats) {}

  Status run(const std::filesystem::path& capture, InlineInspector& inspector) {
    char err[PCAP_ERRBUF_SIZE] = {0};
    pcap_t* p =
        pcap_open_offline_with_tstamp_precision(capture.c_str(), PCAP_TSTAMP_PRECISION_MICRO, err);
    if (p == nullptr) return Status::io(err);  // libpcap names the file
    inspector.setObserver(this);
    int dlt = pcap_datalink(p);
    pcap_pkthdr* h = nullptr;
    const u_char* data = nullptr;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
      ++stats_.frames;
      now_us_ = int64_t{h->ts.tv_sec} * 1000000 + h->ts.tv_usec;
      std::span<const uint8_t> frame{data, h->caplen};
      auto ip = ipLayer(dlt, frame);
      if (ip.empty()) {
        ++stats_.not_ip;
        continue;
      }
      ++stats_.ip_packets;
      packet(inspector, ip, sourceMac(dlt, frame));
    }
    Status s = Status::ok();
    if (rc == -1) s = Status::invalid(capture.string() + ": " + pcap_geterr(p));
    pcap_close(p);
    inspector.setObserver(nullptr);
    const InlineCounters& c = inspector.counters();
    auto n = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    stats_.malformed += n(c.not_parsed) + n(c.http_malformed) + n(c.http2_malformed) +
                        n(c.tls_malformed) + n(c.dns_tcp_malformed) + n(c.dns_unparsable_dropped);
    stats_.quic_undecryptable = n(c.quic_undecryptable);
    return s;
  }

  void observed(const InlineObservation& in) noexcept override {
    ReplayObservation o;
    o.time_us = now_us_;
    o.client = in.client.toString();
    o.server = in.server.toString();
    o.server_port = in.server_port;
    o.protocol = in.protocol;
    o.host = canonicalOrAsIs(in.host);
    o.dns_type = in.dns_type;
    o.http_path = std::string(in.http_path);
    o.ech = in.ech;
    o.decision = describeDecision(*in.decision);
    out_.push_back(std::move(o));
  }

  std::vector<ReplayObservation> take() { return std::move(out_); }

 private:
  void packet(InlineInspector& inspector, std::span<const uint8_t> ip,
              const std::optional<MacAddress>& mac) {
    const int64_t now_ms = now_us_ / 1000;
    if (now_ms - last_idle_ms_ >= kIdleEveryMs) {
      inspector.onIdle(now_ms);  // the worker sweeps its flow table when the queue is idle
      last_idle_ms_ = now_ms;
    }
    PacketView v = parsePacket(ip);
    if (!v.ok()) {
      ++stats_.malformed;
      return;
    }
    if (v.isFragment() || !v.has_ports) {
      // The kernel reassembles fragments before the queue; a capture holds them apart.
      if (v.isFragment()) ++stats_.fragments;
      return;
    }
    if (conntrack_.admit(v, now_ms) != ConntrackModel::Fate::kQueue) return;
    ++stats_.queued;
    NfqVerdict verdict = inspector.inspect(ip, 0, now_ms, now_ms, mac);
    conntrack_.verdict(v, verdict);
  }

  // The sender's MAC on Ethernet, as NFQUEUE reports it for a directly attached client.
  static std::optional<MacAddress> sourceMac(int dlt, std::span<const uint8_t> frame) {
    if (dlt != DLT_EN10MB || frame.size() < 12) return std::nullopt;
    std::array<uint8_t, 6> mac{};
    std::memcpy(mac.data(), frame.data() + 6, 6);
    return MacAddress(mac);
  }

  static constexpr int64_t kIdleEveryMs = 100;
  ReplayStats& stats_;
  ConntrackModel conntrack_;
  int64_t now_us_ = 0;
  int64_t last_idle_ms_ = 0;
  std::vector<ReplayObservation> out_;
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
                                                     policy::PolicySnapshotPtr snapshot,
                                                     const policy::DaemonSettings& settings,
                                                     ReplayStats* stats) {
  ReplayStats local;
  ReplayStats& st = stats != nullptr ? *stats : local;
  // The policy as the daemon publishes it, without temporary exceptions (a capture is replayed
  // against the configuration, not against what an administrator granted today).
  PolicyHolder policy(std::make_shared<CompiledPolicyView>(std::move(snapshot), nullptr));
  // No incident store, no resolved-address table (docs/inline.md: what replay does not model),
  // no packets sent.
  auto inspector =
      InlineInspector::create(inlineOptions(settings), policy, nullptr, nullptr, nullptr);
  if (!inspector.isOk()) return inspector.status();
  Replayer r(st);
  Status s = r.run(capture, **inspector);
  if (!s.isOk()) return s;
  return r.take();
}

int printCaptureReplay(const std::filesystem::path& config, const std::filesystem::path& capture,
                       bool json) {
  DiagnosticSink sink;
  auto loaded = policy::PolicyEngine::load(config, sink);
  for (const auto& d : sink.all()) {
    if (d.severity == Severity::kError || !loaded) std::cerr << d.toString() << "\n";
  }
  if (!loaded) {
    if (!sink.hasErrors()) std::cerr << "replay: " << loaded.status().toString() << "\n";
    return 1;
  }
  ReplayStats stats;
  auto obs = replayCapture(capture, loaded->snapshot, loaded->config.daemon, &stats);
  if (!obs) {
    std::cerr << "replay: " << obs.status().toString() << "\n";
    return 1;
  }
  for (const ReplayObservation& r : *obs) {
    if (json) {
      nlohmann::json j{{"time", isoTimeUtc(r.time_us)},
                       {"client", r.client},
                       {"server", r.server},
                       {"port", r.server_port},
                       {"protocol", protocolName(r.protocol)},
                       {"host", r.host},
                       {"verdict", r.decision.verdict},
                       {"decided_by", r.decision.decided_by},
                       {"group", r.decision.group},
                       {"category", r.decision.category},
                       {"rule", r.decision.rule},
                       {"source", r.decision.source},
                       {"reason", r.decision.reason}};
      if (r.protocol == Protocol::kDns) j["dns_type"] = r.dns_type;
      if (r.protocol == Protocol::kHttp) j["http_path"] = r.http_path;
      if (r.protocol == Protocol::kTls || r.protocol == Protocol::kQuic) j["ech"] = r.ech;
      std::cout << j.dump() << "\n";
    } else {
      std::cout << isoTimeUtc(r.time_us) << " " << r.client << " " << protocolName(r.protocol)
                << " " << (r.host.empty() ? "-" : r.host);
      if (r.protocol == Protocol::kDns) std::cout << " type=" << r.dns_type;
      if (r.protocol == Protocol::kHttp) std::cout << " path=" << r.http_path;
      if (r.ech) std::cout << " ech";
      std::cout << " " << r.decision.verdict;
      if (!r.decision.category.empty()) std::cout << " " << r.decision.category;
      if (!r.decision.source.empty()) std::cout << " (" << r.decision.source << ")";
      std::cout << "\n";
    }
  }
  if (!json) {
    std::cerr << "replay: " << obs->size() << " observations from " << stats.frames << " frames ("
              << stats.not_ip << " not IP, " << stats.queued << " queued to the inspector, "
              << stats.malformed << " malformed)\n";
  }
  return 0;
}

}  // namespace safegate
