// Checks safegate's block answers with a real DNS client: dig (BIND 9) sends a query to a UDP
// socket on loopback, the test answers with the builders, and dig's own parser must show the
// RCODE, the synthetic SOA and the Extended DNS Error.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "filters/dns_message.h"

namespace safegate {
namespace {

class LoopbackUdp {
 public:
  LoopbackUdp() {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;  // the kernel picks a free port
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~LoopbackUdp() { close(fd_); }
  int fd() const { return fd_; }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

bool haveDig() { return std::system("dig -v >/dev/null 2>&1") == 0; }

// Runs dig against the socket, answers its first query with `respond`, returns dig's output.
template <typename Respond>
std::string digExchange(const std::string& args, Respond respond) {
  LoopbackUdp sock;
  EXPECT_GT(sock.port(), 0);
  const std::string cmd =
      "dig @127.0.0.1 -p " + std::to_string(sock.port()) + " +tries=1 +time=10 " + args + " 2>&1";
  FILE* dig = popen(cmd.c_str(), "r");
  EXPECT_NE(dig, nullptr);
  pollfd p{sock.fd(), POLLIN, 0};
  if (poll(&p, 1, 10000) == 1) {  // readiness of the socket, not a sleep
    std::array<uint8_t, 4096> in{};
    sockaddr_in from{};
    socklen_t from_len = sizeof from;
    ssize_t n =
        recvfrom(sock.fd(), in.data(), in.size(), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    std::array<uint8_t, 4096> out{};
    size_t m = respond(std::span<const uint8_t>(in.data(), n > 0 ? size_t(n) : 0), out);
    EXPECT_GT(m, 0u);
    sendto(sock.fd(), out.data(), m, 0, reinterpret_cast<sockaddr*>(&from), from_len);
  } else {
    ADD_FAILURE() << "dig sent no query";
  }
  std::string output;
  char buf[512];
  while (fgets(buf, sizeof buf, dig) != nullptr) output += buf;
  pclose(dig);
  return output;
}

TEST(DnsMessageDigTest, DigReadsNxdomainWithEdeBlockedAndSoa) {
  if (!haveDig()) GTEST_FAIL() << "dig is required (packaging/dev/install-deps.sh installs it)";
  DnsParseStatus parsed = DnsParseStatus::kTruncated;
  std::string qname;
  const std::string out = digExchange(
      "Ads.Example.COM A", [&](std::span<const uint8_t> query, std::span<uint8_t> resp) {
        DnsQuery q;
        NameBuffer name;
        parsed = parseDnsQuery(query, q, name);
        qname = std::string(name.view());
        BlockResponseOptions opts;
        opts.ttl_seconds = 42;
        opts.ede_text = "blocked by safegate: ads";
        return parsed == DnsParseStatus::kOk ? buildNxdomain(query, q, opts, resp) : size_t{0};
      });
  EXPECT_EQ(parsed, DnsParseStatus::kOk);
  EXPECT_EQ(qname, "ads.example.com");
  EXPECT_NE(out.find("status: NXDOMAIN"), std::string::npos) << out;
  EXPECT_NE(out.find("EDE: 15 (Blocked): (blocked by safegate: ads)"), std::string::npos) << out;
  EXPECT_NE(out.find("SOA\tsafegate.invalid. hostmaster.safegate.invalid. 1 1800 900 604800 42"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("WARNING"), std::string::npos) << out;
  EXPECT_EQ(out.find("malformed"), std::string::npos) << out;
}

TEST(DnsMessageDigTest, DigReadsNullAddressAnswer) {
  if (!haveDig()) GTEST_FAIL() << "dig is required";
  const std::string out = digExchange(
      "blocked.example A", [&](std::span<const uint8_t> query, std::span<uint8_t> resp) {
        DnsQuery q;
        NameBuffer name;
        if (parseDnsQuery(query, q, name) != DnsParseStatus::kOk) return size_t{0};
        return buildAddressAnswer(query, q, IpAddress(), IpAddress(), {}, resp);
      });
  EXPECT_NE(out.find("status: NOERROR"), std::string::npos) << out;
  EXPECT_NE(out.find("blocked.example.\t10\tIN\tA\t0.0.0.0"), std::string::npos) << out;
  EXPECT_NE(out.find("EDE: 15 (Blocked)"), std::string::npos) << out;
}

TEST(DnsMessageDigTest, DigReadsCnameRewriteAndNoEdnsMeansNoOpt) {
  if (!haveDig()) GTEST_FAIL() << "dig is required";
  const std::string out = digExchange(
      "+noedns www.google.com A", [&](std::span<const uint8_t> query, std::span<uint8_t> resp) {
        DnsQuery q;
        NameBuffer name;
        if (parseDnsQuery(query, q, name) != DnsParseStatus::kOk || q.has_edns) return size_t{0};
        const uint8_t rr[] = {15,  'f', 'o', 'r', 'c', 'e', 's', 'a', 'f', 'e', 's', 'e', 'a', 'r',
                              'c', 'h', 6,   'g', 'o', 'o', 'g', 'l', 'e', 3,   'c', 'o', 'm', 0,
                              0,   1,   0,   1,   0,   0,   0,   60,  0,   4,   216, 239, 38,  120};
        return buildCnameAnswer(query, q, "forcesafesearch.google.com", 300, rr, 1, resp);
      });
  EXPECT_NE(out.find("www.google.com.\t\t300\tIN\tCNAME\tforcesafesearch.google.com."),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("forcesafesearch.google.com. 60\tIN\tA\t216.239.38.120"), std::string::npos)
      << out;
  EXPECT_EQ(out.find("OPT PSEUDOSECTION"), std::string::npos) << out;
}

TEST(DnsMessageDigTest, DigReadsHttpsRecordWithEchStripped) {
  if (!haveDig()) GTEST_FAIL() << "dig is required";
  uint32_t removed = 0;
  const std::string out = digExchange(
      "+noedns example.com HTTPS", [&](std::span<const uint8_t> query, std::span<uint8_t> resp) {
        DnsQuery q;
        NameBuffer name;
        if (parseDnsQuery(query, q, name) != DnsParseStatus::kOk) return size_t{0};
        // An upstream answer: example.com HTTPS 1 . alpn=h2 ech=... port=8443, header and
        // question taken from dig's query.
        std::vector<uint8_t> up(query.begin(), query.begin() + q.question_end);
        up[2] = 0x81;
        up[3] = 0x80;
        up[7] = 1;  // ANCOUNT
        const uint8_t rr[] = {0xC0, 12, 0, 65, 0,    1,    0,    0,    1,   44,  0,
                              25,   0,  1, 0,  0,    1,    0,    3,    2,   'h', '2',  // alpn
                              0,    3,  0, 2,  0x20, 0xfb,                             // port
                              0,    5,  0, 5,  0xec, 0xec, 0xec, 0xec, 0xec};          // ech
        up.insert(up.end(), std::begin(rr), std::end(rr));
        EchStripResult res = stripEchFromResponse(up, resp);
        removed = res.removed;
        return res.length;
      });
  EXPECT_EQ(removed, 1u);
  EXPECT_NE(out.find("status: NOERROR"), std::string::npos) << out;
  EXPECT_NE(out.find("HTTPS\t1 . alpn=\"h2\" port=8443"), std::string::npos) << out;
  EXPECT_EQ(out.find("ech="), std::string::npos) << out;
}

}  // namespace
}  // namespace safegate
