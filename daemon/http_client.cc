#include "daemon/http_client.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <mutex>
#include <thread>

namespace safegate {
namespace {

bool startsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

struct Transfer {
  const HttpClientOptions* options = nullptr;
  const std::function<bool(std::string_view)>* sink = nullptr;
  HttpResponse* response = nullptr;
  size_t received = 0;
  bool too_large = false;
  bool sink_stopped = false;
};

size_t onBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  t->received += n;
  if (t->received > t->options->max_response_bytes) {
    t->too_large = true;
    return 0;  // CURLE_WRITE_ERROR: stop reading, the cap holds while streaming
  }
  if (t->sink && *t->sink) {
    if (!(*t->sink)(std::string_view(data, n))) {
      t->sink_stopped = true;
      return 0;
    }
  } else {
    t->response->body.append(data, n);
  }
  return n;
}

size_t onHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  if (line.substr(0, 5) == "HTTP/") {
    // A new response (after a redirect or a 100 Continue): only the final one's headers count.
    t->response->headers.clear();
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string name(trim(line.substr(0, colon)));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  t->response->headers.emplace_back(std::move(name), std::string(trim(line.substr(colon + 1))));
  return n;
}

HttpFailure classify(CURLcode rc) {
  switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE: return HttpFailure::kInvalidRequest;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_INVALIDCERTSTATUS: return HttpFailure::kTls;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING: return HttpFailure::kConnect;
    case CURLE_OPERATION_TIMEDOUT: return HttpFailure::kTimeout;
    case CURLE_FILESIZE_EXCEEDED: return HttpFailure::kTooLarge;
    default: return HttpFailure::kProtocol;
  }
}

}  // namespace

std::string redactedUrl(std::string_view url) {
  // Never echo a query string or user:password@ (either may carry a token) into logs, the
  // outbox's last error or a list notice.
  url = url.substr(0, url.find_first_of("?#"));
  const size_t scheme = url.find("://");
  const size_t host = scheme == std::string_view::npos ? 0 : scheme + 3;
  const size_t path = url.find('/', host);
  const size_t at = url.substr(0, path).rfind('@');
  if (at == std::string_view::npos || at < host) return std::string(url);
  return std::string(url.substr(0, host)) + std::string(url.substr(at + 1));
}

std::string_view httpFailureName(HttpFailure f) {
  switch (f) {
    case HttpFailure::kNone: return "none";
    case HttpFailure::kInvalidRequest: return "invalid-request";
    case HttpFailure::kTls: return "tls";
    case HttpFailure::kConnect: return "connect";
    case HttpFailure::kTimeout: return "timeout";
    case HttpFailure::kTooLarge: return "too-large";
    case HttpFailure::kProtocol: return "protocol";
  }
  return "protocol";
}

std::string_view HttpResponse::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return {};
}

namespace {
void* newCurlHandle() {
  // curl_global_init is not thread-safe against other curl calls; once per process, before the
  // first handle, is what libcurl asks for (libcurl(3) "GLOBAL CONSTANTS").
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  return curl_easy_init();
}

// The message for a failed transfer, in the words docs/outbox.md uses for last_error.
Status failureStatus(HttpFailure failure, const std::string& where, const std::string& detail) {
  switch (failure) {
    case HttpFailure::kTls:
      return Status::unavailable(where + ": TLS verification failed, nothing was sent: " + detail);
    case HttpFailure::kTimeout: return Status::unavailable(where + ": timed out: " + detail);
    case HttpFailure::kInvalidRequest: return Status::invalid(where + ": " + detail);
    default: return Status::unavailable(where + ": " + detail);
  }
}
}  // namespace

HttpClient::HttpClient(HttpClientOptions options)
    : options_(std::move(options)), curl_(newCurlHandle()) {}

