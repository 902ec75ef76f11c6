// Fuzz target for the DNS message parser and builders (filters/dns_message.h).
//
// The input is one DNS message. It is parsed as a query; a query that parses is answered with
// every builder and each answer must parse back as a response with the same ID and question.
// The input is also walked as a response (every record, every CNAME target) and names are
// read at every offset, which reaches the compression-pointer rules from all sides. Responses
// with ech SvcParams are stripped and the result must parse with nothing left to strip.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "filters/dns_message.h"

namespace {

using namespace safegate;

[[noreturn]] void fail() { __builtin_trap(); }

void walkResponse(std::span<const uint8_t> msg, bool must_parse, uint16_t id,
                  std::string_view qname) {
  NameBuffer qn, rn, target;
  DnsResponseView view(msg, qn);
  if (view.status() != DnsParseStatus::kOk) {
    if (must_parse) fail();
    return;
  }
  if (must_parse && (view.header().id != id || view.question().name != qname)) fail();
  size_t records = 0;
  while (auto r = view.next(rn)) {
    ++records;
    if (r->rdata_offset + r->rdata.size() > msg.size()) fail();
    if (r->ttl_offset + 4 > msg.size()) fail();
    if (r->type == dns_type::kCname) (void)view.cnameTarget(*r, target);
  }
  if (must_parse && view.status() != DnsParseStatus::kOk) fail();
  if (records > 65535u * 3) fail();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> msg(data, size);

  DnsQuery q;
  NameBuffer name;
  if (parseDnsQuery(msg, q, name) == DnsParseStatus::kOk) {
    if (q.question_end > size || q.question.name.size() > sizeof(name.data)) fail();
    std::array<uint8_t, 4096> out;
    BlockResponseOptions opts;
    opts.ede_text = "blocked by safegate: fuzz";
    std::array<uint8_t, 16> v6{};
    v6[15] = 1;
    const IpAddress v4;
    const IpAddress addr6 = IpAddress::v6(v6);
    const uint8_t rr[] = {1, 'x', 0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1};
    size_t lengths[] = {
        buildNxdomain(msg, q, opts, out),
        buildNodata(msg, q, opts, out),
        buildRefused(msg, q, opts, out),
        buildServfail(msg, q, out),
        buildAddressAnswer(msg, q, v4, addr6, opts, out),
        buildCnameAnswer(msg, q, "safe.example", 60, rr, 1, out),
    };
    // Builders run one after another into the same buffer; re-run each to check its output.
    for (int which = 0; which < 6; ++which) {
      size_t n = 0;
      switch (which) {
        case 0: n = buildNxdomain(msg, q, opts, out); break;
        case 1: n = buildNodata(msg, q, opts, out); break;
        case 2: n = buildRefused(msg, q, opts, out); break;
        case 3: n = buildServfail(msg, q, out); break;
        case 4: n = buildAddressAnswer(msg, q, v4, addr6, opts, out); break;
        default: n = buildCnameAnswer(msg, q, "safe.example", 60, rr, 1, out); break;
      }
      if (n != lengths[which]) fail();  // deterministic
      // Every query that parsed has a question of at most 259 octets: answers always fit.
      if (n == 0) fail();
      walkResponse({out.data(), n}, true, q.header.id, q.question.name);
    }
  }

  walkResponse(msg, false, 0, {});

  // ECH stripping: whatever it writes must be a valid response with the same question.
  {
    static std::array<uint8_t, 131072> stripped;
    const EchStripResult res = stripEchFromResponse(msg, stripped);
    if (res.length > 0) {
      if (res.removed == 0 || res.status != DnsParseStatus::kOk) fail();
      NameBuffer original_q;
      DnsResponseView original(msg, original_q);
      walkResponse({stripped.data(), res.length}, true, original.header().id,
                   original.question().name);
      static std::array<uint8_t, 131072> again;
      if (stripEchFromResponse({stripped.data(), res.length}, again).removed != 0) fail();
    }
  }

  NameBuffer nb;
  for (size_t off = 0; off < size && off < 512; ++off) {
    size_t next = 0;
    if (readDnsName(msg, off, nb, next) == DnsParseStatus::kOk) {
      if (next <= off || next > size) fail();
    }
  }
  return 0;
}
