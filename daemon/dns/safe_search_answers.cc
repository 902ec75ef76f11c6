#include "daemon/dns/safe_search_answers.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "common/fd.h"
#include "common/random.h"
#include "common/thread_name.h"
#include "daemon/dns/encrypted_upstream.h"
#include "daemon/dns/query_handler.h"
#include "filters/dns_message.h"
#include "policy/safe_search.h"
#include "policy/upstream_spec.h"

namespace safegate {

namespace {

constexpr int kMinRefreshSeconds = 60;
constexpr int kMaxRefreshSeconds = 3600;
constexpr int kRetrySeconds = 10;

const std::string_view kTargets[] = {policy::kGoogleSafeTarget, policy::kBingSafeTarget,
                                     policy::kDuckDuckGoSafeTarget, policy::kYoutubeStrictTarget,
                                     policy::kYoutubeModerateTarget};

int64_t monotonicMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The smallest TTL of the answer section's records (the refresh interval); -1 if none.
int64_t minAnswerTtl(std::span<const uint8_t> response) {
  NameBuffer qn, rn;
  DnsResponseView view(response, qn);
  if (view.status() != DnsParseStatus::kOk) return -1;
  int64_t ttl = -1;
  while (auto r = view.next(rn)) {
    if (r->section != DnsRecord::Section::kAnswer) break;
    if (ttl < 0 || r->ttl < ttl) ttl = r->ttl;
  }
  return ttl;
}

}  // namespace

std::span<const std::string_view> safeSearchTargets() { return kTargets; }

std::span<const uint8_t> SafeSearchAnswers::find(std::string_view target,
                                                 uint16_t qtype) const noexcept {
  for (const Answer& a : answers_) {
    if (a.qtype == qtype && a.target == target) return a.response;
  }
  return {};
}

namespace {
// A matching response is usable when whole (no TC) and NOERROR.
Status usableAnswer(std::span<const uint8_t> response, const std::string& upstream,
                    std::string_view name) {
  NameBuffer qn;
  DnsResponseView view(response, qn);
  if (view.header().truncated()) {
    return Status::unavailable(upstream + ": truncated answer for " + std::string(name));
  }
  if (view.header().rcode() != dns_rcode::kNoError) {
    return Status::unavailable(upstream + ": rcode " + std::to_string(view.header().rcode()) +
                               " for " + std::string(name));
  }
  return Status::ok();
}

// A question for `name`/`qtype` with a random ID (RFC 5452 §9.2).
struct Question {
  uint16_t id = 0;
  size_t length = 0;
  uint8_t bytes[512];
};
Result<Question> newQuestion(std::string_view name, uint16_t qtype) {
  uint8_t id_bytes[2];
  if (Status s = fillRandom(id_bytes); !s) return s;
  Question q;
  q.id = static_cast<uint16_t>((id_bytes[0] << 8) | id_bytes[1]);
  q.length = buildDnsQuery(q.id, name, qtype, 1232, false, q.bytes);
  if (q.length == 0)
    return Status::invalid("cannot build a query for \"" + std::string(name) + "\"");
  return q;
}
}  // namespace

Result<std::vector<uint8_t>> queryUpstreamOnce(const SocketAddress& upstream, std::string_view name,
                                               uint16_t qtype, int timeout_ms) {
  auto question = newQuestion(name, qtype);
  if (!question) return question.status();
  const uint16_t id = question->id;
  Fd fd(socket(upstream.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Status::fromErrno("socket", errno);
  // A connected socket only receives from the upstream's address and port (RFC 5452 §9.1).
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&upstream.storage), upstream.length) !=
      0) {
    return Status::fromErrno("connect " + upstream.toString(), errno);
  }
  if (send(fd.get(), question->bytes, question->length, 0) !=
      static_cast<ssize_t>(question->length)) {
    return Status::fromErrno("send to " + upstream.toString(), errno);
  }
  const int64_t deadline = monotonicMs() + timeout_ms;
  std::vector<uint8_t> buf(65535);
  for (;;) {
    const int64_t left = deadline - monotonicMs();
    if (left <= 0) return Status::unavailable(upstream.toString() + ": no answer in time");
    pollfd p{fd.get(), POLLIN, 0};
    const int pr = poll(&p, 1, static_cast<int>(left));
    if (pr < 0 && errno == EINTR) continue;
    if (pr < 0) return Status::fromErrno("poll", errno);
    if (pr == 0) continue;
    const ssize_t n = recv(fd.get(), buf.data(), buf.size(), 0);
    if (n < 0) return Status::fromErrno("recv from " + upstream.toString(), errno);
    std::span<const uint8_t> response(buf.data(), static_cast<size_t>(n));
    if (!responseMatchesQuestion(response, id, name, qtype, 1)) continue;  // not ours: wait on
    if (Status s = usableAnswer(response, upstream.toString(), name); !s) return s;
    buf.resize(static_cast<size_t>(n));
    return buf;
  }
}

