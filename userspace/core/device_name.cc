#include "core/device_name.h"

#include <string>

#include "wiretag/abi.h"

namespace wiretag {

static_assert(kMaxNetnsPath == WT_NETNS_PATH_MAX);

Result<void> check_device_name(std::string_view netns, std::string_view ifname,
                               std::string_view prefix) {
  const std::string p(prefix);
  if (netns.find('\0') != std::string_view::npos ||
      (!netns.empty() && (netns.front() != '/' || netns.size() >= kMaxNetnsPath)))
    return Error{"INVALID_DEVICE",
                 p + "namespace must be an absolute path of a netns file (under " +
                     std::to_string(kMaxNetnsPath) + " characters), or \"\" for the agent's own"};
  if (ifname.empty() || ifname.size() >= 16 || ifname == "." || ifname == ".." ||
      ifname.find_first_of(std::string_view("/: \t\n\v\f\r\0", 10)) != std::string_view::npos)
    return Error{"INVALID_DEVICE",
                 p + "interface_name must be a Linux interface name (1-15 characters)"};
  return Ok();
}

}  // namespace wiretag
