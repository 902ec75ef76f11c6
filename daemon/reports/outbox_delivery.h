// OutboxDelivery: the thread that empties the outbox (common/outbox_store.h) towards the
// configured destinations over HTTPS (daemon/http_client.h), off every DNS and packet path.
//
// One pass takes the due messages oldest first and, per message, sends its payload to its
// destination with the message's idempotency key as the `Idempotency-Key` header (so a resend
// after a crash is dropped by the receiver), the destination's fixed headers (a bearer token for
// the hotline) and, for destinations with a signing secret, an HMAC-SHA256 of the exact body in
// `X-Safegate-Signature: sha256=<hex>` (webhooks: the receiver proves the alert came from this
// gateway). E-mail destinations send the payload over SMTP with TLS (daemon/http_client.h's
// MailClient) and syslog destinations over TCP or TLS (daemon/reports/syslog_sender.h); for them
// any failure is retried. For HTTPS the answer decides what happens next (docs/outbox.md):
//   2xx                          delivered
//   429, 503                     retried after max(Retry-After, backoff)
//   408, 425, 5xx, no response   retried after the backoff (exponential, jittered)
//   other 4xx                    dead-lettered at once: resending the same bytes cannot help;
//                                the administrator fixes the cause and runs `outbox retry`
//   unknown destination          dead-lettered ("destination X is not configured")
// A message still undelivered at its expiry is dead-lettered with its last error. Nothing is
// deleted but delivered messages past OutboxOptions::keep_delivered_ms.
//
// Thread-safety: start()/stop()/wake()/stats() may be called from any thread; deliverDue() is
// for tests and must not run while the thread does. The clock and the destinations are borrowed
// and must outlive the object.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/outbox_store.h"
#include "common/result.h"
#include "daemon/http_client.h"
#include "daemon/reports/syslog_sender.h"

namespace safegate {

// How a destination is reached. The payload is always sent as it was queued: a JSON body for
// kHttps, a whole RFC 5322 message for kMail, one RFC 5424 message for kSyslog — producers
// render, the delivery thread only transports.
enum class DestinationKind : uint8_t { kHttps, kMail, kSyslog };

struct OutboxDestination {
  std::string name;  // what OutboxNewMessage::destination refers to
  DestinationKind kind = DestinationKind::kHttps;
  // kHttps
  std::string url;  // https:// endpoint the payload is POSTed to
  HttpClientOptions http;
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Authorization
  std::string content_type = "application/json";
  std::string hmac_secret;  // non-empty: sign the body (X-Safegate-Signature)
  // kMail
  MailClientOptions mail;
  std::string mail_from;
  std::vector<std::string> mail_to;
  // kSyslog
  SyslogSenderOptions syslog;
};

struct OutboxDeliveryOptions {
  std::string outbox_path;
  OutboxOptions store;
  OutboxBackoff backoff;
  int64_t max_retry_after_ms = int64_t{24} * 3600 * 1000;  // a server cannot park us longer
  int batch = 16;                                          // messages per pass
  int64_t idle_poll_ms = 60'000;  // re-read the outbox this often even without wake()
  int64_t change_poll_ms = 1000;  // how soon a message queued by another process is noticed
  std::string deployment_id;      // sent as X-Safegate-Deployment (the operator's id)
};

struct OutboxDeliveryStats {
  uint64_t delivered = 0;
  uint64_t failed_attempts = 0;
  uint64_t dead_lettered = 0;
  uint64_t passes = 0;
  std::string last_error;  // of the last failed attempt, "" when none
};

// HMAC-SHA256 of `body` under `secret`, lower-case hex (what X-Safegate-Signature carries
// after "sha256=").
std::string hmacSha256Hex(std::string_view secret, std::string_view body);

class OutboxDelivery {
 public:
  OutboxDelivery(OutboxDeliveryOptions options, std::vector<OutboxDestination> destinations,
                 const Clock& clock);
  ~OutboxDelivery();
  OutboxDelivery(const OutboxDelivery&) = delete;
  OutboxDelivery& operator=(const OutboxDelivery&) = delete;

  // Opens the outbox (so a bad path fails start-up with a clear error) and starts the thread.
  Status start();
  // Stops after the attempt in progress (bounded by the destinations' timeouts).
  void stop();
  // Something was queued: look now rather than at the next due time.
  void wake();
  // Work that renders messages into the outbox (the alert router's flush), run on this
  // thread — at its low CPU priority, off the daemon's main loop — before every pass and at
  // least every change_poll_ms. Returns true when it queued something (a pass follows at once).
  // May be set before or after start().
  void setProducer(std::function<bool()> produce);

  // One pass in the caller's thread (tests): expires, delivers what is due, returns how many
  // messages were attempted.
  Result<int> deliverDue();

  OutboxDeliveryStats stats() const;

 private:
  void run();
  bool runProducer();
  Status openStore();
  // Attempts one message and records the outcome in the store.
  Status attempt(const OutboxMessage& m);
  HttpClient& clientFor(const OutboxDestination& d);
  // kMail and kSyslog: ok, or the reason the message was not accepted (always retryable).
  Status sendOther(const OutboxDestination& d, const OutboxMessage& m);

  OutboxDeliveryOptions options_;
  std::map<std::string, OutboxDestination> destinations_;
  std::map<std::string, std::unique_ptr<HttpClient>> clients_;
  std::map<std::string, std::unique_ptr<MailClient>> mailers_;
  std::map<std::string, std::unique_ptr<SyslogSender>> syslogs_;
  const Clock& clock_;
  std::unique_ptr<OutboxStore> store_;

  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool woken_ = false;
  std::function<bool()> produce_;  // under mu_
  OutboxDeliveryStats stats_;
};

}  // namespace safegate
