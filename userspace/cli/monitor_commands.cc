// `wiretag monitor`: drops and audited would-drops as they happen, with names — the agent's
// stream (GET /v1/events on its Plugin API; --agent, the default) or every cell's through the
// server (GET /v1/events with a bearer token; when --server is given and --agent is not). Filters by app,
// reason, verdict (and cell on the server); reports events lost to the datapath's rate limit
// or to a reader that fell behind. -o json prints the stream's lines as they are (NDJSON).
#include <cstdio>
#include <string>
#include <vector>

#include "cli/api_client.h"
#include "cli/commands.h"

namespace wiretag::cli {

using nlohmann::json;

namespace {

struct MonitorArgs {
  std::vector<std::string> apps, reasons, verdicts, cells;
  int count = 0;
  double seconds = 0;
};

std::string joined(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "" : ",") + v;
  return out;
}

std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// "198.18.7.1:40000 web/default [0a01]", "198.18.7.2:5432 db [0b01] wt1@/run/netns/c1".
std::string peer_text(const json& p) {
  std::string out = str(p, "address");
  if (out.empty()) out = "-";
  if (p.contains("port")) out += ":" + std::to_string(p["port"].get<int>());
  if (!str(p, "app").empty()) {
    out += " " + str(p, "app");
    if (!str(p, "account").empty()) out += "/" + str(p, "account");
  }
  if (!str(p, "tag").empty()) out += " [" + str(p, "tag") + "]";
  if (p.contains("device")) {
    out += " " + str(p["device"], "interface_name");
    if (!str(p["device"], "namespace").empty()) out += "@" + str(p["device"], "namespace");
  }
  return out;
}

// One line of the stream for people; false for lines not shown (heartbeats).
bool print_line(const json& line) {
  const std::string type = str(line, "type");
  if (type == "lost") {
    std::printf("%s LOST %llu event(s): %s%s\n", str(line, "time").c_str(),
                static_cast<unsigned long long>(line.value("count", uint64_t{0})),
                str(line, "cause").c_str(),
                str(line, "cell").empty() ? "" : (" on cell " + str(line, "cell")).c_str());
    return true;
  }
  if (type != "drop" && type != "audit") return false;
  std::string proto = str(line, "protocol");
  std::printf("%s %s %s %s %s -> %s cell=%s mode=%s\n", str(line, "time").c_str(),
              type == "drop" ? "DROP " : "AUDIT", str(line, "reason").c_str(),
              proto.empty() ? "-" : proto.c_str(),
              peer_text(line.value("source", json::object())).c_str(),
              peer_text(line.value("destination", json::object())).c_str(),
              str(line, "cell").c_str(), str(line, "mode").c_str());
  if (!str(line, "explanation").empty())
    std::printf("    why: %s\n", str(line, "explanation").c_str());
  return true;
}

}  // namespace

void add_monitor_commands(CLI::App& app) {
  static MonitorArgs args;
  auto* c = app.add_subcommand(
      "monitor",
      "print drops and audited would-drops as they happen, with app guids, tags and the "
      "reason (the agent's stream; every cell's with --server)");
  c->add_option("--app", args.apps, "only events from or to this app guid (repeatable)");
  c->add_option("--reason", args.reasons, "only this reason: drop_policy, … (repeatable)");
  c->add_option("--verdict", args.verdicts, "drop | pass (an audited would-drop) (repeatable)")
      ->check(CLI::IsMember({"drop", "pass"}));
  c->add_option("--cell", args.cells, "with --server: only this cell's events (repeatable)");
  c->add_option("--count", args.count, "stop after this many events (0 = no limit)");
  c->add_option("--seconds", args.seconds, "stop after this long (0 = until interrupted)");
  c->callback([&app] {
    auto* server_flag = app.get_option("--server");
    auto* agent_flag = app.get_option("--agent");
    // --agent given picks the agent even with --server (or WIRETAG_SERVER) set too.
    const bool from_server = server_flag->count() > 0 && agent_flag->count() == 0;
    if (!from_server && !args.cells.empty())
      usage_error("--cell filters the server's stream: give --server too");
    std::string query;
    auto add = [&query](const char* name, const std::vector<std::string>& values) {
      if (values.empty()) return;
      query += (query.empty() ? "?" : "&") + std::string(name) + "=" + query_value(joined(values));
    };
    add("app", args.apps);
    add("reason", args.reasons);
    add("verdict", args.verdicts);
    add("cell", args.cells);
    int seen = 0;
    const bool as_json = globals().output != OutputFormat::Table;
    auto on_line = [&](std::string_view text) {
      json line = json::parse(text, nullptr, false);
      if (line.is_discarded() || !line.is_object()) return true;
      const std::string type = str(line, "type");
      if (type == "heartbeat") return true;
      if (as_json) {
        std::printf("%s\n", line.dump().c_str());
      } else {
        print_line(line);
      }
      std::fflush(stdout);
      if (type == "drop" || type == "audit") ++seen;
      return args.count == 0 || seen < args.count;
    };
    const auto stop_after = std::chrono::milliseconds(static_cast<int64_t>(args.seconds * 1000));
    // Streams send a heartbeat every 15 s: silence for longer means the stream is dead.
    const auto idle = std::chrono::seconds(60);
    if (from_server)
      server_stream("/v1/events" + query, on_line, stop_after, idle);
    else
      agent_stream("/v1/events" + query, on_line, stop_after, idle);
  });
}

}  // namespace wiretag::cli
