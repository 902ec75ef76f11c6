// NameIndex: every list entry of a policy in ONE hash table keyed by the name's fingerprint,
// so decide() finds the entries of every category covering a query name with one probe per
// label, prefetched together (instead of one DomainSet lookup per category).
//
// Why not one DomainSet per category: a policy has ~20 categories; 20 lookups of 3-5 probes
// each miss the cache ~60 times per decision. Why not one DomainSet for all: it keeps one
// entry per name, and a name may sit in several categories (pornography and education) whose
// actions differ per group. Here a slot points to a run of NameRefs (list, line, kind, flags),
// one per list that names it (inline in the slot when there is only one).
//
// Like filters/domain_set.h, no names are stored (fingerprints only, keyed per build); the
// matched name is the suffix of the query that produced the hit.
//
// Layout: an *ordered* linear-probing table (Amble and Knuth, "Ordered hash tables", 1974).
// The home slot is a monotone function of the fingerprint (multiply-shift "fastrange" onto a
// table of any size, not a power of two) and the builder places fingerprints in sorted order,
// so the occupied slots are sorted: a lookup stops at the first empty slot *or* the first larger
// fingerprint. A miss — the common case, one per label of an allowed name — then costs about
// as many probes as a hit, (1 + 1/(1 - load)) / 2, so the table can run at a 0.8 load factor:
// 16 bytes per slot, 20 bytes per entry (a 1M-entry policy: 20 MB instead of 33.5 MB for a
// power-of-two table at load <= 0.7). There is no wrap-around: the table ends with spare slots
// and an empty sentinel.
//
// Compiled image: writeImage() stores a built index as a file — a 4 KiB header page
// (magic, format version, hash key, table geometry, XXH3-128 checksum of the rest) then the slot
// table and the multi-list runs exactly as they lie in memory — and mapImage() maps such a file
// read-only instead of building: no list text is read, and every process or snapshot that maps
// the same file shares its pages (the page cache) instead of each holding a private copy.
// mapImage() checks the header, the size, the checksum, the name hash (a probe fingerprint, so
// an image of another hash version is refused rather than matching nothing) and the structure
// lookups rely on (the empty sentinel, runs in range, every entry's list below the recorded
// list count, which the caller checks against its lists), so a damaged or foreign file is an
// error, never a crash. Images are replaced by rename only, never written in place.
//
// Thread-safety: Builder single-threaded; a built NameIndex is immutable and forEachMatch()
// may run on any number of threads. forEachMatch() is data plane: noexcept, no allocation.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

