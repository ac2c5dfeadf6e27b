// Events the datapath could not send: over its rate limit (events_per_sec per CPU) or into a
// full ring buffer. Each CPU's wt_ratelimit.suppressed counts them and is never reset, so the
// reader of the ring buffer reports the losses as deltas of its sum.
#pragma once

#include <cstdint>
#include <vector>

namespace wiretag::datapath {

class EventLossCounter {
 public:
  // The event_ratelimit map; the losses before this call are not counted.
  explicit EventLossCounter(int ratelimit_fd);
  // Events lost since the last call.
  uint64_t take();

 private:
  std::vector<uint32_t> read() const;
  int fd_;
  std::vector<uint32_t> last_;
};

}  // namespace wiretag::datapath
