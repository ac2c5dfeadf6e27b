// Test harness of the `wiretag` CLI: runs the real binary (WIRETAG_CLI_BIN) with arguments,
// environment and stdin, and captures its stdout, stderr and exit status. CliServerTest adds
// a real wiretag-server (tests/server/server_process.h) on 127.0.0.1 port 0 and runs the CLI
// against it with the server's admin token.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "server_process.h"
#include "temp_dir.h"

namespace wiretag::test {

struct CliResult {
  int status = -1;  // the exit status; -1 when the CLI did not exit normally
  std::string out;  // stdout
  std::string err;  // stderr
  // stdout as JSON (discarded when it is not JSON).
  nlohmann::json json() const { return nlohmann::json::parse(out, nullptr, false); }
  // stdout as YAML (throws YAML::Exception when it is not YAML).
  YAML::Node yaml() const { return YAML::Load(out); }
};

// How to run one CLI invocation.
struct CliRun {
  std::vector<std::string> args;
  // Set in the child's environment; every WIRETAG_* variable of the test's own environment is
  // removed first, so the CLI sees only what the test gives it.
  std::map<std::string, std::string> env;
  std::optional<std::string> stdin_text;  // none: stdin is /dev/null
};

// Runs the CLI to completion (killed after 60 s).
CliResult run_cli(const CliRun& run);
inline CliResult run_cli(std::vector<std::string> args,
                         std::map<std::string, std::string> env = {}) {
  return run_cli(CliRun{std::move(args), std::move(env), std::nullopt});
}

// A test with a fresh server; cli() runs `wiretag --server http://127.0.0.1:PORT ARGS…` with
// WIRETAG_TOKEN = the admin token (unless env sets WIRETAG_TOKEN itself, "" for none) and
// WIRETAG_DATA_DIR = the server's data dir (so the PAP credentials are found too). A test
// of "no credentials" sets WIRETAG_TOKEN to "" and WIRETAG_DATA_DIR to an empty dir.
class CliServerTest : public ServerTest {
 protected:
  // http://127.0.0.1:PORT; a test that starts the server with --tls-cert sets scheme_ "https".
  std::string server_url() const {
    return scheme_ + "://127.0.0.1:" + std::to_string(server_->port());
  }
  std::filesystem::path data_dir() const { return dir_.path() / "data"; }
  CliResult cli(std::vector<std::string> args, std::map<std::string, std::string> env = {},
                std::optional<std::string> stdin_text = std::nullopt);
  // A file under the test's temp dir with this content; returns its path.
  std::string write_file(const std::string& name, const std::string& content);

  std::string scheme_ = "http";
};

// A table as the CLI prints it: one row per line (the header first), cells split at runs of
// spaces (so cells holding spaces split too).
std::vector<std::vector<std::string>> table_rows(const std::string& out);
// Whether the table has a row exactly equal to `row`.
bool has_row(const std::string& out, const std::vector<std::string>& row);

// gtest output for a failed CLI expectation: the command's status, stdout and stderr.
std::string describe(const CliResult& r);

}  // namespace wiretag::test
