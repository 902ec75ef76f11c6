// Fuzz target: dns.upstreams entries (policy/upstream_spec.h). Whatever parses must print as an
// entry that parses back to the same upstream, so status output and logs name it exactly.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "policy/upstream_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto spec = safegate::UpstreamSpec::parse(text);
  if (!spec) {
    if (spec.status().message().empty()) abort();
    return 0;
  }
  auto again = safegate::UpstreamSpec::parse(spec->toString());
  if (!again || again->protocol != spec->protocol || again->address != spec->address ||
      again->port != spec->port || again->tls_name != spec->tls_name || again->path != spec->path ||
      spec->port == 0) {
    abort();
  }
  return 0;
}
