#include "filters/list_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "filters/dns_message.h"
#include "filters/domain_name.h"

namespace safegate {
namespace {

constexpr size_t kDetectLines = 2000;
constexpr size_t kQuotedLineChars = 80;

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool startsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Splits off the first whitespace-separated token.
std::string_view nextToken(std::string_view& s) {
  s = trim(s);
  size_t end = 0;
  while (end < s.size() && !isSpace(s[end])) ++end;
  std::string_view token = s.substr(0, end);
  s.remove_prefix(end);
  s = trim(s);
  return token;
}

std::string lowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

// Hosts-file addresses may carry an IPv6 zone ("fe80::1%lo0"); the zone is irrelevant here.
bool isAddress(std::string_view token) {
  const size_t pct = token.find('%');
  if (pct != std::string_view::npos) token = token.substr(0, pct);
  return IpAddress::parse(token).has_value();
}

// Names that conventional hosts files map to themselves: not block entries.
bool isHostsBoilerplate(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "localhost",     "localhost.localdomain", "local",        "broadcasthost",
      "ip6-localhost", "ip6-loopback",          "ip6-localnet", "ip6-mcastprefix",
      "ip6-allnodes",  "ip6-allrouters",        "ip6-allhosts", "0.0.0.0"};
  for (std::string_view n : kNames) {
    if (name == n) return true;
  }
  return false;
}

struct TypeName {
  std::string_view name;
  uint16_t value;
};
constexpr TypeName kTypeNames[] = {
    {"a", 1},      {"ns", 2},      {"cname", 5}, {"soa", 6},    {"ptr", 12},   {"hinfo", 13},
    {"mx", 15},    {"txt", 16},    {"aaaa", 28}, {"srv", 33},   {"naptr", 35}, {"ds", 43},
    {"rrsig", 46}, {"dnskey", 48}, {"svcb", 64}, {"https", 65}, {"any", 255},  {"caa", 257}};

std::optional<uint16_t> parseDnsType(std::string_view s) {
  const std::string l = lowerAscii(s);
  for (const TypeName& t : kTypeNames) {
    if (l == t.name) return t.value;
  }
  if (startsWith(l, "type") && l.size() > 4) {  // RFC 3597 generic form, TYPE65
    unsigned v = 0;
    auto [p, ec] = std::from_chars(l.data() + 4, l.data() + l.size(), v);
    if (ec == std::errc() && p == l.data() + l.size() && v <= 0xffff) return uint16_t(v);
  }
  return std::nullopt;
}

// Splits `s` on `sep` outside single or double quotes; a backslash escapes the next character.
std::vector<std::string_view> splitOutsideQuotes(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  char quote = 0;
  size_t begin = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\') {
      ++i;
    } else if (quote != 0) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == sep) {
      parts.push_back(s.substr(begin, i - begin));
      begin = i + 1;
    }
  }
  parts.push_back(s.substr(begin));
  return parts;
}

std::string unquote(std::string_view s) {
  if (s.size() >= 2 && (s.front() == '\'' || s.front() == '"') && s.back() == s.front()) {
    s = s.substr(1, s.size() - 2);
  }
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) ++i;
    out.push_back(s[i]);
  }
  return out;
}

// Canonical form of a list entry in `buf` (no allocation for the usual ASCII names);
// false with `why` set when the name is not valid.
bool normalizeEntry(std::string_view token, NameBuffer& buf, std::string& why) {
  if (normalizeAsciiDomain(token, NameSyntax::kListEntry, buf)) return true;
  auto name = normalizeDomain(token, NameSyntax::kListEntry);
  if (!name) {
    why = name.status().message();
    return false;
  }
  std::memcpy(buf.data, name->data(), name->size());  // <= 253 octets * 4 characters
  buf.length = name->size();
  return true;
}

class LineParser {
 public:
  LineParser(std::string_view source, const ListReadOptions& options, DiagnosticSink& diagnostics,
             ParsedList& out)
      : source_(source), options_(options), diagnostics_(diagnostics), out_(out) {}

