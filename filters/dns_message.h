// DNS wire format: parse queries and responses, build the answers safegate gives itself.
//
// Data plane: every function is noexcept and allocation-free. Parsers take the message as a
// span and return views into it or into a caller-provided NameBuffer; malformed input is a
// DnsParseStatus, never an exception. Compression pointers (RFC 1035 §4.1.4) are followed
// backwards or forwards, at most kMaxCompressionJumps times (which ends every loop).
// Builders write into a caller buffer and return the length used, or 0 if it does not fit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "common/ip_address.h"

namespace safegate {

inline constexpr size_t kMaxDnsNameLength = 253;  // presentation form, no trailing dot
inline constexpr size_t kMaxDnsLabelLength = 63;
inline constexpr size_t kMaxCompressionJumps = 32;
inline constexpr size_t kDnsHeaderSize = 12;

namespace dns_type {
inline constexpr uint16_t kA = 1, kNs = 2, kCname = 5, kSoa = 6, kPtr = 12, kMx = 15, kTxt = 16,
                          kAaaa = 28, kSrv = 33, kOpt = 41, kSvcb = 64, kHttps = 65, kAny = 255,
                          kHinfo = 13;
}
namespace dns_rcode {
inline constexpr uint8_t kNoError = 0, kFormErr = 1, kServFail = 2, kNxDomain = 3, kNotImp = 4,
                         kRefused = 5;
}

// A name decoded to presentation form: lower-case ASCII, labels joined by '.', no trailing
// dot, the root as "". A '.' or '\' inside a label is escaped as "\." / "\\" and other
// non-printable octets as "\DDD", so "a\.b" (one label) never equals "a.b" (two labels).
struct NameBuffer {
  char data[kMaxDnsNameLength * 4 + 4];  // worst case every octet escaped as \DDD
  size_t length = 0;
  std::string_view view() const { return {data, length}; }
};

enum class DnsParseStatus : uint8_t {
  kOk,
  kTruncated,         // ran out of bytes
  kNotAQuery,         // QR bit set where a query was expected (or the reverse)
  kBadQuestionCount,  // QDCOUNT != 1
  kBadName,           // label too long, name too long, reserved label type
  kCompressionLoop,   // pointer into the header, or too many jumps (a loop)
  kBadOpcode,
  kBadEdns,  // more than one OPT, or OPT not owned by the root (RFC 6891 §6.1.1)
};
std::string_view dnsParseStatusName(DnsParseStatus s);

struct DnsHeader {
  uint16_t id = 0;
  uint16_t flags = 0;  // QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode
  uint16_t qdcount = 0, ancount = 0, nscount = 0, arcount = 0;
  bool isResponse() const { return flags & 0x8000; }
  uint8_t opcode() const { return (flags >> 11) & 0x0f; }
  bool truncated() const { return flags & 0x0200; }
  bool recursionDesired() const { return flags & 0x0100; }
  bool checkingDisabled() const { return flags & 0x0010; }
  uint8_t rcode() const { return flags & 0x000f; }
};

struct DnsQuestion {
  std::string_view name;  // view into the NameBuffer given to the parser
  uint16_t qtype = 0;
  uint16_t qclass = 0;
};

struct DnsQuery {
  DnsHeader header;
  DnsQuestion question;
  size_t question_end = 0;  // offset just past the question section
  bool has_edns = false;
  uint16_t edns_udp_size = 512;  // advertised payload size; 512 when no OPT
  bool edns_do = false;          // DNSSEC OK bit
  uint8_t edns_version = 0;      // RFC 6891 §6.1.3; a responder answers BADVERS to > 0
};

// Parses a query (QR=0, standard opcode, one question; OPT in the additional section noted).
DnsParseStatus parseDnsQuery(std::span<const uint8_t> msg, DnsQuery& out,
                             NameBuffer& name) noexcept;

// Reads a (possibly compressed) name at `offset` in `msg` into `out` and sets `next` to the
// offset just after the name in the original position.
DnsParseStatus readDnsName(std::span<const uint8_t> msg, size_t offset, NameBuffer& out,
                           size_t& next) noexcept;

// One resource record of a response, as iterated by DnsResponseView.
struct DnsRecord {
  enum class Section : uint8_t { kAnswer, kAuthority, kAdditional };
  Section section = Section::kAnswer;
  std::string_view name;  // view into the NameBuffer passed to next()
  uint16_t type = 0;
  uint16_t rclass = 0;
  uint32_t ttl = 0;
  size_t ttl_offset = 0;  // where the TTL sits in the message (for cache TTL rewriting)
  size_t rdata_offset = 0;
  std::span<const uint8_t> rdata;
};

// Walks a response: header, question, then every record in order.
class DnsResponseView {
 public:
  // Parses header and question; check status() before iterating.
  DnsResponseView(std::span<const uint8_t> msg, NameBuffer& question_name) noexcept;
  DnsParseStatus status() const { return status_; }
  const DnsHeader& header() const { return header_; }
  const DnsQuestion& question() const { return question_; }
  // Next record, or nullopt at the end or on error (then status() says which).
  std::optional<DnsRecord> next(NameBuffer& record_name) noexcept;
  // For a CNAME record: decodes its target name.
  DnsParseStatus cnameTarget(const DnsRecord& r, NameBuffer& out) const noexcept;

