// NeighbourTable: client MAC addresses from the kernel's neighbour tables (ARP and IPv6 ND).
//
// The control thread calls refresh() every few seconds. It reads IPv4 neighbours from
// /proc/net/arp (complete entries, flag 0x2) and IPv6 neighbours from rtnetlink (an
// RTM_GETNEIGH dump for AF_INET6, parsed by filters/netlink_neighbour.h: REACHABLE, STALE,
// DELAY, PROBE and PERMANENT entries with a link-layer address), builds two sorted vectors and
// publishes them whole through a SnapshotHolder. DNS workers look a client up with a per-thread
// Reader: one atomic load plus a binary search, no syscall, no lock, no allocation on the query
// path. Only clients on a directly attached network appear (that is what "local client"
// means); others get no MAC. /proc/net/arp has no IPv6 entries, hence netlink for those.
// Thread-safety: refresh() from one control thread; lookups through Readers. The netlink dump
// runs in the network namespace of the calling thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"
#include "common/snapshot_holder.h"
#include "filters/netlink_neighbour.h"

namespace safegate {

struct NeighbourMap {
  std::vector<std::pair<uint32_t, MacAddress>> v4;                 // sorted by address (host order)
  std::vector<std::pair<std::array<uint8_t, 16>, MacAddress>> v6;  // sorted by address octets
  std::optional<MacAddress> find(const IpAddress& a) const noexcept;
};

struct NeighbourTableOptions {
  std::string arp_path = "/proc/net/arp";
  bool ipv6_from_netlink = true;
};

class NeighbourTable {
 public:
  NeighbourTable() : NeighbourTable(NeighbourTableOptions{}) {}
  explicit NeighbourTable(NeighbourTableOptions options);
  // Re-reads both sources and publishes what could be read (a missing /proc/net/arp, as in
  // some containers, still lets the IPv6 neighbours through and the reverse). Returns the
  // number of entries, or the error of a source that failed (the other is published anyway).
  Result<size_t> refresh();
  const SnapshotHolder<NeighbourMap>& holder() const { return holder_; }

  // Parses the text of /proc/net/arp (exposed for tests).
  static NeighbourMap parseProcArp(std::string_view text);
  // Dumps the kernel's neighbour table of `family` (AF_INET6 or AF_INET) over rtnetlink, in
  // the calling thread's network namespace. Only usable entries (see the header comment).
  static Result<std::vector<NeighbourEntry>> dumpKernelNeighbours(int family);
  // Adds IPv6 entries of `entries` to `map` and sorts them (IPv4 entries are ignored: those
  // come from /proc/net/arp). The same address on two interfaces keeps one MAC.
  static void addIpv6(NeighbourMap& map, const std::vector<NeighbourEntry>& entries);

 private:
  NeighbourTableOptions options_;
  SnapshotHolder<NeighbourMap> holder_;
};

}  // namespace safegate
