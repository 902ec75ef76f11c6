#include "daemon/dns/query_handler.h"

#include <algorithm>
#include <cstring>

#include "daemon/dns/resolved_addresses.h"

namespace safegate {

namespace {

constexpr size_t kMaxRewriteRecordBytes = 1024;
// TTL of the RFC 8482 answer to ANY: it never changes, so caches may keep it a while.
constexpr uint32_t kMinimalAnyTtlSeconds = 3600;

// Presentation name -> uncompressed wire name. Names with escapes are not needed here (the
// rewrite targets and upstream owner names we copy are host names); they return 0.
size_t writeWireName(std::string_view name, uint8_t* out, size_t cap) noexcept {
  size_t pos = 0;
  while (!name.empty()) {
    size_t dot = name.find('.');
    std::string_view label = name.substr(0, dot);
    if (label.empty() || label.size() > kMaxDnsLabelLength ||
        label.find('\\') != std::string_view::npos || pos + 1 + label.size() >= cap) {
      return 0;
    }
    out[pos++] = static_cast<uint8_t>(label.size());
    std::memcpy(out + pos, label.data(), label.size());
    pos += label.size();
    name = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
  }
  if (pos + 1 > cap) return 0;
  out[pos++] = 0;
  return pos;
}

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  put16(p, static_cast<uint16_t>(v >> 16));
  put16(p + 2, static_cast<uint16_t>(v));
}

size_t servfail(std::span<const uint8_t> query, const DnsQuery& q, std::span<uint8_t> out,
                ProxyCounters& c) noexcept {
  bump(c.servfail_sent);
  return buildServfail(query, q, out);
}

}  // namespace

bool responseMatchesQuestion(std::span<const uint8_t> response, uint16_t id, std::string_view name,
                             uint16_t qtype, uint16_t qclass) noexcept {
  NameBuffer qn;
  DnsResponseView view(response, qn);
  if (view.status() != DnsParseStatus::kOk) return false;
  const DnsHeader& h = view.header();
  if (!h.isResponse() || h.id != id || h.qdcount != 1) return false;
  const DnsQuestion& qq = view.question();
  return qq.qtype == qtype && qq.qclass == qclass && qq.name == name;  // both lower-case
}

size_t QueryHandler::buildBlockAnswer(std::span<const uint8_t> query, const DnsQuery& q,
                                      const Decision& d, std::span<uint8_t> out,
                                      const PolicyView* policy) const noexcept {
  const LiveAnswerSettings* live = policy ? policy->answerSettings() : nullptr;
  // EDE extra text (RFC 8914 §2): a short reason the client's tools can show.
  char text[96];
  size_t len = 0;
  auto append = [&](std::string_view s) {
    size_t n = std::min(s.size(), sizeof(text) - len);
    std::memcpy(text + len, s.data(), n);
    len += n;
  };
  append("blocked by safegate");
  if (!d.category.empty()) {
    append(": ");
    append(d.category);
  }
  BlockResponseOptions opts;
  opts.ttl_seconds = live ? live->block_ttl_seconds : settings_.block_ttl_seconds;
  opts.ede_blocked = true;
  opts.ede_text = std::string_view(text, len);
  switch (d.block_answer) {
    case BlockAnswer::kNxdomain: return buildNxdomain(query, q, opts, out);
    case BlockAnswer::kNodata: return buildNodata(query, q, opts, out);
    case BlockAnswer::kRefused: return buildRefused(query, q, opts, out);
    case BlockAnswer::kNullAddress:
      return buildAddressAnswer(query, q, IpAddress(), *IpAddress::parse("::"), opts, out);
    case BlockAnswer::kBlockPage:
      return live
                 ? buildAddressAnswer(query, q, live->block_page_v4, live->block_page_v6, opts, out)
                 : buildAddressAnswer(query, q, settings_.block_page_v4, settings_.block_page_v6,
                                      opts, out);
  }
  return buildNxdomain(query, q, opts, out);
}

void QueryHandler::recordIncident(const PolicyView& policy, const RequestFacts& facts,
                                  const Decision& d, std::string_view logged_name,
                                  int64_t now_ms) noexcept {
  if (!incidents_) return;
  IncidentEvent e = IncidentEvent::fromDecision(facts, d, now_ms);
  if (!d.confidential) e.name.assign(logged_name);
  e.device.assign(policy.deviceName(facts.client, facts.mac));
  if (!incidents_->record(e)) bump(counters_.incidents_dropped);
}

