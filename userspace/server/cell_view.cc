#include "server/cell_view.h"

#include <algorithm>

namespace wiretag {

using nlohmann::json;

json cell_json(const Cell& c) {
  const CellReport& r = c.report;
  json policies = json::array();
  for (const DeployedPolicy& p : r.policies)
    policies.push_back({{"name", p.name}, {"version", p.version}});
  json out = {{"name", r.name},
              {"pdpType", r.pdp_type},
              {"pdpGroup", r.pdp_group},
              {"pdpSubgroup", r.pdp_subgroup},
              {"state", r.state},
              {"healthy", c.healthy},
              {"reportedHealthy", r.healthy},
              {"expired", c.expired},
              {"lastHeartbeatMs", c.last_heartbeat_ms},
              {"heartbeatIntervalMs", r.heartbeat_interval_ms},
              {"description", r.description},
              {"policies", policies}};
  out["deploymentInstanceInfo"] =
      r.deployment_instance_info.empty() ? json(nullptr) : json(r.deployment_instance_info);
  out["revision"] = r.revision ? json(*r.revision) : json(nullptr);
  out["statistics"] = r.statistics ? *r.statistics : json(nullptr);
  out["properties"] = r.properties ? *r.properties : json(nullptr);
  out["datapath"] = r.datapath ? json{{"endpoints", r.datapath->endpoints},
                                      {"allowed", r.datapath->allowed},
                                      {"dropped", r.datapath->dropped},
                                      {"audited", r.datapath->audited}}
                               : json(nullptr);
  out["hostedApps"] = r.hosted_apps;
  out["vtepAddresses"] = r.vtep_addresses;
  return out;
}

std::vector<Cell> cells_hosting(const CellRegistry& cells, std::string_view app_guid) {
  std::vector<Cell> out;
  for (Cell& c : cells.list()) {
    const auto& apps = c.report.hosted_apps;
    if (!c.expired && std::find(apps.begin(), apps.end(), app_guid) != apps.end())
      out.push_back(std::move(c));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Cell& a, const Cell& b) { return a.healthy && !b.healthy; });
  return out;
}

}  // namespace wiretag
