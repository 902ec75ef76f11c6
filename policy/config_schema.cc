#include "policy/config_schema.h"

#include <cctype>
#include <map>
#include <mutex>
#include <set>

#include "common/ip_address.h"
#include "policy/schedule.h"
#include "policy/suggest.h"
#include "policy/time_zone.h"
#include "policy/upstream_spec.h"

namespace safegate::policy {

std::string_view keyTypeName(KeyType t) {
  switch (t) {
    case KeyType::kString: return "string";
    case KeyType::kInteger: return "integer";
    case KeyType::kBoolean: return "boolean";
    case KeyType::kStringList: return "list of strings";
    case KeyType::kIntegerList: return "list of integers";
    case KeyType::kTable: return "table";
    case KeyType::kTableArray: return "array of tables";
    case KeyType::kStringMap: return "table of strings";
  }
  return "?";
}

namespace {

// ---- validators (each returns "" or the problem) ----

std::string forEachString(const toml::node& n, std::string (*one)(std::string_view)) {
  if (auto s = n.value<std::string>()) return one(*s);
  if (const auto* arr = n.as_array()) {
    for (const auto& e : *arr) {
      if (auto s = e.value<std::string>()) {
        if (std::string err = one(*s); !err.empty()) return err;
      }
    }
  }
  return {};
}

std::string checkAddrPortRange(std::string_view s, uint32_t min_port) {
  std::string_view host;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    const size_t close = s.find("]:");
    if (close == std::string_view::npos) return "\"" + std::string(s) + "\" is not [IPv6]:port";
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    const size_t colon = s.rfind(':');
    if (colon == std::string_view::npos || s.find(':') != colon) {
      return "\"" + std::string(s) + "\" is not address:port (IPv6 as [addr]:port)";
    }
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  if (!IpAddress::parse(host)) return "\"" + std::string(host) + "\" is not an IP address";
  if (port.empty() || port.size() > 5) return "\"" + std::string(s) + "\" has no valid port";
  uint32_t p = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return "\"" + std::string(s) + "\" has no valid port";
    p = p * 10 + static_cast<uint32_t>(c - '0');
  }
  if (p < min_port || p > 65535) {
    return "port of \"" + std::string(s) + "\" is not " + std::to_string(min_port) + "..65535";
  }
  return {};
}
// dns.listen: port 0 asks the kernel for a free port; the ready line and `status` report the
// port actually bound. (Upstreams have their own syntax: policy/upstream_spec.h.)
std::string checkListenAddrPort(std::string_view s) { return checkAddrPortRange(s, 0); }
std::string checkUpstream(std::string_view s) {
  auto spec = UpstreamSpec::parse(s);
  return spec ? std::string() : spec.status().message();
}
std::string validateUpstreams(const toml::node& n) { return forEachString(n, checkUpstream); }
std::string validateReverseServer(const toml::node& n) {
  auto s = n.value<std::string>();
  if (!s || s->empty()) return {};
  auto spec = UpstreamSpec::parse(*s);
  if (!spec) return spec.status().message();
  if (spec->encrypted()) return "\"" + *s + "\": plain DNS only (\"addr[:port]\")";
  return {};
}
std::string validateListenAddrPorts(const toml::node& n) {
  return forEachString(n, checkListenAddrPort);
}
std::string validateListenAddrPort(const toml::node& n) {
  auto v = n.value<std::string>();
  return v && !v->empty() ? checkListenAddrPort(*v) : std::string();
}
// ui.help_links: "Label|URL", the URL http(s):// or tel: (a helpline's number).
std::string checkHelpLink(std::string_view s) {
  const size_t bar = s.find('|');
  if (bar == std::string_view::npos || bar == 0) {
    return "\"" + std::string(s) +
           "\" is not \"Label|URL\" (e.g. \"Childline|https://www.childline.org.uk\")";
  }
  const std::string_view url = s.substr(bar + 1);
  if (!url.starts_with("https://") && !url.starts_with("http://") && !url.starts_with("tel:")) {
    return "\"" + std::string(url) + "\": a help link is https://, http:// or tel:";
  }
  for (char c : url) {
    if (c <= ' ' || c == '"' || c == '<' || c == '>' || c == '\'' || c == '`') {
      return "\"" + std::string(url) + "\": a URL may not contain '" + std::string(1, c) + "'";
    }
  }
  return {};
}
std::string validateHelpLinks(const toml::node& n) { return forEachString(n, checkHelpLink); }

std::string checkTimeZone(std::string_view s) {
  auto tz = TimeZone::load(s);
  return tz ? std::string() : tz.status().message();
}
std::string validateTimeZone(const toml::node& n) {
  auto s = n.value<std::string>();
  if (!s || s->empty()) return {};
  return checkTimeZone(*s);
}

std::string checkWindow(std::string_view s) {
  WeekMinutes m;
  return parseWindow(s, m);
}
std::string validateWindows(const toml::node& n) { return forEachString(n, checkWindow); }

std::string checkDates(std::string_view s) {
  DateRange r;
  return parseDateRange(s, r);
}
std::string validateDates(const toml::node& n) { return forEachString(n, checkDates); }

std::string checkAddressOrCidr(std::string_view s) {
  if (Cidr::parse(s)) return {};
  return "\"" + std::string(s) + "\" is not an IP address or CIDR (e.g. 192.168.1.20, 10.1.0.0/16)";
}
std::string validateAddresses(const toml::node& n) { return forEachString(n, checkAddressOrCidr); }

std::string checkMac(std::string_view s) {
  if (MacAddress::parse(s)) return {};
  return "\"" + std::string(s) + "\" is not a MAC address (aa:bb:cc:dd:ee:ff)";
}
std::string validateMacs(const toml::node& n) { return forEachString(n, checkMac); }

std::string checkIpv4OrEmpty(std::string_view s) {
  if (s.empty()) return {};
  auto ip = IpAddress::parse(s);
  if (!ip || !ip->isV4()) return "\"" + std::string(s) + "\" is not an IPv4 address";
  return {};
}
std::string validateIpv4(const toml::node& n) { return forEachString(n, checkIpv4OrEmpty); }
std::string checkIpv6OrEmpty(std::string_view s) {
  if (s.empty()) return {};
  auto ip = IpAddress::parse(s);
  if (!ip || !ip->isV6()) return "\"" + std::string(s) + "\" is not an IPv6 address";
  return {};
}
std::string validateIpv6(const toml::node& n) { return forEachString(n, checkIpv6OrEmpty); }

std::string checkMode(std::string_view s) {
  if (s.size() < 3 || s.size() > 4)
    return "mode \"" + std::string(s) + "\" is not octal like \"0660\"";
  for (char c : s) {
    if (c < '0' || c > '7') return "mode \"" + std::string(s) + "\" is not octal like \"0660\"";
  }
  return {};
}
std::string validateMode(const toml::node& n) { return forEachString(n, checkMode); }

// [hotline] endpoint: https only. Reports leave the machine; TLS verification is always on and
// a plain http:// endpoint would send them in clear (docs/hotline.md).
std::string checkHttpsUrlOrEmpty(std::string_view s) {
  if (s.empty()) return {};
  if (s.substr(0, 8) != "https://" || s.size() <= 8) {
    return "\"" + std::string(s) + "\" is not an https:// URL (reports are only sent over TLS)";
  }
  return {};
}
std::string checkClockTimeOrEmpty(std::string_view s) {
  if (s.empty()) return {};
  if (s.size() != 5 || s[2] != ':' || !std::isdigit(static_cast<unsigned char>(s[0])) ||
      !std::isdigit(static_cast<unsigned char>(s[1])) ||
      !std::isdigit(static_cast<unsigned char>(s[3])) ||
      !std::isdigit(static_cast<unsigned char>(s[4])) || (s[0] - '0') * 10 + (s[1] - '0') > 23 ||
      s[3] > '5') {
    return "\"" + std::string(s) + "\" is not a time of day HH:MM";
  }
  return {};
}
std::string validateClockTime(const toml::node& n) {
  return forEachString(n, checkClockTimeOrEmpty);
}
std::string validateHttpsUrl(const toml::node& n) { return forEachString(n, checkHttpsUrlOrEmpty); }
std::string checkPinOrEmpty(std::string_view s) {
  if (s.empty()) return {};
  if (s.substr(0, 8) != "sha256//" || s.size() != 8 + 44) {
    return "\"" + std::string(s) +
           "\" is not a public-key pin \"sha256//\" + 44 base64 characters (see docs/hotline.md)";
  }
  return {};
}
std::string validatePin(const toml::node& n) { return forEachString(n, checkPinOrEmpty); }

// A host name as written in config: letters, digits, '-', '_', '.', optional leading "*."
std::string checkName(std::string_view s) {
  std::string_view v = s;
  if (v.starts_with("*.")) v.remove_prefix(2);
  if (v.empty() || v.size() > 253) return "\"" + std::string(s) + "\" is not a domain name";
  for (char c : v) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || static_cast<unsigned char>(c) >= 0x80;
    if (!ok) return "\"" + std::string(s) + "\" is not a domain name";
  }
  if (v.front() == '.' || v.find("..") != std::string_view::npos) {
    return "\"" + std::string(s) + "\" is not a domain name";
  }
  return {};
}
std::string validateNames(const toml::node& n) { return forEachString(n, checkName); }

