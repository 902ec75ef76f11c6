// List readers: hosts files, plain domain lists, `*.domain` wildcard lists, dnsmasq
// `server=/d/` lists and the DNS-level adblock syntax as AdGuard documents it ("DNS filtering
// rules syntax": `||d^`, `|d^`, `@@`, `^`, `*`, `/regex/`, and the modifiers $important,
// $badfilter, $denyallow, $dnstype, $client, $ctag, $dnsrewrite).
//
// Provides:
//   - readListFile() / parseListText(): control plane. Read one list into a ParsedList: plain
//     names in a compact array (name blob + 16-byte entries), everything else (patterns,
//     regexes, rules with modifiers) as AdblockRule with its original text. The format is
//     detected from the content unless forced. Every line that is not a comment and cannot
//     be used is counted and reported to the DiagnosticSink as `file:line: warning: why`
//     (individually up to ListReadOptions::max_reported_warnings, then as one summary).
//   - detectListFormat(): the auto-detection on its own.
//
// Semantics (docs/lists.md has the full table):
//   hosts `0.0.0.0 a.com b.com`, domains `a.com`, wildcard `*.a.com`, dnsmasq `server=/a.com/`
//   -> block a.com and its subdomains (kSubtree; with plain_names_cover_subdomains = false,
//   hosts and domains lines are exact, as AdGuard treats them). A bare address or CIDR line in
//   a domains or wildcard list (`1.1.1.1`, `2606:4700::/32`) is an address entry
//   (ParsedList::addresses), not a skipped line.
//   adblock `||a.com^` -> subtree, `|a.com^` and a bare `a.com` -> exact, `*.a.com^` ->
//   subdomains only, anything else with `*`, `^` or `|` -> an RE2 pattern over the name.
//
// Thread-safety: functions are re-entrant; a ParsedList is a plain value.
// Ownership: ParsedList owns all its strings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"
#include "filters/domain_set.h"

namespace safegate {

enum class ListFormat : uint8_t { kAuto, kHosts, kDomains, kWildcard, kDnsmasq, kAdblock };
std::string_view listFormatName(ListFormat f);
// "auto", "hosts", "domains", "wildcard", "dnsmasq", "adblock".
std::optional<ListFormat> parseListFormat(std::string_view name);

struct ListReadOptions {
  ListFormat format = ListFormat::kAuto;
  // Lines longer than this are skipped with a warning (an adblock rule is rarely > 1 KiB;
  // a hosts line with many names can be long).
  size_t max_line_length = 8192;
  // Files larger than this are refused (the whole list is an error, nothing half-loaded).
  size_t max_file_bytes = 256u << 20;
  // Skipped lines beyond this many are counted but reported in one summary warning.
  size_t max_reported_warnings = 1000;
  // hosts and domains lines cover subdomains (safegate's default, and the squidGuard/ut1
  // semantics); false gives AdGuard's exact-name semantics for them.
  bool plain_names_cover_subdomains = true;
  // Stamped on every entry; ListMatcher reports it back so a match names its list.
  uint16_t list_id = 0;
};

enum class RuleAction : uint8_t { kBlock, kAllow };

// `$dnsrewrite` (AdGuard Home): RCODE;RRTYPE;VALUE, or the short forms (an IPv4 address = A,
// an IPv6 address = AAAA, a name = CNAME, a keyword = that RCODE with no answer).
struct DnsRewrite {
  uint8_t rcode = 0;                 // dns_rcode::kNoError, kNxDomain, kServFail, kRefused
  uint16_t rrtype = 0;               // dns_type::kA, kAaaa, kCname, ...; 0 = no answer record
  std::string value;                 // as written (canonical name for CNAME)
  std::optional<IpAddress> address;  // for A / AAAA
  bool empty() const { return rrtype == 0 && rcode == 0 && value.empty(); }
  friend bool operator==(const DnsRewrite&, const DnsRewrite&) = default;
};

// One adblock-syntax rule that is not a plain name, or that carries modifiers.
struct AdblockRule {
  // kUrl: a rule with a path, port or query ("||example.org/page.html"), which no name can
  // match; its `regex` is over the URL "http://host/path?query" of a plain-HTTP request, as
  // AdGuard matches URL requests, and the DNS path never consults it.
  enum class Target : uint8_t { kName, kPattern, kUrl };

