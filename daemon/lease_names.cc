#include "daemon/lease_names.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace safegate {

std::string_view LeaseNameMap::find(const IpAddress& client,
                                    const std::optional<MacAddress>& mac) const noexcept {
  if (auto it = by_address.find(client); it != by_address.end()) return it->second;
  if (mac) {
    if (auto it = by_mac.find(*mac); it != by_mac.end()) return it->second;
  }
  if (auto it = by_reverse_dns.find(client); it != by_reverse_dns.end()) return it->second;
  return {};
}

LeaseNames::LeaseNames(std::vector<std::filesystem::path> files) {
  for (auto& f : files) sources_.push_back({std::move(f), {}, false});
}

bool LeaseNames::refresh(int64_t now, std::vector<std::string>& problems) {
  auto next = std::make_shared<LeaseNameMap>();
  for (Source& s : sources_) {
    std::ifstream in(s.path, std::ios::binary);
    if (!in) {
      if (!s.failing)
        problems.push_back(s.path.string() + ": cannot read: " + std::strerror(errno));
      s.failing = true;
    } else {
      const std::string text((std::istreambuf_iterator<char>(in)), {});
      LeaseFile file = parseLeases(text);
      if (s.failing) problems.push_back(s.path.string() + ": readable again");
      s.failing = false;
      s.leases = std::move(file.leases);
    }
    for (const Lease& l : s.leases) {
      if (l.expires != 0 && l.expires < now) continue;
      next->by_address.insert_or_assign(l.address, l.name);
      if (l.mac) next->by_mac.insert_or_assign(*l.mac, l.name);
    }
  }
  if (*next == *names_) return false;
  names_ = std::move(next);
  return true;
}

}  // namespace safegate
