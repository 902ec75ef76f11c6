// UpstreamSpec: one dns.upstreams entry — a plain DNS resolver, DNS over TLS (RFC 7858) or
// DNS over HTTPS (RFC 8484):
//   "9.9.9.9", "9.9.9.9:53", "[2620:fe::fe]:53"      plain DNS over UDP (and TCP)
//   "tls://9.9.9.9#dns.quad9.net"                    DoT, port 853 unless given
//   "https://9.9.9.9/dns-query#dns.quad9.net"        DoH, port 443 and /dns-query unless given
// The address is where safegated connects — an IP address, never a name, since resolving the
// resolver would need a resolver. The name after '#' is the one the upstream's certificate must
// carry, sent as SNI and used as the DoH URL's host; without it the certificate must name the
// address itself (an IP SAN, as Quad9's and Cloudflare's do).
// Used by the config check (policy/config_schema.cc) and the daemon
// (daemon/dns/encrypted_upstream.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace safegate {

enum class UpstreamProtocol : uint8_t { kPlain, kTls, kHttps };

struct UpstreamSpec {
  UpstreamProtocol protocol = UpstreamProtocol::kPlain;
  std::string address;  // the IP address, without brackets: "9.9.9.9", "2620:fe::fe"
  uint16_t port = 53;
  std::string tls_name;  // DoT/DoH: the certificate's name; "" = the address
  std::string path;      // DoH: "/dns-query"

  // Parses one entry; the error quotes it and says what is wrong.
  static Result<UpstreamSpec> parse(std::string_view text);
  bool encrypted() const { return protocol != UpstreamProtocol::kPlain; }
  // "9.9.9.9:853", "[2620:fe::fe]:853": what to connect to.
  std::string hostPort() const;
  // The name the certificate is checked against: tls_name, or the address.
  std::string verifyName() const { return tls_name.empty() ? address : tls_name; }
  // The DoH URL, "https://dns.quad9.net:443/dns-query", "https://[2620:fe::fe]:443/dns-query".
  std::string url() const;
  // tls_name when it is a host name (to be pinned to `address`), "" when unset or an address.
  std::string pinnedName() const;
  // An address as it goes in a URL or before ":port": IPv6 in brackets, anything else as is.
  static std::string hostLiteral(const std::string& host);
  // For logs and status: "tls://9.9.9.9:853#dns.quad9.net", "9.9.9.9:53".
  std::string toString() const;
};

}  // namespace safegate
