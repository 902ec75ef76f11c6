#include "filters/domain_name.h"

#include <idn2.h>

#include <cstdlib>
#include <memory>

namespace safegate {
namespace {

constexpr bool isDigit(char c) { return c >= '0' && c <= '9'; }
constexpr char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// Where the core normaliser stopped, so the control plane can say what was wrong where.
struct CoreResult {
  WireNameStatus status = WireNameStatus::kOk;
  size_t position = 0;  // offset in the input of the offending character or label
};

// The shared normaliser behind normalizeWireName() and normalizeDomain(). `strict` limits
// unescaped characters to letters, digits, '-' and '_' (list entries, host names); the wire
// form accepts every printable ASCII character, because a DNS label may hold any octet
// (RFC 2181 §11) and parseDnsQuery() only escapes '.', '\' and non-printables.
CoreResult normalizeCore(std::string_view in, NameBuffer& out, bool strict,
                         bool allow_escapes) noexcept {
  out.length = 0;
  // Drop one trailing root dot, unless it is escaped (an odd run of backslashes before it).
  if (!in.empty() && in.back() == '.') {
    size_t backslashes = 0;
    while (backslashes + 1 < in.size() && in[in.size() - 2 - backslashes] == '\\') ++backslashes;
    if (backslashes % 2 == 0) in.remove_suffix(1);
  }
  if (in.empty()) return {WireNameStatus::kEmpty, 0};

  size_t label_octets = 0;
  size_t name_octets = 0;  // text octets: label octets plus separating dots
  size_t label_begin = 0;
  auto put = [&out](char c) noexcept { out.data[out.length++] = c; };
  auto fail = [&out](WireNameStatus s, size_t pos) noexcept {
    out.length = 0;
    return CoreResult{s, pos};
  };
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    const auto u = static_cast<unsigned char>(c);
    if (c == '.') {
      if (label_octets == 0) return fail(WireNameStatus::kEmptyLabel, i);
      put('.');
      ++name_octets;
      label_octets = 0;
      label_begin = i + 1;
      continue;
    }
    if (u >= 0x80) return fail(WireNameStatus::kNotAscii, i);
    if (u <= 0x20 || u == 0x7f) return fail(WireNameStatus::kBadCharacter, i);
    // Every octet costs at most 4 output characters; the length checks below keep the total
    // under sizeof(out.data) (63 octets per label, 253 per name, 4 characters each).
    if (c == '\\') {
      if (!allow_escapes || i + 1 >= in.size()) return fail(WireNameStatus::kBadCharacter, i);
      int value;
      if (isDigit(in[i + 1])) {
        if (i + 3 >= in.size() || !isDigit(in[i + 2]) || !isDigit(in[i + 3])) {
          return fail(WireNameStatus::kBadCharacter, i);
        }
        value = (in[i + 1] - '0') * 100 + (in[i + 2] - '0') * 10 + (in[i + 3] - '0');
        if (value > 255) return fail(WireNameStatus::kBadCharacter, i);
        i += 3;
      } else {
        value = static_cast<unsigned char>(in[i + 1]);
        if (value >= 0x80) return fail(WireNameStatus::kNotAscii, i + 1);
        i += 1;
      }
      // Same representation as readDnsName(): "\." and "\\" for the two special characters,
      // the character itself when printable, "\DDD" otherwise.
      if (value == '.' || value == '\\') {
        put('\\');
        put(static_cast<char>(value));
      } else if (value > 0x20 && value < 0x7f) {
        put(lower(static_cast<char>(value)));
      } else {
        put('\\');
        put(static_cast<char>('0' + value / 100));
        put(static_cast<char>('0' + (value / 10) % 10));
        put(static_cast<char>('0' + value % 10));
      }
    } else {
      const char l = lower(c);
      if (strict && !((l >= 'a' && l <= 'z') || isDigit(l) || l == '-' || l == '_')) {
        return fail(WireNameStatus::kBadCharacter, i);
      }
      put(l);
    }
    ++label_octets;
    ++name_octets;
    if (label_octets > kMaxDnsLabelLength) return fail(WireNameStatus::kLabelTooLong, label_begin);
    if (name_octets > kMaxDnsNameLength) return fail(WireNameStatus::kNameTooLong, i);
  }
  if (label_octets == 0) return fail(WireNameStatus::kEmptyLabel, in.size());
  return {};
}

std::string describe(const CoreResult& r, std::string_view in) {
  switch (r.status) {
    case WireNameStatus::kOk: return "ok";
    case WireNameStatus::kEmpty: return "the root name cannot be listed";
    case WireNameStatus::kNotAscii: return "not ASCII";
    case WireNameStatus::kBadCharacter: {
      const char c = r.position < in.size() ? in[r.position] : '?';
      if (c == '\\') return "malformed escape at column " + std::to_string(r.position + 1);
      if (static_cast<unsigned char>(c) <= 0x20) {
        return "a domain has no spaces or control characters (column " +
               std::to_string(r.position + 1) + ")";
      }
      return std::string("character '") + c + "' is not allowed in a domain name (column " +
             std::to_string(r.position + 1) + ")";
    }
    case WireNameStatus::kEmptyLabel: return "empty label (\"..\" or a leading dot)";
    case WireNameStatus::kLabelTooLong: return "label longer than 63 octets (RFC 1035 §2.3.4)";
    case WireNameStatus::kNameTooLong: return "name longer than 253 octets (RFC 1035 §2.3.4)";
  }
  return "invalid name";
}

struct FreeDeleter {
  void operator()(char* p) const noexcept { std::free(p); }
};

}  // namespace

