// Who may use the Policy Plugin API (SPEC §4.2). By default it is served only on a unix
// socket whose file mode (0600, the agent's user: root) decides; on TCP, only when asked for
// (--plugin-tcp), and then behind a bearer token unless the operator says insecure.
#pragma once

#include <string>
#include <string_view>

#include "http/router.h"

namespace wiretag::agent {

// Whether an Authorization header carries exactly this bearer token (the scheme in any case).
bool bearer_matches(std::string_view authorization, std::string_view token);

// Gates the Plugin API routes of `router` (/whitelist, /v1/events, /v1/trace; not /healthz
// or /metrics) on the token, before a body is read: 401 UNAUTHORIZED with WWW-Authenticate
// otherwise.
void require_bearer(http::Router& router, std::string token);

}  // namespace wiretag::agent
