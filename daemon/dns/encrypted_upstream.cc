#include "daemon/dns/encrypted_upstream.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/fd.h"
#include "common/ip_address.h"
#include "common/logger.h"
#include "daemon/http_client.h"

namespace safegate {

namespace {

constexpr size_t kDnsHeader = 12;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string openSslError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "connection closed";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

}  // namespace

namespace {

// Counters every transport keeps; written by its I/O thread (and failures by submit()).
struct TransportCounters {
  std::atomic<uint64_t> queries{0}, answers{0}, failures{0}, connections{0}, resumed{0};
  EncryptedUpstreamStats snapshot() const {
    EncryptedUpstreamStats s;
    s.queries = queries.load(std::memory_order_relaxed);
    s.answers = answers.load(std::memory_order_relaxed);
    s.failures = failures.load(std::memory_order_relaxed);
    s.connections = connections.load(std::memory_order_relaxed);
    s.resumed = resumed.load(std::memory_order_relaxed);
    return s;
  }
};

// Logs a transport failure at most every 10 s, so a resolver that is down does not flood the
// journal with one line per query. Thread-safe: a refused submit() reports on its caller's
// thread.
class FailureLog {
 public:
  void report(const UpstreamSpec& spec, const std::string& why) {
    const int64_t now = nowMs();
    int64_t last = last_ms_.load(std::memory_order_relaxed);
    if (now - last < 10000 || !last_ms_.compare_exchange_strong(last, now)) return;
    logWarning("dns", "encrypted upstream failed", {{"upstream", spec.toString()}, {"error", why}});
  }

 private:
  std::atomic<int64_t> last_ms_{-1000000};
};

// ---------------------------------------------------------------------------------------------
// DNS over TLS

class TlsUpstream final : public EncryptedUpstream {
 public:
  TlsUpstream(UpstreamSpec spec, SocketAddress address, EncryptedUpstreamOptions options)
      : spec_(std::move(spec)), address_(address), options_(std::move(options)) {}
  ~TlsUpstream() override {
    stop();
    if (session_) SSL_SESSION_free(session_);
    if (ctx_) SSL_CTX_free(ctx_);
  }

  Status start() override {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ctx_) return Status::internal("SSL_CTX_new: " + openSslError());
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    // Many DoT servers close without close_notify. Every message is length-framed, so a cut
    // can only lose a partial frame, which is never taken: treat it as an ordinary close.
    SSL_CTX_set_options(ctx_, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    const int loaded = options_.ca_file.empty()
                           ? SSL_CTX_set_default_verify_paths(ctx_)
                           : SSL_CTX_load_verify_locations(ctx_, options_.ca_file.c_str(), nullptr);
    if (loaded != 1) {
      return Status::invalid("dns.upstream_ca_file \"" + options_.ca_file +
                             "\": cannot load certificates: " + openSslError());
    }
    // Resumption: keep the newest session the server gives (TLS 1.3 sends them after the
    // handshake), offered on the next connection to skip a full handshake.
    SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_set_app_data(ctx_, this);
    SSL_CTX_sess_set_new_cb(ctx_, [](SSL* ssl, SSL_SESSION* session) -> int {
      auto* self = static_cast<TlsUpstream*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
      if (self->session_) SSL_SESSION_free(self->session_);
      self->session_ = session;
      return 1;  // we keep the reference
    });
    wake_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!wake_) return Status::fromErrno("eventfd", errno);
    thread_ = std::thread([this] { run(); });
    return Status::ok();
  }

  void stop() override {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    wake();
    if (thread_.joinable()) thread_.join();
  }

  void submit(std::span<const uint8_t> query, int timeout_ms, Done done) override {
    counters_.queries.fetch_add(1, std::memory_order_relaxed);
    if (query.size() < kDnsHeader || query.size() > 65535) {
      counters_.failures.fetch_add(1, std::memory_order_relaxed);
      done({});
      return;
    }
    Query q;
    q.message.assign(query.begin(), query.end());
    q.deadline_ms = nowMs() + timeout_ms;
    q.done = std::move(done);
    {
      std::lock_guard lock(mu_);
      // Bounded: queued + waiting + written. (It also keeps wire IDs plentiful.)
      if (!stopping_ && pending_.load(std::memory_order_relaxed) < options_.max_in_flight) {
        pending_.fetch_add(1, std::memory_order_relaxed);
        incoming_.push_back(std::move(q));
        q.done = nullptr;
      }
    }
    if (q.done) {
      counters_.failures.fetch_add(1, std::memory_order_relaxed);
      q.done({});
      return;
    }
    wake();
  }