QueryPlan QueryHandler::plan(const PolicyView& policy, std::span<const uint8_t> query,
                             const DnsQuery& q, const ClientInfo& client, int64_t now_ms,
                             std::span<uint8_t> out) noexcept {
  RequestFacts facts;
  facts.client = client.address;
  facts.mac = client.mac;
  facts.protocol = Protocol::kDns;
  facts.name = q.question.name;
  facts.dns_type = q.question.qtype;
  facts.unix_time_seconds = now_ms / 1000;
  const Decision d = policy.decide(facts);
  const bool incident = isIncident(d);
  if (d.alert) bump(counters_.alerted);
  QueryPlan plan;
  plan.decision = d;
  switch (d.verdict) {
    case Verdict::kBlock:
      bump(counters_.blocked);
      if (incident) recordIncident(policy, facts, d, facts.name, now_ms);
      plan.action = QueryAction::kAnswered;
      plan.answer_length = buildBlockAnswer(query, q, d, out, &policy);
      if (plan.answer_length == 0) plan.answer_length = servfail(query, q, out, counters_);
      return plan;
    case Verdict::kRewrite:
      bump(counters_.rewritten);
      if (incident) recordIncident(policy, facts, d, facts.name, now_ms);
      if (q.question.qtype == dns_type::kAny) return minimalAny(plan, query, q, out);
      if (!d.rewrite_target.empty() && d.rewrite_target != q.question.name) {
        plan.action = QueryAction::kForwardRewrite;
        plan.rewrite_target = d.rewrite_target;
        return plan;
      }
      plan.action = QueryAction::kForward;
      return plan;
    case Verdict::kMonitor:
      bump(counters_.monitored);
      if (incident) recordIncident(policy, facts, d, facts.name, now_ms);
      break;
    case Verdict::kAllow:
      bump(counters_.allowed);
      if (incident) {
        recordIncident(policy, facts, d, facts.name, now_ms);
      } else if (incidents_ && incidents_->fullQueryLog()) {
        IncidentEvent e = IncidentEvent::fromDecision(facts, d, now_ms);
        e.query_log_only = true;
        e.device.assign(policy.deviceName(facts.client, facts.mac));
        if (!incidents_->record(e)) bump(counters_.incidents_dropped);
      }
      break;
  }
  if (q.question.qtype == dns_type::kAny) return minimalAny(plan, query, q, out);
  plan.action = QueryAction::kForward;
  return plan;
}

QueryPlan QueryHandler::minimalAny(QueryPlan plan, std::span<const uint8_t> query,
                                   const DnsQuery& q, std::span<uint8_t> out) noexcept {
  bump(counters_.any_minimal);
  plan.action = QueryAction::kAnswered;
  plan.answer_length = buildMinimalAnyAnswer(query, q, kMinimalAnyTtlSeconds, out);
  if (plan.answer_length == 0) plan.answer_length = servfail(query, q, out, counters_);
  return plan;
}

