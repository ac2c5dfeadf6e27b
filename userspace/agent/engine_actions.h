// The cell engine's actions (the services API, api/internal.yaml ops):
//   resync         the cell resyncs from the server now, rewriting every followed app's rules
//                  (rules changed behind its back are restored): {"outcome":"ok","revision",
//                  "duration_ms"}, or the error that stopped it (RESYNC_FAILED);
//   flush-flows    forgets the flows the endpoints originated (all, or one device's):
//                  {"flushed":N} (Datapath::flush_flows);
//   reload-device  attaches the programs to a managed device again (Cell::reattach):
//                  {"device","reloaded":true,"ifindex"}; DEVICE_NOT_FOUND if not managed.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>

#include "agent/cell.h"
#include "agent/cell_requests.h"
#include "agent/server_link.h"
#include "datapath/datapath.h"
#include "wiretag/result.h"

namespace wiretag::agent {

// {"device":{"namespace","interface_name"}} of an action's body: nullopt when absent and not
// `required` (MISSING_FIELD when required), INVALID_FIELD_TYPE / UNKNOWN_FIELD when malformed.
Result<std::optional<datapath::Device>> action_device(const nlohmann::json& body, bool required);

void add_action_ops(CellRequests& requests, Cell& cell, ServerLink& link, datapath::Datapath& dp);

}  // namespace wiretag::agent
