#include "daemon/neighbour_table.h"

#include <errno.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace safegate {

std::optional<MacAddress> NeighbourMap::find(const IpAddress& a) const noexcept {
  auto b = a.bytes();
  if (a.isV4()) {
    if (v4.empty()) return std::nullopt;
    uint32_t key = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
    auto it = std::lower_bound(v4.begin(), v4.end(), key,
                               [](const auto& e, uint32_t k) { return e.first < k; });
    if (it == v4.end() || it->first != key) return std::nullopt;
    return it->second;
  }
  if (v6.empty() || b.size() != 16) return std::nullopt;
  std::array<uint8_t, 16> key;
  std::copy(b.begin(), b.end(), key.begin());
  auto it =
      std::lower_bound(v6.begin(), v6.end(), key,
                       [](const auto& e, const std::array<uint8_t, 16>& k) { return e.first < k; });
  if (it == v6.end() || it->first != key) return std::nullopt;
  return it->second;
}

NeighbourTable::NeighbourTable(NeighbourTableOptions options) : options_(std::move(options)) {
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

void NeighbourTable::addIpv6(NeighbourMap& map, const std::vector<NeighbourEntry>& entries) {
  for (const NeighbourEntry& e : entries) {
    if (e.address.isV4()) continue;
    std::array<uint8_t, 16> key;
    auto b = e.address.bytes();
    std::copy(b.begin(), b.end(), key.begin());
    map.v6.emplace_back(key, e.mac);
  }
  std::stable_sort(map.v6.begin(), map.v6.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  // A link-local address can be a neighbour on two interfaces: keep the first MAC, so that
  // lookups stay one binary search.
  map.v6.erase(std::unique(map.v6.begin(), map.v6.end(),
                           [](const auto& a, const auto& b) { return a.first == b.first; }),
               map.v6.end());
}

Result<std::vector<NeighbourEntry>> NeighbourTable::dumpKernelNeighbours(int family) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return Status::fromErrno("netlink socket", errno);
  // The kernel answers a dump at once; a timeout only guards against a kernel that never
  // sends NLMSG_DONE, so the control thread cannot hang here.
  timeval tv{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  struct {
    nlmsghdr header;
    ndmsg body;
  } request{};
  request.header.nlmsg_len = sizeof(request);
  request.header.nlmsg_type = RTM_GETNEIGH;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.header.nlmsg_seq = 1;
  request.body.ndm_family = static_cast<uint8_t>(family);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd, &request, sizeof(request), 0, reinterpret_cast<sockaddr*>(&kernel),
             sizeof(kernel)) != static_cast<ssize_t>(sizeof(request))) {
    int e = errno;
    close(fd);
    return Status::fromErrno("netlink RTM_GETNEIGH", e);
  }
  std::vector<NeighbourEntry> entries;
  // 32 KiB holds a full batch of dump messages (the kernel fills up to the page-sized skb the
  // reader's buffer allows); MSG_TRUNC tells us if one ever did not fit.
  std::vector<uint8_t> buffer(32768);
  for (;;) {
    ssize_t n = recv(fd, buffer.data(), buffer.size(), MSG_TRUNC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      return Status::fromErrno("netlink recv", e);
    }
    if (static_cast<size_t>(n) > buffer.size()) {
      close(fd);
      return Status::io("netlink neighbour dump: message larger than " +
                        std::to_string(buffer.size()) + " bytes");
    }
    if (n == 0) break;
    NeighbourParseResult r =
        parseNeighbourMessages(std::span(buffer.data(), static_cast<size_t>(n)), entries);
    if (r.status == NeighbourParseStatus::kDone) break;
    if (r.status == NeighbourParseStatus::kError) {
      close(fd);
      return Status::fromErrno("netlink neighbour dump", r.error);
    }
    if (r.status == NeighbourParseStatus::kTruncated) {
      close(fd);
      return Status::io("netlink neighbour dump: malformed message");
    }
  }
  close(fd);
  return entries;
}

Result<size_t> NeighbourTable::refresh() {
  auto map = std::make_shared<NeighbourMap>();
  Status failure;
  {
    std::ifstream in(options_.arp_path);
    if (in) {
      std::stringstream ss;
      ss << in.rdbuf();
      *map = parseProcArp(ss.str());
    } else {
      failure = Status::io("cannot read " + options_.arp_path);
    }
  }
  if (options_.ipv6_from_netlink) {
    auto v6 = dumpKernelNeighbours(AF_INET6);
    if (v6) {
      addIpv6(*map, *v6);
    } else {
      failure = v6.status();
    }
  }
  const size_t n = map->v4.size() + map->v6.size();
  holder_.publish(std::move(map));
  if (!failure) return failure;
  return n;
}

}  // namespace safegate
