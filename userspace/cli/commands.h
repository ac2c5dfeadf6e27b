// Every command group of the `wiretag` CLI, one add_* function per file. main() adds them
// in this order, which is the order `wiretag --help` lists them.
#pragma once

#include <CLI/CLI.hpp>

#include "datapath/datapath.h"

namespace wiretag::cli {

// Against the policy server (--server).
void add_app_commands(CLI::App& app);     // app_commands.cc
void add_decide_commands(CLI::App& app);  // decide_commands.cc

// Against this host's pinned datapath (root).
void add_endpoint_commands(CLI::App& app, datapath::Options& options);  // endpoint_commands.cc

}  // namespace wiretag::cli
