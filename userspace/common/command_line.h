// The daemons' command line (wiretag-server, wiretag-agent): CLI11 parses it; --help and
// --version print and exit 0, and a usage error (unknown flag, bad value, missing argument)
// exits 2 as every other refused setting does, not CLI11's own codes (105, 109, …), so a
// unit manager or script tells a bad command line from a crash the same way for both.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>

namespace wiretag {

inline constexpr int kExitUsage = 2;

// nullopt: parsed, go on; else the status to exit with (CLI11 has printed why).
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);
    return status == 0 ? 0 : kExitUsage;
  }
  return std::nullopt;
}

}  // namespace wiretag