HttpClient::~HttpClient() {
  if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

Result<HttpResponse> HttpClient::perform(const HttpClientRequest& request,
                                         const std::function<bool(std::string_view)>& body_sink) {
  failure_ = HttpFailure::kInvalidRequest;
  CURL* c = static_cast<CURL*>(curl_);
  if (!c) return Status::internal("curl_easy_init failed");
  const bool https = startsWithNoCase(request.url, "https://");
  const bool http = startsWithNoCase(request.url, "http://");
  if (!https && !(http && options_.allow_insecure_http_for_tests)) {
    return Status::invalid(redactedUrl(request.url) +
                           ": only https:// URLs are allowed (TLS verification is always on)");
  }

  curl_easy_reset(c);  // keeps the connection cache, forgets the previous request's options
  HttpResponse response;
  Transfer t;
  t.options = &options_;
  t.sink = &body_sink;
  t.response = &response;
  char error_buffer[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for timeouts
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR,
                   options_.allow_insecure_http_for_tests ? "https,http" : "https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(c, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  if (!options_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (!options_.pin_sha256.empty()) {
    curl_easy_setopt(c, CURLOPT_PINNEDPUBLICKEY, options_.pin_sha256.c_str());
  }
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_ms));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.total_timeout_ms));
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                   static_cast<curl_off_t>(options_.max_response_bytes));
  if (options_.max_redirects > 0) {
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, static_cast<long>(options_.max_redirects));
  }
  if (options_.accept_compressed) curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(c, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, onBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, onHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);

  if (request.method == "POST" || request.method == "PUT") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    if (request.method == "PUT") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
  } else if (request.method != "GET") {
    return Status::invalid("unsupported HTTP method " + request.method);
  }

  curl_slist* headers = nullptr;
  // No "Expect: 100-continue" round trip: our bodies are small and some receivers stall on it.
  headers = curl_slist_append(headers, "Expect:");
  for (const auto& [name, value] : request.headers) {
    headers = curl_slist_append(headers, (name + ": " + value).c_str());
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

  const CURLcode rc = curl_easy_perform(c);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);

  const std::string where(redactedUrl(request.url));
  if (rc != CURLE_OK) {
    if (rc == CURLE_WRITE_ERROR && (t.too_large || t.sink_stopped)) {
      failure_ = HttpFailure::kTooLarge;
      return Status::exhausted(
          where + ": " +
          (t.too_large
               ? "response larger than " + std::to_string(options_.max_response_bytes) + " bytes"
               : std::string("transfer stopped by the receiver")));
    }
    failure_ = classify(rc);
    if (failure_ == HttpFailure::kTooLarge) {
      return Status::exhausted(where + ": response larger than " +
                               std::to_string(options_.max_response_bytes) + " bytes");
    }
    return failureStatus(failure_, where, error_buffer[0] ? error_buffer : curl_easy_strerror(rc));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  failure_ = HttpFailure::kNone;
  return response;
}

MailClient::MailClient(MailClientOptions options)
    : options_(std::move(options)), curl_(newCurlHandle()) {}

MailClient::~MailClient() {
  if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

Status MailClient::send(const MailMessage& message) {
  failure_ = HttpFailure::kInvalidRequest;
  CURL* c = static_cast<CURL*>(curl_);
  if (!c) return Status::internal("curl_easy_init failed");
  const bool smtps = startsWithNoCase(options_.url, "smtps://");
  if (!smtps && !startsWithNoCase(options_.url, "smtp://")) {
    return Status::invalid(options_.url +
                           ": an SMTP server is smtps://host[:465] or "
                           "smtp://host[:587] (with STARTTLS)");
  }
  if (message.to.empty()) return Status::invalid("an e-mail needs at least one recipient");

  struct Upload {
    std::string_view rest;
  } upload{message.data};
  auto onRead = +[](char* buffer, size_t size, size_t count, void* user) -> size_t {
    auto* u = static_cast<Upload*>(user);
    const size_t n = std::min(size * count, u->rest.size());
    std::memcpy(buffer, u->rest.data(), n);
    u->rest.remove_prefix(n);
    return n;
  };

  curl_easy_reset(c);
  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  // smtp:// must upgrade with STARTTLS or send nothing; smtps:// is TLS from the start.
  curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(c, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  if (!options_.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (!options_.username.empty()) {
    curl_easy_setopt(c, CURLOPT_USERNAME, options_.username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, options_.password.c_str());
  }
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_ms));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.total_timeout_ms));
  const std::string from = "<" + message.from + ">";
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, from.c_str());
  curl_slist* rcpt = nullptr;
  for (const auto& to : message.to) rcpt = curl_slist_append(rcpt, ("<" + to + ">").c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, onRead);
  curl_easy_setopt(c, CURLOPT_READDATA, &upload);
  curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.data.size()));

  const CURLcode rc = curl_easy_perform(c);
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, nullptr);
  curl_slist_free_all(rcpt);
  if (rc != CURLE_OK) {
    failure_ = rc == CURLE_USE_SSL_FAILED ? HttpFailure::kTls : classify(rc);
    std::string detail = error_buffer[0] ? error_buffer : curl_easy_strerror(rc);
    if (rc == CURLE_USE_SSL_FAILED) detail = "the server does not offer STARTTLS: " + detail;
    if (rc == CURLE_LOGIN_DENIED) {
      detail =
          "the server refused the user name or password (alerts[].username, "
          "password_file): " +
          detail;
    }
    return failureStatus(failure_, options_.url, detail);
  }
  failure_ = HttpFailure::kNone;
  return Status::ok();
}

