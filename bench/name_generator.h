// NameGenerator: deterministic, realistic-looking host names for the benchmarks (the same
// seed gives the same names on every machine), shared so that every benchmark's "1M names" or
// "5M names" is the same kind of list.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>

namespace safegate {

// Realistic-looking names: labels built from syllables (so lengths and character mix resemble
// real host names), 2-5 labels in total, a skewed TLD mix with some two-label public suffixes.
class NameGenerator {
 public:
  explicit NameGenerator(uint64_t seed) : rng_(seed) {}

  std::string label() {
    static constexpr const char* kSyllables[] = {
        "ad", "an", "ba",  "be", "bet", "bo",   "cam",  "ca",  "cdn", "chat", "co",   "da",
        "de", "di", "do",  "ex", "fa",  "fi",   "fo",   "ga",  "go",  "hub",  "in",   "ka",
        "ki", "la", "le",  "li", "lo",  "ma",   "me",   "mi",  "mo",  "na",   "ne",   "net",
        "no", "on", "pa",  "pe", "pi",  "po",   "porn", "pro", "ra",  "re",   "ri",   "ro",
        "sa", "se", "si",  "so", "sex", "shop", "ta",   "te",  "ti",  "to",   "tube", "va",
        "ve", "vi", "web", "x",  "xx",  "za",   "zo",   "1",   "24",  "7",    "-"};
    std::uniform_int_distribution<int> count(2, 5);
    std::uniform_int_distribution<size_t> pick(0, std::size(kSyllables) - 2);  // no '-' first
    std::string out;
    const int n = count(rng_);
    for (int i = 0; i < n; ++i) {
      out += kSyllables[i == 0 || i == n - 1 ? pick(rng_) : pick(rng_) + (rng_() % 8 == 0)];
    }
    return out;
  }

  std::string tld() {
    static constexpr const char* kTlds[] = {"com", "com", "com", "com",    "com",  "net",   "net",
                                            "org", "org", "de",  "ru",     "info", "co.uk", "fr",
                                            "nl",  "io",  "jp",  "com.br", "pl",   "xyz"};
    return kTlds[rng_() % std::size(kTlds)];
  }

  // 2-5 labels in total, counting the TLD's labels.
  std::string name() {
    std::string t = tld();
    const int tld_labels = t.find('.') == std::string::npos ? 1 : 2;
    std::uniform_int_distribution<int> total(2, 5);
    int labels = std::max(total(rng_), tld_labels + 1);
    std::string out = t;
    for (int i = tld_labels; i < labels; ++i) out = label() + "." + out;
    return out;
  }

  uint64_t next() { return rng_(); }

 private:
  std::mt19937_64 rng_;
};

}  // namespace safegate
