// Every command group of the `wiretag` CLI, one add_* function per file. main() adds them
// in this order, which is the order `wiretag --help` lists them.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>

#include "datapath/datapath.h"
#include "datapath/pinned_datapath.h"

namespace wiretag::cli {

// Against the policy server (--server).
void add_app_commands(CLI::App& app);     // app_commands.cc
void add_edge_commands(CLI::App& app);    // edge_commands.cc
void add_policy_commands(CLI::App& app);  // policy_commands.cc
void add_key_commands(CLI::App& app);     // key_commands.cc
void add_token_commands(CLI::App& app);   // token_commands.cc
// Cells and the PAP: cell list|describe, group …, deploy/undeploy/status, audit.
void add_cell_commands(CLI::App& app);    // cell_commands.cc
void add_group_commands(CLI::App& app);   // group_commands.cc
void add_deploy_commands(CLI::App& app);  // deploy_commands.cc
void add_audit_commands(CLI::App& app);   // audit_commands.cc
// The services API: each cell's policy engine and the data sources, default service, aliases.
void add_service_commands(CLI::App& app);  // service_commands.cc
// The lifecycle API (TOSCA): policytype …, tosca ….
void add_lifecycle_commands(CLI::App& app);  // lifecycle_commands.cc
// log-level (the server's, or with --agent an agent's) and changes (the change log).
void add_log_commands(CLI::App& app);  // log_commands.cc

// Against an agent's Plugin API (--agent).
void add_device_commands(CLI::App& app);  // device_commands.cc
void add_decide_commands(CLI::App& app);  // decide_commands.cc
// monitor: the agent's event stream (--agent), or every cell's through the server (--server).
void add_monitor_commands(CLI::App& app);  // monitor_commands.cc

// Against this host's pinned datapath (root).
void add_endpoint_commands(CLI::App& app, datapath::Options& options);  // endpoint_commands.cc
void add_maps_commands(CLI::App& app, datapath::Options& options);      // maps_commands.cc
void add_gate_commands(CLI::App& app, datapath::Options& options);      // gate_commands.cc

// What is pinned at options.pin_dir, for the commands that only read (endpoint list and
// counters, maps): creates, pins, loads and mounts nothing. On a host without a
// datapath it prints why ("no wiretag datapath pinned at …") and exits 1.
std::unique_ptr<datapath::PinnedDatapath> open_pinned(const datapath::Options& options);
// wiretag trace: --local on this host's pinned datapath, --agent, else the server.
void add_trace_commands(CLI::App& app, datapath::Options& options);  // trace_commands.cc

// `completion bash`: add it last; it reads the whole command tree.
void add_completion_command(CLI::App& app);  // completion.cc

}  // namespace wiretag::cli
