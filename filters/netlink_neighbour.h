// Parser for the kernel's neighbour table as rtnetlink sends it (RTM_NEWNEIGH messages, the
// answer to an RTM_GETNEIGH dump; rtnetlink(7), include/uapi/linux/neighbour.h).
//
// parseNeighbourMessages() reads one buffer returned by recv() on a NETLINK_ROUTE socket: a
// sequence of netlink messages, each a 16-octet nlmsghdr, an ndmsg and NDA_* attributes, all
// 4-octet aligned and in host byte order. It keeps the neighbours a DNS client can be
// identified by: a usable state (REACHABLE, STALE, DELAY, PROBE or PERMANENT — not INCOMPLETE,
// FAILED or NOARP), an NDA_DST of the message's family size (IPv4 4 octets, IPv6 16) and an
// NDA_LLADDR of 6 octets (Ethernet-like), not all zero. Anything malformed stops the walk with
// a status; the entries already accepted stay valid. Pure function of its input: no syscalls,
// no globals; appends to `out` (control plane, called every few seconds, not per query).
// Thread-safety: reentrant.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/ip_address.h"

namespace safegate {

struct NeighbourEntry {
  IpAddress address;
  MacAddress mac;
  int32_t ifindex = 0;
  uint16_t state = 0;  // NUD_* bits
};

enum class NeighbourParseStatus : uint8_t {
  kMore,       // the buffer ended on a message boundary; the dump continues in the next recv
  kDone,       // NLMSG_DONE seen: the dump is complete
  kError,      // NLMSG_ERROR with a non-zero error (see `error`)
  kTruncated,  // a length runs past the buffer or below its minimum
};

struct NeighbourParseResult {
  NeighbourParseStatus status = NeighbourParseStatus::kMore;
  int error = 0;        // for kError: the positive errno the kernel reported (EPROTO if none)
  size_t messages = 0;  // netlink messages read
  size_t accepted = 0;  // entries appended to `out`
  size_t skipped = 0;   // RTM_NEWNEIGH messages not kept (state, family, no lladdr, ...)
};

NeighbourParseResult parseNeighbourMessages(std::span<const uint8_t> buffer,
                                            std::vector<NeighbourEntry>& out);

}  // namespace safegate
