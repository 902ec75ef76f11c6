// The dashboard's certificate when the operator gave none: a self-signed ECDSA P-256
// certificate made once at first start (docs/dashboard.md). Browsers warn about it until it is
// trusted or replaced; it still encrypts the passwords and children's data on the way, which
// plain HTTP would not. Subject "safegate dashboard", names localhost, the machine's host name
// and the listen address, valid 825 days (the longest browsers accept).
// Control plane (start-up); no shared state.
#pragma once

#include <filesystem>
#include <string>

#include "common/result.h"

namespace safegate::ui {

// Makes `cert` and `key` (mode 0600) when neither exists; ok when both exist. One without the
// other is an error naming the missing one (never overwritten: it may be the operator's).
// `address` (an IP literal) is added to the certificate's names unless it is a wildcard.
Status ensureSelfSignedCertificate(const std::filesystem::path& cert,
                                   const std::filesystem::path& key, const std::string& address);

}  // namespace safegate::ui
