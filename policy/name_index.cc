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
  size_t capacity = 16;
  while (capacity * 7 < distinct * 10) capacity <<= 1;  // load factor <= 0.7
  // Round up to whole 2 MiB huge pages; the mapping starts zeroed (= every slot empty).
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t bytes = (capacity * sizeof(Slot) + kHuge - 1) / kHuge * kHuge;
  void* mem = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw std::bad_alloc();
  if (bytes >= kHuge) ::madvise(mem, bytes, MADV_HUGEPAGE);  // best effort
  idx.slots_ = std::unique_ptr<Slot[], Unmap>(static_cast<Slot*>(mem), Unmap(bytes));
  idx.slot_count_ = capacity;
  idx.slot_bytes_ = bytes;
  idx.mask_ = capacity - 1;
  idx.entries_ = pending_.size();
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
    size_t s = static_cast<size_t>(fp) & idx.mask_;
    while (idx.slots_[s].fingerprint != 0) s = (s + 1) & idx.mask_;
    idx.slots_[s] = slot;
    i = j;
  }
  idx.refs_.shrink_to_fit();
  pending_.clear();
  pending_.shrink_to_fit();
  return idx;
}

}  // namespace safegate::policy
