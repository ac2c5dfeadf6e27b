// Named, versioned policies of an account (seed 003, SPEC §2): every change makes a new
// immutable version. The built-in default-whitelist is the policy graph's edge table and is
// not managed here.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/policy_compiler.h"
#include "core/ports/store.h"
#include "protocol/change_events.h"
#include "wiretag/result.h"

namespace wiretag {

// One edge of a named policy: source app guid or "*", destination app guid.
struct PolicyRule {
  std::string source;
  std::string destination;
  Protocol protocol = Protocol::Any;
  std::optional<PortRange> ports;
  friend bool operator==(const PolicyRule&, const PolicyRule&) = default;
};

struct Policy {
  std::string id;
  std::string account;
  std::optional<std::string> refid;
  std::string name;
  int64_t version = 1;
  std::vector<PolicyRule> rules;
  // What only the lifecycle API's view holds (core/tosca_policies.h): {"type","type_version",
  // "description","metadata","properties"}, each when set there; null when none is.
  nlohmann::json tosca;
};

// What a caller sets; absent members of a patch stay as they are.
struct PolicyDraft {
  std::optional<std::string> name;
  std::optional<std::optional<std::string>> refid;  // set to nullopt to clear
  std::optional<std::vector<PolicyRule>> rules;
};

nlohmann::json to_json(const Policy& policy);
// The policy a stored record holds; STORE_ERROR when its body is corrupt.
Result<Policy> policy_from_record(const PolicyRecord& record);
nlohmann::json to_json(const std::vector<PolicyRule>& rules);
PolicyRecord to_policy_record(const Policy& policy);
// Logs a policy's change (policy.created, .updated, .deleted) for the cells; an update also
// names the rules it replaced.
Result<void> log_policy_change(ChangeLogPort& tx, protocol::EventKind kind, const Policy& policy,
                               const Policy* previous = nullptr);

// Checks what is present: name (not the reserved default-whitelist), refid, rules.
Result<void> check_policy_draft(const PolicyDraft& draft);

// What is wrong with one rule, and in which of its fields ("source", "destination", "ports"):
// the lifecycle API names the field in its own path (tosca_policies.cc).
struct RuleFault {
  std::string_view field;
  Error error;
};
std::optional<RuleFault> check_policy_rule(const PolicyRule& rule);

class AccountPolicies {
 public:
  // new_id returns a fresh UUID for each created policy.
  AccountPolicies(Store& store, std::function<std::string()> new_id)
      : store_(store), new_id_(std::move(new_id)) {}

  Result<std::vector<Policy>> list(std::string_view account);
  // POLICY_NOT_FOUND; AMBIGUOUS_REFID when a refid names several policies.
  Result<Policy> get(std::string_view account, std::string_view id_or_refid);
  // name and rules required (MISSING_FIELD); INVALID_RULE, INVALID_GUID for bad rules.
  Result<Policy> create(std::string_view account, const PolicyDraft& draft);
  // replace: name and rules required; patch: anything present. Both bump the version.
  Result<Policy> update(std::string_view account, std::string_view id_or_refid,
                        const PolicyDraft& draft, bool replace);
  Result<void> remove(std::string_view account, std::string_view id_or_refid);

  // Every version of the policy, oldest first: by id or refid while it exists, and by id
  // after it was deleted (versions are immutable and kept). POLICY_NOT_FOUND.
  Result<std::vector<Policy>> versions(std::string_view account, std::string_view id_or_refid);
  // One version; POLICY_NOT_FOUND, POLICY_VERSION_NOT_FOUND.
  Result<Policy> version(std::string_view account, std::string_view id_or_refid, int64_t version);

 private:
  Store& store_;
  std::function<std::string()> new_id_;
};

}  // namespace wiretag