std::optional<int64_t> parseRetryAfterMs(std::string_view value, int64_t now_unix_ms) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
    if (value.size() > 9) return int64_t{999'999'999} * 1000;  // absurd; the caller caps it
    int64_t seconds = 0;
    for (char ch : value) seconds = seconds * 10 + (ch - '0');
    return seconds * 1000;
  }
  const std::string text(value);
  const time_t now = static_cast<time_t>(now_unix_ms / 1000);
  const time_t when = curl_getdate(text.c_str(), &now);
  if (when == -1) return std::nullopt;
  const int64_t delta = static_cast<int64_t>(when) * 1000 - now_unix_ms;
  return delta > 0 ? delta : 0;
}

// ---------------------------------------------------------------------------------------------
// HttpMultiplexer

struct HttpMultiplexer::State {
  struct Request {
    std::string url;
    std::string body;
    curl_slist* headers = nullptr;
    int timeout_ms = 0;
    Done done;
    std::string response;
    bool too_large = false;
    char error[CURL_ERROR_SIZE] = {0};
    CURL* easy = nullptr;
    size_t cap = 0;
  };
  HttpMultiplexerOptions options;
  CURLM* multi = nullptr;
  curl_slist* resolve = nullptr;  // CURLOPT_RESOLVE: read when each transfer starts
  std::mutex mu;
  std::vector<std::unique_ptr<Request>> queued;  // guarded by mu
  bool stopping = false;                         // guarded by mu
  std::vector<std::unique_ptr<Request>> active;  // I/O thread only
  std::atomic<uint64_t> connections{0};
  std::thread thread;
  bool started = false;
};

namespace {
size_t onMultiplexedBody(char* data, size_t size, size_t count, void* user) {
  auto* r = static_cast<HttpMultiplexer::State::Request*>(user);
  const size_t n = size * count;
  if (r->response.size() + n > r->cap) {
    r->too_large = true;
    return 0;
  }
  r->response.append(data, n);
  return n;
}

curl_socket_t onMultiplexedSocket(void* user, curlsocktype, curl_sockaddr* address) {
  auto* st = static_cast<HttpMultiplexer::State*>(user);
  st->connections.fetch_add(1, std::memory_order_relaxed);
  const int fd = ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  if (fd >= 0 && st->options.dead_connection_ms > 0 && address->socktype == SOCK_STREAM) {
    const unsigned ms = static_cast<unsigned>(st->options.dead_connection_ms);
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms);
  }
  return fd < 0 ? CURL_SOCKET_BAD : fd;
}
}  // namespace

HttpMultiplexer::HttpMultiplexer(HttpMultiplexerOptions options)
    : state_(std::make_unique<State>()) {
  state_->options = std::move(options);
}

HttpMultiplexer::~HttpMultiplexer() { stop(); }

uint64_t HttpMultiplexer::connectionsOpened() const {
  return state_->connections.load(std::memory_order_relaxed);
}

Status HttpMultiplexer::start() {
  curl_easy_cleanup(static_cast<CURL*>(newCurlHandle()));  // curl_global_init, once
  State& st = *state_;
  st.multi = curl_multi_init();
  if (!st.multi) return Status::internal("curl_multi_init failed");
  curl_multi_setopt(st.multi, CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_MULTIPLEX));
  curl_multi_setopt(st.multi, CURLMOPT_MAX_HOST_CONNECTIONS, 2L);
  if (!st.options.resolve.empty()) {
    st.resolve = curl_slist_append(nullptr, st.options.resolve.c_str());
  }
  st.started = true;
  st.thread = std::thread([this] { run(); });
  return Status::ok();
}

