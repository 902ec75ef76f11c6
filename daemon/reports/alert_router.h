// AlertRouter: turns incidents with alert-* actions into messages for the safeguarding lead's
// destinations ([[alerts]], docs/alerts.md) and queues them in the outbox.
//
// Per destination: a filter (actions, categories, groups), a rate limit (one alert per device
// and category per rate_limit_minutes; later ones are counted and the count travels with the
// next alert that passes, so nothing is hidden, only folded), and a batching window
// (batch_seconds: alerts inside it become one webhook body or one e-mail, at most 500 each;
// syslog sends one message per alert, as collectors expect). onAlert() only appends in memory;
// flush(), called about once a second by the outbox delivery thread (its producer hook, at that
// thread's low CPU priority), writes everything due to the outbox in one transaction — never an
// fsync per alert on the incident writer's thread. Alerts name the device when a [[clients]] entry
// names it, otherwise its pseudonym — never its address — and never the name of a licensed
// (child-abuse / terrorism) list entry: those say only the category.
//
// Thread-safety: onAlert() is called by the incident writer thread, flush() by the delivery
// thread (and once more by the main thread at shutdown, after it stopped); both take one mutex and
// do no network I/O (flush() writes the outbox file).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/outbox_store.h"
#include "daemon/control/access_requests.h"
#include "daemon/lists/list_store.h"
#include "daemon/reports/alert_digest.h"
#include "daemon/store/incident_store.h"
#include "policy/config.h"
#include "policy/time_zone.h"

namespace safegate {

struct AlertRouterStats {
  uint64_t alerts = 0;      // notices that matched a destination's filter
  uint64_t suppressed = 0;  // folded into a later alert by a rate limit
  uint64_t messages = 0;    // outbox messages queued
  uint64_t enqueue_errors = 0;
  uint64_t dropped = 0;          // more than the per-destination backlog held between flushes
  uint64_t digests = 0;          // daily digests queued
  uint64_t list_notices = 0;     // list notices queued (one per destination)
  uint64_t request_notices = 0;  // request notices queued (one per destination)
  std::string last_error;
};

class AlertRouter {
 public:
  // `hostname` and `deployment_id` identify the gateway in every message; digests are due at
  // their local time in `time_zone` and read `incident_db`.
  AlertRouter(std::vector<policy::AlertSettings> routes, std::string outbox_path,
              OutboxOptions outbox, std::string hostname, std::string deployment_id,
              const Clock& clock, policy::TimeZone time_zone = policy::TimeZone::utc(),
              std::filesystem::path incident_db = {});

  void onAlert(const AlertNotice& notice);
  // Whether a destination exports plain block / monitor incidents too (actions "block",
  // "monitor"): the incident store then hands every such incident to onAlert().
  bool wantsEveryIncident() const;
  // A subscribed list's health changed (daemon/lists/list_refresher.h): for every destination with
  // list_notices on, one message at the next flush (no batching, no rate limit: the refresher
  // already sends a failure at most once a day). Called by the list refresher thread.
  void onListNotice(const ListNotice& notice);
  // A child filed a request (access, wrong block, may be illegal): for every destination with
  // request_notices on whose `groups` take the request's group, one message at the next flush
  // (no batching, no rate limit: the request book limits each device already). Called by the
  // control thread.
  void onRequestNotice(const RequestNotice& notice);
  // Queues every batch whose window has closed (batch_seconds = 0: everything pending; all of
  // them with `force`, at shutdown).
  // Returns whether it queued any message (the delivery thread then delivers at once).
  bool flush(bool force = false);

  // Queues each destination's daily digest once its local time has come (once per local day;
  // the idempotency key "digest:<destination>:<date>" keeps a restart from sending it twice).
  // Called about once a minute by the daemon's main loop.
  void sendDueDigests();

  AlertRouterStats stats() const;

 private:
  struct Pending {
    AlertNotice notice;
    int64_t suppressed_before = 0;  // alerts folded into this one by the rate limit
  };
  struct Route {
    policy::AlertSettings settings;
    std::vector<Pending> batch;
    std::vector<ListNotice> list_notices;
    std::vector<RequestNotice> request_notices;
    int64_t batch_started_ms = 0;
    struct Window {
      int64_t started_ms = 0;
      int64_t suppressed = 0;
    };
    std::map<std::string, Window> windows;  // device + '\n' + category
    int32_t digest_day = -1;                // local day (days since 1970) of the last digest queued
  };

  bool matches(const policy::AlertSettings& s, const AlertNotice& n) const;
  void enqueue(Route& r, int64_t now_ms);
  // Queues each notice as its own message in one transaction; they stay for the next flush when
  // the outbox cannot be opened or written, and a full outbox is logged.
  template <typename Notice, typename Render>
  void enqueueNotices(Route& r, std::vector<Notice>& notices, const char* kind, uint64_t& counter,
                      int64_t now_ms, Render render);
  // The outbox, opened on first use; nullptr (error counted) when it cannot be opened.
  OutboxStore* outbox();
  // An e-mail's header lines and the blank line after them (RFC 5322; no CR/LF from values).
  std::string emailHead(const Route& r, const std::string& subject, int64_t now_ms,
                        const std::string& key) const;
  std::string renderWebhook(std::span<const Pending> batch, int64_t now_ms) const;
  std::string renderEmail(const Route& r, std::span<const Pending> batch, int64_t now_ms,
                          const std::string& key) const;
  std::string renderSyslog(const Pending& p) const;
  std::string renderListNotice(const Route& r, const ListNotice& n, int64_t now_ms,
                               const std::string& key) const;
  std::string renderRequestNotice(const Route& r, const RequestNotice& n, int64_t now_ms,
                                  const std::string& key) const;
  std::vector<std::string> renderDigest(const Route& r, const std::vector<GroupDigest>& groups,
                                        const std::string& date, const std::string& key,
                                        int64_t now_ms) const;

  mutable std::mutex mu_;
  std::vector<Route> routes_;
  std::string outbox_path_;
  OutboxOptions outbox_options_;
  std::unique_ptr<OutboxStore> outbox_;
  std::string hostname_;
  std::string deployment_id_;
  const Clock& clock_;
  policy::TimeZone time_zone_;
  std::filesystem::path incident_db_;
  AlertRouterStats stats_;
  uint64_t logged_dropped_ = 0;
};

}  // namespace safegate
