// The validated config model and its loader: TOML files (with includes) -> Config.
//
// loadConfig() reads the file and every file it includes, checks the merged tree against the
// schema (policy/config_schema.h), resolves names (groups, schedules, categories, lists) with
// "did you mean" suggestions, and reports EVERY problem into the DiagnosticSink as
// "path:line:col: error: key.path: message". It returns a Config only when there is no error.
// The daemon reads its own settings from Config::daemon (DaemonSettings); the policy part is
// compiled by policy/policy_engine.h.
//
// Control plane: allocates, reads files. Config is a plain value (copyable); safe to share
// read-only between threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"
#include "filters/list_reader.h"
#include "policy/categories.h"
#include "policy/decision.h"

namespace safegate::policy {

// ---- daemon settings (the DNS proxy and inline mode read these) ----

enum class QuicMode : uint8_t { kInspect, kDrop };
enum class EncryptedDnsMode : uint8_t { kBlock, kMonitor, kAllow };
enum class UnresolvedMode : uint8_t { kAllow, kMonitor, kBlock };
enum class EchMode : uint8_t { kOuterSni, kBlock };

struct DnsSettings {
  std::vector<std::string> listen;     // "addr:port" / "[v6]:port", validated
  std::vector<std::string> upstreams;  // policy/upstream_spec.h: plain, tls:// or https://
  std::string upstream_ca_file;        // for tls:// and https:// upstreams; "" = system store
  int upstream_timeout_ms = 2000;
  int cache_entries = 10000;  // 0 = off
  int workers = 0;            // 0 = one per core
  int block_ttl_seconds = 60;
  bool tcp = true;
  int tcp_max_connections = 256;
  int tcp_max_connections_per_client = 16;
  int tcp_idle_timeout_ms = 10000;
  int tcp_message_timeout_ms = 3000;
  int tcp_query_threads = 4;
  std::vector<Cidr> allow_from;  // validated; never empty
  int rate_limit_qps = 200;      // 0 = off
  int rate_limit_burst = 400;
  int upstream_port_rotation_seconds = 60;  // 0 = off
  bool randomize_case = false;              // 0x20
};

struct DatabaseSettings {
  std::filesystem::path path;  // absolute (resolved against state_dir)
  int retention_days = 30;
  bool full_query_log = false;
  int queue_capacity = 8192;
  int batch_ms = 100;
};

struct PrivacySettings {
  bool pseudonymize_clients = true;
  std::filesystem::path secret_file;  // absolute
};

struct ControlSettings {
  std::filesystem::path socket;  // absolute
  uint32_t mode = 0660;
  std::string group;        // empty = daemon's group
  std::string admin_group;  // empty = only root and the daemon's user may change state
  int64_t max_exception_minutes = 10080;
};

struct DeviceSettings {
  std::vector<std::filesystem::path> lease_files;  // absolute
  int64_t refresh_seconds = 10;
  std::string reverse_lookup_server;  // "addr[:port]" asked PTR for LAN clients; "" = off
};

struct BlockPageSettings {
  std::optional<IpAddress> ipv4;
  std::optional<IpAddress> ipv6;
  std::string url;
};

// [ui]: read by safegate-ui only (docs/block-page.md).
struct UiSettings {
  std::string listen;                      // "addr:port"; "" = see schema
  std::string metrics_listen;              // "addr:port" of /metrics; "" = not served
  std::filesystem::path translations_dir;  // absolute; "" = installed
  std::filesystem::path state_dir;  // absolute: the UI's own files (daemon.state_dir by default)
  std::vector<std::pair<std::string, std::string>> help_links;  // label, URL
  // The dashboard (docs/dashboard.md).
  std::string dashboard_listen;          // "addr:port"; "" = no dashboard
  bool dashboard_tls = true;             // HTTPS (a self-signed certificate when none given)
  std::filesystem::path dashboard_cert;  // absolute
  std::filesystem::path dashboard_key;   // absolute
  std::filesystem::path users_file;      // absolute
  std::filesystem::path audit_log;       // absolute
  int64_t session_idle_minutes = 30;
};

// [requests]: access requests and wrong-block reports from the block page
// (docs/access-requests.md).
struct RequestSettings {
  int64_t per_client_per_hour = 5;
  int64_t max_pending = 200;
  int64_t pending_hours = 72;
  int64_t keep_days = 7;
};

struct InlineSettings {
  bool enabled = false;
  std::vector<uint16_t> queues = {0};
  bool fail_open = true;  // default for groups
  // Queues bound without NFQA_CFG_F_FAIL_OPEN for fail-closed groups; when not empty,
  // `queues` are bound with it (a full queue is then fail-open/closed per group).
  std::vector<uint16_t> fail_closed_queues;
  int max_packets_per_flow = 8;  // no longer used; accepted for old configs
  int max_client_hello_bytes = 16384;
  int undecided_timeout_ms = 10000;
  int reassembly_buffers = 1024;
  int reassembly_buffers_per_client = 32;
  int receive_buffer_bytes = 8 << 20;
  uint32_t offload_mark = 1;
  QuicMode quic = QuicMode::kInspect;
  EncryptedDnsMode encrypted_dns = EncryptedDnsMode::kBlock;
  UnresolvedMode unresolved_destination = UnresolvedMode::kAllow;
  EchMode ech = EchMode::kOuterSni;
};

struct OutboxSettings {
  std::filesystem::path path;  // absolute
  int64_t max_messages = 10000;
  int64_t max_age_hours = 168;
  int64_t keep_delivered_days = 7;
};

struct HotlineSettings {
  bool enabled = false;
  std::string endpoint;              // https:// only (validated)
  std::filesystem::path ca_file;     // absolute, empty = system store
  std::string pin_sha256;            // "sha256//BASE64" or empty
  std::filesystem::path token_file;  // absolute, empty = none
  std::string deployment_id;
  std::string operator_contact;
};

enum class AlertKind : uint8_t { kWebhook, kEmail, kSyslog };

struct AlertSettings {
  std::string name;
  AlertKind kind = AlertKind::kWebhook;
  std::string url;                    // webhook
  std::filesystem::path secret_file;  // webhook HMAC key, absolute or empty
  std::filesystem::path ca_file;      // absolute or empty
  std::string smtp_url;               // email
  std::string from;
  std::vector<std::string> to;
  std::string username;
  std::filesystem::path password_file;  // absolute or empty
  std::string syslog_host;              // syslog
  uint16_t syslog_port = 6514;
  bool syslog_tls = true;
  bool on_block = true;                 // actions contains alert-block
  bool on_allow = true;                 // actions contains alert-allow
  bool on_every_block = false;          // actions contains block: every blocked incident
  bool on_every_monitor = false;        // actions contains monitor: every monitored incident
  std::vector<std::string> categories;  // empty = all
  std::vector<std::string> groups;      // empty = all
  bool list_notices = true;             // subscribed lists failing / recovering (docs/alerts.md)
  bool request_notices = true;          // a child's access request or report arrived
  int batch_seconds = 60;
  int rate_limit_minutes = 60;
  int digest_minute_of_day = -1;  // -1 = no digest
  int64_t digest_amber_alerts = 1;
  int64_t digest_red_alerts = 5;
  SourceLocation where;
};

// Everything safegated needs besides the policy. Paths are absolute.
struct DaemonSettings {
  std::filesystem::path config_file;
  std::filesystem::path state_dir;
  std::string user;  // run as this user after start-up (daemon/privileges.h); "" = stay
  DnsSettings dns;
  DatabaseSettings database;
  PrivacySettings privacy;
  ControlSettings control;
  DeviceSettings devices;
  BlockPageSettings block_page;
  UiSettings ui;
  RequestSettings requests;
  InlineSettings inline_mode;
  OutboxSettings outbox;
  HotlineSettings hotline;
  std::vector<AlertSettings> alerts;
};

// ---- policy model ----

// An https:// source of a list: downloaded in the background (daemon/lists/list_subscriber.h) and
// compiled from its kept copy.
struct ListSubscriptionSpec {
  std::string url;
  std::filesystem::path copy;  // state_dir/lists/NAME.list
  int64_t update_interval_hours = 24;
  int64_t max_bytes = 256 << 20;
  int64_t timeout_seconds = 120;
  std::string sha256;
  std::string public_key;  // minisign "RW..." or ""
  std::string ca_file;
  int64_t min_entries = 1;
  int64_t max_shrink_percent = 50;
  int64_t max_skipped_percent = 10;
};

struct ListSpec {
  std::string name;
  std::string category;
  ListFormat format = ListFormat::kAuto;
  std::vector<std::filesystem::path> sources;  // absolute (file:// URLs resolved)
  std::optional<ListSubscriptionSpec> subscription;
  bool enabled = true;
  SourceLocation where;
};

struct RuleSetSpec {
  std::string name;
  std::string category;
  std::vector<std::pair<std::string, SourceLocation>> patterns;  // inline patterns
  std::vector<std::filesystem::path> sources;
  SourceLocation where;
};

struct ScheduleSpec {
  std::string name;
  std::string time_zone;  // resolved: schedule's or policy.time_zone
  std::vector<std::string> windows;
  std::vector<std::string> active_dates;
  std::vector<std::string> inactive_dates;
  SourceLocation where;
};

struct GroupScheduleSpec {
  std::string schedule;
  std::vector<std::pair<std::string, Action>> categories;
  bool allow_only = false;
  std::vector<std::string> allow;
  SourceLocation where;
};

struct GroupSpec {
  std::string name;
  std::string description;
  std::string profile = "strict";
  std::vector<std::pair<std::string, Action>> categories;  // overrides of the profile
  std::optional<Action> default_action;                    // else the profile's
  BlockAnswer block_answer = BlockAnswer::kNxdomain;       // resolved
  std::vector<std::string> allow;
  std::vector<std::string> block;
  std::vector<std::string> allow_lists;
  bool safe_search_google = true;  // resolved from the profile and overrides
  bool safe_search_bing = true;
  bool safe_search_duckduckgo = true;
  YoutubeMode youtube = YoutubeMode::kStrict;
  bool strip_ech = true;
  bool fail_open = true;  // resolved from inline.fail_open
  QuicMode quic = QuicMode::kInspect;
  EncryptedDnsMode encrypted_dns = EncryptedDnsMode::kBlock;
  UnresolvedMode unresolved_destination = UnresolvedMode::kAllow;
  EchMode ech = EchMode::kOuterSni;
  std::vector<GroupScheduleSpec> schedules;
  SourceLocation where;
  bool implicit = false;  // the built-in "unknown" group
};

struct ClientSpec {
  std::string name;
  std::string group;
  std::vector<Cidr> addresses;
  std::vector<MacAddress> macs;
  SourceLocation where;
};

struct PolicySettings {
  std::string time_zone = "UTC";
  std::string default_group = "unknown";
  BlockAnswer block_answer = BlockAnswer::kNxdomain;
  bool bypass_defaults = true;
};

struct Config {
  std::filesystem::path file;                // the main file, absolute
  std::vector<std::filesystem::path> files;  // main file and every include (for reload)
  DaemonSettings daemon;
  PolicySettings policy;
  std::vector<ListSpec> lists;
  std::vector<RuleSetSpec> rules;
  std::vector<ScheduleSpec> schedules;
  std::vector<GroupSpec> groups;  // the default group is always present
  std::vector<ClientSpec> clients;
  // Every key the schema marks restart-only, by concrete path ("dns.listen",
  // "alerts[0].url"), to its value as TOML text (the schema default when absent): a reload
  // compares these to name each one that changed and will wait for a restart.
  std::map<std::string, std::string> restart_only_values;
};

// Reads and validates `file` (and its includes). Every diagnostic goes to `sink`; the result
// is an error when sink has errors. A non-empty `state_dir_override` (safegated --state-dir)
// replaces [daemon] state_dir before anything is resolved against it, so the database, the
// secret, the socket, the outbox and the subscription copies all move with it.
Result<Config> loadConfig(const std::filesystem::path& file, DiagnosticSink& sink,
                          const std::filesystem::path& state_dir_override = {});

// A policy with the given lists only, for `safegatectl explain --list`: every list's entries
// are blocked (category "list", or the category its name implies) and its @@ exceptions
// honoured; one group "default" that allows everything else.
Config configForLists(const std::vector<std::filesystem::path>& lists);

}  // namespace safegate::policy
