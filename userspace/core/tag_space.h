// The tag space of a server: tags of tag_length bytes, rendered as 2*tag_length hex digits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "wiretag/result.h"

namespace wiretag {

class TagSpace {
 public:
  // INVALID_TAG_LENGTH unless 1 <= length <= 4.
  static Result<TagSpace> make(int length);

  uint8_t length() const { return length_; }
  // The highest tag; tag 0 means "untagged" and is never allocated.
  uint32_t max_tag() const;
  // Exactly 2*length lowercase hex digits: 0xa7e0 with length 2 → "a7e0".
  std::string wire_bytes(uint32_t tag) const;
  std::optional<uint32_t> parse(std::string_view wire_bytes) const;

 private:
  explicit TagSpace(uint8_t length) : length_(length) {}
  uint8_t length_;
};

}  // namespace wiretag
