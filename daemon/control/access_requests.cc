#include "daemon/control/access_requests.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/atomic_file.h"
#include "daemon/store/state_file.h"
#include "filters/domain_name.h"

namespace safegate {

namespace {

using Kind = AccessRequest::Kind;
using State = AccessRequest::State;

constexpr int64_t kHour = 3600;

}  // namespace

std::string_view requestKindName(Kind k) {
  switch (k) {
    case Kind::kAccess: return "access";
    case Kind::kWrongBlock: return "wrong-block";
    case Kind::kSuspectedIllegal: return "suspected-illegal";
  }
  return "access";
}

std::optional<Kind> parseRequestKind(std::string_view s) {
  if (s == "access") return Kind::kAccess;
  if (s == "wrong-block") return Kind::kWrongBlock;
  if (s == "suspected-illegal") return Kind::kSuspectedIllegal;
  return std::nullopt;
}

std::string_view requestStateName(State s) {
  switch (s) {
    case State::kPending: return "pending";
    case State::kApproved: return "approved";
    case State::kDenied: return "denied";
    case State::kExpired: return "expired";
  }
  return "pending";
}

std::optional<State> parseRequestState(std::string_view s) {
  for (State st : {State::kPending, State::kApproved, State::kDenied, State::kExpired}) {
    if (requestStateName(st) == s) return st;
  }
  return std::nullopt;
}

namespace {

// Bytes of a character at the start of `s` that must not reach a table or page as it is: C1
// controls (U+0080-U+009F), line and paragraph separators (U+2028, U+2029) and the bidi
// embedding, override and isolate controls (U+200E, U+200F, U+202A-U+202E, U+2066-U+2069),
// which could make a reason run into or reorder the columns around it. 0 = an ordinary one.
size_t invisibleControlBytes(std::string_view s) {
  const auto b = [&](size_t i) { return i < s.size() ? static_cast<unsigned char>(s[i]) : 0; };
  if (b(0) == 0xC2 && b(1) >= 0x80 && b(1) <= 0x9F) return 2;
  if (b(0) == 0xE2 && b(1) == 0x80 &&
      (b(2) == 0x8E || b(2) == 0x8F || (b(2) >= 0xA8 && b(2) <= 0xAE))) {
    return 3;
  }
  if (b(0) == 0xE2 && b(1) == 0x81 && b(2) >= 0xA6 && b(2) <= 0xA9) return 3;
  return 0;
}

}  // namespace

std::string cleanReason(std::string_view text, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    size_t skip = invisibleControlBytes(text.substr(i));
    if (skip == 0 && (c < 0x20 || c == 0x7f || c == ' ')) skip = 1;
    if (skip > 0) {
      if (!out.empty() && out.back() != ' ') out += ' ';
      i += skip;
    } else {
      out += static_cast<char>(c);
      ++i;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() > max_bytes) {
    size_t cut = max_bytes;
    // Back to the first byte of a character: continuation bytes are 10xxxxxx.
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
    while (!out.empty() && out.back() == ' ') out.pop_back();
  }
  return out;
}

nlohmann::json requestToJson(const AccessRequest& r) {
  nlohmann::json j = {{"id", r.id},
                      {"kind", std::string(requestKindName(r.kind))},
                      {"client", r.client.toString()},
                      {"name", r.name},
                      {"category", r.category},
                      {"group", r.group},
                      {"reason", r.reason},
                      {"created", r.created_unix_seconds},
                      {"state", std::string(requestStateName(r.state))}};
  if (r.state != State::kPending) {
    j["decided"] = r.decided_unix_seconds;
    j["decided_by"] = r.decided_by;
    j["note"] = r.note;
  }
  if (r.exception_id != 0) j["exception_id"] = r.exception_id;
  if (r.outbox_id != 0) j["outbox_id"] = r.outbox_id;
  return j;
}

Result<AccessRequest> requestFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return Status::invalid("a request must be a JSON object");
  auto text = [&](const char* key, bool required) { return recordText(j, key, required); };
  auto integer = [&](const char* key, bool required) { return recordInteger(j, key, required); };
  AccessRequest r;
  auto id = integer("id", true);
  if (!id) return id.status();
  if (*id <= 0) return Status::invalid("\"id\" must be positive");
  r.id = static_cast<uint64_t>(*id);
  auto kind = text("kind", true);
  if (!kind) return kind.status();
  auto k = parseRequestKind(*kind);
  if (!k) {
    return Status::invalid("\"kind\" must be \"access\", \"wrong-block\" or \"suspected-illegal\"");
  }
  r.kind = *k;
  auto client = text("client", true);
  if (!client) return client.status();
  auto ip = IpAddress::parse(*client);
  if (!ip) return Status::invalid("\"client\" is not an IP address: \"" + *client + "\"");
  r.client = *ip;
  auto name = text("name", true);
  if (!name) return name.status();
  auto canonical = normalizeDomain(*name, NameSyntax::kHostname);
  if (!canonical || *canonical != *name) {
    return Status::invalid("\"name\" is not a canonical host name: \"" + *name + "\"");
  }
  r.name = *canonical;
  for (auto [key, field] : {std::pair{"category", &r.category}, std::pair{"group", &r.group},
                            std::pair{"reason", &r.reason}, std::pair{"decided_by", &r.decided_by},
                            std::pair{"note", &r.note}}) {
    auto v = text(key, false);
    if (!v) return v.status();
    *field = std::move(*v);
  }
  auto created = integer("created", true);
  if (!created) return created.status();
  r.created_unix_seconds = *created;
  auto state = text("state", true);
  if (!state) return state.status();
  auto st = parseRequestState(*state);
  if (!st) return Status::invalid("\"state\" is not pending/approved/denied/expired");
  r.state = *st;
  auto decided = integer("decided", r.state != State::kPending);
  if (!decided) return decided.status();
  r.decided_unix_seconds = *decided;
  auto exception = integer("exception_id", false);
  if (!exception) return exception.status();
  if (*exception < 0) return Status::invalid("\"exception_id\" must not be negative");
  r.exception_id = static_cast<uint64_t>(*exception);
  auto outbox = integer("outbox_id", false);
  if (!outbox) return outbox.status();
  if (*outbox < 0) return Status::invalid("\"outbox_id\" must not be negative");
  r.outbox_id = static_cast<uint64_t>(*outbox);
  return r;
}

