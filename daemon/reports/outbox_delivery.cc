#include "daemon/reports/outbox_delivery.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "common/hex.h"
#include "common/logger.h"
#include "common/thread_name.h"

namespace safegate {
namespace {

constexpr int64_t kPurgeEveryMs = 3600 * 1000;

// The first bytes of a receiver's error body, on one line, for the outbox's last error.
std::string snippet(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, 120)) out += (c == '\n' || c == '\r') ? ' ' : c;
  return out;
}

uint64_t jitterRandom() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

}  // namespace

std::string hmacSha256Hex(std::string_view secret, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  return hexEncode(std::span<const unsigned char>(mac, len));
}

OutboxDelivery::OutboxDelivery(OutboxDeliveryOptions options,
                               std::vector<OutboxDestination> destinations, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {
  for (auto& d : destinations) {
    std::string name = d.name;
    destinations_.emplace(std::move(name), std::move(d));
  }
}

OutboxDelivery::~OutboxDelivery() { stop(); }

Status OutboxDelivery::openStore() {
  if (store_) return Status::ok();
  auto s = OutboxStore::open(options_.outbox_path, options_.store);
  if (!s) return s.status();
  store_ = std::make_unique<OutboxStore>(std::move(s.value()));
  return Status::ok();
}

Status OutboxDelivery::start() {
  if (Status s = openStore(); !s) return s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { run(); });
  return Status::ok();
}

void OutboxDelivery::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void OutboxDelivery::wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

OutboxDeliveryStats OutboxDelivery::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

HttpClient& OutboxDelivery::clientFor(const OutboxDestination& d) {
  auto& c = clients_[d.name];
  if (!c) c = std::make_unique<HttpClient>(d.http);
  return *c;
}

Status OutboxDelivery::sendOther(const OutboxDestination& d, const OutboxMessage& m) {
  if (d.kind == DestinationKind::kMail) {
    auto& mailer = mailers_[d.name];
    if (!mailer) mailer = std::make_unique<MailClient>(d.mail);
    return mailer->send({d.mail_from, d.mail_to, m.payload});
  }
  auto& sender = syslogs_[d.name];
  if (!sender) sender = std::make_unique<SyslogSender>(d.syslog);
  return sender->send(m.payload);
}

Status OutboxDelivery::attempt(const OutboxMessage& m) {
  const int64_t now = clock_.unixMs();
  auto it = destinations_.find(m.destination);
  if (it == destinations_.end()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.dead_lettered;
    }
    return store_->markDead(m.id, "destination \"" + m.destination + "\" is not configured", now);
  }
  const OutboxDestination& d = it->second;
  if (d.kind != DestinationKind::kHttps) {
    Status sent = sendOther(d, m);
    const int64_t at = clock_.unixMs();
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++(sent ? stats_.delivered : stats_.failed_attempts);
      if (!sent) stats_.last_error = sent.message();
    }
    if (sent) return store_->markDelivered(m.id, at);
    return store_->markFailed(
        m.id, sent.message(), at,
        at + outboxRetryDelayMs(m.attempts + 1, options_.backoff, jitterRandom()));
  }
  HttpClientRequest req;
  req.method = "POST";
  req.url = d.url;
  req.body = m.payload;
  req.headers = d.headers;
  req.headers.emplace_back("Content-Type", d.content_type);
  req.headers.emplace_back("Idempotency-Key", m.idempotency_key);
  if (!options_.deployment_id.empty()) {
    req.headers.emplace_back("X-Safegate-Deployment", options_.deployment_id);
  }
  if (!d.hmac_secret.empty()) {
    req.headers.emplace_back("X-Safegate-Signature",
                             "sha256=" + hmacSha256Hex(d.hmac_secret, m.payload));
  }

  auto response = clientFor(d).perform(req);
  const int64_t done = clock_.unixMs();
  int64_t delay = outboxRetryDelayMs(m.attempts + 1, options_.backoff, jitterRandom());
  std::string error;
  bool permanent = false;
  if (!response) {
    error = response.status().message();
  } else {
    const long code = response->status;
    if (code >= 200 && code < 300) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.delivered;
      }
      return store_->markDelivered(m.id, done);
    }
    error = d.name + ": HTTP " + std::to_string(code);
    const std::string body = snippet(response->body);
    if (!body.empty()) error += ": " + body;
    if (code == 429 || code == 503) {
      // RFC 9110 §10.2.3 / RFC 6585 §4: the server says when; never sooner than our own backoff,
      // never later than max_retry_after_ms.
      if (auto ra = parseRetryAfterMs(response->header("retry-after"), done)) {
        delay = std::clamp(*ra, delay, std::max(delay, options_.max_retry_after_ms));
      }
    } else if (code >= 400 && code < 500 && code != 408 && code != 425) {
      permanent = true;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.failed_attempts;
    stats_.last_error = error;
    if (permanent) ++stats_.dead_lettered;
  }
  if (permanent) return store_->markDead(m.id, error, done);
  return store_->markFailed(m.id, error, done, done + delay);
}