void HttpMultiplexer::post(const std::string& url, std::string_view media_type, std::string body,
                           int timeout_ms, Done done) {
  auto r = std::make_unique<State::Request>();
  r->url = url;
  r->body = std::move(body);
  r->timeout_ms = timeout_ms;
  r->done = std::move(done);
  r->cap = state_->options.max_response_bytes;
  const std::string type(media_type);
  r->headers = curl_slist_append(r->headers, ("Content-Type: " + type).c_str());
  r->headers = curl_slist_append(r->headers, ("Accept: " + type).c_str());
  r->headers = curl_slist_append(r->headers, "Expect:");
  {
    std::lock_guard lock(state_->mu);
    if (!state_->stopping && state_->started) {
      state_->queued.push_back(std::move(r));
      curl_multi_wakeup(state_->multi);
      return;
    }
  }
  curl_slist_free_all(r->headers);
  r->done(0, {}, HttpFailure::kConnect, "stopped");
}

void HttpMultiplexer::run() {
  State& st = *state_;
  for (;;) {
    std::vector<std::unique_ptr<State::Request>> fresh;
    bool stopping;
    {
      std::lock_guard lock(st.mu);
      fresh.swap(st.queued);
      stopping = st.stopping;
    }
    if (stopping) {
      for (auto& r : fresh) st.active.push_back(std::move(r));
      break;
    }
    for (auto& r : fresh) {
      CURL* c = curl_easy_init();
      r->easy = c;
      if (!c) {
        curl_slist_free_all(r->headers);
        r->done(0, {}, HttpFailure::kProtocol, "curl_easy_init failed");
        continue;
      }
      curl_easy_setopt(c, CURLOPT_URL, r->url.c_str());
      curl_easy_setopt(c, CURLOPT_PRIVATE, r.get());
      curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->error);
      curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
      curl_easy_setopt(c, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
      curl_easy_setopt(c, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
      curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);  // wait for the HTTP/2 connection, not a 2nd
      if (!st.options.ca_file.empty()) {
        curl_easy_setopt(c, CURLOPT_CAINFO, st.options.ca_file.c_str());
      }
      if (st.resolve) curl_easy_setopt(c, CURLOPT_RESOLVE, st.resolve);
      curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                       static_cast<long>(st.options.connect_timeout_ms));
      curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(r->timeout_ms));
      curl_easy_setopt(c, CURLOPT_USERAGENT, st.options.user_agent.c_str());
      curl_easy_setopt(c, CURLOPT_POST, 1L);
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r->body.size()));
      curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->headers);
      curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, onMultiplexedBody);
      curl_easy_setopt(c, CURLOPT_WRITEDATA, r.get());
      curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, onMultiplexedSocket);
      curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &st);
      if (const CURLMcode mc = curl_multi_add_handle(st.multi, c); mc != CURLM_OK) {
        curl_easy_cleanup(c);
        curl_slist_free_all(r->headers);
        r->done(0, {}, HttpFailure::kProtocol, curl_multi_strerror(mc));
        continue;
      }
      st.active.push_back(std::move(r));
    }
    int running = 0;
    curl_multi_perform(st.multi, &running);
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(st.multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      State::Request* r = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &r);
      const CURLcode rc = m->data.result;
      long status = 0;
      if (rc == CURLE_OK) {
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        r->done(status, r->response, HttpFailure::kNone, {});
      } else {
        const HttpFailure f = r->too_large ? HttpFailure::kTooLarge : classify(rc);
        r->done(0, {}, f, r->error[0] ? r->error : curl_easy_strerror(rc));
      }
      curl_multi_remove_handle(st.multi, m->easy_handle);
      curl_easy_cleanup(m->easy_handle);
      curl_slist_free_all(r->headers);
      std::erase_if(st.active, [&](const auto& a) { return a.get() == r; });
    }
    curl_multi_poll(st.multi, nullptr, 0, 1000, nullptr);
  }
  // In flight or still queued at stop: each is answered, as post() promises.
  for (auto& r : st.active) {
    if (r->easy) {
      curl_multi_remove_handle(st.multi, r->easy);
      curl_easy_cleanup(r->easy);
    }
    curl_slist_free_all(r->headers);
    r->done(0, {}, HttpFailure::kConnect, "stopped");
  }
  st.active.clear();
}

void HttpMultiplexer::stop() {
  State& st = *state_;
  {
    std::lock_guard lock(st.mu);
    if (st.stopping) return;
    st.stopping = true;
    if (st.multi) curl_multi_wakeup(st.multi);
  }
  if (st.thread.joinable()) st.thread.join();
  if (st.multi) {
    curl_multi_cleanup(st.multi);
    st.multi = nullptr;
  }
  curl_slist_free_all(st.resolve);
  st.resolve = nullptr;
}

}  // namespace safegate
