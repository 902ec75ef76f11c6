// DomainSet: an immutable, compact set of exact names and subtree suffixes, each entry carrying
// the list and source line it came from so that every match can be explained.
//
// Provides:
//   - DomainSet::Builder: control plane. add() canonical names (see filters/domain_name.h)
//     with a kind, a list id and a 1-based line; build() freezes them into a DomainSet.
//   - DomainSet::find(): data plane. The most specific entry that covers a canonical query
//     name: an exact entry for the name itself, then a subtree entry for the name itself, then
//     subtree entries of its parents from the longest to the shortest. Labels are compared
//     whole, so `badexample.com` is never covered by `example.com`. noexcept, no allocation.
//   - DomainSet::findAll(): every entry that covers the name (for rules with modifiers).
//
// Representation (why it is small): the set stores no names. Each entry is a 16-byte slot
// {64-bit keyed fingerprint of the name, line, list id, kind} in an open-addressing table kept
// in home-bucket order (linear probing with entries sorted by home slot, so an unsuccessful
// probe stops as soon as it passes its home), at a load factor of 0.8: 20 bytes per entry in
// total. The matched name is recovered from the query itself (Match::name is the suffix of
// the query that matched) and the rule text from file:line, so explain loses nothing.
// A fingerprint collision between two different names has probability about
// entries / 2^64 per probe; the hash key is drawn at random per build so nobody can aim for one.
//
// Lookup hashes each label once (right to left) and prefetches every suffix's home slot
// before probing, so the memory latency of the 2-5 probes of a typical name overlaps.
//
// Thread-safety: a built DomainSet is immutable; find() may run concurrently from any number of
// threads. The Builder is single-threaded. Ownership: DomainSet owns its table; Match::name
// views the caller's query string.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "filters/domain_name.h"

namespace safegate {

// How an entry covers names.
enum class DomainMatchKind : uint8_t {
  kExact = 0,           // the name only (`|example.com^`, AdGuard hosts semantics)
  kSubtree = 1,         // the name and every name under it (`||example.com^`)
  kSubdomainsOnly = 2,  // names strictly under it, not the name itself (`*.example.com^`)
};

class DomainSet {
 public:
  struct Match {
    bool found = false;
    DomainMatchKind kind = DomainMatchKind::kExact;
    uint16_t list_id = 0;
    uint32_t line = 0;
    // The entry's name: a suffix of (a view into) the query passed to find().
    std::string_view name;
    explicit operator bool() const noexcept { return found; }
  };

  class Builder {
   public:
    Builder();
    // `name` must be canonical (normalizeDomain()). A second add() of the same name and kind
    // keeps the first (lowest list id, then lowest line) and counts a duplicate.
    void add(std::string_view name, DomainMatchKind kind, uint16_t list_id, uint32_t line);
    void reserve(size_t entries) { pending_.reserve(entries); }
    size_t size() const { return pending_.size(); }
    // Consumes the builder's entries.
    DomainSet build();

   private:
    struct Pending {
      uint64_t fingerprint;
      uint32_t line;
      uint16_t list_id;
      uint8_t kind;
      uint8_t labels;
    };
    std::vector<Pending> pending_;
    uint64_t key_;
  };

  DomainSet() = default;
  DomainSet(DomainSet&&) noexcept = default;
  DomainSet& operator=(DomainSet&&) noexcept = default;

  // The most specific covering entry (see the header comment); !found when none.
  Match find(std::string_view canonical_name) const noexcept;
  // Writes every covering entry, most specific first, into `out`; returns how many were
  // written (at most out.size()).
  size_t findAll(std::string_view canonical_name, std::span<Match> out) const noexcept;
  bool contains(std::string_view canonical_name) const noexcept {
    return find(canonical_name).found;
  }

  size_t size() const noexcept { return entries_; }
  bool empty() const noexcept { return entries_ == 0; }
  size_t duplicates() const noexcept { return duplicates_; }
  // Heap bytes held by this set (the whole table).
  size_t memoryBytes() const noexcept { return slot_count_ * sizeof(Slot); }

 private:
  struct Slot {
    uint64_t fingerprint;  // 0 = empty
    uint32_t line;
    uint16_t list_id;
    uint8_t kind;
    uint8_t reserved;
  };
  static_assert(sizeof(Slot) == 16);

  size_t home(uint64_t fingerprint) const noexcept {
    return static_cast<size_t>((static_cast<unsigned __int128>(fingerprint) * buckets_) >> 64);
  }

  // Bit k set when some entry has k labels: suffixes of other label counts are not probed
  // (a set of registrable names never pays a probe for the bare TLD).
  bool hasLabelCount(size_t labels) const noexcept {
    return labels < 128 && ((label_counts_[labels >> 6] >> (labels & 63)) & 1) != 0;
  }

  std::unique_ptr<Slot[]> slots_;
  uint64_t label_counts_[2] = {0, 0};
  size_t slot_count_ = 0;  // buckets_ plus the overflow tail
  uint64_t buckets_ = 0;
  size_t entries_ = 0;
  size_t duplicates_ = 0;
  uint64_t key_ = 0;
};

// The fingerprint hash over one canonical name, exposed for tests and benchmarks.
uint64_t domainFingerprint(std::string_view canonical_name, uint64_t key) noexcept;

// The fingerprints of every suffix of a canonical name in one right-to-left pass (each label
// hashed once): fps[i] is the fingerprint of the suffix that starts at byte starts[i], label i
// (fps[0] is the whole name's, as domainFingerprint()). Never 0. Returns the label count, 0
// for an empty name or one of more than kMaxLabels labels. Data plane: noexcept, no allocation.
size_t domainSuffixFingerprints(std::string_view canonical_name, uint64_t key,
                                std::array<uint16_t, kMaxLabels>& starts,
                                std::array<uint64_t, kMaxLabels>& fps) noexcept;

}  // namespace safegate
