// The access log: one record per request a router answers or refuses (its outcome observer),
// at info, logger "access": method, route pattern, path, status, duration, principal, API and
// request id (when there is one). The binaries add it unless --access-log=false.
#pragma once

#include "http/router.h"

namespace wiretag::http {

void log_access(Router& router);

}  // namespace wiretag::http