#include "common/result.h"
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
    static void sortPending(std::vector<Pending>& pending);
    uint64_t label_counts_[2] = {0, 0};
    uint32_t list_count_ = 0;
    std::vector<Pending> pending_;
    uint64_t key_;
  };

  NameIndex() noexcept = default;
  // A moved-from index is empty (it matches nothing), never a view of freed memory.
  NameIndex(NameIndex&& o) noexcept { *this = std::move(o); }
  NameIndex& operator=(NameIndex&& o) noexcept;
  NameIndex(const NameIndex&) = delete;  // refs_ may point into owned_refs_
  NameIndex& operator=(const NameIndex&) = delete;

  // The image format; a file of another version is refused (and rebuilt by its caller).
  static constexpr uint32_t kImageVersion = 2;  // 2: XXH3-128 checksum (1: SHA-256)
  // Writes the image atomically (temporary file, fsync, rename) with `mode`.
  Status writeImage(const std::filesystem::path& path, unsigned mode = 0600) const;
  // Maps an image written by writeImage(); see the header comment for what is checked.
  static Result<NameIndex> mapImage(const std::filesystem::path& path);
  // True when the table is a mapped image rather than built in this process.
  bool mapped() const noexcept { return mapped_; }

  // Calls visit(const NameRef&, std::string_view matched_suffix) for every entry covering
  // `name`, most specific suffix first. Entries whose kind does not cover the name (an exact
  // entry of a parent, a subdomains-only entry of the name itself) are skipped.
  //
  // Every suffix's fingerprint comes from one right-to-left pass (each label hashed once, as
  // DomainSet does); suffixes with a label count no entry has are not probed; the home slots
  // of the rest are prefetched before the first probe, so the cache misses of a 3-5 label
  // name overlap instead of adding up (the table of a 1M-entry policy is far larger than the
  // cache).
  template <typename Visit>
  void forEachMatch(std::string_view name, Visit&& visit) const noexcept {
    if (slot_count_ == 0) return;
    std::array<uint16_t, kMaxLabels> starts;
    std::array<uint64_t, kMaxLabels> fps;
    const size_t n = domainSuffixFingerprints(name, key_, starts, fps);
    // Suffixes whose label count no entry has (the bare TLD, for most lists) are not probed.
    for (size_t i = 0; i < n; ++i) {
      if (hasLabelCount(n - i)) __builtin_prefetch(&slots_[home(fps[i])]);
    }
    for (size_t i = 0; i < n; ++i) {
      if (!hasLabelCount(n - i)) continue;
      const Slot* s = find(fps[i]);
      if (!s) continue;
      const Probe p{name.substr(starts[i]), i == 0};
      if (s->inline_ref.kind != kMulti) {
        visitOne(s->inline_ref, p, visit);
        continue;
      }
      const uint32_t first = s->inline_ref.line;
      const uint32_t count = s->inline_ref.list;
      for (uint32_t r = first; r < first + count; ++r) visitOne(refs_[r], p, visit);
    }
  }

  size_t entries() const { return entries_; }
  // One more than the largest NameRef::list of any entry (0 when empty): a caller that maps an
  // image checks it against the lists it has before trusting the refs.
  uint32_t listCount() const { return list_count_; }
  // Bytes of the table (mapped or built).
  size_t memoryBytes() const { return slot_count_ * sizeof(Slot) + ref_count_ * sizeof(NameRef); }

 private:
  // A slot holds its only NameRef inline (the common case: one list names the name); when
  // several lists name it, inline_ref.kind == kMulti and {line, list} = {first, count} of a
  // run in refs_.
  static constexpr uint8_t kMulti = 0xff;
  struct Slot {
    uint64_t fingerprint = 0;  // 0 = empty
    NameRef inline_ref;
  };
  static_assert(sizeof(Slot) == 16);
  static_assert(sizeof(NameRef) == 8);  // no padding: images are written as they lie in memory

  struct Probe {
    std::string_view suffix;
    bool whole;  // the suffix is the whole query name
  };
  template <typename Visit>
  static void visitOne(const NameRef& r, const Probe& p, Visit& visit) noexcept {
    const auto kind = static_cast<DomainMatchKind>(r.kind);
    if (kind == DomainMatchKind::kExact && !p.whole) return;
    if (kind == DomainMatchKind::kSubdomainsOnly && p.whole) return;
    visit(r, p.suffix);
  }

  // Bit k set when some entry has k labels.
  bool hasLabelCount(size_t labels) const noexcept {
    return labels < 128 && ((label_counts_[labels >> 6] >> (labels & 63)) & 1) != 0;
  }

  // Home slot: fp scaled onto [0, home_range_), monotone in fp (see the layout note above).
  size_t home(uint64_t fp) const noexcept {
    return static_cast<size_t>((static_cast<unsigned __int128>(fp) * home_range_) >> 64);
  }

  const Slot* find(uint64_t fp) const noexcept {
    // Occupied slots are sorted by fingerprint and the table ends with an empty sentinel.
    for (size_t i = home(fp);; ++i) {
      const Slot& s = slots_[i];
      if (s.fingerprint == fp) return &s;
      if (s.fingerprint == 0 || s.fingerprint > fp) return nullptr;
    }
  }

  // The memory the table lives in: for a built index its own anonymous mapping with
  // MADV_HUGEPAGE (a 1M-entry table is ~24 MiB, and with 4 KiB pages nearly every probe also
  // misses the TLB — measured: the page walk, not the cache miss, dominated decide()); for an
  // image, the read-only mapping of the file.
  struct Region {
    void* addr = nullptr;
    size_t bytes = 0;
    Region(void* a, size_t b) noexcept : addr(a), bytes(b) {}
    Region(const Region&) = delete;
    Region& operator=(const Region&) = delete;
    ~Region();
  };
  std::shared_ptr<const Region> region_;
  const Slot* slots_ = nullptr;
  size_t slot_count_ = 0;            // home_range_ + overflow slots + the empty sentinel
  std::vector<NameRef> owned_refs_;  // a built index's runs (an image's are in region_)
  const NameRef* refs_ = nullptr;
  size_t ref_count_ = 0;
  size_t home_range_ = 0;
  size_t entries_ = 0;
  uint64_t key_ = 0;
  uint64_t label_counts_[2] = {0, 0};
  uint32_t list_count_ = 0;
  bool mapped_ = false;
};

}  // namespace safegate::policy
