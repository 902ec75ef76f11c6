#include "ui-helper/web_util.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <string_view>

namespace safegate::ui {

std::string clientAddress(const httplib::Request& req) {
  std::string who = req.remote_addr;
  if (who.starts_with("::ffff:") && who.find('.') != std::string::npos) who = who.substr(7);
  return who;
}

bool sameSecret(std::string_view given, std::string_view expected) {
  return !expected.empty() && given.size() == expected.size() &&
         CRYPTO_memcmp(given.data(), expected.data(), expected.size()) == 0;
}

std::string cookieValue(const std::string& header, const std::string& name) {
  size_t at = 0;
  while (at < header.size()) {
    while (at < header.size() && (header[at] == ' ' || header[at] == ';')) ++at;
    const size_t end = std::min(header.find(';', at), header.size());
    const std::string_view item(header.data() + at, end - at);
    if (item.size() > name.size() && item.starts_with(name) && item[name.size()] == '=') {
      return std::string(item.substr(name.size() + 1));
    }
    at = end;
  }
  return {};
}

void securityHeaders(httplib::Response& res) {
  res.set_header("Cache-Control", "no-store");
  res.set_header("Content-Security-Policy",
                 "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                 "form-action 'self'; frame-ancestors 'none'");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
}

}  // namespace safegate::ui
