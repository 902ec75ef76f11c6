// FormTokens: the anti-forgery token of the block page's form (docs/access-requests.md).
//
// The form has no login and no cookie, so the token is stateless: "<unix seconds>.<hex
// HMAC-SHA256(key, "v1|" seconds "|" client "|" host)>", with a key drawn at start-up. A token is
// good for one client address and one host for `max_age_seconds`; a page elsewhere that makes a
// child's browser post to the block page cannot read a page to get one (the same-origin rule),
// so it cannot file requests in the child's name. A restart of safegate-ui makes every open
// form stale: the child is told to reload. Compared in constant time.
// Immutable after construction: safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace safegate::ui {

class FormTokens {
 public:
  using Key = std::array<uint8_t, 32>;
  // A random key (OpenSSL's generator); aborts if the system has no randomness.
  FormTokens();
  explicit FormTokens(const Key& key) : key_(key) {}

  std::string issue(std::string_view client, std::string_view host, int64_t now_unix_seconds) const;
  // True when `token` was issued for this client and host, not in the future (60 s of clock
  // slack) and at most `max_age_seconds` ago.
  bool verify(std::string_view token, std::string_view client, std::string_view host,
              int64_t now_unix_seconds, int64_t max_age_seconds = 7200) const;

 private:
  std::string mac(int64_t issued, std::string_view client, std::string_view host) const;
  Key key_{};
};

}  // namespace safegate::ui
