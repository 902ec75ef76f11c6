// ReverseNames: device names from reverse DNS (devices.reverse_lookup_server), for networks
// where safegated cannot read the DHCP server's lease files — a school whose AD/DNS server
// registers every device, a home whose router is a separate box answering PTR for its DHCP
// clients. An incident then says "sams-tablet" instead of a pseudonym.
//
// Which addresses: the LAN neighbours the kernel knows (the ARP/ND table safegated already reads
// for MACs), given by the `clients` callback — never the names children ask for, and never a
// public resolver: PTR questions go only to the server the operator named (RFC 6303: private
// addresses' reverse names must not leak to the Internet). Off unless configured.
//
// A thread resolves, every refresh_seconds, the clients whose entry is missing or stale: all
// their PTR questions go out at once on one UDP socket connected to the server (random ID each,
// the answer must match ID, question, type and class: filters/reverse_name.h), and it waits at
// most timeout_ms for the lot. A name is kept for its TTL clamped to 5 min .. 1 day; "no name"
// (NXDOMAIN, no PTR) for 10 min; no answer is retried after 1 min. Clients no longer in the
// table are forgotten. names() is an immutable snapshot; version() changes when it does.
//
// Thread-safety: start/stop from one thread; names()/version() from any.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/ip_address.h"
#include "daemon/dns/dns_proxy.h"

namespace safegate {

using ReverseNameMap = std::unordered_map<IpAddress, std::string, IpAddressHash>;

struct ReverseNamesOptions {
  SocketAddress server;
  int timeout_ms = 1000;
  int refresh_seconds = 10;
  size_t max_per_round = 256;  // questions per round (a big table is worked through in rounds)
};

class ReverseNames {
 public:
  using Clients = std::function<std::vector<IpAddress>()>;
  ReverseNames(ReverseNamesOptions options, Clients clients);
  ~ReverseNames();
  ReverseNames(const ReverseNames&) = delete;
  ReverseNames& operator=(const ReverseNames&) = delete;

  void start();
  void stop();  // idempotent; returns within timeout_ms

  std::shared_ptr<const ReverseNameMap> names() const;
  uint64_t version() const { return version_.load(std::memory_order_acquire); }

  // One round on the calling thread (the thread's body; exposed for tests).
  void resolveOnce(int64_t now_ms);

 private:
  struct Entry {
    std::string name;  // "" = none known
    int64_t retry_ms = 0;
  };
  void run();

  const ReverseNamesOptions options_;
  const Clients clients_;
  std::unordered_map<IpAddress, Entry, IpAddressHash> cache_;  // resolving thread only
  mutable std::mutex mu_;
  std::shared_ptr<const ReverseNameMap> names_;  // guarded by mu_
  std::atomic<uint64_t> version_{0};
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace safegate
