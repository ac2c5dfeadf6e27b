// The policy server's own series (docs/metrics.md): tag space, cells, deployments, read at
// scrape time; and GET /metrics behind a bearer token with scope network.admin or metrics.
#pragma once

#include "core/cell_registry.h"
#include "core/pap.h"
#include "core/policy_graph.h"
#include "http/metrics.h"
#include "server/auth.h"
#include "core/ports/store.h"

namespace wiretag {

void add_server_metrics(http::Metrics& metrics, Store& store, const PolicyGraph& graph,
                        const CellRegistry& cells, Pap& pap);

// GET /metrics on the server's router (api "metrics").
void add_server_metrics_route(http::Router& router, const http::Metrics& metrics,
                              const Authenticator& auth);

}  // namespace wiretag