  EncryptedUpstreamStats stats() const override { return counters_.snapshot(); }
  const UpstreamSpec& spec() const override { return spec_; }

 private:
  struct Query {
    std::vector<uint8_t> message;  // with the submitter's ID
    int64_t deadline_ms = 0;
    Done done;
    bool resent = false;  // already written once to a connection that then closed
  };
  enum class ConnState : uint8_t { kNone, kConnecting, kHandshake, kOpen };

  void wake() {
    const uint64_t one = 1;
    if (wake_) (void)!::write(wake_.get(), &one, sizeof one);
  }

  void finish(Query& q, std::span<const uint8_t> answer) {
    if (answer.empty()) {
      counters_.failures.fetch_add(1, std::memory_order_relaxed);
    } else {
      counters_.answers.fetch_add(1, std::memory_order_relaxed);
    }
    Done done = std::move(q.done);
    q.done = nullptr;
    pending_.fetch_sub(1, std::memory_order_relaxed);
    if (done) done(answer);
  }

  void run() {
    for (;;) {
      {
        std::lock_guard lock(mu_);
        if (stopping_) break;
        for (Query& q : incoming_) waiting_.push_back(std::move(q));
        incoming_.clear();
      }
      const int64_t now = nowMs();
      expire(now);
      if (!waiting_.empty() && state_ == ConnState::kNone) openConnection(now);
      if (state_ == ConnState::kOpen) writeWaiting();
      if (state_ == ConnState::kOpen && sent_.empty() && waiting_.empty() &&
          now - last_used_ms_ >= options_.idle_timeout_ms) {
        closeConnection(false);  // idle: the server would close it soon anyway
      }

      pollfd fds[2] = {{wake_.get(), POLLIN, 0}, {fd_.get(), 0, 0}};
      nfds_t n = 1;
      if (state_ != ConnState::kNone) {
        fds[1].events = state_ == ConnState::kConnecting ? POLLOUT : POLLIN;
        // Only when OpenSSL waits for the socket to take more: a write waiting on a read
        // (WANT_READ) is woken by POLLIN, always polled; POLLOUT then would spin.
        if (state_ != ConnState::kConnecting && want_write_) {
          fds[1].events |= POLLOUT;
        }
        n = 2;
      }
      int timeout = static_cast<int>(std::clamp<int64_t>(nextDeadline(now) - now, 0, 1000));
      // Data already decrypted inside OpenSSL does not make the socket readable.
      if (ssl_ && SSL_pending(ssl_) > 0) timeout = 0;
      if (::poll(fds, n, timeout) < 0 && errno != EINTR) break;
      if (fds[0].revents & POLLIN) {
        uint64_t v;
        (void)!::read(wake_.get(), &v, sizeof v);
      }
      if (state_ != ConnState::kNone) drive(fds[1].revents);
    }
    if (state_ != ConnState::kNone) closeConnection(false);
    std::vector<Query> rest;
    {
      std::lock_guard lock(mu_);
      rest.swap(incoming_);
    }
    for (Query& q : rest) finish(q, {});
    for (Query& q : waiting_) finish(q, {});
    waiting_.clear();
    for (auto& [id, q] : sent_) finish(q, {});
    sent_.clear();
  }

  int64_t nextDeadline(int64_t now) const {
    int64_t next = now + 1000;
    if (state_ == ConnState::kConnecting || state_ == ConnState::kHandshake) {
      next = std::min(next, connect_deadline_ms_);
    }
    for (const Query& q : waiting_) next = std::min(next, q.deadline_ms);
    for (const auto& [id, q] : sent_) next = std::min(next, q.deadline_ms);
    if (state_ == ConnState::kOpen && sent_.empty() && waiting_.empty()) {
      next = std::min(next, last_used_ms_ + options_.idle_timeout_ms);
    }
    return next;
  }

