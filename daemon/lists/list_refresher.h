// ListRefresher: the background thread that keeps subscribed lists current. It
// refreshes each subscription when its record says it is due (daemon/lists/list_subscriber.h),
// at the lowest CPU priority, and calls `on_update` after a version was kept, so the daemon
// reloads the policy from the kept copies. Start-up never waits for it: the policy compiles
// from what state_dir/lists already holds.
//
// Changes in a list's health go to `on_notice` (the alert router, docs/alerts.md): a list
// that starts failing or is refused by the gate (again once a day while it stays so), one that
// recovers, and a new version with a different set of quarantined entries. A list that keeps
// failing (for the same reason or another) is logged at every attempt but told again only a
// day after the last notice.
//
// Thread-safety: start(), stop(), setSubscriptions() and records() from any thread.
#pragma once

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "daemon/http_client.h"
#include "daemon/lists/list_store.h"
#include "daemon/lists/list_subscriber.h"

namespace safegate {

struct Subscription {
  SubscriptionSpec spec;
  HttpClientOptions http;
};

// What a refresh changed that a person should hear about (see above): compares the record
// before a refresh with its result. Remembers when each list's failure was last told.
// Thread-safety: one thread.
class ListNoticeTracker {
 public:
  std::vector<ListNotice> after(const ListRecord* before, const RefreshResult& result,
                                int64_t now_ms);

 private:
  std::map<std::string, int64_t> failure_noticed_ms_;
};

class ListRefresher {
 public:
  ListRefresher(std::filesystem::path store_dir, ProtectedNames protected_names, const Clock& clock,
                std::function<void()> on_update);
  ~ListRefresher();
  ListRefresher(const ListRefresher&) = delete;
  ListRefresher& operator=(const ListRefresher&) = delete;

  // Before start().
  void setNoticeSink(std::function<void(const ListNotice&)> on_notice) {
    on_notice_ = std::move(on_notice);
  }
  void start();
  void stop();
  // The subscriptions of the config now in force (after a reload); looked at again at once.
  void setSubscriptions(std::vector<Subscription> subscriptions);
  // One record per subscription (what `safegatectl lists` shows); a list never tried yet has
  // a record with only its name and URL.
  std::vector<ListRecord> records() const;

 private:
  void run();

  ListStore store_;
  ProtectedNames protected_;
  const Clock& clock_;
  std::function<void()> on_update_;
  std::function<void(const ListNotice&)> on_notice_;
  ListNoticeTracker notices_;  // run() thread only
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Subscription> subscriptions_;  // under mu_
  bool changed_ = false;                     // under mu_
  bool stopping_ = false;                    // under mu_
};

}  // namespace safegate