Result<int> OutboxDelivery::deliverDue() {
  if (Status s = openStore(); !s) return s;
  const int64_t now = clock_.unixMs();
  auto expired = store_->expire(now);
  if (!expired) return expired.status();
  if (expired.value() > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.dead_lettered += static_cast<uint64_t>(expired.value());
  }
  auto due = store_->due(now, options_.batch);
  if (!due) return due.status();
  int attempted = 0;
  for (const OutboxMessage& m : due.value()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
    }
    if (Status s = attempt(m); !s) return s;
    ++attempted;
  }
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.passes;
  return attempted;
}

void OutboxDelivery::setProducer(std::function<bool()> produce) {
  std::lock_guard<std::mutex> lock(mu_);
  produce_ = std::move(produce);
}

bool OutboxDelivery::runProducer() {
  std::function<bool()> produce;
  {
    std::lock_guard<std::mutex> lock(mu_);
    produce = produce_;
  }
  return produce && produce();
}

void OutboxDelivery::run() {
  setThreadName("sg-outbox");
  // Delivery is never in a hurry (seconds count, not microseconds) and its TLS handshakes and
  // fsyncs must not take the CPU from the DNS workers: lowest CPU priority for this thread
  // only (on Linux setpriority on a thread id applies to that thread; docs/performance.md).
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 19);
  int64_t last_purge = 0;
  for (;;) {
    (void)runProducer();
    auto pass = deliverDue();
    if (!pass) {
      logWarning("outbox", "delivery pass failed", {{"error", pass.status().toString()}});
    }
    const int64_t now = clock_.unixMs();
    if (now - last_purge >= kPurgeEveryMs) {
      (void)store_->purgeDelivered(now);
      last_purge = now;
    }
    // A full batch means more may be due: go round again at once.
    if (pass && pass.value() >= options_.batch) continue;
    int64_t wait_ms = options_.idle_poll_ms;
    if (auto next = store_->nextDueUnixMs(); next && next.value()) {
      wait_ms = std::clamp<int64_t>(*next.value() - clock_.unixMs(), 0, options_.idle_poll_ms);
    }
    // Wait in short slices: safegatectl queues from another process and cannot wake() us, but
    // its commit changes the file's data_version, which one cheap query per slice notices.
    auto version = store_->dataVersion();
    for (int64_t waited = 0; waited < wait_ms;) {
      const int64_t slice = std::min<int64_t>(options_.change_poll_ms, wait_ms - waited);
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_for(lock, std::chrono::milliseconds(slice), [&] { return stopping_ || woken_; });
        if (stopping_) return;
        if (woken_) {
          woken_ = false;
          break;
        }
      }
      waited += slice;
      if (runProducer()) break;
      auto now_version = store_->dataVersion();
      if (version && now_version && now_version.value() != version.value()) break;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
  }
}

}  // namespace safegate