 private:
  std::span<const uint8_t> msg_;
  DnsHeader header_;
  DnsQuestion question_;
  DnsParseStatus status_ = DnsParseStatus::kOk;
  size_t offset_ = 0;
  uint32_t remaining_[3] = {0, 0, 0};
};

// What safegate answers itself. The response copies ID, RD, CD and the question from the
// query; adds an OPT record when the query had one (and then the EDE option, RFC 8914, with
// INFO-CODE 15 "Blocked" and extra_text if ede_blocked is set).
struct BlockResponseOptions {
  uint32_t ttl_seconds = 10;
  bool ede_blocked = true;
  std::string_view ede_text;  // short reason, e.g. "blocked by safegate: gambling"
};

size_t buildNxdomain(std::span<const uint8_t> query, const DnsQuery& q,
                     const BlockResponseOptions& opts, std::span<uint8_t> out) noexcept;
size_t buildNodata(std::span<const uint8_t> query, const DnsQuery& q,
                   const BlockResponseOptions& opts, std::span<uint8_t> out) noexcept;
size_t buildRefused(std::span<const uint8_t> query, const DnsQuery& q,
                    const BlockResponseOptions& opts, std::span<uint8_t> out) noexcept;
size_t buildServfail(std::span<const uint8_t> query, const DnsQuery& q,
                     std::span<uint8_t> out) noexcept;
// Answers A with `v4` / AAAA with `v6` (0.0.0.0 / :: for the null address, or the block-page
// address); other qtypes get NODATA.
size_t buildAddressAnswer(std::span<const uint8_t> query, const DnsQuery& q, const IpAddress& v4,
                          const IpAddress& v6, const BlockResponseOptions& opts,
                          std::span<uint8_t> out) noexcept;
// The minimal answer to a qtype ANY query (RFC 8482 §4.2): one synthesised HINFO record for
// the question name with CPU "RFC8482" and an empty OS, instead of every record the name has,
// so ANY cannot be used to draw large answers (amplification). ttl_seconds is its TTL.
size_t buildMinimalAnyAnswer(std::span<const uint8_t> query, const DnsQuery& q,
                             uint32_t ttl_seconds, std::span<uint8_t> out) noexcept;
// A CNAME from the question name to `target` (presentation form), followed by the given
// records of the target (raw RRs copied from the upstream answer for the target), for
// safe-search rewrites.
size_t buildCnameAnswer(std::span<const uint8_t> query, const DnsQuery& q, std::string_view target,
                        uint32_t ttl_seconds, std::span<const uint8_t> target_rrs,
                        uint16_t target_rr_count, std::span<uint8_t> out) noexcept;
// A query for (name, qtype) with the given ID, RD set, and an OPT record advertising
// udp_size (0 = no OPT). Used by the forwarder and tests.
size_t buildDnsQuery(uint16_t id, std::string_view name, uint16_t qtype, uint16_t udp_size,
                     bool dnssec_ok, std::span<uint8_t> out) noexcept;

// ECH stripping. HTTPS/SVCB records (RFC 9460) publish a server's Encrypted Client Hello
// configuration in the "ech" SvcParam (key 5); a browser that finds one encrypts the real
// server name, and the inline path then only sees the outer (public) name. A group that wants
// the real SNI strips the parameter from upstream answers, so the browser connects without
// ECH. stripEchFromResponse() copies `msg` to `out` without any ech SvcParam (and without key
// 5 in a "mandatory" list, RFC 9460 §8, which would otherwise make the record invalid), and
// with every name written uncompressed so no compression pointer can dangle after the
// removal. When the message has no ech parameter nothing is written: removed == 0 and the
// caller forwards `msg` unchanged. DNSSEC signatures over a stripped RRset no longer verify;
// validating clients then treat it as bogus, which also prevents ECH.
struct EchStripResult {
  DnsParseStatus status = DnsParseStatus::kOk;  // of parsing `msg`
  size_t length = 0;     // octets written to out (0: nothing to strip, malformed, or no room)
  uint32_t removed = 0;  // ech SvcParams removed
  bool no_room = false;  // stripping was needed but `out` is too small
};
EchStripResult stripEchFromResponse(std::span<const uint8_t> msg, std::span<uint8_t> out) noexcept;
inline constexpr uint16_t kSvcParamMandatory = 0, kSvcParamEch = 5;

}  // namespace safegate
