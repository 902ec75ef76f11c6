#include "ui-helper/dashboard.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>

#include "common/fd.h"
#include "common/hex.h"
#include "common/utc_time.h"
#include "ui-helper/block_page.h"

namespace safegate::ui {

std::string randomToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) std::abort();  // no randomness: nothing is safe
  return hexEncode(bytes);
}

Session SessionStore::create(const std::string& user, Role role, const std::string& hash,
                             int64_t now) {
  Session s{randomToken(), randomToken(), user, role, hash, now, now};
  std::lock_guard<std::mutex> lock(mutex_);
  // Sweep ended sessions here, so the map never outgrows the people signed in.
  std::erase_if(sessions_, [&](const auto& kv) {
    return now - kv.second.last_seen_unix > idle_ || now - kv.second.created_unix > max_;
  });
  sessions_[s.id] = s;
  return s;
}

std::optional<Session> SessionStore::find(const std::string& id, int64_t now) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  if (now - it->second.last_seen_unix > idle_ || now - it->second.created_unix > max_) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.last_seen_unix = now;
  return it->second;
}

void SessionStore::remove(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  sessions_.erase(id);
}

size_t SessionStore::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return sessions_.size();
}

bool LoginThrottle::add(Record& r, int limit, int64_t now) {
  std::erase_if(r.failures, [&](int64_t t) { return now - t >= kWindowSeconds; });
  r.failures.push_back(now);
  if (static_cast<int>(r.failures.size()) >= limit && r.locked_until <= now) {
    r.locked_until = now + kLockSeconds;
    r.failures.clear();
    return true;
  }
  return false;
}

int64_t LoginThrottle::lockedFor(const std::string& name, const std::string& address, int64_t now) {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t wait = 0;
  if (auto it = names_.find(name); it != names_.end()) {
    wait = std::max(wait, it->second.locked_until - now);
  }
  if (auto it = addresses_.find(address); it != addresses_.end()) {
    wait = std::max(wait, it->second.locked_until - now);
  }
  return std::max<int64_t>(wait, 0);
}

bool LoginThrottle::failed(const std::string& name, const std::string& address, int64_t now) {
  std::lock_guard<std::mutex> lock(mutex_);
  // Bounded: a flood of made-up names cannot grow the maps without limit. Records that lock
  // nothing and hold no recent failure go first; a lock in force is never dropped.
  for (auto* records : {&names_, &addresses_}) {
    if (records->size() < kMaxRecords) continue;
    std::erase_if(*records, [&](const auto& kv) {
      return kv.second.locked_until <= now &&
             (kv.second.failures.empty() || now - kv.second.failures.back() >= kWindowSeconds);
    });
    // Still full: a flood of names tried once each. Drop those first, so a real account's
    // recent failures are the last thing a flood can wash out.
    if (records->size() >= kMaxRecords) {
      std::erase_if(*records, [&](const auto& kv) {
        return kv.second.locked_until <= now && kv.second.failures.size() <= 1;
      });
    }
    if (records->size() >= kMaxRecords) {
      std::erase_if(*records, [&](const auto& kv) { return kv.second.locked_until <= now; });
    }
  }
  const bool by_name = add(names_[name], kMaxPerName, now);
  const bool by_address = add(addresses_[address], kMaxPerAddress, now);
  return by_name || by_address;
}

void LoginThrottle::succeeded(const std::string& name, int64_t now) {
  std::lock_guard<std::mutex> lock(mutex_);
  // A lock in force stays; once it has run out, a right password starts the count afresh.
  auto it = names_.find(name);
  if (it != names_.end() && it->second.locked_until <= now) names_.erase(it);
}

Status AuditLog::append(const std::string& user, const std::string& address,
                        const std::string& action, const std::string& detail, int64_t now) {
  nlohmann::json j = {{"time", isoUtc(now)},
                      {"user", user},
                      {"address", address},
                      {"action", action},
                      {"detail", detail}};
  const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::lock_guard<std::mutex> lock(mutex_);
  Fd fd(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
  if (!fd) return Status::io("cannot open " + path_.string() + ": " + std::strerror(errno));
  if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    return Status::io("cannot write " + path_.string() + ": " + std::strerror(errno));
  }
  return Status::ok();
}

std::vector<nlohmann::json> AuditLog::recent(size_t limit) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::ifstream in(path_);
  std::deque<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(std::move(line));
    if (lines.size() > limit) lines.pop_front();
  }
  std::vector<nlohmann::json> out;
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    auto j = nlohmann::json::parse(*it, nullptr, false);
    if (j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

}  // namespace safegate::ui
