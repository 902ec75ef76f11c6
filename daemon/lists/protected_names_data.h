// The protected names shipped with safegate (daemon/data/protected/: the Moz top-500 sites and
// ~10.5k university domains, both MIT): what the over-blocking guard of list subscriptions
// checks downloaded entries against (daemon/lists/list_gate.h).
#pragma once

#include "daemon/lists/list_gate.h"

namespace safegate {

ProtectedNames shippedProtectedNames();

}  // namespace safegate
