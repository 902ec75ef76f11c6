// Domain name normalisation and label-by-label suffix iteration.
//
// Provides:
//   - normalizeDomain(): control plane. Turns a name as written in a list or a config file
//     into safegate's canonical presentation form (the form filters/dns_message.h's NameBuffer
//     holds): ASCII lower case, one trailing root dot removed, Unicode labels converted to
//     A-labels with libidn2 (UTS #46 non-transitional processing, RFC 5891/5892), and "\."
//     kept as an escaped dot inside one label so that `a\.b` (one label) never equals `a.b`
//     (two labels). Label and name lengths are checked against RFC 1035 §2.3.4 (63 octets per
//     label, 253 text octets per name). Errors say why, for `file:line: warning:` reports.
//   - normalizeWireName(): data plane. Lower-cases and validates an ASCII name that came off
//     the wire (a DNS question already decoded to presentation form, a TLS SNI, an HTTP Host)
//     into a caller-provided NameBuffer. noexcept, no allocation, no IDN conversion (RFC 6066
//     §3 and RFC 9110 §4.2.3 require A-labels there; a non-ASCII octet is reported as such).
//   - labelStarts() / SuffixWalk: the offsets of every label of a canonical name, so that a
//     matcher can probe "a.b.example.com", "b.example.com", "example.com", "com" without
//     building a string per suffix.
//
// Canonical form, in short: the same decision for `Example.COM`, `example.com.`,
// `bücher.example` and `xn--bcher-kva.example`.
//
// Thread-safety: every function is pure (libidn2 is re-entrant); safe from any thread.
// Ownership: outputs are returned by value or written into buffers the caller owns.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "filters/dns_message.h"

namespace safegate {

// Which characters a name may contain, beyond letters, digits and '-'.
enum class NameSyntax : uint8_t {
  // Host names as typed by people (config, explain CLI): letters, digits, '-', '_' and
  // Unicode (converted to A-labels). No escapes.
  kHostname,
  // Entries of block/allow lists: as kHostname plus presentation escapes ("\.", "\\",
  // "\DDD") so that any DNS name can be listed. Underscore labels (`_dmarc`) are accepted:
  // they are real DNS names even if not valid host names (RFC 8552).
  kListEntry,
};

// Returns the canonical form of `name` or an invalid-argument Status whose message says
// what is wrong ("label longer than 63 octets", "empty label", ...). The root name ("" or
// ".") is rejected: no list entry may stand for every name.
Result<std::string> normalizeDomain(std::string_view name,
                                    NameSyntax syntax = NameSyntax::kListEntry);

// The allocation-free path of normalizeDomain() for bulk list loading: for ASCII input it
// writes exactly what normalizeDomain() would return into `out` and returns true. Returns
// false (out empty) for non-ASCII or invalid input; call normalizeDomain() then, for the IDN
// conversion or the reason.
bool normalizeAsciiDomain(std::string_view name, NameSyntax syntax, NameBuffer& out) noexcept;

// Outcome of the data-plane normaliser.
enum class WireNameStatus : uint8_t {
  kOk,
  kEmpty,         // "" or "." (the root)
  kNotAscii,      // an octet >= 0x80: U-labels are not allowed on the wire, only A-labels
  kBadCharacter,  // space, control character, or a malformed "\" escape
  kEmptyLabel,    // "a..b" or a leading dot
  kLabelTooLong,  // > 63 octets (RFC 1035 §2.3.4)
  kNameTooLong,   // > 253 text octets
};
std::string_view wireNameStatusName(WireNameStatus s);

// Lower-cases `name` into `out` (canonical presentation form), dropping one trailing root dot.
// Escapes already in `name` ("\.", "\\", "\DDD") are kept and counted as one octet each; a
// "\DDD" of a printable character other than '.' and '\' is replaced by that character (so
// the result equals what parseDnsQuery() produces for the same wire name). `out` is left
// empty when the status is not kOk.
WireNameStatus normalizeWireName(std::string_view name, NameBuffer& out) noexcept;

// The most labels a name of 253 text octets can have.
inline constexpr size_t kMaxLabels = 127;

// Offsets of the first character of each label of a canonical name, left to right
// ("www.example.com" -> {0, 4, 12}). An escaped dot does not start a label. Returns the
// number of labels written, 0 for an empty name or one with more than kMaxLabels labels.
size_t labelStarts(std::string_view canonical_name,
                   std::array<uint16_t, kMaxLabels>& starts) noexcept;

// Iterates a canonical name and its parent suffixes, most specific first:
//   for (SuffixWalk w(name); !w.done(); w.next()) use(w.suffix());
// yields "a.b.com", "b.com", "com". No allocation; escape-aware.
class SuffixWalk {
 public:
  explicit SuffixWalk(std::string_view canonical_name) noexcept : name_(canonical_name) {}
  bool done() const noexcept { return pos_ >= name_.size(); }
  std::string_view suffix() const noexcept { return name_.substr(pos_); }
  // Index of the current label, 0 for the whole name.
  size_t depth() const noexcept { return depth_; }
  void next() noexcept;

 private:
  std::string_view name_;
  size_t pos_ = 0;
  size_t depth_ = 0;
};

// True when `name` equals `suffix` or ends with "." + `suffix` where that dot separates labels.
// Escape-aware: "a\.example.com" has the labels "a\.example" and "com", so it is under "com"
// but not under "example.com". Both names must be canonical.
bool isSameOrSubdomain(std::string_view name, std::string_view suffix) noexcept;

}  // namespace safegate
