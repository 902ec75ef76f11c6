#include "daemon/lists/list_store.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <utility>

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

// An integer field of a record (absent = 0). A float, a string or a number beyond T is refused:
// converting it would be undefined behaviour (the list_download fuzz target sent "version":
// 1.9e21, which nlohmann reads as a double and value<int>() cast out of range).
struct BadField {
  const char* key;
};
template <typename T>
T intValue(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return T{0};
  if (it->is_number_unsigned()) {
    const auto v = it->template get<uint64_t>();
    if (std::in_range<T>(v)) return static_cast<T>(v);
  } else if (it->is_number_integer()) {
    const auto v = it->template get<int64_t>();
    if (std::in_range<T>(v)) return static_cast<T>(v);
  }
  throw BadField{key};
}

ListVersion versionFrom(const nlohmann::json& j) {
  ListVersion v;
  v.etag = j.value("etag", "");
  v.last_modified = j.value("last_modified", "");
  v.sha256 = j.value("sha256", "");
  v.bytes = intValue<uint64_t>(j, "bytes");
  v.fetched_unix_ms = intValue<int64_t>(j, "fetched_unix_ms");
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
  const auto not_a_record = [&] {
    return Status::invalid(recordPath(name).string() + ": not a list record this version reads");
  };
  if (j.is_discarded() || !j.is_object()) return not_a_record();
  ListRecord r;
  try {
    if (intValue<int64_t>(j, "version") != 1) return not_a_record();
    r.name = name;  // the file's name, whatever the record says (it names the files written)
    r.url = j.value("url", "");
    r.entries = intValue<uint64_t>(j, "entries");
    r.last_success_unix_ms = intValue<int64_t>(j, "last_success_unix_ms");
    r.last_attempt_unix_ms = intValue<int64_t>(j, "last_attempt_unix_ms");
    r.last_error = j.value("last_error", "");
    r.next_refresh_unix_ms = intValue<int64_t>(j, "next_refresh_unix_ms");
    r.copy_sha256 = j.value("copy_sha256", "");
    if (j.contains("good") && j["good"].is_object()) r.good = versionFrom(j["good"]);
    if (j.contains("quarantined") && j["quarantined"].is_array()) {
      for (const auto& e : j["quarantined"]) {
        if (!e.is_object()) throw BadField{"quarantined"};
        r.quarantined.push_back(
            {intValue<uint32_t>(e, "line"), e.value("name", ""), e.value("protects", "")});
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::invalid(recordPath(name).string() + ": " + e.what());
  } catch (const BadField& bad) {
    return Status::invalid(recordPath(name).string() + ": \"" + bad.key +
                           "\" is not an integer in range");
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

std::string_view listNoticeKindName(ListNotice::Kind k) {
  switch (k) {
    case ListNotice::Kind::kFailed: return "failed";
    case ListNotice::Kind::kRefused: return "refused";
    case ListNotice::Kind::kQuarantined: return "quarantined";
    case ListNotice::Kind::kRecovered: return "recovered";
  }
  return "unknown";
}

}  // namespace safegate