  void parse(std::string_view text, ListFormat format) {
    uint32_t line_no = 0;
    size_t pos = 0;
    while (pos < text.size()) {
      if (text[pos] == '\n') {
        // A run of empty lines in one step: a compiled list's residue is mostly newlines
        // (policy/list_cache.h), millions of them for a big list.
        const size_t run_end = std::min(text.find_first_not_of('\n', pos), text.size());
        const auto run = static_cast<uint32_t>(run_end - pos);
        line_no += run;
        out_.stats.lines += run;
        out_.stats.comments += run;
        pos = run_end;
        continue;
      }
      size_t end = text.find('\n', pos);
      if (end == std::string_view::npos) end = text.size();
      std::string_view raw = text.substr(pos, end - pos);
      pos = end + 1;
      ++line_no;
      ++out_.stats.lines;
      line_ = line_no;
      if (raw.size() > options_.max_line_length) {
        skip(raw.substr(0, kQuotedLineChars),
             "line longer than " + std::to_string(options_.max_line_length) + " characters");
        continue;
      }
      if (line_no == 1 && startsWith(raw, "\xEF\xBB\xBF")) raw.remove_prefix(3);  // UTF-8 BOM
      const std::string_view line = trim(raw);
      if (line.empty()) {
        ++out_.stats.comments;
        continue;
      }
      switch (format) {
        case ListFormat::kHosts: parseHosts(line, /*adblock=*/false); break;
        case ListFormat::kDomains: parseDomain(line, /*wildcard=*/false); break;
        case ListFormat::kWildcard: parseDomain(line, /*wildcard=*/true); break;
        case ListFormat::kDnsmasq: parseDnsmasq(line); break;
        case ListFormat::kAdblock:
        case ListFormat::kAuto: parseAdblock(line); break;
      }
    }
    if (suppressed_ > 0) {
      diagnostics_.warning(SourceLocation{std::string(source_), 0, 0},
                           std::to_string(suppressed_) +
                               " more skipped lines not reported individually (limit " +
                               std::to_string(options_.max_reported_warnings) + ")");
    }
  }

 private:
  void skip(std::string_view what, const std::string& why) {
    ++out_.stats.skipped;
    warn(what, why);
  }
  void warn(std::string_view what, const std::string& why) {
    if (out_.warned_lines.empty() || out_.warned_lines.back() != line_) {
      out_.warned_lines.push_back(line_);
    }
    if (reported_ >= options_.max_reported_warnings) {
      ++suppressed_;
      return;
    }
    ++reported_;
    std::string quoted(what.substr(0, kQuotedLineChars));
    if (what.size() > kQuotedLineChars) quoted += "...";
    diagnostics_.warning(SourceLocation{std::string(source_), line_, 0},
                         "skipped \"" + quoted + "\": " + why);
  }

  bool isComment(std::string_view line) {
    if (line.front() == '#' || line.front() == '!' || line.front() == ';') {
      ++out_.stats.comments;
      return true;
    }
    return false;
  }

  // Removes a trailing " # comment" from a hosts/domains line.
  static std::string_view stripInlineComment(std::string_view line) {
    for (size_t i = 1; i < line.size(); ++i) {
      if (line[i] == '#' && isSpace(line[i - 1])) return trim(line.substr(0, i));
    }
    return line;
  }

  void addName(std::string_view canonical, DomainMatchKind kind, RuleAction action,
               bool important) {
    ParsedList::NameEntry e;
    e.name_offset = static_cast<uint32_t>(out_.name_blob.size());
    e.name_length = static_cast<uint16_t>(canonical.size());
    e.kind = kind;
    e.action = action;
    e.important = important;
    e.line = line_;
    out_.name_blob.append(canonical);
    out_.names.push_back(e);
    ++out_.stats.entries;
  }

  // A bare IPv4/IPv6 address or CIDR ("1.1.1.1", "2606:4700::/32"); false if `token` is not one.
  bool addAddress(std::string_view token) {
    if (token.empty() || !(isAddressChar(token.front()))) return false;
    std::optional<Cidr> cidr = Cidr::parse(token);
    if (!cidr) return false;
    out_.addresses.push_back(ParsedList::AddressEntry{*cidr, line_});
    ++out_.stats.entries;
    ++out_.stats.addresses;
    return true;
  }
  static bool isAddressChar(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':';
  }

  DomainMatchKind plainKind() const {
    return options_.plain_names_cover_subdomains ? DomainMatchKind::kSubtree
                                                 : DomainMatchKind::kExact;
  }

  // Why `token` is not a name, in words an administrator can act on; "" if it is one.
  static std::string notANameReason(std::string_view token) {
    if (isAddress(token)) return "an IP address, not a domain";
    if (token.find("://") != std::string_view::npos || token.find('/') != std::string_view::npos) {
      return "a URL or path, not a domain (DNS sees only names)";
    }
    return "";
  }

