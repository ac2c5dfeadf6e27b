// The services API (SPEC §4.6, seed 001's service-based proposal; api/services.yaml): every
// cell's policy engine ("cell:<name>", read live from the cell through CellRequests) and the
// server's data sources (apps, cells, policies, groups) behind one set of paths:
//   GET  /v1/services[?type=datasource|policy-engine]
//   GET  /v1/services/:id/tables
//   GET  /v1/services/:id/tables/:table/rows[?<column>=<value>…&limit=N&offset=M]
//   GET  /v1/services/:id/status
//   GET  /v1/services/:id/actions
//   POST /v1/services/:id/actions/:action {<parameters>}
//   GET  /v1/services/:id/policies
// and the same without "/services/:id" for the default service (/v1/tables, /v1/status, …);
// /v1/system/default-service (GET, PUT, DELETE) and /v1/system/service-aliases[/:alias] name
// services. :id is a service id or an alias. Bearer auth: engines, the cells and groups data
// sources, actions and setting names need network.admin; an account-scoped token reads the
// apps and policies data sources, its own accounts' rows only.
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

void add_services_routes(http::Router& router, PolicyGraph& graph, Store& store, Pap& pap,
                         CellRegistry& cells, std::shared_ptr<CellRequests> requests,
                         Authenticator& auth);

}  // namespace wiretag
