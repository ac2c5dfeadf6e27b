#include "datapath/stamp_config.h"

#include <cstring>

namespace wiretag::datapath {
namespace {

// seq odd, the fields, seq even: every store a release store, so they become visible in
// this order (bpf/lib/endpoint.h reads seq, the fields, seq).
void write_entry(MappedWords& map, uint32_t slot, const uint64_t (&fields)[kStampConfigWords - 1]) {
  const size_t at = size_t{slot} * kStampConfigWords;
  if (at + kStampConfigWords > map.size()) return;
  const uint64_t seq = map.load(at);
  // Odd while written (already odd: an owner died writing; the next odd value).
  const uint64_t writing = (seq & 1) ? seq + 2 : seq + 1;
  map.store(at, writing);
  for (size_t i = 0; i < kStampConfigWords - 1; ++i) map.store(at + 1 + i, fields[i]);
  map.store(at, writing + 1);
}

}  // namespace

void write_stamp_config(MappedWords& map, uint32_t ifindex, const wt_endpoint& config) {
  uint64_t hi, lo;
  std::memcpy(&hi, config.ipv6, 8);
  std::memcpy(&lo, config.ipv6 + 8, 8);
  const uint64_t fields[] = {
      uint64_t{ifindex} | uint64_t{config.tag} << 32,
      uint64_t{config.mode} | uint64_t{config.flags} << 8 | uint64_t{config.ipv4} << 32, hi, lo};
  write_entry(map, config.slot, fields);
}

void clear_stamp_config(MappedWords& map, uint32_t slot) {
  const uint64_t none[kStampConfigWords - 1] = {};
  write_entry(map, slot, none);
}

}  // namespace wiretag::datapath
