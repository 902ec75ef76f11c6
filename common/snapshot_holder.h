// SnapshotHolder<T>: publish an immutable T whole, so readers never see it half-applied
// (the model is PowerDNS's GlobalStateHolder/LocalStateHolder in
// pdns/sholder.hh).
//
// The control plane builds a complete new `std::shared_ptr<const T>` and calls publish(); a
// generation counter is bumped after the pointer is stored. Each data-plane thread owns a
// SnapshotHolder<T>::Reader holding its own copy of the pointer and the generation it saw.
// Reader::current() does one atomic acquire load of the generation per call; only when it
// changed does the reader take the holder's mutex to copy the new pointer (once per publish per
// thread). So in steady state a request costs one atomic load — no lock, no reference-count
// traffic, no allocation — and a request that calls current() once sees exactly one snapshot,
// old or new, never a mix.
//
// Reassigning a plain shared_ptr that workers read concurrently is a data race (a bug
// e2guardian had); this holder exists so nobody does that.
//
// Lifetime and memory: the previous snapshot is destroyed when the last Reader holding it
// refreshes (or is destroyed). A Reader that is never used again keeps its snapshot alive, so
// during a swap peak memory is about two snapshots (more only if a thread sleeps across several
// publishes). Workers call current() at the start of each request, which releases the old one.
//
// Thread-safety: publish(), get() and generation() may be called from any thread. A Reader is
// for ONE thread (not synchronised); it refers to its holder, which must outlive it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>

namespace safegate {

template <typename T>
class SnapshotHolder {
 public:
  using Ptr = std::shared_ptr<const T>;

  explicit SnapshotHolder(Ptr initial = nullptr) : state_(std::move(initial)) {}
  SnapshotHolder(const SnapshotHolder&) = delete;
  SnapshotHolder& operator=(const SnapshotHolder&) = delete;

  // Makes `next` the snapshot every Reader sees from its next current() on. Control plane.
  // The previous snapshot is released here and in each Reader as it refreshes.
  void publish(Ptr next) {
    Ptr old;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      old = std::exchange(state_, std::move(next));
      // Release: a reader that observes the new generation also observes the new state_ (it
      // copies state_ under the same mutex anyway; the ordering keeps generation() honest).
      generation_.fetch_add(1, std::memory_order_release);
    }
    // `old` is released outside the lock so a large snapshot's destructor never blocks readers.
  }

  // A copy of the current snapshot (takes the lock; control-plane use, e.g. explain or stats).
  Ptr get() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return state_;
  }

  // How many publish() calls happened; starts at 0.
  uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }

  class Reader {
   public:
    explicit Reader(const SnapshotHolder& holder) : holder_(&holder) { refresh(); }

    // The snapshot this thread should use for the request it is starting. One atomic load
    // when nothing was published since the last call. The reference stays valid until the next
    // current() on this Reader. May be null if nothing was ever published.
    const Ptr& current() noexcept {
      if (holder_->generation_.load(std::memory_order_acquire) != generation_) refresh();
      return local_;
    }
    // The generation of the snapshot current() last returned.
    uint64_t generation() const noexcept { return generation_; }
    // How often this Reader copied a new snapshot (for tests and stats).
    uint64_t refreshCount() const noexcept { return refreshes_; }

   private:
    void refresh() noexcept {
      std::lock_guard<std::mutex> lock(holder_->mutex_);
      local_ = holder_->state_;
      generation_ = holder_->generation_.load(std::memory_order_relaxed);
      ++refreshes_;
    }

    const SnapshotHolder* holder_;
    Ptr local_;
    uint64_t generation_ = 0;
    uint64_t refreshes_ = 0;
  };

  // A Reader for the calling thread.
  Reader reader() const { return Reader(*this); }

 private:
  mutable std::mutex mutex_;  // guards state_ (and orders it with generation_)
  Ptr state_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace safegate
