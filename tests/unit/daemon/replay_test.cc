// replayCapture() against the real captures in ../shared/data/pcaps: every DNS query name and
// every TLS/QUIC server name that INDEX.tsv (generated with tshark) lists must be observed,
// with the policy's decision.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "daemon/inline/capture_replay.h"
#include "tests/support/shared_data.h"

namespace safegate {
namespace {

using safegate::testing::TempDir;

class ReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("gambling.txt", "google.com\nmsquic.net\nevil.com\n");
    dir_.write("safegate.toml", R"(
[policy]
default_group = "kids"

[[lists]]
name = "blocked"
category = "gambling"
sources = ["gambling.txt"]

[[groups]]
name = "kids"
profile = "open"
categories = { gambling = "block" }
)");
    DiagnosticSink diags;
    auto loaded = policy::PolicyEngine::load(dir_.path() / "safegate.toml", diags);
    ASSERT_TRUE(loaded.isOk()) << diags.toString();
    snapshot_ = loaded->snapshot;
  }

  std::vector<ReplayObservation> replay(const std::filesystem::path& p) {
    auto r = replayCapture(p, snapshot_);
    EXPECT_TRUE(r.isOk()) << r.status().toString();
    return r.isOk() ? *r : std::vector<ReplayObservation>{};
  }

  TempDir dir_;
  policy::PolicySnapshotPtr snapshot_;
};

const ReplayObservation* find(const std::vector<ReplayObservation>& obs, Protocol p,
                              std::string_view host) {
  for (const auto& o : obs) {
    if (o.protocol == p && o.host == host) return &o;
  }
  return nullptr;
}

TEST_F(ReplayTest, DecidesQuicV1InitialByItsSni) {
  auto obs = replay(SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/suricata-verify/quic-v1-msquic.pcap"));
  const auto* o = find(obs, Protocol::kQuic, "msquic.net");
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->decision.verdict, "block");
  EXPECT_EQ(o->decision.category, "gambling");
  EXPECT_NE(o->decision.source.find("gambling.txt:2"), std::string::npos) << o->decision.source;
  EXPECT_EQ(isoTimeUtc(o->time_us).size(), 24u);
}

TEST_F(ReplayTest, DecidesTlsClientHelloBySniOverIpv4AndIpv6) {
  auto obs = replay(SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/suricata-verify/tls12-sni-apple.pcap"));
  const auto* o = find(obs, Protocol::kTls, "www.apple.com");
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->decision.verdict, "allow");
  auto v6 =
      replay(SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/suricata-verify/tls-ipv6-sni-example-com.pcap"));
  const auto* e = find(v6, Protocol::kTls, "example.com");
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->client.find(':'), std::string::npos);
}

