// /v1/tokens (admin only): issue, list (never the secret), revoke, rotate the admin token.
#pragma once

#include "http/router.h"
#include "server/auth.h"

namespace wiretag {

// Adds POST/GET /v1/tokens, DELETE /v1/tokens/:id and POST /v1/tokens/rotate-admin. auth
// outlives the router.
void add_token_routes(http::Router& router, Authenticator& auth);

}  // namespace wiretag
