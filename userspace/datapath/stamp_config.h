// The owner's side of stamp_config (include/wiretag/abi.h): what stamp needs of an endpoint,
// by slot, written under a sequence count through the map's mmap.
#pragma once

#include <cstdint>

#include "datapath/mapped_words.h"
#include "wiretag/abi.h"

namespace wiretag::datapath {

constexpr size_t kStampConfigWords = sizeof(wt_stamp_config) / sizeof(uint64_t);

// Writes the endpoint `ifindex`'s stamp fields into its slot's entry (a no-op for a slot
// beyond the map). Call it after the endpoints hash holds `config`, before its index word.
void write_stamp_config(MappedWords& map, uint32_t ifindex, const wt_endpoint& config);

// Empties a slot's entry: stamp reads the hash for any endpoint that still names the slot.
void clear_stamp_config(MappedWords& map, uint32_t slot);

}  // namespace wiretag::datapath
