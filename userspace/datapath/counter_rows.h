// Packets and bytes per endpoint, direction, reason and verdict, summed over CPUs, from the
// counters hash and the endpoints' slot_counters columns: what the owner (Datapath) and an
// inspector (PinnedDatapath) both read.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "wiretag/abi.h"

namespace wiretag::datapath {

struct CounterRow {
  wt_counter_key key{};
  wt_counter total{};  // summed over CPUs
};

// Every row that counted a packet, of one endpoint (`ifindex`) or all, in key order.
std::vector<CounterRow> read_counter_rows(int counters_fd, int slot_counters_fd, int endpoints_fd,
                                          std::optional<uint32_t> ifindex);

}  // namespace wiretag::datapath
