#include "ui-helper/accounts.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <charconv>

#include "common/hex.h"

namespace safegate::ui {

namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kKeyBytes = 32;
// Bounds on each parameter read from a hash; their product is bounded in parseHash().
constexpr int kMinLogN = 10, kMaxLogN = 20;
constexpr uint64_t kMaxR = 16, kMaxP = 4;

bool scrypt(std::string_view password, const unsigned char* salt, size_t salt_len, uint64_t n,
            uint64_t r, uint64_t p, unsigned char* key, size_t key_len) {
  // OpenSSL needs 128 * N * r * p bytes (plus a little); allow exactly what the bounds need.
  const uint64_t maxmem = 128 * n * r * p + (1u << 20);
  return EVP_PBE_scrypt(password.data(), password.size(), salt, salt_len, n, r, p, maxmem, key,
                        key_len) == 1;
}

struct Parsed {
  int log_n = 0;
  uint64_t r = 0, p = 0;
  std::vector<unsigned char> salt, key;
};

// "$scrypt$ln=15,r=8,p=1$<salt>$<key>"
std::optional<Parsed> parseHash(std::string_view hash) {
  constexpr std::string_view kPrefix = "$scrypt$";
  if (!hash.starts_with(kPrefix)) return std::nullopt;
  hash.remove_prefix(kPrefix.size());
  const size_t d1 = hash.find('$');
  if (d1 == std::string_view::npos) return std::nullopt;
  const size_t d2 = hash.find('$', d1 + 1);
  if (d2 == std::string_view::npos) return std::nullopt;
  Parsed out;
  int fields = 0;
  std::string_view params = hash.substr(0, d1);
  while (!params.empty()) {
    const size_t comma = params.find(',');
    std::string_view item = params.substr(0, comma);
    params = comma == std::string_view::npos ? std::string_view() : params.substr(comma + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || end != value.data() + value.size()) return std::nullopt;
    if (key == "ln" && v >= kMinLogN && v <= kMaxLogN) {
      out.log_n = static_cast<int>(v);
    } else if (key == "r" && v >= 1 && v <= kMaxR) {
      out.r = v;
    } else if (key == "p" && v >= 1 && v <= kMaxP) {
      out.p = v;
    } else {
      return std::nullopt;
    }
    ++fields;
  }
  if (fields != 3 || out.log_n == 0 || out.r == 0 || out.p == 0) return std::nullopt;
  // Memory 128 * N * r at most 256 MiB, work N * r * p at most 4x that of 2^19 x 8 x 1.
  const uint64_t n_r = (uint64_t{1} << out.log_n) * out.r;
  if (n_r > (uint64_t{1} << 21) || n_r * out.p > (uint64_t{1} << 24)) return std::nullopt;
  auto salt = hexDecode(hash.substr(d1 + 1, d2 - d1 - 1));
  auto key = hexDecode(hash.substr(d2 + 1));
  if (!salt || salt->size() < 8 || salt->size() > 64 || !key || key->size() != kKeyBytes) {
    return std::nullopt;
  }
  out.salt = std::move(*salt);
  out.key = std::move(*key);
  return out;
}

}  // namespace

std::string_view roleName(Role r) {
  switch (r) {
    case Role::kViewer: return "viewer";
    case Role::kLead: return "lead";
    case Role::kAdmin: return "admin";
  }
  return "viewer";
}

std::optional<Role> parseRole(std::string_view s) {
  for (Role r : {Role::kViewer, Role::kLead, Role::kAdmin}) {
    if (roleName(r) == s) return r;
  }
  return std::nullopt;
}

Result<std::string> hashPassword(std::string_view password, int log_n) {
  if (log_n < kMinLogN || log_n > kMaxLogN) {
    return Status::invalid("scrypt cost 2^" + std::to_string(log_n) + " is outside 2^10..2^20");
  }
  unsigned char salt[kSaltBytes];
  unsigned char key[kKeyBytes];
  if (RAND_bytes(salt, sizeof salt) != 1) return Status::internal("no randomness for a salt");
  if (!scrypt(password, salt, sizeof salt, uint64_t{1} << log_n, 8, 1, key, sizeof key)) {
    return Status::internal("scrypt failed (OpenSSL)");
  }
  return "$scrypt$ln=" + std::to_string(log_n) + ",r=8,p=1$" + hexEncode(salt) + "$" +
         hexEncode(key);
}

bool verifyPassword(std::string_view password, std::string_view hash) {
  auto parsed = parseHash(hash);
  if (!parsed) return false;
  unsigned char key[kKeyBytes];
  if (!scrypt(password, parsed->salt.data(), parsed->salt.size(), uint64_t{1} << parsed->log_n,
              parsed->r, parsed->p, key, sizeof key)) {
    return false;
  }
  return CRYPTO_memcmp(key, parsed->key.data(), kKeyBytes) == 0;
}

Status checkAccountName(std::string_view name) {
  auto allowed = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  };
  if (name.empty() || name.size() > 32 || !allowed(name[0]) || name[0] == '.' || name[0] == '_' ||
      name[0] == '-' || !std::all_of(name.begin(), name.end(), allowed)) {
    return Status::invalid(
        "an account name is 1 to 32 of a-z 0-9 . _ - starting with a letter "
        "or digit, not \"" +
        std::string(name) + "\"");
  }
  return Status::ok();
}

std::vector<Account> parseAccounts(std::string_view text, const std::string& file,
                                   DiagnosticSink& sink) {
  std::vector<Account> out;
  uint32_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const SourceLocation at{file, line_no, 1};
    const size_t c1 = line.find(':');
    const size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) {
      sink.error(at, "expected name:role:hash");
      continue;
    }
    Account a;
    a.name = std::string(line.substr(0, c1));
    if (Status s = checkAccountName(a.name); !s) {
      sink.error(at, s.message());
      continue;
    }
    auto role = parseRole(line.substr(c1 + 1, c2 - c1 - 1));
    if (!role) {
      sink.error(at, "role of \"" + a.name + "\" must be viewer, lead or admin");
      continue;
    }
    a.role = *role;
    a.hash = std::string(line.substr(c2 + 1));
    if (!parseHash(a.hash)) {
      sink.error(at, "password hash of \"" + a.name +
                         "\" is not $scrypt$ln=N,r=R,p=P$salt$key (set it again with "
                         "safegatectl user add)");
      continue;
    }
    if (std::any_of(out.begin(), out.end(), [&](const Account& o) { return o.name == a.name; })) {
      sink.error(at, "account \"" + a.name + "\" appears twice; the first one counts");
      continue;
    }
    out.push_back(std::move(a));
  }
  return out;
}

std::string formatAccounts(const std::vector<Account>& accounts) {
  std::string out =
      "# safegate-ui dashboard accounts: name:role:scrypt hash. Edit with safegatectl user.\n";
  for (const Account& a : accounts) {
    out += a.name + ":" + std::string(roleName(a.role)) + ":" + a.hash + "\n";
  }
  return out;
}

}  // namespace safegate::ui
