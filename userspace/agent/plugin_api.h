// The Policy Plugin API (seed 000, SPEC §4.2) served by the agent: which devices it manages
// and what each may receive, statically or by following an app on the server.
#pragma once

#include "agent/cell.h"
#include "agent/server_link.h"
#include "agent/trace_service.h"
#include "http/router.h"

namespace wiretag::agent {

// GET /healthz, and with `plugin` POST/GET/DELETE /whitelist.
void add_plugin_routes(http::Router& router, Cell& cell, ServerLink& link, bool plugin = true);

// POST /v1/trace: TraceService::trace on the request body (docs/agent.md, "Trace").
void add_trace_route(http::Router& router, const TraceService& traces);

}  // namespace wiretag::agent
