// The port for the store's own settings, by key: its id, the tag length fixed at creation,
// the services' aliases.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "wiretag/result.h"

namespace wiretag {

class MetaPort {
 public:
  virtual ~MetaPort() = default;

  virtual Result<std::optional<std::string>> get_meta(std::string_view key) = 0;
  // Inserts or replaces.
  virtual Result<void> set_meta(std::string_view key, std::string_view value) = 0;
};

}  // namespace wiretag
