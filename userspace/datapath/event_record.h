// A record of the events ring buffer as a wt_event (include/wiretag/abi.h), for both owners
// of a ring buffer (Datapath, PinnedDatapath).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <optional>

#include "wiretag/abi.h"

namespace wiretag::datapath {

// Records of builds before the gate's outer fields (WT_EVENT_V1_SIZE bytes: programs still
// attached while a new agent starts) read with those fields zero; a shorter record is none.
inline std::optional<wt_event> event_of_record(const void* data, size_t size) {
  if (size < WT_EVENT_V1_SIZE) return std::nullopt;
  wt_event ev{};
  std::memcpy(&ev, data, std::min(size, sizeof ev));
  return ev;
}

}  // namespace wiretag::datapath
