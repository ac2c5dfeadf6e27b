// The account policies API (seed 003, SPEC §4.3): /v1/accounts/:account_id/policies.
#pragma once

#include "core/account_policies.h"
#include "core/policy_graph.h"
#include "http/router.h"
#include "server/auth.h"
#include "server/policy_keys.h"

namespace wiretag {

// Policies and policy keys; all four outlive the router. graph answers which apps a scoped
// token's rules may name.
void add_account_routes(http::Router& router, AccountPolicies& policies, PolicyGraph& graph,
                        Authenticator& auth, const PolicyKeySealer& keys);

// A random (version 4) UUID.
std::string random_uuid();

}  // namespace wiretag
