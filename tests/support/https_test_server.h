// HttpsTestServer: runs tests/support/https_test_server.py (a real HTTPS server on 127.0.0.1,
// port 0) with a throw-away PKI made by tests/support/make_test_pki.sh, and reads back the
// requests it received. Test-only, header-only, not thread-safe.
//
//   TestPki pki(dir);                          // CA, server, wrong-host and unrelated-CA certs
//   HttpsTestServer server;
//   ASSERT_TRUE(server.start(pki, "server"));  // or "wrong" (certificate for wrong.invalid)
//   "https://127.0.0.1:" + std::to_string(server.port()) + "/ok"
//   server.requests()                          // every request, as JSON objects
#pragma once

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/integration/child_process.h"
#include "tests/support/shared_data.h"

namespace safegate::testing {

struct TestPki {
  explicit TestPki(const std::filesystem::path& dir) : dir_(dir) {
    const std::string cmd = "bash '" + (sourceDir() / "tests/support/make_test_pki.sh").string() +
                            "' '" + dir.string() + "'";
    ok_ = std::system(cmd.c_str()) == 0;
  }
  bool ok() const { return ok_; }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string caFile() const { return path("ca.pem"); }
  std::string otherCaFile() const { return path("other-ca.pem"); }
  // The server key's pin, "sha256//BASE64".
  std::string serverPin() const {
    std::ifstream in(dir_ / "server.pin");
    std::string pin;
    std::getline(in, pin);
    return pin;
  }

 private:
  std::filesystem::path dir_;
  bool ok_ = false;
};

class HttpsTestServer {
 public:
  // `cert` names a leaf of the PKI ("server" or "wrong"); plain = HTTP without TLS.
  bool start(const TestPki& pki, const std::string& cert, bool plain = false) {
    log_ = pki.path(cert + (plain ? "-plain" : "") + "-" + std::to_string(++instances_) +
                    ".requests.jsonl");
    std::vector<std::string> argv = {
        "/usr/bin/env", "python3", (sourceDir() / "tests/support/https_test_server.py").string(),
        "--cert",       pki.path(cert + ".pem"), "--key", pki.path(cert + ".key"), "--log", log_};
    if (plain) argv.push_back("--plain");
    if (!process_.start(argv)) return false;
    auto line = process_.waitForLine("READY ", 20000);
    if (!line) return false;
    port_ = std::stoi(line->substr(6));
    return true;
  }
  int port() const { return port_; }
  std::string url(const std::string& path, bool plain = false) const {
    return std::string(plain ? "http" : "https") + "://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<nlohmann::json> requests() const {
    std::vector<nlohmann::json> out;
    std::ifstream in(log_);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) out.push_back(nlohmann::json::parse(line, nullptr, false));
    }
    return out;
  }
  void stop() { process_.kill(SIGTERM); }

 private:
  ChildProcess process_;
  std::string log_;
  int port_ = 0;
  static inline int instances_ = 0;
};

}  // namespace safegate::testing
