// What the PAP commands (group, deploy, undeploy, status, audit) share: requests to the PAP
// API (basic auth, base /policy/pap/v1) and the POLICY[@VERSION] argument.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wiretag::cli {

// One PAP request (`path` under /policy/pap/v1); an API error is a CommandError.
nlohmann::json pap_call(std::string_view method, const std::string& path,
                        const nlohmann::json& body = nullptr);

// A PAP policy as the operator names it: `default-whitelist` or a named policy's id,
// optionally `@N` or `@N.0.0` (kept as N.0.0, the PAP's spelling).
struct PolicyArg {
  std::string name;
  std::optional<std::string> version;
  std::string text() const { return version ? name + "@" + *version : name; }
  nlohmann::json ref() const;  // {"name","version"?} as the PAP takes it
};
// Splits at the last '@'; a version that is not N or N.0.0 (N ≥ 1) is a usage error.
PolicyArg parse_policy_arg(const std::string& arg);

// The group as GET /pdps lists it (pdpGroupState, pdpSubgroups with their policies and
// cells), or null when there is none.
nlohmann::json find_group(const std::string& group);

}  // namespace wiretag::cli
