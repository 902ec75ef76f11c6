#include "policy/name_index.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <new>
#include <random>
#include <tuple>
#include <utility>

// libxxhash used header-only (docs/dependencies.md): no run-time library to install.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "common/atomic_file.h"

namespace safegate::policy {

NameIndex::Builder::Builder() {
  std::random_device rd;
  key_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

void NameIndex::Builder::add(std::string_view name, DomainMatchKind kind, uint16_t list,
                             uint32_t line, uint8_t flags) {
  std::array<uint16_t, kMaxLabels> starts;
  std::array<uint64_t, kMaxLabels> fps;
  const size_t labels = domainSuffixFingerprints(name, key_, starts, fps);
  if (labels == 0) return;  // empty or over-long: never produced by normalizeDomain()
  const uint64_t fp = fps[0];
  label_counts_[labels >> 6] |= uint64_t{1} << (labels & 63);
  list_count_ = std::max<uint32_t>(list_count_, uint32_t{list} + 1);
  pending_.push_back(Pending{fp, NameRef{list, static_cast<uint8_t>(kind), flags, line}});
}

NameIndex& NameIndex::operator=(NameIndex&& o) noexcept {
  if (this == &o) return *this;
  region_ = std::move(o.region_);
  owned_refs_ = std::move(o.owned_refs_);
  slots_ = std::exchange(o.slots_, nullptr);
  slot_count_ = std::exchange(o.slot_count_, 0);
  refs_ = std::exchange(o.refs_, nullptr);
  ref_count_ = std::exchange(o.ref_count_, 0);
  home_range_ = std::exchange(o.home_range_, 0);
  entries_ = std::exchange(o.entries_, 0);
  key_ = std::exchange(o.key_, 0);
  label_counts_[0] = std::exchange(o.label_counts_[0], 0);
  label_counts_[1] = std::exchange(o.label_counts_[1], 0);
  list_count_ = std::exchange(o.list_count_, 0);
  mapped_ = std::exchange(o.mapped_, false);
  return *this;
}

NameIndex::Region::~Region() {
  if (addr) ::munmap(addr, bytes);
}

namespace {

// The image header, at offset 0 of a 4 KiB first page; the slots start at kImageHeaderPage.
// Integers are little-endian as written by this (x86-64 / arm64) host; `byte_order` detects
// a file from a host of the other order.
constexpr char kImageMagic[8] = {'s', 'g', 'n', 'a', 'm', 'e', 's', '\n'};
constexpr size_t kImageHeaderPage = 4096;
constexpr uint32_t kByteOrder = 0x01020304;
struct ImageHeader {
  char magic[8];
  uint32_t version;
  uint32_t byte_order;
  uint64_t key;
  uint64_t home_range;
  uint64_t slot_count;
  uint64_t ref_count;
  uint64_t entries;
  // XXH3-128 (canonical, big-endian) of the header page with this field zero, then the slots,
  // then the runs; 16 bytes unused after it.
  uint8_t checksum[16];
  uint8_t unused[16];
  uint64_t label_counts[2];  // bit k: some entry has k labels
  // domainFingerprint("example.com", key): an image whose fingerprints another version of the
  // hash made would map cleanly and match nothing; this refuses it instead.
  uint64_t probe_fingerprint;
  uint32_t list_count;
  uint32_t reserved;
};
constexpr std::string_view kProbeName = "example.com";

// The image checksum: XXH3-128 over the parts in order. It detects damage (a torn or
// bit-rotted file; images are written atomically, so neither should happen) at ~20 GB/s,
// where the SHA-256 of image format 1 took 60 ms of a 0.3 s start for a 95 MiB image. It is
// not a defence against a forger: whoever can write state_dir can write a matching sum, which
// is why mapImage() checks the structure lookups rely on as well.
class ImageChecksum {
 public:
  ImageChecksum() noexcept {
    XXH3_INITSTATE(&state_);
    XXH3_128bits_reset(&state_);
  }
  void update(std::string_view part) noexcept {
    XXH3_128bits_update(&state_, part.data(), part.size());
  }
  void finish(uint8_t (&out)[16]) noexcept {
    XXH128_canonical_t canonical;
    XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(&state_));
    std::memcpy(out, canonical.digest, sizeof out);
  }

 private:
  XXH3_state_t state_;
};
static_assert(sizeof(ImageHeader) <= kImageHeaderPage);

}  // namespace

// Orders entries by fingerprint, the entries of one name by list, line, kind and flags: the
// same order however they were added. Fingerprints are hashes, so their top 12 bits spread a
// big set evenly: one counting pass into 4,096 buckets and a sort of each small bucket (10 % of
// a 5M-name compile with a stable sort of the whole, ~5 % now; 16 bits was slower, its 65,536
// scatter streams thrash the TLB).
void NameIndex::Builder::sortPending(std::vector<Pending>& pending) {
  const auto less = [](const Pending& a, const Pending& b) {
    return std::tie(a.fingerprint, a.ref.list, a.ref.line, a.ref.kind, a.ref.flags) <
           std::tie(b.fingerprint, b.ref.list, b.ref.line, b.ref.kind, b.ref.flags);
  };
  constexpr unsigned kBits = 12;
  constexpr size_t kBuckets = size_t{1} << kBits;
  if (pending.size() < kBuckets * 16) {
    std::sort(pending.begin(), pending.end(), less);
    return;
  }
  std::vector<size_t> next(kBuckets + 1, 0);
  for (const Pending& p : pending) ++next[(p.fingerprint >> (64 - kBits)) + 1];
  for (size_t b = 1; b <= kBuckets; ++b) next[b] += next[b - 1];
  const std::vector<size_t> starts = next;
  std::vector<Pending> sorted(pending.size());
  for (const Pending& p : pending) sorted[next[p.fingerprint >> (64 - kBits)]++] = p;
  pending = std::vector<Pending>();  // before the bucket sorts: one copy less at the peak
  for (size_t b = 0; b < kBuckets; ++b) {
    std::sort(sorted.begin() + static_cast<ptrdiff_t>(starts[b]),
              sorted.begin() + static_cast<ptrdiff_t>(starts[b + 1]), less);
  }
  pending = std::move(sorted);
}

NameIndex NameIndex::Builder::build() {
  NameIndex idx;
  idx.key_ = key_;
  idx.label_counts_[0] = label_counts_[0];
  idx.label_counts_[1] = label_counts_[1];
  idx.list_count_ = list_count_;
  if (pending_.empty()) return idx;
  sortPending(pending_);
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
  auto region = std::make_shared<Region>(nullptr, 0);  // before the mapping: nothing to leak
  void* mem = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) throw std::bad_alloc();
  region->addr = mem;
  region->bytes = bytes;
  if (bytes >= kHuge) ::madvise(mem, bytes, MADV_HUGEPAGE);  // best effort
  idx.region_ = std::move(region);
  Slot* slots = static_cast<Slot*>(mem);
  idx.slots_ = slots;
  idx.slot_count_ = capacity;
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
      slot.inline_ref.line = static_cast<uint32_t>(idx.owned_refs_.size());
      slot.inline_ref.list = static_cast<uint16_t>(count);
      for (size_t k = i; k < i + count; ++k) idx.owned_refs_.push_back(pending_[k].ref);
    }
    const size_t s = std::max(idx.home(fp), next);
    slots[s] = slot;
    next = s + 1;
    i = j;
  }
  idx.owned_refs_.shrink_to_fit();
  idx.refs_ = idx.owned_refs_.data();
  idx.ref_count_ = idx.owned_refs_.size();
  pending_.clear();
  pending_.shrink_to_fit();
  return idx;
}

