// Small pieces both of safegate-ui's listeners share (the block page and the dashboard):
// who is asking, the cookie of a request, and the security headers of every page.
// All functions are pure or only touch the response they are given.
#pragma once

#include <httplib.h>

#include <string>

namespace safegate::ui {

// The visitor's address as the daemon knows clients: an IPv4-mapped IPv6 peer as IPv4.
std::string clientAddress(const httplib::Request& req);

// The value of cookie `name` in a Cookie header ("" when absent).
std::string cookieValue(const std::string& header, const std::string& name);

// No caching, no scripts, no framing, no referrer: every page either listener serves.
void securityHeaders(httplib::Response& res);

}  // namespace safegate::ui
