// Environment names of the daemons: each binary reads its own prefix (WIRETAG_SERVER_*,
// WIRETAG_AGENT_*), so one environment (a shell, a unit file) never makes the server and the
// agent share a setting. The names before that (WIRETAG_LISTEN, WIRETAG_DATA_DIR, ...) are
// still read for one release, with a deprecation warning, where a name means one thing:
// WIRETAG_LISTEN, read by both daemons for different addresses, is refused instead.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <vector>

namespace wiretag {

struct LegacyEnv {
  const char* old_name;  // e.g. "WIRETAG_DATA_DIR"
  const char* new_name;  // e.g. "WIRETAG_SERVER_DATA_DIR"
  // Read for one release (copied to new_name when that is unset); false: never read, and its
  // presence without new_name stops the program (it would bind another address than meant).
  bool still_read = true;
};

// The renames of wiretag-server and of wiretag-agent.
std::span<const LegacyEnv> server_legacy_env();
std::span<const LegacyEnv> agent_legacy_env();

struct LegacyEnvOutcome {
  std::vector<std::string> warnings;  // to log once logging is set up
  std::string error;                  // non-empty: refuse to start (exit 2) with this
};

// Before the command line is parsed: for each old name that is set, copies its value to the
// new name when that is unset (or ignores it when the new name is set), and says so.
// `getenv`/`setenv` are the process's by default; tests pass their own.
LegacyEnvOutcome adopt_legacy_env(
    std::span<const LegacyEnv> renames, const std::function<const char*(const char*)>& get_env = {},
    const std::function<void(const char*, const char*)>& set_env = {});

}  // namespace wiretag
