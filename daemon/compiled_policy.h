// CompiledPolicyView: the production PolicyView — policy/'s compiled PolicySnapshot plus the
// temporary-exception table in force (and the DHCP lease names, daemon/lease_names.h),
// published together as one immutable value.
//
// Publishing both in one object means a worker's single current() per request sees a policy
// and the exceptions that go with it; an exception edit or a reload publishes a new view (two
// shared_ptr copies; the snapshot itself is shared, not copied). Immutable; any thread.
#pragma once

#include <memory>

#include "daemon/lease_names.h"
#include "daemon/policy_view.h"
#include "policy/exception_table.h"
#include "policy/policy_engine.h"

namespace safegate {

class CompiledPolicyView final : public PolicyView {
 public:
  CompiledPolicyView(policy::PolicySnapshotPtr snapshot, policy::ExceptionTablePtr exceptions,
                     std::shared_ptr<const LiveAnswerSettings> answers = nullptr,
                     std::shared_ptr<const LeaseNameMap> leases = nullptr)
      : snapshot_(std::move(snapshot)),
        exceptions_(std::move(exceptions)),
        answers_(std::move(answers)),
        leases_(std::move(leases)) {}

  Decision decide(const RequestFacts& facts) const noexcept override {
    return snapshot_->decide(facts, exceptions_.get());
  }
  std::string_view deviceName(const IpAddress& client,
                              const std::optional<MacAddress>& mac) const noexcept override {
    // The config's name first; then the DHCP lease's (devices.lease_files).
    std::string_view configured = snapshot_->clientName(client, mac);
    if (!configured.empty() || !leases_) return configured;
    return leases_->find(client, mac);
  }
  const LiveAnswerSettings* answerSettings() const noexcept override { return answers_.get(); }
  const policy::GroupSettings* groupFor(const IpAddress& client,
                                        const std::optional<MacAddress>& mac,
                                        uint16_t& index) const noexcept override {
    index = snapshot_->groupFor(client, mac);
    return &snapshot_->group(index);
  }
  bool isCircumventionDestination(const IpAddress& destination) const noexcept override {
    return snapshot_->isCircumventionDestination(destination);
  }
  const policy::PolicySnapshot* compiled() const noexcept override { return snapshot_.get(); }
  const policy::PolicySnapshotPtr& snapshot() const { return snapshot_; }
  const policy::ExceptionTablePtr& exceptions() const { return exceptions_; }

 private:
  policy::PolicySnapshotPtr snapshot_;
  policy::ExceptionTablePtr exceptions_;
  std::shared_ptr<const LiveAnswerSettings> answers_;
  std::shared_ptr<const LeaseNameMap> leases_;
};

}  // namespace safegate
