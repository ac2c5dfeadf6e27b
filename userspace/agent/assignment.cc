#include "agent/assignment.h"

#include <algorithm>

namespace wiretag::agent {

using nlohmann::json;

namespace {

Error bad(const std::string& what) { return Error{"INVALID_RESPONSE", "server sent " + what}; }

}  // namespace

std::vector<PolicyVersion> without(const std::vector<PolicyVersion>& from,
                                   const std::vector<PolicyVersion>& other) {
  std::vector<PolicyVersion> out;
  for (const PolicyVersion& p : from)
    if (std::none_of(other.begin(), other.end(), [&](const PolicyVersion& o) { return same_version(p, o); }))
      out.push_back(p);
  return out;
}

bool same_policies(const std::vector<PolicyVersion>& a, const std::vector<PolicyVersion>& b) {
  return without(a, b).empty() && without(b, a).empty();
}

bool frozen(const Assignment& a) { return a.locked || a.state == "SAFE"; }

std::string lock_reason(const Assignment& a) {
  return "the PAP knows no group \"" + a.group + "\" with subgroup \"" + a.subgroup +
         "\": this cell keeps what it enforces, new devices deny tagged traffic, until an "
         "operator creates the group or moves the cell (--group)";
}

Result<datapath::Mode> parse_mode(const std::string& mode) {
  if (mode == "enforce") return datapath::Mode::Enforce;
  if (mode == "audit") return datapath::Mode::Audit;
  if (mode == "bypass") return datapath::Mode::Bypass;
  return bad("an unknown datapath mode \"" + mode + "\"");
}

Result<std::vector<PolicyVersion>> parse_policy_versions(const json& j) {
  if (!j.is_array()) return bad("policies that are not an array");
  std::vector<PolicyVersion> out;
  for (const json& p : j) {
    if (!p.is_object() || !p.contains("name") || !p["name"].is_string() || !p.contains("version") ||
        !p["version"].is_string())
      return bad("a policy without name or version");
    out.push_back({p["name"].get<std::string>(), p["version"].get<std::string>()});
  }
  return out;
}

Result<Assignment> parse_assignment(const json& j) {
  if (!j.is_object()) return bad("an assignment that is not an object");
  for (const char* key : {"pdpGroup", "pdpSubgroup", "state", "mode"})
    if (!j.contains(key) || !j[key].is_string()) return bad(std::string("an assignment without ") + key);
  Assignment a;
  a.group = j["pdpGroup"].get<std::string>();
  a.subgroup = j["pdpSubgroup"].get<std::string>();
  a.state = j["state"].get<std::string>();
  WT_TRY(mode, parse_mode(j["mode"].get<std::string>()));
  a.mode = *mode;
  if (j.contains("locked")) {
    if (!j["locked"].is_boolean()) return bad("an assignment whose locked is not a boolean");
    a.locked = j["locked"].get<bool>();
  }
  if (j.contains("policies")) {
    WT_TRY(policies, parse_policy_versions(j["policies"]));
    a.policies = std::move(*policies);
  }
  if (j.contains("revision")) {
    if (!j["revision"].is_number_integer()) return bad("an assignment whose revision is not an integer");
    a.revision = j["revision"].get<int64_t>();
  }
  return a;
}

json to_json(const std::vector<PolicyVersion>& policies) {
  json out = json::array();
  for (const PolicyVersion& p : policies) out.push_back({{"name", p.name}, {"version", p.version}});
  return out;
}

json to_json(const std::vector<FailedPolicy>& failed) {
  json out = json::array();
  for (const FailedPolicy& f : failed)
    out.push_back({{"name", f.policy.name}, {"version", f.policy.version}, {"reason", f.reason}});
  return out;
}

}  // namespace wiretag::agent
