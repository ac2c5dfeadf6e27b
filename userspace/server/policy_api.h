// The Policy Server API (seed 000, SPEC §4.1) and its companions: apps, tokens, changes.
#pragma once

#include "core/policy_graph.h"
#include "http/router.h"
#include "server/auth.h"

namespace wiretag {

// Adds every route of the Policy Server API to router. graph and auth outlive the router.
void add_policy_server_routes(http::Router& router, PolicyGraph& graph, Authenticator& auth);

}  // namespace wiretag
