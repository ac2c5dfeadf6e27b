// What the PAP asks of this cell (SPEC §4.4): its group's state, the datapath mode that state
// implies, and the policy versions deployed to its group and subgroup. The server sends it
// in reply to every PDP_STATUS, with every endpoints query that names the cell, and in
// pieces on the watch (pdp.update, pdp.state_change).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "datapath/datapath.h"
#include "protocol/policy_version.h"
#include "wiretag/result.h"

namespace wiretag::agent {

// The PAP policy standing for the server's edges (POST /whitelist); the only one whose rules
// change in place (named policy versions are immutable).
inline constexpr std::string_view kDefaultWhitelist = "default-whitelist";

// A deployed policy version as the PAP names it: "default-whitelist" 1.0.0, or a named
// policy's id with version N.0.0 (the server also accepts "N").
using protocol::PolicyVersion;
// Versions compare as the server compares them: "3" is "3.0.0"; "03" is no version N.
using protocol::same_version;
// The same versions, in any order.
bool same_policies(const std::vector<PolicyVersion>& a, const std::vector<PolicyVersion>& b);
// Those of `from` that `other` does not hold.
std::vector<PolicyVersion> without(const std::vector<PolicyVersion>& from,
                                   const std::vector<PolicyVersion>& other);

// A version the cell could not hold, and why ("MAP_FULL: …"): PDP_STATUS failedPolicies.
struct FailedPolicy {
  PolicyVersion policy;
  std::string reason;
};

struct Assignment {
  std::string group;
  std::string subgroup;
  std::string state = "PASSIVE";  // the group's: ACTIVE, TEST, SAFE, PASSIVE
  datapath::Mode mode = datapath::Mode::Bypass;
  bool locked = false;  // the server knows no such group or subgroup: fail closed (frozen())
  std::vector<PolicyVersion> policies;
  int64_t revision = 0;  // the change-log revision it was read at
};

// Fail closed (SPEC §3): a cell whose group or subgroup the PAP does not know (locked), and a
// cell of a SAFE group, take no rules and a locked one no mode from the server: each keeps
// what it enforces (pinned across restarts); a device attached meanwhile denies every tagged
// source the cell does not already admit for its app. The group leaving SAFE, or becoming
// known, resyncs the cell.
bool frozen(const Assignment& a);
// Why a locked cell reports NOT_HEALTHY (PDP_STATUS description, /healthz).
std::string lock_reason(const Assignment& a);

// "enforce" | "audit" | "bypass".
Result<datapath::Mode> parse_mode(const std::string& mode);
// The PDP_STATUS reply, or the "cell" member of an endpoints query reply (api/internal.yaml
// CellAssignment). INVALID_RESPONSE when malformed.
Result<Assignment> parse_assignment(const nlohmann::json& j);
Result<std::vector<PolicyVersion>> parse_policy_versions(const nlohmann::json& j);

nlohmann::json to_json(const std::vector<PolicyVersion>& policies);
nlohmann::json to_json(const std::vector<FailedPolicy>& failed);

}  // namespace wiretag::agent
