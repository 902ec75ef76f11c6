// The control commands on access requests (docs/access-requests.md, docs/control-protocol.md):
//
//   requests.add      client, name, kind ("access" | "wrong-block" | "suspected-illegal"),
//                     reason                                                  — any reader
//   requests.list     state?, limit?                                          — any reader
//   requests.approve  request, minutes | until (access), category (suspected-illegal: the
//                     hotline's category), note?, granted_by?                 — admin
//   requests.deny     request, note?, granted_by?                             — admin
//
// requests.add is what safegate-ui sends when a child submits the block page's form. It is
// checked against the running policy: only a name the policy blocks for that client now can be
// asked for, and never one a licensed illegal-content list decided (its name is not shown to
// anyone, and no exception could open it). Approving an access request grants a temporary
// exception for that client and name, exactly as `exceptions.add` would (same bounds, saved
// first), and records its id on the request.
#include <algorithm>
#include <cstdio>

#include "common/clock.h"
#include "common/ip_address.h"
#include "common/outbox_store.h"
#include "daemon/control/control_protocol.h"
#include "daemon/control/exception_request.h"
#include "daemon/daemon.h"
#include "daemon/reports/outbox_service.h"
#include "filters/domain_name.h"
#include "policy/hotline_report.h"

namespace safegate {

namespace {

std::string_view outcomeName(RequestBook::AddOutcome o) {
  switch (o) {
    case RequestBook::AddOutcome::kAdded: return "added";
    case RequestBook::AddOutcome::kAlreadyPending: return "already_pending";
    case RequestBook::AddOutcome::kRateLimited: return "rate_limited";
    case RequestBook::AddOutcome::kFull: return "full";
  }
  return "added";
}

}  // namespace

RequestNotice Daemon::requestNotice(const AccessRequest& r,
                                    const std::optional<MacAddress>& mac) const {
  RequestNotice n;
  n.unix_ms = r.created_unix_seconds * 1000;
  n.request = r.id;
  n.kind = r.kind;
  const auto policy = holder_.get();
  n.device =
      incidents_->deviceText(policy->deviceName(r.client, mac), mac, r.client, &n.device_named);
  n.group = r.group;
  n.category = r.category;
  if (r.kind != AccessRequest::Kind::kSuspectedIllegal) n.name = r.name;
  n.reason_given = !r.reason.empty();
  return n;
}

std::string Daemon::handleRequests(const ControlRequest& req) {
  const std::string& cmd = req.command;
  const nlohmann::json& a = req.args;
  const int64_t now = SystemClock::instance().unixSeconds();
  std::lock_guard<std::mutex> lock(mutex_);
  if (requests_.expire(now)) {
    // Expiry only forgets; a failed save is retried at the next change, never a refusal.
    if (Status saved = request_store_->save(requests_); !saved) {
      fprintf(stderr, "safegated: %s\n", saved.toString().c_str());
    }
  }

  if (cmd == "requests.add") {
    auto client = IpAddress::parse(argText(a, "client"));
    if (!client) return controlError(req.id, "requests.add needs \"client\" (an IP address)");
    auto kind = parseRequestKind(argText(a, "kind").empty() ? "access" : argText(a, "kind"));
    if (!kind) {
      return controlError(req.id,
                          "\"kind\" must be \"access\", \"wrong-block\" or \"suspected-illegal\"");
    }
    auto name = normalizeDomain(argText(a, "name"), NameSyntax::kHostname);
    if (!name) return controlError(req.id, "\"name\": " + name.status().message());
    if (a.contains("reason") && !a["reason"].is_string()) {
      return controlError(req.id, "\"reason\" must be a string");
    }
    RequestFacts facts;
    facts.client = *client;
    facts.mac = macOf(*client);  // as the device's own queries are decided
    facts.name = *name;
    facts.unix_time_seconds = now;
    const Decision d = holder_.get()->decide(facts);
    if (*kind == AccessRequest::Kind::kSuspectedIllegal && !settings_.hotline.enabled) {
      return controlError(req.id,
                          "\"suspected-illegal\" needs the hotline ([hotline] enabled = true)");
    }
    if (d.verdict != Verdict::kBlock) {
      return controlOk(req.id, {{"status", "not_blocked"}});
    }
    if (d.confidential) {
      // A licensed list has it, so the hotline has it: a report would tell it nothing new.
      // The child is thanked all the same and learns nothing about the list.
      if (*kind == AccessRequest::Kind::kSuspectedIllegal) {
        return controlOk(req.id, {{"status", "already_known"}});
      }
      return controlError(req.id, "this name cannot be asked for: a licensed list blocks it");
    }
    AccessRequest r;
    r.kind = *kind;
    r.client = *client;
    r.name = *name;
    r.category = std::string(d.category);
    r.group = std::string(d.group);
    r.reason = argText(a, "reason");
    const RequestBook before = requests_;
    const RequestBook::Added added = requests_.add(std::move(r), now);
    nlohmann::json out = {{"status", std::string(outcomeName(added.outcome))}};
    if (added.outcome == RequestBook::AddOutcome::kAdded) {
      if (Status saved = request_store_->save(requests_); !saved) {
        requests_ = before;  // not kept on disk = not taken
        return controlError(req.id, saved.message());
      }
      if (alerts_) alerts_->onRequestNotice(requestNotice(*added.request, facts.mac));
    }
    if (added.request) out["request"] = requestToJson(*added.request);
    if (added.outcome == RequestBook::AddOutcome::kRateLimited) {
      out["retry_after_seconds"] = added.retry_after_seconds;
    }
    return controlOk(req.id, out);
  }

  if (cmd == "requests.list") {
    std::optional<AccessRequest::State> only;
    if (!argText(a, "state").empty()) {
      only = parseRequestState(argText(a, "state"));
      if (!only) {
        return controlError(req.id, "\"state\" must be pending, approved, denied or expired");
      }
    }
    size_t limit = 1000;
    if (a.contains("limit")) {
      if (!a["limit"].is_number_unsigned() || a["limit"].get<uint64_t>() == 0) {
        return controlError(req.id, "\"limit\" must be a positive integer");
      }
      limit = static_cast<size_t>(std::min<uint64_t>(a["limit"].get<uint64_t>(), 100000));
    }
    nlohmann::json rows = nlohmann::json::array();
    const auto& all = requests_.entries();
    for (auto it = all.rbegin(); it != all.rend() && rows.size() < limit; ++it) {
      if (!only || it->state == *only) rows.push_back(requestToJson(*it));
    }
    return controlOk(req.id, {{"requests", rows}, {"pending", requests_.pending()}});
  }

  if (cmd == "requests.approve" || cmd == "requests.deny") {
    if (!a.contains("request") || !a["request"].is_number_unsigned()) {
      return controlError(req.id, cmd + " needs \"request\" (the request id)");
    }
    const uint64_t id = a["request"].get<uint64_t>();
    const AccessRequest* r = requests_.find(id);
    if (!r) return controlError(req.id, "no request " + std::to_string(id));
    if (r->state != AccessRequest::State::kPending) {
      return controlError(req.id, "request " + std::to_string(id) + " is already " +
                                      std::string(requestStateName(r->state)) + " (by " +
                                      r->decided_by + ")");
    }
    auto by = grantedByFromRequest(req);
    if (!by) return controlError(req.id, by.status().message());
    const std::string note = argText(a, "note");
    uint64_t exception_id = 0;
    uint64_t outbox_id = 0;
    nlohmann::json out;
    if (cmd == "requests.approve" && r->kind == AccessRequest::Kind::kSuspectedIllegal) {
      // Approving a child's "this may be illegal" forwards it: a URL-only hotline report with
      // the category the lead chose, reporter "child", nothing about the child.
      auto queued = forwardToHotline(*r, argText(a, "category"), now);
      if (!queued) return controlError(req.id, queued.status().message());
      outbox_id = *queued;
      out["outbox_id"] = outbox_id;
    } else if (cmd == "requests.approve") {
      // The exception exactly as exceptions.add would make it for this client and name.
      ControlRequest grant = req;
      grant.command = "exceptions.add";
      grant.args["kind"] = "name";
      grant.args["name"] = r->name;
      grant.args["client"] = r->client.toString();
      grant.args["note"] = note.empty() ? "request " + std::to_string(id) : note;
      auto e = exceptionFromRequest(grant, now, settings_.control.max_exception_minutes);
      if (!e) return controlError(req.id, e.status().message());
      auto granted = grantException(std::move(*e));
      if (!granted) return controlError(req.id, granted.status().message());
      exception_id = granted->id;
      out["exception"] = exceptionToJson(*granted);
    }
    const RequestBook before = requests_;
    auto decided = requests_.decide(
        id,
        cmd == "requests.approve" ? AccessRequest::State::kApproved : AccessRequest::State::kDenied,
        *by, note, exception_id, now, outbox_id);
    if (!decided) return controlError(req.id, decided.status().message());
    out["request"] = requestToJson(**decided);
    if (Status saved = request_store_->save(requests_); !saved) {
      // A denial is undone; an approval's exception (or a forwarded report) is in force and
      // saved, so the request stays decided in memory and says so — undoing it would let the
      // report be forwarded twice.
      if (exception_id == 0 && outbox_id == 0) {
        requests_ = before;
        return controlError(req.id, saved.message());
      }
      return controlError(
          req.id,
          saved.message() +
              (exception_id != 0 ? " (exception " + std::to_string(exception_id) + " is granted"
                                 : " (hotline report " + std::to_string(outbox_id) + " is queued") +
              "; the request's record is not on disk)");
    }
    return controlOk(req.id, out);
  }

  return controlError(req.id, "unknown command \"" + cmd +
                                  "\" (requests.add, requests.list, requests.approve, "
                                  "requests.deny)");
}

Result<uint64_t> Daemon::forwardToHotline(const AccessRequest& r, const std::string& category,
                                          int64_t now) {
  const policy::HotlineSettings& h = settings_.hotline;
  if (!h.enabled) return Status::invalid("the hotline is off ([hotline] enabled = false)");
  const std::vector<std::string> known = hotlineCategories();
  if (std::find(known.begin(), known.end(), category) == known.end()) {
    std::string list;
    for (const std::string& c : known) list += (list.empty() ? "" : ", ") + c;
    return Status::invalid("forwarding to the hotline needs \"category\": one of " + list);
  }
  auto location = parseReportedLocation("http://" + r.name + "/");
  if (!location) return location.status();
  auto key = newIdempotencyKey();
  if (!key) return key.status();
  HotlineReportInput in;
  in.location = *location;
  in.category = category;
  in.reporter = ReporterRole::kChild;
  in.reported_unix_seconds = now;
  in.report_id = *key;
  in.deployment_id = h.deployment_id;
  in.operator_contact = h.operator_contact;
  auto body = buildHotlineReport(in);
  if (!body) return body.status();
  auto store = OutboxStore::open(settings_.outbox.path.string(), outboxStoreOptions(settings_));
  if (!store) return store.status();
  OutboxNewMessage m;
  m.kind = "hotline-report";
  m.destination = "hotline";
  m.idempotency_key = *key;
  m.payload = *body;
  auto id = store->enqueue(m, now * 1000);
  if (!id) return id.status();
  return static_cast<uint64_t>(*id);
}

}  // namespace safegate
