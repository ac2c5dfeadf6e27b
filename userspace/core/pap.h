// The Policy Administration Point (SPEC §4.4, seed 004): PDP groups and their states, the
// policy versions deployed to each subgroup, what each cell must enforce and how far it got,
// and the audit trail. Over the abstract Store and the in-memory CellRegistry.
//
// PAP policy names: the built-in "default-whitelist" is one PAP policy, version "1.0.0",
// standing for the live default-whitelist edge table of every account; a named account
// policy (seed 003) is known to the PAP by its id (a UUID, unique across accounts) and its
// versions are "N.0.0" (N = the policy's version; "N" is accepted on input).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/cell_registry.h"
#include "core/deployed_rules.h"
#include "core/policy_graph.h"
#include "core/ports/pap.h"
#include "core/ports/store.h"
#include "wiretag/result.h"

namespace wiretag {

inline constexpr std::string_view kWhitelistPolicyType = "wiretag.policies.Whitelist";
inline constexpr std::string_view kWhitelistPolicyTypeVersion = "1.0.0";
inline constexpr std::string_view kDefaultWhitelistVersion = "1.0.0";
inline constexpr std::string_view kDefaultSubgroup = "tc";

// ACTIVE → enforce, TEST → audit, SAFE → enforce (no new deployments), PASSIVE → bypass.
std::string_view datapath_mode(std::string_view group_state);
bool is_group_state(std::string_view s);

// A requested policy: the version may be absent (the latest).
struct PolicyRef {
  std::string name;
  std::optional<std::string> version;
};

// One subgroup of a groups/batch request. policies and instance lists are ignored (ONAP).
struct SubgroupSpec {
  std::string pdp_type;
  int64_t desired_instances = 0;
  std::optional<std::vector<PolicyTypeIdent>> supported_types;  // used on create only
  nlohmann::json properties = nlohmann::json::object();
};

struct GroupSpec {
  std::string name;
  std::optional<std::string> description;
  std::optional<std::string> state;  // create: default PASSIVE; update: must not change
  std::optional<nlohmann::json> properties;
  std::vector<SubgroupSpec> subgroups;
};

enum class DeployAction { Post, Delete, Patch };

struct SubgroupDeployment {
  std::string pdp_type;
  DeployAction action = DeployAction::Post;
  std::vector<PolicyRef> policies;
};

struct GroupDeployment {
  std::string group;
  std::vector<SubgroupDeployment> subgroups;
};

// What a cell is told in reply to its PDP_STATUS.
struct CellAssignment {
  std::string group;
  std::string subgroup;
  std::string state;    // of its group; PASSIVE when locked
  std::string mode;     // enforce | audit | bypass
  bool locked = false;  // its group or subgroup is unknown
  std::vector<PolicyIdent> policies;
  int64_t revision = 0;
};

enum class DeployState { Waiting, Success, Failure };
std::string_view to_string(DeployState s);  // WAITING, SUCCESS, FAILURE (ONAP)

// One (cell, deployed policy version): ONAP PdpPolicyStatus.
struct PolicyStatus {
  std::string group;
  std::string pdp_type;
  std::string cell;
  PolicyIdent policy;
  DeployState state = DeployState::Waiting;
  std::string message;  // the cell's reason for a FAILURE
};

struct DeployedCounts {
  PolicyIdent policy;
  int64_t success = 0;
  int64_t failure = 0;
  int64_t incomplete = 0;  // WAITING
};

struct SubgroupView {
  PdpSubgroupRecord record;
  std::vector<PolicyIdent> policies;
  std::vector<Cell> cells;
  int64_t current_instances = 0;  // cells not expired
};

struct GroupView {
  PdpGroupRecord record;
  std::vector<SubgroupView> subgroups;
};

struct PapStatistics {
  int64_t cells = 0;
  int64_t healthy_cells = 0;
  int64_t groups = 0;
  int64_t deploy_requests = 0;    // audit DEPLOYMENT records
  int64_t undeploy_requests = 0;  // audit UNDEPLOYMENT records
  int64_t deploy_success = 0;     // (cell, policy) now SUCCESS
  int64_t deploy_failure = 0;     // now FAILURE
  int64_t deploy_waiting = 0;
  DatapathCounters datapath;  // sums of the cells' last reports
};

struct AuditFilter {
  std::optional<std::string> group;
  std::optional<std::string> policy;
  std::optional<std::string> version;
  std::optional<int64_t> from_ms;
  std::optional<int64_t> to_ms;
  int64_t limit = 10;
};

class Pap {
 public:
  // clock_ms: unix milliseconds (audit timestamps); the system clock when empty.
  Pap(Store& store, CellRegistry& cells, std::function<int64_t()> clock_ms = {});

