#include "policy/upstream_spec.h"

#include <algorithm>

#include "common/ip_address.h"

namespace safegate {

namespace {

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

// A host name as RFC 1123 allows it (letters, digits, '-', dots): what SNI and a URL carry.
bool isHostName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok || ++label > 63) return false;
  }
  return label > 0;
}

}  // namespace

Result<UpstreamSpec> UpstreamSpec::parse(std::string_view text) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  UpstreamSpec spec;
  std::string_view rest = text;
  if (startsWith(rest, "tls://")) {
    spec.protocol = UpstreamProtocol::kTls;
    spec.port = 853;
    rest.remove_prefix(6);
  } else if (startsWith(rest, "https://")) {
    spec.protocol = UpstreamProtocol::kHttps;
    spec.port = 443;
    rest.remove_prefix(8);
  } else if (rest.find("://") != std::string_view::npos) {
    return Status::invalid(quoted + ": unknown scheme (use \"addr:port\", tls:// or https://)");
  }
  if (const size_t hash = rest.find('#'); hash != std::string_view::npos) {
    if (!spec.encrypted()) {
      return Status::invalid(quoted + ": a certificate name (#name) needs tls:// or https://");
    }
    spec.tls_name = std::string(rest.substr(hash + 1));
    rest = rest.substr(0, hash);
    if (!isHostName(spec.tls_name) && !IpAddress::parse(spec.tls_name)) {
      return Status::invalid(quoted + ": \"" + spec.tls_name + "\" is not a host name");
    }
  }
  if (spec.protocol == UpstreamProtocol::kHttps) {
    const size_t slash = rest.find('/');
    spec.path = slash == std::string_view::npos ? "/dns-query" : std::string(rest.substr(slash));
    rest = rest.substr(0, std::min(slash, rest.size()));
    for (char c : spec.path) {
      if (c <= ' ' || c == '?' || c > '~') {
        return Status::invalid(quoted + ": the path may not contain '" + std::string(1, c) +
                               "' (queries are POSTed, RFC 8484 §4.1)");
      }
    }
  } else if (rest.find('/') != std::string_view::npos) {
    return Status::invalid(quoted + ": only https:// upstreams have a path");
  }
  // "addr", "addr:port", "[v6]", "[v6]:port"; a bare v6 address has more than one ':'.
  std::string_view host = rest, port_text;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return Status::invalid(quoted + ": unclosed '['");
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Status::invalid(quoted + ": junk after ']'");
      port_text = after.substr(1);
      if (port_text.empty()) return Status::invalid(quoted + ": empty port");
    }
  } else if (std::count(rest.begin(), rest.end(), ':') == 1) {
    const size_t colon = rest.find(':');
    host = rest.substr(0, colon);
    port_text = rest.substr(colon + 1);
    if (port_text.empty()) return Status::invalid(quoted + ": empty port");
  }
  auto ip = IpAddress::parse(host);
  if (!ip) {
    return Status::invalid(quoted + ": \"" + std::string(host) +
                           "\" is not an IP address (the resolver's address; put the name its "
                           "certificate carries after '#')");
  }
  spec.address = ip->toString();
  if (!port_text.empty()) {
    uint32_t p = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9' || p > 65535) return Status::invalid(quoted + ": bad port");
      p = p * 10 + static_cast<uint32_t>(c - '0');
    }
    if (p == 0 || p > 65535) return Status::invalid(quoted + ": port is not 1..65535");
    spec.port = static_cast<uint16_t>(p);
  }
  return spec;
}

std::string UpstreamSpec::hostLiteral(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

std::string UpstreamSpec::hostPort() const {
  return hostLiteral(address) + ":" + std::to_string(port);
}

std::string UpstreamSpec::url() const {
  return "https://" + hostLiteral(verifyName()) + ":" + std::to_string(port) + path;
}

std::string UpstreamSpec::pinnedName() const {
  return tls_name.empty() || IpAddress::parse(tls_name) ? std::string() : tls_name;
}

std::string UpstreamSpec::toString() const {
  const std::string name = tls_name.empty() ? "" : "#" + tls_name;
  switch (protocol) {
    case UpstreamProtocol::kPlain: return hostPort();
    case UpstreamProtocol::kTls: return "tls://" + hostPort() + name;
    case UpstreamProtocol::kHttps: return "https://" + hostPort() + path + name;
  }
  return hostPort();
}

}  // namespace safegate
