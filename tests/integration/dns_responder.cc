// sg_dns_responder: a tiny authoritative DNS server for integration tests and benchmarks.
//
// It plays "the upstream" on loopback: answers A/AAAA/CNAME/PTR/HTTPS from a zone file, follows
// CNAME chains inside the zone (so CNAME-cloaking tests see a real chain), NXDOMAIN with an SOA for
// unknown names, a "*" entry for every other name (benchmarks), and sets TC when a UDP answer
// exceeds the client's size (512, or its EDNS size) so the TCP fallback is exercised. UDP with
// recvmmsg/sendmmsg batches and TCP (one thread per connection). Deliberately independent of
// safegate's own DNS code, so tests do not check safegate against itself.
//
//   sg_dns_responder [--port N] [--address A] --zone FILE
//   zone lines: "name TYPE value [ttl]", TYPE in A, AAAA, CNAME, PTR, HTTPS (value: the RDATA
//   in hex, RFC 9460 wire form); "#" comments.
// Prints "responder: ready port=N" on stdout once both sockets are bound.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Record {
  uint16_t type;
  uint32_t ttl;
  std::vector<uint8_t> rdata;  // for CNAME: the wire name
  std::string target;          // CNAME target (lower case)
};
std::map<std::string, std::vector<Record>> zone;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::vector<uint8_t> wireName(const std::string& name) {
  std::vector<uint8_t> out;
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    out.push_back(static_cast<uint8_t>(dot - start));
    out.insert(out.end(), name.begin() + start, name.begin() + dot);
    start = dot + 1;
  }
  out.push_back(0);
  return out;
}

bool loadZone(const char* path) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream f(line);
    std::string name, type, value;
    uint32_t ttl = 300;
    if (!(f >> name >> type >> value)) continue;
    f >> ttl;
    Record r{};
    r.ttl = ttl;
    if (type == "A") {
      r.type = 1;
      r.rdata.resize(4);
      if (inet_pton(AF_INET, value.c_str(), r.rdata.data()) != 1) return false;
    } else if (type == "AAAA") {
      r.type = 28;
      r.rdata.resize(16);
      if (inet_pton(AF_INET6, value.c_str(), r.rdata.data()) != 1) return false;
    } else if (type == "CNAME") {
      r.type = 5;
      r.target = lower(value);
      r.rdata = wireName(r.target);
    } else if (type == "PTR") {
      r.type = 12;
      r.rdata = wireName(lower(value));
    } else if (type == "HTTPS") {
      // RDATA as hex (RFC 3597 style), so tests can serve any SvcParams (e.g. ech, key 5).
      r.type = 65;
      if (value.size() % 2 != 0) return false;
      for (size_t i = 0; i < value.size(); i += 2) {
        char* end = nullptr;
        const std::string byte = value.substr(i, 2);
        const long v = strtol(byte.c_str(), &end, 16);
        if (end != byte.c_str() + 2) return false;
        r.rdata.push_back(static_cast<uint8_t>(v));
      }
    } else {
      return false;
    }
    zone[lower(name)].push_back(r);
  }
  return true;
}

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put32(std::vector<uint8_t>& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}

// Builds the answer to `q` (a query of length n); max_size = what the client accepts (0 = TCP).
std::vector<uint8_t> answer(const uint8_t* q, size_t n, size_t max_udp) {
  std::vector<uint8_t> r;
  if (n < 17) return r;
  // Question name (uncompressed in queries).
  size_t off = 12;
  std::string name;
  while (off < n && q[off] != 0) {
    size_t len = q[off];
    if (len > 63 || off + 1 + len >= n) return r;
    if (!name.empty()) name.push_back('.');
    name.append(reinterpret_cast<const char*>(q + off + 1), len);
    off += 1 + len;
  }
  off += 1;
  if (off + 4 > n) return r;
  const uint16_t qtype = static_cast<uint16_t>((q[off] << 8) | q[off + 1]);
  const size_t question_end = off + 4;
  name = lower(name);
  // EDNS: look for an OPT record in the additional section to learn the client's size and echo.
  bool edns = false;
  size_t udp_size = 512;
  if (((q[10] << 8) | q[11]) >= 1 && question_end + 11 <= n && q[question_end] == 0 &&
      q[question_end + 1] == 0 && q[question_end + 2] == 41) {
    edns = true;
    udp_size = std::max<size_t>(512, (q[question_end + 3] << 8) | q[question_end + 4]);
  }
  r.assign(q, q + question_end);
  r[2] = static_cast<uint8_t>(0x84 | (q[2] & 0x01));  // QR, AA, RD copied
  r[3] = 0x80;                                        // RA
  std::vector<std::vector<uint8_t>> rrs;
  std::string current = name;
  bool found = false;
  for (int hop = 0; hop < 8; ++hop) {
    auto it = zone.find(current);
    if (it == zone.end()) it = zone.find("*");
    if (it == zone.end()) break;
    found = true;
    std::string next;
    for (const Record& rec : it->second) {
      if (rec.type != qtype && rec.type != 5) continue;
      std::vector<uint8_t> rr;
      if (current == name) {
        put16(rr, 0xc00c);
      } else {
        auto w = wireName(current);
        rr.insert(rr.end(), w.begin(), w.end());
      }
      put16(rr, rec.type);
      put16(rr, 1);
      put32(rr, rec.ttl);
      put16(rr, static_cast<uint16_t>(rec.rdata.size()));
      rr.insert(rr.end(), rec.rdata.begin(), rec.rdata.end());
      rrs.push_back(rr);
      if (rec.type == 5) next = rec.target;
    }
    if (next.empty() || qtype == 5) break;
    current = next;
  }
  r[4] = 0;
  r[5] = 1;
  r[6] = r[7] = r[8] = r[9] = 0;
  r[10] = 0;
  r[11] = edns ? 1 : 0;
  if (!found) {
    r[3] |= 3;  // NXDOMAIN + SOA for negative caching (RFC 2308)
    r[9] = 1;
    put16(r, 0xc00c);
    put16(r, 6);
    put16(r, 1);
    put32(r, 60);
    put16(r, 22);
    r.push_back(0);
    r.push_back(0);
    put32(r, 1);
    put32(r, 3600);
    put32(r, 600);
    put32(r, 86400);
    put32(r, 30);
  } else {
    r[6] = static_cast<uint8_t>(rrs.size() >> 8);  // ANCOUNT is 16 bits
    r[7] = static_cast<uint8_t>(rrs.size());
    for (auto& rr : rrs) r.insert(r.end(), rr.begin(), rr.end());
  }
  if (edns) {
    r.push_back(0);
    put16(r, 41);
    put16(r, 1232);
    put32(r, 0);
    put16(r, 0);
  }
  if (max_udp != 0 && r.size() > std::min(max_udp, edns ? udp_size : 512)) {
    r.resize(question_end);  // truncated: header + question, TC set
    r[2] |= 0x02;
    for (int i = 6; i < 12; ++i) r[i] = 0;
  }
  return r;
}

