// fetchList: one download of a subscribed blocklist over the shared HttpClient —
// TLS verification always on, https:// only, a few redirects (to https:// only), gzip accepted
// and decoded here with its CRC and length checked (a truncated download is an error, never a
// shorter list), the size cap enforced while the body streams in and again after decoding, and a
// conditional request (If-None-Match / If-Modified-Since) from the version already held so an
// unchanged list costs one 304.
//
// What comes back is only bytes and their version; parsing, the sanity gate and the last-good
// copy under state_dir are the caller's (a download that fails here never replaces anything).
// Optional `sha256` pins the exact content (for lists published with a digest): a body with
// another digest is refused. Optional `public_key` requires a minisign signature of the decoded
// body at the list's URL + ".minisig" (daemon/lists/list_signature.h); without one that verifies
// the download fails.
//
// Thread-safety: a free function; the HttpClient is the caller's (one per thread).
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "daemon/http_client.h"
#include "daemon/lists/list_signature.h"

namespace safegate {

struct ListVersion {
  std::string etag;           // as the server sent it, quotes included; "" when none
  std::string last_modified;  // the Last-Modified header as sent; "" when none
  std::string sha256;         // of the (decoded) body, lower-case hex
  uint64_t bytes = 0;
  int64_t fetched_unix_ms = 0;
  std::string signed_by;       // minisign key ID when the list is signed, else ""
  std::string signed_comment;  // the signature's trusted comment
};

struct ListFetchRequest {
  std::string url;
  std::string sha256;                 // expected digest (hex), "" = not pinned
  const ListVersion* held = nullptr;  // the version already held, for a conditional request
  const MinisignPublicKey* public_key = nullptr;  // require a signature by this key
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
// "certificate verification failed ...", "content SHA-256 is X, expected Y", "empty list",
// "signature URL.minisig: ..." (missing, not minisign's format, another key, does not match).
Result<ListFetchResult> fetchList(HttpClient& client, const ListFetchRequest& request,
                                  int64_t now_unix_ms);

// The URL of the signature of the list at `url`: ".minisig" appended to its path.
std::string signatureUrl(const std::string& url);

// Decodes a gzip body (RFC 1952, concatenated members allowed) to at most `max_bytes`; a body
// that ends early, is corrupt or decodes larger is an error naming `url`.
Result<std::string> gunzip(std::string_view in, size_t max_bytes, const std::string& url);

// Lower-case hex SHA-256 of `data`.
std::string sha256Hex(std::string_view data);

}  // namespace safegate
