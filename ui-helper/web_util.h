// Small pieces both of safegate-ui's listeners share (the block page and the dashboard):
// who is asking, the cookie of a request, and the security headers of every page.
// All functions are pure or only touch the response they are given.
#pragma once

#include <httplib.h>

#include <string>
#include <string_view>

namespace safegate::ui {

// The visitor's address as the daemon knows clients: an IPv4-mapped IPv6 peer as IPv4.
std::string clientAddress(const httplib::Request& req);

// The value of cookie `name` in a Cookie header ("" when absent).
std::string cookieValue(const std::string& header, const std::string& name);

// Whether a token sent by the browser is the secret it should be, in time that does not depend on
// where they first differ (only the length may show: it is no secret). Empty never matches.
bool sameSecret(std::string_view given, std::string_view expected);

// No caching, no scripts, no framing, no referrer: every page either listener serves.
void securityHeaders(httplib::Response& res);

}  // namespace safegate::ui