std::string checkNonEmpty(std::string_view s) {
  return s.empty() ? std::string("must not be empty") : std::string();
}
std::string validateNonEmpty(const toml::node& n) { return forEachString(n, checkNonEmpty); }
std::string checkListSource(std::string_view s) {
  if (s.empty()) return "must not be empty";
  if (s.starts_with("http://")) {
    return "\"" + std::string(s) +
           "\": plain http:// lists can be altered on the way; use https://";
  }
  if (s.find("://") != std::string_view::npos && !s.starts_with("https://") &&
      !s.starts_with("file://")) {
    return "\"" + std::string(s) + "\": only https:// and file:// URLs, or a file path";
  }
  return {};
}
std::string validateListSources(const toml::node& n) { return forEachString(n, checkListSource); }
std::string checkSha256OrEmpty(std::string_view s) {
  if (s.empty()) return {};
  if (s.size() != 64 || s.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
    return "must be 64 lower-case hex digits (sha256sum's output)";
  }
  return {};
}
std::string validateSha256(const toml::node& n) { return forEachString(n, checkSha256OrEmpty); }
// 56 base64 characters whose first two bytes are "Ed" ("RW" and then one of Q R S T): every
// such string decodes to a key, which the daemon does (daemon/lists/list_signature.h).
std::string checkMinisignKeyOrEmpty(std::string_view s) {
  if (s.empty()) return {};
  const bool base64 =
      s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") ==
      std::string_view::npos;
  if (s.size() != 56 || !base64 || !s.starts_with("RW") ||
      std::string_view("QRST").find(s[2]) == std::string_view::npos) {
    return "\"" + std::string(s) +
           "\" is not a minisign public key (56 base64 characters starting \"RW\", the second "
           "line of minisign.pub)";
  }
  return {};
}
std::string validateMinisignKey(const toml::node& n) {
  return forEachString(n, checkMinisignKeyOrEmpty);
}

std::string checkIdentifier(std::string_view s) {
  if (s.empty()) return "must not be empty";
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return "\"" + std::string(s) + "\" may use only letters, digits, '-', '_' and '.'";
  }
  return {};
}
std::string validateIdentifier(const toml::node& n) { return forEachString(n, checkIdentifier); }

// ---- choices ----
constexpr std::string_view kBlockAnswers[] = {"nxdomain", "nodata", "null", "block-page",
                                              "refused"};
constexpr std::string_view kGroupBlockAnswers[] = {"",     "nxdomain",   "nodata",
                                                   "null", "block-page", "refused"};
constexpr std::string_view kFormats[] = {"auto",     "domains", "hosts",
                                         "wildcard", "dnsmasq", "adblock"};
constexpr std::string_view kActions[] = {"allow", "monitor",     "alert-allow",
                                         "block", "alert-block", "alert"};
constexpr std::string_view kAlertKinds[] = {"webhook", "email", "syslog"};
constexpr std::string_view kDefaultActions[] = {"", "allow", "monitor", "block"};
constexpr std::string_view kProfiles[] = {"strict", "under-9", "9-12", "13-17",
                                          "staff",  "guests",  "open"};
constexpr std::string_view kYoutube[] = {"", "off", "moderate", "strict"};
constexpr std::string_view kQuic[] = {"inspect", "drop"};
constexpr std::string_view kGroupQuic[] = {"", "inspect", "drop"};
constexpr std::string_view kEncryptedDns[] = {"block", "monitor", "allow"};
constexpr std::string_view kGroupEncryptedDns[] = {"", "block", "monitor", "allow"};
constexpr std::string_view kUnresolved[] = {"allow", "monitor", "block"};
constexpr std::string_view kGroupUnresolved[] = {"", "allow", "monitor", "block"};
constexpr std::string_view kEch[] = {"outer-sni", "block"};
constexpr std::string_view kGroupEch[] = {"", "outer-sni", "block"};
constexpr std::string_view kFailMode[] = {"", "open", "closed"};
constexpr std::string_view kTriState[] = {"", "on", "off"};

using K = KeyType;
constexpr Reload L = Reload::kLive;
constexpr Reload R = Reload::kRestart;
constexpr int64_t kMin = INT64_MIN;
constexpr int64_t kMax = INT64_MAX;

