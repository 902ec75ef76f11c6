// decide() on a large policy: 1,000,000 list entries across 10 categories, 1,000
// regex rules, 50 groups with schedules, 200 clients. Reports per-decision median and p99
// (timed one by one), compile time, and the memory the compiled snapshot holds (a reload
// holds two snapshots for a moment).
//
//   build/<dir>/bench/policy_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "policy/policy_engine.h"

namespace {

namespace fs = std::filesystem;
using safegate::DiagnosticSink;
using safegate::IpAddress;
using safegate::RequestFacts;
using namespace safegate::policy;

long rssKb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::strlen(field)));
  }
  return 0;
}

std::string randomLabel(std::mt19937_64& rng, size_t min_len, size_t max_len) {
  static const char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::uniform_int_distribution<size_t> len(min_len, max_len);
  std::uniform_int_distribution<size_t> c(0, 35);
  std::string s(len(rng), 'a');
  for (auto& ch : s) ch = kChars[c(rng)];
  s[0] = 'a' + static_cast<char>(c(rng) % 26);
  return s;
}

struct Fixture {
  fs::path dir;
  PolicySnapshotPtr snap;
  std::vector<std::string> hits, misses;
  std::vector<IpAddress> clients;
  double compile_seconds = 0;
  long rss_delta_kb = 0;
  long peak_kb = 0;

  Fixture() {
    dir = fs::temp_directory_path() / ("policy_bench_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::mt19937_64 rng(42);
    const char* cats[] = {"pornography", "gambling", "drugs",  "violence",  "piracy",
                          "social",      "games",    "dating", "streaming", "circumvention"};
    const char* tlds[] = {"com", "net", "org", "info", "co.uk", "de", "ru", "xyz"};
    std::string config = "[policy]\ntime_zone = \"Europe/London\"\ndefault_group = \"g0\"\n";
    for (int c = 0; c < 10; ++c) {
      const fs::path list = dir / ("list" + std::to_string(c) + ".txt");
      std::ofstream out(list);
      for (int i = 0; i < 100000; ++i) {
        std::string name = randomLabel(rng, 5, 14) + "." + tlds[rng() % 8];
        out << "0.0.0.0 " << name << "\n";
        if (i % 100 == 0) hits.push_back("www." + name);
      }
      config += "[[lists]]\nname = \"l" + std::to_string(c) + "\"\ncategory = \"" + cats[c] +
                "\"\nformat = \"hosts\"\nsources = [\"" + list.string() + "\"]\n";
    }
    {
      std::ofstream out(dir / "rules.re");
      for (int i = 0; i < 1000; ++i) {
        out << "(^|\\.)" << randomLabel(rng, 6, 10) << "-?(bad|worse)[0-9]*(\\.|$)\n";
      }
      config += "[[rules]]\nname = \"kw\"\ncategory = \"extremism\"\nsources = [\"" +
                (dir / "rules.re").string() + "\"]\n";
    }
    const char* profiles[] = {"under-9", "9-12", "13-17", "staff", "guests"};
    for (int s = 0; s < 50; ++s) {
      config += "[[schedules]]\nname = \"s" + std::to_string(s) + "\"\nwindows = [\"mon-fri 0" +
                std::to_string(s % 9) + ":00-15:30\", \"sat 21:00-07:00\"]\n";
    }
    for (int g = 0; g < 50; ++g) {
      config += "[[groups]]\nname = \"g" + std::to_string(g) + "\"\nprofile = \"" +
                profiles[g % 5] + "\"\n[[groups.schedules]]\nschedule = \"s" + std::to_string(g) +
                "\"\ncategories = { social = \"block\", games = \"block\" }\n";
    }
    for (int c = 0; c < 200; ++c) {
      const std::string net = "10." + std::to_string(c / 50) + "." + std::to_string(c % 50);
      config += "[[clients]]\nname = \"c" + std::to_string(c) + "\"\ngroup = \"g" +
                std::to_string(c % 50) + "\"\naddresses = [\"" + net + ".0/24\"]\n";
      clients.push_back(*IpAddress::parse(net + ".7"));
    }
    std::ofstream(dir / "safegate.toml") << config;
    for (int i = 0; i < 10000; ++i) {
      misses.push_back(randomLabel(rng, 3, 8) + "." + randomLabel(rng, 5, 12) + "." +
                       tlds[rng() % 8]);
    }

    const long before = rssKb("VmRSS:");
    {
      const auto start = std::chrono::steady_clock::now();
      DiagnosticSink sink;
      auto loaded = PolicyEngine::load(dir / "safegate.toml", sink);
      compile_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (!loaded) {
        std::fprintf(stderr, "%s\n", sink.toString().c_str());
        std::abort();
      }
      snap = loaded->snapshot;
    }
    // Drop the parsed config, then return the compile's garbage to the OS as the daemon does
    // after every load (daemon/daemon.cc), so the delta is the snapshot itself.
    malloc_trim(0);
    rss_delta_kb = rssKb("VmRSS:") - before;
    peak_kb = rssKb("VmHWM:");
  }
  ~Fixture() { fs::remove_all(dir); }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

// Times every decision separately over a 30 % hit / 70 % miss mix.
void BM_DecideLatency(benchmark::State& state) {
  Fixture& f = fixture();
  std::vector<const std::string*> names;
  for (size_t i = 0; i < 10000; ++i) {
    names.push_back(i % 10 < 3 ? &f.hits[i % f.hits.size()] : &f.misses[i % f.misses.size()]);
  }
  std::vector<double> ns;
  ns.reserve(2000000);
  RequestFacts facts;
  facts.unix_time_seconds = 1795434000;
  size_t i = 0, blocked = 0;
  for (auto _ : state) {
    facts.name = *names[i % names.size()];
    facts.client = f.clients[i % f.clients.size()];
    const auto t0 = std::chrono::steady_clock::now();
    auto d = f.snap->decide(facts);
    const auto t1 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(d);
    blocked += d.verdict == safegate::Verdict::kBlock;
    if (ns.size() < ns.capacity())
      ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
    ++i;
  }
  std::sort(ns.begin(), ns.end());
  state.counters["median_ns"] = ns[ns.size() / 2];
  state.counters["p99_ns"] = ns[ns.size() * 99 / 100];
  state.counters["blocked_pct"] = 100.0 * blocked / static_cast<double>(i);
  state.counters["compile_s"] = f.compile_seconds;
  state.counters["snapshot_rss_MiB"] = f.rss_delta_kb / 1024.0;
  state.counters["snapshot_est_MiB"] = f.snap->stats().memory_bytes / 1048576.0;
  state.counters["peak_rss_MiB"] = f.peak_kb / 1024.0;
  state.counters["entries"] = static_cast<double>(f.snap->stats().list_entries);
}
BENCHMARK(BM_DecideLatency)->Iterations(2000000)->Unit(benchmark::kNanosecond);

// Throughput without per-call clock reads.
void BM_DecideThroughput(benchmark::State& state) {
  Fixture& f = fixture();
  RequestFacts facts;
  facts.unix_time_seconds = 1795434000;
  size_t i = 0;
  for (auto _ : state) {
    facts.name = (i % 10 < 3) ? f.hits[i % f.hits.size()] : f.misses[i % f.misses.size()];
    facts.client = f.clients[i % f.clients.size()];
    benchmark::DoNotOptimize(f.snap->decide(facts));
    ++i;
  }
}
BENCHMARK(BM_DecideThroughput)->Unit(benchmark::kNanosecond);

}  // namespace

BENCHMARK_MAIN();
