// Fuzzes the name normalisers (filters/domain_name.h): the data-plane normaliser must never
// read or write out of bounds, and whatever either normaliser accepts must be canonical:
// normalising it again gives the same text, and label iteration agrees with SuffixWalk.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "filters/domain_name.h"
#include "filters/domain_set.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void checkCanonical(std::string_view canonical) {
  safegate::NameBuffer again;
  check(safegate::normalizeWireName(canonical, again) == safegate::WireNameStatus::kOk);
  check(again.view() == canonical);
  std::array<uint16_t, safegate::kMaxLabels> starts;
  const size_t labels = safegate::labelStarts(canonical, starts);
  size_t walked = 0;
  for (safegate::SuffixWalk w(canonical); !w.done(); w.next()) {
    check(walked < labels);
    check(w.suffix() == canonical.substr(starts[walked]));
    check(safegate::isSameOrSubdomain(canonical, w.suffix()));
    ++walked;
  }
  check(walked == labels);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  safegate::NameBuffer wire;
  if (safegate::normalizeWireName(in, wire) == safegate::WireNameStatus::kOk) {
    checkCanonical(wire.view());
  }
  for (auto syntax : {safegate::NameSyntax::kListEntry, safegate::NameSyntax::kHostname}) {
    auto r = safegate::normalizeDomain(in, syntax);
    if (r.isOk()) {
      checkCanonical(*r);
      // A name that is in a set must be found by itself.
      safegate::DomainSet::Builder b;
      b.add(*r, safegate::DomainMatchKind::kExact, 1, 1);
      const safegate::DomainSet set = b.build();
      check(set.find(*r).found);
    }
  }
  return 0;
}
