// The internal API the cell agents use (/internal/v1): the change-log watch (long poll),
// effective rules of apps, the change log, and PDP_STATUS heartbeats of cells.
#pragma once

#include <boost/asio/io_context.hpp>

#include "core/cell_registry.h"
#include "core/change_notifier.h"
#include "core/pap.h"
#include "core/policy_graph.h"
#include "http/router.h"
#include "server/auth.h"
#include "server/cell_requests.h"

namespace wiretag {

// Every argument outlives the router; waiting watches run their timers on ioc. The
// notifier must be fed by the graph's store (Store::add_commit_observer); closing it answers
// every waiting watch at once.
// pap answers PDP_STATUS with the cell's assignment and endpoints/query with a "cell"; a
// stream that names its cell carries the cell's requests. A cell whose PDP_STATUS does not
// say its heartbeatIntervalMs (ONAP's PDPs) is judged by pdp_heartbeat_interval_ms.
inline constexpr int64_t kDefaultPdpHeartbeatIntervalMs = 10000;  // the agent's default
void add_internal_routes(http::Router& router, PolicyGraph& graph, Pap& pap,
                         ChangeNotifier& notifier, CellRegistry& cells, CellRequests& requests,
                         Authenticator& auth, boost::asio::io_context& ioc,
                         int64_t pdp_heartbeat_interval_ms = kDefaultPdpHeartbeatIntervalMs);

}  // namespace wiretag
