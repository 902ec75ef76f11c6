#include "filters/dns_message.h"

#include <algorithm>
#include <cstring>

#include "common/byte_reader.h"

namespace safegate {
namespace {

// Flag bits of the DNS header (RFC 1035 §4.1.1, RFC 4035 §3.2 for AD/CD).
constexpr uint16_t kFlagQr = 0x8000;
constexpr uint16_t kFlagOpcodeMask = 0x7800;
constexpr uint16_t kFlagRd = 0x0100;
constexpr uint16_t kFlagRa = 0x0080;
constexpr uint16_t kFlagCd = 0x0010;

// The UDP payload size safegate advertises in its own OPT records: the DNS Flag Day 2020
// value, which avoids IP fragmentation on every common path.
constexpr uint16_t kOwnUdpPayloadSize = 1232;
// RFC 8914 §4: the option code of Extended DNS Errors, and INFO-CODE 15 "Blocked".
constexpr uint16_t kEdnsOptionEde = 15;
constexpr uint16_t kEdeBlocked = 15;
// EXTRA-TEXT is capped so that a maximal question + SOA + OPT still fits in 512 octets: the
// largest question is 4 + 255 octets, our SOA is under 80, OPT+EDE header 17.
constexpr size_t kMaxEdeTextLength = 128;
// Wire names are at most 255 octets including length octets and the root (RFC 1035 §3.1).
constexpr size_t kMaxWireNameLength = 255;

// Walks the labels of the (possibly compressed) name at `offset`, calling on_label(label) for
// each non-root label; `next` is set to the offset just past the name where it started.
// Compression pointers (RFC 1035 §4.1.4) may point anywhere after the 12-octet header (no name
// lives there), forwards too: the RFC says "a prior occurrence", but nothing forbids others and
// some encoders write them (Unbound and Knot follow them as well). Loops, including a pointer to
// itself, are ended by the limit of kMaxCompressionJumps jumps; with the 255-octet limit on
// the labels read that bounds the walk to a few hundred steps. The 0x40 and 0x80 label types
// are rejected (extended labels were deprecated by RFC 6891 §5; 0x80 is reserved).
template <typename OnLabel>
DnsParseStatus walkName(std::span<const uint8_t> msg, size_t offset, size_t& next,
                        OnLabel&& on_label) noexcept {
  size_t pos = offset;
  size_t jumps = 0;
  size_t wire_length = 0;
  bool jumped = false;
  for (;;) {
    if (pos >= msg.size()) return DnsParseStatus::kTruncated;
    const uint8_t len = msg[pos];
    switch (len & 0xC0) {
      case 0x00: {
        if (len == 0) {
          if (!jumped) next = pos + 1;
          return DnsParseStatus::kOk;
        }
        if (msg.size() - pos - 1 < len) return DnsParseStatus::kTruncated;
        wire_length += 1 + size_t{len};
        if (wire_length + 1 > kMaxWireNameLength) return DnsParseStatus::kBadName;
        if (!on_label(msg.subspan(pos + 1, len))) return DnsParseStatus::kBadName;
        pos += 1 + size_t{len};
        break;
      }
      case 0xC0: {
        if (msg.size() - pos < 2) return DnsParseStatus::kTruncated;
        const size_t target = (size_t{len & 0x3Fu} << 8) | msg[pos + 1];
        if (!jumped) next = pos + 2;
        jumped = true;
        if (++jumps > kMaxCompressionJumps) return DnsParseStatus::kCompressionLoop;
        if (target < kDnsHeaderSize) return DnsParseStatus::kCompressionLoop;
        pos = target;
        break;
      }
      default: return DnsParseStatus::kBadName;
    }
  }
}

DnsParseStatus skipName(std::span<const uint8_t> msg, size_t offset, size_t& next) noexcept {
  return walkName(msg, offset, next, [](std::span<const uint8_t>) { return true; });
}

// Bounded writer into a caller buffer: once a write does not fit, every later write is
// ignored and ok() stays false, so builders check once at the end.
class Writer {
 public:
  explicit Writer(std::span<uint8_t> out) noexcept : out_(out) {}
  bool ok() const noexcept { return ok_; }
  size_t size() const noexcept { return pos_; }
  void u8(uint8_t v) noexcept {
    if (!reserve(1)) return;
    out_[pos_++] = v;
  }
  void u16(uint16_t v) noexcept {
    if (!reserve(2)) return;
    out_[pos_++] = static_cast<uint8_t>(v >> 8);
    out_[pos_++] = static_cast<uint8_t>(v);
  }
  void u32(uint32_t v) noexcept {
    u16(static_cast<uint16_t>(v >> 16));
    u16(static_cast<uint16_t>(v));
  }
  void bytes(std::span<const uint8_t> b) noexcept {
    if (!reserve(b.size())) return;
    if (!b.empty()) std::memcpy(out_.data() + pos_, b.data(), b.size());
    pos_ += b.size();
  }
  // Patches a 16-bit value at an earlier position (RDLENGTH, counts).
  void patch16(size_t at, uint16_t v) noexcept {
    if (!ok_ || at + 2 > pos_) return;
    out_[at] = static_cast<uint8_t>(v >> 8);
    out_[at + 1] = static_cast<uint8_t>(v);
  }

