#include "daemon/control/exception_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "common/atomic_file.h"
#include "daemon/store/state_file.h"

namespace safegate {

namespace {

using policy::TemporaryException;

}  // namespace

nlohmann::json exceptionToJson(const TemporaryException& e) {
  nlohmann::json j;
  j["id"] = e.id;
  j["kind"] = std::string(policy::exceptionKindName(e.kind));
  if (e.scope == TemporaryException::Scope::kClient) {
    j["client"] = e.client.toString();
  } else {
    j["group"] = e.group;
  }
  if (!e.name.empty()) j["name"] = e.name;
  if (!e.category.empty()) j["category"] = e.category;
  j["created"] = e.created_unix_seconds;
  j["until"] = e.until_unix_seconds;
  j["granted_by"] = e.granted_by;
  j["note"] = e.note;
  return j;
}

Result<TemporaryException> exceptionFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return Status::invalid("an exception must be a JSON object");
  auto text = [&](const char* key, bool required) { return recordText(j, key, required); };
  auto integer = [&](const char* key) { return recordInteger(j, key, /*required=*/true); };
  TemporaryException e;
  auto id = integer("id");
  if (!id) return id.status();
  if (*id <= 0) return Status::invalid("\"id\" must be positive");
  e.id = static_cast<uint64_t>(*id);
  auto kind = text("kind", true);
  if (!kind) return kind.status();
  if (*kind == "pause") {
    e.kind = TemporaryException::Kind::kPause;
  } else if (*kind == "name") {
    e.kind = TemporaryException::Kind::kName;
  } else if (*kind == "category") {
    e.kind = TemporaryException::Kind::kCategory;
  } else {
    return Status::invalid("\"kind\" must be \"name\", \"category\" or \"pause\", not \"" + *kind +
                           "\"");
  }
  auto client = text("client", false);
  auto group = text("group", false);
  if (!client) return client.status();
  if (!group) return group.status();
  if (!client->empty()) {
    auto ip = IpAddress::parse(*client);
    if (!ip) return Status::invalid("\"client\" is not an IP address: \"" + *client + "\"");
    e.scope = TemporaryException::Scope::kClient;
    e.client = *ip;
  } else if (!group->empty()) {
    e.scope = TemporaryException::Scope::kGroup;
    e.group = *group;
  } else {
    return Status::invalid("an exception needs \"client\" or \"group\"");
  }
  auto name = text("name", e.kind == TemporaryException::Kind::kName);
  if (!name) return name.status();
  e.name = *name;
  auto category = text("category", e.kind == TemporaryException::Kind::kCategory);
  if (!category) return category.status();
  e.category = *category;
  auto created = integer("created");
  if (!created) return created.status();
  e.created_unix_seconds = *created;
  auto until = integer("until");
  if (!until) return until.status();
  e.until_unix_seconds = *until;
  auto granted_by = text("granted_by", true);
  if (!granted_by) return granted_by.status();
  e.granted_by = *granted_by;
  auto note = text("note", false);
  if (!note) return note.status();
  e.note = *note;
  return e;
}

ExceptionStore::Loaded ExceptionStore::load(int64_t now, DiagnosticSink& diags) const {
  Loaded out;
  out.table = std::make_shared<policy::ExceptionTable>();
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) return out;  // nothing was ever granted
  std::ifstream in(path_, std::ios::binary);
  const bool readable = static_cast<bool>(in);
  const int open_errno = readable ? 0 : errno;
  std::string text;
  if (readable) {
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }

  bool damaged = false;
  std::vector<TemporaryException> entries;
  uint64_t next_id = 1;
  nlohmann::json doc;
  if (!readable) {
    diags.error({path_.string()}, std::string("cannot read the exceptions file: ") +
                                      std::strerror(open_errno) + "; starting without them");
    damaged = true;
  } else if (doc = parseStateFile(text, path_, "exceptions file", diags); doc.is_discarded()) {
    damaged = true;
  } else if (!doc.is_object() || !doc.contains("exceptions") || !doc["exceptions"].is_array()) {
    diags.error({path_.string(), 1, 1}, "exceptions file has no \"exceptions\" list");
    damaged = true;
  } else if (!doc.contains("version") || doc["version"] != 1) {
    diags.error({path_.string(), 1, 1}, "exceptions file version " +
                                            doc.value("version", nlohmann::json()).dump() +
                                            " not supported (this safegated reads version 1)");
    damaged = true;
  } else {
    if (doc.contains("next_id") && doc["next_id"].is_number_unsigned()) {
      next_id = doc["next_id"].get<uint64_t>();
    }
    // Validation is ExceptionTable's (name canonical, known non-illegal category, end after
    // start): add each entry to a scratch table and keep the entry with its own id.
    const policy::ExceptionTable scratch;
    size_t index = 0;
    for (const nlohmann::json& j : doc["exceptions"]) {
      const std::string label = "exceptions[" + std::to_string(index++) + "]: ";
      auto e = exceptionFromJson(j);
      if (e) {
        auto checked = scratch.withAdded(*e);
        if (!checked) e = checked.status();
      }
      if (!e) {
        diags.error({path_.string()}, label + e.status().message() + "; entry dropped");
        damaged = true;
        continue;
      }
      if (e->until_unix_seconds <= now) {
        ++out.expired_dropped;
        continue;
      }
      entries.push_back(std::move(*e));
    }
  }
  if (damaged) {
    // Keep the original for the administrator; the next save() writes a fresh file.
    out.moved_aside = setDamagedFileAside(path_, now, entries.size(), "exception(s)", diags);
  }
  out.table = std::make_shared<policy::ExceptionTable>(std::move(entries), next_id);
  return out;
}

Status ExceptionStore::save(const policy::ExceptionTable& table) const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : table.entries()) list.push_back(exceptionToJson(e));
  nlohmann::json doc = {{"version", 1}, {"next_id", table.nextId()}, {"exceptions", list}};
  const std::string data = doc.dump(1) + "\n";

  // Client addresses and notes: not for other users (docs/privacy.md).
  if (Status s = writeFileAtomically(path_, data, 0640); !s) {
    return Status::io("cannot save exceptions to " + path_.string() + ": " + s.message());
  }
  return Status::ok();
}

}  // namespace safegate
