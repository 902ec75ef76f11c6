// Compiled name-index images: a generated 5M-name list made ready from its text
// (read, parse, build — what a start without an image does) and from its image (map and
// verify), resident memory, the peak while a reload maps a second version next to the first,
// and lookup speed of the mapped index against the same index built in memory and against a
// DomainSet of the same names.
//
//   build/dev/bench/name_index_image_bench [--names 5000000] [--dir DIR]
//
// Each phase runs in a fresh process (this binary re-executed) so that its resident memory
// and peak are its own, not the generator's. Prints one line per phase and a summary.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "bench/name_generator.h"
#include "common/result.h"
#include "filters/domain_set.h"
#include "filters/list_reader.h"
#include "policy/name_index.h"

extern char** environ;

namespace safegate {
namespace {

constexpr uint64_t kSeed = 20261206;
constexpr size_t kQueries = size_t{1} << 20;

double seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// A field of /proc/self/status in MiB ("VmRSS", "VmHWM", "RssFile", "RssAnon").
double statusMiB(const char* field, const char* file = "/proc/self/status") {
  std::ifstream in(file);
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::strtod(line.c_str() + key.size(), nullptr) / 1024.0;
  }
  return -1;
}

// Queries from queries.txt into one buffer (their memory is reported, not hidden).
struct Queries {
  std::string text;
  std::vector<std::string_view> names;
};
Queries loadQueries(const std::filesystem::path& dir) {
  Queries q;
  std::ifstream in(dir / "queries.txt", std::ios::binary);
  q.text.assign(std::istreambuf_iterator<char>(in), {});
  size_t start = 0;
  for (size_t nl; (nl = q.text.find('\n', start)) != std::string::npos; start = nl + 1) {
    q.names.emplace_back(q.text.data() + start, nl - start);
  }
  return q;
}

// Best of three passes over every query: ns per lookup, and how many queries hit.
template <typename Lookup>
std::pair<double, size_t> timeLookups(const Queries& q, Lookup&& lookup) {
  double best = 1e30;
  size_t hits = 0;
  for (int pass = 0; pass < 3; ++pass) {
    hits = 0;
    const auto t = std::chrono::steady_clock::now();
    for (std::string_view name : q.names) hits += lookup(name);
    best = std::min(best, seconds(t) * 1e9 / static_cast<double>(q.names.size()));
  }
  return {best, hits};
}

bool indexHit(const policy::NameIndex& idx, std::string_view name) {
  bool hit = false;
  idx.forEachMatch(name, [&](const policy::NameRef&, std::string_view) { hit = true; });
  return hit;
}

// What PolicySnapshot::compile does for a plain list, without the rest of the policy.
policy::NameIndex buildFromText(const std::filesystem::path& list, size_t& entries) {
  DiagnosticSink sink;
  ListReadOptions options;
  auto parsed = readListFile((list).string(), options, sink);
  if (!parsed) {
    std::fprintf(stderr, "%s\n", parsed.status().toString().c_str());
    std::exit(1);
  }
  policy::NameIndex::Builder b;
  b.reserve(parsed->names.size());
  for (const auto& e : parsed->names) b.add(parsed->name(e), e.kind, 0, e.line, 0);
  entries = parsed->names.size();
  *parsed = ParsedList{};
  return b.build();
}

int phaseText(const std::filesystem::path& dir) {
  const auto t = std::chrono::steady_clock::now();
  size_t entries = 0;
  policy::NameIndex idx = buildFromText(dir / "list.txt", entries);
  const double ready = seconds(t);
  const double rss = statusMiB("VmRSS"), hwm = statusMiB("VmHWM");
  const auto w = std::chrono::steady_clock::now();
  if (Status s = idx.writeImage(dir / "names.idx"); !s) {
    std::fprintf(stderr, "%s\n", s.toString().c_str());
    return 1;
  }
  const double write = seconds(w);
  const Queries q = loadQueries(dir);
  const auto [ns, hits] = timeLookups(q, [&](std::string_view n) { return indexHit(idx, n); });
  std::printf(
      "text:  entries %zu  ready %.2f s  RSS %.0f MiB  peak %.0f MiB  image written in %.2f s "
      "(%.0f MiB)  lookup %.1f ns  hits %zu/%zu\n",
      entries, ready, rss, hwm, write,
      static_cast<double>(std::filesystem::file_size(dir / "names.idx")) / (1 << 20), ns, hits,
      q.names.size());
  return 0;
}

int phaseImage(const std::filesystem::path& dir) {
  const Queries q = loadQueries(dir);  // first, so that its memory is in the baseline
  const double base = statusMiB("VmRSS");
  const auto t = std::chrono::steady_clock::now();
  auto idx = policy::NameIndex::mapImage(dir / "names.idx");
  if (!idx) {
    std::fprintf(stderr, "%s\n", idx.status().toString().c_str());
    return 1;
  }
  const double ready = seconds(t);
  const double rss_ready = statusMiB("VmRSS");
  const auto [ns, hits] = timeLookups(q, [&](std::string_view n) { return indexHit(*idx, n); });
  const double steady = statusMiB("VmRSS");
  // A reload as safegated does it: the next version is mapped and verified while the first
  // still serves (verified with read(), so nothing of it is resident yet), published, and the
  // first is released once its last reader is done; the new mapping's pages become resident
  // as lookups touch them.
  {
    auto next = policy::NameIndex::mapImage(dir / "names.idx");
    if (!next) return 1;
    *idx = std::move(*next);
  }
  (void)timeLookups(q, [&](std::string_view n) { return indexHit(*idx, n); });
  const double peak = statusMiB("VmHWM");
  const double huge = statusMiB("FilePmdMapped", "/proc/self/smaps_rollup");
  std::printf(
      "image: entries %zu  ready %.3f s  RSS %.0f MiB at ready, %.0f MiB steady (%.0f MiB before "
      "the map: process + %.0f MiB of test queries)  reload peak %.0f MiB (%.2fx steady)  lookup "
      "%.1f ns  hits %zu/%zu  file huge pages %.0f MiB\n",
      idx->entries(), ready, rss_ready, steady, base,
      static_cast<double>(q.text.size() + q.names.size() * sizeof(std::string_view)) / (1 << 20),
      peak, peak / steady, ns, hits, q.names.size(), huge);
  return 0;
}

int phaseDomainSet(const std::filesystem::path& dir) {
  DiagnosticSink sink;
  auto parsed = readListFile((dir / "list.txt").string(), ListReadOptions{}, sink);
  if (!parsed) return 1;
  DomainSet::Builder b;
  for (const auto& e : parsed->names) b.add(parsed->name(e), e.kind, 0, e.line);
  *parsed = ParsedList{};
  const DomainSet set = b.build();
  const Queries q = loadQueries(dir);
  const auto [ns, hits] = timeLookups(q, [&](std::string_view n) { return set.contains(n); });
  // findAll() does NameIndex's work: every covering entry, not only the most specific one.
  std::array<DomainSet::Match, 8> matches;
  const auto [ns_all, hits_all] =
      timeLookups(q, [&](std::string_view n) { return set.findAll(n, matches) > 0; });
  std::printf("domainset: entries %zu  lookup %.1f ns (find)  %.1f ns (findAll)  hits %zu/%zu\n",
              set.size(), ns, ns_all, hits, q.names.size());
  if (hits_all != hits) return 1;
  return 0;
}

// The list (one name per line) and the queries: 30 % covered by the list (half of them a
// subdomain of a listed name), 70 % names no entry covers.
void generate(const std::filesystem::path& dir, size_t count) {
  NameGenerator gen(kSeed);
  std::unordered_set<std::string> listed;
  listed.reserve(count);
  std::vector<const std::string*> order;
  order.reserve(count);
  {
    std::ofstream out(dir / "list.txt", std::ios::binary);
    out << "# generated by name_index_image_bench\n";
    while (listed.size() < count) {
      auto [it, fresh] = listed.insert(gen.name());
      if (!fresh) continue;
      out << *it << '\n';
      order.push_back(&*it);
    }
  }
  auto covered = [&](std::string_view name) {
    for (;;) {
      if (listed.count(std::string(name))) return true;
      const size_t dot = name.find('.');
      if (dot == std::string_view::npos) return false;
      name.remove_prefix(dot + 1);
    }
  };
  std::ofstream out(dir / "queries.txt", std::ios::binary);
  for (size_t i = 0; i < kQueries; ++i) {
    if (gen.next() % 10 < 3) {
      const std::string& e = *order[gen.next() % order.size()];
      out << (gen.next() % 2 ? e : gen.label() + "." + e) << '\n';
    } else {
      std::string n = gen.name();
      while (covered(n)) n = gen.name();
      out << n << '\n';
    }
  }
}

int runPhase(const char* self, const std::string& phase, const std::filesystem::path& dir) {
  std::vector<std::string> args = {self, "--phase", phase, "--dir", dir.string()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environ) != 0) return 1;
  int status = 0;
  waitpid(pid, &status, 0);
  std::fflush(stdout);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace
}  // namespace safegate

