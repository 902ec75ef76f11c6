#include "daemon/list_refresher.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "common/logger.h"
#include "common/thread_name.h"

namespace safegate {

ListRefresher::ListRefresher(std::filesystem::path store_dir, ProtectedNames protected_names,
                             const Clock& clock, std::function<void()> on_update)
    : store_(std::move(store_dir)),
      protected_(std::move(protected_names)),
      clock_(clock),
      on_update_(std::move(on_update)) {}

ListRefresher::~ListRefresher() { stop(); }

void ListRefresher::start() {
  thread_ = std::thread([this] { run(); });
}

void ListRefresher::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ListRefresher::setSubscriptions(std::vector<Subscription> subscriptions) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    subscriptions_ = std::move(subscriptions);
    changed_ = true;
  }
  cv_.notify_all();
}

std::vector<ListRecord> ListRefresher::records() const {
  std::vector<Subscription> subs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    subs = subscriptions_;
  }
  std::vector<ListRecord> out;
  for (const auto& s : subs) {
    auto r = store_.load(s.spec.name);
    if (r && r->has_value()) {
      out.push_back(std::move(**r));
    } else {
      ListRecord empty;
      empty.name = s.spec.name;
      empty.url = s.spec.url;
      if (!r) empty.last_error = r.status().message();
      out.push_back(std::move(empty));
    }
  }
  return out;
}

void ListRefresher::run() {
  setThreadName("sg-lists");
  // Downloads and parsing are never urgent: lowest CPU priority for this thread only.
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 19);
  constexpr int64_t kMaxWaitMs = 60'000;
  for (;;) {
    std::vector<Subscription> subs;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      subs = subscriptions_;
      changed_ = false;
    }
    bool updated = false;
    int64_t next_due = clock_.unixMs() + kMaxWaitMs;
    for (const auto& s : subs) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return;
      }
      const int64_t now = clock_.unixMs();
      auto held = store_.load(s.spec.name);
      const bool same_url = held && held->has_value() && (**held).url == s.spec.url;
      if (same_url && (**held).next_refresh_unix_ms > now) {
        next_due = std::min(next_due, (**held).next_refresh_unix_ms);
        continue;
      }
      HttpClient client(s.http);
      RefreshResult r = ListSubscriber(store_, protected_).refresh(client, s.spec, now);
      if (r.outcome == RefreshOutcome::kUpdated) {
        updated = true;
        logInfo("lists", "list updated",
                {{"list", s.spec.name},
                 {"entries", static_cast<unsigned long>(r.record.entries)},
                 {"quarantined", static_cast<unsigned long>(r.record.quarantined.size())}});
      } else if (r.outcome != RefreshOutcome::kUnchanged) {
        logWarning("lists", "list not updated; the last good copy stays in force",
                   {{"list", s.spec.name},
                    {"outcome", std::string(refreshOutcomeName(r.outcome))},
                    {"error", r.record.last_error}});
      }
      next_due = std::min(next_due, r.record.next_refresh_unix_ms);
    }
    if (updated && on_update_) on_update_();
    const int64_t wait_ms = std::clamp<int64_t>(next_due - clock_.unixMs(), 0, kMaxWaitMs);
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] { return stopping_ || changed_; });
    if (stopping_) return;
  }
}

}  // namespace safegate
