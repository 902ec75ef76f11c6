#include "daemon/reports/outbox_service.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace safegate {
namespace {

// A secret in a file: the file must exist, be readable by its owner only (no group or other
// bits — a token that anyone on the box can read is not a secret) and hold one non-empty line.
Result<std::string> readSecretFile(const std::filesystem::path& path, const std::string& key) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Status::invalid(key + ": cannot read \"" + path.string() +
                           "\": " + std::strerror(errno));
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    return Status::invalid(key + ": \"" + path.string() + "\" has mode " + mode +
                           "; a secret must be readable by its owner only (chmod 600)");
  }
  std::ifstream in(path);
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (!in && token.empty()) {
    return Status::invalid(key + ": cannot read \"" + path.string() + "\"");
  }
  if (token.empty()) return Status::invalid(key + ": \"" + path.string() + "\" is empty");
  return token;
}

}  // namespace

Result<std::vector<OutboxDestination>> outboxDestinations(const policy::DaemonSettings& s) {
  std::vector<OutboxDestination> out;
  const policy::HotlineSettings& h = s.hotline;
  if (h.enabled) {
    OutboxDestination d;
    d.name = "hotline";
    d.kind = DestinationKind::kHttps;
    d.url = h.endpoint;
    d.http.ca_file = h.ca_file.string();
    d.http.pin_sha256 = h.pin_sha256;
    if (!h.token_file.empty()) {
      auto token = readSecretFile(h.token_file, "hotline.token_file");
      if (!token) return token.status();
      d.headers.emplace_back("Authorization", "Bearer " + token.value());
    }
    out.push_back(std::move(d));
  }
  for (const policy::AlertSettings& a : s.alerts) {
    OutboxDestination d;
    d.name = a.name;
    const std::string key = "alerts \"" + a.name + "\"";
    switch (a.kind) {
      case policy::AlertKind::kWebhook:
        d.kind = DestinationKind::kHttps;
        d.url = a.url;
        d.http.ca_file = a.ca_file.string();
        if (!a.secret_file.empty()) {
          auto secret = readSecretFile(a.secret_file, key + " secret_file");
          if (!secret) return secret.status();
          d.hmac_secret = secret.value();
        }
        break;
      case policy::AlertKind::kEmail:
        d.kind = DestinationKind::kMail;
        d.mail.url = a.smtp_url;
        d.mail.ca_file = a.ca_file.string();
        d.mail.username = a.username;
        if (!a.password_file.empty()) {
          auto password = readSecretFile(a.password_file, key + " password_file");
          if (!password) return password.status();
          d.mail.password = password.value();
        }
        d.mail_from = a.from;
        d.mail_to = a.to;
        break;
      case policy::AlertKind::kSyslog:
        d.kind = DestinationKind::kSyslog;
        d.syslog.host = a.syslog_host;
        d.syslog.port = a.syslog_port;
        d.syslog.tls = a.syslog_tls;
        d.syslog.ca_file = a.ca_file.string();
        break;
    }
    out.push_back(std::move(d));
  }
  return out;
}

OutboxOptions outboxStoreOptions(const policy::DaemonSettings& s) {
  OutboxOptions o;
  o.max_messages = s.outbox.max_messages;
  o.max_age_ms = s.outbox.max_age_hours * 3600 * 1000;
  o.keep_delivered_ms = s.outbox.keep_delivered_days * 24 * 3600 * 1000;
  return o;
}

std::unique_ptr<AlertRouter> makeAlertRouter(const policy::DaemonSettings& s, const Clock& clock,
                                             const std::string& time_zone) {
  if (s.alerts.empty()) return nullptr;
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "safegate");
  auto tz = policy::TimeZone::load(time_zone);  // validated with the config
  return std::make_unique<AlertRouter>(s.alerts, s.outbox.path.string(), outboxStoreOptions(s),
                                       host, s.hotline.deployment_id, clock,
                                       tz ? tz.value() : policy::TimeZone::utc(), s.database.path);
}

Result<std::unique_ptr<OutboxDelivery>> startOutbox(const policy::DaemonSettings& s,
                                                    const Clock& clock) {
  auto destinations = outboxDestinations(s);
  if (!destinations) return destinations.status();
  if (destinations.value().empty()) return std::unique_ptr<OutboxDelivery>();
  OutboxDeliveryOptions o;
  o.outbox_path = s.outbox.path.string();
  o.store = outboxStoreOptions(s);
  o.deployment_id = s.hotline.deployment_id;
  auto delivery = std::make_unique<OutboxDelivery>(o, std::move(destinations.value()), clock);
  if (Status st = delivery->start(); !st) return st;
  return delivery;
}

}  // namespace safegate