RequestBook::Added RequestBook::add(AccessRequest r, int64_t now) {
  Added out;
  size_t pending_count = 0;
  int64_t oldest_in_hour = 0;
  int64_t in_hour = 0;
  for (const AccessRequest& e : entries_) {
    if (e.state == State::kPending) {
      ++pending_count;
      if (e.client == r.client && e.name == r.name && e.kind == r.kind) {
        out.outcome = AddOutcome::kAlreadyPending;
        out.request = &e;
        return out;
      }
    }
    if (e.client == r.client && e.created_unix_seconds > now - kHour) {
      if (in_hour++ == 0) oldest_in_hour = e.created_unix_seconds;
    }
  }
  if (in_hour >= limits_.per_client_per_hour) {
    out.outcome = AddOutcome::kRateLimited;
    out.retry_after_seconds = std::max<int64_t>(1, oldest_in_hour + kHour - now);
    return out;
  }
  if (static_cast<int64_t>(pending_count) >= limits_.max_pending) {
    out.outcome = AddOutcome::kFull;
    return out;
  }
  r.id = next_id_++;
  r.reason = cleanReason(r.reason);
  r.created_unix_seconds = now;
  r.state = State::kPending;
  r.decided_unix_seconds = 0;
  r.decided_by.clear();
  r.note.clear();
  r.exception_id = 0;
  r.outbox_id = 0;
  entries_.push_back(std::move(r));
  out.request = &entries_.back();
  return out;
}

Result<const AccessRequest*> RequestBook::decide(uint64_t id, State to, std::string by,
                                                 std::string note, uint64_t exception_id,
                                                 int64_t now, uint64_t outbox_id) {
  for (AccessRequest& e : entries_) {
    if (e.id != id) continue;
    if (e.state != State::kPending) {
      return Status(StatusCode::kFailedPrecondition,
                    "request " + std::to_string(id) + " is already " +
                        std::string(requestStateName(e.state)) + " (by " + e.decided_by + ")");
    }
    e.state = to;
    e.decided_unix_seconds = now;
    e.decided_by = std::move(by);
    e.note = std::move(note);
    e.exception_id = exception_id;
    e.outbox_id = outbox_id;
    return static_cast<const AccessRequest*>(&e);
  }
  return Status::notFound("no request " + std::to_string(id) +
                          " (safegatectl requests lists them; decided ones are kept " +
                          std::to_string(limits_.keep_days) + " days)");
}

