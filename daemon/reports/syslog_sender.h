// SyslogSender: RFC 5424 messages to a collector over TCP (RFC 6587 octet counting) or TLS
// (RFC 5425) — how a school sends alerts, and a district its incidents, to the collector it
// already runs (rsyslog, syslog-ng, a SIEM).
//
// Each message is framed as "MSG-LEN SP SYSLOG-MSG" (RFC 5425 §4.3 / RFC 6587 §3.4.1, the
// framing both transports share; newline framing would break on a message with a newline).
// TLS: OpenSSL, TLS 1.2 or newer, the collector's certificate verified against `ca_file` (or
// the system store) and its host name or IP address checked (RFC 5425 §5.2 allows fingerprint
// authentication too; name checking is what rsyslog's "x509/name" mode does), SNI sent for
// names. The connection is kept open between messages and opened again after an error.
//
// Thread-safety: one SyslogSender per thread. Control plane only (blocking, with timeouts).
// The process must ignore SIGPIPE (safegated does): a TLS write to a collector that went away
// would otherwise raise it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace safegate {

struct SyslogSenderOptions {
  std::string host;  // IP address or name of the collector
  uint16_t port = 6514;
  bool tls = true;
  std::string ca_file;    // "" = the system store
  int timeout_ms = 5000;  // connect, handshake and each write
};

class SyslogSender {
 public:
  explicit SyslogSender(SyslogSenderOptions options);
  ~SyslogSender();
  SyslogSender(const SyslogSender&) = delete;
  SyslogSender& operator=(const SyslogSender&) = delete;

  // Sends one framed message; kUnavailable (retry later) when the collector cannot be reached or
  // its certificate does not verify — then nothing was sent.
  Status send(std::string_view message);

 private:
  Status connect();
  void close();

  SyslogSenderOptions options_;
  int fd_ = -1;
  void* ctx_ = nullptr;  // SSL_CTX*
  void* ssl_ = nullptr;  // SSL*
};

// An RFC 5424 message: "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG".
// `severity` 0-7 (RFC 5424 §6.2.1), facility 13 ("log audit") so collectors can route safegate's
// alerts apart from system logs. Fields are sanitised to printable US-ASCII as the RFC requires
// (NILVALUE "-" when empty); SD-PARAM values escape '"', '\' and ']'.
struct SyslogField {
  std::string name;
  std::string value;
};
std::string formatRfc5424(int severity, int64_t unix_ms, std::string_view hostname,
                          std::string_view msgid, std::string_view sd_id,
                          const std::vector<SyslogField>& params, std::string_view text);

}  // namespace safegate
