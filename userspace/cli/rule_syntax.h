// The CLI's compact rule syntax: SOURCE_TAG/PROTO[/PORT[-PORT]], e.g. "0x0002/tcp/8080",
// "*/udp/5000-5010", "7/icmp", "*/any".
#pragma once

#include <string>

#include "core/policy_compiler.h"
#include "wiretag/result.h"

namespace wiretag {

Result<Rule> parse_rule(const std::string& text);
std::string format_rule(const Rule& rule);

}  // namespace wiretag