  Result<std::vector<GroupView>> groups();
  // Creates or updates each group, atomically: INVALID_*, GROUP_STATE_CHANGE_REFUSED (use
  // set_state), SUBGROUP_HAS_POLICIES when an update drops a subgroup that holds policies.
  Result<void> apply_groups(const std::vector<GroupSpec>& groups, const std::string& user);
  // GROUP_NOT_FOUND, INVALID_STATE. Appends pdp.state_change.
  Result<void> set_state(const std::string& group, const std::string& state,
                         const std::string& user);
  // GROUP_NOT_FOUND; GROUP_NOT_PASSIVE (409) unless PASSIVE.
  Result<void> delete_group(const std::string& group, const std::string& user);

  // All or nothing: GROUP_NOT_FOUND, SUBGROUP_NOT_FOUND, GROUP_IN_SAFE_STATE, POLICY_NOT_FOUND,
  // POLICY_VERSION_NOT_FOUND, DEPLOYMENT_NOT_FOUND (DELETE of what is not deployed).
  Result<void> deploy_batch(const std::vector<GroupDeployment>& batch, const std::string& user);
  // To every subgroup of every ACTIVE group (ONAP); SUBGROUP_HAS_NO_PDP when one has no
  // live cell, NO_ACTIVE_GROUP when there is none.
  Result<void> deploy(const std::vector<PolicyRef>& policies, const std::string& user);
  // From every subgroup holding it (that version, or any version); DEPLOYMENT_NOT_FOUND.
  Result<void> undeploy(const std::string& name, const std::optional<std::string>& version,
                        const std::string& user);

  // Filters narrow; GROUP_NOT_FOUND / POLICY_NOT_FOUND for unknown ones.
  Result<std::vector<PolicyStatus>> policy_status(const std::optional<std::string>& group,
                                                  const std::optional<std::string>& policy,
                                                  const std::optional<std::string>& version);
  Result<std::vector<DeployedCounts>> deployed(const std::optional<std::string>& policy,
                                               const std::optional<std::string>& version);
  Result<std::vector<PapAuditRecord>> audit(const AuditFilter& filter);
  Result<PapStatistics> statistics();
  // The store answers a read.
  // The TOSCA type of each version: a named policy's own, as the lifecycle API gave it
  // (core/deployed_rules.h policy_types), else the preloaded type.
  Result<std::map<PolicyIdent, PolicyTypeIdent>> policy_types(
      const std::vector<PolicyIdent>& versions);
  Result<void> store_healthy();

  // For a cell's PDP_STATUS reply: its group's state, mode and policy versions.
  Result<CellAssignment> assignment(const std::string& group, const std::string& subgroup);
  // The rules the cell must enforce for these apps: the union of the rules into each app of
  // the policy versions deployed to the cell's subgroup. CELL_NOT_FOUND for a cell that never
  // reported; a locked cell gets no rules.
  Result<EffectiveRules> effective_rules(const std::string& cell,
                                         const std::vector<std::string>& guids,
                                         CellAssignment* assignment_out = nullptr);

  // "3", "3.0.0" → 3; nullopt otherwise.
  static std::optional<int64_t> parse_version(std::string_view v);

 private:
  int64_t now_ms() const;

  Store& store_;
  CellRegistry& cells_;
  std::function<int64_t()> clock_ms_;
};

}  // namespace wiretag
