// HttpClient and MailClient: the one place safegate speaks HTTP(S) and SMTP out of the machine —
// hotline reports, webhooks and e-mail alerts through the outbox, list downloads — over libcurl
// with OpenSSL.
//
// This is the only file that includes <curl/curl.h>. Its defaults are the safe
// ones and cannot be turned off by configuration: TLS peer and host-name verification always on
// (against `ca_file`, or the system store), https:// only (plain http:// exists for tests alone,
// behind `allow_insecure_http_for_tests`), an optional public-key pin (curl's
// CURLOPT_PINNEDPUBLICKEY: "sha256//<base64>"), redirects off unless asked for and then to
// https:// only, a cap on the response size enforced while it streams in, and timeouts for
// connecting and for the whole exchange. Failures come back as a Status whose message says what
// went wrong in words an administrator can act on ("certificate verification failed: ...",
// "connection refused", "timed out after 5000 ms"), and an HttpFailure kind that tells a caller
// whether retrying may help.
//
// Thread-safety: one HttpClient per thread (it keeps a curl easy handle for connection reuse);
// different instances may run concurrently. Control plane only: perform() blocks for up to the
// configured timeout.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace safegate {

struct HttpClientOptions {
  std::string ca_file;     // PEM bundle to verify servers against; "" = the system store
  std::string pin_sha256;  // "sha256//BASE64[;sha256//...]" public-key pin, "" = none
  int connect_timeout_ms = 5000;
  int total_timeout_ms = 15000;  // the whole exchange, including the response body
  size_t max_response_bytes = size_t{1} << 20;
  int max_redirects = 0;           // 0 = never follow (reports); lists may allow a few
  bool accept_compressed = false;  // ask for gzip/deflate and decode it
  std::string user_agent = "safegate/0.1";
  bool allow_insecure_http_for_tests = false;  // never set from a config file
};

struct HttpClientRequest {
  std::string method = "GET";  // "GET", "POST", "PUT"
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // name, value
  std::string body;
};

struct HttpResponse {
  long status = 0;
  // Response headers of the final response, names lower-cased, in arrival order.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // empty when a body sink was given

  // The first header `name` (lower-case), or "" when absent.
  std::string_view header(std::string_view name) const;
};

// Why a request produced no HTTP response, for retry decisions.
enum class HttpFailure : uint8_t {
  kNone,
  kInvalidRequest,  // bad URL, http:// refused, unreadable CA file: fix the config
  kTls,             // certificate, host name or pin did not verify: nothing was sent
  kConnect,         // refused, unreachable, DNS failure: retry later
  kTimeout,         // connect or total timeout: retry later
  kTooLarge,        // response over max_response_bytes (or the sink said stop)
  kProtocol,        // anything else curl reports
};

std::string_view httpFailureName(HttpFailure f);
// `url` without its query, fragment and user:password@, for messages people or other systems
// see (logs, last errors, list notices): any of them may carry a token.
std::string redactedUrl(std::string_view url);

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Performs one exchange. Any HTTP status is a response (the caller decides what a 500 means);
  // no response at all is an error with failure() telling why.
  // `body_sink`, when set, receives the body in chunks instead of HttpResponse::body; returning
  // false aborts the transfer (kTooLarge).
  Result<HttpResponse> perform(const HttpClientRequest& request,
                               const std::function<bool(std::string_view)>& body_sink = {});

  // The kind of the last perform()'s failure (kNone after a response).
  HttpFailure failure() const { return failure_; }
  const HttpClientOptions& options() const { return options_; }

 private:
  HttpClientOptions options_;
  void* curl_ = nullptr;  // CURL*, kept for connection reuse
  HttpFailure failure_ = HttpFailure::kNone;
};

// HttpMultiplexer: many small POSTs to one HTTPS origin in flight at once, as HTTP/2 streams on
// one reused connection (libcurl multi, CURLPIPE_MULTIPLEX) — DNS over HTTPS (RFC 8484). The
// same safe defaults as HttpClient (verification always on, https:// only, a response cap).
// `resolve` ("host:port:address", curl's CURLOPT_RESOLVE) connects to a fixed address, so the
// URL's host name needs no lookup. One I/O thread; post() is thread-safe and never blocks on
// the network; `done` runs exactly once on that thread.
struct HttpMultiplexerOptions {
  std::string ca_file;  // "" = the system store
  std::string resolve;  // "" = resolve the URL's host normally
  int connect_timeout_ms = 3000;
  // TCP_USER_TIMEOUT: a connection whose data goes unacknowledged this long is dropped (and
  // the next request opens a new one) instead of hanging on while the path is gone; 0 = off.
  int dead_connection_ms = 0;
  size_t max_response_bytes = 65535;
  std::string user_agent = "safegate/0.1";
};

class HttpMultiplexer {
 public:
  // status 0 with `failure` set when no response came; `error` says why.
  using Done = std::function<void(long status, std::string_view body, HttpFailure failure,
                                  std::string_view error)>;
  explicit HttpMultiplexer(HttpMultiplexerOptions options);
  ~HttpMultiplexer();  // stops
  HttpMultiplexer(const HttpMultiplexer&) = delete;
  HttpMultiplexer& operator=(const HttpMultiplexer&) = delete;

  Status start();
  // Fails what is queued or in flight (kConnect, "stopped") and joins the thread; idempotent.
  void stop();
  // POSTs `body` with Content-Type and Accept `media_type`; timeout_ms bounds the exchange.
  void post(const std::string& url, std::string_view media_type, std::string body, int timeout_ms,
            Done done);
  // Connections opened so far (for tests and stats: reuse keeps this at 1).
  uint64_t connectionsOpened() const;

  struct State;  // defined in http_client.cc

 private:
  void run();
  std::unique_ptr<State> state_;
};

// E-mail over SMTP with TLS that cannot be skipped: "smtps://host:465" speaks TLS from the first
// byte; "smtp://host:587" must upgrade with STARTTLS (RFC 3207) before anything is sent, and a
// server that does not offer it gets nothing (curl's CURLUSESSL_ALL). Certificates and host
// names are verified as for HTTPS.
struct MailClientOptions {
  std::string url;       // "smtps://mail.example:465" or "smtp://mail.example:587"
  std::string ca_file;   // "" = the system store
  std::string username;  // "" = no AUTH
  std::string password;
  int connect_timeout_ms = 5000;
  int total_timeout_ms = 30000;
};

struct MailMessage {
  std::string from;             // envelope sender, "alerts@school.example"
  std::vector<std::string> to;  // envelope recipients
  std::string data;             // the whole RFC 5322 message, CRLF line ends, headers first
};

class MailClient {
 public:
  explicit MailClient(MailClientOptions options);
  ~MailClient();
  MailClient(const MailClient&) = delete;
  MailClient& operator=(const MailClient&) = delete;

  // Sends one message; ok when the server accepted it (250 after DATA).
  Status send(const MailMessage& message);
  HttpFailure failure() const { return failure_; }

 private:
  MailClientOptions options_;
  void* curl_ = nullptr;
  HttpFailure failure_ = HttpFailure::kNone;
};

// Parses a Retry-After value (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) into a delay in
// milliseconds from `now_unix_ms`; nullopt when it is neither. A date in the past is 0.
std::optional<int64_t> parseRetryAfterMs(std::string_view value, int64_t now_unix_ms);

}  // namespace safegate