const AccessRequest* RequestBook::find(uint64_t id) const {
  for (const AccessRequest& e : entries_) {
    if (e.id == id) return &e;
  }
  return nullptr;
}

bool RequestBook::expire(int64_t now) {
  bool changed = false;
  for (AccessRequest& e : entries_) {
    if (e.state == State::kPending &&
        e.created_unix_seconds <= now - limits_.pending_hours * kHour) {
      e.state = State::kExpired;
      e.decided_unix_seconds = now;
      e.decided_by = "safegated";
      e.note = "nobody decided within " + std::to_string(limits_.pending_hours) + " hours";
      changed = true;
    }
  }
  const int64_t forget_before = now - limits_.keep_days * 24 * kHour;
  const size_t before = entries_.size();
  std::erase_if(entries_, [&](const AccessRequest& e) {
    return e.state != State::kPending && e.decided_unix_seconds <= forget_before;
  });
  return changed || entries_.size() != before;
}

size_t RequestBook::pending() const {
  return static_cast<size_t>(std::count_if(
      entries_.begin(), entries_.end(), [](const auto& e) { return e.state == State::kPending; }));
}

void RequestBook::restore(std::vector<AccessRequest> entries, uint64_t next_id) {
  std::sort(entries.begin(), entries.end(),
            [](const AccessRequest& a, const AccessRequest& b) { return a.id < b.id; });
  uint64_t above = entries.empty() ? 1 : entries.back().id + 1;
  entries_ = std::move(entries);
  next_id_ = std::max(next_id, above);
}

void RequestStore::load(RequestBook& book, DiagnosticSink& diags, int64_t now) const {
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) return;  // nobody asked yet
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    diags.error({path_.string()}, std::string("cannot read the requests file: ") +
                                      std::strerror(errno) + "; starting without them");
    // Set aside, so the next save does not replace what could not be read.
    setDamagedFileAside(path_, now, 0, "request(s)", diags);
    return;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();

  bool damaged = false;
  std::vector<AccessRequest> entries;
  uint64_t next_id = 1;
  nlohmann::json doc = parseStateFile(text, path_, "requests file", diags);
  if (doc.is_discarded()) {
    damaged = true;
  } else if (!doc.is_object() || !doc.contains("requests") || !doc["requests"].is_array() ||
             doc.value("version", nlohmann::json()) != 1) {
    diags.error({path_.string(), 1, 1},
                "requests file is not version 1 with a \"requests\" list (this safegated reads "
                "version 1)");
    damaged = true;
  } else {
    if (doc.contains("next_id") && doc["next_id"].is_number_unsigned()) {
      next_id = doc["next_id"].get<uint64_t>();
    }
    size_t index = 0;
    for (const nlohmann::json& j : doc["requests"]) {
      auto r = requestFromJson(j);
      if (!r) {
        diags.error({path_.string()}, "requests[" + std::to_string(index) +
                                          "]: " + r.status().message() + "; entry dropped");
        damaged = true;
      } else if (std::any_of(entries.begin(), entries.end(),
                             [&](const AccessRequest& e) { return e.id == r->id; })) {
        diags.error({path_.string()}, "requests[" + std::to_string(index) + "]: id " +
                                          std::to_string(r->id) + " appears twice; entry dropped");
        damaged = true;
      } else {
        entries.push_back(std::move(*r));
      }
      ++index;
    }
  }
  if (damaged) setDamagedFileAside(path_, now, entries.size(), "request(s)", diags);
  book.restore(std::move(entries), next_id);
  book.expire(now);
}

Status RequestStore::save(const RequestBook& book) const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& r : book.entries()) list.push_back(requestToJson(r));
  nlohmann::json doc = {{"version", 1}, {"next_id", book.nextId()}, {"requests", list}};
  // Children's words and addresses: not for other users (docs/privacy.md).
  if (Status s = writeFileAtomically(
          path_, doc.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", 0640);
      !s) {
    return Status::io("cannot save requests to " + path_.string() + ": " + s.message());
  }
  return Status::ok();
}

}  // namespace safegate
