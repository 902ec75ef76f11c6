#include "daemon/dns/reverse_names.h"

#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <unordered_set>

#include "common/fd.h"
#include "common/logger.h"
#include "common/thread_name.h"
#include "filters/dns_message.h"
#include "filters/reverse_name.h"

namespace safegate {

namespace {

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr int64_t kMinKeepMs = 300'000;       // a name is kept at least 5 min ...
constexpr int64_t kMaxKeepMs = 86'400'000;    // ... and at most a day, whatever its TTL
constexpr int64_t kNoNameKeepMs = 600'000;    // NXDOMAIN / no PTR: ask again in 10 min
constexpr int64_t kNoAnswerRetryMs = 60'000;  // timeout, SERVFAIL: ask again in 1 min

}  // namespace

ReverseNames::ReverseNames(ReverseNamesOptions options, Clients clients)
    : options_(std::move(options)),
      clients_(std::move(clients)),
      names_(std::make_shared<ReverseNameMap>()) {}

ReverseNames::~ReverseNames() { stop(); }

void ReverseNames::start() {
  thread_ = std::thread([this] {
    setThreadName("sg-revnames");
    run();
  });
}

void ReverseNames::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const ReverseNameMap> ReverseNames::names() const {
  std::lock_guard lock(mu_);
  return names_;
}

void ReverseNames::run() {
  for (;;) {
    resolveOnce(nowMs());
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, std::chrono::seconds(options_.refresh_seconds),
                     [this] { return stopping_; })) {
      return;
    }
  }
}

void ReverseNames::resolveOnce(int64_t now_ms) {
  const std::vector<IpAddress> clients = clients_();
  // Forget clients that left the table; pick those whose entry is missing or due.
  std::unordered_set<IpAddress, IpAddressHash> present(clients.begin(), clients.end());
  std::erase_if(cache_, [&](const auto& kv) { return present.count(kv.first) == 0; });
  struct Question {
    IpAddress address;
    std::string name;
    uint16_t id = 0;
    bool answered = false;
  };
  std::vector<Question> questions;
  for (const IpAddress& a : clients) {
    if (questions.size() >= options_.max_per_round) break;
    auto it = cache_.find(a);
    if (it != cache_.end() && it->second.retry_ms > now_ms) continue;
    questions.push_back({a, reverseQueryName(a)});
  }
  bool changed = false;
  if (!questions.empty()) {
    Fd fd(::socket(options_.server.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    const auto* sa = reinterpret_cast<const sockaddr*>(&options_.server.storage);
    if (!fd || ::connect(fd.get(), sa, options_.server.length) != 0) {
      logWarning("devices", "reverse lookups: cannot reach the server",
                 {{"server", options_.server.toString()}, {"error", std::strerror(errno)}});
      return;
    }
    std::unordered_set<uint16_t> used;
    for (Question& q : questions) {
      do {
        if (getrandom(&q.id, sizeof q.id, 0) != sizeof q.id)
          q.id = static_cast<uint16_t>(used.size());
      } while (!used.insert(q.id).second);
      uint8_t buf[512];
      const size_t n = buildDnsQuery(q.id, q.name, dns_type::kPtr, 0, false, std::span(buf));
      if (n > 0) (void)!::send(fd.get(), buf, n, 0);
    }
    const int64_t deadline = nowMs() + options_.timeout_ms;
    size_t left = questions.size();
    while (left > 0) {
      const int64_t wait = deadline - nowMs();
      if (wait <= 0) break;
      pollfd p{fd.get(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(wait)) <= 0) break;
      uint8_t buf[4096];
      for (;;) {
        const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n <= 0) break;
        std::span<const uint8_t> msg(buf, static_cast<size_t>(n));
        if (msg.size() < 2) continue;
        const uint16_t id = static_cast<uint16_t>((msg[0] << 8) | msg[1]);
        for (Question& q : questions) {
          if (q.answered || q.id != id) continue;
          auto answer = parsePtrAnswer(msg, id, q.name);
          if (!answer) break;  // not the answer to it (forged or damaged): keep waiting
          q.answered = true;
          --left;
          Entry e;
          if (!answer->name.empty()) {
            e.name = answer->name;
            e.retry_ms =
                now_ms + std::clamp<int64_t>(int64_t{answer->ttl} * 1000, kMinKeepMs, kMaxKeepMs);
          } else if (answer->rcode == dns_rcode::kNoError ||
                     answer->rcode == dns_rcode::kNxDomain) {
            e.retry_ms = now_ms + kNoNameKeepMs;
          } else {
            e.retry_ms = now_ms + kNoAnswerRetryMs;
          }
          Entry& slot = cache_[q.address];
          if (slot.name != e.name) changed = true;
          slot = std::move(e);
          break;
        }
      }
    }
    for (const Question& q : questions) {
      if (q.answered) continue;
      Entry& slot = cache_[q.address];  // keeps a known name through a server outage
      slot.retry_ms = now_ms + kNoAnswerRetryMs;
    }
  }
  // Publish when a name changed or a client with a name left.
  auto next = std::make_shared<ReverseNameMap>();
  for (const auto& [address, e] : cache_) {
    if (!e.name.empty()) next->emplace(address, e.name);
  }
  {
    std::lock_guard lock(mu_);
    if (!changed && *next == *names_) return;
    names_ = std::move(next);
  }
  version_.fetch_add(1, std::memory_order_release);
}

}  // namespace safegate
