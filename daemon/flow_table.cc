#include "daemon/flow_table.h"

#include <cstring>

namespace safegate {

namespace {

uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h;
}

uint64_t bytesHash(uint64_t h, std::span<const uint8_t> b) {
  for (size_t i = 0; i < b.size(); i += 8) {
    uint64_t v = 0;
    std::memcpy(&v, b.data() + i, b.size() - i < 8 ? b.size() - i : 8);
    h = mix(h, v);
  }
  return h;
}

}  // namespace

Result<std::unique_ptr<FlowTable>> FlowTable::create(size_t capacity, size_t buffers,
                                                     int64_t idle_timeout_ms) {
  if (capacity == 0 || capacity > (size_t{1} << 24)) {
    return Status::invalid("flow table capacity must be between 1 and 16M");
  }
  size_t n = 1;
  while (n < capacity) n <<= 1;
  std::unique_ptr<FlowTable> t(new FlowTable());
  t->slots_.resize(n);
  t->mask_ = n - 1;
  t->idle_timeout_ms_ = idle_timeout_ms;
  t->pool_.reserve(buffers);
  t->free_buffers_.reserve(buffers);
  for (size_t i = 0; i < buffers; ++i) {
    t->pool_.push_back(std::make_unique<QuicFlowState>());
    t->free_buffers_.push_back(static_cast<int32_t>(buffers - 1 - i));
  }
  return t;
}

size_t FlowTable::slotOf(const FlowKey& k) const noexcept {
  uint64_t h = bytesHash(0x51a7e, k.client.bytes());
  h = bytesHash(h, k.server.bytes());
  h = mix(h, (uint64_t{k.client_port} << 24) | (uint64_t{k.server_port} << 8) | k.protocol);
  return static_cast<size_t>(h) & mask_;
}

FlowEntry* FlowTable::find(const FlowKey& key, int64_t now_ms) noexcept {
  size_t s = slotOf(key);
  for (size_t i = 0; i < kProbe; ++i) {
    FlowEntry& e = slots_[(s + i) & mask_];
    if (e.in_use && e.key == key) {
      if (expired(e, now_ms)) {
        erase(&e);
        return nullptr;
      }
      return &e;
    }
  }
  return nullptr;
}

FlowEntry* FlowTable::findOrInsert(const FlowKey& key, int64_t now_ms, bool* inserted) noexcept {
  *inserted = false;
  size_t s = slotOf(key);
  FlowEntry* free_slot = nullptr;
  for (size_t i = 0; i < kProbe; ++i) {
    FlowEntry& e = slots_[(s + i) & mask_];
    if (e.in_use && e.key == key && !expired(e, now_ms)) return &e;
    if (free_slot == nullptr && (!e.in_use || expired(e, now_ms))) free_slot = &e;
  }
  if (free_slot == nullptr) {
    ++stats_.table_full;
    return nullptr;
  }
  if (free_slot->in_use) {
    ++stats_.expired_reused;
    erase(free_slot);
  }
  *free_slot = FlowEntry{};
  free_slot->key = key;
  free_slot->in_use = true;
  free_slot->last_seen_ms = now_ms;
  ++stats_.inserted;
  *inserted = true;
  return free_slot;
}

void FlowTable::erase(FlowEntry* e) noexcept {
  releaseBuffer(e);
  e->in_use = false;
}

QuicFlowState* FlowTable::attachBuffer(FlowEntry* e) noexcept {
  if (e->buffer >= 0) return pool_[static_cast<size_t>(e->buffer)].get();
  if (free_buffers_.empty()) {
    ++stats_.pool_exhausted;
    return nullptr;
  }
  e->buffer = free_buffers_.back();
  free_buffers_.pop_back();  // capacity reserved at create(): no allocation
  QuicFlowState* st = pool_[static_cast<size_t>(e->buffer)].get();
  st->reset();
  return st;
}

QuicFlowState* FlowTable::buffer(const FlowEntry* e) noexcept {
  return e->buffer >= 0 ? pool_[static_cast<size_t>(e->buffer)].get() : nullptr;
}

void FlowTable::releaseBuffer(FlowEntry* e) noexcept {
  if (e->buffer < 0) return;
  free_buffers_.push_back(e->buffer);  // never exceeds the reserved capacity
  e->buffer = -1;
}

}  // namespace safegate
