#include "daemon/inline/flow_table.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>

namespace safegate {

namespace {

size_t roundUpPow2(size_t n) {
  size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

}  // namespace

Result<std::unique_ptr<FlowTable>> FlowTable::create(size_t capacity, size_t buffers,
                                                     size_t per_client, int64_t idle_timeout_ms) {
  if (capacity == 0 || capacity > (size_t{1} << 24)) {
    return Status::invalid("flow table capacity must be between 1 and 16M");
  }
  if (buffers > (size_t{1} << 20)) {
    return Status::invalid("flow table: at most 1M reassembly buffers");
  }
  if (per_client == 0) return Status::invalid("flow table: per-client buffer share must be >= 1");
  size_t n = roundUpPow2(capacity);
  std::unique_ptr<FlowTable> t(new FlowTable());
  auto key = SipHashKey::random();
  if (!key) return Status::unavailable("flow table: " + key.status().message());
  t->key_ = *key;
  t->slots_.resize(n);
  t->mask_ = n - 1;
  t->idle_timeout_ms_ = idle_timeout_ms;
  t->per_client_ = per_client;
  t->pool_.reserve(buffers);
  t->free_buffers_.reserve(buffers);
  t->owners_.assign(buffers, nullptr);
  for (size_t i = 0; i < buffers; ++i) {
    t->pool_.push_back(std::make_unique<QuicFlowState>());
    t->free_buffers_.push_back(static_cast<int32_t>(buffers - 1 - i));
  }
  // At most `buffers` clients hold one; twice that keeps the linear probes short.
  size_t client_slots = roundUpPow2(2 * buffers + 2);
  t->clients_.resize(client_slots);
  t->clients_mask_ = client_slots - 1;
  return t;
}

size_t FlowTable::slotOf(const FlowKey& k) const noexcept {
  uint8_t m[16 + 16 + 2 + 2 + 1];
  size_t n = 0;
  for (std::span<const uint8_t> a : {k.client.bytes(), k.server.bytes()}) {
    std::memcpy(m + n, a.data(), a.size());
    n += a.size();
  }
  m[n++] = static_cast<uint8_t>(k.client_port >> 8);
  m[n++] = static_cast<uint8_t>(k.client_port);
  m[n++] = static_cast<uint8_t>(k.server_port >> 8);
  m[n++] = static_cast<uint8_t>(k.server_port);
  m[n++] = k.protocol;
  return static_cast<size_t>(sipHash24({m, n}, key_)) & mask_;
}

uint64_t FlowTable::clientHash(const IpAddress& client) const noexcept {
  // A different key from the slot hash (first word flipped): the two tables stay independent.
  return sipHash24(client.bytes(), ~key_.k0, key_.k1);
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

QuicFlowState* FlowTable::attachBuffer(FlowEntry* e, int64_t now_ms) noexcept {
  if (e->buffer >= 0) return pool_[static_cast<size_t>(e->buffer)].get();
  const ClientCount* held = findClient(e->key.client);
  if (held != nullptr && held->held >= per_client_) {
    // At its share: the client's own oldest flow gives its buffer up, nobody else's.
    int32_t oldest = oldestBufferOf(e->key.client);
    if (oldest >= 0) {
      FlowEntry* victim = owners_[static_cast<size_t>(oldest)];
      releaseBuffer(victim);
      victim->loss = BufferLoss::kEvicted;
      ++stats_.client_share_evicted;
    }
  }
  if (free_buffers_.empty()) {
    ++stats_.pool_exhausted;
    return nullptr;
  }
  e->buffer = free_buffers_.back();
  free_buffers_.pop_back();  // capacity reserved at create(): no allocation
  e->buffer_since_ms = now_ms;
  owners_[static_cast<size_t>(e->buffer)] = e;
  addHeld(e->key.client);
  QuicFlowState* st = pool_[static_cast<size_t>(e->buffer)].get();
  st->reset();
  return st;
}

QuicFlowState* FlowTable::buffer(const FlowEntry* e) noexcept {
  return e->buffer >= 0 ? pool_[static_cast<size_t>(e->buffer)].get() : nullptr;
}

void FlowTable::releaseBuffer(FlowEntry* e) noexcept {
  if (e->buffer < 0) return;
  owners_[static_cast<size_t>(e->buffer)] = nullptr;
  free_buffers_.push_back(e->buffer);  // never exceeds the reserved capacity
  e->buffer = -1;
  removeHeld(e->key.client);
}

void FlowTable::sweep(int64_t now_ms, int64_t undecided_timeout_ms, size_t max_slots) noexcept {
  const size_t n = max_slots < slots_.size() ? max_slots : slots_.size();
  for (size_t i = 0; i < n; ++i) {
    FlowEntry& e = slots_[sweep_cursor_];
    sweep_cursor_ = (sweep_cursor_ + 1) & mask_;
    if (!e.in_use) continue;
    if (expired(e, now_ms)) {
      erase(&e);
      ++stats_.swept_flows;
    } else if (e.buffer >= 0 && now_ms - e.buffer_since_ms >= undecided_timeout_ms) {
      releaseBuffer(&e);
      e.loss = BufferLoss::kAged;
      ++stats_.swept_buffers;
    }
  }
}

size_t FlowTable::buffersHeldBy(const IpAddress& client) const noexcept {
  size_t count = 0;
  for (const FlowEntry* owner : owners_) {
    if (owner != nullptr && owner->key.client == client) ++count;
  }
  return count;
}

int32_t FlowTable::oldestBufferOf(const IpAddress& client) const noexcept {
  // Only on the path of a client at its share: a scan of the pool, no allocation.
  int32_t oldest = -1;
  int64_t since = 0;
  for (size_t i = 0; i < owners_.size(); ++i) {
    const FlowEntry* owner = owners_[i];
    if (owner == nullptr || !(owner->key.client == client)) continue;
    if (oldest < 0 || owner->buffer_since_ms < since) {
      oldest = static_cast<int32_t>(i);
      since = owner->buffer_since_ms;
    }
  }
  return oldest;
}

FlowTable::ClientCount* FlowTable::findClient(const IpAddress& client) noexcept {
  size_t s = static_cast<size_t>(clientHash(client)) & clients_mask_;
  for (size_t i = 0; i <= clients_mask_; ++i) {
    ClientCount& c = clients_[(s + i) & clients_mask_];
    if (c.held == 0) return nullptr;
    if (c.client == client) return &c;
  }
  return nullptr;
}

void FlowTable::addHeld(const IpAddress& client) noexcept {
  size_t s = static_cast<size_t>(clientHash(client)) & clients_mask_;
  for (size_t i = 0; i <= clients_mask_; ++i) {
    ClientCount& c = clients_[(s + i) & clients_mask_];
    if (c.held == 0) {
      c.client = client;
      c.held = 1;
      return;
    }
    if (c.client == client) {
      ++c.held;
      return;
    }
  }
}

void FlowTable::removeHeld(const IpAddress& client) noexcept {
  ClientCount* c = findClient(client);
  if (c == nullptr) return;
  if (--c->held > 0) return;
  // Backward-shift deletion keeps every remaining entry reachable from its home slot.
  size_t hole = static_cast<size_t>(c - clients_.data());
  size_t j = hole;
  for (;;) {
    j = (j + 1) & clients_mask_;
    ClientCount& next = clients_[j];
    if (next.held == 0) break;
    size_t home = static_cast<size_t>(clientHash(next.client)) & clients_mask_;
    // `next` may move into the hole when its home is not cyclically within (hole, j].
    bool home_in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!home_in_range) {
      clients_[hole] = next;
      next.held = 0;
      hole = j;
    }
  }
  clients_[hole].held = 0;
}

}  // namespace safegate