const KeyDef kKeys[] = {
    {"include", K::kStringList, "[]", L,
     "Other config files merged into this one (paths relative to the including file). Arrays "
     "of tables ([[lists]], [[groups]], ...) are appended; a plain key may be set only once; "
     "include cycles are an error.",
     validateNonEmpty},

    {"daemon", K::kTable, "", R, "Process settings of safegated."},
    {"daemon.state_dir", K::kString, "\"/var/lib/safegate\"", R,
     "Directory for the incident database, the client-pseudonym secret and the control "
     "socket (relative paths elsewhere resolve against it). Relative to the config file when "
     "not absolute.",
     validateNonEmpty},

    {"daemon.user", K::kString, "\"\"", R,
     "Started as root, safegated gives daemon.state_dir to this user, switches to it and keeps "
     "only the capabilities the config uses (port 53: CAP_NET_BIND_SERVICE; inline mode: "
     "CAP_NET_ADMIN and CAP_NET_RAW). Empty = stay as started; under the shipped systemd unit "
     "(User=safegate) the same capabilities are narrowed either way."},

    {"dns", K::kTable, "", R, "The DNS proxy."},
    {"dns.listen", K::kStringList, "[\"127.0.0.1:5353\"]", R,
     "Addresses to answer DNS on, as \"addr:port\" ([v6]:port for IPv6), UDP and (with "
     "dns.tcp) TCP. Port 0 binds a free port chosen by the kernel (UDP and TCP share it), "
     "printed in the ready line.",
     validateListenAddrPorts},
    {"dns.upstreams", K::kStringList, "[\"9.9.9.9:53\", \"149.112.112.112:53\"]", R,
     "Upstream resolvers; queries go to the last one that answered and fail over in order. "
     "Plain DNS as \"addr:port\"; DNS over TLS as \"tls://addr[:port]#name\" (port 853); DNS "
     "over HTTPS as \"https://addr[:port][/path]#name\" (port 443, /dns-query). addr is the "
     "resolver's IP address, name the host name its certificate must carry (without it, the "
     "address must be in the certificate). Certificates are always verified; an upstream that "
     "fails verification is skipped like one that is down, never asked in plain text. Empty: "
     "the nameservers of /etc/resolv.conf.",
     validateUpstreams},
    {"dns.upstream_ca_file", K::kString, "\"\"", R,
     "PEM file of the certificate authorities tls:// and https:// upstreams must chain to; "
     "\"\" = the system store (/etc/ssl/certs). Relative paths resolve against the config "
     "file's directory."},
    {"dns.upstream_timeout_ms",
     K::kInteger,
     "2000",
     R,
     "How long to wait for one upstream before trying the next; SERVFAIL when all fail.",
     nullptr,
     {},
     50,
     60000},
    {"dns.cache_entries",
     K::kInteger,
     "10000",
     R,
     "Answers kept in the TTL-respecting cache; 0 turns the cache off.",
     nullptr,
     {},
     0,
     10000000},
    {"dns.workers",
     K::kInteger,
     "0",
     R,
     "Worker threads (SO_REUSEPORT); 0 = one per core.",
     nullptr,
     {},
     0,
     256},
    {"dns.block_ttl_seconds",
     K::kInteger,
     "60",
     L,
     "TTL of blocked and rewritten answers (short, so an unblock takes effect soon).",
     nullptr,
     {},
     0,
     86400},
    {"dns.tcp", K::kBoolean, "true", R,
     "Also answer DNS over TCP on every listen address; false binds no TCP socket at all."},
    {"dns.tcp_max_connections",
     K::kInteger,
     "256",
     R,
     "Open DNS-over-TCP connections from all clients together; when full, the oldest idle "
     "connection is closed first (RFC 7766 section 6.2.3), then the slowest to send its query.",
     nullptr,
     {},
     1,
     65536},
    {"dns.tcp_max_connections_per_client",
     K::kInteger,
     "16",
     R,
     "Open DNS-over-TCP connections per client address; more are closed at once.",
     nullptr,
     {},
     1,
     65536},
    {"dns.tcp_idle_timeout_ms",
     K::kInteger,
     "10000",
     R,
     "A DNS-over-TCP connection with no query pending is closed after this long.",
     nullptr,
     {},
     100,
     600000},
    {"dns.tcp_message_timeout_ms",
     K::kInteger,
     "3000",
     R,
     "A query over TCP must arrive whole within this long of its first byte (slow-drip "
     "clients are closed).",
     nullptr,
     {},
     100,
     600000},
    {"dns.tcp_query_threads",
     K::kInteger,
     "4",
     R,
     "Threads that answer DNS-over-TCP queries and forward them to the upstreams over TCP "
     "(a slow upstream occupies one of them, never the TCP event loop).",
     nullptr,
     {},
     1,
     64},
    {"dns.upstream_port_rotation_seconds",
     K::kInteger,
     "60",
     R,
     "Each DNS worker replaces its UDP upstream sockets with new ones on new random source "
     "ports this often (RFC 5452), so an off-path spoofer cannot learn the ports once and keep "
     "them; a replaced socket is still read until every query sent on it is answered or timed "
     "out. Counted as upstream_ports_rotated. 0 keeps the first ports for the process lifetime.",
     nullptr,
     {},
     0,
     86400},
    {"dns.randomize_case", K::kBoolean, "false", R,
     "0x20 case randomisation: the name asked upstream over UDP gets random letter case, and an "
     "answer whose question does not repeat it byte for byte is dropped (upstream_bad_answers). "
     "Clients get their own case back. Only for upstreams that echo the question exactly (most "
     "resolvers do); with one that does not, every query times out."},
    {"dns.allow_from", K::kStringList,
     "[\"127.0.0.0/8\", \"10.0.0.0/8\", \"172.16.0.0/12\", \"192.168.0.0/16\", "
     "\"169.254.0.0/16\", \"::1/128\", \"fc00::/7\", \"fe80::/10\"]",
     R,
     "Client networks (addresses or CIDRs) the DNS proxy answers; queries from anywhere else "
     "are dropped unanswered (UDP) or their connection closed (TCP), counted as acl_refused. "
     "The default is loopback and the private and link-local ranges; name your LANs instead. "
     "An IPv4 client seen as ::ffff:a.b.c.d is matched as a.b.c.d. An empty list is an error; "
     "[\"0.0.0.0/0\", \"::/0\"] answers every source (an open resolver).",
     validateAddresses},
    {"dns.rate_limit_qps",
     K::kInteger,
     "200",
     R,
     "Queries per second each client address may send over UDP (token bucket, per DNS worker "
     "thread); past it the client gets REFUSED, counted as rate_limited. 0 turns the limit off.",
     nullptr,
     {},
     0,
     1000000},
    {"dns.rate_limit_burst",
     K::kInteger,
     "400",
     R,
     "Queries a client that has been quiet may send at once before dns.rate_limit_qps applies "
     "(the token bucket's size).",
     nullptr,
     {},
     1,
     1000000},

    {"database", K::kTable, "", R, "The SQLite incident store."},
    {"database.path", K::kString, "\"incidents.sqlite\"", R,
     "Database file, relative to daemon.state_dir unless absolute.", validateNonEmpty},
    {"database.retention_days",
     K::kInteger,
     "30",
     L,
     "Incidents older than this are deleted (in small chunks).",
     nullptr,
     {},
     1,
     3650},
    {"database.full_query_log", K::kBoolean, "false", L,
     "Record every query, not only incidents (blocked, monitored, alerted). Off by default: "
     "safegate stores incidents, not browsing history."},
    {"database.queue_capacity",
     K::kInteger,
     "8192",
     R,
     "Incidents waiting for the writer thread (under 1 KiB each, reserved up front); when full, "
     "new ones are dropped and counted (DNS is never blocked by the database).",
     nullptr,
     {},
     16,
     16777216},
    {"database.batch_ms",
     K::kInteger,
     "100",
     R,
     "Longest time incidents wait before their transaction is committed (the most that a "
     "power cut can lose).",
     nullptr,
     {},
     1,
     10000},

    {"privacy", K::kTable, "", R, "Personal data handling."},
    {"privacy.pseudonymize_clients", K::kBoolean, "true", L,
     "Store clients as a keyed HMAC pseudonym unless a [[clients]] entry names the device."},
    {"privacy.secret_file", K::kString, "\"client-secret\"", R,
     "Per-install HMAC key (created with mode 0600), relative to daemon.state_dir.",
     validateNonEmpty},

    {"control", K::kTable, "", R, "The control socket used by safegatectl."},
    {"control.socket", K::kString, "\"control.sock\"", R,
     "Unix socket path, relative to daemon.state_dir unless absolute.", validateNonEmpty},
    {"control.mode", K::kString, "\"0660\"", R, "Permission bits of the socket (octal).",
     validateMode},
    {"control.group", K::kString, "\"\"", R,
     "Group owning the socket (members may use safegatectl to read; changes need "
     "control.admin_group); empty = the daemon's group."},
    {"control.admin_group", K::kString, "\"\"", R,
     "Group whose members may change state over the socket (exceptions add/remove, pause, "
     "reload); empty = only root and the daemon's user. Other users admitted by control.group "
     "may only read (status, stats, explain, incidents, exceptions list)."},
    {"control.max_exception_minutes",
     K::kInteger,
     "10080",
     R,
     "Longest temporary exception or pause the control socket grants, in minutes (10080 = 7 "
     "days); a longer `minutes` or a later `until` is refused.",
     nullptr,
     {},
     1,
     5256000},

    {"devices", K::kTable, "", R,
     "Where device names for incidents come from, besides [[clients]]."},
    {"devices.lease_files", K::kStringList, "[]", R,
     "DHCP lease files to name devices from (dnsmasq / OpenWrt /tmp/dhcp.leases, odhcpd, ISC "
     "dhcpd.leases; the format is recognised). A client without a [[clients]] name is then "
     "recorded under the host name its lease gives instead of a pseudonym (docs/privacy.md). "
     "Relative to the config file. Empty = pseudonyms only.",
     validateNonEmpty},
    {"devices.refresh_seconds",
     K::kInteger,
     "10",
     R,
     "How often the lease files are read again (and reverse names looked up for new "
     "neighbours), in seconds.",
     nullptr,
     {},
     1,
     3600},
    {"devices.reverse_lookup_server", K::kString, "\"\"", R,
     "A LAN DNS server (\"addr[:port]\", port 53) that knows your devices' names, asked the "
     "PTR name of every client in the kernel's neighbour (ARP/ND) table: the school's AD/DNS "
     "server, the home router. The first label of the answer names the device in incidents "
     "when neither [[clients]] nor a lease file does. Never a public resolver (the question "
     "contains the client's address). Empty = no reverse lookups.",
     validateReverseServer},

    {"block_page", K::kTable, "", L,
     "Where blocked clients are sent (block_answer = "
     "\"block-page\")."},
    {"block_page.ipv4", K::kString, "\"\"", L, "IPv4 address of the block page server.",
     validateIpv4},
    {"block_page.ipv6", K::kString, "\"\"", L, "IPv6 address of the block page server.",
     validateIpv6},
    {"block_page.url", K::kString, "\"\"", R,
     "URL of the block page (HTTP redirects in inline mode)."},

    {"ui", K::kTable, "", R,
     "safegate-ui, the block page a blocked client sees (docs/block-page.md). safegated "
     "itself does not read this table."},
    {"ui.listen", K::kString, "\"\"", R,
     "Where safegate-ui serves the block page, \"addr:port\"; empty = block_page.ipv4 port 80 "
     "when that is set, else 127.0.0.1:8080. Port 0 binds a free port (printed in the ready "
     "line).",
     validateListenAddrPort},
    {"ui.metrics_listen", K::kString, "\"\"", R,
     "Where safegate-ui serves /metrics (Prometheus text format: the daemon's counters), "
     "\"addr:port\"; empty = not served. Keep it on loopback or a management address: it is "
     "not the block page's listener and has no login.",
     validateListenAddrPort},
    {"ui.translations_dir", K::kString, "\"\"", R,
     "A school's own folder of block-page translations (one <language>.toml each, see "
     "docs/block-page.md), read over the installed ones: a file rewords the sentences it has "
     "and keeps the rest; a new language's missing sentences are shown in English. Empty = the "
     "installed ones only."},
    {"ui.help_links", K::kStringList, "[]", R,
     "Where a child can get help, shown on every block page: \"Label|URL\" entries, the URL "
     "https://, http:// or tel: (e.g. \"Childline 0800 1111|https://www.childline.org.uk\").",
     validateHelpLinks},

    {"ui.state_dir", K::kString, "\"\"", R,
     "Where safegate-ui keeps its own files (the dashboard's certificate, accounts and audit "
     "log, when those are relative), so it can run as a user of its own that cannot read "
     "daemon.state_dir (the package: /var/lib/safegate-ui, docs/operations.md); empty = "
     "daemon.state_dir. Ignored with --state-dir, which keeps everything under the override."},
    {"ui.dashboard_listen", K::kString, "\"\"", R,
     "Where safegate-ui serves the dashboard for the safeguarding lead and parents, "
     "\"addr:port\", e.g. \"127.0.0.1:8443\" (docs/dashboard.md); empty = no dashboard. Port 0 "
     "binds a free port (printed in the ready line).",
     validateListenAddrPort},
    {"ui.dashboard_tls", K::kBoolean, "true", R,
     "Serve the dashboard over HTTPS (with a self-signed certificate made at first start when "
     "ui.dashboard_cert does not exist). false = plain HTTP: only behind a TLS proxy or on "
     "loopback."},
    {"ui.dashboard_cert", K::kString, "\"dashboard.crt\"", R,
     "The dashboard's certificate (PEM), relative to ui.state_dir unless absolute.",
     validateNonEmpty},
    {"ui.dashboard_key", K::kString, "\"dashboard.key\"", R,
     "The certificate's private key (PEM, mode 0600), relative to ui.state_dir unless "
     "absolute.",
     validateNonEmpty},
    {"ui.users_file", K::kString, "\"ui-users\"", R,
     "Dashboard accounts (name:role:scrypt hash per line; `safegatectl user add` writes it), "
     "relative to ui.state_dir unless absolute.",
     validateNonEmpty},
    {"ui.audit_log", K::kString, "\"ui-audit.log\"", R,
     "Where the dashboard records who signed in, looked at or decided what (JSON lines), "
     "relative to ui.state_dir unless absolute.",
     validateNonEmpty},
    {"ui.session_idle_minutes",
     K::kInteger,
     "30",
     R,
     "A dashboard session ends after this many minutes without a request (and always after "
     "12 hours).",
     nullptr,
     {},
     1,
     720},

    {"requests", K::kTable, "", R,
     "Access requests and wrong-block reports children send from the block page, kept for an "
     "administrator to approve or deny (docs/access-requests.md)."},
    {"requests.per_client_per_hour",
     K::kInteger,
     "5",
     R,
     "New requests one client may make in any hour; more are refused with the time to wait.",
     nullptr,
     {},
     1,
     1000},
    {"requests.max_pending",
     K::kInteger,
     "200",
     R,
     "Pending requests kept at most; further ones are refused until some are decided.",
     nullptr,
     {},
     1,
     100000},
    {"requests.pending_hours",
     K::kInteger,
     "72",
     R,
     "A request nobody decided is closed as expired after this many hours.",
     nullptr,
     {},
     1,
     8760},
    {"requests.keep_days",
     K::kInteger,
     "7",
     R,
     "Decided and expired requests (a child's words and device address) are deleted this many "
     "days after the decision.",
     nullptr,
     {},
     1,
     365},

    {"outbox", K::kTable, "", R,
     "The durable queue of messages that leave the machine (docs/outbox.md)."},
    {"outbox.path", K::kString, "\"outbox.sqlite\"", R,
     "SQLite file of the outbox, relative to daemon.state_dir unless absolute.", validateNonEmpty},
    {"outbox.max_messages",
     K::kInteger,
     "10000",
     R,
     "Undelivered messages (pending and dead) kept at most; queuing past it fails with an error.",
     nullptr,
     {},
     10,
     1000000},
    {"outbox.max_age_hours",
     K::kInteger,
     "168",
     R,
     "How long delivery is retried before a message is dead-lettered (shown, never dropped).",
     nullptr,
     {},
     1,
     8760},
    {"outbox.keep_delivered_days",
     K::kInteger,
     "7",
     R,
     "Delivered messages are kept this long for `safegatectl outbox`, then purged.",
     nullptr,
     {},
     0,
     365},

    {"hotline", K::kTable, "", R,
     "Opt-in URL-only reports of suspected child-abuse or terrorist content (docs/hotline.md)."},
    {"hotline.enabled", K::kBoolean, "false", R,
     "Send reports to the hotline. Off by default: nothing leaves the machine unless enabled."},
    {"hotline.endpoint", K::kString, "\"\"", R,
     "https:// URL reports are POSTed to (JSON, docs/hotline.md); required when enabled.",
     validateHttpsUrl},
    {"hotline.ca_file", K::kString, "\"\"", R,
     "PEM CA bundle the endpoint is verified against; empty = the system store.", nullptr},
    {"hotline.pin_sha256", K::kString, "\"\"", R,
     "Optional public-key pin of the endpoint, \"sha256//BASE64\".", validatePin},
    {"hotline.token_file", K::kString, "\"\"", R,
     "File with the bearer token (mode 0600, owned by the daemon's user); empty = no token."},
    {"hotline.deployment_id", K::kString, "\"\"", R,
     "This installation's id as the hotline knows it (sent with every report)."},
    {"hotline.operator_contact", K::kString, "\"\"", R,
     "How the hotline reaches the operator (an e-mail address or phone number)."},

    {"inline", K::kTable, "", R, "NFQUEUE inline inspection (docs/inline.md)."},
    {"inline.enabled", K::kBoolean, "false", R, "Inspect packets queued by the firewall rules."},
    {"inline.queues",
     K::kIntegerList,
     "[0]",
     R,
     "NFQUEUE numbers to bind, one worker each (the rules spread flows over them).",
     nullptr,
     {},
     0,
     65535},
    {"inline.fail_open", K::kBoolean, "true", R,
     "Default for groups: when safegated is overloaded, its queue is full or it is not "
     "running, let traffic pass (true) or stop it (false).",
     nullptr},
    {"inline.fail_closed_queues",
     K::kIntegerList,
     "[]",
     R,
     "NFQUEUE numbers for fail-closed groups' sources (SAFEGATE_FAIL_CLOSED_QUEUES), bound "
     "without the kernel's fail-open flag while inline.queues get it, so a full queue drops "
     "only fail-closed groups' packets; empty = every queue follows inline.fail_open.",
     nullptr,
     {},
     0,
     65535},
    {"inline.max_packets_per_flow",
     K::kInteger,
     "8",
     L,
     "No longer used: undecided flows are bounded by inline.undecided_timeout_ms and "
     "inline.max_client_hello_bytes, not by a packet count that empty ACKs and keepalives "
     "could spend. Accepted so older configs still load.",
     nullptr,
     {},
     1,
     64},
    {"inline.max_client_hello_bytes",
     K::kInteger,
     "16384",
     R,
     "Window of a TCP client stream that is reassembled (ClientHello, HTTP request head); "
     "segments beyond it are not read. A longer ClientHello is decided by its SNI if the "
     "window shows it, else by the group's unresolved_destination.",
     nullptr,
     {},
     512,
     65536},
    {"inline.undecided_timeout_ms",
     K::kInteger,
     "10000",
     R,
     "A flow that has sent data (TCP payload, a UDP 443 datagram) and is still undecided "
     "after this long takes its group's unresolved_destination; reassembly buffers held "
     "this long are taken back.",
     nullptr,
     {},
     100,
     600000},
    {"inline.reassembly_buffers",
     K::kInteger,
     "1024",
     R,
     "Reassembly buffers (about 16 KiB each) per queue worker, for flows whose first message "
     "spans segments.",
     nullptr,
     {},
     16,
     1048576},
    {"inline.reassembly_buffers_per_client",
     K::kInteger,
     "32",
     R,
     "Most reassembly buffers one client address holds at a time; past it the client's own "
     "oldest undecided flow loses its buffer (and takes unresolved_destination), so one "
     "client cannot starve the others.",
     nullptr,
     {},
     1,
     1048576},
    {"inline.receive_buffer_bytes",
     K::kInteger,
     "8388608",
     R,
     "Netlink socket receive buffer of each queue.",
     nullptr,
     {},
     65536,
     1073741824},
    {"inline.offload_mark",
     K::kInteger,
     "1",
     R,
     "Connection-mark bit set on decided flows so the rest of the flow bypasses the queue.",
     nullptr,
     {},
     1,
     2147483647},
    {"inline.quic", K::kString, "\"inspect\"", L,
     "Default for groups: \"inspect\" QUIC Initial SNI, or \"drop\" QUIC to force TCP.", nullptr,
     kQuic},
    {"inline.encrypted_dns", K::kString, "\"block\"", L,
     "Default for groups: DoT/DoQ (port 853) and known DoH endpoints are blocked, monitored "
     "or allowed.",
     nullptr, kEncryptedDns},
    {"inline.unresolved_destination", K::kString, "\"allow\"", L,
     "Default for groups: TLS without SNI or to an address safegate never returned to the "
     "client.",
     nullptr, kUnresolved},
    {"inline.ech", K::kString, "\"outer-sni\"", L,
     "Default for groups: Encrypted ClientHello is decided by its outer SNI, or blocked.", nullptr,
     kEch},

    {"policy", K::kTable, "", L, "Policy-wide settings."},
    {"policy.time_zone", K::kString, "\"UTC\"", L,
     "IANA time zone of schedules (e.g. \"Europe/London\").", validateTimeZone},
    {"policy.default_group", K::kString, "\"unknown\"", L,
     "Group of devices that no [[clients]] entry matches. The group \"unknown\" exists "
     "implicitly with the strict profile unless you define it.",
     validateIdentifier},
    {"policy.block_answer", K::kString, "\"nxdomain\"", L,
     "How a blocked DNS query is answered, unless a group says otherwise.", nullptr, kBlockAnswers},
    {"policy.bypass_defaults", K::kBoolean, "true", L,
     "Keep clients on this resolver: use-application-dns.net (Firefox canary) and "
     "mask.icloud.com / mask-h2.icloud.com (Apple Private Relay) get NXDOMAIN, resolver.arpa "
     "and _dns.resolver.arpa (DDR, RFC 9462) get NODATA."},

    {"lists", K::kTableArray, "", L, "Domain lists, each in one category."},
    {"lists[].name", K::kString, "", L, "Unique list name.", validateIdentifier},
    {"lists[].category", K::kString, "", L,
     "Category of the list's entries (docs/categories.md); allow-type categories (education, "
     "press, sex-education, health) make it an allow list.",
     validateNonEmpty},
    {"lists[].sources", K::kStringList, "", L,
     "List files (relative to the config file that names them), file:// URLs, and at most one "
     "https:// URL per list: a subscription, downloaded in the background and kept under "
     "state_dir/lists/NAME.list (docs/lists.md, \"Subscriptions\"); until its first download "
     "succeeds the subscription contributes no entries.",
     validateListSources},
    {"lists[].update_interval_hours",
     K::kInteger,
     "24",
     L,
     "How often a subscription is checked (a conditional request: an unchanged list costs a "
     "304). After a failure it is retried within 30 minutes.",
     nullptr,
     {},
     1,
     720},
    {"lists[].max_bytes",
     K::kInteger,
     "268435456",
     L,
     "Largest download accepted (after decoding gzip); a larger one fails and the last good "
     "copy stays in force.",
     nullptr,
     {},
     1024,
     1073741824},
    {"lists[].timeout_seconds",
     K::kInteger,
     "120",
     L,
     "Time allowed for one download.",
     nullptr,
     {},
     5,
     3600},
    {"lists[].sha256", K::kString, "\"\"", L,
     "Pin the subscription's exact content (for lists published with a digest); another "
     "digest is refused.",
     validateSha256},
    {"lists[].public_key", K::kString, "\"\"", L,
     "The publisher's minisign public key (\"RW...\"): every download must come with a "
     "signature by it at the list's URL + \".minisig\", or it is refused.",
     validateMinisignKey},
    {"lists[].ca_file", K::kString, "\"\"", L,
     "PEM bundle to verify the list host against; \"\" = the system store."},
    {"lists[].min_entries",
     K::kInteger,
     "1",
     L,
     "A downloaded version with fewer entries is refused (the last good copy stays).",
     nullptr,
     {},
     1,
     INT64_MAX},
    {"lists[].max_shrink_percent",
     K::kInteger,
     "50",
     L,
     "A downloaded version that lost more than this share of the entries of the version held "
     "is refused.",
     nullptr,
     {},
     0,
     100},
    {"lists[].max_skipped_percent",
     K::kInteger,
     "10",
     L,
     "A downloaded version with more than this share of unusable lines is refused (an HTML "
     "error page, a changed format).",
     nullptr,
     {},
     0,
     100},
    {"lists[].format", K::kString, "\"auto\"", L,
     "File format: domains (one per line, covers subdomains), hosts, wildcard (*.name), "
     "dnsmasq (server=/name/), adblock (||name^, @@ exceptions, $important), or auto "
     "(detected from the content; docs/lists.md).",
     nullptr, kFormats},
    {"lists[].enabled", K::kBoolean, "true", L, "Set false to keep a list defined but unused."},

    {"rules", K::kTableArray, "", L, "RE2 regular-expression rules over host names."},
    {"rules[].name", K::kString, "", L, "Unique rule set name.", validateIdentifier},
    {"rules[].category", K::kString, "", L, "Category of matches.", validateNonEmpty},
    {"rules[].patterns", K::kStringList, "[]", L,
     "RE2 patterns written inline (matched against the whole normalised host name)."},
    {"rules[].sources", K::kStringList, "[]", L,
     "Files with one RE2 pattern per line (# comments), relative to the config file.",
     validateNonEmpty},

    {"schedules", K::kTableArray, "", L, "Named weekly time windows."},
    {"schedules[].name", K::kString, "", L, "Unique schedule name.", validateIdentifier},
    {"schedules[].windows", K::kStringList, "", L,
     "Windows as \"DAYS HH:MM-HH:MM\": DAYS is daily, weekdays, weekends, mon..sun, a range "
     "(mon-fri) or a list (mon,wed); an end not after the start runs over midnight.",
     validateWindows},
    {"schedules[].time_zone", K::kString, "\"\"", L, "IANA time zone; empty = policy.time_zone.",
     validateTimeZone},
    {"schedules[].active_dates", K::kStringList, "[]", L,
     "Only on these local dates (\"YYYY-MM-DD\" or \"YYYY-MM-DD..YYYY-MM-DD\", e.g. term "
     "dates); empty = every date.",
     validateDates},
    {"schedules[].inactive_dates", K::kStringList, "[]", L,
     "Never on these local dates (holidays).", validateDates},

    {"groups", K::kTableArray, "", L, "Client groups, each with a profile and overrides."},
    {"groups[].name", K::kString, "", L, "Unique group name.", validateIdentifier},
    {"groups[].description", K::kString, "\"\"", L, "Free text for people."},
    {"groups[].profile", K::kString, "\"strict\"", L,
     "Preset actions per category (docs/categories.md): strict, under-9, 9-12, 13-17, staff, "
     "guests, open.",
     nullptr, kProfiles},
    {"groups[].categories", K::kStringMap, "{}", L,
     "Category = action overrides of the profile (allow, monitor, alert-allow, block, "
     "alert-block)."},
    {"groups[].categories.*", K::kString, "", L, "Action for the category.", nullptr, kActions},
    {"groups[].default", K::kString, "\"\"", L,
     "Verdict when nothing matches (allow, monitor, block); empty = the profile's (allow). "
     "\"block\" makes the group allow-list-only at all times.",
     nullptr, kDefaultActions},
    {"groups[].block_answer", K::kString, "\"\"", L,
     "How blocked DNS queries are answered; empty = policy.block_answer.", nullptr,
     kGroupBlockAnswers},
    {"groups[].allow", K::kStringList, "[]", L,
     "Names (and their subdomains) always allowed for this group, also during allow-only "
     "schedules.",
     validateNames},
    {"groups[].block", K::kStringList, "[]", L,
     "Names (and their subdomains) always blocked for this group.", validateNames},
    {"groups[].allow_lists", K::kStringList,
     "[\"education\", \"press\", \"sex-education\", \"health\"]", L,
     "Allow-type categories whose lists protect this group against over-blocking.",
     validateNonEmpty},
    {"groups[].safe_search", K::kTable, "", L, "Safe search and restricted video."},
    {"groups[].safe_search.google", K::kString, "\"\"", L,
     "\"on\" rewrites every Google search domain to forcesafesearch.google.com; empty = "
     "profile.",
     nullptr, kTriState},
    {"groups[].safe_search.bing", K::kString, "\"\"", L,
     "\"on\" rewrites Bing to strict.bing.com; empty = profile.", nullptr, kTriState},
    {"groups[].safe_search.duckduckgo", K::kString, "\"\"", L,
     "\"on\" rewrites DuckDuckGo to safe.duckduckgo.com; empty = profile.", nullptr, kTriState},
    {"groups[].safe_search.youtube", K::kString, "\"\"", L,
     "YouTube restricted mode: \"strict\" (restrict.youtube.com), \"moderate\" "
     "(restrictmoderate.youtube.com) or \"off\"; empty = profile.",
     nullptr, kYoutube},
    {"groups[].strip_ech", K::kBoolean, "true", L,
     "Remove ECH configuration (the \"ech\" SvcParam) from HTTPS records answered to this "
     "group, so TLS keeps a visible SNI."},
    {"groups[].fail", K::kString, "\"\"", L,
     "Inline fail mode for this group: \"open\" or \"closed\"; empty = inline.fail_open.", nullptr,
     kFailMode},
    {"groups[].quic", K::kString, "\"\"", L, "Override of inline.quic.", nullptr, kGroupQuic},
    {"groups[].encrypted_dns", K::kString, "\"\"", L, "Override of inline.encrypted_dns.", nullptr,
     kGroupEncryptedDns},
    {"groups[].unresolved_destination", K::kString, "\"\"", L,
     "Override of inline.unresolved_destination.", nullptr, kGroupUnresolved},
    {"groups[].ech", K::kString, "\"\"", L, "Override of inline.ech.", nullptr, kGroupEch},
    {"groups[].schedules", K::kTableArray, "", L,
     "What changes while a schedule is active (later entries win)."},
    {"groups[].schedules[].schedule", K::kString, "", L, "Name of a [[schedules]] entry.",
     validateNonEmpty},
    {"groups[].schedules[].categories", K::kStringMap, "{}", L,
     "Category = action while the schedule is active."},
    {"groups[].schedules[].categories.*", K::kString, "", L, "Action for the category.", nullptr,
     kActions},
    {"groups[].schedules[].allow_only", K::kBoolean, "false", L,
     "While active, block everything except the group's allow names, this entry's allow "
     "names and allow-type lists (\"bedtime\")."},
    {"groups[].schedules[].allow", K::kStringList, "[]", L,
     "Extra names allowed while the schedule is active (with allow_only).", validateNames},

    {"clients", K::kTableArray, "", L, "Known devices and the group each belongs to."},
    {"clients[].name", K::kString, "", L, "Display name (shown instead of a pseudonym).",
     validateNonEmpty},
    {"clients[].group", K::kString, "", L, "Name of a [[groups]] entry.", validateNonEmpty},
    {"clients[].addresses", K::kStringList, "[]", L,
     "IP addresses or CIDR ranges; the most specific range wins.", validateAddresses},
    {"clients[].macs", K::kStringList, "[]", L,
     "MAC addresses (local clients; a MAC match beats an address match).", validateMacs},

    {"alerts", K::kTableArray, "", R,
     "Where alerts about alert-block / alert-allow incidents go (docs/alerts.md)."},
    {"alerts[].name", K::kString, "", R, "Name of the destination (shown in `safegatectl outbox`).",
     validateNonEmpty},
    {"alerts[].kind", K::kString, "", R, "webhook (signed JSON), email (SMTP over TLS) or syslog.",
     nullptr, kAlertKinds},
    {"alerts[].url", K::kString, "\"\"", R, "webhook: https:// URL the alerts are POSTed to.",
     validateHttpsUrl},
    {"alerts[].secret_file", K::kString, "\"\"", R,
     "webhook: file (mode 0600) with the HMAC-SHA256 key that signs each body; empty = unsigned."},
    {"alerts[].ca_file", K::kString, "\"\"", R,
     "PEM CA bundle the receiver is verified against; empty = the system store."},
    {"alerts[].smtp_url", K::kString, "\"\"", R,
     "email: \"smtps://host:465\" or \"smtp://host:587\" (STARTTLS required)."},
    {"alerts[].from", K::kString, "\"\"", R, "email: sender address."},
    {"alerts[].to", K::kStringList, "[]", R, "email: recipient addresses."},
    {"alerts[].username", K::kString, "\"\"", R, "email: SMTP user name; empty = no AUTH."},
    {"alerts[].password_file", K::kString, "\"\"", R, "email: file (mode 0600) with the password."},
    {"alerts[].syslog_address", K::kString, "\"\"", R,
     "syslog: collector as host:port (RFC 5425 TLS on 6514 by default)."},
    {"alerts[].syslog_tls", K::kBoolean, "true", R, "syslog: TLS (RFC 5425); false = plain TCP."},
    {"alerts[].actions", K::kStringList, "[\"alert-block\", \"alert-allow\"]", R,
     "Which incidents: alert-block (blocked) and/or alert-allow (allowed but alerting); block "
     "and monitor add every blocked / monitored incident, for exporting incidents to a "
     "district's collector (usually a syslog destination with rate_limit_minutes = 0)."},
    {"alerts[].categories", K::kStringList, "[]", R, "Only these categories; empty = all."},
    {"alerts[].groups", K::kStringList, "[]", R, "Only these groups; empty = all."},
    {"alerts[].list_notices", K::kBoolean, "true", R,
     "Also send list notices: a subscribed list that cannot be refreshed or is refused by the "
     "sanity gate (the last good copy stays), recovers, or has entries quarantined. "
     "actions = [] with this on sends list notices only (for the IT contact)."},
    {"alerts[].request_notices", K::kBoolean, "true", R,
     "Also tell this destination when a child asks for access, reports a wrong block or reports "
     "a page that may be illegal (only requests from `groups`, when set). Names the device and "
     "the page, never the child's reason; a may-be-illegal page's address is not sent. Unset: "
     "on for a destination whose actions include alert-block or alert-allow, off for one that "
     "takes none (actions = [] or only block / monitor)."},
    {"alerts[].digest_time", K::kString, "\"\"", R,
     "Daily digest at this local time (\"07:30\", policy.time_zone): per group the day's alerts "
     "and blocks by category, top blocked names and a red-amber-green status; empty = none.",
     validateClockTime},
    {"alerts[].digest_amber_alerts",
     K::kInteger,
     "1",
     R,
     "Alerting incidents in a day at which a group's digest status is amber.",
     nullptr,
     {},
     1,
     1000000},
    {"alerts[].digest_red_alerts",
     K::kInteger,
     "5",
     R,
     "Alerting incidents in a day at which a group's digest status is red.",
     nullptr,
     {},
     1,
     1000000},
    {"alerts[].batch_seconds",
     K::kInteger,
     "60",
     R,
     "Alerts within this window go out as one message (webhook, email); 0 = each at once.",
     nullptr,
     {},
     0,
     86400},
    {"alerts[].rate_limit_minutes",
     K::kInteger,
     "60",
     R,
     "One alert per device and category per window; later ones are counted and reported with "
     "the next alert.",
     nullptr,
     {},
     0,
     10080},
};