  void expire(int64_t now) {
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (it->deadline_ms <= now) {
        finish(*it, {});
        it = waiting_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = sent_.begin(); it != sent_.end();) {
      if (it->second.deadline_ms <= now) {
        finish(it->second, {});
        abandoned_.insert(it->first);
        ++silent_timeouts_;
        it = sent_.erase(it);
      } else {
        ++it;
      }
    }
    // Queries timing out with nothing at all coming back: the connection is dead (the path
    // changed under it) or the server is stuck on it. Many answers owed also use up wire IDs.
    // A new connection frees both.
    if (state_ == ConnState::kOpen &&
        (silent_timeouts_ >= options_.max_silent_timeouts || abandoned_.size() > kMaxAbandoned)) {
      failure_log_.report(spec_, std::to_string(silent_timeouts_) +
                                     " queries timed out with nothing received; reconnecting");
      closeConnection(false);
    }
    if ((state_ == ConnState::kConnecting || state_ == ConnState::kHandshake) &&
        now >= connect_deadline_ms_) {
      failure_log_.report(
          spec_, "no TLS connection within " + std::to_string(options_.connect_timeout_ms) + " ms");
      closeConnection(true);
    }
  }

  void openConnection(int64_t now) {
    Fd fd(::socket(address_.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
      failConnect("socket: " + std::string(std::strerror(errno)));
      return;
    }
    const int one = 1;
    setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const unsigned user_timeout = static_cast<unsigned>(options_.dead_connection_ms);
    setsockopt(fd.get(), IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
    const auto* sa = reinterpret_cast<const sockaddr*>(&address_.storage);
    if (::connect(fd.get(), sa, address_.length) != 0 && errno != EINPROGRESS) {
      failConnect("connect: " + std::string(std::strerror(errno)));
      return;
    }
    fd_ = std::move(fd);
    state_ = ConnState::kConnecting;
    connect_deadline_ms_ = now + options_.connect_timeout_ms;
    counters_.connections.fetch_add(1, std::memory_order_relaxed);
  }

  // The connection could not be made: everything waiting fails now (the DNS worker moves on
  // to the next upstream) rather than at its deadline.
  void failConnect(const std::string& why) {
    failure_log_.report(spec_, why);
    for (Query& q : waiting_) finish(q, {});
    waiting_.clear();
  }

  bool beginTls() {
    ssl_ = SSL_new(ctx_);
    if (!ssl_ || SSL_set_fd(ssl_, fd_.get()) != 1) return false;
    SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    const std::string name = spec_.verifyName();
    if (IpAddress::parse(name)) {
      // An address: checked against the certificate's IP SANs; no SNI (RFC 6066 §3).
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl_, name.c_str());
      SSL_set1_host(ssl_, name.c_str());
    }
    if (session_) SSL_set_session(ssl_, session_);
    state_ = ConnState::kHandshake;
    return true;
  }

  void drive(short revents) {
    if (state_ == ConnState::kConnecting) {
      if (!(revents & (POLLOUT | POLLERR | POLLHUP))) return;
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        failure_log_.report(spec_, "connect: " + std::string(std::strerror(err)));
        closeConnection(true);
        return;
      }
      if (!beginTls()) {
        failure_log_.report(spec_, "TLS set-up: " + openSslError());
        closeConnection(true);
        return;
      }
    }
    if (state_ == ConnState::kHandshake) {
      ERR_clear_error();
      const int rc = SSL_connect(ssl_);
      if (rc != 1) {
        const int e = SSL_get_error(ssl_, rc);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
          want_write_ = e == SSL_ERROR_WANT_WRITE;
          return;
        }
        std::string why = openSslError();
        const long verify = SSL_get_verify_result(ssl_);
        if (verify != X509_V_OK) {
          why = std::string("certificate verification failed: ") +
                X509_verify_cert_error_string(verify);
        }
        failure_log_.report(spec_, "TLS handshake: " + why);
        closeConnection(true);
        return;
      }
      want_write_ = false;
      state_ = ConnState::kOpen;
      last_used_ms_ = nowMs();
      if (SSL_session_reused(ssl_)) counters_.resumed.fetch_add(1, std::memory_order_relaxed);
      writeWaiting();
    }
    if (state_ != ConnState::kOpen) return;
    if (!flush()) return;
    readAnswers();
  }

