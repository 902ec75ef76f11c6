// Reverse DNS for device names: the PTR question for a client address and the name
// a LAN DNS server's answer gives it, so an incident can say "sams-tablet" where the DHCP lease
// files are not readable (a school's AD/DNS server, a separate router).
//
// reverseQueryName: "23.1.168.192.in-addr.arpa" (RFC 1035 §3.5) or the 32-nibble ip6.arpa name
// (RFC 3596 §2.5). parsePtrAnswer checks the answer is the one asked (response, ID, question
// name, type PTR, class IN) and takes the first PTR record owned by the question name; the
// device name is its first label, cleaned like a DHCP host name (filters/dhcp_leases.h:
// cleanHostName) so what a network sends cannot inject anything into a log line.
// Pure functions; no allocation beyond the returned strings.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/ip_address.h"

namespace safegate {

std::string reverseQueryName(const IpAddress& address);

struct PtrAnswer {
  uint8_t rcode = 0;
  std::string name;  // cleaned first label; "" when the answer has no usable PTR
  uint32_t ttl = 0;  // the PTR record's TTL (0 when there is none)
};

// nullopt: not an answer to this question (wrong ID, name, type; not a response; malformed).
std::optional<PtrAnswer> parsePtrAnswer(std::span<const uint8_t> msg, uint16_t id,
                                        std::string_view question_name);

}  // namespace safegate