  void parseHosts(std::string_view line, bool adblock) {
    if (!adblock && isComment(line)) return;
    std::string_view rest = stripInlineComment(line);
    const std::string_view address = nextToken(rest);
    if (!isAddress(address)) {
      skip(line, "not a hosts line (expected an address followed by names)");
      return;
    }
    if (rest.empty()) {
      skip(line, "no host name after the address");
      return;
    }
    // AdGuard treats hosts lines as exact names; in a hosts list safegate follows the
    // plain-name option (subtree by default).
    const DomainMatchKind kind = adblock ? DomainMatchKind::kExact : plainKind();
    size_t added = 0;
    std::string first_problem;
    while (!rest.empty()) {
      const std::string_view token = nextToken(rest);
      if (isHostsBoilerplate(token)) {
        if (first_problem.empty())
          first_problem = "hosts-file boilerplate \"" + std::string(token) + "\"";
        continue;
      }
      std::string why = notANameReason(token);
      if (why.empty() && normalizeEntry(token, buf_, why)) {
        addName(buf_.view(), kind, RuleAction::kBlock, false);
        ++added;
        continue;
      }
      if (first_problem.empty()) first_problem = "\"" + std::string(token) + "\": " + why;
    }
    if (added == 0) {
      skip(line, first_problem.empty() ? "no usable name" : first_problem);
    } else if (!first_problem.empty() && !startsWith(first_problem, "hosts-file")) {
      warn(line, "some names ignored: " + first_problem);
    }
  }

  void parseDomain(std::string_view line, bool wildcard) {
    if (isComment(line)) return;
    std::string_view rest = stripInlineComment(line);
    std::string_view token = nextToken(rest);
    if (!rest.empty()) {
      if (isAddress(token)) {
        skip(line, "a hosts line in a " + std::string(wildcard ? "wildcard" : "domains") +
                       " list (force format \"hosts\" or \"auto\")");
      } else {
        skip(line, "a domain has no spaces");
      }
      return;
    }
    // Domain lists of circumvention endpoints (ut1 "doh", DoH IP lists) also name servers by
    // address: kept as address entries, which the inline path matches against destinations.
    if (addAddress(token)) return;
    DomainMatchKind kind = plainKind();
    // "*.example.com": DNSCrypt-style wildcard lists (hagezi "wildcard") mean the name and
    // everything under it: their adblock twin is ||example.com^.
    if (startsWith(token, "*.")) {
      token.remove_prefix(2);
      kind = DomainMatchKind::kSubtree;
    } else if (startsWith(token, ".")) {
      // squidGuard/ut1 ".example.com": the domain and its subdomains.
      token.remove_prefix(1);
      kind = DomainMatchKind::kSubtree;
    } else if (wildcard) {
      kind = DomainMatchKind::kSubtree;
    }
    if (token.find('*') != std::string_view::npos) {
      skip(line, "a wildcard is only supported as a leading \"*.\"");
      return;
    }
    std::string why = notANameReason(token);
    if (why.empty()) {
      if (normalizeEntry(token, buf_, why)) {
        addName(buf_.view(), kind, RuleAction::kBlock, false);
        return;
      }
    }
    skip(line, why);
  }

  // dnsmasq: server=/a.com/b.com/1.2.3.4, address=/a.com/0.0.0.0, local=/a.com/.
  void parseDnsmasq(std::string_view line) {
    if (isComment(line)) return;
    const size_t eq = line.find('=');
    const std::string_view key = eq == std::string_view::npos ? line : line.substr(0, eq);
    if (eq == std::string_view::npos || !(key == "server" || key == "address" || key == "local")) {
      skip(line, "not a dnsmasq server=/address=/local= line");
      return;
    }
    std::string_view value = line.substr(eq + 1);
    if (value.empty() || value.front() != '/') {
      skip(line, "no /domain/ in the dnsmasq line");
      return;
    }
    const size_t last = value.rfind('/');
    std::string_view domains = value.substr(1, last == 0 ? 0 : last - 1);
    size_t added = 0;
    std::string problem;
    for (std::string_view d : splitOutsideQuotes(domains, '/')) {
      if (d.empty()) continue;
      auto name = normalizeDomain(d, NameSyntax::kListEntry);
      if (name) {
        addName(*name, DomainMatchKind::kSubtree, RuleAction::kBlock, false);
        ++added;
      } else if (problem.empty()) {
        problem = "\"" + std::string(d) + "\": " + name.status().message();
      }
    }
    if (added == 0) skip(line, problem.empty() ? "no domain in the dnsmasq line" : problem);
  }

