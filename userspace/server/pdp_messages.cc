#include "server/pdp_messages.h"

#include <algorithm>

#include "protocol/policy_version.h"
#include "server/accounts_api.h"

namespace wiretag {
namespace {

using nlohmann::json;
using protocol::same_version;

constexpr std::string_view kSource = "wiretag-server";

json identities(const std::vector<PolicyIdent>& policies) {
  json out = json::array();
  for (const PolicyIdent& p : policies) out.push_back({{"name", p.name}, {"version", p.version}});
  return out;
}

bool holds(const std::vector<DeployedPolicy>& held, const PolicyIdent& p) {
  return std::any_of(held.begin(), held.end(),
                     [&](const DeployedPolicy& h) { return same_version(h, p); });
}

// The common head of ONAP's PdpMessage.
json message(std::string_view name, const std::string& cell, const CellAssignment& a,
             int64_t now_ms) {
  return {{"messageName", name},
          {"requestId", random_uuid()},
          {"timestampMs", now_ms},
          {"source", kSource},
          {"name", cell},
          {"pdpGroup", a.group},
          {"pdpSubgroup", a.subgroup}};
}

}  // namespace

json assignment_json(const std::string& cell, const CellAssignment& a) {
  return {{"name", cell},
          {"pdpGroup", a.group},
          {"pdpSubgroup", a.subgroup},
          {"state", a.state},
          {"mode", a.mode},
          {"locked", a.locked},
          {"policies", identities(a.policies)},
          {"revision", a.revision}};
}

json pdp_status_reply(const CellReport& report, const CellAssignment& a,
                      const std::map<PolicyIdent, PolicyTypeIdent>& types, int64_t now_ms) {
  json out = message("PDP_UPDATE", report.name, a, now_ms);
  out.update(assignment_json(report.name, a));
  // ONAP's ToscaPolicy without its properties: the cell reads the rules of every deployed
  // version in one consistent read (POST /internal/v1/endpoints/query with its "cell").
  json deploy = json::array();
  for (const PolicyIdent& p : a.policies) {
    if (holds(report.policies, p)) continue;
    const auto type = types.find(p);
    const bool known = type != types.end();
    deploy.push_back(
        {{"name", p.name},
         {"version", p.version},
         {"type", known ? type->second.name : std::string(kWhitelistPolicyType)},
         {"type_version", known ? type->second.version : std::string(kWhitelistPolicyTypeVersion)},
         {"metadata", {{"policy-id", p.name}, {"policy-version", p.version}}}});
  }
  json undeploy = json::array();
  for (const DeployedPolicy& h : report.policies)
    if (std::none_of(a.policies.begin(), a.policies.end(),
                     [&](const PolicyIdent& p) { return same_version(h, p); }))
      undeploy.push_back({{"name", h.name}, {"version", h.version}});
  out["description"] = a.locked ? "the PAP knows no group " + a.group + " with subgroup " +
                                      a.subgroup + ": the cell keeps what it holds"
                                : "the cell's deployment in " + a.group + "/" + a.subgroup;
  out["pdpHeartbeatIntervalMs"] = report.heartbeat_interval_ms;
  out["policiesToBeDeployed"] = std::move(deploy);
  out["policiesToBeUndeployed"] = std::move(undeploy);
  json change = message("PDP_STATE_CHANGE", report.name, a, now_ms);
  change["state"] = a.state;
  out["pdpStateChange"] = std::move(change);
  return out;
}

}  // namespace wiretag
