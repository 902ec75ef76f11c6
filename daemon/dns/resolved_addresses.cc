#include "daemon/dns/resolved_addresses.h"

#include <algorithm>
#include <cstring>

#include "filters/dns_message.h"

namespace safegate {

namespace {

uint64_t tagOf(const IpAddress& client, const IpAddress& address) {
  // FNV-1a over both addresses; 0 is reserved for "empty".
  uint64_t h = 0xcbf29ce484222325ull;
  for (auto part : {client.bytes(), address.bytes()}) {
    for (uint8_t b : part) h = (h ^ b) * 0x100000001b3ull;
    h = (h ^ 0xff) * 0x100000001b3ull;
  }
  return h == 0 ? 1 : h;
}

}  // namespace

ResolvedAddressTable::ResolvedAddressTable(size_t entries) {
  size_t sets = 1;
  while (sets * kWays < entries) sets <<= 1;
  sets_mask_ = sets - 1;
  slots_ = std::make_unique<Slot[]>(sets * kWays);
}

void ResolvedAddressTable::record(const IpAddress& client, const IpAddress& address, int64_t now_s,
                                  uint32_t ttl_s) noexcept {
  uint64_t tag = tagOf(client, address);
  int64_t expires = now_s + std::clamp(ttl_s, kMinRetentionSeconds, kMaxRetentionSeconds);
  Slot* set = &slots_[(tag & sets_mask_) * kWays];
  Slot* victim = &set[0];
  for (size_t i = 0; i < kWays; ++i) {
    if (set[i].tag.load(std::memory_order_relaxed) == tag) {
      victim = &set[i];
      break;
    }
    if (set[i].expires_s.load(std::memory_order_relaxed) <
        victim->expires_s.load(std::memory_order_relaxed)) {
      victim = &set[i];
    }
  }
  victim->expires_s.store(expires, std::memory_order_relaxed);
  victim->tag.store(tag, std::memory_order_relaxed);
}

bool ResolvedAddressTable::wasResolvedFor(const IpAddress& client, const IpAddress& address,
                                          int64_t now_s) const noexcept {
  uint64_t tag = tagOf(client, address);
  const Slot* set = &slots_[(tag & sets_mask_) * kWays];
  for (size_t i = 0; i < kWays; ++i) {
    if (set[i].tag.load(std::memory_order_relaxed) == tag &&
        set[i].expires_s.load(std::memory_order_relaxed) > now_s) {
      return true;
    }
  }
  return false;
}

size_t ResolvedAddressTable::recordResponse(const IpAddress& client,
                                            std::span<const uint8_t> response,
                                            int64_t now_s) noexcept {
  NameBuffer qname;
  DnsResponseView view(response, qname);
  if (view.status() != DnsParseStatus::kOk) return 0;
  NameBuffer rname;
  size_t n = 0;
  while (auto r = view.next(rname)) {
    if (r->section != DnsRecord::Section::kAnswer) continue;
    if (r->type == 1 && r->rdata.size() == 4) {
      record(client, IpAddress::v4(std::span<const uint8_t, 4>(r->rdata.data(), 4)), now_s, r->ttl);
      ++n;
    } else if (r->type == 28 && r->rdata.size() == 16) {
      record(client, IpAddress::v6(std::span<const uint8_t, 16>(r->rdata.data(), 16)), now_s,
             r->ttl);
      ++n;
    }
  }
  return n;
}

}  // namespace safegate
