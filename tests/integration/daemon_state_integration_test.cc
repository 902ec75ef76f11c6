// Integration tests of the real safegated for per-group answer rewriting and state that must
// outlive the process: ECH stripping seen through a real dig, temporary exceptions that survive
// a restart, a dns.listen port 0 reported in the ready line, and a start as root that hands the
// state to daemon.user. A real upstream
// (sg_dns_responder) on loopback; binaries from the environment (tests/integration/CMakeLists.txt):
// SAFEGATED, SG_DNS_RESPONDER, SAFEGATECTL.
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <regex>
#include <sstream>
#include <string>

#include "tests/integration/child_process.h"
#include "tests/support/pcap_writer.h"
#include "tests/support/shared_data.h"
#include "tests/support/test_packets.h"

namespace safegate {
namespace {

using testing::ChildProcess;
using testing::run;
using testing::TempDir;

std::string env(const char* name) {
  const char* v = getenv(name);
  return v ? v : "";
}

// RDATA in hex (RFC 9460 §2.2): priority 0001, target 00 (root), alpn 0001 0003 026832 ("h2"),
// ech 0005 0004 fe0dabcd — dig shows it as `1 . alpn="h2" ech=/g2rzQ==`. noech.test: alpn only.
constexpr const char* kZone = R"(allowed.test A 192.0.2.10
casino.test A 192.0.2.77
ech.test HTTPS 0001000001000302683200050004fe0dabcd
noech.test HTTPS 00010000010003026832
)";

class SafegatedStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    safegated_ = env("SAFEGATED");
    ctl_ = env("SAFEGATECTL");
    ASSERT_FALSE(safegated_.empty()) << "SAFEGATED not set (run through ctest)";
    ASSERT_FALSE(ctl_.empty()) << "SAFEGATECTL not set (run through ctest)";
    const std::string responder = env("SG_DNS_RESPONDER");
    ASSERT_FALSE(responder.empty()) << "SG_DNS_RESPONDER not set (run through ctest)";
    dir_.write("zone.txt", kZone);
    ASSERT_TRUE(responder_.start(
        {responder, "--port", "0", "--zone", (dir_.path() / "zone.txt").string()}));
    auto line = responder_.waitForLine("responder: ready");
    ASSERT_TRUE(line);
    upstream_port_ = std::stoi(line->substr(line->find("port=") + 5));
    dir_.write("gambling.txt", "casino.test\n");
  }

  void TearDown() override {
    daemon_.kill(SIGTERM);
    responder_.kill(SIGKILL);
  }

  // kids (everyone else): strip_ech left at its default (true); teens (127.0.0.2): false.
  std::string config(const std::string& listen = "127.0.0.1:5353") {
    return "[daemon]\nstate_dir = \"" + (dir_.path() / "state").string() +
           "\"\n"
           "[dns]\nlisten = [\"" +
           listen + "\"]\nupstreams = [\"127.0.0.1:" + std::to_string(upstream_port_) +
           "\"]\nupstream_timeout_ms = 300\nworkers = 2\n"
           "[policy]\ndefault_group = \"kids\"\n"
           "[[lists]]\nname = \"gambling\"\ncategory = \"gambling\"\nsources = "
           "[\"gambling.txt\"]\n"
           "[[groups]]\nname = \"kids\"\nprofile = \"9-12\"\n"
           "[groups.categories]\ngambling = \"block\"\n"
           "[[groups]]\nname = \"teens\"\nprofile = \"13-17\"\nstrip_ech = false\n"
           "[groups.categories]\ngambling = \"block\"\n"
           "[[clients]]\nname = \"tablet\"\ngroup = \"teens\"\naddresses = [\"127.0.0.2\"]\n";
  }

  // Starts safegated; `extra` are further arguments (e.g. --listen 127.0.0.1:0). Reads the
  // DNS port and control socket back from the ready line.
  void startDaemon(const std::vector<std::string>& extra = {"--listen", "127.0.0.1:0"}) {
    std::vector<std::string> argv = {safegated_, "--config", config_.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    ASSERT_TRUE(daemon_.start(argv, log().string()));
    auto line = daemon_.waitForLine("safegated: ready", 15000);
    ASSERT_TRUE(line) << testing::readFile(log());
    ready_line_ = *line;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(*line, m, std::regex("dns=127\\.0\\.0\\.1:(\\d+)"))) << *line;
    dns_port_ = std::stoi(m[1]);
    control_ = line->substr(line->find("control=") + 8);
  }

  std::filesystem::path log() const { return dir_.path() / "safegated.log"; }

  std::string dig(const std::string& args) {
    return run("dig @127.0.0.1 -p " + std::to_string(dns_port_) + " +time=3 +tries=1 " + args +
               " 2>&1");
  }
  std::string ctl(const std::string& args) {
    return run(ctl_ + " " + args + " --socket " + control_ + " 2>&1; echo rc=$?");
  }

  TempDir dir_;
  std::string safegated_, ctl_;
  ChildProcess responder_, daemon_;
  int upstream_port_ = 0, dns_port_ = 0;
  std::filesystem::path config_;
  std::string control_, ready_line_;
};

