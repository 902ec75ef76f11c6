// DnsCache: a bounded, TTL-respecting cache of upstream DNS responses.
//
// One cache per DNS worker thread (no sharing, so no locks). Memory is reserved once in the
// constructor: for each size class (128, 256 and 512 bytes) a store of max_entries slots, handed
// out in order and recycled through a free list, so only slots actually used become resident and
// a typical A/AAAA answer costs 128 bytes, not 512. Entries are indexed by 4-way set-associative
// buckets; a full bucket evicts the entry that expires first. Keys are (lower-case name, qtype,
// qclass, EDNS present, DO, CD). The lifetime is the smallest TTL in the answer (RFC 1035 §4.1.3 /
// RFC 2181 §8), or for NXDOMAIN/NODATA min(SOA TTL, SOA MINIMUM) (RFC 2308 §5); answers with
// neither, SERVFAIL and truncated answers are not cached. A hit is copied out with every TTL
// decreased by the entry's age (where the TTLs sit is noted at insert and kept after the message
// in its slot, so a hit does not re-parse the records). max_entries 0 disables the cache.
// Thread-safety: none; one instance per thread. lookup()/insert() are noexcept and allocation-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "common/mapped_array.h"

namespace safegate {

// Answers larger than this are not cached (they are forwarded every time): typical A/AAAA/
// NXDOMAIN answers are well under it. Large DNSSEC answers (DO bit) are the main casualty.
inline constexpr size_t kMaxCachedMessage = 512;

struct DnsCacheKey {
  std::string_view name;  // lower-case presentation form (as parsed)
  uint16_t qtype = 0;
  uint16_t qclass = 1;
  bool has_edns = false;
  bool dnssec_ok = false;
  bool checking_disabled = false;
};

struct DnsCacheStats {
  uint64_t hits = 0, misses = 0, inserts = 0, evictions = 0, uncacheable = 0;
};

class DnsCache {
 public:
  DnsCache(size_t max_entries, uint32_t max_ttl_seconds = 86400, uint64_t hash_seed = 0);

  bool enabled() const { return sets_ > 0; }
  // On a hit copies the stored answer into `out` with every TTL decreased by the entry's age and
  // returns its length (the caller sets the client's ID); 0 on a miss or if `out` is too small.
  size_t lookup(const DnsCacheKey& key, int64_t now_ms, std::span<uint8_t> out) noexcept;
  // Stores `response` (already validated against the question) if it is cacheable.
  void insert(const DnsCacheKey& key, std::span<const uint8_t> response, int64_t now_ms) noexcept;
  const DnsCacheStats& stats() const { return stats_; }
  void clear() noexcept;

 private:
  static constexpr size_t kWays = 4;
  static constexpr size_t kClasses = 3;
  static constexpr size_t kClassBytes[kClasses] = {128, 256, kMaxCachedMessage};
  static constexpr uint8_t kNoSlot = 0xff;
  struct Entry {
    uint64_t hash = 0;
    int64_t inserted_ms = 0;
    int64_t expires_ms = 0;  // 0 = empty
    uint32_t slot = 0;       // slot in store cls; kept on eviction and reused if the size fits
    uint16_t length = 0;
    uint8_t cls = kNoSlot;
    uint8_t ttl_count = 0;  // TTL offsets stored after the message, or kTtlsNotStored
  };
  static constexpr size_t kMaxStoredTtls = 32;
  static constexpr uint8_t kTtlsNotStored = 0xff;
  // One store per size class: slots handed out in order (so resident memory follows use) and
  // returned to a free list when an entry moves to another class. The free list is reserved
  // for every slot up front, so insert() never allocates.
  struct Store {
    MappedArray<uint8_t> bytes;
    MappedArray<uint32_t> free;
    size_t free_count = 0;
    uint32_t next = 0;
  };
  uint64_t hashKey(const DnsCacheKey& key) const noexcept;
  uint8_t* slotData(const Entry& e) noexcept {
    return &stores_[e.cls].bytes[size_t{e.slot} * kClassBytes[e.cls]];
  }

  size_t sets_ = 0;
  uint32_t max_ttl_seconds_;
  uint64_t seed_;
  std::unique_ptr<Entry[]> entries_;
  Store stores_[kClasses];
  DnsCacheStats stats_;
};

// The lifetime a response may be cached for, in seconds; 0 = do not cache (see DnsCache).
uint32_t cacheableTtlSeconds(std::span<const uint8_t> response) noexcept;
// The same, also noting where each record's TTL sits (OPT excluded) in `ttl_offsets` (as many as
// fit) and how many records have one in `*ttl_count`.
uint32_t cacheableTtlSeconds(std::span<const uint8_t> response, std::span<uint16_t> ttl_offsets,
                             size_t* ttl_count) noexcept;

}  // namespace safegate
