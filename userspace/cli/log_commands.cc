// `wiretag log-level [LEVEL]`: a daemon's log level at run time (the server's, admin; with
// --agent, an agent's, over its root-only Plugin API socket). `wiretag changes`: the server's
// change log, each change with who made it (admin).
#include "cli/api_client.h"
#include "cli/commands.h"

namespace wiretag::cli {

using nlohmann::json;

namespace {

constexpr const char* kLogLevelPath = "/v1/system/log-level";

Table level_table(const json& o) {
  Table t{{"level", "previous"}, {}};
  t.add({cell(o, "level"), cell(o, "previous")});
  return t;
}

Table changes_table(const json& o) {
  Table t{{"revision", "kind", "account", "subject", "principal"}, {}};
  for (const json& c : o.value("changes", json::array()))
    t.add({cell(c, "revision"), cell(c, "kind"), cell(c, "account"), cell(c, "subject"),
           cell(c, "principal")});
  return t;
}

}  // namespace

void add_log_commands(CLI::App& app) {
  {
    static std::string level;
    auto* c = app.add_subcommand(
        "log-level",
        "print or set a daemon's log level at run time: the server's (admin), or with --agent "
        "an agent's (its Plugin API socket: root)");
    c->add_option("level", level, "trace, debug, info, warn, error, critical or off");
    c->callback([c] {
      const bool agent = c->get_parent()->get_option("--agent")->count() > 0;
      const json body = level.empty() ? json(nullptr) : json{{"level", level}};
      const char* method = level.empty() ? "GET" : "PUT";
      json out = agent ? agent_call(method, kLogLevelPath, body)
                       : server_call(Auth::Bearer, method, kLogLevelPath, body);
      show(out, level_table);
    });
  }
  {
    static int64_t since = 0;
    auto* c = app.add_subcommand(
        "changes",
        "the server's change log after --since (up to 1000 changes), each with who made it "
        "(admin)");
    c->add_option("--since", since, "revision to start after (0: the oldest kept)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    c->callback([] {
      json out =
          server_call(Auth::Bearer, "GET", "/internal/v1/changes?since=" + std::to_string(since));
      show(out, changes_table);
    });
  }
}

}  // namespace wiretag::cli
