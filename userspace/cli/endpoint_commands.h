// `wiretag endpoint …`, `wiretag datapath …` and `wiretag monitor`: operate on the pinned
// datapath of this host directly, without a server or agent. Inspection (list, counters,
// monitor) only opens what is pinned.
#pragma once

#include <CLI/CLI.hpp>

#include "datapath/datapath.h"
#include "datapath/pinned_datapath.h"
#include "wiretag/result.h"

namespace wiretag::cli {

void add_endpoint_commands(CLI::App& app, datapath::Options& options);

// Prints "wiretag: CODE: message" on stderr and exits 1.
[[noreturn]] void fail(const Error& e);

// What is pinned at options.pin_dir, for the commands that only read: creates, pins, loads
// and mounts nothing. On a host without a datapath, says so and exits 1.
std::unique_ptr<datapath::PinnedDatapath> open_pinned(const datapath::Options& options);

}  // namespace wiretag::cli
