// TOSCA policies of the lifecycle API (seed 002 §4.2, SPEC §4.5): one store, two views. A
// TOSCA policy of type wiretag.policies.Whitelist (or a type derived from it) IS an account
// policy (core/account_policies.h):
//   TOSCA name (the key, = metadata.policy-id)   ↔ account policy id
//   version "N.0.0" (= metadata.policy-version)  ↔ version N
//   properties.account, properties.rules         ↔ account, rules
//   metadata.name, metadata.refid                ↔ name (default: the id), refid
//   type, type_version, description, other metadata and the properties a derived type adds
//                                                ↔ the policy's `tosca` member, kept by both
// Versions are immutable: a new version is the next N.0.0 (or no version given); an existing
// version posted again is accepted when identical, else POLICY_VERSION_CONFLICT.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/account_policies.h"
#include "core/ports/store.h"
#include "wiretag/result.h"

namespace wiretag {

// {"<id>": {"type","type_version","version","name","metadata","properties",...}}.
nlohmann::json to_tosca(const Policy& policy);
// The policy's TOSCA type and its version: the one the lifecycle API gave it (a type derived
// from wiretag.policies.Whitelist, say), else the preloaded wiretag.policies.Whitelist 1.0.0.
std::string type_of(const Policy& policy);
std::string type_version_of(const Policy& policy);
// {"tosca_definitions_version","topology_template":{"policies":[to_tosca(p)...]}}.
nlohmann::json tosca_policies_template(const std::vector<Policy>& policies);

// Which policies a GET or DELETE names; unset members match anything.
struct ToscaPolicyQuery {
  std::optional<std::string> type;          // with type_version
  std::optional<std::string> type_version;  // a version or "latest"
  std::optional<std::string> id;
  std::optional<std::string> version;  // "N", "N.0.0" or "latest"
};

class ToscaPolicies {
 public:
  explicit ToscaPolicies(Store& store) : store_(store) {}

  // Every matching version of every live policy, by id then version. POLICY_TYPE_NOT_FOUND
  // for an unknown type; POLICY_NOT_FOUND / POLICY_VERSION_NOT_FOUND when an id / a version
  // is named and nothing matches.
  Result<std::vector<Policy>> list(const ToscaPolicyQuery& query);
  // The policies of a service template's topology_template, all or none. `type` (with
  // type_version) is the type a typed path names: each policy must be of it.
  Result<std::vector<Policy>> create(const nlohmann::json& service_template,
                                     const ToscaPolicyQuery& type = {});
  // One version (query.id and query.version set). POLICY_DEPLOYED while the PAP has it
  // deployed. The latest version removed, the policy falls back to the one before it; the
  // only one removed, the policy is deleted.
  Result<Policy> remove(const ToscaPolicyQuery& query);

 private:
  Store& store_;
};

}  // namespace wiretag
