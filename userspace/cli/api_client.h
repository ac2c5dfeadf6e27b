// How CLI commands reach the APIs: the server (`--server`, bearer token or PAP credentials)
// and an agent (`--agent`, its Plugin API on a unix socket or TCP). A command calls
// server_call()/agent_call() and gets the answer's JSON; an API error (HTTP ≥ 400) or an
// unreachable endpoint becomes a CommandError, which main() prints and turns into the exit
// status: 1 for an API or connection error, 2 for a usage error.
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "cli/output.h"
#include "common/command_line.h"
#include "wiretag/result.h"

namespace CLI {
class App;
}

namespace wiretag::cli {

// Thrown by commands; main() prints `wiretag: <message>` on stderr and exits `status`.
struct CommandError : std::runtime_error {
  CommandError(int status, const std::string& message)
      : std::runtime_error(message), status(status) {}
  int status;
};
constexpr int kExitApiError = 1;
using wiretag::kExitUsage;  // 2, as the daemons (common/command_line.h)
[[noreturn]] void usage_error(const std::string& message);
[[noreturn]] void api_error(const Error& e);

// The global flags (see add_global_flags): where the APIs are and how to authenticate.
struct Globals {
  std::string server = "http://127.0.0.1:4002";
  std::string agent = "unix:/var/lib/wiretag-agent/plugin.sock";
  std::string token_file;       // else $WIRETAG_TOKEN, else <data-dir>/admin-token
  std::string pap_credentials;  // a file of "user:password"; else <data-dir>/pap-credentials
  std::string data_dir = "./wiretag-data";  // the server's, for the defaults above
  std::string agent_token_file;             // bearer token of an agent's TCP Plugin API
  std::string ca;                           // CA bundle for https:// (else the system's)
  double timeout_seconds = 10;
  OutputFormat output = OutputFormat::Table;
};
Globals& globals();
void add_global_flags(CLI::App& app);

// Prints `value` in the chosen -o format, as a table via `as_table`.
void show(const nlohmann::json& value, const std::function<Table(const nlohmann::json&)>& as_table);

enum class Auth { Bearer, Pap, None };

struct ApiAnswer {
  unsigned status = 0;
  nlohmann::json body;  // null when the answer had no body
};

// One request to the server; body null = none. Returns the answer whatever its status
// (for callers that handle some errors themselves, e.g. 404 while waiting); connection
// failures are a CommandError.
ApiAnswer server_request(Auth auth, std::string_view method, const std::string& target,
                         const nlohmann::json& body = nullptr);
// The answer's body; a status ≥ 400 is a CommandError naming its error_code and message.
nlohmann::json checked(ApiAnswer answer);
// As server_request, but a status ≥ 400 is a CommandError naming its error_code and message.
nlohmann::json server_call(Auth auth, std::string_view method, const std::string& target,
                           const nlohmann::json& body = nullptr);
// The same against the agent's Plugin API (`--agent unix:PATH` or `http[s]://HOST:PORT`;
// bearer token from --token-file/WIRETAG_TOKEN when the agent's TCP Plugin API wants one).
nlohmann::json agent_call(std::string_view method, const std::string& target,
                          const nlohmann::json& body = nullptr);

// A streamed answer (NDJSON: GET /v1/events) from the server (bearer token) or the agent:
// on_line(line) for each line, without its "\n", until it returns false, the stream ends, or
// `stop_after` has passed (zero: no limit). An error answer is a CommandError as for
// server_call(); a stream silent for `idle` is a dead one (CommandError TIMEOUT).
using LineHandler = std::function<bool(std::string_view line)>;
void server_stream(const std::string& target, const LineHandler& on_line,
                   std::chrono::milliseconds stop_after, std::chrono::milliseconds idle);
void agent_stream(const std::string& target, const LineHandler& on_line,
                  std::chrono::milliseconds stop_after, std::chrono::milliseconds idle);

// A path segment, percent-encoded (everything but unreserved characters).
std::string segment(std::string_view s);
// A query value, percent-encoded.
std::string query_value(std::string_view s);

// A JSON or YAML document from a file ("-" = stdin); CommandError (usage) when unreadable
// or malformed.
nlohmann::json read_document(const std::string& path);

}  // namespace wiretag::cli
