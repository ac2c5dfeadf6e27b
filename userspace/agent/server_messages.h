// What the policy server sends a cell, parsed: the answer of POST
// /internal/v1/endpoints/query and the events of the watch (api/internal.yaml). Every field
// is checked; a malformed answer is INVALID_RESPONSE.
#pragma once

#include <nlohmann/json.hpp>

#include "agent/cell.h"
#include "wiretag/result.h"

namespace wiretag::agent {

// Parses the body of POST /internal/v1/endpoints/query; INVALID_RESPONSE when malformed.
Result<ServerSnapshot> parse_snapshot(const nlohmann::json& body);
// The store id and revision of GET /internal/v1/status, as a snapshot of no app.
Result<ServerSnapshot> parse_server_status(const nlohmann::json& body);
// Parses one watch event.
Result<ChangeEvent> parse_event(const nlohmann::json& event);

}  // namespace wiretag::agent
