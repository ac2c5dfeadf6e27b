// Userspace's side of the cell's flow cache (include/wiretag/abi.h, bpf/lib/flow.h): its size,
// whether it holds a flow, and emptying the entries of endpoints that go or are flushed.
#pragma once

#include <cstdint>
#include <functional>

#include "datapath/mapped_words.h"
#include "wiretag/abi.h"

namespace wiretag::datapath {

// Sets for a cell of max_endpoints endpoints: `asked` if not 0, else 64 per endpoint; a power
// of two within [WT_FLOW_CACHE_MIN_SETS, WT_FLOW_CACHE_MAX_SETS] either way.
uint32_t flow_cache_sets(uint32_t max_endpoints, uint32_t asked = 0);
// wt_flow_cache_shift for that many sets: 64 - log2(sets).
uint32_t flow_cache_shift_of(uint32_t sets);

class FlowCache {
 public:
  static constexpr size_t kWords = sizeof(wt_flow_cache_entry) / sizeof(uint64_t);
  static constexpr uint64_t kBusy = ~0ULL;  // bpf/lib/flow.h WT_FLOW_CACHE_BUSY: a writer owns it

  FlowCache() = default;
  FlowCache(MappedWords words, uint32_t sets)
      : words_(std::move(words)), sets_(sets), shift_(flow_cache_shift_of(sets)) {}

  uint32_t sets() const { return sets_; }
  uint32_t shift() const { return shift_; }
  size_t entries() const { return size_t{sets_} * WT_FLOW_CACHE_WAYS; }

  // Does an entry hold the flow `k` (a `flows` key: as the endpoint in `slot` sent it)?
  bool holds(const wt_flow_key& k, uint32_t slot) const;

  // Empties every entry of a slot `of` accepts. A live TCP/UDP flow's local port (host order)
  // is handed to `spill` first, as stamp does when it evicts one, so that enforce still finds
  // it in `flows` (which the caller may have emptied already). Entries a writer changes
  // meanwhile are left to it: their flow is new.
  void evict(const std::function<bool(uint32_t slot)>& of,
             const std::function<void(uint32_t slot, uint16_t port)>& spill);

 private:
  MappedWords words_;
  uint32_t sets_ = 0;
  uint32_t shift_ = 64;
};

}  // namespace wiretag::datapath
