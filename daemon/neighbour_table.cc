#include "daemon/neighbour_table.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace safegate {

std::optional<MacAddress> NeighbourMap::find(const IpAddress& a) const noexcept {
  if (!a.isV4() || v4.empty()) return std::nullopt;
  auto b = a.bytes();
  uint32_t key = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  auto it = std::lower_bound(v4.begin(), v4.end(), key,
                             [](const auto& e, uint32_t k) { return e.first < k; });
  if (it == v4.end() || it->first != key) return std::nullopt;
  return it->second;
}

NeighbourTable::NeighbourTable(std::string arp_path) : path_(std::move(arp_path)) {
  holder_.publish(std::make_shared<NeighbourMap>());
}

NeighbourMap NeighbourTable::parseProcArp(std::string_view text) {
  // "IP address  HW type  Flags  HW address  Mask  Device" then one line per entry.
  NeighbourMap map;
  std::istringstream in{std::string(text)};
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string ip, hwtype, flags, hw, mask, dev;
    if (!(f >> ip >> hwtype >> flags >> hw)) continue;
    if ((std::strtoul(flags.c_str(), nullptr, 16) & 0x2) == 0)
      continue;  // ATF_COM: entry is complete
    auto addr = IpAddress::parse(ip);
    auto mac = MacAddress::parse(hw);
    if (!addr || !addr->isV4() || !mac || *mac == MacAddress()) continue;
    auto b = addr->bytes();
    uint32_t key = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
    map.v4.emplace_back(key, *mac);
  }
  std::sort(map.v4.begin(), map.v4.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return map;
}

Result<size_t> NeighbourTable::refresh() {
  std::ifstream in(path_);
  if (!in) return Status::io("cannot read " + path_);
  std::stringstream ss;
  ss << in.rdbuf();
  auto map = std::make_shared<NeighbourMap>(parseProcArp(ss.str()));
  size_t n = map->v4.size();
  holder_.publish(std::move(map));
  return n;
}

}  // namespace safegate