std::string_view parentOf(std::string_view path) {
  const size_t dot = path.rfind('.');
  if (dot == std::string_view::npos) return {};
  return path.substr(0, dot);  // "groups[]" for "groups[].name"
}
std::string_view leafOf(std::string_view path) {
  const size_t dot = path.rfind('.');
  return dot == std::string_view::npos ? path : path.substr(dot + 1);
}

SourceLocation where(const toml::source_region& src) {
  SourceLocation loc;
  if (src.path) loc.file = *src.path;
  loc.line = src.begin.line;
  loc.column = src.begin.column;
  return loc;
}

class SchemaWalker {
 public:
  explicit SchemaWalker(DiagnosticSink& sink) : sink_(sink) {}

  void walkTable(const toml::table& t, const std::string& pattern, const std::string& shown,
                 bool is_map) {
    for (auto&& [key, node] : t) {
      const std::string k(key.str());
      const std::string child_pattern = pattern.empty() ? k : pattern + "." + k;
      const std::string child_shown = shown.empty() ? k : shown + "." + k;
      const KeyDef* def = is_map ? findKeyDef(pattern + ".*") : findKeyDef(child_pattern);
      if (!def) {
        std::vector<std::string> siblings;
        for (const auto& d : kKeys) {
          if (parentOf(d.path) == pattern && leafOf(d.path) != "*") {
            siblings.emplace_back(leafOf(d.path));
          }
        }
        sink_.error(where(key.source()),
                    child_shown + ": unknown key \"" + k + "\"" + didYouMean(k, siblings));
        continue;
      }
      checkValue(*def, node, is_map ? pattern + ".*" : child_pattern, child_shown);
    }
    if (is_map) return;
    for (const auto& d : kKeys) {
      if (parentOf(d.path) != pattern || !d.required()) continue;
      const std::string leaf(leafOf(d.path));
      if (!t.contains(leaf)) {
        sink_.error(where(t.source()),
                    (shown.empty() ? leaf : shown + "." + leaf) + ": missing required key");
      }
    }
  }

