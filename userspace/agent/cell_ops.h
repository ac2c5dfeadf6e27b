// The ops this agent answers to the server's requests (cell_requests.h, api/internal.yaml):
//   status: the agent's health, PAP state and mode, revision and endpoint count;
//   trace: TraceService::trace (the real programs on a synthesized packet; api/trace.yaml).
#pragma once

#include <string>

#include "agent/cell.h"
#include "agent/cell_requests.h"
#include "agent/server_link.h"
#include "agent/trace_service.h"

namespace wiretag::agent {

void add_cell_ops(CellRequests& requests, Cell& cell, ServerLink& link, const TraceService& traces,
                  const std::string& name);

// The "status" op's answer.
nlohmann::json cell_status(const Cell& cell, const ServerLink& link, const std::string& name);

}  // namespace wiretag::agent
