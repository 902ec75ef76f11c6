// Real servers on 127.0.0.1 (port 0) for the outbound tests, with a throw-away PKI made by
// tests/support/make_test_pki.sh: HttpsTestServer (Python http.server + ssl), SmtpTestServer
// (Debian's aiosmtpd, STARTTLS or SMTPS) and SyslogTestServer (RFC 5425 framing over TCP or
// TLS). Each records what it received as JSON lines the test reads back.
// Test-only, header-only, not thread-safe.
//
//   TestPki pki(dir);                          // CA, server, wrong-host and unrelated-CA certs
//   HttpsTestServer server;
//   ASSERT_TRUE(server.start(pki, "server"));  // or "wrong" (certificate for wrong.invalid)
//   "https://127.0.0.1:" + std::to_string(server.port()) + "/ok"
//   server.requests()                          // every request, as JSON objects
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
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

// A test server script under tests/support that binds 127.0.0.1 port 0, prints "READY <port>"
// and appends what it receives to --log as JSON lines.
class LoopbackServer {
 public:
  bool start(const std::string& script, std::vector<std::string> args, const std::string& log) {
    log_ = log;
    // Debian's python3, where install-deps.sh puts aiosmtpd and jsonschema (not whatever
    // python3 comes first on PATH).
    std::vector<std::string> argv = {
        "/usr/bin/python3", (sourceDir() / "tests/support" / script).string(), "--log", log_};
    argv.insert(argv.end(), args.begin(), args.end());
    if (!process_.start(argv)) return false;
    auto line = process_.waitForLine("READY ", 20000);
    if (!line) return false;
    port_ = std::stoi(line->substr(6));
    return true;
  }
  int port() const { return port_; }
  // Everything received so far, one JSON object per record.
  std::vector<nlohmann::json> records() const {
    std::vector<nlohmann::json> out;
    std::ifstream in(log_);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) out.push_back(nlohmann::json::parse(line, nullptr, false));
    }
    return out;
  }
  void stop() { process_.kill(SIGTERM); }

 protected:
  static std::string freshLog(const TestPki& pki, const std::string& stem) {
    return pki.path(stem + "-" + std::to_string(++instances_) + ".jsonl");
  }

 private:
  ChildProcess process_;
  std::string log_;
  int port_ = 0;
  static inline int instances_ = 0;
};

// tests/support/https_test_server.py: HTTPS (or plain HTTP) with the PKI's `cert` leaf
// ("server", or "wrong" for a certificate naming another host).
class HttpsTestServer : public LoopbackServer {
 public:
  // `files_dir`: served under /files, /gzip, /gzip-truncated and /redirect (list downloads).
  bool start(const TestPki& pki, const std::string& cert, bool plain = false,
             const std::string& files_dir = {}) {
    std::vector<std::string> args = {"--cert", pki.path(cert + ".pem"), "--key",
                                     pki.path(cert + ".key")};
    if (plain) args.push_back("--plain");
    if (!files_dir.empty()) {
      args.push_back("--files");
      args.push_back(files_dir);
    }
    return LoopbackServer::start("https_test_server.py", args, freshLog(pki, "https-" + cert));
  }
  std::string url(const std::string& path, bool plain = false) const {
    return std::string(plain ? "http" : "https") + "://127.0.0.1:" + std::to_string(port()) + path;
  }
  std::vector<nlohmann::json> requests() const { return records(); }
};

// tests/support/smtp_test_server.py (aiosmtpd): STARTTLS required, or SMTPS; with
// `auth` ("user:password") AUTH is required too.
class SmtpTestServer : public LoopbackServer {
 public:
  bool start(const TestPki& pki, bool smtps, const std::string& auth = {}) {
    std::vector<std::string> args = {"--cert", pki.path("server.pem"), "--key",
                                     pki.path("server.key"), smtps ? "--smtps" : "--starttls"};
    if (!auth.empty()) {
      args.push_back("--auth");
      args.push_back(auth);
    }
    return LoopbackServer::start("smtp_test_server.py", args, freshLog(pki, "smtp"));
  }
};

// tests/support/syslog_test_server.py: RFC 5425/6587 octet-counted frames over TCP or TLS.
class SyslogTestServer : public LoopbackServer {
 public:
  bool start(const TestPki& pki, bool tls, const std::string& cert = "server") {
    std::vector<std::string> args = {"--cert", pki.path(cert + ".pem"), "--key",
                                     pki.path(cert + ".key")};
    if (tls) args.push_back("--tls");
    return LoopbackServer::start("syslog_test_server.py", args, freshLog(pki, "syslog"));
  }
};

// tests/support/dot_test_server.py: DNS over TLS with the PKI's `cert` leaf; `extra` are its
// behaviour flags (--batch N, --close-after N, --stray).
class DotTestServer : public LoopbackServer {
 public:
  bool start(const TestPki& pki, const std::string& cert, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--cert", pki.path(cert + ".pem"), "--key",
                                     pki.path(cert + ".key")};
    args.insert(args.end(), extra.begin(), extra.end());
    return LoopbackServer::start("dot_test_server.py", args, freshLog(pki, "dot"));
  }
  // Connections accepted so far (from the log).
  int connections() const {
    int n = 0;
    for (const auto& r : records()) n += r.contains("connection") && !r.contains("query");
    return n;
  }
};

}  // namespace safegate::testing
