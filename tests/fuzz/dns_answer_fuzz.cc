// Fuzz target for the DNS proxy's answer path: an arbitrary upstream response goes through
// what daemon/dns/dns_proxy.cc does with one — responseMatchesQuestion(), DnsCache::insert() and
// lookup(), then QueryHandler::finish() (CNAME chain decisions, safe-search rewrite, ECH
// stripping, the block answers) — on the client's query for the response's own question.
//
// Input: byte 0 selects the mode (bit 0: the client asked "search.test", rewritten to the
// response's question; bit 1: strip ECH; bit 2: EDNS in the client's query; bits 3-5: how a
// blocked name is answered); the rest is the upstream response. Policy: "blocked.test" and its
// subdomains are blocked, "monitor.test" is monitored, "search.test" is rewritten.
// Checks: every answer fits the buffer, carries the client's ID, and parses as a response to
// the client's question; a cache hit gives back an answer of the stored length.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

#include "daemon/dns/dns_cache.h"
#include "daemon/dns/query_handler.h"
#include "daemon/dns/resolved_addresses.h"
#include "filters/dns_message.h"

namespace {

using namespace safegate;

class FuzzPolicy : public PolicyView {
 public:
  Decision decide(const RequestFacts& f) const noexcept override {
    Decision d;
    d.group = "kids";
    d.strip_ech = strip_ech;
    if (f.name == "blocked.test" || f.name.ends_with(".blocked.test")) {
      d.verdict = Verdict::kBlock;
      d.reason = DecisionReason::kCategory;
      d.category = "gambling";
      d.rule = "blocked.test";
      d.log = true;
      d.block_answer = block_answer;
    } else if (f.name == "monitor.test") {
      d.verdict = Verdict::kMonitor;
      d.log = true;
    } else if (f.name == "search.test") {
      d.verdict = Verdict::kRewrite;
      d.reason = DecisionReason::kSafeSearch;
      d.rewrite_target = rewrite_target;
    }
    return d;
  }
  bool strip_ech = false;
  BlockAnswer block_answer = BlockAnswer::kNxdomain;
  std::string_view rewrite_target;
};

constexpr uint16_t kClientId = 0x4242;

// The answer must be a response to the client's question with the client's ID.
void checkAnswer(std::span<const uint8_t> answer, const DnsQuery& q) {
  if (answer.size() < kDnsHeaderSize) std::abort();
  if (((answer[0] << 8) | answer[1]) != kClientId) std::abort();
  NameBuffer qn;
  DnsResponseView v(answer, qn);
  if (v.status() != DnsParseStatus::kOk) std::abort();
  if (v.question().qtype != q.question.qtype || v.question().name != q.question.name) {
    std::abort();
  }
  NameBuffer rn;
  for (int i = 0; i < 1000 && v.next(rn); ++i) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 + kDnsHeaderSize || size > 65535) return 0;
  const uint8_t mode = data[0];
  const std::span<const uint8_t> upstream(data + 1, size - 1);

  // The question the upstream was asked: the response's own (anything else is dropped by
  // responseMatchesQuestion before it reaches the cache or finish()).
  NameBuffer upstream_name;
  DnsResponseView view(upstream, upstream_name);
  if (view.status() != DnsParseStatus::kOk) return 0;
  const std::string upstream_question(view.question().name);
  const uint16_t qtype = view.question().qtype;
  const uint16_t qclass = view.question().qclass;
  const uint16_t upstream_id = static_cast<uint16_t>((upstream[0] << 8) | upstream[1]);
  if (!responseMatchesQuestion(upstream, upstream_id, upstream_question, qtype, qclass)) return 0;

  FuzzPolicy policy;
  const bool rewrite = (mode & 1) != 0;
  policy.strip_ech = (mode & 2) != 0;
  policy.block_answer = static_cast<BlockAnswer>(((mode >> 3) & 7) % 5);
  policy.rewrite_target = upstream_question;

  std::array<uint8_t, 512> query_bytes{};
  const size_t query_length =
      buildDnsQuery(kClientId, rewrite ? std::string_view("search.test") : upstream_question, qtype,
                    (mode & 4) ? 1232 : 0, false, query_bytes);
  if (query_length == 0) return 0;
  const std::span<const uint8_t> query(query_bytes.data(), query_length);
  DnsQuery q;
  NameBuffer query_name;
  if (parseDnsQuery(query, q, query_name) != DnsParseStatus::kOk) return 0;
  if (q.question.qclass != qclass) return 0;  // buildDnsQuery asks class IN only
  // A name that does not survive presentation form (a dot inside a label) is another question.
  if (!rewrite && q.question.name != upstream_question) return 0;
  // A safe-search target is a configured host name, never the root.
  if (rewrite && upstream_question.empty()) return 0;

  static ResolvedAddressTable resolved(1 << 10);
  AnswerSettings settings;
  settings.resolved = &resolved;
  ProxyCounters counters;
  QueryHandler handler(settings, nullptr, counters);
  const ClientInfo client{*IpAddress::parse("192.0.2.7"), std::nullopt};
  const int64_t now_ms = 1'795'430'000'000;
  std::array<uint8_t, 65535> out{};

  // As the proxy does: plan, then answer from the upstream response and from the cache.
  const QueryPlan plan = handler.plan(policy, query, q, client, now_ms, out);
  if (plan.action == QueryAction::kAnswered) {
    if (plan.answer_length > out.size()) std::abort();
    checkAnswer(std::span(out.data(), plan.answer_length), q);
    return 0;
  }
  const std::string_view target = rewrite ? std::string_view(upstream_question) : "";
  size_t n = handler.finish(policy, query, q, client, target, upstream, now_ms, out);
  if (n > out.size()) std::abort();
  checkAnswer(std::span(out.data(), n), q);

  static DnsCache cache(64);
  const DnsCacheKey key{upstream_question, qtype, qclass, q.has_edns, q.edns_do, false};
  cache.clear();  // a hit below must be this input's answer
  cache.insert(key, upstream, now_ms);
  std::array<uint8_t, kMaxCachedMessage> hit{};
  const size_t cached = cache.lookup(key, now_ms + 1000, hit);
  if (cached > 0) {
    if (cached != upstream.size()) std::abort();
    n = handler.finish(policy, query, q, client, target, std::span(hit.data(), cached),
                       now_ms + 1000, out);
    if (n > out.size()) std::abort();
    checkAnswer(std::span(out.data(), n), q);
  }
  return 0;
}