  // Gives every waiting query a wire ID unused on this connection and frames it (RFC 7858 §3.3:
  // a two-byte length, as over TCP); flush() writes them all in one go.
  void writeWaiting() {
    while (!waiting_.empty()) {
      Query q = std::move(waiting_.front());
      waiting_.pop_front();
      uint16_t id;
      do {
        if (getrandom(&id, sizeof id, 0) != sizeof id) id = next_id_++;
        // Not the ID of a query that timed out on this connection either: its late answer
        // must not be taken for this one's.
      } while (sent_.count(id) != 0 || abandoned_.count(id) != 0);
      const size_t n = q.message.size();
      const size_t at = out_.size();
      out_.resize(at + 2 + n);
      out_[at] = static_cast<uint8_t>(n >> 8);
      out_[at + 1] = static_cast<uint8_t>(n);
      std::memcpy(out_.data() + at + 2, q.message.data(), n);
      out_[at + 2] = static_cast<uint8_t>(id >> 8);
      out_[at + 3] = static_cast<uint8_t>(id);
      sent_.emplace(id, std::move(q));
    }
    if (!out_.empty()) {
      last_used_ms_ = nowMs();
      flush();
    }
  }

  // Writes what is buffered; false when the connection was closed.
  bool flush() {
    want_write_ = false;
    while (out_done_ < out_.size()) {
      ERR_clear_error();
      const int rc =
          SSL_write(ssl_, out_.data() + out_done_, static_cast<int>(out_.size() - out_done_));
      if (rc > 0) {
        out_done_ += static_cast<size_t>(rc);
        continue;
      }
      const int e = SSL_get_error(ssl_, rc);
      if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
        want_write_ = e == SSL_ERROR_WANT_WRITE;
        return true;
      }
      // Broken under us (reset, dead path): what was written goes once more on a new one.
      failure_log_.report(spec_, "write: " + openSslError());
      closeConnection(false);
      return false;
    }
    out_.clear();
    out_done_ = 0;
    return true;
  }

  void readAnswers() {
    // ACK at once, every time (Linux clears TCP_QUICKACK by itself). A server that writes an
    // answer in two pieces under Nagle (unbound's length prefix and message) holds the second
    // until the first is ACKed; with our delayed ACK that cost 1 % of the answers ~8 ms (p99
    // 8.4 ms -> 0.5 ms at 2,000 qps, bench/encrypted_upstreams.sh).
    const int quick = 1;
    setsockopt(fd_.get(), IPPROTO_TCP, TCP_QUICKACK, &quick, sizeof quick);
    uint8_t buf[16384];
    // Bounded, so a server streaming without pause cannot keep this thread from new queries
    // and deadlines; what is left is read on the next round (SSL_pending skips the poll wait).
    for (int round = 0; round < 64; ++round) {
      ERR_clear_error();
      const int rc = SSL_read(ssl_, buf, sizeof buf);
      if (rc > 0) {
        in_.insert(in_.end(), buf, buf + rc);
        silent_timeouts_ = 0;
        takeAnswers();
        continue;
      }
      const int e = SSL_get_error(ssl_, rc);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
      // Closed by the server (idle timeout, restart) or broken: what was sent goes again.
      if (e != SSL_ERROR_ZERO_RETURN) failure_log_.report(spec_, "read: " + openSslError());
      closeConnection(false);
      return;
    }
  }

  void takeAnswers() {
    size_t at = 0;
    while (in_.size() - at >= 2) {
      const size_t n = (size_t{in_[at]} << 8) | in_[at + 1];
      if (in_.size() - at - 2 < n) break;
      std::span<uint8_t> msg(in_.data() + at + 2, n);
      at += 2 + n;
      if (msg.size() < kDnsHeader) continue;
      const uint16_t id = static_cast<uint16_t>((msg[0] << 8) | msg[1]);
      auto it = sent_.find(id);
      if (it == sent_.end()) continue;  // late (its query timed out) or not ours
      msg[0] = it->second.message[0];
      msg[1] = it->second.message[1];
      Query q = std::move(it->second);
      sent_.erase(it);
      last_used_ms_ = nowMs();
      finish(q, msg);
    }
    in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(at));
  }

  // `failed`: the connection broke before it was usable, so what waits for it fails too.
  void closeConnection(bool failed) {
    if (ssl_) {
      if (state_ == ConnState::kOpen) SSL_shutdown(ssl_);  // best effort close_notify
      SSL_free(ssl_);
      ssl_ = nullptr;
    }
    fd_.reset();
    abandoned_.clear();
    state_ = ConnState::kNone;
    want_write_ = false;
    out_.clear();
    out_done_ = 0;
    in_.clear();
    silent_timeouts_ = 0;
    // Queries written on it go once more on the next connection (the server may have closed
    // an idle connection as they crossed); a second loss fails them.
    std::vector<Query> again;
    for (auto& [id, q] : sent_) {
      if (q.resent || failed) {
        finish(q, {});
      } else {
        q.resent = true;
        again.push_back(std::move(q));
      }
    }
    sent_.clear();
    for (auto it = again.rbegin(); it != again.rend(); ++it) waiting_.push_front(std::move(*it));
    if (failed) {
      for (Query& q : waiting_) finish(q, {});
      waiting_.clear();
    }
  }

  const UpstreamSpec spec_;
  const SocketAddress address_;
  const EncryptedUpstreamOptions options_;
  TransportCounters counters_;
  std::mutex mu_;
  std::vector<Query> incoming_;     // guarded by mu_
  bool stopping_ = false;           // guarded by mu_
  std::atomic<size_t> pending_{0};  // accepted by submit() and not yet finished
  Fd wake_;
  std::thread thread_;

  // I/O thread only.
  SSL_CTX* ctx_ = nullptr;
  SSL_SESSION* session_ = nullptr;
  SSL* ssl_ = nullptr;
  Fd fd_;
  ConnState state_ = ConnState::kNone;
  int64_t connect_deadline_ms_ = 0;
  int64_t last_used_ms_ = 0;
  bool want_write_ = false;
  std::vector<uint8_t> out_;
  size_t out_done_ = 0;
  std::vector<uint8_t> in_;
  std::deque<Query> waiting_;
  std::unordered_map<uint16_t, Query> sent_;  // by wire ID, on the current connection
  std::unordered_set<uint16_t> abandoned_;    // wire IDs timed out on the current connection
  static constexpr size_t kMaxAbandoned = 4096;
  int silent_timeouts_ = 0;  // queries timed out since the connection last sent anything
  uint16_t next_id_ = 1;
  FailureLog failure_log_;
};

