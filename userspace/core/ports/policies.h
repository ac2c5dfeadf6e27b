// The port for account policies (SPEC §4.2): the live policy of each id, and every version
// it ever had, immutable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wiretag/result.h"

namespace wiretag {

struct PolicyRecord {
  std::string id;  // UUID
  std::string account;
  std::optional<std::string> refid;
  std::string name;
  int64_t version = 1;
  std::string body;  // the policy's JSON as of `version`
};

class PoliciesPort {
 public:
  virtual ~PoliciesPort() = default;

  // By id.
  virtual Result<std::vector<PolicyRecord>> list_policies(std::string_view account) = 0;
  // By id, or every policy whose refid matches; by id.
  virtual Result<std::vector<PolicyRecord>> find_policies(std::string_view account,
                                                          std::string_view id_or_refid) = 0;
  // Inserts or replaces the policy and records `version` as an immutable version (fails when
  // that version of the id is already recorded).
  virtual Result<void> put_policy(const PolicyRecord& policy) = 0;
  // The live policy only: its versions stay.
  virtual Result<void> delete_policy(std::string_view id) = 0;
  // A policy by id, whatever its account; the latest version.
  virtual Result<std::optional<PolicyRecord>> find_policy_by_id(std::string_view id) = 0;
  // One immutable version of a policy, also after the policy was deleted (account and name
  // read from the version's body: "account_id", "name").
  virtual Result<std::optional<PolicyRecord>> policy_version(std::string_view id,
                                                             int64_t version) = 0;
};

}  // namespace wiretag
