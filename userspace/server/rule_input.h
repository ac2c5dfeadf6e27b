// Rules as request bodies carry them: {"source","destination","protocol"?,"ports"?}.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>

#include "core/account_policies.h"
#include "wiretag/result.h"

namespace wiretag {

// object["ports"]: absent or null → nullopt; {"start","end"?} with 1 <= start <= end <= 65535.
Result<std::optional<PortRange>> parse_ports(const nlohmann::json& object);

// One rule object; INVALID_FIELD_TYPE, UNKNOWN_FIELD, MISSING_FIELD, INVALID_PROTOCOL, ...
Result<PolicyRule> parse_rule(const nlohmann::json& rule);

}  // namespace wiretag
