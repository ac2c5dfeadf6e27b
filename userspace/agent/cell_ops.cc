#include "agent/cell_ops.h"

#include "agent/engine_actions.h"
#include "agent/engine_tables.h"

namespace wiretag::agent {

using nlohmann::json;

json cell_status(const Cell& cell, const ServerLink& link, const std::string& name,
                 const datapath::Datapath* dp) {
  PdpView pdp = link.pdp();
  const bool locked = pdp.assignment && pdp.assignment->locked;
  const bool healthy = link.synced() && link.connected() && !locked;
  json out = {{"cell", name},
              {"healthy", healthy},
              {"synced", link.synced()},
              {"connected", link.connected()},
              {"revision", link.revision()},
              {"endpoints", cell.stats().endpoints},
              {"policies", to_json(pdp.held)},
              {"failedPolicies", to_json(pdp.failed)}};
  auto mode = cell.mode();
  out["mode"] = mode ? json(datapath::mode_name(static_cast<uint8_t>(*mode))) : json(nullptr);
  if (pdp.assignment) {
    out["group"] = pdp.assignment->group;
    out["subgroup"] = pdp.assignment->subgroup;
    out["state"] = locked ? "SAFE" : pdp.assignment->state;  // as PDP_STATUS says
    out["locked"] = locked;
  }
  if (locked) out["reason"] = lock_reason(*pdp.assignment);
  if (dp) out["map_fill"] = map_fill(*dp);
  return out;
}

void add_cell_ops(CellRequests& requests, Cell& cell, ServerLink& link, const TraceService& traces,
                  datapath::Datapath& dp, const std::string& name) {
  requests.add("status", [&cell, &link, &dp, name](const json&) -> Result<json> {
    return cell_status(cell, link, name, &dp);
  });
  requests.add("trace", [&traces](const json& body) { return traces.trace(body); });
  add_table_ops(requests, dp);
  add_action_ops(requests, cell, link, dp);
}

}  // namespace wiretag::agent
