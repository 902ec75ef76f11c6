#include "policy/name_index.h"

#include <algorithm>
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
  idx.slots_.assign(capacity, Slot{});
  idx.mask_ = capacity - 1;
  idx.refs_.reserve(pending_.size());
  for (size_t i = 0; i < pending_.size();) {
    size_t j = i;
    const uint64_t fp = pending_[i].fingerprint;
    const uint32_t first = static_cast<uint32_t>(idx.refs_.size());
    while (j < pending_.size() && pending_[j].fingerprint == fp) {
      idx.refs_.push_back(pending_[j].ref);
      ++j;
    }
    size_t s = static_cast<size_t>(fp) & idx.mask_;
    while (idx.slots_[s].fingerprint != 0) s = (s + 1) & idx.mask_;
    idx.slots_[s] = Slot{fp, first, static_cast<uint32_t>(j - i)};
    i = j;
  }
  pending_.clear();
  pending_.shrink_to_fit();
  return idx;
}

}  // namespace safegate::policy