TEST_F(SafegatedStateTest, EchParameterIsStrippedForAGroupThatStripsAndKeptForOneThatDoesNot) {
  config_ = dir_.write("safegate.toml", config());
  startDaemon();
  // The upstream really serves ech (asked directly, not through safegated).
  const std::string direct = run("dig @127.0.0.1 -p " + std::to_string(upstream_port_) +
                                 " +time=3 +tries=1 +short -t TYPE65 ech.test 2>&1");
  ASSERT_NE(direct.find("ech="), std::string::npos) << direct;

  // kids (127.0.0.1, strip_ech default true): the record stays, its ech parameter goes.
  std::string kids = dig("+short -t TYPE65 ech.test");
  EXPECT_EQ(kids.find("ech="), std::string::npos) << kids;
  EXPECT_NE(kids.find("alpn=\"h2\""), std::string::npos) << kids;
  // teens (127.0.0.2, strip_ech = false): answered from the same worker caches, ech kept.
  for (int i = 0; i < 4; ++i) {
    std::string teens = dig("-b 127.0.0.2 +short -t TYPE65 ech.test");
    EXPECT_NE(teens.find("ech=/g2rzQ=="), std::string::npos) << teens;
  }
  // And kids again, now certainly from a cache that holds the upstream's (unstripped) answer.
  for (int i = 0; i < 4; ++i) {
    kids = dig("+short -t TYPE65 ech.test");
    EXPECT_EQ(kids.find("ech="), std::string::npos) << kids;
    EXPECT_NE(kids.find("alpn=\"h2\""), std::string::npos) << kids;
  }
  // Over TCP as well.
  kids = dig("+tcp +short -t TYPE65 ech.test");
  EXPECT_EQ(kids.find("ech="), std::string::npos) << kids;
  EXPECT_NE(kids.find("alpn=\"h2\""), std::string::npos) << kids;
  // A record without ech is passed as it is.
  EXPECT_NE(dig("+short -t TYPE65 noech.test").find("alpn=\"h2\""), std::string::npos);

  const std::string stats = ctl("stats --json");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(stats, m, std::regex("\"ech_stripped\":\\s*(\\d+)"))) << stats;
  EXPECT_GE(std::stoi(m[1]), 6) << stats;  // 5 UDP answers + 1 TCP to kids
}

