// The port for what the PAP (SPEC §4.4) persists: PDP groups with their subgroups, the policy
// versions deployed to each subgroup, and the audit trail. Plain records, no backend types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wiretag/result.h"

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

class PapPort {
 public:
  virtual ~PapPort() = default;

  virtual Result<std::vector<PdpGroupRecord>> list_pdp_groups() = 0;  // by name
  virtual Result<std::optional<PdpGroupRecord>> find_pdp_group(std::string_view name) = 0;
  // Inserts or replaces the group with exactly these subgroups; what was deployed to a
  // subgroup it no longer has goes with it.
  virtual Result<void> put_pdp_group(const PdpGroupRecord& group) = 0;
  // Removes the group, its subgroups and what is deployed to them.
  virtual Result<void> delete_pdp_group(std::string_view name) = 0;
  // By group, pdp_type, policy.
  virtual Result<std::vector<DeploymentRecord>> list_deployments() = 0;
  // Inserts, or replaces the version deployed for (group, pdp_type, policy).
  virtual Result<void> put_deployment(const DeploymentRecord& deployment) = 0;
  // false when nothing was deployed there.
  virtual Result<bool> delete_deployment(std::string_view group, std::string_view pdp_type,
                                         std::string_view policy) = 0;
  // Returns the record's id (increasing).
  virtual Result<int64_t> append_pap_audit(const PapAuditRecord& record) = 0;
  // Newest first, at most query.limit.
  virtual Result<std::vector<PapAuditRecord>> pap_audit(const PapAuditQuery& query) = 0;
  virtual Result<int64_t> count_pap_audit(std::string_view action) = 0;
  // Removes the audit records older than `before_ms` (0: no age bound) and all but the
  // newest `keep_records` (0: no count bound). Returns how many it removed.
  virtual Result<int64_t> prune_pap_audit(int64_t keep_records, int64_t before_ms) = 0;
};

}  // namespace wiretag
