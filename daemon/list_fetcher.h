// fetchList: one download of a subscribed blocklist (issue 12) over the shared HttpClient —
// TLS verification always on, https:// only, a few redirects (to https:// only), gzip accepted
// and decoded here with its CRC and length checked (a truncated download is an error, never a
// shorter list), the size cap enforced while the body streams in and again after decoding, and a
// conditional request (If-None-Match / If-Modified-Since) from the version already held so an
// unchanged list costs one 304.
//
// What comes back is only bytes and their version; parsing, the sanity gate and the last-good
// copy under state_dir are the caller's (a download that fails here never replaces anything).
// Optional `sha256` pins the exact content (for lists published with a digest): a body with
// another digest is refused.
//
// Thread-safety: a free function; the HttpClient is the caller's (one per thread).
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "daemon/http_client.h"

namespace safegate {

struct ListVersion {
  std::string etag;           // as the server sent it, quotes included; "" when none
  std::string last_modified;  // the Last-Modified header as sent; "" when none
  std::string sha256;         // of the (decoded) body, lower-case hex
  uint64_t bytes = 0;
  int64_t fetched_unix_ms = 0;
};

struct ListFetchRequest {
  std::string url;
  std::string sha256;                 // expected digest (hex), "" = not pinned
  const ListVersion* held = nullptr;  // the version already held, for a conditional request
};

struct ListFetchResult {
  bool not_modified = false;  // 304: keep what is held (version is the held one, refreshed)
  ListVersion version;
  std::string body;  // the decoded list when not_modified is false
};

// HttpClientOptions for list downloads: `max_bytes` and `timeout_ms` from the list's config,
// at most three redirects.
HttpClientOptions listClientOptions(const std::string& ca_file, uint64_t max_bytes, int timeout_ms);

// Errors name the URL and say why: "HTTP 404", "larger than N bytes", "timed out ...",
// "certificate verification failed ...", "content SHA-256 is X, expected Y", "empty list".
Result<ListFetchResult> fetchList(HttpClient& client, const ListFetchRequest& request,
                                  int64_t now_unix_ms);

// Lower-case hex SHA-256 of `data`.
std::string sha256Hex(std::string_view data);

}  // namespace safegate
