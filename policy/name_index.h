// NameIndex: every list entry of a policy in ONE hash table keyed by the name's fingerprint,
// so decide() finds the entries of every category covering a query name with one probe per
// label (instead of one DomainSet lookup per category).
//
// Why not one DomainSet per category: a policy has ~20 categories; 20 lookups of 3-5 probes
// each miss the cache ~60 times per decision. Why not one DomainSet for all: it keeps one
// entry per name, and a name may sit in several categories (pornography and education) whose
// actions differ per group. Here a slot points to a run of NameRefs (list, line, kind, flags),
// one per list that names it.
//
// Like filters/domain_set.h, no names are stored (fingerprints only, keyed per build); the
// matched name is the suffix of the query that produced the hit. ~26 bytes per entry.
//
// Thread-safety: Builder single-threaded; a built NameIndex is immutable and forEachMatch()
// may run on any number of threads. forEachMatch() is data plane: noexcept, no allocation.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "filters/domain_name.h"
#include "filters/domain_set.h"

namespace safegate::policy {

struct NameRef {
  static constexpr uint8_t kAllow = 1;      // an exception (@@) rather than a block entry
  static constexpr uint8_t kImportant = 2;  // $important
  uint16_t list = 0;                        // index of the list source (file) in the snapshot
  uint8_t kind = 1;                         // DomainMatchKind
  uint8_t flags = 0;
  uint32_t line = 0;
};

class NameIndex {
 public:
  class Builder {
   public:
    Builder();
    void reserve(size_t n) { pending_.reserve(n); }
    // `name` must be canonical (filters/domain_name.h).
    void add(std::string_view name, DomainMatchKind kind, uint16_t list, uint32_t line,
             uint8_t flags);
    size_t size() const { return pending_.size(); }
    NameIndex build();

   private:
    struct Pending {
      uint64_t fingerprint;
      NameRef ref;
    };
    std::vector<Pending> pending_;
    uint64_t key_;
  };

  NameIndex() = default;

  // Calls visit(const NameRef&, std::string_view matched_suffix) for every entry covering
  // `name`, most specific suffix first. Entries whose kind does not cover the name (an exact
  // entry of a parent, a subdomains-only entry of the name itself) are skipped.
  template <typename Visit>
  void forEachMatch(std::string_view name, Visit&& visit) const noexcept {
    if (slots_.empty()) return;
    for (SuffixWalk w(name); !w.done(); w.next()) {
      const std::string_view suffix = w.suffix();
      const bool whole = w.depth() == 0;
      const Slot* s = find(domainFingerprint(suffix, key_));
      if (!s) continue;
      for (uint32_t i = s->first; i < s->first + s->count; ++i) {
        const NameRef& r = refs_[i];
        const auto kind = static_cast<DomainMatchKind>(r.kind);
        if (kind == DomainMatchKind::kExact && !whole) continue;
        if (kind == DomainMatchKind::kSubdomainsOnly && whole) continue;
        visit(r, suffix);
      }
    }
  }

  size_t entries() const { return refs_.size(); }
  size_t memoryBytes() const {
    return slots_.capacity() * sizeof(Slot) + refs_.capacity() * sizeof(NameRef);
  }

 private:
  struct Slot {
    uint64_t fingerprint = 0;  // 0 = empty
    uint32_t first = 0;
    uint32_t count = 0;
  };
  const Slot* find(uint64_t fp) const noexcept {
    if (fp == 0) fp = 1;
    size_t i = static_cast<size_t>(fp) & mask_;
    while (true) {
      const Slot& s = slots_[i];
      if (s.fingerprint == fp) return &s;
      if (s.fingerprint == 0) return nullptr;
      i = (i + 1) & mask_;
    }
  }

  std::vector<Slot> slots_;
  std::vector<NameRef> refs_;
  size_t mask_ = 0;
  uint64_t key_ = 0;
};

}  // namespace safegate::policy