// ---------------------------------------------------------------------------------------------
// DNS over HTTPS

class HttpsUpstream final : public EncryptedUpstream {
 public:
  HttpsUpstream(UpstreamSpec spec, const EncryptedUpstreamOptions& options)
      : spec_(std::move(spec)),
        url_(spec_.url()),
        max_in_flight_(options.max_in_flight),
        http_(multiplexerOptions(spec_, options)) {}
  ~HttpsUpstream() override { stop(); }

  Status start() override { return http_.start(); }
  void stop() override { http_.stop(); }

  void submit(std::span<const uint8_t> query, int timeout_ms, Done done) override {
    counters_.queries.fetch_add(1, std::memory_order_relaxed);
    // Counted before the check, so submitters racing each other cannot overshoot the cap.
    if (query.size() < kDnsHeader ||
        pending_.fetch_add(1, std::memory_order_relaxed) >= max_in_flight_) {
      if (query.size() >= kDnsHeader) pending_.fetch_sub(1, std::memory_order_relaxed);
      counters_.failures.fetch_add(1, std::memory_order_relaxed);
      done({});
      return;
    }
    std::string body(reinterpret_cast<const char*>(query.data()), query.size());
    const uint8_t id_hi = query[0], id_lo = query[1];
    body[0] = body[1] = 0;  // RFC 8484 §4.1: ID 0, so equal questions are equal requests
    http_.post(url_, "application/dns-message", std::move(body), timeout_ms,
               [this, id_hi, id_lo, done = std::move(done)](long status, std::string_view answer,
                                                            HttpFailure, std::string_view error) {
                 pending_.fetch_sub(1, std::memory_order_relaxed);
                 if (status != 200 || answer.size() < kDnsHeader) {
                   counters_.failures.fetch_add(1, std::memory_order_relaxed);
                   failure_log_.report(spec_, status != 0 ? "HTTP status " + std::to_string(status)
                                                          : std::string(error));
                   done({});
                   return;
                 }
                 std::vector<uint8_t> copy(answer.begin(), answer.end());
                 copy[0] = id_hi;
                 copy[1] = id_lo;
                 counters_.answers.fetch_add(1, std::memory_order_relaxed);
                 done(copy);
               });
  }

