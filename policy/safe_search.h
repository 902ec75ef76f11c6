// The names each search engine answers on and their safe-search / restricted-mode targets,
// used by PolicySnapshot to rewrite (CNAME) DNS answers per group.
//
// Google publishes forcesafesearch.google.com for every Google search domain
// (support.google.com/websearch/answer/186669), Bing strict.bing.com, DuckDuckGo
// safe.duckduckgo.com, YouTube restrict.youtube.com (strict) and restrictmoderate.youtube.com
// (moderate) (support.google.com/a/answer/6214622). Constant data; thread-safe.
#pragma once

#include <span>
#include <string_view>

namespace safegate::policy {

inline constexpr std::string_view kGoogleSafeTarget = "forcesafesearch.google.com";
inline constexpr std::string_view kBingSafeTarget = "strict.bing.com";
inline constexpr std::string_view kDuckDuckGoSafeTarget = "safe.duckduckgo.com";
inline constexpr std::string_view kYoutubeStrictTarget = "restrict.youtube.com";
inline constexpr std::string_view kYoutubeModerateTarget = "restrictmoderate.youtube.com";

// Google search domains without "www." ("google.com", "google.co.uk", ...).
std::span<const std::string_view> googleSearchDomains();
std::span<const std::string_view> bingNames();
std::span<const std::string_view> duckDuckGoNames();
std::span<const std::string_view> youtubeNames();

}  // namespace safegate::policy
