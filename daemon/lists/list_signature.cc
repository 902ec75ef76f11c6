#include "daemon/lists/list_signature.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <vector>

namespace safegate {

namespace {

constexpr size_t kKeyIdBytes = 8;
constexpr size_t kPublicKeyBytes = 2 + kKeyIdBytes + 32;  // "Ed", key ID, key
constexpr size_t kSignatureBytes = 2 + kKeyIdBytes + 64;  // "ED"/"Ed", key ID, signature
constexpr std::string_view kUntrusted = "untrusted comment: ";
constexpr std::string_view kTrusted = "trusted comment: ";

// Strict base64 (RFC 4648, padded, no whitespace inside) with OpenSSL's decoder; nullopt when
// it is not. EVP_DecodeBlock counts padding as zero bytes, which are taken off here.
std::optional<std::vector<uint8_t>> decodeBase64(std::string_view s) {
  if (s.empty() || s.size() % 4 != 0 || s.size() > 4096) return std::nullopt;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '/' || (c == '=' && i + 2 >= s.size());
    if (!ok) return std::nullopt;
  }
  if (s[s.size() - 2] == '=' && s.back() != '=') return std::nullopt;
  std::vector<uint8_t> out(s.size() / 4 * 3);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(s.data()),
                                static_cast<int>(s.size()));
  if (n < 0) return std::nullopt;
  size_t size = static_cast<size_t>(n);
  if (s.back() == '=') --size;
  if (s[s.size() - 2] == '=') --size;
  out.resize(size);
  return out;
}

// Line ends only: a trusted comment's trailing blanks are signed (minisign keeps them too).
std::string_view trimLineEnd(std::string_view line) {
  while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

std::string_view trimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The lines of `text` without their ends; a last line without '\n' counts. At most
// `max_lines`: the rest stays in the last one (what is read is bounded, whatever was sent).
std::vector<std::string_view> splitLines(std::string_view text, size_t max_lines = 8) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    if (lines.size() + 1 == max_lines) {
      lines.push_back(text);
      break;
    }
    const size_t nl = text.find('\n');
    lines.push_back(trimLineEnd(text.substr(0, nl)));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

// Ed25519 verification of `signature` (64 bytes) over `message` with the raw 32-byte `key`.
bool ed25519Verify(const std::array<uint8_t, 32>& key, const uint8_t* signature,
                   std::string_view message) {
  std::unique_ptr<EVP_PKEY, PkeyDeleter> pkey(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size()));
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!pkey || !ctx) return false;
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), signature, 64,
                          reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

std::optional<std::string> blake2b512(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_blake2b512(), nullptr) != 1) {
    return std::nullopt;
  }
  return std::string(reinterpret_cast<const char*>(digest), length);
}

Status notMinisign(const std::string& why) {
  return Status::invalid("signature file is not minisign's format: " + why);
}

}  // namespace

std::string minisignKeyIdHex(const std::array<uint8_t, 8>& key_id) {
  // minisign prints the little-endian 64-bit ID, so the bytes appear in reverse.
  std::string hex;
  for (size_t i = key_id.size(); i-- > 0;) {
    char b[3];
    std::snprintf(b, sizeof b, "%02X", key_id[i]);
    hex += b;
  }
  return hex;
}

Result<MinisignPublicKey> parseMinisignPublicKey(std::string_view text) {
  std::string_view key_line;
  for (std::string_view line : splitLines(text)) {
    line = trimBlanks(line);
    if (line.empty() || line.starts_with(kUntrusted)) continue;
    if (!key_line.empty()) {
      return Status::invalid("public_key: more than one key line (give one minisign key)");
    }
    key_line = line;
  }
  const auto bytes = decodeBase64(key_line);
  if (!bytes || bytes->size() != kPublicKeyBytes || (*bytes)[0] != 'E' || (*bytes)[1] != 'd') {
    return Status::invalid(
        "public_key: not a minisign public key (56 base64 characters starting \"RW\", as "
        "`minisign -G` writes it)");
  }
  MinisignPublicKey key;
  std::copy_n(bytes->begin() + 2, kKeyIdBytes, key.key_id.begin());
  std::copy_n(bytes->begin() + 2 + kKeyIdBytes, key.key.size(), key.key.begin());
  return key;
}

Result<std::string> verifyMinisign(const MinisignPublicKey& key, std::string_view data,
                                   std::string_view signature_file) {
  if (signature_file.size() > kMaxMinisignFileBytes) {
    return notMinisign("larger than " + std::to_string(kMaxMinisignFileBytes) + " bytes");
  }
  const std::vector<std::string_view> lines = splitLines(signature_file);
  if (lines.size() < 4) return notMinisign("fewer than 4 lines");
  if (!lines[0].starts_with(kUntrusted)) {
    return notMinisign("line 1 is not \"untrusted comment: ...\"");
  }
  const auto signature = decodeBase64(lines[1]);
  if (!signature || signature->size() != kSignatureBytes || (*signature)[0] != 'E' ||
      ((*signature)[1] != 'D' && (*signature)[1] != 'd')) {
    return notMinisign("line 2 is not an Ed25519 signature");
  }
  if (!lines[2].starts_with(kTrusted)) return notMinisign("line 3 is not \"trusted comment: ...\"");
  const auto global = decodeBase64(lines[3]);
  if (!global || global->size() != 64) return notMinisign("line 4 is not a signature");
  for (size_t i = 4; i < lines.size(); ++i) {
    if (!lines[i].empty()) return notMinisign("more than 4 lines");
  }

  std::array<uint8_t, 8> key_id{};
  std::copy_n(signature->begin() + 2, kKeyIdBytes, key_id.begin());
  if (key_id != key.key_id) {
    return Status::invalid("signed with key ID " + minisignKeyIdHex(key_id) +
                           ", the configured public_key has ID " + minisignKeyIdHex(key.key_id));
  }
  const uint8_t* sig = signature->data() + 2 + kKeyIdBytes;
  bool ok = false;
  if ((*signature)[1] == 'D') {
    const auto digest = blake2b512(data);
    if (!digest) return Status::internal("BLAKE2b-512 is not available from OpenSSL");
    ok = ed25519Verify(key.key, sig, *digest);
  } else {
    ok = ed25519Verify(key.key, sig, data);
  }
  if (!ok) {
    return Status::invalid(
        "signature does not match the list (altered, or not the version that was signed)");
  }
  const std::string_view comment = lines[2].substr(kTrusted.size());
  std::string signed_comment(reinterpret_cast<const char*>(sig), 64);
  signed_comment += comment;
  if (!ed25519Verify(key.key, global->data(), signed_comment)) {
    return Status::invalid("the trusted comment's signature does not match (comment altered)");
  }
  return std::string(comment);
}

}  // namespace safegate
