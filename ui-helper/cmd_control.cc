// safegatectl commands that talk to a running safegated over its control socket
// (docs/control-protocol.md): status, stats, reload, live-explain, incidents, exceptions
// (list/add/remove), pause and requests (list/approve/deny, docs/access-requests.md).
//
// Output: aligned tables for people by default; --json prints the daemon's JSON result (one
// object, or one object per line for lists), --csv prints lists as CSV with a header row.
// Exit codes: 0 ok; 1 the daemon refused or reported an error (every diagnostic is printed to
// standard error, e.g. a reload with a bad config); 2 the socket could not be reached.
// The socket is --socket PATH, else the control.socket of --config FILE, else
// $SAFEGATE_CONTROL_SOCKET, else /run/safegate/control.sock when it exists (the package's),
// else /var/lib/safegate/control.sock.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "policy/config.h"
#include "ui-helper/commands.h"
#include "ui-helper/control_client.h"

namespace safegate::ui {

namespace {

using nlohmann::json;

struct ControlOptions {
  std::string socket;
  std::string config;
  bool json = false;
  bool csv = false;
};

std::string socketPath(const ControlOptions& o) {
  if (!o.socket.empty()) return o.socket;
  if (!o.config.empty()) {
    DiagnosticSink sink;
    auto cfg = policy::loadConfig(o.config, sink);
    if (cfg) return cfg->daemon.control.socket.string();
    for (const auto& d : sink.all()) std::cerr << d.toString() << "\n";
  }
  if (const char* env = getenv("SAFEGATE_CONTROL_SOCKET"); env && *env) return env;
  // The package's place (/run/safegate, reachable without the state directory), else the
  // built-in default beside the state.
  std::error_code ec;
  if (std::filesystem::exists("/run/safegate/control.sock", ec))
    return "/run/safegate/control.sock";
  return "/var/lib/safegate/control.sock";
}

// Sends one request; returns the result, or sets the exit code (2 unreachable, 1 refused) and
// returns null after printing why.
json call(const ControlOptions& o, json request) {
  const std::string path = socketPath(o);
  auto reply = controlCall(path, std::move(request));
  if (!reply) {
    std::cerr << "safegatectl: " << reply.status().message()
              << " (is safegated running? use --socket or --config)\n";
    exitCode() = 2;
    return nullptr;
  }
  if (!reply->ok) {
    for (const auto& d : reply->diagnostics) std::cerr << d << "\n";
    std::cerr << "safegatectl: " << reply->error << "\n";
    exitCode() = 1;
    return nullptr;
  }
  exitCode() = 0;
  return reply->result;
}

std::string cell(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

std::string csvCell(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string isoTime(int64_t unix_ms) {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Prints rows (objects) with the given columns as a table, CSV or JSON lines.
void printRows(const ControlOptions& o, const json& rows, const std::vector<std::string>& cols) {
  if (o.json) {
    for (const auto& r : rows) std::cout << r.dump() << "\n";
    return;
  }
  if (o.csv) {
    for (size_t i = 0; i < cols.size(); ++i) std::cout << (i ? "," : "") << cols[i];
    std::cout << "\n";
    for (const auto& r : rows) {
      for (size_t i = 0; i < cols.size(); ++i) {
        std::cout << (i ? "," : "") << csvCell(r.contains(cols[i]) ? cell(r[cols[i]]) : "");
      }
      std::cout << "\n";
    }
    return;
  }
  std::vector<size_t> width(cols.size());
  for (size_t i = 0; i < cols.size(); ++i) width[i] = cols[i].size();
  std::vector<std::vector<std::string>> cells;
  for (const auto& r : rows) {
    std::vector<std::string> line;
    for (size_t i = 0; i < cols.size(); ++i) {
      line.push_back(r.contains(cols[i]) ? cell(r[cols[i]]) : "");
      width[i] = std::max(width[i], line.back().size());
    }
    cells.push_back(std::move(line));
  }
  auto print = [&](const std::vector<std::string>& line) {
    for (size_t i = 0; i < cols.size(); ++i) {
      std::cout << std::left << std::setw(static_cast<int>(width[i]) + 2) << line[i];
    }
    std::cout << "\n";
  };
  std::vector<std::string> header;
  for (const auto& c : cols) {
    std::string h = c;
    std::transform(h.begin(), h.end(), h.begin(), ::toupper);
    header.push_back(h);
  }
  print(header);
  for (const auto& line : cells) print(line);
  if (rows.empty()) std::cout << "(none)\n";
}

// key/value objects (status, stats) as "key  value" lines, nested objects flattened.
void printObject(const ControlOptions& o, const json& obj) {
  if (o.json) {
    std::cout << obj.dump() << "\n";
    return;
  }
  std::vector<std::pair<std::string, std::string>> kv;
  std::function<void(const std::string&, const json&)> walk = [&](const std::string& prefix,
                                                                  const json& v) {
    if (v.is_object()) {
      for (auto it = v.begin(); it != v.end(); ++it) {
        walk(prefix.empty() ? it.key() : prefix + "." + it.key(), it.value());
      }
    } else if (v.is_array()) {
      std::string s;
      for (const auto& e : v) s += (s.empty() ? "" : ", ") + cell(e);
      kv.emplace_back(prefix, s);
    } else {
      kv.emplace_back(prefix, cell(v));
    }
  };
  walk("", obj);
  if (o.csv) {
    std::cout << "key,value\n";
    for (const auto& [k, v] : kv) std::cout << csvCell(k) << "," << csvCell(v) << "\n";
    return;
  }
  size_t w = 0;
  for (const auto& [k, v] : kv) w = std::max(w, k.size());
  for (const auto& [k, v] : kv) {
    std::cout << std::left << std::setw(static_cast<int>(w) + 2) << k << v << "\n";
  }
}

// "2026-11-23T15:00:00Z", "2026-11-23" (00:00 UTC), "15:00" (today, UTC) or unix seconds ->
// unix seconds.
std::optional<int64_t> parseUntil(const std::string& text) {
  if (!text.empty() && std::all_of(text.begin(), text.end(), ::isdigit)) return std::stoll(text);
  std::tm tm{};
  std::istringstream in(text);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  if (!in.fail()) return static_cast<int64_t>(timegm(&tm));
  if (text.size() == 10 && text[4] == '-' && text[7] == '-') {
    std::tm day{};
    std::istringstream in_day(text);
    in_day >> std::get_time(&day, "%Y-%m-%d");
    if (in_day.fail()) return std::nullopt;
    return static_cast<int64_t>(timegm(&day));
  }
  std::tm hm{};
  std::istringstream in2(text);
  in2 >> std::get_time(&hm, "%H:%M");
  if (in2.fail()) return std::nullopt;
  std::time_t now = std::time(nullptr);
  std::tm today{};
  gmtime_r(&now, &today);
  today.tm_hour = hm.tm_hour;
  today.tm_min = hm.tm_min;
  today.tm_sec = 0;
  return static_cast<int64_t>(timegm(&today));
}

void addCommon(CLI::App* cmd, ControlOptions& o, bool tables) {
  cmd->add_option("--socket", o.socket, "Control socket of the running safegated");
  cmd->add_option("--config", o.config, "Read the control socket path from this config file");
  cmd->add_flag("--json", o.json, "Print JSON (one object per line for lists)");
  if (tables) cmd->add_flag("--csv", o.csv, "Print CSV with a header row");
}

const std::vector<std::string> kExceptionColumns = {
    "id", "kind", "client", "group", "name", "category", "until", "granted_by", "note"};

json withReadableUntil(json rows) {
  for (auto& r : rows) {
    if (r.contains("until") && r["until"].is_number_integer()) {
      r["until"] = isoTime(r["until"].get<int64_t>() * 1000);
    }
  }
  return rows;
}

void registerRequestCommands(CLI::App& app, std::shared_ptr<ControlOptions> o);

}  // namespace

void registerControlCommands(CLI::App& app) {
  auto o = std::make_shared<ControlOptions>();

  CLI::App* status = app.add_subcommand("status", "Show the running daemon's status");
  addCommon(status, *o, true);
  status->callback([o] {
    json r = call(*o, {{"cmd", "status"}});
    if (!r.is_null()) printObject(*o, r);
  });

  CLI::App* lists = app.add_subcommand(
      "lists",
      "Show each subscribed list: source, version, entries, last success and error, "
      "next refresh, quarantined entries");
  addCommon(lists, *o, true);
  lists->callback([o] {
    json r = call(*o, {{"cmd", "lists"}});
    if (r.is_null()) return;
    json rows = json::array();
    for (const auto& l : r.value("lists", json::array())) {
      json row = l;
      for (const char* k : {"last_success_unix_ms", "next_refresh_unix_ms"}) {
        const int64_t ms = l.value(k, int64_t{0});
        row[std::string(k).substr(0, std::string(k).size() - 11)] = ms ? isoTime(ms) : "";
      }
      if (!o->json) row["quarantined"] = l.value("quarantined", json::array()).size();
      rows.push_back(std::move(row));
    }
    printRows(*o, rows,
              {"name", "url", "version", "signed_by", "entries", "last_success", "last_error",
               "next_refresh", "quarantined"});
  });

  CLI::App* stats = app.add_subcommand("stats", "Show counters (queries, blocks, drops, DB)");
  addCommon(stats, *o, true);
  stats->callback([o] {
    json r = call(*o, {{"cmd", "stats"}});
    if (!r.is_null()) printObject(*o, r);
  });

  CLI::App* reload = app.add_subcommand(
      "reload", "Reload the config; on error nothing changes and every diagnostic is printed");
  addCommon(reload, *o, false);
  auto allow_empty = std::make_shared<bool>(false);
  reload->add_flag("--allow-empty-policy", *allow_empty,
                   "Apply a config that leaves a group which had lists with none (refused "
                   "otherwise: the mark of a truncated file)");
  reload->callback([o, allow_empty] {
    json request = {{"cmd", "reload"}};
    if (*allow_empty) request["allow_empty_policy"] = true;
    json r = call(*o, request);
    if (r.is_null()) return;
    for (const auto& w : r["warnings"]) std::cerr << w.get<std::string>() << "\n";
    if (o->json) {
      std::cout << r.dump() << "\n";
    } else {
      std::cout << "reloaded (policy generation " << r["policy_generation"] << ")\n";
    }
  });

  auto names = std::make_shared<std::vector<std::string>>();
  auto client = std::make_shared<std::string>("127.0.0.1");
  auto mac = std::make_shared<std::string>();
  CLI::App* explain = app.add_subcommand(
      "live-explain", "Explain names against the RUNNING policy and its temporary exceptions");
  addCommon(explain, *o, true);
  explain->add_option("--client", *client, "Client address (default 127.0.0.1)");
  explain->add_option("--mac", *mac, "Client MAC address");
  explain->add_option("NAME", *names, "Names to explain (default: one per line on stdin)");
  explain->callback([o, names, client, mac] {
    std::vector<std::string> list = *names;
    if (list.empty()) {
      std::string line;
      while (std::getline(std::cin, line)) {
        if (!line.empty()) list.push_back(line);
      }
    }
    json req = {{"cmd", "explain"}, {"names", list}, {"client", *client}};
    if (!mac->empty()) req["mac"] = *mac;
    json r = call(*o, req);
    if (!r.is_null()) {
      printRows(*o, r["decisions"],
                {"name", "verdict", "group", "category", "rule", "source", "reason"});
    }
  });

  struct IncidentArgs {
    int limit = 50;
    std::string since, until, group, client, category;
    bool alerts = false;
  };
  auto ia = std::make_shared<IncidentArgs>();
  CLI::App* incidents = app.add_subcommand("incidents", "Show recent incidents, newest first");
  addCommon(incidents, *o, true);
  incidents->add_option("--limit", ia->limit, "How many (default 50, at most 10000)");
  incidents->add_option("--since", ia->since,
                        "Only from this time on (ISO-8601 UTC, YYYY-MM-DD, HH:MM or unix seconds)");
  incidents->add_option("--until", ia->until, "Only before this time");
  incidents->add_option("--group", ia->group, "Only this policy group's");
  incidents->add_option("--client", ia->client, "Only this device's (its name or pseudonym)");
  incidents->add_option("--category", ia->category, "Only this category's");
  incidents->add_flag("--alerts", ia->alerts, "Only those flagged for the safeguarding lead");
  incidents->callback([o, ia] {
    json req = {{"cmd", "incidents"}, {"limit", ia->limit}};
    for (const auto& [flag, text, key] :
         {std::tuple{"--since", &ia->since, "since_ms"}, {"--until", &ia->until, "until_ms"}}) {
      if (text->empty()) continue;
      auto t = parseUntil(*text);
      if (!t) {
        std::cerr << "safegatectl: " << flag << ": not a time: " << *text << "\n";
        exitCode() = 1;
        return;
      }
      req[key] = *t * 1000;
    }
    if (!ia->group.empty()) req["group"] = ia->group;
    if (!ia->client.empty()) req["client"] = ia->client;
    if (!ia->category.empty()) req["category"] = ia->category;
    if (ia->alerts) req["alerts"] = true;
    json r = call(*o, req);
    if (r.is_null()) return;
    json rows = r["incidents"];
    if (!o->json) {
      for (auto& row : rows) row["time"] = isoTime(row["time_ms"].get<int64_t>());
    }
    printRows(*o, rows,
              {"time", "client", "group", "name", "category", "verdict", "rule", "source"});
  });

  CLI::App* exceptions = app.add_subcommand("exceptions", "Temporary exceptions");
  exceptions->require_subcommand(1);
  CLI::App* list = exceptions->add_subcommand("list", "List the exceptions in force");
  addCommon(list, *o, true);
  list->callback([o] {
    json r = call(*o, {{"cmd", "exceptions.list"}});
    if (!r.is_null())
      printRows(*o, o->json ? r["exceptions"] : withReadableUntil(r["exceptions"]),
                kExceptionColumns);
  });

  struct AddArgs {
    std::string client, group, name, category, until, note, granted_by;
    double minutes = 0;
  };
  auto add_args = std::make_shared<AddArgs>();
  auto describeScope = [](CLI::App* cmd, AddArgs& a) {
    cmd->add_option("--client", a.client, "For one client address");
    cmd->add_option("--group", a.group, "For a whole group");
    cmd->add_option("--minutes", a.minutes, "For this many minutes");
    cmd->add_option("--until", a.until, "Until this time (ISO-8601 UTC, HH:MM today, unix s)");
    cmd->add_option("--note", a.note, "Why (recorded with the exception)");
    cmd->add_option("--granted-by", a.granted_by,
                    "On whose behalf (the daemon records your own user name first, as "
                    "\"root for NAME\"; default: the sudo user)");
  };
  auto sendAdd = [](const ControlOptions& opts, const AddArgs& a, json req) {
    if (!a.client.empty()) req["client"] = a.client;
    if (!a.group.empty()) req["group"] = a.group;
    if (a.minutes > 0) req["minutes"] = a.minutes;
    if (!a.until.empty()) {
      auto t = parseUntil(a.until);
      if (!t) {
        std::cerr << "safegatectl: --until: not a time: " << a.until << "\n";
        exitCode() = 1;
        return;
      }
      req["until"] = *t;
    }
    // The daemon takes the grantor from the socket's peer credentials; this only adds whom a
    // sudo user acts for.
    const char* sudo_user = getenv("SUDO_USER");
    if (!a.granted_by.empty()) {
      req["granted_by"] = a.granted_by;
    } else if (sudo_user) {
      req["granted_by"] = sudo_user;
    }
    if (!a.note.empty()) req["note"] = a.note;
    json r = call(opts, req);
    if (r.is_null()) return;
    if (opts.json) {
      std::cout << r.dump() << "\n";
    } else {
      printRows(opts, withReadableUntil(json::array({r})), kExceptionColumns);
    }
  };
  CLI::App* add = exceptions->add_subcommand("add", "Allow a name or a category for a while");
  addCommon(add, *o, false);
  describeScope(add, *add_args);
  add->add_option("--name", add_args->name, "Allow this name and its subdomains");
  add->add_option("--category", add_args->category, "Allow this content category");
  add->callback([o, add_args, sendAdd] {
    json req = {{"cmd", "exceptions.add"}};
    if (!add_args->name.empty()) {
      req["kind"] = "name";
      req["name"] = add_args->name;
    } else {
      req["kind"] = "category";
      req["category"] = add_args->category;
    }
    sendAdd(*o, *add_args, req);
  });
  auto remove_id = std::make_shared<uint64_t>(0);
  CLI::App* remove = exceptions->add_subcommand("remove", "Remove an exception by id");
  addCommon(remove, *o, false);
  remove->add_option("ID", *remove_id, "Exception id (see exceptions list)")->required();
  remove->callback([o, remove_id] {
    json r = call(*o, {{"cmd", "exceptions.remove"}, {"exception", *remove_id}});
    if (!r.is_null()) std::cout << (o->json ? r.dump() : "removed " + r["removed"].dump()) << "\n";
  });

  auto pause_args = std::make_shared<AddArgs>();
  CLI::App* pause = app.add_subcommand(
      "pause", "Pause filtering for a client or group for a while (illegal lists still apply)");
  addCommon(pause, *o, false);
  describeScope(pause, *pause_args);
  pause->callback([o, pause_args, sendAdd] { sendAdd(*o, *pause_args, {{"cmd", "pause"}}); });

  registerRequestCommands(app, o);
}

namespace {

void registerRequestCommands(CLI::App& app, std::shared_ptr<ControlOptions> o) {
  CLI::App* requests = app.add_subcommand(
      "requests", "Access requests and wrong-block reports children sent from the block page");
  requests->require_subcommand(1);
  auto state = std::make_shared<std::string>();
  CLI::App* list = requests->add_subcommand("list", "List requests, newest first");
  addCommon(list, *o, true);
  list->add_option("--state", *state, "Only these: pending, approved, denied or expired")
      ->check(CLI::IsMember({"pending", "approved", "denied", "expired"}));
  list->callback([o, state] {
    json req = {{"cmd", "requests.list"}};
    if (!state->empty()) req["state"] = *state;
    json r = call(*o, req);
    if (r.is_null()) return;
    json rows = r["requests"];
    if (!o->json) {
      for (auto& row : rows) {
        for (const char* key : {"created", "decided"}) {
          if (row.contains(key) && row[key].is_number_integer()) {
            row[key] = isoTime(row[key].get<int64_t>() * 1000);
          }
        }
      }
    }
    printRows(*o, rows,
              {"id", "state", "kind", "client", "group", "name", "category", "created", "reason",
               "decided_by", "note"});
  });

  struct Decision {
    uint64_t id = 0;
    double minutes = 0;
    std::string until, note, category;
  };
  auto send = [o](const char* cmd, const Decision& d) {
    json req = {{"cmd", cmd}, {"request", d.id}};
    if (d.minutes > 0) req["minutes"] = d.minutes;
    if (!d.until.empty()) {
      auto t = parseUntil(d.until);
      if (!t) {
        std::cerr << "safegatectl: --until: not a time: " << d.until << "\n";
        exitCode() = 1;
        return;
      }
      req["until"] = *t;
    }
    if (!d.note.empty()) req["note"] = d.note;
    if (!d.category.empty()) req["category"] = d.category;
    if (const char* sudo_user = getenv("SUDO_USER")) req["granted_by"] = sudo_user;
    json r = call(*o, req);
    if (r.is_null()) return;
    if (o->json) {
      std::cout << r.dump() << "\n";
      return;
    }
    const json& q = r["request"];
    std::cout << "request " << q.value("id", 0) << " " << q.value("state", "") << ": "
              << q.value("name", "") << " for " << q.value("client", "");
    if (r.contains("exception")) {
      std::cout << " (exception " << r["exception"].value("id", 0) << " until "
                << isoTime(r["exception"].value("until", int64_t{0}) * 1000) << ")";
    }
    if (r.contains("outbox_id")) {
      std::cout << " (forwarded to the hotline: outbox message " << r.value("outbox_id", 0) << ")";
    }
    std::cout << "\n";
  };
  auto approve_args = std::make_shared<Decision>();
  CLI::App* approve = requests->add_subcommand(
      "approve",
      "Allow the name for the client that asked, for a while (an exception); for a "
      "suspected-illegal report, forward it to the hotline (--category)");
  addCommon(approve, *o, false);
  approve->add_option("ID", approve_args->id, "Request id (see requests list)")->required();
  approve->add_option("--minutes", approve_args->minutes, "For this many minutes");
  approve->add_option("--until", approve_args->until,
                      "Until this time (ISO-8601 UTC, HH:MM today, unix s)");
  approve->add_option("--note", approve_args->note, "Why (recorded with the exception)");
  approve->add_option("--category", approve_args->category,
                      "A suspected-illegal report's hotline category (child-abuse, terrorism)");
  approve->callback([send, approve_args] { send("requests.approve", *approve_args); });
  auto deny_args = std::make_shared<Decision>();
  CLI::App* deny = requests->add_subcommand("deny", "Close the request without an exception");
  addCommon(deny, *o, false);
  deny->add_option("ID", deny_args->id, "Request id (see requests list)")->required();
  deny->add_option("--note", deny_args->note, "Why (kept with the request)");
  deny->callback([send, deny_args] { send("requests.deny", *deny_args); });
}

}  // namespace

}  // namespace safegate::ui
