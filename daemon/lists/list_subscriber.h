// ListSubscriber: one refresh of one subscribed list — download (conditional on the
// version held), parse, sanity gate, over-blocking quarantine, keep. What is in force changes
// only when everything passed; every other outcome keeps the last good copy and records why
// (ListRecord::last_error), so `safegatectl lists` and the log can say it.
//
//   kUpdated    a new version passed; its copy (minus quarantined entries) is in
//               state_dir/lists/NAME.list and the policy should be reloaded
//   kUnchanged  304, or the same content again
//   kFailed     the download failed (HTTP error, timeout, TLS, size, truncated, digest,
//               signature missing or not matching)
//   kRefused    it downloaded but failed the gate (too few entries, shrank, mostly unusable)
//
// Next refresh: update_interval after a success, sooner (at most 30 minutes) after a failure.
// Thread-safety: one ListSubscriber per thread (the HttpClient is per thread as well).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "daemon/http_client.h"
#include "daemon/lists/list_gate.h"
#include "daemon/lists/list_store.h"
#include "filters/list_reader.h"

namespace safegate {

struct SubscriptionSpec {
  std::string name;  // the list's name in the config; a safe file name
  std::string url;
  ListFormat format = ListFormat::kAuto;
  std::string sha256;                           // pinned digest, "" = none
  std::optional<MinisignPublicKey> public_key;  // a signature by this key is required
  int64_t update_interval_ms = int64_t{24} * 3600 * 1000;
  ListGateOptions gate;
};

enum class RefreshOutcome : uint8_t { kUpdated, kUnchanged, kFailed, kRefused };
std::string_view refreshOutcomeName(RefreshOutcome o);

struct RefreshResult {
  RefreshOutcome outcome = RefreshOutcome::kFailed;
  ListRecord record;  // as saved
};

class ListSubscriber {
 public:
  // `protected_names` may be empty (no guard); both are borrowed.
  ListSubscriber(const ListStore& store, const ProtectedNames& protected_names)
      : store_(store), protected_(protected_names) {}

  RefreshResult refresh(HttpClient& client, const SubscriptionSpec& spec, int64_t now_unix_ms);

 private:
  const ListStore& store_;
  const ProtectedNames& protected_;
};

}  // namespace safegate
