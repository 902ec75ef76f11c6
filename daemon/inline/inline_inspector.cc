#include "daemon/inline/inline_inspector.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "filters/dns_message.h"
#include "filters/dns_tcp_stream.h"
#include "filters/domain_name.h"
#include "filters/forged_packet.h"
#include "filters/http_request.h"
#include "filters/packet.h"
#include "filters/tls_client_hello.h"
#include "policy/policy_engine.h"

namespace safegate {

namespace {

constexpr size_t kScratchBytes = 65536 + 256;
constexpr size_t kRateLimitSlots = 4096;
constexpr uint32_t kCnameOnlyTtlSeconds = 60;
// Where a safe-search answer for DNS over TCP waits in the scratch until the stream stops
// (feedDnsTcpSegment uses the scratch only after every message was allowed), as for UDP.
constexpr size_t kTcpAnswerOffset = 128;
constexpr uint8_t kTcp = IPPROTO_TCP;
constexpr uint8_t kUdp = IPPROTO_UDP;

// The IP and transport fields the inspector needs, as views into the queued packet.
struct ParsedPacket {
  IpAddress src;
  IpAddress dst;
  uint8_t protocol = 0;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t tcp_flags = 0;
  std::span<const uint8_t> payload;
};

enum class ParseResult : uint8_t { kOk, kNotTcpUdp, kFragment, kMalformed };

// IPv4/IPv6 (extension-header chains) + TCP/UDP through filters/packet.h, the parser replay
// uses too; non-first fragments carry no ports and are not ours to judge.
ParseResult parseQueued(std::span<const uint8_t> ip, ParsedPacket& out) noexcept {
  PacketView v = parsePacket(ip);
  if (!v.ok()) return ParseResult::kMalformed;
  if (v.isFragment()) return ParseResult::kFragment;
  if (!v.isTcp() && !v.isUdp()) return ParseResult::kNotTcpUdp;
  if (!v.has_ports) return ParseResult::kMalformed;
  out.src = v.src;
  out.dst = v.dst;
  out.protocol = v.protocol;
  out.src_port = v.src_port;
  out.dst_port = v.dst_port;
  out.seq = v.tcp_seq;
  out.ack = v.tcp_ack;
  out.tcp_flags = v.tcp_flags;
  out.payload = v.payload;
  return ParseResult::kOk;
}

void count(std::atomic<uint64_t>& c) noexcept { c.fetch_add(1, std::memory_order_relaxed); }

int64_t clockMs(clockid_t id) noexcept {
  timespec ts{};
  clock_gettime(id, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

const policy::GroupSettings kDefaultGroup{};

}  // namespace

// ---------------------------------------------------------------------------------------------

InlineOptions inlineOptions(const policy::DaemonSettings& settings) {
  const policy::InlineSettings& in = settings.inline_mode;
  InlineOptions options;
  options.undecided_timeout_ms = in.undecided_timeout_ms;
  options.reassembly_buffers = static_cast<size_t>(in.reassembly_buffers);
  options.reassembly_buffers_per_client = static_cast<size_t>(in.reassembly_buffers_per_client);
  options.offload_mark = in.offload_mark;
  options.block_page_url = settings.block_page.url;
  options.max_client_hello_bytes = static_cast<size_t>(
      std::min<int>(in.max_client_hello_bytes, static_cast<int>(QuicCryptoAssembler::kCapacity)));
  options.dns_answers.block_ttl_seconds = static_cast<uint32_t>(settings.dns.block_ttl_seconds);
  if (settings.block_page.ipv4) options.dns_answers.block_page_v4 = *settings.block_page.ipv4;
  if (settings.block_page.ipv6) options.dns_answers.block_page_v6 = *settings.block_page.ipv6;
  options.fail_open_without_policy = in.fail_open;
  return options;
}

// ---------------------------------------------------------------------------------------------

Result<std::unique_ptr<RawSocketInjector>> RawSocketInjector::open() {
  std::unique_ptr<RawSocketInjector> r(new RawSocketInjector());
  r->fd4_ = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (r->fd4_ < 0) return Status::fromErrno("raw IPv4 socket (needs CAP_NET_RAW)", errno);
  // IPPROTO_RAW on IPv6 means the caller supplies the IPv6 header (Linux raw(7), ipv6(7)).
  r->fd6_ = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (r->fd6_ < 0) return Status::fromErrno("raw IPv6 socket (needs CAP_NET_RAW)", errno);
  return r;
}

RawSocketInjector::~RawSocketInjector() {
  if (fd4_ >= 0) close(fd4_);
  if (fd6_ >= 0) close(fd6_);
}

bool RawSocketInjector::inject(std::span<const uint8_t> p) noexcept {
  if (p.size() < 20) return false;
  if ((p[0] >> 4) == 4) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    std::memcpy(&to.sin_addr, &p[16], 4);
    return sendto(fd4_, p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
           static_cast<ssize_t>(p.size());
  }
  if (p.size() < 40) return false;
  sockaddr_in6 to{};
  to.sin6_family = AF_INET6;
  std::memcpy(&to.sin6_addr, &p[24], 16);
  return sendto(fd6_, p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
         static_cast<ssize_t>(p.size());
}

// ---------------------------------------------------------------------------------------------

// The steps of one packet, with everything they share.
struct InlineInspector::Impl {
  explicit Impl(InlineInspector& s) : self(s) {}
  InlineInspector& self;
  ParsedPacket pkt;
  uint32_t mark = 0;
  std::optional<MacAddress> mac;
  int64_t mono_ms = 0;
  int64_t unix_ms = 0;
  const PolicyView* view = nullptr;
  const policy::GroupSettings* group = &kDefaultGroup;
  uint16_t group_index = 0;
  // DNS over TCP, this segment: messages handed out so far, and a safe-search answer built
  // for the message that stopped it (length in the scratch at kTcpAnswerOffset; 0 = none).
  uint32_t tcp_messages = 0;
  bool tcp_server_asked = false;
  size_t tcp_answer_length = 0;
  bool hello_ech = false;  // the ClientHello being decided offered ECH (observations)

  uint32_t allowBits() const { return self.options_.offload_mark; }
  uint32_t blockBits() const { return self.options_.offload_mark << 1; }
  NfqVerdict decided(bool allow) {
    uint32_t mask = allowBits() | blockBits();
    count(allow ? self.counters_.offload_allow : self.counters_.offload_block);
    return {NfqVerdictKind::kRepeat, (mark & ~mask) | (allow ? allowBits() : blockBits())};
  }
  NfqVerdict pass() { return {NfqVerdictKind::kAccept, 0}; }
  NfqVerdict drop() { return {NfqVerdictKind::kDrop, 0}; }

  void finish(FlowEntry* f) {
    f->decided = true;
    self.flows_->erase(f);  // the kernel has the decision now; the entry is not needed
  }

  RequestFacts facts(Protocol p, std::string_view name) const {
    RequestFacts f;
    f.client = pkt.src;
    f.mac = mac;
    f.protocol = p;
    f.name = name;
    f.dns_type = 0;
    f.unix_time_seconds = unix_ms / 1000;
    return f;
  }

  void recordIncident(const RequestFacts& f, const Decision& d) {
    if (!isIncident(d) || self.incidents_ == nullptr) return;
    IncidentEvent e = IncidentEvent::fromDecision(f, d, unix_ms);
    if (view != nullptr) e.device.assign(view->deviceName(f.client, f.mac));
    count(self.counters_.incidents);
    self.incidents_->record(e);
  }

  // Tells the observer (replay) what was read and decided; the daemon has none.
  void observe(Protocol p, std::string_view host, uint16_t dns_type, std::string_view path,
               const Decision& d) {
    if (self.observer_ == nullptr) return;
    InlineObservation o;
    o.protocol = p;
    o.client = pkt.src;
    o.server = pkt.dst;
    o.server_port = pkt.dst_port;
    o.host = host;
    o.dns_type = dns_type;
    o.http_path = path;
    o.ech = hello_ech;
    o.decision = &d;
    self.observer_->observed(o);
  }

  // As observe(), for a flow decided before anything was read from it (encrypted DNS): the
  // observer is told what this segment names when it holds a whole ClientHello or request.
  void observeFlow(Protocol p, const Decision& d) {
    if (self.observer_ == nullptr) return;
    NameBuffer name;
    std::string_view host;
    std::string_view path;
    TlsClientHello hello;
    HttpRequest req;
    if (pkt.protocol == kTcp && !pkt.payload.empty() && pkt.payload[0] == 0x16) {
      if (parseTlsClientHello(pkt.payload, {self.scratch_.get(), kMaxClientHelloLength}, hello) ==
              TlsParseStatus::kComplete &&
          hello.has_sni && normalizeWireName(hello.sni, name) == WireNameStatus::kOk) {
        host = name.view();
        hello_ech = hello.has_ech;
      }
    } else if (pkt.protocol == kTcp && startsLikeHttp2(pkt.payload)) {
      Http2Request h2;
      if (parseHttp2Request(pkt.payload, *self.http2_, h2) == Http2ParseStatus::kComplete) {
        p = Protocol::kHttp;
        if (normalizeWireName(h2.host.name, name) == WireNameStatus::kOk) host = name.view();
        path = h2.path;
      }
    } else if (pkt.protocol == kTcp &&
               parseHttpRequest(pkt.payload, req) == HttpParseStatus::kComplete) {
      p = Protocol::kHttp;
      if (normalizeWireName(req.host.name, name) == WireNameStatus::kOk) host = name.view();
      path = req.path;
    }
    observe(p, host, 0, path, d);
  }

  // A decision the inline path makes itself (encrypted DNS, unresolved destination, ECH,
  // fail modes), explained by the setting that made it.
  Decision ownDecision(Verdict v, std::string_view category, std::string_view rule) const {
    return policy::inlineSettingDecision(v, *group, group_index, category, rule);
  }

  bool firstIncidentThisHour(uint8_t kind) {
    uint64_t h = 0xcbf29ce484222325ull ^ kind;
    for (uint8_t b : pkt.src.bytes()) h = (h ^ b) * 0x100000001b3ull;
    uint64_t hour = static_cast<uint64_t>(unix_ms / 3600000);
    uint64_t tag = (h & 0xffffffff00000000ull) | (hour & 0xffffffffull);
    auto& slot = self.rate_limit_[h % kRateLimitSlots];
    if (slot.load(std::memory_order_relaxed) == tag) return false;
    slot.store(tag, std::memory_order_relaxed);
    return true;
  }

  // --- injected packets ---

  void inject(size_t len) {
    if (len == 0 || self.injector_ == nullptr) return;
    if (self.injector_->inject({self.scratch_.get(), len})) {
      count(self.counters_.resets_sent);
    } else {
      count(self.counters_.inject_errors);
    }
  }
  // Sends a forged DNS answer already built in scratch() (`len` 0 = could not be built).
  void sendDnsAnswer(size_t len) {
    if (len != 0 && self.injector_ != nullptr && self.injector_->inject({scratch().data(), len})) {
      count(self.counters_.dns_forged_answers);
    } else {
      count(self.counters_.inject_errors);
    }
  }
  std::span<uint8_t> scratch() { return {self.scratch_.get(), kScratchBytes}; }

  // Builds in scratch() the segment the server would send next and closes its side: from the
  // server's address, sequence number = the client's ACK, the client's bytes through this
  // segment acknowledged, FIN. Returns its length (0 if it does not fit).
  size_t buildServerReply(std::span<const uint8_t> payload) {
    TcpSegmentSpec spec{pkt.dst,
                        pkt.src,
                        pkt.dst_port,
                        pkt.src_port,
                        pkt.ack,
                        pkt.seq + static_cast<uint32_t>(pkt.payload.size()),
                        tcp_flags::kAck | tcp_flags::kPsh | tcp_flags::kFin,
                        65535};
    return buildTcpPacket(spec, payload, scratch());
  }

  // Resets both ends of the TCP connection this client segment belongs to (RFC 9293 §3.10.7:
  // a RST is accepted when its sequence number is in the receive window; the client's ACK
  // is exactly what the server would send next, and the client's SEQ what the server expects).
  void resetBoth() {
    TcpSegmentSpec to_client{pkt.dst, pkt.src, pkt.dst_port,    pkt.src_port,
                             pkt.ack, 0,       tcp_flags::kRst, 0};
    inject(buildTcpPacket(to_client, {}, scratch()));
    resetServer();
  }
  void resetServer() {
    TcpSegmentSpec to_server{pkt.src, pkt.dst, pkt.src_port,    pkt.dst_port,
                             pkt.seq, 0,       tcp_flags::kRst, 0};
    inject(buildTcpPacket(to_server, {}, scratch()));
  }

  // "302 Found" to the block page, from the server's address, closing the connection; the
  // client's request bytes are acknowledged so its stack accepts the answer.
  void redirectClient(std::string_view host) {
    char body[1024];
    int n = std::snprintf(body, sizeof body,
                          "HTTP/1.1 302 Found\r\nLocation: %.*s?host=%.*s\r\n"
                          "Cache-Control: no-store\r\nContent-Length: 0\r\n"
                          "Connection: close\r\n\r\n",
                          static_cast<int>(self.options_.block_page_url.size()),
                          self.options_.block_page_url.data(),
                          static_cast<int>(host.size() > 253 ? 253 : host.size()), host.data());
    if (n <= 0 || static_cast<size_t>(n) >= sizeof body) return;
    inject(buildServerReply({reinterpret_cast<const uint8_t*>(body), size_t(n)}));
    count(self.counters_.http_redirects);
  }

  // --- the group's settings in force for this client ---

  void resolveGroup() {
    uint16_t index = 0;
    if (const policy::GroupSettings* g = view->groupFor(pkt.src, mac, index)) {
      group_index = index;
      group = g;
    }
  }

  // Applies a final decision to a TCP flow: offload, or reset both ways and drop the rest.
  NfqVerdict applyTcp(FlowEntry* f, const Decision& d, bool http, std::string_view host) {
    if (d.verdict == Verdict::kMonitor) count(self.counters_.monitored);
    if (d.verdict != Verdict::kBlock) {
      finish(f);
      return decided(true);
    }
    if (http && !self.options_.block_page_url.empty()) {
      redirectClient(host);
      resetServer();
    } else {
      resetBoth();
    }
    finish(f);
    return decided(false);
  }

  // The decision for a host name seen in TLS/QUIC/HTTP (canonical form in `name`).
  Decision decideName(Protocol p, std::string_view name, std::string_view path) {
    RequestFacts f = facts(p, name);
    f.http_path = path;
    Decision d = view->decide(f);
    recordIncident(f, d);
    observe(p, name, 0, path, d);
    return d;
  }

  // SNI policy shared by TLS and QUIC; returns the decision for the flow.
  Decision decideHello(Protocol p, const TlsClientHello& hello) {
    hello_ech = hello.has_ech;
    NameBuffer name;
    const bool named = hello.has_sni && normalizeWireName(hello.sni, name) == WireNameStatus::kOk;
    if (hello.has_ech) {
      count(self.counters_.tls_ech);
      if (group->ech == policy::EchMode::kBlock) {
        Decision d = ownDecision(Verdict::kBlock, "ech", "ech = \"block\"");
        RequestFacts f = facts(p, named ? name.view() : std::string_view());
        recordIncident(f, d);
        observe(p, f.name, 0, {}, d);
        return d;
      }
    }
    if (!named) {
      count(self.counters_.tls_no_sni);
      return unresolved(p, "");
    }
    Decision d = decideName(p, name.view(), {});
    if (d.verdict != Verdict::kBlock && self.resolved_ != nullptr &&
        group->unresolved_destination != policy::UnresolvedMode::kAllow &&
        !self.resolved_->wasResolvedFor(pkt.src, pkt.dst, unix_ms / 1000)) {
      return unresolved(p, name.view());
    }
    return d;
  }

  Decision unresolved(Protocol p, std::string_view name) {
    count(self.counters_.unresolved_destination);
    Verdict v = policy::settingVerdict(group->unresolved_destination);
    Decision d = ownDecision(v, "unresolved-destination", "unresolved_destination");
    if (v != Verdict::kAllow) recordIncident(facts(p, name), d);
    observe(p, name, 0, {}, d);
    return d;
  }

  // --- protocols ---

  NfqVerdict dnsOverUdp() {
    NameBuffer name;
    DnsQuery q;
    if (parseDnsQuery(pkt.payload, q, name) != DnsParseStatus::kOk) {
      // A datagram to port 53 that is no query safegate can read is decided as the proxy
      // decides it — dropped — never passed: a crafted message would otherwise reach any
      // resolver without a decision.
      count(self.counters_.dns_unparsable_dropped);
      return drop();
    }
    count(self.counters_.dns_queries);
    ClientInfo client{pkt.src, mac};
    auto out = std::span<uint8_t>(self.scratch_.get() + 128, 4096);
    QueryPlan plan = self.dns_->plan(*view, pkt.payload, q, client, unix_ms, out);
    observe(Protocol::kDns, q.question.name, q.question.qtype, {}, plan.decision);
    if (plan.action == QueryAction::kAnswered) {
      count(self.counters_.dns_blocked);
      forgeDnsAnswer(out.first(plan.answer_length));
      return drop();
    }
    if (plan.action == QueryAction::kForwardRewrite) {
      // No answer could be built (a malformed query): dropped, never forwarded unrewritten.
      size_t n = safeSearchAnswer(pkt.payload, q, client, plan.rewrite_target, out);
      if (n != 0) forgeDnsAnswer(out.first(n));
      return drop();
    }
    return pass();  // each query on a DNS flow is decided: no offload
  }

  // A safe-search rewrite cannot be forwarded (the query goes to a resolver safegate does not
  // run), so safegate answers for the client like the DNS proxy does: "name CNAME target" plus
  // the target's addresses, built by QueryHandler::finish() from the upstream's answer for the
  // target that SafeSearchRefresher keeps (daemon/dns/safe_search_answers.h). Other query types,
  // or before the first answers arrive: the CNAME alone (RFC 1034 §3.6.2), which makes the
  // client ask for the target itself — never the unrewritten name.
  // Returns the answer's length in `out` (0: none could be built).
  size_t safeSearchAnswer(std::span<const uint8_t> query, const DnsQuery& q,
                          const ClientInfo& client, std::string_view target,
                          std::span<uint8_t> out) {
    std::span<const uint8_t> upstream;
    if (self.safe_search_ != nullptr) {
      const auto& answers = self.safe_search_->current();
      if (answers != nullptr) upstream = answers->find(target, q.question.qtype);
    }
    size_t n = 0;
    if (!upstream.empty()) {
      n = self.dns_->finish(*view, query, q, client, target, upstream, unix_ms, out);
      count(self.counters_.dns_rewrite_answered);
    } else {
      n = buildCnameAnswer(query, q, target, kCnameOnlyTtlSeconds, {}, 0, out);
      count(self.counters_.dns_rewrite_cname_only);
    }
    return n;
  }

  // Sends `answer` to the client over its TCP connection, as the server would (RFC 1035
  // §4.2.2: two-octet length prefix), and closes it: sequence number = the client's ACK, which is
  // the server's next one because the server has been sent no whole query yet (a DNS server speaks
  // only to answer); the client's bytes through this segment acknowledged; FIN, since the server
  // side is reset and can never answer the client's later queries.
  void answerTcpClient(std::span<const uint8_t> answer) {
    uint8_t copy[2 + 4096];
    const size_t n = std::min(answer.size(), sizeof copy - 2);
    copy[0] = static_cast<uint8_t>(n >> 8);
    copy[1] = static_cast<uint8_t>(n);
    std::memcpy(copy + 2, answer.data(), n);
    sendDnsAnswer(buildServerReply({copy, n + 2}));
  }

  // Sends `answer` to the client as a UDP datagram from the resolver it asked.
  void forgeDnsAnswer(std::span<const uint8_t> answer) {
    // Copy the answer out of the way: the forged packet is built in the same scratch.
    uint8_t copy[4096];
    const size_t len_in = std::min(answer.size(), sizeof copy);
    std::memcpy(copy, answer.data(), len_in);
    sendDnsAnswer(
        buildUdpPacket(pkt.dst, pkt.src, pkt.dst_port, pkt.src_port, {copy, len_in}, scratch()));
  }

  // DNS over TCP not sent to the proxy. Every query of the connection is decided, pipelined
  // or split over segments (filters/dns_tcp_stream.h). The segment that completes a blocked
  // query is the one held: the server never receives it whole; both ends are reset. DNS flows
  // are never offloaded (each query is decided) and never take the "undecided" default.
  NfqVerdict dnsOverTcp(FlowEntry* f) {
    f->kind = FlowKind::kDns;
    if (pkt.tcp_flags & tcp_flags::kSyn) {
      f->has_base_seq = true;
      f->base_seq = pkt.seq + 1;
      f->dns_consumed = 0;
      f->dns_server_asked = false;
      return pass();
    }
    if (pkt.payload.empty()) return pass();
    if (!f->has_base_seq) {  // picked up mid-connection: assume a message starts here
      f->has_base_seq = true;
      f->base_seq = pkt.seq;
      f->dns_consumed = 0;
      f->dns_server_asked = true;  // what went before is unknown
    }
    if (f->loss != BufferLoss::kNone) {
      // The partial message it held was taken back (held too long, or its client needed the
      // buffer): what the server will read can no longer be decided.
      countLoss(f);
      count(self.counters_.dns_tcp_malformed);
      resetBoth();
      finish(f);
      return decided(false);
    }
    QuicFlowState* st = self.flows_->attachBuffer(f, mono_ms);
    if (st == nullptr) return overload(f);
    tcp_server_asked = f->dns_server_asked;
    DnsTcpStreamState state{f->base_seq, f->dns_consumed};
    DnsTcpStatus ds = feedDnsTcpSegment(
        st->crypto, state, pkt.seq, pkt.payload, self.options_.max_client_hello_bytes,
        {self.scratch_.get(), kScratchBytes},
        [this](std::span<const uint8_t> msg) { return allowTcpQuery(msg); });
    f->base_seq = state.base_seq;
    f->dns_consumed = state.consumed;
    switch (ds) {
      case DnsTcpStatus::kOk:
      case DnsTcpStatus::kRetransmitted:
        if (tcp_messages > 0) f->dns_server_asked = true;
        // An idle keep-alive connection holds no buffer.
        if (st->crypto.rangeCount() == 0) self.flows_->releaseBuffer(f);
        return pass();
      case DnsTcpStatus::kStopped:
        if (tcp_answer_length != 0) {
          // Safe search: answered for the client, the server never sees the query.
          answerTcpClient({self.scratch_.get() + kTcpAnswerOffset, tcp_answer_length});
          resetServer();
          finish(f);
          return decided(false);
        }
        break;
      case DnsTcpStatus::kOverCap:
      case DnsTcpStatus::kAmbiguous:
        // A message larger than the cap, a gap too wide, or overlapping segments that
        // disagree: nothing safe to decide on.
        count(self.counters_.dns_tcp_malformed);
        break;
    }
    resetBoth();
    finish(f);
    return decided(false);
  }

  // One DNS message from a TCP stream: false when the policy blocks it (incident recorded) or
  // it is not a query safegate can read (the connection is reset; it is never passed).
  // A safe-search rewrite stops the stream too: answered for the client (answerTcpClient) when
  // it is the connection's first query — nothing sent to the server before it in an earlier
  // segment or earlier in this one — and the segment carries the client's ACK. A later one
  // resets the connection (dns_rewrite_tcp_reset): the server may have answers in flight
  // that would collide with a forged one in the sequence space (and its side is not queued,
  // so safegate cannot know); the client resends unanswered queries on a new connection,
  // where the rewritten one can come first.
  bool allowTcpQuery(std::span<const uint8_t> msg) {
    const bool first = !tcp_server_asked && tcp_messages == 0;
    ++tcp_messages;
    NameBuffer name;
    DnsQuery q;
    if (parseDnsQuery(msg, q, name) != DnsParseStatus::kOk) {
      // Not a readable query: the connection is reset rather than the message passed.
      count(self.counters_.dns_unparsable_dropped);
      return false;
    }
    count(self.counters_.dns_queries);
    RequestFacts f = facts(Protocol::kDns, q.question.name);
    f.dns_type = q.question.qtype;
    Decision d = view->decide(f);
    recordIncident(f, d);
    observe(Protocol::kDns, q.question.name, q.question.qtype, {}, d);
    if (d.verdict == Verdict::kRewrite) {
      if (first && (pkt.tcp_flags & tcp_flags::kAck) != 0) {
        ClientInfo client{pkt.src, mac};
        auto out = std::span<uint8_t>(self.scratch_.get() + kTcpAnswerOffset, 4096);
        tcp_answer_length = safeSearchAnswer(msg, q, client, d.rewrite_target, out);
      }
      if (tcp_answer_length == 0) count(self.counters_.dns_rewrite_tcp_reset);
      return false;
    }
    if (d.verdict == Verdict::kBlock) {
      count(self.counters_.dns_blocked);
      return false;
    }
    return true;
  }

  // A DoH/VPN endpoint named by address in a circumvention list (TCP to any port but 53, and
  // UDP 443 for DoH over HTTP/3): caught whatever the SNI says, or with none at all.
  bool circumventionAddress() const { return view->isCircumventionDestination(pkt.dst); }

  NfqVerdict encryptedDns(FlowEntry* f, bool by_address = false) {
    count(self.counters_.encrypted_dns);
    if (by_address) count(self.counters_.doh_address);
    const Verdict v = policy::settingVerdict(group->encrypted_dns);
    const Decision d = ownDecision(
        v, "circumvention",
        by_address ? "encrypted_dns (circumvention list address)" : "encrypted_dns (port 853)");
    const Protocol p = pkt.protocol == kTcp ? Protocol::kTls : Protocol::kQuic;
    observeFlow(p, d);
    return applyEncryptedDns(f, d, by_address ? 2 : 1, p, "");
  }

  // The group's encrypted_dns on a flow: one incident per client per hour per `kind`; block
  // resets a TCP connection that sent data (UDP: the datagram is dropped), else offloaded.
  NfqVerdict applyEncryptedDns(FlowEntry* f, const Decision& d, uint8_t kind, Protocol p,
                               std::string_view name) {
    if (d.verdict != Verdict::kAllow) {
      if (firstIncidentThisHour(kind)) {
        recordIncident(facts(p, name), d);
      } else {
        count(self.counters_.incidents_rate_limited);
      }
    }
    if (d.verdict == Verdict::kBlock) {
      count(self.counters_.encrypted_dns_blocked);
      if (pkt.protocol == kTcp && (pkt.tcp_flags & tcp_flags::kSyn) == 0) resetBoth();
      finish(f);
      return decided(false);
    }
    finish(f);
    return decided(true);
  }

  // UDP 443. Datagrams that are no client Initial the server could open (junk, short
  // headers, wrong keys) pass without counting: the server drops them too, so they must not
  // spend the flow's budget. The flow's clock starts with its first datagram; a flow still
  // undecided after undecided_timeout_ms (e.g. a VPN on port 443, or an Initial never
  // completed) takes the group's unresolved_destination.
  NfqVerdict quic(FlowEntry* f) {
    if (group->quic == policy::QuicMode::kDrop) {
      count(self.counters_.quic_dropped_by_group);
      observe(
          Protocol::kQuic, {}, 0, {},
          ownDecision(Verdict::kBlock, "quic", "quic = \"drop\" (the client falls back to TCP)"));
      finish(f);
      return decided(false);
    }
    startClock(f);
    if (f->loss != BufferLoss::kNone) return lostBuffer(f);
    if (timedOut(f)) return undecidedTimeout(f);
    if (!looksLikeQuicInitial(pkt.payload)) {
      count(self.counters_.quic_not_initial);
      return pass();
    }
    count(self.counters_.quic_initials);
    f->kind = FlowKind::kQuic;
    QuicFlowState* st = self.flows_->attachBuffer(f, mono_ms);
    if (st == nullptr) return overload(f);
    QuicFeedResult r = self.quic_->feed(pkt.payload, *st);
    if (r.status == QuicStatus::kCryptoConflict) {
      // Retransmitted CRYPTO octets that differ: the server could read either ClientHello.
      count(self.counters_.tls_malformed);
      finish(f);
      return decided(false);
    }
    if (r.status == QuicStatus::kTooFragmented) {
      // As for TCP: a datagram whose CRYPTO pieces the assembler cannot all hold never reaches
      // the server (a client that always sends it so falls back to TCP).
      count(self.counters_.stream_too_fragmented);
      return drop();
    }
    if (r.initials_opened == 0) {
      count(self.counters_.quic_undecryptable);
      if (st->initials_opened == 0) self.flows_->releaseBuffer(f);  // nothing worth keeping
      return pass();
    }
    ++f->packets;
    if (!r.client_hello_complete) {
      if (!st->crypto.exceedsCapacity()) return pass();  // bounded by the cap and the clock
      return oversizeHello(f, Protocol::kQuic, st->crypto.contiguous(),
                           st->crypto.contiguousBytes() >= QuicCryptoAssembler::kCapacity);
    }
    auto message = st->crypto.firstHandshakeMessage();
    TlsClientHello hello;
    TlsParseStatus ts = parseClientHelloMessage(*message, hello);
    if (ts != TlsParseStatus::kComplete) {
      count(self.counters_.tls_malformed);
      Decision d = unresolved(Protocol::kQuic, "");
      finish(f);
      return decided(d.verdict != Verdict::kBlock);
    }
    count(self.counters_.quic_hellos);
    Decision d = decideHello(Protocol::kQuic, hello);
    if (d.verdict == Verdict::kMonitor) count(self.counters_.monitored);
    finish(f);
    if (d.verdict == Verdict::kBlock) {
      count(self.counters_.quic_blocked);
      return decided(false);
    }
    return decided(true);
  }

  // TCP to any port but 53. Only payload-bearing segments inside the stream's window
  // [0, max_client_hello_bytes) are read; everything else passes uncounted and never takes a
  // buffer: SYNs, empty ACKs, FIN/RST without data, keepalive probes (RFC
  // 1122 §4.2.3.6: no data or one garbage octet at SND.UNA - 1, i.e. before the stream start
  // or inside octets already held), and segments before the stream or beyond the cap, which
  // the server drops or cannot read before the gap fills.
  NfqVerdict tcp(FlowEntry* f) {
    if (pkt.tcp_flags & tcp_flags::kSyn) {
      f->has_base_seq = true;
      f->midstream = false;
      f->base_seq = pkt.seq + 1;
      return pass();
    }
    if (f->has_payload && (f->loss != BufferLoss::kNone || timedOut(f))) {
      return f->loss != BufferLoss::kNone ? lostBuffer(f) : undecidedTimeout(f);
    }
    if (pkt.payload.empty()) {
      count(self.counters_.ignored_empty);
      return pass();
    }
    if (pkt.dst_port == 853) return encryptedDns(f);
    if (circumventionAddress()) return encryptedDns(f, true);
    if (!f->has_base_seq) {  // picked up mid-connection (e.g. after a restart or an idle gap)
      if (pkt.payload.size() <= 1) {
        // Most likely a keepalive probe: no stream start to take from it.
        count(self.counters_.ignored_keepalive);
        return pass();
      }
      f->has_base_seq = true;
      f->midstream = true;
      f->base_seq = pkt.seq;
    }
    // Serial-number distance from the stream's first octet (RFC 9293 §3.4, RFC 1982).
    const auto distance = static_cast<int32_t>(pkt.seq - f->base_seq);
    std::span<const uint8_t> data = pkt.payload;
    uint32_t offset = 0;
    if (distance < 0) {
      const auto before = static_cast<size_t>(-static_cast<int64_t>(distance));
      if (data.size() <= before) {  // wholly before the stream (a keepalive before any data)
        count(self.counters_.ignored_keepalive);
        return pass();
      }
      data = data.subspan(before);
    } else {
      offset = static_cast<uint32_t>(distance);
    }
    if (offset >= self.options_.max_client_hello_bytes) {
      count(self.counters_.ignored_out_of_window);
      return pass();
    }
    QuicFlowState* held = self.flows_->buffer(f);
    if (data.size() == 1 && held != nullptr && offset < held->crypto.contiguousBytes()) {
      // One octet inside what the server already has: a keepalive probe (its octet is
      // garbage and the server discards it as a duplicate), not a conflicting retransmission.
      count(self.counters_.ignored_keepalive);
      return pass();
    }
    ++f->packets;
    startClock(f);
    QuicFlowState* st = self.flows_->attachBuffer(f, mono_ms);
    if (st == nullptr) return overload(f);
    size_t room = self.options_.max_client_hello_bytes - offset;
    data = data.first(data.size() < room ? data.size() : room);
    QuicStatus as = st->crypto.add(offset, data);
    if (as == QuicStatus::kCryptoConflict) {
      // Overlapping segments with different bytes: the server could read either; never
      // decide on one reading.
      count(self.counters_.tls_malformed);
      resetBoth();
      finish(f);
      return decided(false);
    }
    if (as == QuicStatus::kTooFragmented) {
      // More disjoint pieces beyond a gap than the assembler tracks: hold this one back. If it
      // passed, the server would have octets we never read and could complete a ClientHello we
      // cannot; dropped, TCP sends it again once the gaps before it have filled.
      count(self.counters_.stream_too_fragmented);
      return drop();
    }
    std::span<const uint8_t> stream = st->crypto.contiguous();
    // A gap at the stream start: wait for it, bounded by the cap and the clock.
    if (stream.empty()) return pass();
    if (stream[0] == 0x16) return tls(f, stream);
    if (startsLikeHttp2(stream)) return http2(f, stream);
    return http(f, stream);
  }

  NfqVerdict tls(FlowEntry* f, std::span<const uint8_t> stream) {
    f->kind = FlowKind::kTls;
    TlsClientHello hello;
    TlsParseStatus ts =
        parseTlsClientHello(stream, {self.scratch_.get(), kMaxClientHelloLength}, hello);
    if (ts == TlsParseStatus::kNeedMore) {
      // A handshake in progress is bounded by the byte cap and the clock, not by the packet
      // count: a ClientHello cut into tiny segments must not reach the "undecided" default.
      if (stream.size() < self.options_.max_client_hello_bytes) return pass();
      ts = TlsParseStatus::kTooLarge;
    }
    if (ts == TlsParseStatus::kTooLarge) {
      return oversizeHello(f, Protocol::kTls, stream,
                           stream.size() >= self.options_.max_client_hello_bytes);
    }
    if (ts != TlsParseStatus::kComplete) {
      count(self.counters_.tls_malformed);
      Decision d = unresolved(Protocol::kTls, "");
      return applyTcp(f, d, false, "");
    }
    count(self.counters_.tls_hellos);
    Decision d = decideHello(Protocol::kTls, hello);
    if (d.verdict == Verdict::kBlock) count(self.counters_.tls_blocked);
    return applyTcp(f, d, false, "");
  }

  NfqVerdict http(FlowEntry* f, std::span<const uint8_t> stream) {
    HttpRequest req;
    HttpParseStatus hs = parseHttpRequest(stream, req);
    if (hs == HttpParseStatus::kNotHttp) {
      f->kind = FlowKind::kOther;
      if (f->midstream) {
        // Picked up without its SYN: these may not be the stream's first octets (a decoy at
        // a sequence number the server drops), so "not a protocol we read" proves nothing.
        Decision d = unresolved(Protocol::kTls, "");
        return applyTcp(f, d, false, "");
      }
      finish(f);
      return decided(true);  // not a protocol safegate reads: nothing to decide on
    }
    f->kind = FlowKind::kHttp;
    if (hs == HttpParseStatus::kNeedMore) {
      if (stream.size() >= self.options_.max_client_hello_bytes) {
        hs = HttpParseStatus::kMalformed;  // a request head longer than the cap
      } else {
        return pass();  // bounded by the byte cap, as for TLS
      }
    }
    count(self.counters_.http_requests);
    if (hs == HttpParseStatus::kMalformed) {
      // A conforming server rejects it; we do not guess at what a lax one would read.
      count(self.counters_.http_malformed);
      resetBoth();
      finish(f);
      return decided(false);
    }
    NameBuffer host;
    Decision d;
    bool named = normalizeWireName(req.host.name, host) == WireNameStatus::kOk;
    if (named) {
      d = decideName(Protocol::kHttp, host.view(), req.path);
    } else {
      d = unresolved(Protocol::kHttp, "");
    }
    if (hs == HttpParseStatus::kAmbiguous && d.verdict != Verdict::kBlock) {
      // Every host a server might use must be allowed (filters/http_request.h).
      count(self.counters_.http_ambiguous);
      for (const HttpHost* other : {&req.target_host, &req.header_host, &req.other_header_host}) {
        NameBuffer alt;
        if (other->empty() || normalizeWireName(other->name, alt) != WireNameStatus::kOk ||
            (named && alt.view() == host.view())) {
          continue;  // nothing to read, or the host already decided
        }
        Decision d2 = decideName(Protocol::kHttp, alt.view(), req.path);
        if (d2.verdict == Verdict::kBlock) {
          d = d2;
          break;
        }
      }
    }
    if (d.verdict == Verdict::kBlock) count(self.counters_.http_blocked);
    return applyTcp(f, d, true, named ? host.view() : std::string_view());
  }

  // HTTP/2 with prior knowledge: the first request decides the flow, as the first HTTP/1
  // request does. Its :authority is decided like a Host field (and a differing Host field too);
  // DNS over HTTPS inside it (application/dns-message) is the group's encrypted_dns. Blocked:
  // reset both ways (a redirect would have to be an HTTP/2 response).
  NfqVerdict http2(FlowEntry* f, std::span<const uint8_t> stream) {
    f->kind = FlowKind::kHttp;
    Http2Request req;
    Http2ParseStatus hs = parseHttp2Request(stream, *self.http2_, req);
    if (hs == Http2ParseStatus::kNeedMore) {
      if (stream.size() < self.options_.max_client_hello_bytes) return pass();
      hs = Http2ParseStatus::kMalformed;  // frames before the request longer than the cap
    }
    count(self.counters_.http2_requests);
    if (hs != Http2ParseStatus::kComplete && hs != Http2ParseStatus::kAmbiguous) {
      // Malformed (or a preface that went wrong after its first octets): a conforming server
      // rejects it; we do not guess at what a lax one would read.
      count(self.counters_.http2_malformed);
      resetBoth();
      finish(f);
      return decided(false);
    }
    NameBuffer host;
    const bool named = normalizeWireName(req.host.name, host) == WireNameStatus::kOk;
    if (req.dns_message) {
      count(self.counters_.http2_doh);
      count(self.counters_.encrypted_dns);
      const Verdict v = policy::settingVerdict(group->encrypted_dns);
      const Decision d =
          ownDecision(v, "circumvention", "encrypted_dns (DNS over HTTP/2 in cleartext)");
      const std::string_view name = named ? host.view() : std::string_view();
      observe(Protocol::kHttp, name, 0, req.path, d);
      return applyEncryptedDns(f, d, 3, Protocol::kHttp, name);
    }
    Decision d = named ? decideName(Protocol::kHttp, host.view(), req.path)
                       : unresolved(Protocol::kHttp, "");
    if (hs == Http2ParseStatus::kAmbiguous && d.verdict != Verdict::kBlock) {
      count(self.counters_.http_ambiguous);
      NameBuffer alt;
      if (normalizeWireName(req.header_host.name, alt) == WireNameStatus::kOk &&
          !(named && alt.view() == host.view())) {
        Decision d2 = decideName(Protocol::kHttp, alt.view(), req.path);
        if (d2.verdict == Verdict::kBlock) d = d2;
      }
    }
    if (d.verdict == Verdict::kBlock) count(self.counters_.http_blocked);
    return applyTcp(f, d, false, "");
  }

  // --- the undecided-flow bounds: time and bytes ---

  // The clock starts at the first thing the client sent that could be decided on.
  void startClock(FlowEntry* f) {
    if (f->has_payload) return;
    f->has_payload = true;
    f->first_payload_ms = mono_ms;
  }
  bool timedOut(const FlowEntry* f) const {
    return f->has_payload && mono_ms - f->first_payload_ms >= self.options_.undecided_timeout_ms;
  }

  // A flow that sent data and is still undecided after undecided_timeout_ms: what it would
  // need to be decided never came. The group's unresolved_destination decides it; a TLS
  // handshake in progress is first decided by its SNI if that is already in hand.
  NfqVerdict undecidedTimeout(FlowEntry* f) {
    count(self.counters_.undecided_timeout);
    QuicFlowState* st = self.flows_->buffer(f);
    if (st != nullptr && f->kind == FlowKind::kTls) {
      return partialHello(f, Protocol::kTls, st->crypto.contiguous());
    }
    if (st != nullptr && f->kind == FlowKind::kQuic) {
      return partialHello(f, Protocol::kQuic, st->crypto.contiguous());
    }
    return undecidedDefault(f);
  }

  // Its partial data was taken back (sweep or the client's own share): decide it now.
  NfqVerdict lostBuffer(FlowEntry* f) {
    countLoss(f);
    return undecidedDefault(f);
  }
  void countLoss(const FlowEntry* f) {
    count(f->loss == BufferLoss::kAged ? self.counters_.buffer_aged
                                       : self.counters_.buffer_evicted);
  }

  // The group's unresolved_destination, for a flow nothing nameable was seen on.
  NfqVerdict undecidedDefault(FlowEntry* f) {
    count(self.counters_.undecided_default);
    Decision d = unresolved(pkt.protocol == kTcp ? Protocol::kTls : Protocol::kQuic, "");
    if (pkt.protocol == kTcp) return applyTcp(f, d, false, "");
    finish(f);
    return decided(d.verdict != Verdict::kBlock);
  }

  // A ClientHello longer than the reassembly cap (a padding extension, spread over records):
  // a server accepts it (OpenSSL reads ClientHellos up to 128 KiB), so it is decided by its
  // SNI once the prefix shows it; while the window is not full yet it waits (bounded by the
  // window and the clock); a full window without the SNI takes unresolved_destination.
  NfqVerdict oversizeHello(FlowEntry* f, Protocol p, std::span<const uint8_t> prefix,
                           bool window_full) {
    if (!window_full) {
      TlsClientHello hello;
      TlsParseStatus ps = p == Protocol::kTls
                              ? scanTlsClientHelloPrefix(
                                    prefix, {self.scratch_.get(), kMaxClientHelloLength}, hello)
                              : scanClientHelloPrefix(prefix, hello);
      if (ps == TlsParseStatus::kNeedMore) return pass();
    }
    count(self.counters_.tls_oversize);
    return partialHello(f, p, prefix);
  }

  // Decides a flow on the first octets of its ClientHello (`prefix`: a TLS stream, or the
  // QUIC CRYPTO stream when `p` is kQuic).
  NfqVerdict partialHello(FlowEntry* f, Protocol p, std::span<const uint8_t> prefix) {
    f->kind = p == Protocol::kTls ? FlowKind::kTls : FlowKind::kQuic;
    TlsClientHello hello;
    TlsParseStatus ps =
        p == Protocol::kTls
            ? scanTlsClientHelloPrefix(prefix, {self.scratch_.get(), kMaxClientHelloLength}, hello)
            : scanClientHelloPrefix(prefix, hello);
    Decision d;
    if (ps == TlsParseStatus::kComplete && hello.has_sni) {
      count(self.counters_.partial_hello_by_sni);
      d = decideHello(p, hello);
      if (d.verdict != Verdict::kBlock && !hello.extensions_complete &&
          group->ech == policy::EchMode::kBlock) {
        // The unseen tail could offer ECH, which this group blocks: it cannot be allowed on
        // the outer name alone.
        d = unresolved(p, hello.sni);
      }
    } else {
      count(self.counters_.partial_hello_unresolved);
      d = unresolved(p, "");
    }
    if (d.verdict == Verdict::kBlock) {
      count(p == Protocol::kTls ? self.counters_.tls_blocked : self.counters_.quic_blocked);
    }
    if (p == Protocol::kTls) return applyTcp(f, d, false, "");
    if (d.verdict == Verdict::kMonitor) count(self.counters_.monitored);
    finish(f);
    return decided(d.verdict != Verdict::kBlock);
  }

  // Table or pool full: the group's fail mode, counted (docs/inline.md, fail-open/closed).
  NfqVerdict overload(FlowEntry* f) {
    if (group->fail_open) {
      count(self.counters_.overload_fail_open);
      if (f != nullptr) finish(f);
      return pass();  // not offloaded: a later packet may find room and be inspected
    }
    count(self.counters_.overload_fail_closed);
    return drop();
  }
};

// ---------------------------------------------------------------------------------------------

InlineInspector::InlineInspector(const InlineOptions& options, const PolicyHolder& policy)
    : options_(options), policy_(policy) {}

Result<std::unique_ptr<InlineInspector>> InlineInspector::create(
    const InlineOptions& options, const PolicyHolder& policy, IncidentStore* incidents,
    const ResolvedAddressTable* resolved, PacketInjector* injector,
    const SafeSearchHolder* safe_search) {
  if (options.max_client_hello_bytes > QuicCryptoAssembler::kCapacity ||
      options.max_client_hello_bytes < 512) {
    return Status::invalid("inline.max_client_hello_bytes must be between 512 and " +
                           std::to_string(QuicCryptoAssembler::kCapacity));
  }
  std::unique_ptr<InlineInspector> in(new InlineInspector(options, policy));
  in->incidents_ = incidents;
  in->resolved_ = resolved;
  in->injector_ = injector;
  if (safe_search != nullptr) {
    in->safe_search_ = std::make_unique<SafeSearchHolder::Reader>(*safe_search);
  }
  if (options.undecided_timeout_ms < 1) {
    return Status::invalid("inline.undecided_timeout_ms must be at least 1");
  }
  auto flows = FlowTable::create(options.flow_capacity, options.reassembly_buffers,
                                 options.reassembly_buffers_per_client, options.flow_idle_ms);
  if (!flows.isOk()) return flows.status();
  in->flows_ = std::move(flows).value();
  auto quic = QuicInitialInspector::create();
  if (!quic.isOk()) return quic.status();
  in->quic_ = std::move(quic).value();
  in->dns_ = std::make_unique<QueryHandler>(options.dns_answers, incidents, in->dns_counters_);
  in->scratch_ = std::make_unique<uint8_t[]>(kScratchBytes);
  in->http2_ = std::make_unique<Http2Scratch>();
  in->rate_limit_ = std::make_unique<std::atomic<uint64_t>[]>(kRateLimitSlots);
  return in;
}

void InlineInspector::onIdle(int64_t now_ms) noexcept {
  flows_->sweep(now_ms, options_.undecided_timeout_ms, options_.sweep_slots);
}

NfqVerdict InlineInspector::onPacket(const NfqPacketView& packet) noexcept {
  std::optional<MacAddress> mac;
  if (packet.has_source_mac) mac = MacAddress(packet.source_mac);
  return inspect(packet.ip, packet.mark, clockMs(CLOCK_MONOTONIC), clockMs(CLOCK_REALTIME), mac);
}

NfqVerdict InlineInspector::inspect(std::span<const uint8_t> ip, uint32_t mark,
                                    int64_t monotonic_ms, int64_t unix_ms,
                                    const std::optional<MacAddress>& mac) noexcept {
  count(counters_.packets);
  Impl s(*this);
  s.mark = mark;
  s.mac = mac;
  s.mono_ms = monotonic_ms;
  s.unix_ms = unix_ms;
  ParseResult pr = parseQueued(ip, s.pkt);
  if (pr == ParseResult::kFragment) {
    count(counters_.fragments);
    return s.pass();
  }
  if (pr != ParseResult::kOk) {
    count(counters_.not_parsed);
    return s.pass();  // ICMP, or something the kernel accepted as IP: not ours to judge
  }
  const auto& current = policy_.current();
  if (current == nullptr) {
    count(counters_.no_policy);
    return options_.fail_open_without_policy ? s.pass() : s.drop();
  }
  s.view = current.get();

  // A packet from the server side of a flow we track: not inspected (rules normally queue
  // only the client side; with rules on every interface replies arrive too).
  FlowKey reverse{s.pkt.dst, s.pkt.src, s.pkt.dst_port, s.pkt.src_port, s.pkt.protocol};
  if (flows_->find(reverse, monotonic_ms) != nullptr) {
    count(counters_.reply_direction);
    return s.pass();
  }
  s.resolveGroup();

  if (s.pkt.protocol == kUdp && s.pkt.dst_port == 53) return s.dnsOverUdp();

  FlowKey key{s.pkt.src, s.pkt.dst, s.pkt.src_port, s.pkt.dst_port, s.pkt.protocol};
  bool inserted = false;
  FlowEntry* f = flows_->findOrInsert(key, monotonic_ms, &inserted);
  if (f == nullptr) return s.overload(nullptr);
  f->last_seen_ms = monotonic_ms;

  if (s.pkt.protocol == kUdp) {
    if (s.pkt.dst_port == 853) return s.encryptedDns(f);
    if (s.pkt.dst_port == 443 && s.circumventionAddress()) return s.encryptedDns(f, true);
    if (s.pkt.dst_port == 443) return s.quic(f);
    f->kind = FlowKind::kOther;
    s.finish(f);
    return s.decided(true);  // other UDP: nothing safegate reads
  }
  if (s.pkt.dst_port == 53) return s.dnsOverTcp(f);
  return s.tcp(f);
}

}  // namespace safegate
