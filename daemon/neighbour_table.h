// NeighbourTable: client MAC addresses from the kernel's neighbour (ARP) table.
//
// The control thread calls refresh() every few seconds; it reads /proc/net/arp (IPv4; the
// kernel lists complete entries with flag 0x2) into a sorted vector and publishes it whole
// through a SnapshotHolder. DNS workers look a client up with a per-thread Reader: one atomic
// load plus a binary search, no syscall, no lock, no allocation on the query path. Only clients
// on a directly attached network appear (that is what "local client" means); others get no MAC.
// IPv6 neighbours (netlink RTM_GETNEIGH) are not read yet: IPv6 clients are identified by
// address only. Thread-safety: refresh() from one control thread; lookups through Readers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"
#include "common/snapshot_holder.h"

namespace safegate {

struct NeighbourMap {
  std::vector<std::pair<uint32_t, MacAddress>> v4;  // sorted by address (host order)
  std::optional<MacAddress> find(const IpAddress& a) const noexcept;
};

class NeighbourTable {
 public:
  explicit NeighbourTable(std::string arp_path = "/proc/net/arp");
  // Re-reads the table and publishes it. Returns the number of entries.
  Result<size_t> refresh();
  const SnapshotHolder<NeighbourMap>& holder() const { return holder_; }

  // Parses the text of /proc/net/arp (exposed for tests).
  static NeighbourMap parseProcArp(std::string_view text);

 private:
  std::string path_;
  SnapshotHolder<NeighbourMap> holder_;
};

}  // namespace safegate
