#include "datapath/counter_rows.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstring>
#include <map>

namespace wiretag::datapath {

std::vector<CounterRow> read_counter_rows(int counters_fd, int slot_fd, int endpoints_fd,
                                          std::optional<uint32_t> ifindex) {
  int ncpu = libbpf_num_possible_cpus();
  const size_t cpus = ncpu > 0 ? ncpu : 1;
  std::vector<wt_counter> per_cpu(cpus);
  auto order = [](const wt_counter_key& a, const wt_counter_key& b) {
    return std::memcmp(&a, &b, sizeof a) < 0;
  };
  std::map<wt_counter_key, wt_counter, decltype(order)> rows(order);
  auto add = [&](const wt_counter_key& key, const wt_counter* values) {
    wt_counter& total = rows[key];
    for (size_t cpu = 0; cpu < cpus; ++cpu) {
      total.packets += values[cpu].packets;
      total.bytes += values[cpu].bytes;
    }
  };
  // Drops without an endpoint, and rows an older build counted by key.
  wt_counter_key k{}, next{};
  for (const wt_counter_key* cur = nullptr; bpf_map_get_next_key(counters_fd, cur, &next) == 0;
       cur = &k) {
    k = next;
    if (ifindex && k.ifindex != *ifindex) continue;
    if (bpf_map_lookup_elem(counters_fd, &k, per_cpu.data()) == 0) add(k, per_cpu.data());
  }
  // Every reason of an endpoint, by its slot: a row for each column that counted a packet.
  constexpr uint32_t kPerSlot = uint32_t{WT_DIR_MAX} * WT_SLOT_COLUMNS;
  std::vector<uint32_t> slot_keys(kPerSlot);
  std::vector<wt_counter> slot_values(size_t{kPerSlot} * cpus);
  uint32_t ep_ifindex = 0, ep_next = 0;
  for (const uint32_t* cur = nullptr; bpf_map_get_next_key(endpoints_fd, cur, &ep_next) == 0;
       cur = &ep_ifindex) {
    ep_ifindex = ep_next;
    if (ifindex && ep_ifindex != *ifindex) continue;
    wt_endpoint ep{};
    if (bpf_map_lookup_elem(endpoints_fd, &ep_ifindex, &ep) != 0) continue;
    // The slot's columns in one batch (in_batch: the index before the first), else one by one.
    const uint32_t first = ep.slot * kPerSlot;
    uint32_t before = first - 1, last = 0, count = kPerSlot;
    bool batched = bpf_map_lookup_batch(slot_fd, first ? &before : nullptr, &last, slot_keys.data(),
                                        slot_values.data(), &count, nullptr) == 0 &&
                   count == kPerSlot;
    for (uint8_t dir = 0; dir < WT_DIR_MAX; ++dir)
      for (uint8_t reason = 0; reason < WT_SLOT_REASONS; ++reason)
        for (uint8_t verdict : {uint8_t{WT_VERDICT_PASS}, uint8_t{WT_VERDICT_DROP}}) {
          if (reason < WT_PASS_REASONS && verdict != WT_VERDICT_PASS) continue;
          uint32_t index = wt_slot_counter_index(ep.slot, dir, reason, verdict);
          const wt_counter* values = slot_values.data() + size_t{index - first} * cpus;
          if (!batched) {
            if (bpf_map_lookup_elem(slot_fd, &index, per_cpu.data()) != 0) continue;
            values = per_cpu.data();
          }
          if (std::any_of(values, values + cpus,
                          [](const wt_counter& c) { return c.packets != 0; }))
            add(wt_counter_key{ep_ifindex, dir, reason, verdict, 0}, values);
        }
  }
  std::vector<CounterRow> out;
  for (const auto& [key, total] : rows) out.push_back({key, total});
  return out;
}

}  // namespace wiretag::datapath
