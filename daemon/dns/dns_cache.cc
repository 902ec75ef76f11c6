#include "daemon/dns/dns_cache.h"

#include <algorithm>
#include <cstring>

#include "filters/dns_message.h"

namespace safegate {

namespace {
uint32_t readU32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
void writeU32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
}  // namespace

uint32_t cacheableTtlSeconds(std::span<const uint8_t> response) noexcept {
  return cacheableTtlSeconds(response, {}, nullptr);
}

uint32_t cacheableTtlSeconds(std::span<const uint8_t> response, std::span<uint16_t> ttl_offsets,
                             size_t* ttl_count) noexcept {
  size_t count = 0;
  NameBuffer qname;
  DnsResponseView view(response, qname);
  if (view.status() != DnsParseStatus::kOk) return 0;
  const DnsHeader& h = view.header();
  if (h.truncated()) return 0;
  const uint8_t rcode = h.rcode();
  if (rcode != dns_rcode::kNoError && rcode != dns_rcode::kNxDomain) return 0;
  uint32_t answer_ttl = UINT32_MAX;
  uint32_t negative_ttl = UINT32_MAX;
  bool has_answer = false;
  NameBuffer rname;
  while (auto r = view.next(rname)) {
    if (r->type == dns_type::kOpt) continue;  // its "TTL" is extended rcode and flags
    if (count < ttl_offsets.size()) ttl_offsets[count] = static_cast<uint16_t>(r->ttl_offset);
    ++count;
    if (r->section == DnsRecord::Section::kAnswer) {
      has_answer = true;
      answer_ttl = std::min(answer_ttl, r->ttl);
    } else if (r->section == DnsRecord::Section::kAuthority && r->type == dns_type::kSoa &&
               r->rdata.size() >= 20) {
      // SOA MINIMUM is the last 32-bit field of the RDATA (RFC 1035 §3.3.13).
      uint32_t minimum = readU32(r->rdata.data() + r->rdata.size() - 4);
      negative_ttl = std::min({negative_ttl, r->ttl, minimum});
    }
  }
  if (view.status() != DnsParseStatus::kOk) return 0;
  if (ttl_count) *ttl_count = count;
  if (rcode == dns_rcode::kNoError && has_answer) return answer_ttl;
  if (negative_ttl != UINT32_MAX) return negative_ttl;  // NXDOMAIN / NODATA with SOA
  return 0;
}

DnsCache::DnsCache(size_t max_entries, uint32_t max_ttl_seconds, uint64_t hash_seed)
    : max_ttl_seconds_(max_ttl_seconds), seed_(hash_seed ^ 0x9e3779b97f4a7c15ull) {
  if (max_entries == 0) return;
  sets_ = (max_entries + kWays - 1) / kWays;
  entries_ = std::make_unique<Entry[]>(sets_ * kWays);
  // Mapped, not new[]: pages of the stores become resident only as entries fill them (a store
  // may hold every entry, so none can run out of slots).
  for (size_t c = 0; c < kClasses; ++c) {
    stores_[c].bytes = MappedArray<uint8_t>(sets_ * kWays * kClassBytes[c]);
    stores_[c].free = MappedArray<uint32_t>(sets_ * kWays);
  }
}

uint64_t DnsCache::hashKey(const DnsCacheKey& key) const noexcept {
  uint64_t h = seed_ ^ 0xcbf29ce484222325ull;  // FNV-1a, seeded so collisions are not chosen
  for (char c : key.name) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ull;
  }
  uint64_t extra = (uint64_t{key.qtype} << 16) | key.qclass;
  extra = (extra << 3) | (key.has_edns ? 4 : 0) | (key.dnssec_ok ? 2 : 0) |
          (key.checking_disabled ? 1 : 0);
  h ^= extra * 0x9e3779b97f4a7c15ull;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  return h | 1;  // never 0
}

