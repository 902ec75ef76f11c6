#include "filters/reverse_name.h"

#include <cstdio>

#include "filters/dhcp_leases.h"
#include "filters/dns_message.h"

namespace safegate {

std::string reverseQueryName(const IpAddress& address) {
  const auto bytes = address.bytes();
  if (address.isV4() || address.isV4Mapped()) {
    // The last four octets: the address itself, or the IPv4 inside ::ffff:a.b.c.d.
    const auto v4 = bytes.last(4);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u.in-addr.arpa", unsigned{v4[3]}, unsigned{v4[2]},
                  unsigned{v4[1]}, unsigned{v4[0]});
    return buf;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(72);
  for (size_t i = bytes.size(); i-- > 0;) {
    out += kHex[bytes[i] & 0x0f];
    out += '.';
    out += kHex[bytes[i] >> 4];
    out += '.';
  }
  out += "ip6.arpa";
  return out;
}

std::optional<PtrAnswer> parsePtrAnswer(std::span<const uint8_t> msg, uint16_t id,
                                        std::string_view question_name) {
  NameBuffer qname;
  DnsResponseView view(msg, qname);
  if (view.status() != DnsParseStatus::kOk || !view.header().isResponse() ||
      view.header().id != id || view.header().qdcount != 1 ||
      view.question().qtype != dns_type::kPtr || view.question().qclass != 1 ||
      view.question().name != question_name) {  // both lower case (readDnsName)
    return std::nullopt;
  }
  PtrAnswer answer;
  answer.rcode = view.header().rcode();
  NameBuffer owner, target;
  while (auto r = view.next(owner)) {
    if (r->section != DnsRecord::Section::kAnswer) break;
    if (r->type != dns_type::kPtr || r->rclass != 1 || r->name != question_name) {
      continue;
    }
    if (view.cnameTarget(*r, target) != DnsParseStatus::kOk) return std::nullopt;
    const std::string_view full = target.view();
    const std::string_view label = full.substr(0, full.find('.'));
    answer.name = cleanHostName(label);
    answer.ttl = r->ttl;
    if (!answer.name.empty()) break;
  }
  if (view.status() != DnsParseStatus::kOk) return std::nullopt;
  return answer;
}

}  // namespace safegate