  bool parseModifiers(std::string_view mods, AdblockRule& rule, std::string& why) {
    std::vector<std::string> keys;
    for (std::string_view raw : splitOutsideQuotes(mods, ',')) {
      const std::string_view m = trim(raw);
      if (m.empty()) {
        why = "empty modifier";
        return false;
      }
      const size_t eq = m.find('=');
      const std::string name = lowerAscii(m.substr(0, eq));
      const std::string_view value =
          eq == std::string_view::npos ? std::string_view() : m.substr(eq + 1);
      const bool has_value = eq != std::string_view::npos;
      if (name == "important" || name == "badfilter") {
        if (has_value) {
          why = "$" + name + " takes no value";
          return false;
        }
        (name == "important" ? rule.important : rule.badfilter) = true;
      } else if (name == "dnstype") {
        if (value.empty()) {
          why = "$dnstype needs a type";
          return false;
        }
        for (std::string_view t : splitOutsideQuotes(value, '|')) {
          const bool neg = startsWith(t, "~");
          if (neg) t.remove_prefix(1);
          auto type = parseDnsType(t);
          if (!type) {
            why = "unknown DNS type \"" + std::string(t) + "\" in $dnstype";
            return false;
          }
          (neg ? rule.dnstype_exclude : rule.dnstype_include).push_back(*type);
        }
      } else if (name == "client") {
        if (value.empty()) {
          why = "$client needs a value";
          return false;
        }
        for (std::string_view c : splitOutsideQuotes(value, '|')) {
          c = trim(c);
          const bool neg = startsWith(c, "~");
          if (neg) c.remove_prefix(1);
          if (c.empty()) {
            why = "empty client in $client";
            return false;
          }
          if (c.front() != '\'' && c.front() != '"') {
            if (auto cidr = Cidr::parse(c)) {
              (neg ? rule.client_cidr_exclude : rule.client_cidr_include).push_back(*cidr);
              continue;
            }
          }
          (neg ? rule.client_name_exclude : rule.client_name_include).push_back(unquote(c));
        }
      } else if (name == "ctag") {
        if (value.empty()) {
          why = "$ctag needs a tag";
          return false;
        }
        for (std::string_view t : splitOutsideQuotes(value, '|')) {
          const bool neg = startsWith(t, "~");
          if (neg) t.remove_prefix(1);
          if (t.empty()) {
            why = "empty tag in $ctag";
            return false;
          }
          (neg ? rule.ctag_exclude : rule.ctag_include).push_back(lowerAscii(t));
        }
      } else if (name == "denyallow") {
        if (value.empty()) {
          why = "$denyallow needs a domain";
          return false;
        }
        for (std::string_view d : splitOutsideQuotes(value, '|')) {
          if (startsWith(d, "~") || d.find('*') != std::string_view::npos) {
            why = "$denyallow takes plain domains (no '~', no '*')";
            return false;
          }
          auto n = normalizeDomain(d, NameSyntax::kListEntry);
          if (!n) {
            why = "$denyallow domain \"" + std::string(d) + "\": " + n.status().message();
            return false;
          }
          rule.denyallow.push_back(*n);
        }
      } else if (name == "dnsrewrite") {
        rule.has_dnsrewrite = true;
        if (!parseRewrite(value, rule.rewrite, why)) return false;
      } else {
        why = "unsupported modifier $" + name +
              " (DNS filtering supports important, badfilter, "
              "denyallow, dnstype, client, ctag, dnsrewrite)";
        return false;
      }
      if (name != "badfilter") keys.emplace_back(m);
    }
    std::sort(keys.begin(), keys.end());
    for (const std::string& k : keys) {
      if (!rule.modifier_key.empty()) rule.modifier_key += ',';
      rule.modifier_key += k;
    }
    return true;
  }

  static bool parseRewrite(std::string_view value, DnsRewrite& rw, std::string& why) {
    rw = DnsRewrite{};
    if (value.empty()) return true;  // valid for exceptions only; checked by the caller
    auto rcodeOf = [](std::string_view k) -> std::optional<uint8_t> {
      if (k == "NOERROR") return dns_rcode::kNoError;
      if (k == "NXDOMAIN") return dns_rcode::kNxDomain;
      if (k == "SERVFAIL") return dns_rcode::kServFail;
      if (k == "REFUSED") return dns_rcode::kRefused;
      return std::nullopt;
    };
    std::string_view rcode_text, type_text, data;
    const size_t semi = value.find(';');
    if (semi == std::string_view::npos) {
      // Short forms: a keyword, an address, or a name (CNAME).
      if (auto rc = rcodeOf(value)) {
        rw.rcode = *rc;
        return true;
      }
      rcode_text = "NOERROR";
      data = value;
      if (auto ip = IpAddress::parse(value)) {
        type_text = ip->isV4() ? "A" : "AAAA";
      } else {
        type_text = "CNAME";
      }
    } else {
      const size_t semi2 = value.find(';', semi + 1);
      if (semi2 == std::string_view::npos) {
        why = "$dnsrewrite must be RCODE;RRTYPE;VALUE";
        return false;
      }
      rcode_text = value.substr(0, semi);
      type_text = value.substr(semi + 1, semi2 - semi - 1);
      data = value.substr(semi2 + 1);
    }
    auto rc = rcodeOf(rcode_text);
    if (!rc) {
      why = "unknown $dnsrewrite response code \"" + std::string(rcode_text) +
            "\" (keywords are upper case: NOERROR, NXDOMAIN, SERVFAIL, REFUSED)";
      return false;
    }
    rw.rcode = *rc;
    if (type_text.empty()) {
      if (!data.empty()) {
        why = "$dnsrewrite value without a record type";
        return false;
      }
      return true;
    }
    auto type = parseDnsType(type_text);
    if (!type ||
        !(*type == dns_type::kA || *type == dns_type::kAaaa || *type == dns_type::kCname)) {
      why = "$dnsrewrite record type \"" + std::string(type_text) +
            "\" is not supported (A, AAAA, CNAME)";
      return false;
    }
    rw.rrtype = *type;
    if (*type == dns_type::kCname) {
      auto n = normalizeDomain(data, NameSyntax::kListEntry);
      if (!n) {
        why = "$dnsrewrite CNAME target: " + n.status().message();
        return false;
      }
      rw.value = *n;
    } else {
      auto ip = IpAddress::parse(data);
      if (!ip || ip->isV4() != (*type == dns_type::kA)) {
        why = "$dnsrewrite " + std::string(type_text) + " needs an IPv" +
              (*type == dns_type::kA ? "4" : "6") + " address";
        return false;
      }
      rw.address = *ip;
      rw.value = std::string(data);
    }
    return true;
  }

