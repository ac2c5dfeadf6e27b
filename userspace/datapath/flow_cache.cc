#include "datapath/flow_cache.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <bit>
#include <cstring>

namespace wiretag::datapath {
namespace {

// An address as the flow cache's two words (abi.h): IPv4 in the low 32 bits of the second.
void address_words(uint8_t family, const uint8_t* addr, uint64_t words[2]) {
  words[0] = words[1] = 0;
  if (family == 4) {
    uint32_t v4;
    std::memcpy(&v4, addr, 4);
    words[1] = v4;
  } else {
    std::memcpy(&words[0], addr, 8);
    std::memcpy(&words[1], addr + 8, 8);
  }
}

}  // namespace

uint32_t flow_cache_sets(uint32_t max_endpoints, uint32_t asked) {
  uint64_t want = asked ? asked : uint64_t{max_endpoints} * 64;
  want = std::clamp<uint64_t>(want, WT_FLOW_CACHE_MIN_SETS, WT_FLOW_CACHE_MAX_SETS);
  return static_cast<uint32_t>(std::bit_ceil(want));
}

uint32_t flow_cache_shift_of(uint32_t sets) {
  return 64 - static_cast<uint32_t>(std::countr_zero(sets));
}

bool FlowCache::holds(const wt_flow_key& k, uint32_t slot) const {
  // The tuple as stamp writes it (abi.h): flows keys are as sent, saddr = the endpoint.
  uint64_t remote[2], local[2];
  address_words(k.family, k.daddr, remote);
  address_words(k.family, k.saddr, local);
  const uint64_t ports = wt_flow_cache_ports(k.family, k.dport, k.sport, slot);
  const uint64_t mix = wt_flow_cache_mix(remote[0], remote[1], local[0], local[1], ports, k.proto);
  const uint64_t want[] = {remote[0], remote[1], local[0], local[1], ports};
  const size_t first = wt_flow_cache_set_entry(mix, shift_, slot);
  for (size_t way = 0; way < WT_FLOW_CACHE_WAYS; ++way) {
    const size_t entry = (first + way) * kWords;
    if (entry + kWords > words_.size()) return false;
    const uint64_t stamp = words_.load(entry);
    bool same = true;
    for (size_t w = 0; w < 5; ++w) same = same && words_.load(entry + 1 + w) == want[w];
    if (same && words_.load(entry) == stamp && wt_flow_cache_stamp_of(stamp, mix, k.proto))
      return true;
  }
  return false;
}

void FlowCache::evict(const std::function<bool(uint32_t slot)>& of,
                      const std::function<void(uint32_t slot, uint16_t port)>& spill) {
  const size_t n = std::min(entries(), words_.size() / kWords);
  for (size_t i = 0; i < n; ++i) {
    const size_t entry = i * kWords;
    const uint64_t stamp = words_.load(entry);
    if (stamp == 0 || stamp == kBusy) continue;
    const uint64_t ports = words_.load(entry + 5);
    const uint32_t slot = wt_flow_cache_slot(ports);
    if (!of(slot)) continue;
    const auto proto = static_cast<uint8_t>(stamp >> 40);
    if (proto == IPPROTO_TCP || proto == IPPROTO_UDP)
      spill(slot, ntohs(static_cast<uint16_t>(ports >> 16)));
    // Lost to a writer: the entry holds a flow it recorded since (or no longer this slot's).
    words_.compare_exchange(entry, stamp, 0);
  }
}

}  // namespace wiretag::datapath
