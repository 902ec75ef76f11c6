#include "daemon/lists/list_subscriber.h"

#include <algorithm>
#include <set>

#include "daemon/lists/list_fetcher.h"

namespace safegate {
namespace {

constexpr int64_t kMaxRetryMs = 30 * 60 * 1000;

// The text without the given lines (1-based), so the copy compiles to what was accepted.
std::string withoutLines(std::string_view text, const std::set<uint32_t>& drop) {
  if (drop.empty()) return std::string(text);
  std::string out;
  out.reserve(text.size());
  uint32_t line = 1;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    const size_t next = end == std::string_view::npos ? text.size() : end + 1;
    if (!drop.contains(line)) out.append(text.substr(start, next - start));
    start = next;
    ++line;
  }
  return out;
}

}  // namespace

std::string_view refreshOutcomeName(RefreshOutcome o) {
  switch (o) {
    case RefreshOutcome::kUpdated: return "updated";
    case RefreshOutcome::kUnchanged: return "unchanged";
    case RefreshOutcome::kFailed: return "failed";
    case RefreshOutcome::kRefused: return "refused";
  }
  return "?";
}

RefreshResult ListSubscriber::refresh(HttpClient& client, const SubscriptionSpec& spec,
                                      int64_t now_unix_ms) {
  RefreshResult result;
  ListRecord& r = result.record;
  auto held = store_.load(spec.name);
  if (held && held->has_value()) {
    r = **held;
  } else {
    r.name = spec.name;
    if (!held) r.last_error = held.status().message();  // a damaged record: start afresh
  }
  r.url = spec.url;
  r.last_attempt_unix_ms = now_unix_ms;
  // A different URL is a different list: nothing held applies to it.
  const bool same_source = held && held->has_value() && (**held).url == spec.url;
  // A copy that is not signed by the key now required is downloaded again, not kept on a 304.
  const bool signed_as_required =
      !spec.public_key ||
      (r.good && r.good->signed_by == minisignKeyIdHex(spec.public_key->key_id));
  const ListVersion* condition = same_source && r.good && signed_as_required ? &*r.good : nullptr;

  auto fail = [&](RefreshOutcome outcome, std::string why) {
    result.outcome = outcome;
    r.last_error = std::move(why);
    r.next_refresh_unix_ms = now_unix_ms + std::min(spec.update_interval_ms, kMaxRetryMs);
    (void)store_.saveRecord(r);
    return result;
  };

  auto fetched = fetchList(
      client, {spec.url, spec.sha256, condition, spec.public_key ? &*spec.public_key : nullptr},
      now_unix_ms);
  if (!fetched) return fail(RefreshOutcome::kFailed, fetched.status().message());
  if (fetched->not_modified || (condition && fetched->version.sha256 == condition->sha256)) {
    result.outcome = RefreshOutcome::kUnchanged;
    r.good->fetched_unix_ms = now_unix_ms;
    if (!fetched->not_modified) {  // the same content, perhaps signed again
      r.good->signed_by = fetched->version.signed_by;
      r.good->signed_comment = fetched->version.signed_comment;
    }
    r.last_success_unix_ms = now_unix_ms;
    r.last_error.clear();
    r.next_refresh_unix_ms = now_unix_ms + spec.update_interval_ms;
    (void)store_.saveRecord(r);
    return result;
  }

  DiagnosticSink sink;
  ListReadOptions options;
  options.format = spec.format;
  options.max_reported_warnings = 0;  // counted; the gate judges the share
  ParsedList parsed = parseListText(fetched->body, spec.url, options, sink);
  std::vector<QuarantinedEntry> quarantined = quarantineProtected(parsed, protected_);
  // The shrink gate compares with any good copy of the same source, signed or not.
  const std::optional<size_t> held_entries =
      same_source && r.good ? std::optional<size_t>(r.entries) : std::nullopt;
  if (Status gate = checkListGate(spec.gate, parsed.stats, held_entries); !gate) {
    return fail(RefreshOutcome::kRefused,
                "new version refused: " + gate.message() + "; the last good copy stays in force");
  }
  std::set<uint32_t> drop;
  for (const auto& q : quarantined) drop.insert(q.line);
  const std::string copy = withoutLines(fetched->body, drop);
  r.good = fetched->version;
  r.copy_sha256 = sha256Hex(copy);
  r.entries = parsed.stats.entries;
  r.quarantined = std::move(quarantined);
  r.last_success_unix_ms = now_unix_ms;
  r.last_error.clear();
  r.next_refresh_unix_ms = now_unix_ms + spec.update_interval_ms;
  if (Status saved = store_.saveGood(r, copy); !saved) {
    return fail(RefreshOutcome::kFailed, "cannot keep the new version: " + saved.message());
  }
  result.outcome = RefreshOutcome::kUpdated;
  return result;
}

}  // namespace safegate