 private:
  bool reserve(size_t n) noexcept {
    if (!ok_ || out_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }
  std::span<uint8_t> out_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// Encodes a presentation-form name ("a.example", "a\.b.example", "\065bc", "" = root, one
// trailing dot tolerated) as uncompressed wire labels. False if it is not a valid name.
bool writeName(Writer& w, std::string_view name) noexcept {
  if (!name.empty() && name.back() == '.') {
    // The final dot is the root unless it is escaped by an odd run of backslashes ("a\.").
    size_t backslashes = 0;
    while (backslashes + 1 < name.size() && name[name.size() - 2 - backslashes] == '\\') {
      ++backslashes;
    }
    if (backslashes % 2 == 0) name.remove_suffix(1);
  }
  uint8_t label[kMaxDnsLabelLength];
  size_t label_len = 0;
  size_t wire_length = 1;  // the root octet
  auto flush = [&]() noexcept {
    if (label_len == 0) return false;  // empty label ("a..b", leading dot)
    wire_length += 1 + label_len;
    if (wire_length > kMaxWireNameLength) return false;
    w.u8(static_cast<uint8_t>(label_len));
    w.bytes({label, label_len});
    label_len = 0;
    return true;
  };
  for (size_t i = 0; i < name.size(); ++i) {
    uint8_t c = static_cast<uint8_t>(name[i]);
    if (c == '.') {
      if (!flush()) return false;
      continue;
    }
    if (c == '\\') {
      if (i + 1 >= name.size()) return false;
      const char e = name[i + 1];
      if (e >= '0' && e <= '9') {
        if (i + 3 >= name.size()) return false;  // "\DDD" needs three digits
        unsigned v = 0;
        for (size_t k = 1; k <= 3; ++k) {
          const char d = name[i + k];
          if (d < '0' || d > '9') return false;
          v = v * 10 + static_cast<unsigned>(d - '0');
        }
        if (v > 255) return false;
        c = static_cast<uint8_t>(v);
        i += 3;
      } else {
        c = static_cast<uint8_t>(e);
        i += 1;
      }
    }
    if (label_len == kMaxDnsLabelLength) return false;
    label[label_len++] = c;
  }
  if (!name.empty() && !flush()) return false;
  w.u8(0);
  return w.ok();
}

uint16_t responseFlags(const DnsHeader& query, uint8_t rcode) noexcept {
  // RFC 1035 §4.1.1: copy the opcode and RD; RFC 4035 §3.2.2: copy CD. We are a recursive
  // service, so RA is set; AA stays clear because safegate is not the zone's authority.
  return static_cast<uint16_t>(kFlagQr | (query.flags & kFlagOpcodeMask) | (query.flags & kFlagRd) |
                               kFlagRa | (query.flags & kFlagCd) | (rcode & 0x0f));
}

// Header + the question copied octet for octet (keeps the client's 0x20 case randomisation).
// False if `q` does not describe `query`.
bool writeHeaderAndQuestion(Writer& w, std::span<const uint8_t> query, const DnsQuery& q,
                            uint8_t rcode, uint16_t ancount, uint16_t nscount,
                            uint16_t arcount) noexcept {
  if (q.question_end < kDnsHeaderSize + 5 || q.question_end > query.size()) return false;
  w.u16(q.header.id);
  w.u16(responseFlags(q.header, rcode));
  w.u16(1);
  w.u16(ancount);
  w.u16(nscount);
  w.u16(arcount);
  w.bytes(query.subspan(kDnsHeaderSize, q.question_end - kDnsHeaderSize));
  return w.ok();
}

// A pointer to the question name, which always starts right after the header.
constexpr uint16_t kPointerToQuestion = 0xC000 | kDnsHeaderSize;

// The synthetic SOA of negative answers. RFC 2308 §5: a negative answer without an SOA in
// the authority section SHOULD NOT be cached, so clients and downstream caches would ask
// again for every lookup of a blocked name; with it, they cache the block for
// min(SOA TTL, MINIMUM) = ttl_seconds, which is kept short so an unblock takes effect soon.
// The owner is the question name itself, which is in bailiwick for any zone a downstream
// forwarder could have delegated to us; MNAME/RNAME live under .invalid (RFC 6761 §6.4) so
// they can never resolve.
void writeSyntheticSoa(Writer& w, const DnsQuery& q, uint32_t ttl_seconds) noexcept {
  static constexpr uint8_t kMname[] = {8, 's', 'a', 'f', 'e', 'g', 'a', 't', 'e',
                                       7, 'i', 'n', 'v', 'a', 'l', 'i', 'd', 0};
  static constexpr uint8_t kRname[] = {10, 'h', 'o', 's', 't', 'm', 'a', 's', 't', 'e', 'r'};
  w.u16(kPointerToQuestion);
  w.u16(dns_type::kSoa);
  w.u16(q.question.qclass);
  w.u32(ttl_seconds);
  const size_t rdlength_at = w.size();
  w.u16(0);
  w.bytes(kMname);
  w.bytes(kRname);
  w.u16(0xC000 | static_cast<uint16_t>(rdlength_at + 2));  // "hostmaster" + MNAME
  w.u32(1);                                                // SERIAL
  w.u32(1800);                                             // REFRESH
  w.u32(900);                                              // RETRY
  w.u32(604800);                                           // EXPIRE
  w.u32(ttl_seconds);  // MINIMUM: the negative-caching TTL (RFC 2308 §4)
  w.patch16(rdlength_at, static_cast<uint16_t>(w.size() - rdlength_at - 2));
}

// The OPT pseudo-record (RFC 6891 §6.1.2), with EDE 15 "Blocked" (RFC 8914 §4.16) when asked.
void writeOpt(Writer& w, const DnsQuery& q, bool ede_blocked, std::string_view ede_text) noexcept {
  w.u8(0);  // root owner
  w.u16(dns_type::kOpt);
  w.u16(kOwnUdpPayloadSize);
  // TTL field: extended RCODE 0, VERSION 0, DO copied from the query (RFC 3225 §3).
  w.u32(q.edns_do ? 0x00008000u : 0u);
  if (!ede_blocked) {
    w.u16(0);
    return;
  }
  size_t text_len = std::min(ede_text.size(), kMaxEdeTextLength);
  // EXTRA-TEXT is UTF-8 (RFC 8914 §2): never cut a multi-octet sequence in half.
  while (text_len > 0 && text_len < ede_text.size() &&
         (static_cast<uint8_t>(ede_text[text_len]) & 0xC0) == 0x80) {
    --text_len;
  }
  w.u16(static_cast<uint16_t>(4 + 2 + text_len));  // RDLENGTH
  w.u16(kEdnsOptionEde);
  w.u16(static_cast<uint16_t>(2 + text_len));
  w.u16(kEdeBlocked);
  w.bytes({reinterpret_cast<const uint8_t*>(ede_text.data()), text_len});
}

size_t buildNegative(std::span<const uint8_t> query, const DnsQuery& q, uint8_t rcode,
                     const BlockResponseOptions& opts, std::span<uint8_t> out) noexcept {
  Writer w(out);
  if (!writeHeaderAndQuestion(w, query, q, rcode, 0, 1, q.has_edns ? 1 : 0)) return 0;
  writeSyntheticSoa(w, q, opts.ttl_seconds);
  if (q.has_edns) writeOpt(w, q, opts.ede_blocked, opts.ede_text);
  return w.ok() ? w.size() : 0;
}

size_t buildBare(std::span<const uint8_t> query, const DnsQuery& q, uint8_t rcode, bool ede_blocked,
                 std::string_view ede_text, std::span<uint8_t> out) noexcept {
  Writer w(out);
  if (!writeHeaderAndQuestion(w, query, q, rcode, 0, 0, q.has_edns ? 1 : 0)) return 0;
  if (q.has_edns) writeOpt(w, q, ede_blocked, ede_text);
  return w.ok() ? w.size() : 0;
}

// Reads the fixed part of a resource record after its owner name.
struct RecordFixed {
  uint16_t type, rclass;
  uint32_t ttl;
  size_t ttl_offset, rdata_offset;
  uint16_t rdlength;
};

DnsParseStatus readRecordFixed(std::span<const uint8_t> msg, size_t offset,
                               RecordFixed& f) noexcept {
  ByteReader r(msg);
  if (!r.seek(offset)) return DnsParseStatus::kTruncated;
  auto type = r.u16();
  auto rclass = r.u16();
  f.ttl_offset = r.position();
  auto ttl = r.u32();
  auto rdlength = r.u16();
  if (!type || !rclass || !ttl || !rdlength) return DnsParseStatus::kTruncated;
  f.type = *type;
  f.rclass = *rclass;
  f.ttl = *ttl;
  f.rdlength = *rdlength;
  f.rdata_offset = r.position();
  if (r.remaining() < f.rdlength) return DnsParseStatus::kTruncated;
  return DnsParseStatus::kOk;
}

DnsParseStatus parseHeader(std::span<const uint8_t> msg, DnsHeader& h) noexcept {
  ByteReader r(msg);
  auto id = r.u16(), flags = r.u16(), qd = r.u16(), an = r.u16(), ns = r.u16(), ar = r.u16();
  if (!ar) return DnsParseStatus::kTruncated;
  h.id = *id;
  h.flags = *flags;
  h.qdcount = *qd;
  h.ancount = *an;
  h.nscount = *ns;
  h.arcount = *ar;
  return DnsParseStatus::kOk;
}

}  // namespace

std::string_view dnsParseStatusName(DnsParseStatus s) {
  switch (s) {
    case DnsParseStatus::kOk: return "ok";
    case DnsParseStatus::kTruncated: return "truncated";
    case DnsParseStatus::kNotAQuery: return "not-a-query";
    case DnsParseStatus::kBadQuestionCount: return "bad-question-count";
    case DnsParseStatus::kBadName: return "bad-name";
    case DnsParseStatus::kCompressionLoop: return "compression-loop";
    case DnsParseStatus::kBadOpcode: return "bad-opcode";
    case DnsParseStatus::kBadEdns: return "bad-edns";
  }
  return "unknown";
}

DnsParseStatus readDnsName(std::span<const uint8_t> msg, size_t offset, NameBuffer& out,
                           size_t& next) noexcept {
  out.length = 0;
  constexpr size_t kCapacity = sizeof(out.data);
  auto append = [&out](char c) noexcept {
    if (out.length >= kCapacity) return false;
    out.data[out.length++] = c;
    return true;
  };
  auto on_label = [&](std::span<const uint8_t> label) noexcept {
    if (out.length != 0 && !append('.')) return false;
    for (uint8_t c : label) {
      if (c >= 'A' && c <= 'Z') {
        if (!append(static_cast<char>(c + ('a' - 'A')))) return false;
      } else if (c == '.' || c == '\\') {
        if (!append('\\') || !append(static_cast<char>(c))) return false;
      } else if (c > 0x20 && c < 0x7f) {
        if (!append(static_cast<char>(c))) return false;
      } else {
        if (!append('\\') || !append(static_cast<char>('0' + c / 100)) ||
            !append(static_cast<char>('0' + (c / 10) % 10)) ||
            !append(static_cast<char>('0' + c % 10))) {
          return false;
        }
      }
    }
    return true;
  };
  const DnsParseStatus s = walkName(msg, offset, next, on_label);
  if (s != DnsParseStatus::kOk) out.length = 0;
  return s;
}

DnsParseStatus parseDnsQuery(std::span<const uint8_t> msg, DnsQuery& out,
                             NameBuffer& name) noexcept {
  out = DnsQuery{};
  if (DnsParseStatus s = parseHeader(msg, out.header); s != DnsParseStatus::kOk) return s;
  if (out.header.isResponse()) return DnsParseStatus::kNotAQuery;
  // Only QUERY (0) is filtered and answered; NOTIFY/UPDATE/IQUERY are not client lookups.
  if (out.header.opcode() != 0) return DnsParseStatus::kBadOpcode;
  // RFC 9619: QDCOUNT is 1 in practice; more than one makes "the" name ambiguous.
  if (out.header.qdcount != 1) return DnsParseStatus::kBadQuestionCount;

  size_t pos = kDnsHeaderSize;
  if (DnsParseStatus s = readDnsName(msg, pos, name, pos); s != DnsParseStatus::kOk) return s;
  ByteReader r(msg);
  r.seek(pos);
  auto qtype = r.u16();
  auto qclass = r.u16();
  if (!qtype || !qclass) return DnsParseStatus::kTruncated;
  out.question = {name.view(), *qtype, *qclass};
  out.question_end = r.position();

  // Walk the remaining sections to find OPT (RFC 6891 §6.1.1: at most one, owner root).
  pos = out.question_end;
  const uint32_t records = uint32_t{out.header.ancount} + out.header.nscount + out.header.arcount;
  const uint32_t first_additional = uint32_t{out.header.ancount} + out.header.nscount;
  for (uint32_t i = 0; i < records; ++i) {
    const size_t owner = pos;
    if (DnsParseStatus s = skipName(msg, pos, pos); s != DnsParseStatus::kOk) return s;
    RecordFixed f;
    if (DnsParseStatus s = readRecordFixed(msg, pos, f); s != DnsParseStatus::kOk) return s;
    pos = f.rdata_offset + f.rdlength;
    if (f.type != dns_type::kOpt) continue;
    if (i < first_additional || out.has_edns || msg[owner] != 0) return DnsParseStatus::kBadEdns;
    out.has_edns = true;
    // RFC 6891 §6.2.5: values below 512 are treated as 512.
    out.edns_udp_size = std::max<uint16_t>(f.rclass, 512);
    out.edns_version = static_cast<uint8_t>(f.ttl >> 16);
    out.edns_do = (f.ttl & 0x8000) != 0;
  }
  return DnsParseStatus::kOk;
}

DnsResponseView::DnsResponseView(std::span<const uint8_t> msg, NameBuffer& question_name) noexcept
    : msg_(msg) {
  status_ = parseHeader(msg, header_);
  if (status_ != DnsParseStatus::kOk) return;
  if (!header_.isResponse()) {
    status_ = DnsParseStatus::kNotAQuery;
    return;
  }
  if (header_.qdcount != 1) {
    status_ = DnsParseStatus::kBadQuestionCount;
    return;
  }
  size_t pos = kDnsHeaderSize;
  status_ = readDnsName(msg, pos, question_name, pos);
  if (status_ != DnsParseStatus::kOk) return;
  ByteReader r(msg);
  r.seek(pos);
  auto qtype = r.u16();
  auto qclass = r.u16();
  if (!qtype || !qclass) {
    status_ = DnsParseStatus::kTruncated;
    return;
  }
  question_ = {question_name.view(), *qtype, *qclass};
  offset_ = r.position();
  remaining_[0] = header_.ancount;
  remaining_[1] = header_.nscount;
  remaining_[2] = header_.arcount;
}

std::optional<DnsRecord> DnsResponseView::next(NameBuffer& record_name) noexcept {
  if (status_ != DnsParseStatus::kOk) return std::nullopt;
  size_t section = 0;
  while (section < 3 && remaining_[section] == 0) ++section;
  if (section == 3) return std::nullopt;
  size_t pos = offset_;
  DnsParseStatus s = readDnsName(msg_, pos, record_name, pos);
  RecordFixed f;
  if (s == DnsParseStatus::kOk) s = readRecordFixed(msg_, pos, f);
  if (s != DnsParseStatus::kOk) {
    status_ = s;
    return std::nullopt;
  }
  --remaining_[section];
  offset_ = f.rdata_offset + f.rdlength;
  DnsRecord rec;
  rec.section = static_cast<DnsRecord::Section>(section);
  rec.name = record_name.view();
  rec.type = f.type;
  rec.rclass = f.rclass;
  rec.ttl = f.ttl;
  rec.ttl_offset = f.ttl_offset;
  rec.rdata_offset = f.rdata_offset;
  rec.rdata = msg_.subspan(f.rdata_offset, f.rdlength);
  return rec;
}

DnsParseStatus DnsResponseView::cnameTarget(const DnsRecord& r, NameBuffer& out) const noexcept {
  out.length = 0;
  if (r.rdata_offset + r.rdata.size() > msg_.size()) return DnsParseStatus::kTruncated;
  size_t next = 0;
  // The target must lie inside RDATA (compression may point elsewhere, but the octets that
  // start the name are RDATA's own).
  const auto bounded = msg_.first(r.rdata_offset + r.rdata.size());
  return readDnsName(bounded, r.rdata_offset, out, next);
}

size_t buildNxdomain(std::span<const uint8_t> query, const DnsQuery& q,
                     const BlockResponseOptions& opts, std::span<uint8_t> out) noexcept {
  return buildNegative(query, q, dns_rcode::kNxDomain, opts, out);
}

size_t buildNodata(std::span<const uint8_t> query, const DnsQuery& q,
                   const BlockResponseOptions& opts, std::span<uint8_t> out) noexcept {
  return buildNegative(query, q, dns_rcode::kNoError, opts, out);
}

size_t buildRefused(std::span<const uint8_t> query, const DnsQuery& q,
                    const BlockResponseOptions& opts, std::span<uint8_t> out) noexcept {
  return buildBare(query, q, dns_rcode::kRefused, opts.ede_blocked, opts.ede_text, out);
}

size_t buildServfail(std::span<const uint8_t> query, const DnsQuery& q,
                     std::span<uint8_t> out) noexcept {
  return buildBare(query, q, dns_rcode::kServFail, false, {}, out);
}

size_t buildAddressAnswer(std::span<const uint8_t> query, const DnsQuery& q, const IpAddress& v4,
                          const IpAddress& v6, const BlockResponseOptions& opts,
                          std::span<uint8_t> out) noexcept {
  const IpAddress* addr = nullptr;
  if (q.question.qtype == dns_type::kA && v4.isV4()) addr = &v4;
  if (q.question.qtype == dns_type::kAaaa && v6.isV6()) addr = &v6;
  if (addr == nullptr) return buildNodata(query, q, opts, out);
  Writer w(out);
  if (!writeHeaderAndQuestion(w, query, q, dns_rcode::kNoError, 1, 0, q.has_edns ? 1 : 0)) {
    return 0;
  }
  const auto bytes = addr->bytes();
  w.u16(kPointerToQuestion);
  w.u16(q.question.qtype);
  w.u16(q.question.qclass);
  w.u32(opts.ttl_seconds);
  w.u16(static_cast<uint16_t>(bytes.size()));
  w.bytes(bytes);
  if (q.has_edns) writeOpt(w, q, opts.ede_blocked, opts.ede_text);
  return w.ok() ? w.size() : 0;
}

size_t buildMinimalAnyAnswer(std::span<const uint8_t> query, const DnsQuery& q,
                             uint32_t ttl_seconds, std::span<uint8_t> out) noexcept {
  static constexpr uint8_t kHinfoRdata[] = {7, 'R', 'F', 'C', '8', '4', '8', '2', 0};
  Writer w(out);
  if (!writeHeaderAndQuestion(w, query, q, dns_rcode::kNoError, 1, 0, q.has_edns ? 1 : 0)) {
    return 0;
  }
  w.u16(kPointerToQuestion);
  w.u16(dns_type::kHinfo);
  w.u16(q.question.qclass);
  w.u32(ttl_seconds);
  w.u16(sizeof(kHinfoRdata));
  w.bytes(kHinfoRdata);
  if (q.has_edns) writeOpt(w, q, false, {});
  return w.ok() ? w.size() : 0;
}

namespace {
// True if `rrs` is exactly `count` complete records whose owner names carry no compression
// pointers (they were cut out of another message, so pointers would point at our bytes).
bool selfContainedRecords(std::span<const uint8_t> rrs, uint16_t count) noexcept {
  size_t pos = 0;
  for (uint16_t i = 0; i < count; ++i) {
    for (;;) {
      if (pos >= rrs.size()) return false;
      const uint8_t len = rrs[pos];
      if (len == 0) {
        ++pos;
        break;
      }
      if ((len & 0xC0) != 0) return false;
      pos += 1 + size_t{len};
    }
    RecordFixed f;
    if (readRecordFixed(rrs, pos, f) != DnsParseStatus::kOk) return false;
    pos = f.rdata_offset + f.rdlength;
  }
  return pos == rrs.size();
}
}  // namespace

size_t buildCnameAnswer(std::span<const uint8_t> query, const DnsQuery& q, std::string_view target,
                        uint32_t ttl_seconds, std::span<const uint8_t> target_rrs,
                        uint16_t target_rr_count, std::span<uint8_t> out) noexcept {
  if (target_rr_count == 0xFFFF || !selfContainedRecords(target_rrs, target_rr_count)) return 0;
  Writer w(out);
  if (!writeHeaderAndQuestion(w, query, q, dns_rcode::kNoError,
                              static_cast<uint16_t>(1 + target_rr_count), 0, q.has_edns ? 1 : 0)) {
    return 0;
  }
  w.u16(kPointerToQuestion);
  w.u16(dns_type::kCname);
  w.u16(q.question.qclass);
  w.u32(ttl_seconds);
  const size_t rdlength_at = w.size();
  w.u16(0);
  if (!writeName(w, target)) return 0;
  w.patch16(rdlength_at, static_cast<uint16_t>(w.size() - rdlength_at - 2));
  w.bytes(target_rrs);
  if (q.has_edns) writeOpt(w, q, false, {});
  return w.ok() ? w.size() : 0;
}

size_t buildDnsQuery(uint16_t id, std::string_view name, uint16_t qtype, uint16_t udp_size,
                     bool dnssec_ok, std::span<uint8_t> out) noexcept {
  Writer w(out);
  w.u16(id);
  w.u16(kFlagRd);
  w.u16(1);
  w.u16(0);
  w.u16(0);
  w.u16(udp_size != 0 ? 1 : 0);
  if (!writeName(w, name)) return 0;
  w.u16(qtype);
  w.u16(1);  // IN
  if (udp_size != 0) {
    w.u8(0);
    w.u16(dns_type::kOpt);
    w.u16(udp_size);
    w.u32(dnssec_ok ? 0x00008000u : 0u);
    w.u16(0);
  }
  return w.ok() ? w.size() : 0;
}

namespace {

// The SvcParams of an HTTPS/SVCB RDATA (RFC 9460 §2.2), positioned after SvcPriority and
// TargetName; nullopt if the fixed part is malformed or the record is in AliasMode (priority
// 0), whose SvcParams clients ignore (§2.4.2).
std::optional<ByteReader> svcParams(std::span<const uint8_t> rdata) noexcept {
  ByteReader r(rdata);
  auto priority = r.u16();
  if (!priority) return std::nullopt;
  for (;;) {  // TargetName: uncompressed (RFC 9460 §2.2)
    auto len = r.u8();
    if (!len || (*len & 0xC0) != 0) return std::nullopt;
    if (*len == 0) break;
    if (!r.skip(*len)) return std::nullopt;
  }
  if (*priority == 0) return std::nullopt;
  return r;
}

// True if the SvcParams are well-formed to the end and include ech; a malformed record is
// left alone (clients ignore it anyway, RFC 9460 §2.2).
bool svcbHasEch(std::span<const uint8_t> rdata) noexcept {
  auto r = svcParams(rdata);
  if (!r) return false;
  bool found = false;
  while (!r->empty()) {
    auto key = r->u16();
    auto len = r->u16();
    if (!key || !len || !r->skip(*len)) return false;
    if (*key == kSvcParamEch) found = true;
  }
  return found;
}

// Writes `rdata` without the ech SvcParam; returns how many were removed.
uint32_t writeSvcbWithoutEch(Writer& w, std::span<const uint8_t> rdata) noexcept {
  if (!svcbHasEch(rdata)) {
    w.bytes(rdata);
    return 0;
  }
  ByteReader r = *svcParams(rdata);
  w.bytes(rdata.first(r.position()));
  uint32_t removed = 0;
  while (!r.empty()) {
    // Validated by svcbHasEch(); checked again so a mistake can never loop or over-read.
    auto key_read = r.u16();
    auto len_read = r.u16();
    if (!key_read || !len_read) break;
    auto value_read = r.bytes(*len_read);
    if (!value_read) break;
    const uint16_t key = *key_read;
    const uint16_t len = *len_read;
    const auto value = *value_read;
    if (key == kSvcParamEch) {
      ++removed;
      continue;
    }
    if (key == kSvcParamMandatory && len % 2 == 0) {
      // "mandatory" must not name a key that is absent (RFC 9460 §8).
      uint16_t kept = 0;
      for (size_t i = 0; i < len; i += 2) {
        if (((value[i] << 8) | value[i + 1]) != kSvcParamEch) ++kept;
      }
      if (kept == 0) continue;
      w.u16(key);
      w.u16(static_cast<uint16_t>(kept * 2));
      for (size_t i = 0; i < len; i += 2) {
        if (((value[i] << 8) | value[i + 1]) != kSvcParamEch) w.bytes(value.subspan(i, 2));
      }
      continue;
    }
    w.u16(key);
    w.u16(len);
    w.bytes(value);
  }
  return removed;
}

// Writes the name at `offset` with every compression pointer expanded.
DnsParseStatus writeExpandedName(Writer& w, std::span<const uint8_t> msg, size_t offset,
                                 size_t& next) noexcept {
  const DnsParseStatus s = walkName(msg, offset, next, [&w](std::span<const uint8_t> label) {
    w.u8(static_cast<uint8_t>(label.size()));
    w.bytes(label);
    return true;
  });
  w.u8(0);
  return s;
}

// RDATA of the RFC 1035 types whose embedded names may be compressed (RFC 3597 §4), expanded:
// `names` names, then `fixed_tail` octets (SOA's five counters), after `fixed_head` octets
// (MX's preference). Other types are copied as they are.
DnsParseStatus writeRdataExpanded(Writer& w, std::span<const uint8_t> msg, uint16_t type,
                                  size_t rdata_offset, size_t rdlength) noexcept {
  size_t head = 0, names = 0, tail = 0;
  switch (type) {
    case dns_type::kNs:
    case dns_type::kCname:
    case dns_type::kPtr:
    case 3:
    case 4:
    case 7:
    case 8:
    case 9:  // MD, MF, MB, MG, MR
      names = 1;
      break;
    case dns_type::kMx:
      head = 2;
      names = 1;
      break;
    case 14: names = 2; break;  // MINFO
    case dns_type::kSoa:
      names = 2;
      tail = 20;
      break;
    default: w.bytes(msg.subspan(rdata_offset, rdlength)); return DnsParseStatus::kOk;
  }
  const size_t end = rdata_offset + rdlength;
  const auto bounded = msg.first(end);
  if (rdlength < head) return DnsParseStatus::kTruncated;
  w.bytes(msg.subspan(rdata_offset, head));
  size_t pos = rdata_offset + head;
  for (size_t i = 0; i < names; ++i) {
    if (DnsParseStatus s = writeExpandedName(w, bounded, pos, pos); s != DnsParseStatus::kOk) {
      return s;
    }
  }
  if (end - pos != tail) return DnsParseStatus::kTruncated;
  w.bytes(msg.subspan(pos, tail));
  return DnsParseStatus::kOk;
}

}  // namespace

EchStripResult stripEchFromResponse(std::span<const uint8_t> msg, std::span<uint8_t> out) noexcept {
  EchStripResult result;
  NameBuffer qn, rn;
  DnsResponseView view(msg, qn);
  bool any = false;
  while (auto r = view.next(rn)) {
    if ((r->type == dns_type::kHttps || r->type == dns_type::kSvcb) && svcbHasEch(r->rdata)) {
      any = true;
    }
  }
  result.status = view.status();
  if (result.status != DnsParseStatus::kOk || !any) return result;

  size_t pos = 0;
  (void)skipName(msg, kDnsHeaderSize, pos);  // validated by the view
  pos += 4;                                  // QTYPE, QCLASS
  Writer w(out);
  // The header (counts unchanged) and the question, which has no pointers: a question name can
  // only point into the header, which walkName rejects.
  w.bytes(msg.first(pos));
  const uint32_t records =
      uint32_t{view.header().ancount} + view.header().nscount + view.header().arcount;
  for (uint32_t i = 0; i < records; ++i) {
    size_t next = 0;
    DnsParseStatus s = writeExpandedName(w, msg, pos, next);
    RecordFixed f;
    if (s == DnsParseStatus::kOk) s = readRecordFixed(msg, next, f);
    if (s != DnsParseStatus::kOk) {
      result.status = s;
      return result;
    }
    w.u16(f.type);
    w.u16(f.rclass);
    w.u32(f.ttl);
    const size_t rdlength_at = w.size();
    w.u16(0);
    if (f.type == dns_type::kHttps || f.type == dns_type::kSvcb) {
      result.removed += writeSvcbWithoutEch(w, msg.subspan(f.rdata_offset, f.rdlength));
    } else {
      s = writeRdataExpanded(w, msg, f.type, f.rdata_offset, f.rdlength);
      if (s != DnsParseStatus::kOk) {
        result.status = s;
        result.removed = 0;
        return result;
      }
    }
    const size_t rdlength = w.size() - rdlength_at - 2;
    if (rdlength > 0xFFFF) {
      result.no_room = true;
      result.removed = 0;
      return result;
    }
    w.patch16(rdlength_at, static_cast<uint16_t>(rdlength));
    pos = f.rdata_offset + f.rdlength;
  }
  if (!w.ok()) {
    result.no_room = true;
    result.removed = 0;
    return result;
  }
  result.length = w.size();
  return result;
}

}  // namespace safegate
