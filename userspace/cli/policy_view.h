// What the policy and key commands share: a policy document from -f FILE or flags, and the
// tables of policies and their rules.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/output.h"
#include "cli/policy_rules.h"

namespace wiretag::cli {

// The policy and key commands' document: -f FILE, or --name/--refid/--rule.
struct PolicyInput {
  std::string file;
  std::string name;
  std::string refid;
  std::vector<std::string> rules;
  bool clear_refid = false;
};
// The draft the flags (and file) give: {"name"?, "refid"?, "rules"?}; flags override the
// file's name and refid. Usage errors for a bad --rule or an unreadable file.
nlohmann::json policy_draft(const PolicyInput& in);

// One policy: its fields, then a table of its rules (table output); the JSON as is otherwise.
void show_policy(const nlohmann::json& policy);
// Policies (or versions of one) as a table: id, name, refid, version, rule count.
Table policies_table(const nlohmann::json& policies);

}  // namespace wiretag::cli