  uint32_t line = 0;
  RuleAction action = RuleAction::kBlock;
  Target target = Target::kName;
  DomainMatchKind kind = DomainMatchKind::kSubtree;  // for kName
  std::string name;                                  // canonical, for kName
  std::string regex;  // RE2 over the canonical name for kPattern ("" = every name), over the
                      // URL for kUrl

  bool important = false;
  bool badfilter = false;
  // $dnstype=A|~AAAA: the rule applies when the query type is in include (if non-empty) and
  // not in exclude.
  std::vector<uint16_t> dnstype_include, dnstype_exclude;
  // $client=1.2.3.4|10.0.0.0/8|'Kid laptop'|~Mom: same include/exclude logic over the
  // client's address and name.
  std::vector<Cidr> client_cidr_include, client_cidr_exclude;
  std::vector<std::string> client_name_include, client_name_exclude;
  // $ctag=device_pc|~user_child: same logic over the client's tags.
  std::vector<std::string> ctag_include, ctag_exclude;
  // $denyallow=a.com|b.org: the rule does not apply to these names and their subdomains.
  std::vector<std::string> denyallow;
  bool has_dnsrewrite = false;
  DnsRewrite rewrite;  // for an exception, empty = "disable every $dnsrewrite here"

  std::string text;  // the rule as written (trimmed)
  // The modifiers other than $badfilter, sorted: $badfilter rules disable the rules with the
  // same action, target and key.
  std::string modifier_key;
};

struct ListStats {
  size_t lines = 0;
  size_t entries = 0;    // plain names + rules
  size_t comments = 0;   // comment and blank lines
  size_t skipped = 0;    // lines that could not be used (each reported or summarised)
  size_t addresses = 0;  // of `entries`: address / CIDR entries (domains and wildcard lists)
};

struct ParsedList {
  // A plain name entry: the compact form used for the bulk of every real list.
  struct NameEntry {
    uint32_t name_offset = 0;
    uint16_t name_length = 0;
    DomainMatchKind kind = DomainMatchKind::kSubtree;
    RuleAction action = RuleAction::kBlock;
    bool important = false;
    uint32_t line = 0;
  };

  std::string path;
  uint16_t list_id = 0;
  ListFormat format = ListFormat::kAuto;  // the format used (detected or forced)
  std::vector<NameEntry> names;
  std::string name_blob;
  std::vector<AdblockRule> rules;
  // Bare addresses and CIDRs in domains / wildcard lists ("1.1.1.1", "2606:4700::/32"): DNS
  // never matches them; the policy keeps them as destination addresses for the inline path
  // (a DoH endpoint reached by address, docs/inline.md).
  struct AddressEntry {
    Cidr cidr;
    uint32_t line = 0;
  };
  std::vector<AddressEntry> addresses;
  // Every line that drew a warning (reported or only counted in the summary), ascending.
  std::vector<uint32_t> warned_lines;
  ListStats stats;

  std::string_view name(const NameEntry& e) const {
    return std::string_view(name_blob).substr(e.name_offset, e.name_length);
  }
};

// Guesses the format from the first significant lines of `text` (majority vote; adblock wins
// as soon as adblock-only syntax such as `||`, `@@`, `^` or `$` appears).
ListFormat detectListFormat(std::string_view text);

// Parses `text` (the whole list). `source` names the list in diagnostics. Never fails: bad
// lines are skipped, counted and reported.
ParsedList parseListText(std::string_view text, std::string_view source,
                         const ListReadOptions& options, DiagnosticSink& diagnostics);

// Reads a list file whole; fails when it cannot be read or exceeds max_file_bytes (that one
// also reported to `diagnostics`).
Result<std::string> readListText(const std::string& path, const ListReadOptions& options,
                                 DiagnosticSink& diagnostics);

// Reads and parses a file; fails only when the file cannot be read or exceeds max_file_bytes.
Result<ParsedList> readListFile(const std::string& path, const ListReadOptions& options,
                                DiagnosticSink& diagnostics);

}  // namespace safegate