  // AdGuard's DNS engine (urlfilter) matches a name as the URL "http://" + name when the
  // pattern starts with "||", "http://", "https://", "://" or "*://", or is "/label." (only
  // letters, digits, '.' and '-' inside); every other pattern against the bare name. A trailing
  // "/*" is a separator ("||example.org/*" is "||example.org^"). Rewrites `p` to the pattern
  // over the bare name that matches the same names: since "://" and the "/" before the name
  // occur once in that URL, "://x", "*://x", "http://x" and "/x." all become "|x". kUrlOnly for
  // a path, port or query, which no name matches (a rule for plain-HTTP URLs); kNever, with
  // `why`, for https://.
  enum class UrlShape : uint8_t { kName, kUrlOnly, kNever };
  static UrlShape urlPatternOverName(std::string_view p, std::string& out, std::string& why) {
    out.assign(p);
    if (out.size() > 2 && out.ends_with("/*")) out.replace(out.size() - 2, 2, "^");
    std::string_view rest = out;
    bool url_form = true;
    if (startsWith(rest, "||")) {
      rest.remove_prefix(2);
    } else if (startsWith(rest, "https://")) {
      why =
          "an https:// URL rule; AdGuard's DNS engine matches a name as an http:// URL and "
          "inline inspection sees only plain-HTTP URLs, so it never applies";
      return UrlShape::kNever;
    } else if (startsWith(rest, "http://")) {
      rest.remove_prefix(7);
    } else if (startsWith(rest, "://")) {
      rest.remove_prefix(3);
    } else if (startsWith(rest, "*://")) {
      rest.remove_prefix(4);
    } else if (rest.size() > 3 && rest.front() == '/' && rest.back() == '.' &&
               std::all_of(rest.begin() + 1, rest.end() - 1, [](char c) {
                 return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '-';
               })) {
      rest.remove_prefix(1);
    } else {
      url_form = false;
    }
    // A port: the URL safegate matches is "http://" + host + path, without one (AdGuard's
    // DNS engine never sees one either), so the rule could never apply.
    std::string_view host_part = rest;  // from after any "|scheme://" to the first '/'
    if (startsWith(host_part, "|")) host_part.remove_prefix(1);
    if (const size_t scheme = host_part.find("://"); scheme != std::string_view::npos) {
      host_part.remove_prefix(scheme + 3);
    }
    host_part = host_part.substr(0, host_part.find('/'));
    if (host_part.find(':') != std::string_view::npos) {
      why = "a port in a URL rule; safegate matches URLs without the port, so it never applies";
      return UrlShape::kNever;
    }
    // A path or query never matches a name: the rule is for plain-HTTP URLs only.
    if (rest.find_first_of("/?=&") != std::string_view::npos) return UrlShape::kUrlOnly;
    if (!url_form) return UrlShape::kName;  // over the bare name (checked by patternToRegex)
    out = (startsWith(out, "||") ? "||" : "|") + std::string(rest);
    return UrlShape::kName;
  }

  // The anchors of an adblock pattern: "||" (the domain or a subdomain of it), "|" (the
  // start) and a trailing "|" (the end); `body` is what lies between them.
  struct Anchors {
    enum Start : uint8_t { kNone, kDomain, kStart } start = kNone;
    bool end = false;
    std::string_view body;
  };
  static Anchors splitAnchors(std::string_view p) {
    Anchors a;
    if (startsWith(p, "||")) {
      a.start = Anchors::kDomain;
      p.remove_prefix(2);
    } else if (startsWith(p, "|")) {
      a.start = Anchors::kStart;
      p.remove_prefix(1);
    }
    if (!p.empty() && p.back() == '|') {
      a.end = true;
      p.remove_suffix(1);
    }
    a.body = p;
    return a;
  }

