// The kernel's tick rate (CONFIG_HZ): the flow cache ages entries in jiffies, which the
// verifier inlines into one load, where a clock helper is a call (docs/datapath.md).
#pragma once

#include <cstdint>
#include <string>

#include "wiretag/result.h"

namespace wiretag::datapath {

// CONFIG_HZ from the kernel's config (/boot/config-$(uname -r), else /proc/config.gz), else
// measured from the jiffies in /proc/timer_list over 100 ms. KERNEL_HZ_UNKNOWN if none works.
Result<uint32_t> kernel_hz();

// The CONFIG_HZ= line of a kernel config text, or 0.
uint32_t parse_config_hz(const std::string& config);

// ns as jiffies at hz, rounded up (a timeout is never shorter than asked).
inline uint64_t ns_to_jiffies(uint64_t ns, uint32_t hz) {
  return (ns / 1000000000ull) * hz + ((ns % 1000000000ull) * hz + 999999999ull) / 1000000000ull;
}

}  // namespace wiretag::datapath
