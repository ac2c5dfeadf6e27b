// wiretag: the operator's CLI. This build covers the host's datapath; server and agent
// commands arrive with those binaries.
#include <CLI/CLI.hpp>

#include "cli/endpoint_commands.h"
#include "cli/trace_commands.h"
#include "common/log.h"

int main(int argc, char** argv) {
  CLI::App app{"wiretag: app-to-app network policy for container platforms.\n"
               "Commands below act on this host's pinned BPF datapath (run as root)."};
  app.require_subcommand(1);
  wiretag::datapath::Options options;
  std::string log_level = "warn";
  app.add_option("--pin-dir", options.pin_dir, "where maps and programs are pinned")
      ->envname("WIRETAG_PIN_DIR")
      ->capture_default_str();
  app.add_option("--tag-length", options.tag_length, "wire tag length in bytes (1..4)")
      ->envname("WIRETAG_TAG_LENGTH")
      ->check(CLI::Range(1, 4))
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")
      ->envname("WIRETAG_LOG_LEVEL")
      ->capture_default_str();
  app.parse_complete_callback([&] { wiretag::init_logging(log_level); });
  wiretag::cli::add_endpoint_commands(app, options);
  wiretag::cli::add_trace_command(app, options);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
