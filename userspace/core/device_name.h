// A device as the Policy Plugin API and the services API name it (SPEC §3): the path of a
// netns file ("" for the agent's own namespace) and a Linux interface name in it.
#pragma once

#include <string_view>

#include "wiretag/result.h"

namespace wiretag {

// The longest namespace path the datapath records (WT_NETNS_PATH_MAX, abi.h), NUL included.
inline constexpr size_t kMaxNetnsPath = 104;

// INVALID_DEVICE, its message naming the fields as `prefix` + "namespace" and so on, when
// `netns` is not "" or an absolute path under kMaxNetnsPath characters, or `ifname` is not a
// name the kernel accepts for an interface (dev_valid_name(): 1-15 bytes, not "." or "..",
// no '/', ':', whitespace). A NUL byte is in neither: the kernel would read a shorter name than
// the one the agent records.
Result<void> check_device_name(std::string_view netns, std::string_view ifname,
                               std::string_view prefix = "");

}  // namespace wiretag
