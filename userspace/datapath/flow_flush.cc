// Datapath::flush_flows: the flows endpoints originated, forgotten on request (the services
// API's flush-flows action). See docs/datapath.md, "The flow cache".
#include <bpf/bpf.h>

#include <cerrno>
#include <set>
#include <vector>

#include "datapath/datapath.h"

namespace wiretag::datapath {
Result<size_t> Datapath::flush_flows(std::optional<uint32_t> ifindex) {
  if (options_.read_only) return Error{"READ_ONLY", "datapath opened read-only"};
  // `flows` first: it is the truth; the cache only answers faster.
  std::vector<wt_flow_key> keys;
  flows_.for_each_key([&](const wt_flow_key& k) {
    if (!ifindex || k.ifindex == *ifindex) keys.push_back(k);
  });
  size_t flushed = 0;
  for (const wt_flow_key& k : keys) {
    if (bpf_map_delete_elem(flows_.fd(), &k) == 0)
      ++flushed;
    else if (errno != ENOENT)
      return Error::from_errno("BPF_MAP_FAILED", "delete from flows", errno);
  }
  // Then the cache entries of those endpoints' slots. A flow stamp records meanwhile may be
  // in `flows` and lose its cache entry here: as when stamp itself evicts an entry, its
  // port's spill bit is set before the entry is emptied, so enforce still finds it in `flows`.
  std::set<uint32_t> slots;
  endpoints_.for_each_key([&](const uint32_t& i) {
    if (ifindex && i != *ifindex) return;
    if (auto ep = endpoints_.lookup(i)) slots.insert(ep->slot);
  });
  if (!slots.empty())
    flow_cache_.evict([&](uint32_t slot) { return slots.count(slot) > 0; },
                      [&](uint32_t slot, uint16_t port) {
                        const size_t spill =
                            size_t{slot} * WT_FLOW_SPILL_WORDS + ((port & 4095) >> 6);
                        if (spill < flow_spill_.size())
                          flow_spill_.fetch_or(spill, 1ull << (port & 63));
                      });
  return flushed;
}

}  // namespace wiretag::datapath