 private:
  void typeError(const toml::node& n, const std::string& shown, const KeyDef& def) {
    sink_.error(where(n.source()), shown + ": expected " + std::string(keyTypeName(def.type)) +
                                       ", found " + describe(n));
  }
  static std::string describe(const toml::node& n) {
    switch (n.type()) {
      case toml::node_type::string: return "a string";
      case toml::node_type::integer: return "an integer";
      case toml::node_type::floating_point: return "a number";
      case toml::node_type::boolean: return "a boolean";
      case toml::node_type::array: return "an array";
      case toml::node_type::table: return "a table";
      default: return "a date/time";
    }
  }

  void checkChoice(const KeyDef& def, const toml::node& n, const std::string& shown) {
    if (def.choices.empty()) return;
    auto s = n.value<std::string>();
    if (!s) return;
    for (auto c : def.choices) {
      if (c == *s) return;
    }
    std::vector<std::string> names;
    std::string list;
    for (auto c : def.choices) {
      if (c.empty()) continue;
      names.emplace_back(c);
      list += (list.empty() ? "" : ", ") + std::string(c);
    }
    std::string hint = didYouMean(*s, names);
    sink_.error(where(n.source()),
                shown + ": \"" + *s + "\" is not one of " + list + (hint.empty() ? "" : hint));
  }

