#include "filters/netlink_neighbour.h"

#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>

namespace safegate {

namespace {

// Netlink is host byte order; memcpy because the buffer gives no alignment guarantee.
template <typename T>
T load(std::span<const uint8_t> b, size_t at) {
  T v;
  std::memcpy(&v, b.data() + at, sizeof(T));
  return v;
}

constexpr size_t align4(size_t n) { return (n + 3) & ~size_t{3}; }

constexpr uint16_t kUsableStates =
    NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT;

// One RTM_NEWNEIGH payload (after the nlmsghdr). Returns false when it is malformed.
bool parseNeighbour(std::span<const uint8_t> payload, NeighbourParseResult& result,
                    std::vector<NeighbourEntry>& out) {
  if (payload.size() < sizeof(ndmsg)) return false;
  const ndmsg nd = load<ndmsg>(payload, 0);
  std::span<const uint8_t> dst, lladdr;
  size_t pos = align4(sizeof(ndmsg));
  while (pos + sizeof(rtattr) <= payload.size()) {
    const rtattr a = load<rtattr>(payload, pos);
    if (a.rta_len < sizeof(rtattr) || a.rta_len > payload.size() - pos) return false;
    const auto data = payload.subspan(pos + sizeof(rtattr), a.rta_len - sizeof(rtattr));
    switch (a.rta_type & NLA_TYPE_MASK) {
      case NDA_DST: dst = data; break;
      case NDA_LLADDR: lladdr = data; break;
      default: break;
    }
    pos += align4(a.rta_len);  // the last attribute's padding may be missing
  }
  std::optional<IpAddress> address;
  if (nd.ndm_family == AF_INET6 && dst.size() == 16) {
    address = IpAddress::v6(dst.first<16>());
  } else if (nd.ndm_family == AF_INET && dst.size() == 4) {
    address = IpAddress::v4(dst.first<4>());
  }
  std::array<uint8_t, 6> mac{};
  if (lladdr.size() == mac.size()) std::memcpy(mac.data(), lladdr.data(), mac.size());
  if (!address || (nd.ndm_state & kUsableStates) == 0 || lladdr.size() != mac.size() ||
      MacAddress(mac) == MacAddress()) {
    ++result.skipped;
    return true;
  }
  out.push_back({*address, MacAddress(mac), nd.ndm_ifindex, nd.ndm_state});
  ++result.accepted;
  return true;
}

}  // namespace

NeighbourParseResult parseNeighbourMessages(std::span<const uint8_t> buffer,
                                            std::vector<NeighbourEntry>& out) {
  NeighbourParseResult result;
  size_t pos = 0;
  while (pos < buffer.size()) {
    if (buffer.size() - pos < sizeof(nlmsghdr)) {
      result.status = NeighbourParseStatus::kTruncated;
      return result;
    }
    const nlmsghdr h = load<nlmsghdr>(buffer, pos);
    if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > buffer.size() - pos) {
      result.status = NeighbourParseStatus::kTruncated;
      return result;
    }
    ++result.messages;
    const auto payload = buffer.subspan(pos + sizeof(nlmsghdr), h.nlmsg_len - sizeof(nlmsghdr));
    switch (h.nlmsg_type) {
      case NLMSG_DONE: result.status = NeighbourParseStatus::kDone; return result;
      case NLMSG_ERROR: {
        // nlmsgerr: a negative errno (0 = an acknowledgement) and the request's header.
        if (payload.size() < sizeof(int32_t)) {
          result.status = NeighbourParseStatus::kTruncated;
          return result;
        }
        const int32_t error = load<int32_t>(payload, 0);
        if (error != 0) {
          result.status = NeighbourParseStatus::kError;
          // The kernel sends -errno, 1..4095 (MAX_ERRNO); negating anything else could overflow
          // (INT32_MIN) and would not name an errno anyway.
          constexpr int32_t kMaxErrno = 4095;
          result.error = (error < 0 && error >= -kMaxErrno) ? -error : EPROTO;
          return result;
        }
        break;
      }
      case RTM_NEWNEIGH:
        if (!parseNeighbour(payload, result, out)) {
          result.status = NeighbourParseStatus::kTruncated;
          return result;
        }
        break;
      default: break;  // NLMSG_NOOP and anything else carry no neighbour
    }
    // Messages are 4-aligned (NLMSG_ALIGN); the last one in a buffer may lack its padding.
    const size_t step = align4(h.nlmsg_len);
    if (step >= buffer.size() - pos) break;
    pos += step;
  }
  result.status = NeighbourParseStatus::kMore;
  return result;
}

}  // namespace safegate
