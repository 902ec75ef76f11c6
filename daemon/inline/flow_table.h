// FlowTable: the inline path's per-worker table of flows it is still deciding, and the pool of
// reassembly buffers those flows borrow.
//
// Only the first packets of a flow reach user space (the connection mark offloads the rest),
// so the table holds flows for seconds, not for their lifetime: entries expire after
// idle_timeout_ms and are reused in place. Open addressing with a bounded probe: a lookup or
// insert touches at most kProbe slots, so a full table costs a miss (counted as overload and
// handled per group: fail-open or fail-closed), never a long scan. The slot hash is keyed
// with a secret drawn from getrandom() per table (SipHash-2-4), so a client cannot choose
// 5-tuples that pile into one probe window.
//
// Reassembly state (a TLS stream or QUIC CRYPTO stream, QuicFlowState ~16 KiB) comes from a
// fixed pool, and each client address may hold at most `per_client` of it: a client at its
// share that needs another buffer takes its own oldest one (that flow is marked kEvicted and
// must be decided without it), so idle flows of one client never starve the others. sweep()
// takes buffers back from flows that held them longer than the undecided timeout (kAged). A
// flow that cannot get a buffer because the whole pool is taken is overload.
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
#include "common/siphash.h"
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

// Why a flow lost the reassembly buffer it had (its partial data is gone).
enum class BufferLoss : uint8_t {
  kNone,
  kAged,     // sweep(): held longer than the undecided timeout
  kEvicted,  // its client needed a buffer past its share; the oldest one was taken
};

struct FlowEntry {
  FlowKey key;
  int64_t last_seen_ms = 0;
  uint32_t packets = 0;  // payload-bearing, in-window client segments (datagrams for UDP)
  // The undecided-flow clock: when the client first sent something to decide on (TCP payload
  // in the window, any UDP 443 datagram). Empty ACKs and keepalives never start it.
  bool has_payload = false;
  int64_t first_payload_ms = 0;
  int64_t buffer_since_ms = 0;  // when the current buffer was attached
  BufferLoss loss = BufferLoss::kNone;
  bool midstream = false;  // TCP: no SYN seen; base_seq was taken from a data segment
  FlowKind kind = FlowKind::kUnknown;
  bool decided = false;
  bool has_base_seq = false;  // TCP: base_seq is the sequence number of stream octet 0
  uint32_t base_seq = 0;
  int32_t buffer = -1;  // index into the reassembly pool, or -1
  // DNS over TCP: the buffer holds the stream from base_seq on; the messages before
  // dns_consumed in it have been decided (daemon/inline/inline_inspector.cc, dnsOverTcp()).
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
  uint64_t client_share_evicted = 0;  // a client's own oldest buffer taken for its new flow
  uint64_t swept_buffers = 0;         // buffers taken back from flows undecided too long
  uint64_t swept_flows = 0;           // idle entries erased by sweep()
};

class FlowTable {
 public:
  static constexpr size_t kProbe = 16;

  // `capacity` is rounded up to a power of two; `buffers` reassembly states are preallocated,
  // at most `per_client` of them held by one client address at a time.
  static Result<std::unique_ptr<FlowTable>> create(size_t capacity, size_t buffers,
                                                   size_t per_client, int64_t idle_timeout_ms);

  FlowEntry* find(const FlowKey& key, int64_t now_ms) noexcept;
  // Finds or inserts; nullptr when the table is full (every probed slot holds a live flow).
  FlowEntry* findOrInsert(const FlowKey& key, int64_t now_ms, bool* inserted) noexcept;
  void erase(FlowEntry* e) noexcept;

  // Attaches a reassembly state to `e` (reset) or returns the one it has; nullptr when the
  // whole pool is taken. A client at its share gets its own oldest buffer (see above).
  QuicFlowState* attachBuffer(FlowEntry* e, int64_t now_ms) noexcept;
  QuicFlowState* buffer(const FlowEntry* e) noexcept;
  void releaseBuffer(FlowEntry* e) noexcept;

  // Visits up to `max_slots` slots from where the last call stopped: erases entries idle
  // longer than the idle timeout and takes back buffers held longer than
  // `undecided_timeout_ms` (the flow is marked kAged). For the worker's idle moments.
  void sweep(int64_t now_ms, int64_t undecided_timeout_ms, size_t max_slots) noexcept;

  const FlowTableStats& stats() const noexcept { return stats_; }
  size_t capacity() const noexcept { return slots_.size(); }
  size_t buffersFree() const noexcept { return free_buffers_.size(); }
  size_t buffersHeldBy(const IpAddress& client) const noexcept;
  // The home slot of `key` (tests: the hash is keyed per table).
  size_t slotOf(const FlowKey& key) const noexcept;

 private:
  FlowTable() = default;
  bool expired(const FlowEntry& e, int64_t now_ms) const noexcept {
    return now_ms - e.last_seen_ms > idle_timeout_ms_;
  }
  uint64_t clientHash(const IpAddress& client) const noexcept;
  // Buffers held per client address: open addressing, linear probe, backward-shift delete;
  // sized for every buffer held by a different client, so it never fills.
  struct ClientCount {
    IpAddress client;
    uint32_t held = 0;  // 0 = free slot
  };
  ClientCount* findClient(const IpAddress& client) noexcept;
  void addHeld(const IpAddress& client) noexcept;
  void removeHeld(const IpAddress& client) noexcept;
  // The buffer held longest by `client`, or -1.
  int32_t oldestBufferOf(const IpAddress& client) const noexcept;

  std::vector<FlowEntry> slots_;
  size_t mask_ = 0;
  int64_t idle_timeout_ms_ = 0;
  SipHashKey key_;  // from getrandom(), per table
  std::vector<std::unique_ptr<QuicFlowState>> pool_;
  std::vector<FlowEntry*> owners_;     // pool index -> the flow holding it, or nullptr
  std::vector<int32_t> free_buffers_;  // stack of free pool indices (reserved capacity)
  std::vector<ClientCount> clients_;
  size_t clients_mask_ = 0;
  size_t per_client_ = 0;
  size_t sweep_cursor_ = 0;
  FlowTableStats stats_;
};

}  // namespace safegate
