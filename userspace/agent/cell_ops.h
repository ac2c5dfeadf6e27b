// The ops this agent answers to the server's requests (cell_requests.h, api/internal.yaml):
//   status: the agent's health, PAP state and mode, revision and endpoint count;
//   trace: TraceService::trace (the real programs on a synthesized packet; api/trace.yaml);
//   the services API's engine ops: tables, rows (engine_tables.h); resync, flush-flows,
//   reload-device (engine_actions.h).
#pragma once

#include <string>

#include "agent/cell.h"
#include "agent/cell_requests.h"
#include "agent/server_link.h"
#include "agent/trace_service.h"
#include "datapath/datapath.h"

namespace wiretag::agent {

void add_cell_ops(CellRequests& requests, Cell& cell, ServerLink& link, const TraceService& traces,
                  datapath::Datapath& dp, const std::string& name);

// The "status" op's answer; with the datapath, how full its hash maps are ("map_fill").
nlohmann::json cell_status(const Cell& cell, const ServerLink& link, const std::string& name,
                           const datapath::Datapath* dp = nullptr);

}  // namespace wiretag::agent
