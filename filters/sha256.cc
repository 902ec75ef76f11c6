#include "filters/sha256.h"

#include <openssl/evp.h>

namespace safegate {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()), ok_(false) {
  ok_ = ctx_ && EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) == 1;
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::update(std::string_view bytes) {
  ok_ = ok_ && EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), bytes.data(), bytes.size()) == 1;
}

std::optional<std::array<uint8_t, 32>> Sha256::finish() {
  std::array<uint8_t, 32> out{};
  unsigned int n = 0;
  ok_ = ok_ && EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out.data(), &n) == 1 && n == 32;
  if (!ok_) return std::nullopt;
  ok_ = false;
  return out;
}

std::string Sha256::hex(const std::array<uint8_t, 32>& digest) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(64);
  for (uint8_t b : digest) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 15]);
  }
  return s;
}

}  // namespace safegate
