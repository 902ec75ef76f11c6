// Dashboard accounts: who may sign in to safegate-ui's dashboard, with which role, and the
// password check (docs/dashboard.md).
//
// The accounts file (ui.users_file) holds one account per line, `name:role:hash`, `#` comments
// and blank lines allowed, written by `safegatectl user add|remove` and read by safegate-ui:
//   name  1-32 of [a-z0-9._-], starting with a letter or digit
//   role  viewer | lead | admin (viewer: overview and requests, read-only; lead: also decides
//         requests; admin: also the audit log)
//   hash  $scrypt$ln=15,r=8,p=1$<salt, 32 hex>$<key, 64 hex> — OpenSSL's scrypt (RFC 7914),
//         2^15 x 8 x 1 (32 MiB, about 0.1 s on a small router), a random 16-byte salt.
// scrypt rather than PBKDF2: memory-hard, so a stolen file costs a GPU farm as much as a CPU.
// Parameters are read from each hash (a later default can raise them) within bounds (at most
// 256 MiB and 2^24 block operations), so a crafted file cannot make a check take minutes or
// gigabytes.
// Pure functions and values; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace safegate::ui {

enum class Role : uint8_t { kViewer, kLead, kAdmin };
std::string_view roleName(Role r);  // "viewer", "lead", "admin"
std::optional<Role> parseRole(std::string_view s);

struct Account {
  std::string name;
  Role role = Role::kViewer;
  std::string hash;  // "$scrypt$..."
};

inline constexpr int kDefaultScryptLogN = 15;

// A new hash of `password` with a random salt; `log_n` 10..20 (tests use small ones).
Result<std::string> hashPassword(std::string_view password, int log_n = kDefaultScryptLogN);
// Whether `password` matches `hash` (constant-time compare). A malformed hash never matches.
bool verifyPassword(std::string_view password, std::string_view hash);

// Checks a new account name: kInvalidArgument saying what is allowed.
Status checkAccountName(std::string_view name);

// The accounts of a file's text; each bad line is an error naming `file`, the line and what
// is wrong, and is left out (the others still work).
std::vector<Account> parseAccounts(std::string_view text, const std::string& file,
                                   DiagnosticSink& sink);
// The file's text for `accounts` (a header comment, one line each).
std::string formatAccounts(const std::vector<Account>& accounts);

}  // namespace safegate::ui
