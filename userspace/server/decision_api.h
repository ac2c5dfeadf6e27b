// The Decision API (SPEC §4.5, seed 002: ONAP's /policy/pdpx/v1/decision shape): may a
// packet open a connection from one app to another, as the cells enforce it? Bearer tokens
// (network.admin, or network.write for its own accounts). docs/server.md, "Decision API";
// api/decision.yaml.
#pragma once

#include <string_view>

#include "core/decision_point.h"
#include "core/policy_graph.h"
#include "http/router.h"
#include "server/auth.h"

namespace wiretag {

inline constexpr std::string_view kDecisionPath = "/policy/pdpx/v1/decision";

// decisions, graph (for wire bytes) and auth outlive the router.
void add_decision_routes(http::Router& router, DecisionPoint& decisions, const PolicyGraph& graph,
                         Authenticator& auth);

}  // namespace wiretag
