#include "filters/regex_rule_set.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>

namespace safegate {
namespace {

// Per-pattern RE2 objects (validation and the out-of-memory fallback) get a small budget of
// their own: enough for a 2,000-instruction program, and their DFA memory is only used if the
// set ever falls back to them.
constexpr int64_t kSinglePatternMaxMemBytes = int64_t{1} << 20;
constexpr uintmax_t kMaxExpressionsFileBytes = uintmax_t{16} << 20;
// A warm probe match slower than this means the DFA is rebuilding its cache on every match.
constexpr double kSlowProbeMicros = 50.0;
constexpr size_t kMaxPatternInMessage = 80;

RE2::Options re2Options(const RegexRuleSetOptions& o, int64_t max_mem) {
  RE2::Options r;
  // Host names are ASCII (A-labels) and URLs on the wire are percent-encoded ASCII; Latin-1
  // makes '.' and classes one byte wide, which keeps the DFA small (UTF-8 would multiply states).
  r.set_encoding(RE2::Options::EncodingLatin1);
  r.set_log_errors(false);  // rejections are reported with their file:line instead
  r.set_case_sensitive(!o.case_insensitive);
  r.set_never_capture(true);  // only "does it match" matters
  r.set_max_mem(max_mem);
  return r;
}

std::string slashed(std::string_view pattern) {
  std::string out = "/";
  if (pattern.size() > kMaxPatternInMessage) {
    out.append(pattern.substr(0, kMaxPatternInMessage));
    out += "...";
  } else {
    out.append(pattern);
  }
  out += '/';
  return out;
}

std::string_view targetNoun(RegexTarget t) {
  return t == RegexTarget::kHostName ? "host name" : "URL";
}

// The letters, digits, dots and hyphens of a pattern in order: a cheap stand-in for the text a
// rule is meant to hit, used to drive the DFA through realistic states in the build probe.
std::string literalCore(std::string_view pattern) {
  std::string out;
  bool escaped = false;
  for (char c : pattern) {
    if (escaped) {
      escaped = false;
      if (c == '.' || c == '-') out += c;
      continue;
    }
    if (c == '\\') {
      escaped = true;
      continue;
    }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-') {
      out += c;
    }
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------- Builder

struct RegexRuleSet::Builder::Impl {
  std::vector<RegexRule> rules;
};

struct RegexRuleSet::Compiled {
  std::unique_ptr<RE2::Set> set;
  // Per-rule RE2 objects for the fallback, same order as rules_. Built on first use: they cost
  // about 2 KiB per rule (21 MiB for 10,000 rules) and the fallback is rarely needed, so the
  // first out-of-memory event pays for them once instead of every set paying always.
  std::once_flag singles_once;
  std::vector<std::unique_ptr<RE2>> singles;
};

RegexRuleSet::Builder::Builder(RegexRuleSetOptions options)
    : options_(options), impl_(std::make_unique<Impl>()) {}
RegexRuleSet::Builder::~Builder() = default;
RegexRuleSet::Builder::Builder(Builder&&) noexcept = default;
RegexRuleSet::Builder& RegexRuleSet::Builder::operator=(Builder&&) noexcept = default;

size_t RegexRuleSet::Builder::size() const { return impl_->rules.size(); }

bool RegexRuleSet::Builder::add(std::string_view pattern, SourceLocation where, uint32_t value,
                                DiagnosticSink& sink) {
  auto reject = [&](std::string why) {
    sink.add(options_.reject_severity, where,
             "regex rejected: " + std::move(why) + ": " + slashed(pattern));
    return false;
  };
  if (pattern.empty()) return reject("empty pattern");
  if (pattern.size() > options_.max_pattern_length) {
    return reject("pattern is " + std::to_string(pattern.size()) + " bytes, longer than the " +
                  std::to_string(options_.max_pattern_length) + "-byte limit");
  }
  if (impl_->rules.size() >= options_.max_rules) {
    return reject("more than " + std::to_string(options_.max_rules) + " regex rules");
  }
  auto re = std::make_unique<RE2>(re2::StringPiece(pattern.data(), pattern.size()),
                                  re2Options(options_, kSinglePatternMaxMemBytes));
  if (!re->ok()) {
    if (re->error_code() == RE2::ErrorPatternTooLarge) {
      return reject("pattern too large to compile");
    }
    std::string why = "invalid RE2 syntax: " + re->error();
    if (!re->error_arg().empty() && re->error().find(re->error_arg()) == std::string::npos) {
      why += ": " + re->error_arg();
    }
    return reject(why);
  }
  if (re->ProgramSize() > options_.max_program_size) {
    return reject("compiled program has " + std::to_string(re->ProgramSize()) +
                  " instructions, more than the limit of " +
                  std::to_string(options_.max_program_size));
  }
  // A pattern that matches the empty string and an unrelated name matches everything (e.g.
  // "a*" or "x|"), which would block every request: refuse it rather than guess intent.
  // A URL pattern that matches the root of an unrelated site ("/", "*/*", "|http://") does too.
  const bool every =
      options_.target == RegexTarget::kUrl
          ? RE2::PartialMatch("http://safegate-probe-zq9.invalid/", *re)
          : RE2::PartialMatch("", *re) && RE2::PartialMatch("safegate-probe-zq9.invalid", *re);
  if (every) return reject("pattern matches every " + std::string(targetNoun(options_.target)));
  impl_->rules.push_back(RegexRule{std::string(pattern), std::move(where), value});
  return true;
}

Result<std::shared_ptr<const RegexRuleSet>> RegexRuleSet::Builder::build(DiagnosticSink& sink) {
  std::vector<RegexRule> rules = std::move(impl_->rules);
  impl_ = std::make_unique<Impl>();

  auto compiled = std::make_unique<Compiled>();
  compiled->set =
      std::make_unique<RE2::Set>(re2Options(options_, options_.max_mem_bytes), RE2::UNANCHORED);
  std::vector<RegexRule> kept;
  kept.reserve(rules.size());
  for (size_t i = 0; i < rules.size(); ++i) {
    std::string error;
    int index = compiled->set->Add(rules[i].pattern, &error);
    if (index < 0) {
      // The pattern compiled alone with the same options, so this should not happen; report it
      // like any rejection rather than misalign indices.
      sink.add(options_.reject_severity, rules[i].where,
               "regex rejected by RE2::Set: " + error + ": " + slashed(rules[i].pattern));
      continue;
    }
    kept.push_back(std::move(rules[i]));
  }
  if (!compiled->set->Compile()) {
    std::string msg = std::to_string(kept.size()) +
                      " regex rules do not fit in the RE2 memory "
                      "budget of " +
                      std::to_string(options_.max_mem_bytes >> 20) +
                      " MiB (max_mem); raise the budget or split the rules";
    sink.error({}, msg);
    return Status::exhausted(msg);
  }
  std::shared_ptr<RegexRuleSet> set(
      new RegexRuleSet(options_, std::move(kept), std::move(compiled)));
  if (options_.probe && set->size() > 0) {
    // Probe texts: a long synthetic name that walks the DFA through many states, plus names
    // built from the first rules' literal text (inputs that get deep into the patterns).
    std::vector<std::string> probes;
    std::string walk;
    for (int i = 0; walk.size() < 240; ++i) {
      walk += "abcdefghijklmnopqrstuvwxyz0123456789-"[i % 37];
      if (i % 17 == 16) walk += '.';
    }
    probes.push_back(walk);
    probes.push_back("www.example.com");
    uint32_t seed = 0x9e3779b9u;  // fixed, so a build's probe is reproducible
    auto next = [&seed] {
      seed = seed * 1664525u + 1013904223u;
      return seed >> 8;
    };
    for (int i = 0; i < 128; ++i) {
      std::string host = "www.";
      for (uint32_t n = 5 + next() % 10; n > 0; --n) host += static_cast<char>('a' + next() % 26);
      host += i % 2 ? ".com" : ".co.uk";
      probes.push_back(std::move(host));
    }
    for (size_t i = 0; i < set->size() && probes.size() < 194;
         i += std::max<size_t>(1, set->size() / 62)) {
      probes.push_back("x" + literalCore(set->rules_[i].pattern) + "y.example.net");
    }
    RE2::Set& re2set = *set->compiled_->set;
    bool oom = false;
    auto run = [&] {
      for (const auto& p : probes) {
        RE2::Set::ErrorInfo info{RE2::Set::kNoError};
        re2set.Match(p, nullptr, &info);
        if (info.kind == RE2::Set::kOutOfMemory) oom = true;
      }
    };
    run();  // cold: builds the DFA states the probes need
    const auto start = std::chrono::steady_clock::now();
    run();  // warm: should now be ~1 µs per probe
    const double micros =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count() /
        static_cast<double>(probes.size());
    const std::string budget = std::to_string(options_.max_mem_bytes >> 20) + " MiB";
    if (oom) {
      set->probe_out_of_memory_ = true;
      sink.warning({}, "RE2 DFA ran out of memory matching probe " +
                           std::string(targetNoun(options_.target)) + "s against " +
                           std::to_string(set->size()) + " regex rules with a budget of " + budget +
                           "; matches will fall back to evaluating rules one by one "
                           "(slow, counted in out_of_memory); raise the regex memory budget");
    } else if (micros > kSlowProbeMicros) {
      sink.warning({}, "RE2 DFA is thrashing: " + std::to_string(static_cast<int>(micros)) +
                           " µs per probe match with " + std::to_string(set->size()) +
                           " regex rules and a budget of " + budget +
                           "; raise the regex memory budget");
    }
  }
  return std::shared_ptr<const RegexRuleSet>(std::move(set));
}

// ---------------------------------------------------------------- RegexRuleSet

RegexRuleSet::RegexRuleSet(RegexRuleSetOptions options, std::vector<RegexRule> rules,
                           std::unique_ptr<Compiled> compiled)
    : options_(options), rules_(std::move(rules)), compiled_(std::move(compiled)) {}

RegexRuleSet::~RegexRuleSet() = default;

std::optional<RegexMatch> RegexRuleSet::match(std::string_view text) const noexcept {
  if (rules_.empty()) return std::nullopt;
  const uint32_t interval = options_.slow_match_sample_interval;
  if (interval == 0) return matchWithSet(text);
  // Sampling is per thread so the steady state touches no shared cache line.
  thread_local uint32_t countdown = 0;
  if (countdown > 0) {
    --countdown;
    return matchWithSet(text);
  }
  countdown = interval - 1;
  const auto start = std::chrono::steady_clock::now();
  auto result = matchWithSet(text);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  sampled_matches_.fetch_add(1, std::memory_order_relaxed);
  if (elapsed > std::chrono::microseconds(options_.slow_match_threshold_us)) {
    slow_samples_.fetch_add(1, std::memory_order_relaxed);
  }
  return result;
}

std::optional<RegexMatch> RegexRuleSet::matchWithSet(std::string_view text) const noexcept {
  const RE2::Set& set = *compiled_->set;
  const re2::StringPiece input(text.data(), text.size());
  RE2::Set::ErrorInfo info{RE2::Set::kNoError};
  // First pass without indices: RE2 stops at the earliest match and allocates nothing.
  if (!set.Match(input, nullptr, &info)) {
    if (info.kind == RE2::Set::kNoError) return std::nullopt;
    out_of_memory_.fetch_add(1, std::memory_order_relaxed);
    fallback_evaluations_.fetch_add(1, std::memory_order_relaxed);
    return matchEachRule(text);
  }
  // Which rules: RE2 reports them unordered; the lowest index is the first rule in file order.
  thread_local std::vector<int> scratch;
  if (!set.Match(input, &scratch, &info) || scratch.empty()) {
    if (info.kind == RE2::Set::kOutOfMemory) {
      out_of_memory_.fetch_add(1, std::memory_order_relaxed);
    }
    fallback_evaluations_.fetch_add(1, std::memory_order_relaxed);
    return matchEachRule(text);
  }
  const int index = *std::min_element(scratch.begin(), scratch.end());
  const auto i = static_cast<uint32_t>(index);
  return RegexMatch{i, rules_[i].value};
}

std::optional<RegexMatch> RegexRuleSet::matchEachRule(std::string_view text) const noexcept {
  const re2::StringPiece input(text.data(), text.size());
  Compiled& c = *compiled_;
  std::call_once(c.singles_once, [&] {
    c.singles.reserve(rules_.size());
    for (const RegexRule& r : rules_) {
      // Same options as validation in add(), so every one of these compiles.
      c.singles.push_back(
          std::make_unique<RE2>(r.pattern, re2Options(options_, kSinglePatternMaxMemBytes)));
    }
  });
  const auto& singles = c.singles;
  for (size_t i = 0; i < singles.size(); ++i) {
    if (RE2::PartialMatch(input, *singles[i])) {
      return RegexMatch{static_cast<uint32_t>(i), rules_[i].value};
    }
  }
  return std::nullopt;
}

std::string RegexRuleSet::explain(uint32_t index) const {
  const RegexRule& r = rules_[index];
  std::string out = "/" + r.pattern + "/";
  if (r.where.known()) out += " (" + r.where.toString() + ")";
  return out;
}

RegexRuleSet::Stats RegexRuleSet::stats() const noexcept {
  Stats s;
  s.out_of_memory = out_of_memory_.load(std::memory_order_relaxed);
  s.fallback_evaluations = fallback_evaluations_.load(std::memory_order_relaxed);
  s.sampled_matches = sampled_matches_.load(std::memory_order_relaxed);
  s.slow_samples = slow_samples_.load(std::memory_order_relaxed);
  return s;
}

// ---------------------------------------------------------------- expressions files

Status readExpressionsFile(
    const std::filesystem::path& path,
    const std::function<void(std::string_view pattern, SourceLocation where)>& each) {
  const SourceLocation file{path.string(), 0, 0};
  std::error_code ec;
  const uintmax_t bytes = std::filesystem::file_size(path, ec);
  if (ec) return Status(StatusCode::kIoError, ec.message(), file);
  if (bytes > kMaxExpressionsFileBytes) {
    return Status(
        StatusCode::kResourceExhausted,
        std::to_string(bytes) + " bytes, larger than the 16 MiB limit for an expressions file",
        file);
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    // libstdc++ opens with fopen(), which leaves the reason (e.g. EACCES) in errno.
    return Status(StatusCode::kIoError, errno != 0 ? std::strerror(errno) : "cannot open", file);
  }
  std::string line;
  uint32_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    // squidGuard reads one expression per line; trailing CR (Windows line ends) and trailing
    // blanks are not part of the expression, nor is the indentation.
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.pop_back();
    }
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    each(std::string_view(line).substr(first), SourceLocation{file.file, line_no, 0});
  }
  if (in.bad()) return Status(StatusCode::kIoError, "error while reading", file);
  return Status::ok();
}

}  // namespace safegate
