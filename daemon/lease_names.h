// LeaseNames: device names from the DHCP server's lease files (devices.lease_files), so an
// incident says "sams-tablet" rather than an address or a pseudonym — what a safeguarding lead
// can act on. A name the config gives ([[clients]] name) always comes first.
//
// refresh() re-reads every file (lease files are small: one line per device) with
// filters/dhcp_leases.h, drops leases expired at `now`, and publishes a new immutable
// LeaseNameMap when the names changed; the daemon calls it from its main loop every few
// seconds and republishes the policy view with it. An unreadable file keeps its last names and
// is reported once until it is readable again.
//
// Thread-safety: refresh() from one thread; names() returns an immutable snapshot that any
// thread may read.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/ip_address.h"
#include "filters/dhcp_leases.h"

namespace safegate {

struct LeaseNameMap {
  std::unordered_map<IpAddress, std::string, IpAddressHash> by_address;
  std::map<MacAddress, std::string> by_mac;
  // Names from reverse DNS (daemon/dns/reverse_names.h), asked for last.
  std::unordered_map<IpAddress, std::string, IpAddressHash> by_reverse_dns;
  // The name of the lease of `client`, else of its MAC's lease (an IPv6 address of a device
  // whose IPv4 lease names it), else its reverse DNS name; "" when none.
  std::string_view find(const IpAddress& client,
                        const std::optional<MacAddress>& mac) const noexcept;
  bool operator==(const LeaseNameMap&) const = default;
};

class LeaseNames {
 public:
  explicit LeaseNames(std::vector<std::filesystem::path> files);
  // Returns whether the names changed; a problem with a file (first time only) goes to
  // `problems` as "path: reason".
  bool refresh(int64_t now, std::vector<std::string>& problems);
  std::shared_ptr<const LeaseNameMap> names() const { return names_; }

 private:
  struct Source {
    std::filesystem::path path;
    std::vector<Lease> leases;  // the last good read
    bool failing = false;
  };
  std::vector<Source> sources_;
  std::shared_ptr<const LeaseNameMap> names_ = std::make_shared<LeaseNameMap>();
};

}  // namespace safegate