std::string_view wireNameStatusName(WireNameStatus s) {
  switch (s) {
    case WireNameStatus::kOk: return "ok";
    case WireNameStatus::kEmpty: return "empty";
    case WireNameStatus::kNotAscii: return "not-ascii";
    case WireNameStatus::kBadCharacter: return "bad-character";
    case WireNameStatus::kEmptyLabel: return "empty-label";
    case WireNameStatus::kLabelTooLong: return "label-too-long";
    case WireNameStatus::kNameTooLong: return "name-too-long";
  }
  return "unknown";
}

WireNameStatus normalizeWireName(std::string_view name, NameBuffer& out) noexcept {
  return normalizeCore(name, out, /*strict=*/false, /*allow_escapes=*/true).status;
}

bool normalizeAsciiDomain(std::string_view name, NameSyntax syntax, NameBuffer& out) noexcept {
  return normalizeCore(name, out, /*strict=*/true, syntax == NameSyntax::kListEntry).status ==
         WireNameStatus::kOk;
}

Result<std::string> normalizeDomain(std::string_view name, NameSyntax syntax) {
  const bool allow_escapes = syntax == NameSyntax::kListEntry;
  std::string ascii_storage;
  std::string_view ascii = name;
  bool has_non_ascii = false;
  for (char c : name) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      has_non_ascii = true;
      break;
    }
  }
  if (has_non_ascii) {
    // UTS #46 processing maps whole names (it turns U+3002 IDEOGRAPHIC FULL STOP into a label
    // separator, for example), so the name is converted in one call. Presentation escapes
    // cannot be combined with that mapping, so a name with both is refused.
    if (name.find('\\') != std::string_view::npos) {
      return Status::invalid("escapes cannot be mixed with Unicode in one name");
    }
    const std::string input(name);
    char* raw = nullptr;
    // Non-transitional (IDNA2008 + UTS #46) so that "faß.de" stays distinct from "fass.de",
    // as browsers do; NFC input so that decomposed forms give the same A-label.
    const int rc = idn2_to_ascii_8z(input.c_str(), &raw, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    std::unique_ptr<char, FreeDeleter> owned(raw);
    if (rc != IDN2_OK) {
      return Status::invalid(std::string("not a valid internationalised name: ") +
                             idn2_strerror(rc));
    }
    ascii_storage = owned.get();
    ascii = ascii_storage;
  }
  NameBuffer buffer;
  const CoreResult r = normalizeCore(ascii, buffer, /*strict=*/true, allow_escapes);
  if (r.status != WireNameStatus::kOk) return Status::invalid(describe(r, ascii));
  return std::string(buffer.view());
}

size_t labelStarts(std::string_view name, std::array<uint16_t, kMaxLabels>& starts) noexcept {
  if (name.empty()) return 0;
  size_t count = 0;
  starts[count++] = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '\\') {
      ++i;  // the escaped character (or the first digit of \DDD) is never a separator
    } else if (name[i] == '.') {
      if (count == kMaxLabels) return 0;
      starts[count++] = static_cast<uint16_t>(i + 1);
    }
  }
  return count;
}

void SuffixWalk::next() noexcept {
  size_t i = pos_;
  while (i < name_.size()) {
    if (name_[i] == '\\') {
      i += 2;
    } else if (name_[i] == '.') {
      break;
    } else {
      ++i;
    }
  }
  pos_ = i < name_.size() ? i + 1 : name_.size();
  ++depth_;
}

bool isSameOrSubdomain(std::string_view name, std::string_view suffix) noexcept {
  if (suffix.empty()) return false;
  if (name.size() == suffix.size()) return name == suffix;
  if (name.size() < suffix.size() + 2) return false;
  if (name.substr(name.size() - suffix.size()) != suffix) return false;
  const size_t dot = name.size() - suffix.size() - 1;
  if (name[dot] != '.') return false;
  size_t backslashes = 0;
  while (backslashes < dot && name[dot - 1 - backslashes] == '\\') ++backslashes;
  return backslashes % 2 == 0;
}

}  // namespace safegate
