// GET /v1/edges: the default-whitelist edges into an app, out of an app, or of an account, with
// both ends' wire bytes (the listing behind `wiretag edge list`).
#pragma once

#include "core/policy_graph.h"
#include "http/router.h"
#include "server/auth.h"
#include "core/ports/store.h"

namespace wiretag {

// store, graph and auth outlive the router.
void add_edge_routes(http::Router& router, Store& store, PolicyGraph& graph, Authenticator& auth);

}  // namespace wiretag
