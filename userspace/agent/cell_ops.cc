#include "agent/cell_ops.h"

namespace wiretag::agent {

using nlohmann::json;

json cell_status(const Cell& cell, const ServerLink& link, const std::string& name) {
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
  return out;
}

void add_cell_ops(CellRequests& requests, Cell& cell, ServerLink& link, const TraceService& traces,
                  const std::string& name) {
  requests.add("status", [&cell, &link, name](const json&) -> Result<json> {
    return cell_status(cell, link, name);
  });
  requests.add("trace", [&traces](const json& body) { return traces.trace(body); });
}

}  // namespace wiretag::agent
