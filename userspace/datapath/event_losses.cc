#include "datapath/event_losses.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "wiretag/abi.h"

namespace wiretag::datapath {

EventLossCounter::EventLossCounter(int ratelimit_fd) : fd_(ratelimit_fd), last_(read()) {}

std::vector<uint32_t> EventLossCounter::read() const {
  const int ncpu = libbpf_num_possible_cpus();
  if (fd_ < 0 || ncpu <= 0) return {};
  std::vector<wt_ratelimit> state(ncpu);
  uint32_t zero = 0;
  if (bpf_map_lookup_elem(fd_, &zero, state.data()) != 0) return {};
  std::vector<uint32_t> out;
  out.reserve(state.size());
  for (const wt_ratelimit& rl : state) out.push_back(rl.suppressed);
  return out;
}

uint64_t EventLossCounter::take() {
  std::vector<uint32_t> now = read();
  uint64_t lost = 0;
  for (size_t cpu = 0; cpu < now.size() && cpu < last_.size(); ++cpu)
    lost += static_cast<uint32_t>(now[cpu] - last_[cpu]);  // modulo 2^32: a wrap is no loss
  if (!now.empty()) last_ = std::move(now);
  return lost;
}

}  // namespace wiretag::datapath
