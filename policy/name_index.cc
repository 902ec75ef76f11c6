#include "policy/name_index.h"

#include <sys/mman.h>

#include <algorithm>
#include <new>
#include <random>

namespace safegate::policy {

NameIndex::Builder::Builder() {
  std::random_device rd;
  key_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

void NameIndex::Builder::add(std::string_view name, DomainMatchKind kind, uint16_t list,
                             uint32_t line, uint8_t flags) {
  uint64_t fp = domainFingerprint(name, key_);
  if (fp == 0) fp = 1;
  pending_.push_back(Pending{fp, NameRef{list, static_cast<uint8_t>(kind), flags, line}});
}

void NameIndex::Unmap::operator()(Slot* p) const noexcept {
  if (p) ::munmap(p, bytes);
}

NameIndex NameIndex::Builder::build() {
  NameIndex idx;
  idx.key_ = key_;
  if (pending_.empty()) return idx;
  std::stable_sort(pending_.begin(), pending_.end(), [](const Pending& a, const Pending& b) {
    return a.fingerprint < b.fingerprint;
  });
  size_t distinct = 0;
  for (size_t i = 0; i < pending_.size(); ++i) {
    if (i == 0 || pending_[i].fingerprint != pending_[i - 1].fingerprint) ++distinct;
  }
  // Load factor 0.8 (the ordered layout keeps misses short; see name_index.h).
  idx.home_range_ = std::max<size_t>(16, distinct + distinct / 4);
  // Sorted input and a monotone home() make each fingerprint's slot max(home, previous + 1):
  // one pass finds where the last one lands, so the table ends exactly after it (plus the
  // empty sentinel) and never wraps.
  size_t next = 0;
  for (size_t i = 0; i < pending_.size(); ++i) {
    if (i > 0 && pending_[i].fingerprint == pending_[i - 1].fingerprint) continue;
    next = std::max(idx.home(pending_[i].fingerprint), next) + 1;
  }
  const size_t capacity = std::max(next, idx.home_range_) + 1;
  // Round up to whole 2 MiB huge pages; the mapping starts zeroed (= every slot empty).
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t bytes = (capacity * sizeof(Slot) + kHuge - 1) / kHuge * kHuge;
  void* mem = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw std::bad_alloc();
  if (bytes >= kHuge) ::madvise(mem, bytes, MADV_HUGEPAGE);  // best effort
  idx.slots_ = std::unique_ptr<Slot[], Unmap>(static_cast<Slot*>(mem), Unmap(bytes));
  idx.slot_count_ = capacity;
  idx.slot_bytes_ = bytes;
  idx.entries_ = pending_.size();
  next = 0;
  for (size_t i = 0; i < pending_.size();) {
    size_t j = i;
    const uint64_t fp = pending_[i].fingerprint;
    while (j < pending_.size() && pending_[j].fingerprint == fp) ++j;
    Slot slot;
    slot.fingerprint = fp;
    const size_t count = std::min<size_t>(j - i, 0xffff);
    if (count == 1) {
      slot.inline_ref = pending_[i].ref;
    } else {
      slot.inline_ref.kind = kMulti;
      slot.inline_ref.line = static_cast<uint32_t>(idx.refs_.size());
      slot.inline_ref.list = static_cast<uint16_t>(count);
      for (size_t k = i; k < i + count; ++k) idx.refs_.push_back(pending_[k].ref);
    }
    const size_t s = std::max(idx.home(fp), next);
    idx.slots_[s] = slot;
    next = s + 1;
    i = j;
  }
  idx.refs_.shrink_to_fit();
  pending_.clear();
  pending_.shrink_to_fit();
  return idx;
}

}  // namespace safegate::policy
