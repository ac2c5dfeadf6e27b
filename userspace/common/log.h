// The one logging facade: spdlog's default logger, with libbpf routed into it.
#pragma once

#include <spdlog/spdlog.h>

namespace wiretag {

// Sets the level from a name ("debug", "info", ...) and sends libbpf's messages to spdlog.
void init_logging(const std::string& level = "info");

}  // namespace wiretag
