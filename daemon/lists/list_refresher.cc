#include "daemon/lists/list_refresher.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <set>

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

std::vector<ListNotice> ListNoticeTracker::after(const ListRecord* before,
                                                 const RefreshResult& result, int64_t now_ms) {
  // A list failing the same way all week is one notice a day, not one per retry.
  constexpr int64_t kRepeatFailureMs = int64_t{24} * 3600 * 1000;
  const ListRecord& r = result.record;
  const bool was_failing = before && !before->last_error.empty();
  auto notice = [&](ListNotice::Kind kind) {
    ListNotice n;
    n.unix_ms = now_ms;
    n.kind = kind;
    n.list = r.name;
    n.has_good_copy = r.good.has_value();
    n.entries = r.entries;
    n.last_success_unix_ms = r.last_success_unix_ms;
    return n;
  };
  switch (result.outcome) {
    case RefreshOutcome::kFailed:
    case RefreshOutcome::kRefused: {
      auto it = failure_noticed_ms_.find(r.name);
      if (was_failing && it != failure_noticed_ms_.end() &&
          now_ms - it->second < kRepeatFailureMs) {
        return {};
      }
      failure_noticed_ms_[r.name] = now_ms;
      ListNotice n = notice(result.outcome == RefreshOutcome::kFailed ? ListNotice::Kind::kFailed
                                                                      : ListNotice::Kind::kRefused);
      n.error = r.last_error;
      return {n};
    }
    case RefreshOutcome::kUpdated:
    case RefreshOutcome::kUnchanged: {
      failure_noticed_ms_.erase(r.name);
      std::vector<ListNotice> out;
      if (was_failing) out.push_back(notice(ListNotice::Kind::kRecovered));
      if (result.outcome != RefreshOutcome::kUpdated || r.quarantined.empty()) return out;
      auto names = [](const std::vector<QuarantinedEntry>& q) {
        std::set<std::string> out;
        for (const auto& e : q) out.insert(e.name);
        return out;
      };
      if (before && names(before->quarantined) == names(r.quarantined)) return out;
      ListNotice n = notice(ListNotice::Kind::kQuarantined);
      n.quarantined = r.quarantined;
      out.push_back(std::move(n));
      return out;
    }
  }
  return {};
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
      for (const ListNotice& n : notices_.after(same_url ? &**held : nullptr, r, now)) {
        if (on_notice_) on_notice_(n);
      }
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
