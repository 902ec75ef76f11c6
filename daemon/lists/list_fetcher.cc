#include "daemon/lists/list_fetcher.h"

#include <openssl/evp.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>

#include "common/hex.h"

namespace safegate {

std::string sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return hexEncode(std::span<const unsigned char>(digest, length));
}

// zlib checks each member's CRC-32 and length trailer: a body cut short never decodes to a
// "list" (libcurl's own decoding returned the part it had when a gzip stream ended early).
Result<std::string> gunzip(std::string_view in, size_t max_bytes, const std::string& url) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return Status::internal("inflateInit2 failed");
  std::string out;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  char chunk[65536];
  Status error;
  for (;;) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    const size_t produced = sizeof chunk - zs.avail_out;
    if (out.size() + produced > max_bytes) {
      error = Status(StatusCode::kResourceExhausted,
                     url + ": list larger than " + std::to_string(max_bytes) + " bytes decoded");
      break;
    }
    out.append(chunk, produced);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      inflateReset(&zs);  // another gzip member follows
      continue;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
      error = Status::invalid(url + ": gzip body ends early (truncated download)");
    } else {
      error = Status::invalid(url + ": gzip body is corrupt (" +
                              std::string(zs.msg ? zs.msg : "inflate error") + ")");
    }
    break;
  }
  inflateEnd(&zs);
  if (!error) return error;
  return out;
}

std::string signatureUrl(const std::string& url) {
  size_t end = url.find_first_of("?#");
  if (end == std::string::npos) end = url.size();
  // A URL without a path ("https://host") names the site's root: "/.minisig", not "host.minisig".
  const size_t scheme = url.find("://");
  const size_t authority = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t slash = url.find('/', authority);
  const std::string suffix = slash == std::string::npos || slash > end ? "/.minisig" : ".minisig";
  return url.substr(0, end) + suffix + url.substr(end);
}

namespace {

// Downloads the signature of a list and verifies it over `body`; fills the version's signer.
Status checkSignature(HttpClient& client, const ListFetchRequest& request, std::string_view body,
                      ListVersion& version) {
  HttpClientRequest req;
  req.method = "GET";
  req.url = signatureUrl(request.url);
  const std::string shown = redactedUrl(req.url);
  // The signature is a few lines: its own client, capped far below the list's max_bytes.
  HttpClientOptions options = client.options();
  options.max_response_bytes = kMaxMinisignFileBytes;
  HttpClient signature_client(options);
  auto response = signature_client.perform(req);
  if (!response) return response.status();
  if (response->status != 200) {
    return Status::unavailable("signature " + shown + ": HTTP " + std::to_string(response->status) +
                               " (lists[].public_key requires a signed list)");
  }
  auto comment = verifyMinisign(*request.public_key, body, response->body);
  if (!comment) return Status::invalid("signature " + shown + ": " + comment.status().message());
  version.signed_by = minisignKeyIdHex(request.public_key->key_id);
  version.signed_comment = std::move(*comment);
  return Status();
}

}  // namespace

HttpClientOptions listClientOptions(const std::string& ca_file, uint64_t max_bytes,
                                    int timeout_ms) {
  HttpClientOptions o;
  o.ca_file = ca_file;
  o.max_response_bytes = static_cast<size_t>(max_bytes);
  o.total_timeout_ms = timeout_ms;
  o.connect_timeout_ms = std::min(timeout_ms, 10'000);
  o.max_redirects = 3;
  // gzip is asked for and decoded here, not by libcurl, so a truncated body is caught.
  o.accept_compressed = false;
  return o;
}

Result<ListFetchResult> fetchList(HttpClient& client, const ListFetchRequest& request,
                                  int64_t now_unix_ms) {
  HttpClientRequest req;
  req.method = "GET";
  req.url = request.url;
  const std::string shown = redactedUrl(request.url);
  req.headers.emplace_back("Accept-Encoding", "gzip");
  if (request.held) {
    if (!request.held->etag.empty()) req.headers.emplace_back("If-None-Match", request.held->etag);
    if (!request.held->last_modified.empty()) {
      req.headers.emplace_back("If-Modified-Since", request.held->last_modified);
    }
  }
  auto response = client.perform(req);
  if (!response) return response.status();
  ListFetchResult out;
  if (response->status == 304 && request.held) {
    out.not_modified = true;
    out.version = *request.held;
    out.version.fetched_unix_ms = now_unix_ms;
    return out;
  }
  if (response->status != 200) {
    return Status::unavailable(shown + ": HTTP " + std::to_string(response->status));
  }
  const std::string_view encoding = response->header("content-encoding");
  if (encoding == "gzip" || encoding == "x-gzip") {
    auto decoded = gunzip(response->body, client.options().max_response_bytes, shown);
    if (!decoded) return decoded.status();
    response->body = std::move(*decoded);
  } else if (!encoding.empty() && encoding != "identity") {
    return Status::invalid(shown + ": unsupported Content-Encoding \"" + std::string(encoding) +
                           "\"");
  }
  if (response->body.empty()) return Status::invalid(shown + ": empty list");
  out.version.etag = std::string(response->header("etag"));
  out.version.last_modified = std::string(response->header("last-modified"));
  out.version.sha256 = sha256Hex(response->body);
  out.version.bytes = response->body.size();
  out.version.fetched_unix_ms = now_unix_ms;
  if (!request.sha256.empty() && request.sha256 != out.version.sha256) {
    return Status::invalid(shown + ": content SHA-256 is " + out.version.sha256 + ", expected " +
                           request.sha256 + " (lists[].sha256)");
  }
  if (request.public_key) {
    if (Status signature = checkSignature(client, request, response->body, out.version);
        !signature) {
      return signature;
    }
  }
  out.body = std::move(response->body);
  return out;
}

}  // namespace safegate
