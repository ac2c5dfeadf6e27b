// `wiretag maps list` and `wiretag maps dump [MAP]`: the pinned maps of this host's
// datapath, decoded by field name (datapath/map_dump.h). Read-only: nothing is loaded.
#pragma once

#include <CLI/CLI.hpp>

#include "datapath/datapath.h"

namespace wiretag::cli {

void add_maps_commands(CLI::App& app, datapath::Options& options);

}  // namespace wiretag::cli
