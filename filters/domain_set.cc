#include "filters/domain_set.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <random>

#include "filters/domain_name.h"

namespace safegate {
namespace {

constexpr uint64_t kMul0 = 0xa0761d6478bd642fULL;
constexpr uint64_t kMul1 = 0xe7037ed1a0b428dbULL;
constexpr uint64_t kMul2 = 0x8ebc6af09c88c6e3ULL;
constexpr uint64_t kMul3 = 0x589965cc75374cc3ULL;

// 64x64 -> 128-bit multiply folded to 64 bits: the mixing step of wyhash-style hashes, one
// multiply per 8 input octets.
inline uint64_t mum(uint64_t a, uint64_t b) noexcept {
  const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

inline uint64_t labelHash(const char* p, size_t n, uint64_t key) noexcept {
  uint64_t h = key ^ (static_cast<uint64_t>(n) * kMul0);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = mum(h ^ w, kMul1);
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = mum(h ^ w, kMul2);
  }
  return h;
}

// Folds one more label (to the left) into the hash of its parent suffix. Order-dependent, so
// "a.b" and "b.a" differ; the label length is inside labelHash, so "ab.c" and "a.bc" differ.
inline uint64_t foldLabel(uint64_t parent, uint64_t label) noexcept {
  return mum(parent ^ kMul3, label ^ kMul0);
}

inline uint64_t finish(uint64_t h) noexcept { return h == 0 ? 1 : h; }

}  // namespace

size_t domainSuffixFingerprints(std::string_view name, uint64_t key,
                                std::array<uint16_t, kMaxLabels>& starts,
                                std::array<uint64_t, kMaxLabels>& fps) noexcept {
  const size_t n = labelStarts(name, starts);
  uint64_t h = key;
  size_t end = name.size();
  for (size_t i = n; i-- > 0;) {
    const size_t begin = starts[i];
    h = foldLabel(h, labelHash(name.data() + begin, end - begin, key));
    fps[i] = finish(h);
    end = begin == 0 ? 0 : begin - 1;
  }
  return n;
}

uint64_t domainFingerprint(std::string_view canonical_name, uint64_t key) noexcept {
  std::array<uint16_t, kMaxLabels> starts;
  std::array<uint64_t, kMaxLabels> fps;
  const size_t n = domainSuffixFingerprints(canonical_name, key, starts, fps);
  return n == 0 ? 0 : fps[0];
}

namespace {
// The fingerprint and label count of a whole name (0 fingerprint for an invalid name).
uint64_t fingerprintAndLabels(std::string_view name, uint64_t key, size_t& labels) noexcept {
  std::array<uint16_t, kMaxLabels> starts;
  std::array<uint64_t, kMaxLabels> fps;
  labels = domainSuffixFingerprints(name, key, starts, fps);
  return labels == 0 ? 0 : fps[0];
}
}  // namespace

DomainSet::Builder::Builder() {
  std::random_device rd;
  key_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

void DomainSet::Builder::add(std::string_view name, DomainMatchKind kind, uint16_t list_id,
                             uint32_t line) {
  size_t labels = 0;
  const uint64_t fp = fingerprintAndLabels(name, key_, labels);
  if (fp == 0) return;  // empty or over-long name: never produced by normalizeDomain()
  pending_.push_back(
      Pending{fp, line, list_id, static_cast<uint8_t>(kind), static_cast<uint8_t>(labels)});
}

DomainSet DomainSet::Builder::build() {
  DomainSet set;
  set.key_ = key_;
  std::vector<Pending> entries = std::move(pending_);
  pending_ = {};
  if (entries.empty()) return set;
  // Fingerprint order is home order (home() is monotonic in the fingerprint), so after this
  // sort a single pass places every entry at max(home, previous + 1).
  std::sort(entries.begin(), entries.end(), [](const Pending& a, const Pending& b) {
    if (a.fingerprint != b.fingerprint) return a.fingerprint < b.fingerprint;
    if (a.kind != b.kind) return a.kind < b.kind;
    if (a.list_id != b.list_id) return a.list_id < b.list_id;
    return a.line < b.line;
  });
  size_t unique = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (unique > 0 && entries[unique - 1].fingerprint == entries[i].fingerprint &&
        entries[unique - 1].kind == entries[i].kind) {
      ++set.duplicates_;
      continue;
    }
    entries[unique++] = entries[i];
    set.label_counts_[entries[i].labels >> 6] |= uint64_t{1} << (entries[i].labels & 63);
  }
  entries.resize(unique);

  // Load factor 0.8: 1.25 slots of 16 bytes per entry. With home-ordered linear probing the
  // expected scan of an unsuccessful lookup stays short at this load.
  set.buckets_ = std::max<uint64_t>(1, (unique * 5 + 3) / 4);
  std::vector<size_t> positions(unique);
  size_t next_free = 0;
  for (size_t i = 0; i < unique; ++i) {
    const size_t pos = std::max(set.home(entries[i].fingerprint), next_free);
    positions[i] = pos;
    next_free = pos + 1;
  }
  // One trailing empty slot always stops a probe that runs past the last bucket.
  set.slot_count_ = std::max<size_t>(set.buckets_, next_free) + 1;
  set.slots_ = std::make_unique<Slot[]>(set.slot_count_);
  std::memset(set.slots_.get(), 0, set.slot_count_ * sizeof(Slot));
  for (size_t i = 0; i < unique; ++i) {
    set.slots_[positions[i]] =
        Slot{entries[i].fingerprint, entries[i].line, entries[i].list_id, entries[i].kind, 0};
  }
  set.entries_ = unique;
  return set;
}

DomainSet::Match DomainSet::find(std::string_view name) const noexcept {
  Match out;
  findAll(name, std::span<Match>(&out, 1));
  return out;
}

size_t DomainSet::findAll(std::string_view name, std::span<Match> out) const noexcept {
  if (entries_ == 0 || out.empty()) return 0;
  std::array<uint16_t, kMaxLabels> starts;
  std::array<uint64_t, kMaxLabels> fps;
  const size_t n = domainSuffixFingerprints(name, key_, starts, fps);
  if (n == 0) return 0;
  std::array<uint32_t, kMaxLabels> homes;
  for (size_t i = 0; i < n; ++i) {
    if (!hasLabelCount(n - i)) continue;
    homes[i] = static_cast<uint32_t>(home(fps[i]));
    __builtin_prefetch(&slots_[homes[i]]);
  }
  size_t written = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!hasLabelCount(n - i)) continue;
    const uint64_t fp = fps[i];
    // Slots are in fingerprint order from the home on: skip smaller ones, stop at an empty
    // slot or a larger fingerprint. Equal fingerprints are sorted by kind (exact first).
    for (size_t j = homes[i];; ++j) {
      const Slot& s = slots_[j];
      if (s.fingerprint == 0 || s.fingerprint > fp) break;
      if (s.fingerprint != fp) continue;
      const auto kind = static_cast<DomainMatchKind>(s.kind);
      const bool covers =
          i == 0 ? kind != DomainMatchKind::kSubdomainsOnly : kind != DomainMatchKind::kExact;
      if (!covers) continue;
      Match& m = out[written++];
      m.found = true;
      m.kind = kind;
      m.list_id = s.list_id;
      m.line = s.line;
      m.name = name.substr(starts[i]);
      if (written == out.size()) return written;
    }
  }
  return written;
}

}  // namespace safegate