  // An adblock pattern as an RE2 regex over a request URL, as AdGuard's urlfilter builds it
  // (rules/simple_regex.go): "||" = scheme and any subdomains, "|" = start or end, "^" = a
  // separator (anything but a letter, digit or one of "_-.%") or the end, "*" = anything;
  // the rest literal. `p` has had a trailing "/*" turned into "^" already.
  static std::string patternToUrlRegex(std::string_view p) {
    const Anchors a = splitAnchors(p);
    std::string re = a.start == Anchors::kDomain  ? "^(?:http|https|ws|wss)://(?:[a-z0-9_.-]+\\.)?"
                     : a.start == Anchors::kStart ? "^"
                                                  : "";
    const bool end_anchor = a.end;
    for (char c : a.body) {
      if (c == '*') {
        re += ".*";
      } else if (c == '^') {
        re += "(?:[^ a-zA-Z0-9.%_-]|$)";
      } else if (std::string_view(".+?${}()[]/\\|").find(c) != std::string_view::npos) {
        re += '\\';
        re += c;
      } else {
        re += c;
      }
    }
    if (end_anchor) re += '$';
    return re;
  }

  // Converts an adblock host pattern (without @@, modifiers) into an RE2 regex over the
  // canonical name. Returns false with `why` when the pattern cannot match a DNS name.
  static bool patternToRegex(std::string_view pattern, std::string& regex, std::string& why) {
    const Anchors a = splitAnchors(pattern);
    regex = a.start == Anchors::kDomain ? "(?:^|\\.)" : a.start == Anchors::kStart ? "^" : "";
    std::string_view p = a.body;
    bool end_anchor = a.end;
    if (!p.empty() && p.back() == '^') {
      end_anchor = true;
      p.remove_suffix(1);
    }
    for (char c : p) {
      if (c == '*') {
        regex += ".*";
      } else if (c == '^') {
        why = "a separator '^' inside a pattern can never match a host name";
        return false;
      } else if (c == '.') {
        regex += "\\.";
      } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
        regex += c;
      } else if (c >= 'A' && c <= 'Z') {
        regex += static_cast<char>(c + 32);
      } else if (c == '/' || c == ':' || c == '?' || c == '=' || c == '&') {
        why = "a URL rule (path, port or query); DNS sees only names";
        return false;
      } else if (static_cast<unsigned char>(c) >= 0x80) {
        why = "Unicode in a wildcard pattern; write A-labels (xn--...)";
        return false;
      } else {
        why = std::string("character '") + c + "' cannot appear in a host name pattern";
        return false;
      }
    }
    if (end_anchor) regex += "$";
    return true;
  }

  static bool isPlainName(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
      if (c == '*' || c == '^' || c == '|' || c == '/' || c == ':' || isSpace(c)) return false;
    }
    return true;
  }

  void parseAdblock(std::string_view line) {
    if (line.front() == '!' || line.front() == '[') {
      ++out_.stats.comments;
      return;
    }
    if (line.find("##") != std::string_view::npos || line.find("#@#") != std::string_view::npos ||
        line.find("#$#") != std::string_view::npos || line.find("#?#") != std::string_view::npos ||
        line.find("#%#") != std::string_view::npos || line.find("$$") != std::string_view::npos) {
      skip(line, "a cosmetic or HTML filtering rule; DNS filtering cannot apply it");
      return;
    }
    if (line.front() == '#') {
      ++out_.stats.comments;
      return;
    }
    {
      std::string_view probe = line;
      const std::string_view first = nextToken(probe);
      if (!probe.empty() && isAddress(first)) {
        parseHosts(line, /*adblock=*/true);
        return;
      }
    }
    AdblockRule rule;
    rule.line = line_;
    rule.text = std::string(line);
    std::string_view body = line;
    if (startsWith(body, "@@")) {
      rule.action = RuleAction::kAllow;
      body.remove_prefix(2);
    }
    // Modifiers follow the last '$' after a /regex/, or the first '$' otherwise (a '$' may
    // appear inside a regex, never inside a host pattern).
    std::string_view mods;
    bool has_mods = false;
    const bool is_regex =
        body.size() >= 2 && body.front() == '/' && body.find('/', 1) != std::string_view::npos;
    size_t dollar = std::string_view::npos;
    if (is_regex) {
      const size_t close = body.rfind('/');
      if (close > 0) dollar = body.find('$', close);
    } else {
      dollar = body.find('$');
    }
    if (dollar != std::string_view::npos) {
      mods = body.substr(dollar + 1);
      body = body.substr(0, dollar);
      has_mods = true;
    }
    std::string why;
    if (has_mods && !parseModifiers(mods, rule, why)) {
      skip(line, why);
      return;
    }
    if (rule.has_dnsrewrite && rule.rewrite.empty() && rule.action == RuleAction::kBlock) {
      skip(line, "$dnsrewrite needs a value on a blocking rule");
      return;
    }
    if (is_regex && body.size() >= 2 && body.back() == '/') {
      rule.target = AdblockRule::Target::kPattern;
      rule.regex = std::string(body.substr(1, body.size() - 2));
      if (rule.regex.empty()) {
        skip(line, "empty regular expression");
        return;
      }
    } else if (body.empty() || body == "*" || body == "*^" || body == "||*^" || body == "|*") {
      // Every name: meaningful with modifiers ("*$denyallow=com|net", "$dnstype=AAAA").
      if (!has_mods) {
        skip(line, "a rule without a pattern or modifiers would match every name");
        return;
      }
      rule.target = AdblockRule::Target::kPattern;
      rule.regex.clear();
    } else {
      std::string rewritten;
      const UrlShape shape = urlPatternOverName(body, rewritten, why);
      if (shape == UrlShape::kNever) {
        skip(line, why);
        return;
      }
      if (shape == UrlShape::kUrlOnly) {
        if (rule.action == RuleAction::kAllow) {
          skip(line,
               "an @@ URL rule (an exception for one page): inline inspection sees the first "
               "request of a connection only, so allowing it would open the whole connection");
          return;
        }
        if (rule.has_dnsrewrite) {
          skip(line, "$dnsrewrite on a URL rule (path, port or query): no DNS answer to rewrite");
          return;
        }
        rule.target = AdblockRule::Target::kUrl;
        rule.regex = patternToUrlRegex(rewritten);
        out_.rules.push_back(std::move(rule));
        ++out_.stats.entries;
        return;
      }
      body = rewritten;
      // Name-shaped patterns become DomainSet entries; the rest RE2 patterns.
      std::string_view core = body;
      std::optional<DomainMatchKind> kind;
      if (startsWith(core, "||*.")) core.remove_prefix(2);
      if (startsWith(core, "||")) {
        core.remove_prefix(2);
        if (!core.empty() && core.back() == '^') {
          core.remove_suffix(1);
          kind = DomainMatchKind::kSubtree;
        }
      } else if (startsWith(core, "|")) {
        core.remove_prefix(1);
        if (!core.empty() && (core.back() == '^' || core.back() == '|')) {
          core.remove_suffix(1);
          kind = DomainMatchKind::kExact;
        }
      } else if (!core.empty() && core.back() != '^') {
        kind = DomainMatchKind::kExact;  // a bare "example.org": that name only (AdGuard)
      }
      if (!kind && startsWith(core, "*.") && !core.empty() && core.back() == '^') {
        core.remove_prefix(2);
        core.remove_suffix(1);
        kind = DomainMatchKind::kSubdomainsOnly;
      }
      if (kind && isPlainName(core)) {
        std::string reason = notANameReason(core);
        if (reason.empty()) {
          auto name = normalizeDomain(core, NameSyntax::kListEntry);
          if (!name) {
            skip(line, name.status().message());
            return;
          }
          rule.target = AdblockRule::Target::kName;
          rule.kind = *kind;
          rule.name = *name;
        } else {
          skip(line, reason);
          return;
        }
      } else {
        if (!patternToRegex(body, rule.regex, why)) {
          skip(line, why);
          return;
        }
        rule.target = AdblockRule::Target::kPattern;
      }
    }
    // Only $important may ride along with a plain name entry; any other modifier needs the
    // per-rule checks of ListMatcher.
    const bool plain = rule.target == AdblockRule::Target::kName && !rule.badfilter &&
                       (rule.modifier_key.empty() || rule.modifier_key == "important");
    if (plain) {
      addName(rule.name, rule.kind, rule.action, rule.important);
      return;
    }
    out_.rules.push_back(std::move(rule));
    ++out_.stats.entries;
  }

  std::string_view source_;
  const ListReadOptions& options_;
  DiagnosticSink& diagnostics_;
  ParsedList& out_;
  uint32_t line_ = 0;
  NameBuffer buf_;
  size_t reported_ = 0;
  size_t suppressed_ = 0;
};

}  // namespace

