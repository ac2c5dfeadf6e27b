// TOSCA policy types of the lifecycle API (seed 002 §4.1, SPEC §4.5): the preloaded,
// read-only wiretag.policies.Whitelist 1.0.0 and the types derived from it, and the check of
// a policy's properties against its type, naming the path of the bad field.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ports/store.h"
#include "wiretag/result.h"

namespace wiretag {

inline constexpr std::string_view kToscaDefinitionsVersion = "tosca_simple_yaml_1_1_0";

struct PolicyType {
  std::string name;
  std::string version;
  std::string derived_from;
  nlohmann::json definition;  // as TOSCA shows it, with "name" and "version"
  bool preloaded = false;
};

// "x.y.z" with decimal parts; nullopt otherwise. Orders versions semantically.
std::optional<std::array<int64_t, 3>> parse_semantic_version(std::string_view v);

// The one preloaded type.
const PolicyType& whitelist_policy_type();

// {"tosca_definitions_version","data_types","policy_types":{name: definition}}. A name with
// several versions in one answer is keyed "name:version" (TOSCA's concept key) for each.
nlohmann::json policy_types_template(const std::vector<PolicyType>& types);

// The chain of a type: itself first, then what it derives from, up to the preloaded type.
using PolicyTypeChain = std::vector<PolicyType>;

// A policy's "properties" against the properties its type chain defines: UNKNOWN_PROPERTY,
// MISSING_PROPERTY, INVALID_PROPERTY_TYPE, each message starting with the field's path
// ("properties.rules[2].ports.start: ..."). Values (guids, ranges) are checked by the caller.
Result<void> check_policy_properties(const nlohmann::json& properties,
                                     const PolicyTypeChain& chain);

class PolicyTypes {
 public:
  explicit PolicyTypes(Store& store) : store_(store) {}

  // The preloaded type first, then the stored ones by name and version.
  Result<std::vector<PolicyType>> list();
  // Every version of one type; POLICY_TYPE_NOT_FOUND.
  Result<std::vector<PolicyType>> versions(std::string_view name);
  // One version, or "latest"; POLICY_TYPE_NOT_FOUND.
  Result<PolicyType> get(std::string_view name, std::string_view version);
  // Every type of a service template, all or none. A type version that exists already is
  // answered as it is when the definition is the same; else POLICY_TYPE_VERSION_CONFLICT
  // (POLICY_TYPE_READ_ONLY for the preloaded type).
  Result<std::vector<PolicyType>> create(const nlohmann::json& service_template);
  // POLICY_TYPE_READ_ONLY for the preloaded type; POLICY_TYPE_IN_USE when a policy version is
  // of this type or another type derives from it.
  Result<PolicyType> remove(std::string_view name, std::string_view version);

  // Inside a transaction: a type version (or "latest") with its chain; POLICY_TYPE_NOT_FOUND.
  static Result<PolicyTypeChain> chain(StoreTx& tx, std::string_view name,
                                       std::string_view version);

 private:
  Store& store_;
};

}  // namespace wiretag