void serveTcp(int fd) {
  for (;;) {
    uint8_t len[2];
    if (recv(fd, len, 2, MSG_WAITALL) != 2) break;
    size_t n = (len[0] << 8) | len[1];
    std::vector<uint8_t> q(n);
    if (recv(fd, q.data(), n, MSG_WAITALL) != static_cast<ssize_t>(n)) break;
    auto r = answer(q.data(), n, 0);
    if (r.empty()) break;
    std::vector<uint8_t> out = {static_cast<uint8_t>(r.size() >> 8),
                                static_cast<uint8_t>(r.size())};
    out.insert(out.end(), r.begin(), r.end());
    if (send(fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) break;
  }
  close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  const char* zone_file = nullptr;
  const char* address = "127.0.0.1";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--port") port = atoi(argv[i + 1]);
    if (a == "--zone") zone_file = argv[i + 1];
    if (a == "--address") address = argv[i + 1];
  }
  if (!zone_file || !loadZone(zone_file)) {
    fprintf(stderr, "usage: sg_dns_responder [--port N] [--address A] --zone FILE (bad zone?)\n");
    return 2;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  inet_pton(AF_INET, address, &addr.sin_addr);
  int udp = -1, tcp = -1;
  for (int attempt = 0; attempt < 20; ++attempt) {
    addr.sin_port = htons(static_cast<uint16_t>(port));
    udp = socket(AF_INET, SOCK_DGRAM, 0);
    int one = 1;
    setsockopt(udp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(udp, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      perror("bind udp");
      return 1;
    }
    socklen_t len = sizeof(addr);
    getsockname(udp, reinterpret_cast<sockaddr*>(&addr), &len);
    tcp = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(tcp, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 && listen(tcp, 64) == 0) {
      break;
    }
    close(udp);
    close(tcp);
    udp = tcp = -1;
    if (port != 0) {
      perror("bind tcp");
      return 1;
    }
  }
  if (udp < 0) return 1;
  printf("responder: ready port=%u\n", ntohs(addr.sin_port));
  fflush(stdout);
  std::thread([tcp] {
    for (;;) {
      int c = accept(tcp, nullptr, nullptr);
      if (c >= 0) std::thread(serveTcp, c).detach();
    }
  }).detach();
  constexpr int kBatch = 64;
  static std::array<std::array<uint8_t, 4096>, kBatch> bufs;
  static std::array<std::vector<uint8_t>, kBatch> answers;
  sockaddr_storage peers[kBatch];
  for (;;) {
    mmsghdr msgs[kBatch]{};
    iovec iovs[kBatch];
    for (int i = 0; i < kBatch; ++i) {
      iovs[i] = {bufs[i].data(), bufs[i].size()};
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &peers[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    }
    int n = recvmmsg(udp, msgs, kBatch, MSG_WAITFORONE, nullptr);
    if (n <= 0) continue;
    mmsghdr out[kBatch]{};
    iovec oiov[kBatch];
    int m = 0;
    for (int i = 0; i < n; ++i) {
      answers[i] = answer(bufs[i].data(), msgs[i].msg_len, 65535);
      if (answers[i].empty()) continue;
      oiov[m] = {answers[i].data(), answers[i].size()};
      out[m].msg_hdr.msg_iov = &oiov[m];
      out[m].msg_hdr.msg_iovlen = 1;
      out[m].msg_hdr.msg_name = &peers[i];
      out[m].msg_hdr.msg_namelen = msgs[i].msg_hdr.msg_namelen;
      ++m;
    }
    if (m > 0) sendmmsg(udp, out, static_cast<unsigned>(m), 0);
  }
}