TEST_F(SafegatedStateTest, ExceptionsSurviveARestartAndCanBeRemovedAfterIt) {
  config_ = dir_.write("safegate.toml", config());
  startDaemon();
  ASSERT_NE(dig("casino.test").find("status: NXDOMAIN"), std::string::npos);
  std::string out =
      ctl("exceptions add --client 127.0.0.1 --name casino.test --minutes 10 "
          "--note reward");
  ASSERT_NE(out.find("rc=0"), std::string::npos) << out;
  out = ctl("pause --group teens --minutes 5");
  ASSERT_NE(out.find("rc=0"), std::string::npos) << out;
  EXPECT_EQ(dig("casino.test +short"), "192.0.2.77\n");

  // SIGTERM, then a new process on the same state directory.
  daemon_.kill(SIGTERM);
  startDaemon();
  out = ctl("exceptions list --json");
  EXPECT_NE(out.find("\"name\":\"casino.test\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"note\":\"reward\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"kind\":\"pause\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"group\":\"teens\""), std::string::npos) << out;
  // Still applied, not only listed.
  EXPECT_EQ(dig("casino.test +short"), "192.0.2.77\n");
  EXPECT_EQ(dig("-b 127.0.0.2 casino.test +short"), "192.0.2.77\n");  // teens: paused

  out = ctl("exceptions remove 1");
  EXPECT_NE(out.find("rc=0"), std::string::npos) << out;
  EXPECT_NE(dig("casino.test").find("status: NXDOMAIN"), std::string::npos);
  // The removal is durable too; the pause (id 2) is not touched, and new ids do not reuse 1.
  daemon_.kill(SIGTERM);
  startDaemon();
  out = ctl("exceptions list --json");
  EXPECT_EQ(out.find("casino.test"), std::string::npos) << out;
  EXPECT_NE(out.find("\"id\":2"), std::string::npos) << out;
  EXPECT_NE(dig("casino.test").find("status: NXDOMAIN"), std::string::npos);
  out = ctl("exceptions add --client 127.0.0.1 --name casino.test --minutes 1 --json");
  EXPECT_NE(out.find("\"id\":3"), std::string::npos) << out;
}

TEST_F(SafegatedStateTest, ListsAreCompiledOnceAndMappedOnStartAndReload) {
  // The daemon's `--compile-lists` child reads the list text and stores the compiled names
  // under state_dir/compiled; the daemon itself maps them (names_from_cache) on start, on a
  // restart and on a reload after a list changed, and keeps only the entry in force.
  config_ = dir_.write("safegate.toml", config());
  const std::filesystem::path compiled = dir_.path() / "state" / "compiled";
  auto entryNames = [&] {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(compiled)) {
      if (!e.is_directory()) continue;  // .lock
      EXPECT_TRUE(std::filesystem::exists(e.path() / "names.idx")) << e.path();
      names.push_back(e.path().filename().string());
    }
    return names;
  };
  startDaemon();
  ASSERT_NE(dig("casino.test").find("status: NXDOMAIN"), std::string::npos);
  std::string out = ctl("status --json");
  EXPECT_NE(out.find("\"names_from_cache\":true"), std::string::npos) << out;
  EXPECT_NE(out.find("\"names_mapped\":true"), std::string::npos) << out;
  const auto first = entryNames();
  ASSERT_EQ(first.size(), 1u);

  daemon_.kill(SIGTERM);
  startDaemon();
  out = ctl("status --json");
  EXPECT_NE(out.find("\"names_from_cache\":true"), std::string::npos) << out;
  EXPECT_EQ(entryNames(), first);
  EXPECT_NE(dig("casino.test").find("status: NXDOMAIN"), std::string::npos);
  EXPECT_EQ(dig("allowed.test +short"), "192.0.2.10\n");

  // A list replaced by rename (as an editor or a download does), then a reload.
  dir_.write("gambling.next", "casino.test\nallowed.test\n");
  std::filesystem::rename(dir_.path() / "gambling.next", dir_.path() / "gambling.txt");
  out = ctl("reload");
  ASSERT_NE(out.find("rc=0"), std::string::npos) << out;
  EXPECT_NE(dig("allowed.test").find("status: NXDOMAIN"), std::string::npos);
  out = ctl("status --json");
  EXPECT_NE(out.find("\"names_from_cache\":true"), std::string::npos) << out;
  const auto second = entryNames();
  ASSERT_EQ(second.size(), 1u) << "the previous entry is removed once the new policy is in force";
  EXPECT_NE(second, first);

  // --state-dir moves the cache (and every other state file) with it.
  daemon_.kill(SIGTERM);
  const std::filesystem::path elsewhere = dir_.path() / "elsewhere";
  startDaemon({"--listen", "127.0.0.1:0", "--state-dir", elsewhere.string()});
  EXPECT_TRUE(std::filesystem::exists(elsewhere / "compiled"));
  EXPECT_NE(control_.find(elsewhere.string()), std::string::npos) << control_;
  EXPECT_NE(dig("allowed.test").find("status: NXDOMAIN"), std::string::npos);
}