size_t DnsCache::lookup(const DnsCacheKey& key, int64_t now_ms, std::span<uint8_t> out) noexcept {
  if (!enabled()) return 0;
  const uint64_t h = hashKey(key);
  Entry* set = &entries_[(h % sets_) * kWays];
  for (size_t w = 0; w < kWays; ++w) {
    Entry& e = set[w];
    if (e.hash != h || e.expires_ms == 0) continue;
    if (e.expires_ms <= now_ms) {
      e.expires_ms = 0;
      break;
    }
    const uint8_t* stored = slotData(e);
    if (e.length > out.size()) break;
    std::memcpy(out.data(), stored, e.length);
    std::span<uint8_t> msg = out.first(e.length);
    // Verify the key (the hash is only a hint) by reading the stored question name.
    NameBuffer stored_name;
    DnsResponseView view(msg, stored_name);
    if (view.status() != DnsParseStatus::kOk || view.question().name != key.name ||
        view.question().qtype != key.qtype || view.question().qclass != key.qclass) {
      break;
    }
    const uint32_t age_s = static_cast<uint32_t>((now_ms - e.inserted_ms) / 1000);
    if (age_s > 0 && e.ttl_count != kTtlsNotStored) {
      // The TTL positions were noted at insert (after the message in the slot): no re-parse.
      uint16_t offsets[kMaxStoredTtls];
      std::memcpy(offsets, stored + e.length, e.ttl_count * sizeof(uint16_t));
      for (size_t t = 0; t < e.ttl_count; ++t) {
        const uint32_t ttl = readU32(msg.data() + offsets[t]);
        writeU32(msg.data() + offsets[t], ttl > age_s ? ttl - age_s : 0);
      }
    } else if (age_s > 0) {
      NameBuffer rname;
      while (auto r = view.next(rname)) {
        if (r->type == dns_type::kOpt) continue;
        uint32_t ttl = r->ttl > age_s ? r->ttl - age_s : 0;
        writeU32(msg.data() + r->ttl_offset, ttl);
      }
    }
    ++stats_.hits;
    return e.length;
  }
  ++stats_.misses;
  return 0;
}

void DnsCache::insert(const DnsCacheKey& key, std::span<const uint8_t> response,
                      int64_t now_ms) noexcept {
  if (!enabled()) return;
  if (response.size() > kMaxCachedMessage) {
    ++stats_.uncacheable;
    return;
  }
  uint16_t offsets[kMaxStoredTtls];
  size_t ttl_count = 0;
  uint32_t ttl = cacheableTtlSeconds(response, offsets, &ttl_count);
  if (ttl == 0) {
    ++stats_.uncacheable;
    return;
  }
  ttl = std::min(ttl, max_ttl_seconds_);
  const uint64_t h = hashKey(key);
  Entry* set = &entries_[(h % sets_) * kWays];
  Entry* victim = nullptr;
  for (size_t w = 0; w < kWays; ++w) {
    Entry& e = set[w];
    if (e.hash == h || e.expires_ms == 0 || e.expires_ms <= now_ms) {
      victim = &e;
      break;
    }
    if (!victim || e.expires_ms < victim->expires_ms) victim = &e;
  }
  if (victim->expires_ms > now_ms && victim->hash != h) ++stats_.evictions;
  // The TTL offsets ride after the message when they fit in the same slot.
  size_t stored_bytes = response.size() + ttl_count * sizeof(uint16_t);
  if (ttl_count > kMaxStoredTtls || stored_bytes > kMaxCachedMessage) {
    ttl_count = kTtlsNotStored;
    stored_bytes = response.size();
  }
  uint8_t cls = 0;
  while (kClassBytes[cls] < stored_bytes) ++cls;
  if (victim->cls != cls) {
    if (victim->cls != kNoSlot) {
      Store& old = stores_[victim->cls];
      old.free[old.free_count++] = victim->slot;
    }
    Store& store = stores_[cls];
    // Every entry holds at most one slot, so a class never needs more than sets_ * kWays.
    victim->slot = store.free_count > 0 ? store.free[--store.free_count] : store.next++;
    victim->cls = cls;
  }
  std::memcpy(slotData(*victim), response.data(), response.size());
  if (ttl_count != kTtlsNotStored) {
    std::memcpy(slotData(*victim) + response.size(), offsets, ttl_count * sizeof(uint16_t));
  }
  victim->ttl_count = static_cast<uint8_t>(ttl_count);
  victim->hash = h;
  victim->inserted_ms = now_ms;
  victim->expires_ms = now_ms + int64_t{ttl} * 1000;
  victim->length = static_cast<uint16_t>(response.size());
  ++stats_.inserts;
}

void DnsCache::clear() noexcept {
  for (size_t i = 0; i < sets_ * kWays; ++i) {
    entries_[i].expires_ms = 0;  // keep the slot: the stores are reused, not re-grown
    entries_[i].hash = 0;
  }
}

}  // namespace safegate