  EncryptedUpstreamStats stats() const override {
    EncryptedUpstreamStats s = counters_.snapshot();
    s.connections = http_.connectionsOpened();
    return s;
  }
  const UpstreamSpec& spec() const override { return spec_; }

 private:
  static HttpMultiplexerOptions multiplexerOptions(const UpstreamSpec& spec,
                                                   const EncryptedUpstreamOptions& options) {
    HttpMultiplexerOptions o;
    o.ca_file = options.ca_file;
    o.connect_timeout_ms = options.connect_timeout_ms;
    o.dead_connection_ms = options.dead_connection_ms;
    if (const std::string name = spec.pinnedName(); !name.empty()) {
      // "name:port:address"; an IPv6 address goes in brackets, as curl takes it.
      o.resolve =
          name + ":" + std::to_string(spec.port) + ":" + UpstreamSpec::hostLiteral(spec.address);
    }
    return o;
  }

  const UpstreamSpec spec_;
  const std::string url_;
  const size_t max_in_flight_;
  std::atomic<size_t> pending_{0};  // posted and not yet answered
  TransportCounters counters_;
  FailureLog failure_log_;
  HttpMultiplexer http_;
};

}  // namespace

Result<std::vector<uint8_t>> EncryptedUpstream::exchange(std::span<const uint8_t> query,
                                                         int timeout_ms) {
  struct Exchange {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::vector<uint8_t> answer;
  };
  // Shared with the callback: it may run after a caller that gave up has returned.
  auto x = std::make_shared<Exchange>();
  submit(query, timeout_ms, [x](std::span<const uint8_t> answer) {
    std::lock_guard lock(x->mu);
    x->answer.assign(answer.begin(), answer.end());
    x->done = true;
    x->cv.notify_one();
  });
  std::unique_lock lock(x->mu);
  // The transport keeps the deadline and always calls back; the margin only guards against
  // a lost callback.
  x->cv.wait_for(lock, std::chrono::milliseconds(timeout_ms + 1000), [&] { return x->done; });
  if (!x->done || x->answer.empty()) {
    return Status::unavailable(spec().toString() + ": no answer");
  }
  return std::move(x->answer);
}

Result<std::unique_ptr<EncryptedUpstream>> EncryptedUpstream::create(
    const UpstreamSpec& spec, const EncryptedUpstreamOptions& options) {
  auto address = SocketAddress::parse(spec.hostPort());
  if (!address) return Status::invalid(spec.toString() + ": not an address");
  switch (spec.protocol) {
    case UpstreamProtocol::kTls:
      return std::unique_ptr<EncryptedUpstream>(new TlsUpstream(spec, *address, options));
    case UpstreamProtocol::kHttps:
      return std::unique_ptr<EncryptedUpstream>(new HttpsUpstream(spec, options));
    case UpstreamProtocol::kPlain: break;
  }
  return Status::invalid(spec.toString() + " is a plain upstream, not an encrypted one");
}

}  // namespace safegate
