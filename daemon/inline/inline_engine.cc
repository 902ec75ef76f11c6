#include "daemon/inline/inline_engine.h"

namespace safegate {

Result<std::unique_ptr<InlineEngine>> InlineEngine::start(
    const policy::DaemonSettings& settings, const PolicyHolder& policy, IncidentStore* incidents,
    const ResolvedAddressTable* resolved,
    const std::vector<std::shared_ptr<EncryptedUpstream>>& encrypted) {
  std::unique_ptr<InlineEngine> engine(new InlineEngine());
  auto injector = RawSocketInjector::open();
  if (!injector.isOk()) return injector.status();
  engine->injector_ = std::move(injector).value();

  const InlineOptions options = inlineOptions(settings);

  // Safe-search rewrites need the targets' addresses at once (daemon/dns/safe_search_answers.h).
  engine->safe_search_ = std::make_unique<SafeSearchHolder>();
  // Through the same upstreams as the proxy, DoT/DoH ones through the proxy's transports.
  std::vector<UpstreamAsker> upstreams = upstreamAskers(settings.dns.upstreams, encrypted);
  if (!upstreams.empty()) {
    engine->refresher_ = SafeSearchRefresher::start(
        std::move(upstreams), settings.dns.upstream_timeout_ms, *engine->safe_search_);
  }

  // Per-group fail mode while safegated is down: firewall rules (daemon/inline/fail_mode_rules.h).
  engine->fail_mode_ =
      FailModeRules::start(FailModeRules::optionsFromEnvironment(settings.state_dir), policy);

  std::vector<NfqueueOptions> queues = queueOptions(settings.inline_mode);
  Status made = Status::ok();
  InlineEngine* raw = engine.get();
  auto frontend = NfqueueFrontend::open(queues, [&](uint16_t) -> std::unique_ptr<NfqPacketHandler> {
    auto inspector = InlineInspector::create(options, policy, incidents, resolved,
                                             raw->injector_.get(), raw->safe_search_.get());
    if (!inspector.isOk()) {
      made = inspector.status();
      return nullptr;
    }
    raw->inspectors_.push_back(inspector->get());
    return std::move(inspector).value();
  });
  if (!made.isOk()) return made;
  if (!frontend.isOk()) return frontend.status();
  engine->frontend_ = std::move(frontend).value();
  engine->frontend_->start();
  return engine;
}

std::vector<NfqueueOptions> InlineEngine::queueOptions(const policy::InlineSettings& settings) {
  std::vector<NfqueueOptions> queues;
  const bool split = !settings.fail_closed_queues.empty();
  auto add = [&](uint16_t q, bool fail_open) {
    NfqueueOptions o;
    o.queue = q;
    o.fail_open = fail_open;
    o.receive_buffer_bytes = settings.receive_buffer_bytes;
    queues.push_back(o);
  };
  for (uint16_t q : settings.queues) add(q, split ? true : settings.fail_open);
  for (uint16_t q : settings.fail_closed_queues) add(q, false);
  return queues;
}

InlineEngine::~InlineEngine() { stop(); }

void InlineEngine::stop() {
  if (frontend_) frontend_->stop();
  if (refresher_) refresher_->stop();
  if (fail_mode_) fail_mode_->stop();
}

std::vector<uint16_t> InlineEngine::queues() const {
  std::vector<uint16_t> out;
  if (!frontend_) return out;
  for (size_t i = 0; i < frontend_->queueCount(); ++i) {
    out.push_back(frontend_->queue(i).queueNumber());
  }
  return out;
}

nlohmann::json InlineEngine::statsJson() const {
  nlohmann::json j;
  j["queues"] = nlohmann::json::array();
  if (fail_mode_) j["fail_mode_rules"] = fail_mode_->statusJson();
  if (!frontend_) return j;
  for (size_t i = 0; i < frontend_->queueCount(); ++i) {
    const NfqueueQueue& q = frontend_->queue(i);
    const NfqueueCounters& c = q.counters();
    nlohmann::json qj;
    qj["queue"] = q.queueNumber();
    qj["received"] = c.received.load();
    qj["accepted"] = c.accepted.load();
    qj["dropped"] = c.dropped.load();
    qj["repeated"] = c.repeated.load();
    qj["verdict_messages"] = c.verdict_messages.load();
    qj["verdict_errors"] = c.verdict_errors.load();
    qj["receive_errors"] = c.receive_errors.load();
    auto k = NfqueueQueue::kernelStats(q.queueNumber());
    if (k.isOk()) {
      qj["kernel"] = {{"waiting", k->waiting},
                      {"queue_dropped", k->queue_dropped},
                      {"user_dropped", k->user_dropped},
                      {"id_sequence", k->id_sequence}};
    }
    j["queues"].push_back(qj);
  }
  nlohmann::json sum;
#define SAFEGATE_SUM_INLINE_COUNTER(name)                                              \
  {                                                                                    \
    uint64_t total = 0;                                                                \
    for (const InlineInspector* in : inspectors_) total += in->counters().name.load(); \
    sum[#name] = total;                                                                \
  }
  SAFEGATE_INLINE_COUNTERS(SAFEGATE_SUM_INLINE_COUNTER)
#undef SAFEGATE_SUM_INLINE_COUNTER
  j["inspector"] = sum;
  return j;
}

}  // namespace safegate
