// `wiretag endpoint …`, `wiretag datapath …` and `wiretag monitor`: operate on the pinned
// datapath of this host directly, without a server or agent.
#pragma once

#include <CLI/CLI.hpp>

#include "datapath/datapath.h"

namespace wiretag::cli {

void add_endpoint_commands(CLI::App& app, datapath::Options& options);

}  // namespace wiretag::cli
