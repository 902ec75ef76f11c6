// Unpredictable bytes from the kernel (getrandom(2), blocking only until the pool is first
// seeded at boot). One place for the loop every caller needs: short reads of large requests
// and EINTR are retried; any other failure is returned, never papered over with weak bytes —
// query IDs, hash keys, idempotency keys and the pseudonymisation secret all depend on it.
#pragma once

#include <cstdint>
#include <span>

#include "common/result.h"

namespace safegate {

Status fillRandom(std::span<uint8_t> out);

}  // namespace safegate