Status NameIndex::writeImage(const std::filesystem::path& path, unsigned mode) const {
  std::string header(kImageHeaderPage, '\0');
  ImageHeader h{};
  std::memcpy(h.magic, kImageMagic, sizeof h.magic);
  h.version = kImageVersion;
  h.byte_order = kByteOrder;
  h.key = key_;
  h.home_range = home_range_;
  h.slot_count = slot_count_;
  h.ref_count = ref_count_;
  h.entries = entries_;
  h.label_counts[0] = label_counts_[0];
  h.label_counts[1] = label_counts_[1];
  h.probe_fingerprint = domainFingerprint(kProbeName, key_);
  h.list_count = list_count_;
  std::memcpy(header.data(), &h, sizeof h);
  std::string_view parts[] = {header,
                              {reinterpret_cast<const char*>(slots_), slot_count_ * sizeof(Slot)},
                              {reinterpret_cast<const char*>(refs_), ref_count_ * sizeof(NameRef)}};
  ImageChecksum digest;
  for (std::string_view p : parts) digest.update(p);
  digest.finish(h.checksum);
  std::memcpy(header.data(), &h, sizeof h);
  parts[0] = header;
  return writeFileAtomically(path, parts, static_cast<mode_t>(mode));
}

Result<NameIndex> NameIndex::mapImage(const std::filesystem::path& path) {
  const std::string shown = path.string();
  auto bad = [&](const std::string& why) { return Status::invalid(shown + ": " + why); };
  // O_NONBLOCK: a FIFO put in its place must not hang the start (refused below).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Status::fromErrno("open " + shown, errno);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Status::fromErrno("stat " + shown, errno);
  if (!S_ISREG(st.st_mode)) return bad("not a regular file");
  const size_t size = static_cast<size_t>(st.st_size);
  // Reads exactly `n` bytes at `offset` (the file was sized above; short = it changed).
  auto readAt = [&](char* out, size_t n, size_t offset) -> Status {
    while (n > 0) {
      const ssize_t got = ::pread(fd, out, n, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) return Status::fromErrno("read " + shown, errno);
      if (got == 0) return bad("shorter than when it was opened");
      out += got;
      n -= static_cast<size_t>(got);
      offset += static_cast<size_t>(got);
    }
    return Status::ok();
  };
  if (size < kImageHeaderPage) {
    return bad("not a name index image (" + std::to_string(size) +
               " bytes, shorter than its header)");
  }
  std::string header(kImageHeaderPage, '\0');
  if (Status r = readAt(header.data(), header.size(), 0); !r) return r;
  ImageHeader h;
  std::memcpy(&h, header.data(), sizeof h);
  if (std::memcmp(h.magic, kImageMagic, sizeof h.magic) != 0) {
    return bad("not a name index image (wrong magic)");
  }
  if (h.byte_order != kByteOrder) return bad("written by a host of the other byte order");
  if (h.version != kImageVersion) {
    return bad("image format " + std::to_string(h.version) + ", this safegate reads " +
               std::to_string(kImageVersion));
  }
  // Sizes in range before any multiplication (no overflow), then the file size exactly.
  constexpr uint64_t kMaxCount = uint64_t{1} << 40;
  if (h.slot_count > kMaxCount || h.ref_count > kMaxCount ||
      size != kImageHeaderPage + h.slot_count * sizeof(Slot) + h.ref_count * sizeof(NameRef)) {
    return bad("size " + std::to_string(size) + " does not match its header (truncated?)");
  }
  if (h.slot_count > 0 && (h.home_range == 0 || h.home_range >= h.slot_count)) {
    return bad("table geometry is inconsistent");
  }
  if (h.probe_fingerprint != domainFingerprint(kProbeName, h.key)) {
    return bad("made with another name hash (rebuilt from the list text)");
  }
  // One pass with read(), not through the mapping: the checksum, and what find() and
  // forEachMatch() rely on (an empty sentinel ends the table, every multi-list run lies inside
  // the runs). Pages of the mapping then become resident only as lookups touch them, so a
  // reload that maps a new image does not fault in all of it next to the old one.
  constexpr size_t kChunk = size_t{1} << 20;  // a multiple of sizeof(Slot)
  std::string chunk(kChunk, '\0');
  ImageChecksum digest;
  std::memset(header.data() + offsetof(ImageHeader, checksum), 0, sizeof h.checksum);
  digest.update(header);
  const size_t slot_end = kImageHeaderPage + h.slot_count * sizeof(Slot);
  Slot last{};
  Status structure = Status::ok();
  for (size_t offset = kImageHeaderPage; offset < size;) {
    const size_t n = std::min(kChunk, size - offset);
    if (Status r = readAt(chunk.data(), n, offset); !r) return r;
    digest.update(std::string_view(chunk.data(), n));
    size_t k = 0;
    for (; offset + k < slot_end && k < n; k += sizeof(Slot)) {
      std::memcpy(&last, chunk.data() + k, sizeof last);
      if (last.fingerprint == 0) continue;
      if (last.inline_ref.kind == kMulti) {
        if (uint64_t{last.inline_ref.line} + last.inline_ref.list > h.ref_count) {
          structure = bad("a multi-list run lies outside the runs");
        }
      } else if (last.inline_ref.list >= h.list_count) {
        structure = bad("an entry names a list beyond its list count");
      }
    }
    // The runs (slots and runs are 16- and 8-byte aligned from the header page on, so no
    // entry straddles two chunks).
    for (; k + sizeof(NameRef) <= n; k += sizeof(NameRef)) {
      NameRef ref;
      std::memcpy(&ref, chunk.data() + k, sizeof ref);
      if (ref.list >= h.list_count) structure = bad("an entry names a list beyond its list count");
    }
    offset += n;
  }
  uint8_t sum[sizeof h.checksum];
  digest.finish(sum);
  if (std::memcmp(sum, h.checksum, sizeof h.checksum) != 0) {
    return bad("checksum mismatch (damaged; it is rebuilt from the list text)");
  }
  if (!structure) return structure;
  if (h.slot_count > 0 && last.fingerprint != 0) return bad("table geometry is inconsistent");

  auto region = std::make_shared<Region>(nullptr, 0);  // before the mapping: nothing to leak
  void* mem = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (mem == MAP_FAILED) return Status::fromErrno("mmap " + shown, errno);
  region->addr = mem;
  region->bytes = size;
  // Images are only ever replaced by rename (a new inode), never written in place; a file
  // changed between the check and the map anyway (someone's cp over it) is refused.
  struct stat after {};
  if (::fstat(fd, &after) != 0 || after.st_size != st.st_size ||
      after.st_mtim.tv_sec != st.st_mtim.tv_sec || after.st_mtim.tv_nsec != st.st_mtim.tv_nsec) {
    return bad("changed while it was being checked");
  }
  NameIndex idx;
  idx.region_ = std::move(region);
  const char* base = static_cast<const char*>(mem);
  idx.slots_ = h.slot_count ? reinterpret_cast<const Slot*>(base + kImageHeaderPage) : nullptr;
  idx.slot_count_ = h.slot_count;
  idx.refs_ = reinterpret_cast<const NameRef*>(base + slot_end);
  idx.ref_count_ = h.ref_count;
  idx.home_range_ = h.home_range;
  idx.entries_ = h.entries;
  idx.key_ = h.key;
  idx.label_counts_[0] = h.label_counts[0];
  idx.label_counts_[1] = h.label_counts[1];
  idx.list_count_ = h.list_count;
  idx.mapped_ = true;
  return idx;
}

}  // namespace safegate::policy