int main(int argc, char** argv) {
  using namespace safegate;
  size_t names = 5'000'000;
  std::string phase, dir_arg;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view a = argv[i];
    if (a == "--names") names = std::strtoull(argv[i + 1], nullptr, 10);
    if (a == "--phase") phase = argv[i + 1];
    if (a == "--dir") dir_arg = argv[i + 1];
  }
  if (phase == "text") return phaseText(dir_arg);
  if (phase == "image") return phaseImage(dir_arg);
  if (phase == "domainset") return phaseDomainSet(dir_arg);
  const bool own_dir = dir_arg.empty();
  const std::filesystem::path dir = own_dir
                                        ? std::filesystem::temp_directory_path() /
                                              ("safegate_image_bench." + std::to_string(getpid()))
                                        : std::filesystem::path(dir_arg);
  std::filesystem::create_directories(dir);
  const auto t = std::chrono::steady_clock::now();
  generate(dir, names);
  std::printf("generated %zu names and %zu queries in %.1f s (%s)\n", names, kQueries, seconds(t),
              dir.c_str());
  std::fflush(stdout);
  int rc = runPhase(argv[0], "text", dir);
  if (rc == 0) rc = runPhase(argv[0], "image", dir);
  if (rc == 0) rc = runPhase(argv[0], "domainset", dir);
  if (own_dir) std::filesystem::remove_all(dir);
  return rc;
}
