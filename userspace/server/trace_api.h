// Routes that ask a cell (through CellRequests, over the cell's own watch):
//   POST /v1/trace {"source","destination","protocol","port"?,"ipv6"?,"reply"?,"cell"?}: the
//     cell hosting the destination runs its real programs on a synthesized packet (the
//     agent's "trace" op); the answer is the cell's, plus "cell" and, when the cell could not
//     say, the policy versions deployed to it that hold the matched rule.
//   POST /v1/cells/:name/ops/:op {…}: admin only, any op of the cell's agent ("status", …).
// Bearer auth; a foreign app is answered as a missing one (404 APP_NOT_FOUND).
#pragma once

#include <memory>

#include "core/cell_registry.h"
#include "core/pap.h"
#include "core/policy_graph.h"
#include "http/router.h"
#include "server/auth.h"
#include "server/cell_requests.h"
#include "core/ports/store.h"

namespace wiretag {

void add_cell_request_routes(http::Router& router, PolicyGraph& graph, Store& store, Pap& pap,
                             CellRegistry& cells, std::shared_ptr<CellRequests> requests,
                             Authenticator& auth);

}  // namespace wiretag
