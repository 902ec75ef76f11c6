// NfqueueQueue / NfqueueFrontend: the kernel side of the inline path (libnetfilter_queue).
//
// The firewall rules (packaging/firewall/) queue the first packets of each client flow to
// NFQUEUE numbers; safegated binds each queue with one NfqueueQueue, served by one worker
// thread (the rules' --queue-balance spreads flows over queues by a hash of the addresses,
// so one flow always reaches the same worker). Per queue:
//   - copy mode with the whole packet (QUIC needs the whole datagram to authenticate it);
//   - a large netlink receive buffer and NETLINK_NO_ENOBUFS, so a burst costs drops the
//     kernel counts (queue_dropped) rather than an error that desynchronises the socket;
//   - NFQA_CFG_F_FAIL_OPEN when configured: a full queue accepts packets instead of dropping;
//   - batched receive (recvmmsg) and batched verdicts (nfq_set_verdict_batch2: one message
//     for a run of consecutive packets with the same verdict and mark).
// This file is the only one that includes <libnetfilter_queue/...>.
//
// Data plane: run()/pollOnce() allocate nothing per packet (buffers are made at open()), take
// no locks, and log nothing; the handler decides each packet. Counters are relaxed atomics,
// readable from any thread. One NfqueueQueue belongs to one thread; NfqueueFrontend owns the
// queues and their threads and is driven from the daemon's main thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/result.h"

namespace safegate {

// One queued packet as the handler sees it. `ip` starts at the IPv4/IPv6 header and may be
// shorter than the packet if the kernel truncated the copy (never with the default range).
struct NfqPacketView {
  uint32_t packet_id = 0;
  uint16_t hw_protocol = 0;     // ethertype (0x0800 IPv4, 0x86dd IPv6), host order
  uint32_t mark = 0;            // the packet's nfmark as queued
  uint32_t indev = 0;           // input interface index (0 if none)
  bool has_source_mac = false;  // the frame's source MAC (directly attached clients only)
  std::array<uint8_t, 6> source_mac{};
  std::span<const uint8_t> ip;
};

enum class NfqVerdictKind : uint8_t {
  kAccept,  // let it continue (flow still undecided; nothing recorded in the kernel)
  kDrop,    // discard this packet
  kRepeat,  // re-inject at the start of the hook with `mark` as the packet mark: the rules
            // save the decision bits to the connection mark, then accept or drop (offload)
};

struct NfqVerdict {
  NfqVerdictKind kind = NfqVerdictKind::kAccept;
  uint32_t mark = 0;  // the whole new nfmark for kRepeat (keep the bits you do not own)
  friend bool operator==(const NfqVerdict&, const NfqVerdict&) = default;
};

// Decides packets. Called on the queue's thread only; must be noexcept and allocation-free.
class NfqPacketHandler {
 public:
  virtual ~NfqPacketHandler() = default;
  virtual NfqVerdict onPacket(const NfqPacketView& packet) noexcept = 0;
  // After each receive batch (and on idle timeouts): a place for housekeeping such as expiring
  // flows. `now_ms` is CLOCK_MONOTONIC.
  virtual void onIdle(int64_t now_ms) noexcept {}
};

struct NfqueueOptions {
  uint16_t queue = 0;
  bool fail_open = true;             // NFQA_CFG_F_FAIL_OPEN: a full queue accepts, not drops
  uint32_t max_queue_length = 4096;  // packets the kernel holds for us before "full"
  int receive_buffer_bytes = 8 << 20;
  uint32_t copy_range = 0xffff;
  uint32_t receive_batch = 32;  // messages per recvmmsg
  uint32_t verdict_batch = 64;  // packets per batched verdict at most
};

struct NfqueueCounters {
  std::atomic<uint64_t> received{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> dropped{0};             // verdict drop (policy, fail-closed)
  std::atomic<uint64_t> repeated{0};            // verdict repeat with a decision mark (offload)
  std::atomic<uint64_t> verdict_messages{0};    // netlink verdict messages sent (batched or not)
  std::atomic<uint64_t> verdict_errors{0};      // a verdict the kernel refused (packet lost)
  std::atomic<uint64_t> receive_errors{0};      // recvmmsg errors other than EAGAIN/EINTR
  std::atomic<uint64_t> malformed_messages{0};  // netlink messages without a packet
};

// What the kernel reports for a queue (/proc/net/netfilter/nfnetlink_queue).
struct NfqueueKernelStats {
  uint32_t queue = 0;
  uint32_t waiting = 0;        // packets queued, not yet verdicted
  uint64_t queue_dropped = 0;  // dropped because the queue was full (fail-closed queues)
  uint64_t user_dropped = 0;   // dropped because our socket buffer was full
  uint64_t id_sequence = 0;    // packets ever queued
};

class NfqueueQueue {
 public:
  // Binds the queue (fails if another process holds it, or without CAP_NET_ADMIN).
  static Result<std::unique_ptr<NfqueueQueue>> open(const NfqueueOptions& options);
  ~NfqueueQueue();
  NfqueueQueue(const NfqueueQueue&) = delete;
  NfqueueQueue& operator=(const NfqueueQueue&) = delete;