size_t QueryHandler::finish(const PolicyView& policy, std::span<const uint8_t> query,
                            const DnsQuery& q, const ClientInfo& client,
                            std::string_view rewrite_target, std::span<const uint8_t> upstream,
                            int64_t now_ms, std::span<uint8_t> out) noexcept {
  NameBuffer qn;
  DnsResponseView view(upstream, qn);
  if (view.status() != DnsParseStatus::kOk) return servfail(query, q, out, counters_);

  // CNAME cloaking: decide every alias target in the answer chain with this client's facts.
  RequestFacts facts;
  facts.client = client.address;
  facts.mac = client.mac;
  facts.protocol = Protocol::kDns;
  facts.dns_type = q.question.qtype;
  facts.unix_time_seconds = now_ms / 1000;
  NameBuffer rn, target;
  bool has_svcb = false;  // an HTTPS/SVCB record anywhere may carry an "ech" SvcParam
  while (auto r = view.next(rn)) {
    if (r->type == dns_type::kHttps || r->type == dns_type::kSvcb) has_svcb = true;
    if (r->section != DnsRecord::Section::kAnswer || r->type != dns_type::kCname) continue;
    if (view.cnameTarget(*r, target) != DnsParseStatus::kOk) continue;
    facts.name = target.view();
    if (facts.name == rewrite_target) continue;  // our own safe-search target
    const Decision d = policy.decide(facts);
    if (d.verdict == Verdict::kBlock) {
      bump(counters_.cname_blocked);
      if (isIncident(d)) recordIncident(policy, facts, d, q.question.name, now_ms);
      size_t n = buildBlockAnswer(query, q, d, out, &policy);
      return n ? n : servfail(query, q, out, counters_);
    }
  }

  if (settings_.resolved != nullptr) {
    settings_.resolved->recordResponse(client.address, upstream, now_ms / 1000);
  }

  if (!rewrite_target.empty()) {
    // "name CNAME target" + the target's A/AAAA/CNAME records, re-encoded without compression
    // so they stand on their own in our message.
    uint8_t rrs[kMaxRewriteRecordBytes];
    size_t used = 0;
    uint16_t count = 0;
    uint32_t ttl = 300;
    NameBuffer qn2, owner, alias;
    DnsResponseView v2(upstream, qn2);
    while (auto r = v2.next(owner)) {
      if (r->section != DnsRecord::Section::kAnswer) break;
      if (r->type != dns_type::kA && r->type != dns_type::kAaaa && r->type != dns_type::kCname) {
        continue;
      }
      size_t start = used;
      size_t n = writeWireName(owner.view(), rrs + used, sizeof(rrs) - used);
      if (n == 0 || used + n + 10 > sizeof(rrs)) break;
      used += n;
      put16(rrs + used, r->type);
      put16(rrs + used + 2, r->rclass);
      put32(rrs + used + 4, r->ttl);
      size_t rdlen_at = used + 8;
      used += 10;
      if (r->type == dns_type::kCname) {
        size_t m = v2.cnameTarget(*r, alias) == DnsParseStatus::kOk
                       ? writeWireName(alias.view(), rrs + used, sizeof(rrs) - used)
                       : 0;
        if (m == 0) {
          used = start;
          break;
        }
        used += m;
        put16(rrs + rdlen_at, static_cast<uint16_t>(m));
      } else {
        if (used + r->rdata.size() > sizeof(rrs)) {
          used = start;
          break;
        }
        std::memcpy(rrs + used, r->rdata.data(), r->rdata.size());
        used += r->rdata.size();
        put16(rrs + rdlen_at, static_cast<uint16_t>(r->rdata.size()));
      }
      ttl = std::min(ttl, r->ttl);
      ++count;
    }
    size_t n = buildCnameAnswer(query, q, rewrite_target, ttl, std::span(rrs, used), count, out);
    return n ? n : servfail(query, q, out, counters_);
  }

  if (has_svcb) {
    // ECH stripping happens here, on the way out to this client, and not in the shared cache:
    // strip_ech is a per-group setting, so the cache keeps the upstream's answer and every
    // client gets it as its own group wants it. The decision is taken again only for the rare
    // answers that hold HTTPS/SVCB records, with the policy that is current now.
    facts.name = q.question.name;
    if (policy.decide(facts).strip_ech) {
      const EchStripResult res = stripEchFromResponse(upstream, out);
      if (res.removed > 0) {
        out[0] = query[0];  // the client's ID
        out[1] = query[1];
        bump(counters_.ech_stripped);
        if (view.header().truncated()) bump(counters_.truncated_passed);
        return res.length;
      }
      // Stripping was needed but could not be done: fail closed rather than hand out ECH keys
      // to a group that must not get them.
      if (res.no_room || res.status != DnsParseStatus::kOk) {
        bump(counters_.ech_strip_failed);
        return servfail(query, q, out, counters_);
      }
    }
  }

  if (upstream.size() > out.size()) return servfail(query, q, out, counters_);
  std::memcpy(out.data(), upstream.data(), upstream.size());
  out[0] = query[0];  // the client's ID
  out[1] = query[1];
  if (view.header().truncated()) bump(counters_.truncated_passed);
  return upstream.size();
}

}  // namespace safegate
