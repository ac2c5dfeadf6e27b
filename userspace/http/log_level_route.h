// The process's log level, read and changed at run time: GET and PUT /v1/system/log-level
// ({"level":"debug"}), on the server (admin bearer) and on the agent's Plugin API socket
// (root only). A change is logged with who made it.
#pragma once

#include <functional>

#include "http/router.h"

namespace wiretag::http {

// `authorize` (may be empty) refuses a request by returning an error; it runs before the body
// is looked at. A bad level is 400 INVALID_LOG_LEVEL and changes nothing.
void add_log_level_routes(Router& router,
                          std::function<Result<void>(const Request&)> authorize = {});

}  // namespace wiretag::http
