// exceptionFromRequest: the temporary exception an "exceptions.add" or "pause" control request
// asks for (docs/control-protocol.md) — kind, scope, duration and who grants it.
//
// Bounds (a huge `minutes` used to overflow a double→int64 cast): `minutes`
// must be a finite number above 0 and at most max_minutes (control.max_exception_minutes);
// `until` must be whole unix seconds after now and at most max_minutes ahead. `granted_by` is
// the peer of the connection (SO_PEERCRED, ControlRequest::peer), never a name the request
// claims: a request's own "granted_by" (safegatectl sends the sudo user) is kept only after
// it, as "root for alice", so the record always starts with who really asked.
// Control plane: allocates; a pure function, safe from any thread.
#pragma once

#include <cstdint>

#include "common/result.h"
#include "daemon/control/control_protocol.h"
#include "policy/exception_table.h"

namespace safegate {

inline constexpr size_t kMaxGrantedForBytes = 64;

// `now_unix_seconds` becomes the exception's start; the table still validates the name or
// category (ExceptionTable::withAdded).
Result<policy::TemporaryException> exceptionFromRequest(const ControlRequest& req,
                                                        int64_t now_unix_seconds,
                                                        int64_t max_minutes);

// Who acts: the connection's peer user ("uid N" without a passwd entry), then "for <name>" when
// the request names someone else in "granted_by" (at most kMaxGrantedForBytes, no control
// characters). Also the `decided_by` of an access request.
Result<std::string> grantedByFromRequest(const ControlRequest& req);

}  // namespace safegate
