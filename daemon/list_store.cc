#include "daemon/list_store.h"

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/read_file.h"

namespace safegate {
namespace {

constexpr size_t kMaxRecordBytes = 4 << 20;
constexpr size_t kMaxListBytes = size_t{1} << 30;

nlohmann::json versionJson(const ListVersion& v) {
  return {{"etag", v.etag},
          {"last_modified", v.last_modified},
          {"sha256", v.sha256},
          {"bytes", v.bytes},
          {"fetched_unix_ms", v.fetched_unix_ms},
          {"signed_by", v.signed_by},
          {"signed_comment", v.signed_comment}};
}

ListVersion versionFrom(const nlohmann::json& j) {
  ListVersion v;
  v.etag = j.value("etag", "");
  v.last_modified = j.value("last_modified", "");
  v.sha256 = j.value("sha256", "");
  v.bytes = j.value("bytes", uint64_t{0});
  v.fetched_unix_ms = j.value("fetched_unix_ms", int64_t{0});
  v.signed_by = j.value("signed_by", "");
  v.signed_comment = j.value("signed_comment", "");
  return v;
}

std::string recordText(const ListRecord& r) {
  nlohmann::json j = {{"version", 1},
                      {"name", r.name},
                      {"url", r.url},
                      {"entries", r.entries},
                      {"last_success_unix_ms", r.last_success_unix_ms},
                      {"last_attempt_unix_ms", r.last_attempt_unix_ms},
                      {"last_error", r.last_error},
                      {"next_refresh_unix_ms", r.next_refresh_unix_ms},
                      {"copy_sha256", r.copy_sha256}};
  if (r.good) j["good"] = versionJson(*r.good);
  nlohmann::json q = nlohmann::json::array();
  for (const auto& e : r.quarantined) {
    q.push_back({{"line", e.line}, {"name", e.name}, {"protects", e.protects}});
  }
  j["quarantined"] = std::move(q);
  return j.dump(2) + "\n";
}

}  // namespace

bool ListStore::validName(std::string_view name) {
  if (name.empty() || name.size() > 128 || name.front() == '.') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Status ListStore::ensureDir() const {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Status::io("create " + dir_.string() + ": " + ec.message());
  return Status::ok();
}

Result<std::optional<ListRecord>> ListStore::load(const std::string& name) const {
  if (!validName(name)) return Status::invalid("\"" + name + "\" is not a safe list name");
  auto text = readWholeFile(recordPath(name), kMaxRecordBytes);
  if (!text) {
    if (text.status().code() == StatusCode::kNotFound) return std::optional<ListRecord>();
    return text.status();
  }
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || j.value("version", 0) != 1) {
    return Status::invalid(recordPath(name).string() + ": not a list record this version reads");
  }
  ListRecord r;
  try {
    r.name = name;  // the file's name, whatever the record says (it names the files written)
    r.url = j.value("url", "");
    r.entries = j.value("entries", uint64_t{0});
    r.last_success_unix_ms = j.value("last_success_unix_ms", int64_t{0});
    r.last_attempt_unix_ms = j.value("last_attempt_unix_ms", int64_t{0});
    r.last_error = j.value("last_error", "");
    r.next_refresh_unix_ms = j.value("next_refresh_unix_ms", int64_t{0});
    r.copy_sha256 = j.value("copy_sha256", "");
    if (j.contains("good") && j["good"].is_object()) r.good = versionFrom(j["good"]);
    if (j.contains("quarantined") && j["quarantined"].is_array()) {
      for (const auto& e : j["quarantined"]) {
        r.quarantined.push_back(
            {e.value("line", uint32_t{0}), e.value("name", ""), e.value("protects", "")});
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::invalid(recordPath(name).string() + ": " + e.what());
  }
  if (r.good) {
    auto copy = readWholeFile(copyPath(name), kMaxListBytes);
    const char* why = nullptr;
    if (!copy) {
      why = "its last good copy is missing";
    } else if (sha256Hex(*copy) != r.copy_sha256) {
      why = "its last good copy does not match the recorded SHA-256";
    }
    if (why) {
      r.good.reset();
      r.entries = 0;
      r.last_error = std::string(why) + "; it will be downloaded again";
    }
  }
  return std::optional<ListRecord>(std::move(r));
}

Status ListStore::saveGood(const ListRecord& record, std::string_view text) const {
  if (!validName(record.name))
    return Status::invalid("\"" + record.name + "\" is not a safe list name");
  if (Status s = ensureDir(); !s) return s;
  if (Status s = writeFileAtomically(copyPath(record.name), text, 0640); !s) return s;
  return writeFileAtomically(recordPath(record.name), recordText(record), 0640);
}

Status ListStore::saveRecord(const ListRecord& record) const {
  if (!validName(record.name))
    return Status::invalid("\"" + record.name + "\" is not a safe list name");
  if (Status s = ensureDir(); !s) return s;
  return writeFileAtomically(recordPath(record.name), recordText(record), 0640);
}

}  // namespace safegate