  void checkRange(const KeyDef& def, const toml::node& n, const std::string& shown) {
    auto v = n.value<int64_t>();
    if (!v) return;
    if (*v < def.min || *v > def.max) {
      sink_.error(where(n.source()), shown + ": " + std::to_string(*v) + " is out of range " +
                                         std::to_string(def.min) + ".." + std::to_string(def.max));
    }
  }

  void runValidator(const KeyDef& def, const toml::node& n, const std::string& shown) {
    if (!def.validate) return;
    // Validate element by element so each error points at its own element.
    if (const auto* arr = n.as_array()) {
      for (size_t i = 0; i < arr->size(); ++i) {
        std::string err = def.validate((*arr)[i]);
        if (!err.empty()) {
          sink_.error(where((*arr)[i].source()), shown + "[" + std::to_string(i) + "]: " + err);
        }
      }
      return;
    }
    std::string err = def.validate(n);
    if (!err.empty()) sink_.error(where(n.source()), shown + ": " + err);
  }

  void checkValue(const KeyDef& def, const toml::node& n, const std::string& pattern,
                  const std::string& shown) {
    switch (def.type) {
      case KeyType::kString:
        if (!n.is_string()) return typeError(n, shown, def);
        checkChoice(def, n, shown);
        runValidator(def, n, shown);
        return;
      case KeyType::kInteger:
        if (!n.is_integer()) return typeError(n, shown, def);
        checkRange(def, n, shown);
        return;
      case KeyType::kBoolean:
        if (!n.is_boolean()) return typeError(n, shown, def);
        return;
      case KeyType::kStringList:
      case KeyType::kIntegerList: {
        const auto* arr = n.as_array();
        if (!arr) return typeError(n, shown, def);
        bool ok = true;
        for (size_t i = 0; i < arr->size(); ++i) {
          const auto& e = (*arr)[i];
          const bool good = def.type == KeyType::kStringList ? e.is_string() : e.is_integer();
          if (!good) {
            ok = false;
            sink_.error(where(e.source()),
                        shown + "[" + std::to_string(i) + "]: expected " +
                            (def.type == KeyType::kStringList ? "a string" : "an integer") +
                            ", found " + describe(e));
          } else if (def.type == KeyType::kIntegerList) {
            checkRange(def, e, shown + "[" + std::to_string(i) + "]");
          }
        }
        if (ok) runValidator(def, n, shown);
        return;
      }
      case KeyType::kTable:
        if (!n.is_table()) return typeError(n, shown, def);
        walkTable(*n.as_table(), pattern, shown, false);
        return;
      case KeyType::kStringMap:
        if (!n.is_table()) return typeError(n, shown, def);
        walkTable(*n.as_table(), pattern, shown, true);
        return;
      case KeyType::kTableArray: {
        const auto* arr = n.as_array();
        if (!arr || !arr->is_array_of_tables()) {
          sink_.error(where(n.source()),
                      shown + ": expected an array of tables ([[" + shown + "]] sections)");
          return;
        }
        for (size_t i = 0; i < arr->size(); ++i) {
          walkTable(*(*arr)[i].as_table(), pattern + "[]", shown + "[" + std::to_string(i) + "]",
                    false);
        }
        return;
      }
    }
  }