std::string_view listFormatName(ListFormat f) {
  switch (f) {
    case ListFormat::kAuto: return "auto";
    case ListFormat::kHosts: return "hosts";
    case ListFormat::kDomains: return "domains";
    case ListFormat::kWildcard: return "wildcard";
    case ListFormat::kDnsmasq: return "dnsmasq";
    case ListFormat::kAdblock: return "adblock";
  }
  return "unknown";
}

std::optional<ListFormat> parseListFormat(std::string_view name) {
  for (ListFormat f : {ListFormat::kAuto, ListFormat::kHosts, ListFormat::kDomains,
                       ListFormat::kWildcard, ListFormat::kDnsmasq, ListFormat::kAdblock}) {
    if (listFormatName(f) == name) return f;
  }
  return std::nullopt;
}

namespace {

// Lines in `text`, counting a last line without a line break. Eight bytes at a time: a
// residue (policy/list_cache.h) is millions of empty lines, where a memchr() per line is slow.
size_t countLines(std::string_view text) {
  constexpr uint64_t kLow7 = 0x7f7f7f7f7f7f7f7full;
  constexpr uint64_t kNewlines = 0x0a0a0a0a0a0a0a0aull;
  size_t lines = 0;
  size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, text.data() + i, 8);
    const uint64_t x = word ^ kNewlines;  // a zero byte where there was a '\n'
    // The high bit of each byte of `zero` is set exactly where x has a zero byte.
    const uint64_t zero = ~(((x & kLow7) + kLow7) | x | kLow7);
    lines += static_cast<size_t>(std::popcount(zero));
  }
  for (; i < text.size(); ++i) lines += text[i] == '\n';
  return lines + (!text.empty() && text.back() != '\n');
}

}  // namespace