  // Waits up to timeout_ms for packets, handles everything readable, sends the verdicts and
  // returns the number of packets handled.
  size_t pollOnce(NfqPacketHandler& handler, int timeout_ms) noexcept;
  // pollOnce() until `stop` is true (checked at least every 100 ms).
  void run(NfqPacketHandler& handler, const std::atomic<bool>& stop) noexcept;

  const NfqueueCounters& counters() const noexcept { return counters_; }
  uint16_t queueNumber() const noexcept { return options_.queue; }

  // Reads the kernel's counters for `queue`; kNotFound when it is not bound.
  static Result<NfqueueKernelStats> kernelStats(uint16_t queue);

  // Called from the library's C callback (public for that reason only).
  int handleMessage(void* nfq_data) noexcept;

 private:
  struct Impl;
  NfqueueQueue(NfqueueOptions options, std::unique_ptr<Impl> impl);
  void addVerdict(uint32_t id, NfqVerdict v) noexcept;
  void flushVerdicts() noexcept;

  NfqueueOptions options_;
  std::unique_ptr<Impl> impl_;
  NfqueueCounters counters_;
  NfqPacketHandler* handler_ = nullptr;  // set during pollOnce
  // The pending batch: packets up to pending_last_id_ share pending_verdict_.
  bool pending_ = false;
  uint32_t pending_last_id_ = 0;
  uint32_t pending_count_ = 0;
  NfqVerdict pending_verdict_;
};

// Several queues, one thread each. Handlers are made by the factory on the control thread
// (one per queue) and live as long as the frontend.
class NfqueueFrontend {
 public:
  using HandlerFactory = std::function<std::unique_ptr<NfqPacketHandler>(uint16_t queue)>;

  static Result<std::unique_ptr<NfqueueFrontend>> open(const std::vector<NfqueueOptions>& queues,
                                                       const HandlerFactory& factory);
  ~NfqueueFrontend();
  void start();
  void stop();

  size_t queueCount() const { return queues_.size(); }
  const NfqueueQueue& queue(size_t i) const { return *queues_[i]; }
  NfqPacketHandler& handler(size_t i) { return *handlers_[i]; }

 private:
  NfqueueFrontend() = default;
  std::vector<std::unique_ptr<NfqueueQueue>> queues_;
  std::vector<std::unique_ptr<NfqPacketHandler>> handlers_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
};

// Probes whether this kernel can queue packets to user space: binds and unbinds a queue.
// Used by tests and `safegated` start-up messages; needs CAP_NET_ADMIN.
Status probeNfqueueSupport(uint16_t queue);

}  // namespace safegate
