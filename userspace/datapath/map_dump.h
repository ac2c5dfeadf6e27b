// `wiretag maps list|dump`: every pinned map of the datapath decoded by field name from the
// structs of wiretag/abi.h, one decoder per map, without loading a program. Tags in hex
// (2*tag_length digits, "*" for the wildcard source 0), ifindexes with the device and netns
// the devices map records, protocols, modes, reasons and verdicts by name, per-CPU values
// summed, addresses as text. Array maps list only their non-empty entries.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "datapath/pinned_datapath.h"
#include "wiretag/result.h"

namespace wiretag::datapath {

struct MapSummary {
  std::string name;
  std::string type;  // "hash", "percpu_array", ... (bpftool's names)
  uint32_t key_size = 0;
  uint32_t value_size = 0;
  int64_t entries = -1;   // keys of a hash, non-empty entries of an array; -1: a ring buffer
  uint32_t capacity = 0;  // max_entries (a ring buffer: bytes)
};

std::vector<MapSummary> list_maps(const PinnedDatapath& dp);

// The rows of one map (its name as pinned, WT_MAP_*). MAP_NOT_FOUND names the maps there are.
Result<nlohmann::ordered_json> dump_map(const PinnedDatapath& dp, std::string_view name,
                                        unsigned tag_length);

}  // namespace wiretag::datapath