ListFormat detectListFormat(std::string_view text) {
  size_t hosts = 0, domains = 0, wildcard = 0, dnsmasq = 0, adblock = 0, significant = 0;
  size_t pos = 0;
  while (pos < text.size() && significant < kDetectLines) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = trim(text.substr(pos, end - pos));
    pos = end + 1;
    if (line.empty() || line.front() == '#' || line.front() == '!' || line.front() == '[') {
      continue;
    }
    ++significant;
    std::string_view rest = line;
    const std::string_view first = nextToken(rest);
    if (startsWith(line, "||") || startsWith(line, "@@") || startsWith(line, "|") ||
        line.find('^') != std::string_view::npos || line.find('$') != std::string_view::npos ||
        (line.size() > 2 && line.front() == '/' && line.back() == '/')) {
      ++adblock;
    } else if (!rest.empty() && isAddress(first)) {
      ++hosts;
    } else if (startsWith(line, "server=/") || startsWith(line, "address=/") ||
               startsWith(line, "local=/")) {
      ++dnsmasq;
    } else if (startsWith(line, "*.")) {
      ++wildcard;
    } else {
      ++domains;
    }
  }
  if (significant == 0) return ListFormat::kDomains;
  // Adblock syntax is unambiguous and its parser also takes hosts lines and bare names, so a
  // noticeable share of adblock-only lines decides.
  if (adblock * 10 >= significant) return ListFormat::kAdblock;
  const size_t best = std::max({hosts, domains, wildcard, dnsmasq});
  if (best == hosts) return ListFormat::kHosts;
  if (best == dnsmasq) return ListFormat::kDnsmasq;
  if (best == wildcard) return ListFormat::kWildcard;
  return ListFormat::kDomains;
}

ParsedList parseListText(std::string_view text, std::string_view source,
                         const ListReadOptions& options, DiagnosticSink& diagnostics) {
  ParsedList out;
  out.path = std::string(source);
  out.list_id = options.list_id;
  out.format = options.format == ListFormat::kAuto ? detectListFormat(text) : options.format;
  // Reserved for the common case, one name per line and names no longer than their lines, so
  // a big list is never copied while it grows. Pages of the reservation that are never written
  // are never touched, so a list of rules rather than names costs address space, not memory.
  out.names.reserve(countLines(text));
  out.name_blob.reserve(text.size());
  LineParser parser(source, options, diagnostics, out);
  parser.parse(text, out.format);
  return out;
}

Result<std::string> readListText(const std::string& path, const ListReadOptions& options,
                                 DiagnosticSink& diagnostics) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::fromErrno("open " + path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::fromErrno("stat " + path, err);
  }
  if (static_cast<uint64_t>(st.st_size) > options.max_file_bytes) {
    ::close(fd);
    Status s(StatusCode::kResourceExhausted,
             "list is " + std::to_string(st.st_size) + " bytes, over the limit of " +
                 std::to_string(options.max_file_bytes),
             SourceLocation{path, 0, 0});
    diagnostics.error(s.where(), s.message());
    return s;
  }
  std::string text;
  text.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::read(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return Status::fromErrno("read " + path, err);
    }
    if (n == 0) break;  // the file shrank while reading: parse what is there
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  text.resize(done);
  return text;
}

Result<ParsedList> readListFile(const std::string& path, const ListReadOptions& options,
                                DiagnosticSink& diagnostics) {
  auto text = readListText(path, options, diagnostics);
  if (!text) return text.status();
  return parseListText(*text, path, options, diagnostics);
}

}  // namespace safegate
