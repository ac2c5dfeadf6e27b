// wiretag: the operator's CLI. It talks to the policy server (--server: apps, edges,
// policies, tokens, cells, groups, deployments; monitor with --server), to an agent (--agent:
// devices, monitor), and to this host's pinned datapath directly (endpoint, maps). Exit status: 0
// done, 1 an API or system error (its error_code and message on stderr), 2 a usage error.
#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdio>
#include <iostream>
#include <string>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "common/command_line.h"
#include "common/log.h"
#include "datapath/libbpf_log.h"
#include "wiretag/version.h"

namespace {

// SPEC §1: every flag has an environment twin. A command's own flags take
// WIRETAG_<COMMAND PATH>_<FLAG> (`wiretag edge list --into` ↔ WIRETAG_EDGE_LIST_INTO), so a
// variable meant for one command never sets another's; the global flags keep their own
// names (WIRETAG_SERVER, …). --help shows each.
void give_environment_twins(CLI::App& app, const std::string& prefix = "WIRETAG") {
  auto upper = [](std::string s) {
    for (char& c : s)
      c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
  };
  for (CLI::App* sub : app.get_subcommands({})) {
    const std::string path = prefix + "_" + upper(sub->get_name());
    for (CLI::Option* opt : sub->get_options()) {
      if (opt->get_lnames().empty() || !opt->get_envname().empty()) continue;
      if (opt == sub->get_help_ptr() || opt == sub->get_help_all_ptr()) continue;
      opt->envname(path + "_" + upper(opt->get_lnames().front()));
    }
    give_environment_twins(*sub, path);
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace wiretag::cli;
  CLI::App app{
      "wiretag: app-to-app network policy for container platforms.\n"
      "Talks to the policy server (--server), to an agent (--agent), and to this host's "
      "pinned BPF datapath (endpoint, maps: run as root).",
      "wiretag"};
  app.require_subcommand(1);
  app.set_version_flag("--version", wiretag::version_line("wiretag"));
  app.get_formatter()->column_width(34);
  wiretag::datapath::Options options;
  std::string log_level = "warn";
  add_global_flags(app);
  app.add_option("--pin-dir", options.pin_dir, "where this host's maps and programs are pinned")
      ->envname("WIRETAG_PIN_DIR")
      ->capture_default_str();
  app.add_option("--tag-length", options.tag_length, "wire tag length in bytes (1..4)")
      ->envname("WIRETAG_TAG_LENGTH")
      ->check(CLI::Range(1, 4))
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")
      ->envname("WIRETAG_LOG_LEVEL")
      ->capture_default_str();
  app.parse_complete_callback([&] {
    wiretag::init_logging(log_level);
    wiretag::route_libbpf_logs();
  });
  add_app_commands(app);
  add_edge_commands(app);
  add_policy_commands(app);
  add_key_commands(app);
  add_token_commands(app);
  add_cell_commands(app);
  add_group_commands(app);
  add_deploy_commands(app);
  add_audit_commands(app);
  add_service_commands(app);
  add_lifecycle_commands(app);
  add_log_commands(app);
  add_device_commands(app);
  add_decide_commands(app);
  add_endpoint_commands(app, options);
  add_monitor_commands(app);
  add_maps_commands(app, options);
  add_gate_commands(app, options);
  add_trace_commands(app, options);
  add_completion_command(app);
  give_environment_twins(app);
  try {
    if (auto exit_status = wiretag::parse_command_line(app, argc, argv)) return *exit_status;
  } catch (const CommandError& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "wiretag: %s\n", e.what());
    return e.status;
  }
  return 0;
}
