// What the PAP (SPEC §4.4) persists: PDP groups with their subgroups, the policy versions
// deployed to each subgroup, and the audit trail. Plain records, no backend types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wiretag {

struct PdpSubgroupRecord {
  std::string pdp_type;  // the subgroup's name, e.g. "tc"
  int64_t desired_instances = 0;
  std::string supported_types = "[]";  // JSON array of {"name","version"}
  std::string properties = "{}";       // JSON object
};

struct PdpGroupRecord {
  std::string name;
  std::string description;
  std::string state;  // ACTIVE | PASSIVE | SAFE | TEST
  std::string properties = "{}";
  std::vector<PdpSubgroupRecord> subgroups;  // by pdp_type
};

// One policy version deployed to one subgroup; a subgroup holds one version per policy name.
struct DeploymentRecord {
  std::string group;
  std::string pdp_type;
  std::string policy;   // PAP policy name
  std::string version;  // "N.0.0"
  int64_t deployed_at_ms = 0;
};

struct PapAuditRecord {
  int64_t id = 0;  // assigned by the store
  std::string group;
  std::string pdp_type;  // "" for group-wide actions
  std::string policy;    // "" for actions on a group
  std::string version;
  std::string action;  // DEPLOYMENT | UNDEPLOYMENT | STATE_CHANGE | GROUP_CREATE | ...
  std::string detail;  // e.g. the new state
  std::string user;
  int64_t at_ms = 0;
};

struct PapAuditQuery {
  std::optional<std::string> group;
  std::optional<std::string> policy;
  std::optional<std::string> version;
  std::optional<int64_t> from_ms;  // inclusive
  std::optional<int64_t> to_ms;    // inclusive
  int64_t limit = 10;              // newest first
};

}  // namespace wiretag
