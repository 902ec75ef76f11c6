// PcapWriter: builds a classic pcap file (LINKTYPE_RAW: each record is an IP packet) in memory,
// for tests that replay crafted packets (daemon/inline/capture_replay.h). One record per second from
// 2023-11-14T22:13:20Z unless a time is given. Test support only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace safegate::testing {

class PcapWriter {
 public:
  PcapWriter() {
    put32(0xa1b2c3d4);      // host byte order; the magic tells readers which
    put32(2 | (4u << 16));  // version 2.4
    put32(0);               // thiszone
    put32(0);               // sigfigs
    put32(65535);           // snaplen
    put32(101);             // LINKTYPE_RAW
  }
  void add(const std::vector<uint8_t>& packet) { addAt(kStart + count_, 0, packet); }
  void addAt(uint32_t seconds, uint32_t micros, const std::vector<uint8_t>& packet) {
    put32(seconds);
    put32(micros);
    put32(static_cast<uint32_t>(packet.size()));
    put32(static_cast<uint32_t>(packet.size()));
    bytes_.append(reinterpret_cast<const char*>(packet.data()), packet.size());
    ++count_;
  }
  const std::string& bytes() const { return bytes_; }

 private:
  static constexpr uint32_t kStart = 1700000000;
  void put32(uint32_t v) { bytes_.append(reinterpret_cast<const char*>(&v), 4); }
  std::string bytes_;
  uint32_t count_ = 0;
};

// A DNS query (RD set, one question of `qtype`, class IN) for `name`.
inline std::vector<uint8_t> dnsQuery(std::string_view name, uint16_t qtype = 1,
                                     uint16_t id = 0x1234) {
  std::vector<uint8_t> q = {uint8_t(id >> 8), uint8_t(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    q.push_back(uint8_t(dot - start));
    q.insert(q.end(), name.begin() + start, name.begin() + dot);
    start = dot + 1;
  }
  q.insert(q.end(), {0, uint8_t(qtype >> 8), uint8_t(qtype), 0, 1});
  return q;
}

}  // namespace safegate::testing
