// What alerts cost the DNS path (results in docs/performance.md): the time of
// IncidentStore::record() — all a DNS worker does for an incident — with the writer running,
// (a) without alerts and (b) with the alert router attached (no rate limit: every alert
// travels) and its batches flushed to a real outbox file once a second, as safegated runs it.
// 600,000 incidents at a paced rate, one in 20 alerting (20,000/s -> 1,000 alerts/s);
// median, p99 and p99.9 per call; the two set-ups alternate twice.
//
//   build/release/bench/alert_enqueue_bench [INCIDENTS_PER_SECOND (20000)]
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "daemon/reports/alert_router.h"
#include "daemon/store/incident_store.h"

namespace {

using namespace safegate;

int64_t nowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

IncidentEvent incident(int i, bool alert) {
  RequestFacts f;
  f.client = *IpAddress::parse("192.168.1.20");
  static const std::string names[] = {"cut.example", "hurt.example", "pain.example"};
  f.name = names[i % 3];
  Decision d;
  d.verdict = Verdict::kBlock;
  d.log = true;
  d.alert = alert;
  d.reason = DecisionReason::kCategory;
  d.group = "year-7";
  d.category = "self-harm";
  return IncidentEvent::fromDecision(f, d, SystemClock::instance().unixMs());
}

void run(const char* label, bool with_alerts, int rate, const std::filesystem::path& dir) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  IncidentStoreOptions o;
  o.database_path = dir / "incidents.sqlite";
  o.secret_file = dir / "secret";
  auto store = IncidentStore::open(o);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.status().toString().c_str());
    std::exit(1);
  }
  std::unique_ptr<AlertRouter> router;
  std::atomic<bool> stop{false};
  std::thread flusher;
  if (with_alerts) {
    policy::AlertSettings s;
    s.name = "lead";
    s.kind = policy::AlertKind::kWebhook;
    s.batch_seconds = 1;
    s.rate_limit_minutes = 0;  // every alert travels: the worst case
    router = std::make_unique<AlertRouter>(std::vector<policy::AlertSettings>{s},
                                           (dir / "outbox.sqlite").string(), OutboxOptions{},
                                           "bench", "", SystemClock::instance());
    (*store)->setAlertSink([r = router.get()](const AlertNotice& n) { r->onAlert(n); });
    flusher = std::thread([&] {
      while (!stop) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        router->flush();
      }
    });
  }
  (*store)->start();
  constexpr int kCalls = 600'000;
  std::vector<int64_t> ns(kCalls);
  const IncidentEvent plain = incident(0, false);
  const IncidentEvent alerting = incident(1, true);
  const int64_t period_ns = 1'000'000'000 / rate;
  const int64_t start = nowNs();
  for (int i = 0; i < kCalls; ++i) {
    while (nowNs() < start + i * period_ns) {
    }
    const int64_t t0 = nowNs();
    (*store)->record(i % 20 == 0 ? alerting : plain);
    ns[i] = nowNs() - t0;
  }
  const int64_t elapsed = nowNs() - start;
  stop = true;
  if (flusher.joinable()) flusher.join();
  (*store)->stop();
  if (router) router->flush(true);
  std::sort(ns.begin(), ns.end());
  const IncidentStoreStats st = (*store)->stats();
  std::printf(
      "%-10s record(): median %4lld ns  p99 %5lld ns  p99.9 %6lld ns  (%d calls at %d/s "
      "in %.1f s; written %llu, dropped %llu",
      label, static_cast<long long>(ns[kCalls / 2]), static_cast<long long>(ns[kCalls * 99 / 100]),
      static_cast<long long>(ns[kCalls * 999 / 1000]), kCalls, rate, elapsed / 1e9,
      static_cast<unsigned long long>(st.written),
      static_cast<unsigned long long>(st.dropped_queue_full));
  if (router) {
    const AlertRouterStats a = router->stats();
    std::printf("; alerts %llu in %llu outbox messages", static_cast<unsigned long long>(a.alerts),
                static_cast<unsigned long long>(a.messages));
  }
  std::printf(")\n");
}

}  // namespace

int main(int argc, char** argv) {
  const int rate = argc > 1 ? std::atoi(argv[1]) : 20'000;
  const auto dir =
      std::filesystem::temp_directory_path() / ("sg-alert-bench-" + std::to_string(getpid()));
  for (int round = 0; round < 2; ++round) {
    run("no-alerts", false, rate, dir);
    run("alerts", true, rate, dir);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
