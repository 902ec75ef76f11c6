// RegexRuleSet benchmarks (docs/performance.md, "RE2 rule sets"):
//   BM_Match1000Hosts        — 1,000 realistic host patterns, time per host name (target <= 1 µs)
//   BM_Match10000Hosts/<MiB> — 10,000 patterns at several RE2 memory budgets, to show the cliff
//   BM_Build/<n>             — time to validate and compile n patterns
// Patterns and host names come from a seeded generator, so runs are comparable.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "filters/regex_rule_set.h"

namespace {

using safegate::DiagnosticSink;
using safegate::RegexRuleSet;
using safegate::RegexRuleSetOptions;

const char* const kKeywords[] = {
    "porn",     "sex",         "xxx",     "casino",    "poker",   "bet",     "slots",  "tube",
    "cam",      "chat",        "proxy",   "vpn",       "unblock", "torrent", "warez",  "crack",
    "keygen",   "dating",      "hookup",  "escort",    "nude",    "adult",   "gamble", "lotto",
    "roulette", "blackjack",   "vape",    "weed",      "drugs",   "hentai",  "anime",  "tracker",
    "ads",      "doubleclick", "metrics", "analytics", "stream",  "free",    "live",   "hot",
    "teen",     "milf",        "fetish",  "kink"};
const char* const kSyllables[] = {"ka",  "lo",  "mi",  "ne",  "ru",  "sa",  "te",
                                  "vo",  "zu",  "bri", "dan", "fel", "gor", "hin",
                                  "jas", "kor", "lum", "mar", "nix", "pol", "qua",
                                  "ros", "sil", "tor", "ulm", "ver", "wex", "yan"};
const char* const kTlds[] = {"com", "net", "org", "io", "de", "fr", "co.uk", "xyz", "info", "ru"};

struct Generator {
  std::mt19937 rng;
  explicit Generator(uint32_t seed) : rng(seed) {}
  template <size_t N>
  const char* pick(const char* const (&a)[N]) {
    return a[rng() % N];
  }
  std::string word(int min_syllables, int max_syllables) {
    std::string w;
    int n = min_syllables + static_cast<int>(rng() % (max_syllables - min_syllables + 1));
    for (int i = 0; i < n; ++i) w += pick(kSyllables);
    return w;
  }
  // A realistic keyword: a category word, optionally glued to a random word.
  std::string keyword() {
    switch (rng() % 3) {
      case 0: return pick(kKeywords);
      case 1: return std::string(pick(kKeywords)) + word(1, 2);
      default: return word(1, 2) + pick(kKeywords);
    }
  }
  // Pattern shapes seen in DNS filter lists and squidGuard expressions. `wildcard_share`
  // (percent) are "a.*b" keyword pairs, the shape that multiplies DFA states.
  std::string pattern(int wildcard_share) {
    if (static_cast<int>(rng() % 100) < wildcard_share) {
      return word(1, 2) + ".*" + word(1, 2);  // e.g. "kasa.*lum"
    }
    switch (rng() % 5) {
      case 0: return keyword();                                                 // plain keyword
      case 1: return "^(www\\.)?" + keyword() + "[0-9]*\\.(com|net|org|xyz)$";  // anchored host
      case 2: return "(^|\\.)" + keyword() + "(-[a-z0-9]+)?\\.";                // label-bounded
      case 3: return "^ad[sv]?[0-9]*\\." + word(1, 3) + "\\.";                  // ad-server style
      default: return "(^|[.-])" + keyword() + "([.-]|$)";                      // word in a label
    }
  }
  std::string host() {
    std::string h;
    if (rng() % 5 == 0) {
      // CDN-style hashed label, e.g. "d3k9a0x7q2.cdn.example.net".
      for (int i = 0; i < 10; ++i) h += "abcdefghijklmnopqrstuvwxyz0123456789"[rng() % 36];
      return h + ".cdn." + word(1, 2) + "." + pick(kTlds);
    }
    if (rng() % 3 == 0) h = "www.";
    if (rng() % 10 == 0) {
      h += keyword();  // ~10 % of names carry a category word (some will hit)
    } else {
      h += word(2, 4);
    }
    if (rng() % 4 == 0) h += "." + word(1, 3);
    h += ".";
    h += pick(kTlds);
    return h;
  }
};

long rssKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

std::shared_ptr<const RegexRuleSet> makeSet(int n, int64_t max_mem, int wildcard_share,
                                            bool probe = false) {
  Generator g(42);
  RegexRuleSetOptions o;
  o.max_mem_bytes = max_mem;
  o.probe = probe;
  o.slow_match_sample_interval = 0;  // measure RE2, not the sampler
  o.reject_severity = safegate::Severity::kWarning;
  RegexRuleSet::Builder b(o);
  DiagnosticSink sink;
  for (int i = 0; i < n; ++i) {
    b.add(g.pattern(wildcard_share), {"bench", static_cast<uint32_t>(i + 1), 0},
          static_cast<uint32_t>(i), sink);
  }
  auto r = b.build(sink);
  if (!sink.all().empty()) std::fprintf(stderr, "%s", sink.toString().c_str());
  return r ? *r : nullptr;
}

std::vector<std::string> makeHosts(size_t n) {
  Generator g(7);
  std::vector<std::string> hosts;
  for (size_t i = 0; i < n; ++i) hosts.push_back(g.host());
  return hosts;
}

void runMatches(benchmark::State& state, const RegexRuleSet& set,
                const std::vector<std::string>& hosts) {
  state.counters["rules"] = static_cast<double>(set.size());
  size_t hits = 0;
  for (const auto& h : hosts) hits += set.match(h).has_value();  // warm the DFA cache
  size_t i = 0;
  for (auto _ : state) {
    auto m = set.match(hosts[i]);
    benchmark::DoNotOptimize(m);
    if (++i == hosts.size()) i = 0;
  }
  state.counters["hit_percent"] = 100.0 * static_cast<double>(hits) / hosts.size();
}

// 1,000 patterns: keywords and anchored / label-bounded host regexes, default budget.
void BM_Match1000Hosts(benchmark::State& state) {
  static auto set = makeSet(1000, safegate::kDefaultRegexSetMaxMemBytes, 0);
  static auto hosts = makeHosts(20000);
  runMatches(state, *set, hosts);
}
BENCHMARK(BM_Match1000Hosts)->Repetitions(5)->ReportAggregatesOnly(true);

// 10,000 patterns (25 % "a.*b" wildcard pairs) at budgets of 16..256 MiB. The host list is limited
// to 2,000 names so the thrashing budgets finish in reasonable time.
void BM_Match10000Hosts(benchmark::State& state) {
  const int64_t mib = state.range(0);
  malloc_trim(0);  // hand memory of the previous run back, so the RSS delta is this set's
  const long before = rssKiB();
  auto set = makeSet(10000, mib << 20, 25);
  if (!set) {
    state.SkipWithError("set does not fit the budget (RE2::Set::Compile failed)");
    return;
  }
  static auto hosts = makeHosts(2000);
  runMatches(state, *set, hosts);
  state.counters["rss_mib"] = static_cast<double>(rssKiB() - before) / 1024.0;
}
BENCHMARK(BM_Match10000Hosts)
    ->Arg(8)
    ->Arg(16)
    ->Arg(32)
    ->Arg(64)
    ->Arg(128)
    ->Arg(256)
    ->Unit(benchmark::kMicrosecond)
    ->Iterations(2000);

void BM_Build(benchmark::State& state) {
  for (auto _ : state) {
    auto set = makeSet(static_cast<int>(state.range(0)), safegate::kDefaultRegexSetMaxMemBytes, 10);
    benchmark::DoNotOptimize(set);
  }
}
BENCHMARK(BM_Build)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
