#include "ui-helper/form_token.h"

#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>

#include "common/hex.h"
#include "ui-helper/web_util.h"

namespace safegate::ui {

FormTokens::FormTokens() {
  if (RAND_bytes(key_.data(), static_cast<int>(key_.size())) != 1) {
    std::fprintf(stderr, "safegate-ui: no randomness for the form key\n");
    std::abort();
  }
}

std::string FormTokens::mac(int64_t issued, std::string_view client, std::string_view host) const {
  std::string message = "v1|" + std::to_string(issued) + "|";
  message += client;
  message += '|';
  message += host;
  unsigned char digest[32];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
  return hexEncode(std::span<const unsigned char>(digest, length));
}

std::string FormTokens::issue(std::string_view client, std::string_view host, int64_t now) const {
  return std::to_string(now) + "." + mac(now, client, host);
}

bool FormTokens::verify(std::string_view token, std::string_view client, std::string_view host,
                        int64_t now, int64_t max_age_seconds) const {
  const size_t dot = token.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 19) return false;
  int64_t issued = 0;
  auto [end, ec] = std::from_chars(token.data(), token.data() + dot, issued);
  if (ec != std::errc() || end != token.data() + dot) return false;
  if (issued > now + 60 || now - issued > max_age_seconds) return false;
  const std::string expected = mac(issued, client, host);
  const std::string_view given = token.substr(dot + 1);
  return sameSecret(given, expected);
}

}  // namespace safegate::ui
