// packet_flood: the load generator of bench/nfqueue_bench.sh. Sends pre-built IPv4 packets
// through a raw socket (sendmmsg batches) for a fixed time, each from a new source port so
// that every packet is a new flow for the gateway's NFQUEUE rules:
//   --mode dns : a DNS query for www.example.org (UDP 53)
//   --mode tls : a TCP segment (ACK|PSH) carrying a TLS 1.3 ClientHello for www.example.org
//                (TCP 443; no handshake: conntrack picks the flow up mid-stream)
//
//   packet_flood --mode dns|tls --src IP --dst IP --seconds N
// Source ports cycle 1025..65000, then the source address moves to the next one in its /24.
// Prints "sent=<packets>".
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "filters/forged_packet.h"

namespace {

std::vector<uint8_t> clientHello(std::string_view sni) {
  std::vector<uint8_t> ext;
  auto u16 = [](std::vector<uint8_t>& v, size_t x) {
    v.push_back(uint8_t(x >> 8));
    v.push_back(uint8_t(x));
  };
  u16(ext, 0);
  u16(ext, sni.size() + 5);
  u16(ext, sni.size() + 3);
  ext.push_back(0);
  u16(ext, sni.size());
  ext.insert(ext.end(), sni.begin(), sni.end());
  // supported_versions (TLS 1.3) and a 32-byte x25519 key share, like a real hello.
  for (uint8_t b : {0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04}) ext.push_back(b);
  for (uint8_t b : {0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20}) ext.push_back(b);
  ext.resize(ext.size() + 32, 0x42);
  std::vector<uint8_t> hs = {0x03, 0x03};
  hs.resize(2 + 32, 0x11);
  hs.push_back(32);
  hs.resize(hs.size() + 32, 0x22);
  u16(hs, 6);
  u16(hs, 0x1301);
  u16(hs, 0x1302);
  u16(hs, 0x1303);
  hs.push_back(1);
  hs.push_back(0);
  u16(hs, ext.size());
  hs.insert(hs.end(), ext.begin(), ext.end());
  std::vector<uint8_t> msg = {0x01, 0, uint8_t(hs.size() >> 8), uint8_t(hs.size())};
  msg.insert(msg.end(), hs.begin(), hs.end());
  std::vector<uint8_t> rec = {0x16, 0x03, 0x01};
  u16(rec, msg.size());
  rec.insert(rec.end(), msg.begin(), msg.end());
  return rec;
}

std::vector<uint8_t> dnsQuery() {
  std::vector<uint8_t> q = {0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0};
  for (const char* label : {"www", "example", "org"}) {
    q.push_back(uint8_t(std::strlen(label)));
    q.insert(q.end(), label, label + std::strlen(label));
  }
  for (uint8_t b : {0x00, 0x00, 0x01, 0x00, 0x01}) q.push_back(b);
  return q;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = "dns", src = "10.0.0.2", dst = "10.0.1.2";
  int seconds = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--mode")
      mode = argv[i + 1];
    else if (a == "--src")
      src = argv[i + 1];
    else if (a == "--dst")
      dst = argv[i + 1];
    else if (a == "--seconds")
      seconds = std::atoi(argv[i + 1]);
  }
  auto s = safegate::IpAddress::parse(src), d = safegate::IpAddress::parse(dst);
  if (!s || !d || (mode != "dns" && mode != "tls")) {
    std::fprintf(stderr, "usage: packet_flood --mode dns|tls --src IP --dst IP --seconds N\n");
    return 1;
  }
  int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  if (fd < 0) {
    std::perror("raw socket");
    return 1;
  }
  const std::vector<uint8_t> payload = mode == "dns" ? dnsQuery() : clientHello("www.example.org");
  constexpr int kBatch = 64;
  std::vector<std::vector<uint8_t>> packets(kBatch, std::vector<uint8_t>(2048));
  std::vector<iovec> iov(kBatch);
  std::vector<mmsghdr> msgs(kBatch);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  std::memcpy(&to.sin_addr, d->bytes().data(), 4);
  uint64_t sent = 0;
  uint16_t port = 1024;
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    for (int i = 0; i < kBatch; ++i) {
      if (port >= 65000) {
        // Next source address in the same /24 (2..254), so no 5-tuple repeats within a run:
        // a repeated tuple would hit the connection mark of an already decided flow.
        port = 1024;
        auto b = s->bytes();
        std::array<uint8_t, 4> next{b[0], b[1], b[2], uint8_t(b[3] >= 254 ? 2 : b[3] + 1)};
        s = safegate::IpAddress::v4(std::span<const uint8_t, 4>(next));
      } else {
        ++port;
      }
      size_t len;
      if (mode == "dns") {
        len = safegate::buildUdpPacket(*s, *d, port, 53, payload, packets[i]);
      } else {
        safegate::TcpSegmentSpec t{
            *s,   *d, port, 443, 1000, 1, safegate::tcp_flags::kAck | safegate::tcp_flags::kPsh,
            65535};
        len = safegate::buildTcpPacket(t, payload, packets[i]);
      }
      iov[i] = iovec{packets[i].data(), len};
      msgs[i] = mmsghdr{};
      msgs[i].msg_hdr.msg_name = &to;
      msgs[i].msg_hdr.msg_namelen = sizeof to;
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = sendmmsg(fd, msgs.data(), kBatch, 0);
    if (n > 0) sent += static_cast<uint64_t>(n);
  }
  std::printf("sent=%llu\n", static_cast<unsigned long long>(sent));
  close(fd);
  return 0;
}
