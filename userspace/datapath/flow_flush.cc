// Datapath::flush_flows: the flows endpoints originated, forgotten on request (the services
// API's flush-flows action). See docs/datapath.md, "The flow cache".
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include <cerrno>
#include <vector>

#include "datapath/datapath.h"

namespace wiretag::datapath {
namespace {

constexpr uint64_t kFlowCacheBusy = ~0ULL;  // bpf/lib/flow.h WT_FLOW_CACHE_BUSY: a writer owns it

}  // namespace

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
  // Then each slot's flow_cache entries. A flow stamp records meanwhile may be in `flows` and
  // lose its cache entry here: as when stamp itself evicts an entry, its port's spill bit is
  // set before the entry is emptied, so enforce still finds it in `flows`.
  std::vector<uint16_t> slots;
  endpoints_.for_each_key([&](const uint32_t& i) {
    if (ifindex && i != *ifindex) return;
    if (auto ep = endpoints_.lookup(i)) slots.push_back(ep->slot);
  });
  for (uint16_t slot : slots) {
    for (uint32_t e = 0; e < WT_FLOW_CACHE_ENTRIES; ++e) {
      const size_t entry = (size_t{slot} * WT_FLOW_CACHE_ENTRIES + e) * kFlowCacheWords;
      if (entry + kFlowCacheWords > flow_cache_.size()) break;
      const uint64_t stamp = flow_cache_.load(entry);
      if (stamp == 0 || stamp == kFlowCacheBusy) continue;
      const auto port = ntohs(static_cast<uint16_t>(flow_cache_.load(entry + 5) >> 16));
      const size_t spill = size_t{slot} * WT_FLOW_SPILL_WORDS + ((port & 4095) >> 6);
      if (spill < flow_spill_.size()) flow_spill_.fetch_or(spill, 1ull << (port & 63));
      flow_cache_.compare_exchange(entry, stamp, 0);  // lost to a writer: its flow is new
    }
  }
  return flushed;
}

}  // namespace wiretag::datapath
