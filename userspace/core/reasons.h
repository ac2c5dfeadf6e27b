// The name of each verdict reason of abi.h (`drop_policy`, …), as counters, events, maps
// dump, trace and the Decision API print it: one table for all of them.
#pragma once

#include <cstdint>
#include <string>

namespace wiretag {

// nullptr for a value that is no reason.
const char* reason_name(uint32_t reason);

// An IP protocol number as events, engine tables and maps dump print it: "tcp", "udp",
// "icmp", "icmpv6", else the number.
std::string ip_protocol_name(uint8_t proto);

}  // namespace wiretag
