// What is deployed where (PAP deployments: policy versions per group and subgroup) and the
// rules a set of deployed policy versions puts into one app, each with the version it comes
// from. Pap::effective_rules (what a cell installs) and the Decision API (why a packet is
// allowed) both read rules through here, so they cannot disagree.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "core/account_policies.h"
#include "core/policy_graph.h"
#include "core/ports/pap.h"
#include "core/ports/store.h"
#include "protocol/policy_version.h"
#include "wiretag/result.h"

namespace wiretag {

// A PAP policy version: "default-whitelist" 1.0.0, or a named policy's id and "N.0.0".
using PolicyIdent = protocol::PolicyVersion;

// (group, pdp_type, policy name) → version.
using DeploymentKey = std::tuple<std::string, std::string, std::string>;
using DeploymentMap = std::map<DeploymentKey, std::string>;

const PdpSubgroupRecord* find_subgroup(const PdpGroupRecord& g, std::string_view pdp_type);
Result<DeploymentMap> load_deployments(PapPort& tx);
// The versions deployed to one subgroup, by policy name.
std::vector<PolicyIdent> policies_of(const DeploymentMap& m, std::string_view group,
                                     std::string_view pdp_type);

// A TOSCA policy type: {name, version} (a subgroup's supported types, a version's type).
struct PolicyTypeIdent {
  std::string name;
  std::string version;
  friend bool operator==(const PolicyTypeIdent&, const PolicyTypeIdent&) = default;
};
// Each version's type, read in tx: a named policy's own (core/tosca_policies.h type_of), else
// (default-whitelist, a version gone meanwhile) the preloaded wiretag.policies.Whitelist 1.0.0.
Result<std::map<PolicyIdent, PolicyTypeIdent>> policy_types(
    PoliciesPort& tx, const std::vector<PolicyIdent>& versions);

// One rule into an app as a cell enforces it, and the deployed version that holds it.
struct SourcedRule {
  EffectiveRule rule;
  PolicyIdent policy;
  std::string policy_name;  // the named policy's name; "default-whitelist"
  PolicyTypeIdent type;     // the version's TOSCA type (policy_types, below)
};

class DeployedRules {
 public:
  // The versions' contents, read in tx; versions that no longer exist are skipped.
  static Result<DeployedRules> load(PoliciesPort& tx, const std::vector<PolicyIdent>& versions);

  // Every rule the versions put into `app`: default-whitelist's edges first, then each named
  // version's rules in the order loaded. A named policy counts only for apps of its own
  // account (the destination's owner decides); rules whose source app is gone are left out.
  // Not deduplicated: the same rule in two versions appears twice, once for each.
  Result<std::vector<SourcedRule>> into(StoreTx& tx, const AppRecord& app);

 private:
  bool whitelist_ = false;
  std::vector<std::pair<PolicyIdent, Policy>> named_;
  std::map<std::string, uint32_t, std::less<>> source_tags_;  // 0: the source is gone
};

}  // namespace wiretag