  DiagnosticSink& sink_;
};

}  // namespace

std::span<const KeyDef> schemaKeys() { return kKeys; }

const KeyDef* findKeyDef(std::string_view pattern) {
  for (const auto& d : kKeys) {
    if (d.path == pattern) return &d;
  }
  return nullptr;
}

void validateAgainstSchema(const toml::table& root, DiagnosticSink& sink) {
  SchemaWalker(sink).walkTable(root, "", "", false);
}

std::string generateConfigReference() {
  std::string out;
  out +=
      "# Configuration reference\n\n"
      "<!-- GENERATED by `safegatectl config-reference` from policy/config_schema.cc; do not "
      "edit by hand (tests/unit/policy/config_reference_test.cc checks it is current). -->\n\n"
      "safegate reads one TOML file (`safegated --config FILE`), which may `include` others. "
      "Every key is listed here with its type, default and whether a change applies on reload "
      "(`live`: SIGHUP or `safegatectl reload`) or needs a restart. `[]` marks an element of an "
      "array of tables (`[[groups]]`), `*` a free-form key. `safegatectl check-config FILE` "
      "reports every problem as `path:line:col: error: key.path: message`.\n\n"
      "Precedence of policy decisions: docs/policy.md. Categories and profiles: "
      "docs/categories.md.\n";
  std::string section;
  for (const auto& d : kKeys) {
    std::string_view top = d.path.substr(0, d.path.find_first_of(".["));
    if (top != section) {
      section = std::string(top);
      out += "\n## `" + section + "`\n\n";
      if (d.path == top) {
        out += std::string(d.help) + "\n\n";
      }
      out += "| Key | Type | Default | Reload | Description |\n|---|---|---|---|---|\n";
      if (d.path == top && (d.type == KeyType::kTable || d.type == KeyType::kTableArray)) {
        continue;
      }
    }
    std::string def = d.required() ? "*required*" : "`" + std::string(d.default_value) + "`";
    if (d.type == KeyType::kTable || d.type == KeyType::kTableArray) def = "";
    std::string desc(d.help);
    if (!d.choices.empty()) {
      std::string list;
      for (auto c : d.choices) {
        if (c.empty()) continue;
        list += (list.empty() ? "" : ", ") + std::string("`") + std::string(c) + "`";
      }
      desc += " One of: " + list + ".";
    }
    if (d.min != kMin || d.max != kMax) {
      desc += " Range " + std::to_string(d.min) + "–" + std::to_string(d.max) + ".";
    }
    std::string escaped;
    for (char c : desc) {
      if (c == '|')
        escaped += "\\|";
      else
        escaped += c;
    }
    out += "| `" + std::string(d.path) + "` | " + std::string(keyTypeName(d.type)) + " | " + def +
           " | " + (d.reload == Reload::kLive ? "live" : "restart") + " | " + escaped + " |\n";
  }
  return out;
}

}  // namespace safegate::policy
