// FlowTable: the inline path's per-worker table of flows it is still deciding, and the pool of
// reassembly buffers those flows borrow.
//
// Only the first packets of a flow reach user space (the connection mark offloads the rest),
// so the table holds flows for seconds, not for their lifetime: entries expire after
// idle_timeout_ms and are reused in place. Open addressing with a bounded probe: a lookup or
// insert touches at most kProbe slots, so a full table costs a miss (counted as overload and
// handled per group: fail-open or fail-closed), never a long scan. Reassembly state (a TLS
// stream or QUIC CRYPTO stream, QuicFlowState ~16 KiB) comes from a fixed pool; a flow that
// cannot get one is overload too.
//
// Data plane: noexcept, no allocation after create(). Not thread-safe: one table per worker
// (the firewall's --queue-balance keeps a flow on one queue, hence one worker).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"
#include "filters/quic_initial.h"

namespace safegate {

struct FlowKey {
  IpAddress client;
  IpAddress server;
  uint16_t client_port = 0;
  uint16_t server_port = 0;
  uint8_t protocol = 0;  // IPPROTO_TCP / IPPROTO_UDP
  friend bool operator==(const FlowKey&, const FlowKey&) = default;
};

enum class FlowKind : uint8_t { kUnknown, kDns, kHttp, kTls, kQuic, kEncryptedDns, kOther };

struct FlowEntry {
  FlowKey key;
  int64_t last_seen_ms = 0;
  uint32_t packets = 0;  // client-to-server packets seen
  FlowKind kind = FlowKind::kUnknown;
  bool decided = false;
  bool has_base_seq = false;  // TCP: base_seq is the sequence number of stream octet 0
  uint32_t base_seq = 0;
  int32_t buffer = -1;  // index into the reassembly pool, or -1
  // DNS over TCP: the buffer holds the stream from base_seq on; the messages before
  // dns_consumed in it have been decided (daemon/inline_inspector.cc, dnsOverTcp()).
  uint32_t dns_consumed = 0;
  // DNS over TCP: a segment holding a whole message has reached the server, which may have
  // answered (so the client's ACK no longer tells the server's next sequence number), or the
  // connection was picked up mid-way. A safe-search answer is forged only before that.
  bool dns_server_asked = false;
  bool in_use = false;
};

struct FlowTableStats {
  uint64_t inserted = 0;
  uint64_t expired_reused = 0;
  uint64_t table_full = 0;  // no free slot within the probe window
  uint64_t pool_exhausted = 0;
};

class FlowTable {
 public:
  static constexpr size_t kProbe = 16;

  // `capacity` is rounded up to a power of two; `buffers` reassembly states are preallocated.
  static Result<std::unique_ptr<FlowTable>> create(size_t capacity, size_t buffers,
                                                   int64_t idle_timeout_ms);

  FlowEntry* find(const FlowKey& key, int64_t now_ms) noexcept;
  // Finds or inserts; nullptr when the table is full (every probed slot holds a live flow).
  FlowEntry* findOrInsert(const FlowKey& key, int64_t now_ms, bool* inserted) noexcept;
  void erase(FlowEntry* e) noexcept;

  // Attaches a reassembly state to `e` (reset); nullptr when the pool is empty.
  QuicFlowState* attachBuffer(FlowEntry* e) noexcept;
  QuicFlowState* buffer(const FlowEntry* e) noexcept;
  void releaseBuffer(FlowEntry* e) noexcept;

  const FlowTableStats& stats() const noexcept { return stats_; }
  size_t capacity() const noexcept { return slots_.size(); }
  size_t buffersFree() const noexcept { return free_buffers_.size(); }

 private:
  FlowTable() = default;
  size_t slotOf(const FlowKey& key) const noexcept;
  bool expired(const FlowEntry& e, int64_t now_ms) const noexcept {
    return now_ms - e.last_seen_ms > idle_timeout_ms_;
  }

  std::vector<FlowEntry> slots_;
  size_t mask_ = 0;
  int64_t idle_timeout_ms_ = 0;
  std::vector<std::unique_ptr<QuicFlowState>> pool_;
  std::vector<int32_t> free_buffers_;  // stack of free pool indices (reserved capacity)
  FlowTableStats stats_;
};

}  // namespace safegate