TEST_F(ReplayTest, ReportsDnsTypesAndBlocksSubdomainsOfListedNames) {
  auto obs =
      replay(SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/suricata-verify/dns-udp-google-a-aaaa-mx.pcap"));
  std::multiset<uint16_t> types;
  for (const auto& o : obs) {
    if (o.protocol == Protocol::kDns && o.host == "google.com") {
      types.insert(o.dns_type);
      EXPECT_EQ(o.decision.verdict, "block");
    }
  }
  EXPECT_EQ(types, (std::multiset<uint16_t>{1, 15, 28}));
  auto evil =
      replay(SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/suricata-verify/dns-udp-subdomains-evil.pcap"));
  ASSERT_NE(find(evil, Protocol::kDns, "example.com"), nullptr);
  EXPECT_EQ(find(evil, Protocol::kDns, "example.com")->decision.verdict, "allow");
  ASSERT_NE(find(evil, Protocol::kDns, "sub.mail.evil.com"), nullptr);
  EXPECT_EQ(find(evil, Protocol::kDns, "sub.mail.evil.com")->decision.verdict, "block");
}

TEST_F(ReplayTest, ReportsHttpHostAndPathIncludingIpv6Literal) {
  auto obs = replay(SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/suricata-verify/http1-ipv6-loopback.pcap"));
  ASSERT_FALSE(obs.empty());
  EXPECT_EQ(obs[0].protocol, Protocol::kHttp);
  EXPECT_EQ(obs[0].host, "::1");
  EXPECT_EQ(obs[0].http_path, "/");
  auto connect =
      replay(SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/suricata-verify/http-connect-proxy-simple.pcap"));
  const auto* c = find(connect, Protocol::kHttp, "abc");
  ASSERT_NE(c, nullptr);
}

TEST_F(ReplayTest, TlsWithoutSniIsJudgedByTheGroupsUnresolvedSetting) {
  auto obs =
      replay(SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/suricata-verify/tls-clienthello-no-sni.pcap"));
  const auto* o = find(obs, Protocol::kTls, "");
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->decision.category, "unresolved-destination");
  EXPECT_EQ(o->decision.verdict, "allow");  // the default unresolved_destination
}

TEST_F(ReplayTest, ReportsMissingCaptureAsError) {
  auto r = replayCapture(dir_.path() / "absent.pcap", snapshot_);
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().toString().find("absent.pcap"), std::string::npos);
}

// Every name tshark saw (INDEX.tsv) is observed by replay, with a decision.
void expectIndexCovered(
    const std::filesystem::path& dir, size_t min_names,
    const std::function<std::vector<ReplayObservation>(const std::filesystem::path&)>& run) {
  std::ifstream index(dir / "INDEX.tsv");
  ASSERT_TRUE(index) << dir;
  std::string line;
  std::getline(index, line);  // header
  // Messages tshark shows that are not name lookups safegate decides: DNS on ports other than
  // 53 (8053, 5353: safegate reads DNS on port 53 only), and opcodes other than QUERY (UPDATE,
  // NOTIFY, an invalid opcode: parseDnsQuery rejects them, the proxy answers them REFUSED/
  // NOTIMP without a decision).
  const std::set<std::string> skip_dns = {
      "dns_udp_8053.pcap",           "dns_tcp_8053.pcap",
      "dns-tcp-incomplete.pcap",     "dns-tcp-answer-emptydata.pcap",
      "dns-udp-invalid-opcode.pcap", "dns-udp-notify-opcode.pcap"};
  size_t checked = 0;
  while (std::getline(index, line)) {
    std::vector<std::string> col;
    std::stringstream ss(line);
    std::string c;
    while (std::getline(ss, c, '\t')) col.push_back(c);
    if (col.size() < 8) continue;
    auto obs = run(dir / col[0]);
    std::set<std::string> dns, hello;
    for (const auto& o : obs) {
      EXPECT_FALSE(o.decision.verdict.empty());
      (o.protocol == Protocol::kDns ? dns : hello).insert(o.host);
    }
    std::stringstream qs(col[6]);
    std::string q;
    while (qs >> q) {
      if (q.rfind("Q:", 0) != 0 || skip_dns.count(col[0])) continue;
      std::string name = q.substr(2, q.find('/') - 2);
      if (name.empty() || name.find_first_of("=<>") != std::string::npos) continue;
      for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      EXPECT_TRUE(dns.count(name)) << col[0] << ": DNS query " << name << " not observed";
      ++checked;
    }
    std::stringstream sn(col[7]);
    std::string sni;
    while (sn >> sni) {
      EXPECT_TRUE(hello.count(sni)) << col[0] << ": server name " << sni << " not observed";
      ++checked;
    }
  }
  EXPECT_GE(checked, min_names);
}

TEST_F(ReplayTest, ObservesEveryNameInSuricataVerifyIndex) {
  auto dir = SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/suricata-verify");
  expectIndexCovered(dir, 30, [&](const std::filesystem::path& p) { return replay(p); });
}

TEST_F(ReplayTest, ObservesEveryNameInTcpdumpIndex) {
  auto dir = SAFEGATE_SHARED_DATA_OR_SKIP("pcaps/tcpdump");
  expectIndexCovered(dir, 8, [&](const std::filesystem::path& p) { return replay(p); });
}

}  // namespace
}  // namespace safegate
