// Rules as operators write them on the command line: `SOURCE/DESTINATION[/PROTO[/PORT[-PORT]]]`
// (the fields of a policy rule, in its order; '/' is the one separator no app guid holds),
// port ranges, and their text in tables.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "wiretag/result.h"

namespace wiretag::cli {

// "5432" or "8000-8080" → {"start","end"}; INVALID_PORTS otherwise (1-65535, START <= END).
Result<nlohmann::json> parse_port_range(const std::string& text);
// "web/db/tcp/5432", "*/db/icmp", "web/db" (any protocol, all ports), "web/db/udp/5000-5010"
// → a rule as the APIs take it: {"source","destination","protocol"?,"ports"?}. INVALID_RULE.
Result<nlohmann::json> parse_policy_rule(const std::string& text);

// A rule's ports: "5432", "8000-8080", or "all".
std::string ports_text(const nlohmann::json& rule);
// "tcp/5432", "udp/5000-5010", "any" (protocol and ports of a rule).
std::string rule_text(const nlohmann::json& rule);

}  // namespace wiretag::cli