Result<std::vector<uint8_t>> queryUpstreamOnce(EncryptedUpstream& upstream, std::string_view name,
                                               uint16_t qtype, int timeout_ms) {
  auto question = newQuestion(name, qtype);
  if (!question) return question.status();
  const uint16_t id = question->id;
  auto answer =
      upstream.exchange(std::span<const uint8_t>(question->bytes, question->length), timeout_ms);
  if (!answer) return answer.status();
  const std::string who = upstream.spec().toString();
  if (!responseMatchesQuestion(*answer, id, name, qtype, 1)) {
    return Status::unavailable(who + ": an answer to another question for " + std::string(name));
  }
  if (Status s = usableAnswer(*answer, who, name); !s) return s;
  return answer;
}

std::vector<UpstreamAsker> upstreamAskers(
    const std::vector<std::string>& upstreams,
    const std::vector<std::shared_ptr<EncryptedUpstream>>& encrypted) {
  std::vector<UpstreamAsker> askers;
  for (size_t i = 0; i < upstreams.size(); ++i) {
    auto spec = UpstreamSpec::parse(upstreams[i]);
    if (!spec) continue;
    if (!spec->encrypted()) {
      auto address = SocketAddress::parse(spec->hostPort());
      if (!address) continue;
      askers.push_back([a = *address](std::string_view name, uint16_t qtype, int timeout_ms) {
        return queryUpstreamOnce(a, name, qtype, timeout_ms);
      });
    } else if (i < encrypted.size() && encrypted[i]) {
      askers.push_back([t = encrypted[i]](std::string_view name, uint16_t qtype, int timeout_ms) {
        return queryUpstreamOnce(*t, name, qtype, timeout_ms);
      });
    }
  }
  return askers;
}

std::unique_ptr<SafeSearchRefresher> SafeSearchRefresher::start(
    const std::vector<SocketAddress>& upstreams, int timeout_ms, SafeSearchHolder& holder) {
  std::vector<UpstreamAsker> askers;
  for (const SocketAddress& a : upstreams) {
    askers.push_back([a](std::string_view name, uint16_t qtype, int timeout_ms) {
      return queryUpstreamOnce(a, name, qtype, timeout_ms);
    });
  }
  return start(std::move(askers), timeout_ms, holder);
}

std::unique_ptr<SafeSearchRefresher> SafeSearchRefresher::start(
    std::vector<UpstreamAsker> upstreams, int timeout_ms, SafeSearchHolder& holder) {
  std::unique_ptr<SafeSearchRefresher> r(
      new SafeSearchRefresher(std::move(upstreams), timeout_ms, holder));
  r->next_seconds_ = 0;  // the first round runs at once, on the thread: start-up never waits
  r->thread_ = std::thread([p = r.get()] { p->run(); });
  return r;
}

SafeSearchRefresher::~SafeSearchRefresher() { stop(); }

void SafeSearchRefresher::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SafeSearchRefresher::run() {
  setThreadName("sg-safesearch");
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    if (wake_.wait_for(lock, std::chrono::seconds(next_seconds_), [this] { return stopping_; })) {
      return;
    }
    lock.unlock();
    const int next = refreshOnce();
    lock.lock();
    next_seconds_ = next;
  }
}

int SafeSearchRefresher::refreshOnce() {
  std::vector<SafeSearchAnswers::Answer> answers;
  auto previous = holder_.get();
  bool failed = false;
  int64_t min_ttl = kMaxRefreshSeconds;
  for (std::string_view target : kTargets) {
    for (uint16_t qtype : {dns_type::kA, dns_type::kAaaa}) {
      std::vector<uint8_t> got;
      for (const UpstreamAsker& ask : upstreams_) {
        auto r = ask(target, qtype, timeout_ms_);
        if (r.isOk()) {
          got = std::move(r).value();
          break;
        }
      }
      if (got.empty()) {
        failed = true;
        // Keep the last good answer: an address that worked minutes ago beats none.
        if (previous) {
          auto old = previous->find(target, qtype);
          if (!old.empty()) got.assign(old.begin(), old.end());
        }
      } else {
        const int64_t ttl = minAnswerTtl(got);
        if (ttl >= 0) min_ttl = std::min(min_ttl, ttl);
      }
      if (!got.empty()) {
        answers.push_back(SafeSearchAnswers::Answer{std::string(target), qtype, std::move(got)});
      }
    }
  }
  holder_.publish(std::make_shared<const SafeSearchAnswers>(std::move(answers)));
  if (failed) return kRetrySeconds;
  return static_cast<int>(std::clamp<int64_t>(min_ttl, kMinRefreshSeconds, kMaxRefreshSeconds));
}

}  // namespace safegate
