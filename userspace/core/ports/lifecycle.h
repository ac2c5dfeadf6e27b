// The port for what the lifecycle API (TOSCA, SPEC §4.5) persists beyond account policies:
// the policy types created over it, and the reads and deletes of policy versions its view
// needs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/ports/policies.h"
#include "wiretag/result.h"

namespace wiretag {

// A TOSCA policy type created over the lifecycle API (the preloaded one is not stored).
struct PolicyTypeRecord {
  std::string name;
  std::string version;       // semantic, "1.0.0"
  std::string derived_from;  // a type name
  std::string body;          // the type's TOSCA definition, JSON
  friend bool operator==(const PolicyTypeRecord&, const PolicyTypeRecord&) = default;
};

// The lifecycle API's part of one store transaction (StoreTx::lifecycle()).
class LifecycleTx {
 public:
  virtual ~LifecycleTx() = default;
  // By name, then version (as stored; callers order versions semantically).
  virtual Result<std::vector<PolicyTypeRecord>> list_policy_types() = 0;
  // Fails when that version of the type exists.
  virtual Result<void> insert_policy_type(const PolicyTypeRecord& type) = 0;
  // false when there was no such type version.
  virtual Result<bool> delete_policy_type(std::string_view name, std::string_view version) = 0;
  // Every live account policy of every account, by id; the latest version.
  virtual Result<std::vector<PolicyRecord>> list_all_policies() = 0;
  // Removes one immutable version; false when there was none.
  virtual Result<bool> delete_policy_version(std::string_view id, int64_t version) = 0;
  // The highest stored version of a policy id, live or deleted; 0 when none.
  virtual Result<int64_t> highest_policy_version(std::string_view id) = 0;
};

}  // namespace wiretag
