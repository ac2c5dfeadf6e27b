// `wiretag trace`: what the destination's cell decides for one packet, from its real
// programs on its live maps (datapath/trace.h): on this host (--local), through an agent's
// Plugin API, or through the server.
#pragma once

#include <CLI/CLI.hpp>

#include "datapath/datapath.h"

namespace wiretag::cli {

void add_trace_command(CLI::App& app, datapath::Options& options);

}  // namespace wiretag::cli