TEST_F(SafegatedStateTest, DamagedExceptionsFileIsReportedAndDoesNotStopTheStart) {
  config_ = dir_.write("safegate.toml", config());
  std::filesystem::create_directories(dir_.path() / "state");
  const auto file = dir_.write("state/exceptions.json", "{\"version\": 1, \"exceptions\": [\n{");
  startDaemon();
  const std::string log_text = testing::readFile(log());
  EXPECT_NE(log_text.find(file.string() + ":2:"), std::string::npos) << log_text;
  EXPECT_NE(log_text.find("not valid JSON"), std::string::npos) << log_text;
  EXPECT_EQ(dig("allowed.test +short"), "192.0.2.10\n");
  // The damaged file was set aside, not overwritten; new exceptions work and are saved.
  bool kept = false;
  for (const auto& e : std::filesystem::directory_iterator(dir_.path() / "state")) {
    if (e.path().filename().string().rfind("exceptions.json.corrupt-", 0) == 0) {
      kept = testing::readFile(e.path()) == "{\"version\": 1, \"exceptions\": [\n{";
    }
  }
  EXPECT_TRUE(kept);
  std::string out = ctl("exceptions add --client 127.0.0.1 --name casino.test --minutes 10");
  EXPECT_NE(out.find("rc=0"), std::string::npos) << out;
  EXPECT_NE(testing::readFile(file).find("casino.test"), std::string::npos);
}

TEST_F(SafegatedStateTest, ListenPortZeroInTheConfigBindsAFreePortShownInTheReadyLine) {
  // No --listen override: the config itself asks for port 0 on two addresses.
  std::string text = config("127.0.0.1:0");
  text.replace(text.find("listen = [\"127.0.0.1:0\"]"), 24,
               "listen = [\"127.0.0.1:0\", \"127.0.0.3:0\"]");
  config_ = dir_.write("safegate.toml", text);
  startDaemon({});
  ASSERT_GT(dns_port_, 0) << ready_line_;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(ready_line_, m, std::regex("127\\.0\\.0\\.3:(\\d+)")))
      << ready_line_;
  const int second_port = std::stoi(m[1]);
  EXPECT_GT(second_port, 0);
  // The reported ports are the real ones: UDP and TCP answer there.
  EXPECT_EQ(dig("allowed.test +short"), "192.0.2.10\n");
  EXPECT_EQ(dig("+tcp allowed.test +short"), "192.0.2.10\n");
  EXPECT_EQ(run("dig @127.0.0.3 -p " + std::to_string(second_port) +
                " +time=3 +tries=1 +short allowed.test 2>&1"),
            "192.0.2.10\n");
  // And status reports the same bound addresses.
  const std::string status = ctl("status --json");
  EXPECT_NE(status.find("127.0.0.1:" + std::to_string(dns_port_)), std::string::npos) << status;
  EXPECT_NE(status.find("127.0.0.3:" + std::to_string(second_port)), std::string::npos) << status;
}

// Status lines of /proc/PID/status ("Uid", "CapEff", ...): the value's first field.
std::string procStatus(pid_t pid, const std::string& field) {
  std::istringstream in(testing::readFile("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      std::istringstream f(line.substr(field.size() + 1));
      std::string value;
      f >> value;
      return value;
    }
  }
  return "";
}

