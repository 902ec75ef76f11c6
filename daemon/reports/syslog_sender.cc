#include "daemon/reports/syslog_sender.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "common/ip_address.h"

namespace safegate {
namespace {

std::string openSslError() {
  const unsigned long e = ERR_get_error();
  if (e == 0) return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

// RFC 5424 §6: header fields are PRINTUSASCII (33..126) without spaces.
std::string headerField(std::string_view v, size_t max) {
  std::string out;
  for (char c : v.substr(0, max)) {
    if (c >= 33 && c <= 126) out += c;
  }
  return out.empty() ? "-" : out;
}

// RFC 5424 §6.3.3: '"', '\' and ']' are escaped inside PARAM-VALUE.
std::string paramValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '"' || c == '\\' || c == ']') out += '\\';
    out += (static_cast<unsigned char>(c) < 32) ? ' ' : c;
  }
  return out;
}

}  // namespace

std::string formatRfc5424(int severity, int64_t unix_ms, std::string_view hostname,
                          std::string_view msgid, std::string_view sd_id,
                          const std::vector<SyslogField>& params, std::string_view text) {
  constexpr int kFacilityLogAudit = 13;
  const int pri = kFacilityLogAudit * 8 + (severity < 0 ? 0 : severity > 7 ? 7 : severity);
  const time_t t = static_cast<time_t>(unix_ms / 1000);
  tm parts{};
  gmtime_r(&t, &parts);
  char ts[64];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900,
                parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                static_cast<int>(unix_ms % 1000));
  std::string out = "<" + std::to_string(pri) + ">1 " + ts + " " + headerField(hostname, 255) +
                    " safegate " + std::to_string(getpid()) + " " + headerField(msgid, 32) + " ";
  if (sd_id.empty()) {
    out += "-";
  } else {
    out += "[" + headerField(sd_id, 32);
    for (const auto& p : params) {
      std::string name;
      for (char c : p.name.substr(0, 32)) {
        if (c >= 33 && c <= 126 && c != '=' && c != ']' && c != '"' && c != ' ') name += c;
      }
      if (!name.empty()) out += " " + name + "=\"" + paramValue(p.value) + "\"";
    }
    out += "]";
  }
  if (!text.empty()) {
    out += ' ';
    for (char c : text) out += (c == '\n' || c == '\r') ? ' ' : c;
  }
  return out;
}

SyslogSender::SyslogSender(SyslogSenderOptions options) : options_(std::move(options)) {}

SyslogSender::~SyslogSender() {
  close();
  if (ctx_) SSL_CTX_free(static_cast<SSL_CTX*>(ctx_));
}

void SyslogSender::close() {
  if (ssl_) {
    SSL_shutdown(static_cast<SSL*>(ssl_));
    SSL_free(static_cast<SSL*>(ssl_));
    ssl_ = nullptr;
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status SyslogSender::connect() {
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(options_.port);
  if (int rc = getaddrinfo(options_.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return Status::unavailable("syslog " + where + ": " + gai_strerror(rc));
  }
  std::string last = "no address";
  for (addrinfo* a = res; a && fd_ < 0; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    // SO_SNDTIMEO bounds connect() on Linux as well as every write; SO_RCVTIMEO the handshake.
    timeval tv{options_.timeout_ms / 1000, (options_.timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      fd_ = fd;
    } else {
      last = std::strerror(errno);
      ::close(fd);
    }
  }
  freeaddrinfo(res);
  if (fd_ < 0) return Status::unavailable("syslog " + where + ": " + last);
  if (!options_.tls) return Status::ok();

  if (!ctx_) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) return Status::internal("syslog: SSL_CTX_new: " + openSslError());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    const int loaded = options_.ca_file.empty()
                           ? SSL_CTX_set_default_verify_paths(ctx)
                           : SSL_CTX_load_verify_locations(ctx, options_.ca_file.c_str(), nullptr);
    if (loaded != 1) {
      SSL_CTX_free(ctx);
      close();
      return Status::invalid("syslog: cannot load CA file \"" + options_.ca_file +
                             "\": " + openSslError());
    }
    ctx_ = ctx;
  }
  SSL* ssl = SSL_new(static_cast<SSL_CTX*>(ctx_));
  ssl_ = ssl;
  SSL_set_fd(ssl, fd_);
  // Host name (or IP address) verification, and SNI for names (RFC 6066 §3: not for literals).
  if (IpAddress::parse(options_.host)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), options_.host.c_str());
  } else {
    SSL_set1_host(ssl, options_.host.c_str());
    SSL_set_tlsext_host_name(ssl, options_.host.c_str());
  }
  if (SSL_connect(ssl) != 1) {
    const long verify = SSL_get_verify_result(ssl);
    std::string why = verify != X509_V_OK ? X509_verify_cert_error_string(verify) : openSslError();
    close();
    return Status::unavailable("syslog " + where +
                               ": TLS verification failed, nothing was sent: " + why);
  }
  return Status::ok();
}

Status SyslogSender::send(std::string_view message) {
  const std::string frame = std::to_string(message.size()) + " " + std::string(message);
  // One reconnect: a collector that restarted closes our idle connection, which we only learn
  // on the next write.
  for (int round = 0; round < 2; ++round) {
    if (fd_ < 0) {
      if (Status s = connect(); !s) return s;
    }
    size_t sent = 0;
    bool failed = false;
    while (sent < frame.size()) {
      ssize_t n;
      if (ssl_) {
        n = SSL_write(static_cast<SSL*>(ssl_), frame.data() + sent,
                      static_cast<int>(frame.size() - sent));
      } else {
        n = ::send(fd_, frame.data() + sent, frame.size() - sent, MSG_NOSIGNAL);
      }
      if (n <= 0) {
        failed = true;
        break;
      }
      sent += static_cast<size_t>(n);
    }
    if (!failed) return Status::ok();
    close();
    if (sent > 0) break;  // a partial frame: the collector drops it; retry later as a whole
  }
  return Status::unavailable("syslog " + options_.host + ":" + std::to_string(options_.port) +
                             ": the connection failed while sending");
}

}  // namespace safegate
