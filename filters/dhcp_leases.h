// Parsers for DHCP server lease files, so incidents can name a device ("sams-tablet") from the
// host name it gave the DHCP server instead of an address or a pseudonym (devices.lease_files,
// docs/privacy.md says when names are stored).
//
// Three formats, each as its server writes it:
//  - dnsmasq (/var/lib/misc/dnsmasq.leases, OpenWrt /tmp/dhcp.leases): one IPv4 lease per line,
//    "EXPIRY MAC ADDRESS HOSTNAME CLIENT-ID" ("*" = none; EXPIRY 0 = infinite); after a
//    "duid ..." line, IPv6 leases "EXPIRY IAID ADDRESS HOSTNAME CLIENT-ID" (no MAC).
//  - odhcpd (OpenWrt's DHCPv6 state file, dhcp.odhcpd.leasefile): one line per lease,
//    "# IFACE DUID IAID HOSTNAME VALID-UNTIL ASSIGNED PREFIX-LEN ADDRESS/LEN..." (HOSTNAME "-"
//    = none; VALID-UNTIL -1 = infinite).
//  - ISC dhcpd (dhcpd.leases): an append-only log of "lease ADDRESS { ... }" blocks; the last
//    block of an address wins, and one whose binding state is not active ends it. Read:
//    "ends", "binding state", "hardware ethernet", "client-hostname".
// A line or block that cannot be read is skipped and counted; the rest stays valid. Host names
// are cleaned (cleanHostName): a name a child typed must not inject anything into a log line,
// a CSV export or a dashboard.
//
// Pure functions of their input; no I/O. Control plane (read every few seconds at most).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip_address.h"

namespace safegate {

enum class LeaseFormat : uint8_t { kAuto, kDnsmasq, kOdhcpd, kIscDhcpd };

struct Lease {
  IpAddress address;
  std::optional<MacAddress> mac;
  std::string name;     // cleaned; never empty (leases without a usable name are not kept)
  int64_t expires = 0;  // Unix seconds; 0 = never
};

struct LeaseFile {
  LeaseFormat format = LeaseFormat::kDnsmasq;  // the one used (kAuto resolved)
  std::vector<Lease> leases;
  size_t skipped = 0;  // lines (dnsmasq, odhcpd) or blocks (ISC) that could not be read
};

// Guesses the format: ISC when a "lease ADDRESS {" line appears, odhcpd when a "# " line has
// the odhcpd fields (a number sixth, an ADDRESS/LEN ninth), else dnsmasq.
LeaseFormat detectLeaseFormat(std::string_view text);

LeaseFile parseLeases(std::string_view text, LeaseFormat format = LeaseFormat::kAuto);

// The name as shown: letters, digits, '-', '_' and '.', at most 63 characters; anything else
// becomes '-'; "" when nothing usable is left (or the name is "*" / "-").
std::string cleanHostName(std::string_view raw);

}  // namespace safegate
