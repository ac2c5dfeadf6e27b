// The name of each verdict reason of abi.h (`drop_policy`, …), as counters, events, maps
// dump, trace and the Decision API print it: one table for all of them.
#pragma once

#include <cstdint>

namespace wiretag {

// nullptr for a value that is no reason.
const char* reason_name(uint32_t reason);

}  // namespace wiretag