TEST_F(SafegatedStateTest, StartedAsRootRunsAsDaemonUserWithTheStateARootRunLeft) {
  ASSERT_EQ(geteuid(), 0u) << "switching users needs root (CI runs as root)";
  const passwd* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  // The daemon's user must reach the config and the state directory through the temp dir.
  ::chmod(dir_.path().c_str(), 0755);
  const std::filesystem::path state = dir_.path() / "state";

  // An install that ran as root: state files owned by root.
  config_ = dir_.write("safegate.toml", config());
  startDaemon();
  ASSERT_NE(dig("casino.test").find("status: NXDOMAIN"), std::string::npos);
  ASSERT_NE(ctl("exceptions add --client 127.0.0.9 --name casino.test --minutes 30").find("rc=0"),
            std::string::npos);
  daemon_.kill(SIGTERM);
  struct stat st {};
  ASSERT_EQ(::stat((state / "incidents.sqlite").c_str(), &st), 0);
  ASSERT_EQ(st.st_uid, 0u);

  std::string text = config();
  text.insert(text.find("[daemon]\n") + 9, "user = \"nobody\"\n");
  config_ = dir_.write("safegate.toml", text);
  startDaemon();
  const pid_t pid = daemon_.pid();
  EXPECT_EQ(procStatus(pid, "Uid"), std::to_string(nobody->pw_uid));
  EXPECT_EQ(procStatus(pid, "Gid"), std::to_string(nobody->pw_gid));
  // DNS on a high port and no inline mode: no capability is kept, none passed on.
  EXPECT_EQ(procStatus(pid, "CapEff"), "0000000000000000");
  EXPECT_EQ(procStatus(pid, "CapPrm"), "0000000000000000");
  EXPECT_EQ(procStatus(pid, "CapAmb"), "0000000000000000");
  EXPECT_EQ(procStatus(pid, "NoNewPrivs"), "1");
  for (const auto& e : std::filesystem::recursive_directory_iterator(state)) {
    ASSERT_EQ(::lstat(e.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, nobody->pw_uid) << e.path();
  }

  // Everything the daemon writes at run time still works: the exception from the root run was
  // kept, incidents are recorded, a reload compiles the changed list, new exceptions are saved.
  EXPECT_NE(ctl("exceptions list").find("127.0.0.9"), std::string::npos);
  EXPECT_NE(dig("casino.test").find("status: NXDOMAIN"), std::string::npos);
  dir_.write("gambling.next", "casino.test\nallowed.test\n");
  std::filesystem::rename(dir_.path() / "gambling.next", dir_.path() / "gambling.txt");
  const std::string reload = ctl("reload");
  ASSERT_NE(reload.find("rc=0"), std::string::npos) << reload << testing::readFile(log());
  EXPECT_NE(dig("allowed.test").find("status: NXDOMAIN"), std::string::npos);
  ASSERT_NE(ctl("exceptions add --client 127.0.0.8 --name allowed.test --minutes 30").find("rc=0"),
            std::string::npos);
  EXPECT_NE(testing::readFile(state / "exceptions.json").find("127.0.0.8"), std::string::npos);
  daemon_.kill(SIGTERM);
  const std::string incidents =
      run("sqlite3 " + (state / "incidents.sqlite").string() +
          " \"select count(*) from incidents where name = 'casino.test'\" 2>&1");
  EXPECT_EQ(incidents, "2\n") << "one incident from each run";
}

TEST_F(SafegatedStateTest, AStateDirectoryThatIsNotSafegatesOwnIsNotGivenAway) {
  ASSERT_EQ(geteuid(), 0u) << "switching users needs root (CI runs as root)";
  ::chmod(dir_.path().c_str(), 0755);
  const std::filesystem::path state = dir_.path() / "state";
  std::filesystem::create_directories(state);
  const auto foreign = dir_.write("state/notes.txt", "not safegate's\n");
  std::string text = config();
  text.insert(text.find("[daemon]\n") + 9, "user = \"nobody\"\n");
  config_ = dir_.write("safegate.toml", text);
  ASSERT_TRUE(daemon_.start({safegated_, "--config", config_.string(), "--listen", "127.0.0.1:0"},
                            log().string()));
  EXPECT_EQ(daemon_.waitWithTimeout(15000), std::optional<int>(1));
  const std::string out = testing::readFile(log());
  EXPECT_NE(out.find("holds \"notes.txt\", which safegate did not write"), std::string::npos)
      << out;
  struct stat st {};
  ASSERT_EQ(::stat(state.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u) << "the directory stays root's";
  ASSERT_EQ(::stat(foreign.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
}

TEST_F(SafegatedStateTest, AnUnknownDaemonUserStopsTheStartWithTheFix) {
  std::string text = config();
  text.insert(text.find("[daemon]\n") + 9, "user = \"sg-no-such-user\"\n");
  config_ = dir_.write("safegate.toml", text);
  ASSERT_TRUE(daemon_.start({safegated_, "--config", config_.string(), "--listen", "127.0.0.1:0"},
                            log().string()));
  EXPECT_EQ(daemon_.waitWithTimeout(15000), std::optional<int>(1));
  const std::string out = testing::readFile(log());
  EXPECT_NE(out.find("daemon.user: no user \"sg-no-such-user\""), std::string::npos) << out;
  EXPECT_NE(out.find("useradd --system"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "state")) << "nothing written before";
}

}  // namespace
}  // namespace safegate

namespace safegate {
namespace {

// `safegatectl replay` runs `safegated --replay` (ui-helper never links the daemon): the real
// pair of binaries, a crafted capture, the output and the exit statuses.
TEST(ReplayCommandTest, SafegatectlReplayRunsTheDaemonsInlinePath) {
  const std::string ctl = env("SAFEGATECTL");
  const std::string daemon = env("SAFEGATED");
  ASSERT_FALSE(ctl.empty() || daemon.empty())
      << "SAFEGATECTL / SAFEGATED not set (run through ctest)";
  testing::TempDir dir;
  dir.write("gambling.txt", "casino.test\n");
  const auto config = dir.write("safegate.toml", R"(
[policy]
default_group = "kids"

[[lists]]
name = "gambling"
category = "gambling"
sources = ["gambling.txt"]

[[groups]]
name = "kids"
profile = "open"
categories = { gambling = "block" }
)");
  testing::PcapWriter w;
  w.add(testing::udpPacket("10.0.0.5", "192.0.2.53", 40000, 53, testing::dnsQuery("casino.test")));
  const auto capture = dir.write("dns.pcap", w.bytes());
  const std::string args = " replay --config " + config.string() + " ";
  const std::string out = run("SAFEGATE_DAEMON=" + daemon + " " + ctl + args + "--json " +
                              capture.string() + " 2>/dev/null; echo rc=$?");
  EXPECT_NE(out.find("\"host\":\"casino.test\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"verdict\":\"block\""), std::string::npos) << out;
  EXPECT_NE(out.find("rc=0"), std::string::npos) << out;
  // A capture that cannot be read, and a daemon that is not there: exit status 1, said why.
  const std::string missing = run("SAFEGATE_DAEMON=" + daemon + " " + ctl + args +
                                  (dir.path() / "absent.pcap").string() + " 2>&1; echo rc=$?");
  EXPECT_NE(missing.find("absent.pcap"), std::string::npos) << missing;
  EXPECT_NE(missing.find("rc=1"), std::string::npos) << missing;
  const std::string no_daemon = run("SAFEGATE_DAEMON=" + (dir.path() / "none").string() + " " +
                                    ctl + args + capture.string() + " 2>&1; echo rc=$?");
  EXPECT_NE(no_daemon.find("set SAFEGATE_DAEMON"), std::string::npos) << no_daemon;
  EXPECT_NE(no_daemon.find("rc=1"), std::string::npos) << no_daemon;
}

}  // namespace
}  // namespace safegate
