#include "core/tag_space.h"

namespace wiretag {

Result<TagSpace> TagSpace::make(int length) {
  if (length < 1 || length > 4)
    return Error{"INVALID_TAG_LENGTH",
                 "tag length must be 1 to 4 bytes, not " + std::to_string(length)};
  return TagSpace(static_cast<uint8_t>(length));
}

uint32_t TagSpace::max_tag() const {
  return length_ == 4 ? 0xffffffffu : (1u << (8 * length_)) - 1;
}

std::string TagSpace::wire_bytes(uint32_t tag) const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * length_, '0');
  for (int i = 2 * length_ - 1; i >= 0; --i, tag >>= 4) out[i] = kHex[tag & 0xf];
  return out;
}

std::optional<uint32_t> TagSpace::parse(std::string_view s) const {
  if (s.size() != 2u * length_) return std::nullopt;
  uint32_t v = 0;
  for (char c : s) {
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (d < 0) return std::nullopt;
    v = (v << 4) | static_cast<uint32_t>(d);
  }
  return v;
}

}  // namespace wiretag
