// `wiretag cell list|describe`: the cells (PDPs) that report to the server. Read from the
// internal API's cell registry (`GET /internal/v1/cells[/NAME]`, bearer token: admin),
// which holds everything a cell says in its PDP_STATUS — group, subgroup, state, health,
// last heartbeat, the policy versions it holds and the revision it is at — where the PAP's
// `/pdps` lists only names, state and health (docs/cli.md says why).
#include <chrono>
#include <ctime>

#include "cli/api_client.h"
#include "cli/commands.h"

namespace wiretag::cli {

using nlohmann::json;

namespace {

std::string iso_time(int64_t ms) {
  std::time_t s = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// "4s ago", "3m ago", "2h ago" by this host's clock.
std::string ago(int64_t ms) {
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const int64_t s = std::max<int64_t>(0, (now - ms) / 1000);
  if (s < 120) return std::to_string(s) + "s ago";
  if (s < 7200) return std::to_string(s / 60) + "m ago";
  if (s < 172800) return std::to_string(s / 3600) + "h ago";
  return std::to_string(s / 86400) + "d ago";
}

std::string health(const json& c) {
  if (c.value("expired", false)) return "EXPIRED";
  return c.value("healthy", false) ? "HEALTHY" : "NOT_HEALTHY";
}

std::string heartbeat(const json& c) {
  const json& ms = c.contains("lastHeartbeatMs") ? c["lastHeartbeatMs"] : json();
  return ms.is_number_integer() ? ago(ms.get<int64_t>()) : "-";
}

// name@version, …
std::string held(const json& c) {
  std::string out;
  for (const json& p : c.value("policies", json::array()))
    out += (out.empty() ? "" : ",") + p.value("name", "?") + "@" + p.value("version", "?");
  return out.empty() ? "-" : out;
}

Table cells_table(const json& cells) {
  Table t{
      {"name", "group", "subgroup", "state", "health", "last_heartbeat", "policies", "revision"},
      {}};
  for (const json& c : cells)
    t.add({cell(c, "name"), cell(c, "pdpGroup"), cell(c, "pdpSubgroup"), cell(c, "state"),
           health(c), heartbeat(c), held(c), cell(c, "revision")});
  return t;
}

Table cell_table(const json& c) {
  Table t{{"field", "value"}, {}};
  t.add({"name", cell(c, "name")});
  t.add({"group", cell(c, "pdpGroup")});
  t.add({"subgroup", cell(c, "pdpSubgroup")});
  t.add({"pdp_type", cell(c, "pdpType")});
  t.add({"state", cell(c, "state")});
  t.add({"health", health(c) + " (reported " + cell(c, "reportedHealthy") + ")"});
  if (c.contains("lastHeartbeatMs") && c["lastHeartbeatMs"].is_number_integer())
    t.add({"last_heartbeat",
           iso_time(c["lastHeartbeatMs"].get<int64_t>()) + " (" + heartbeat(c) + ")"});
  t.add({"heartbeat_interval_ms", cell(c, "heartbeatIntervalMs")});
  t.add({"policies", held(c)});
  t.add({"revision", cell(c, "revision")});
  const std::string description = cell(c, "description");
  t.add({"description", description.empty() ? "-" : description});
  if (c.contains("datapath") && c["datapath"].is_object())
    for (const char* k : {"endpoints", "allowed", "dropped", "audited"})
      t.add({std::string("datapath.") + k, cell(c["datapath"], k)});
  if (c.contains("statistics") && c["statistics"].is_object())
    for (const auto& [k, v] : c["statistics"].items()) t.add({"statistics." + k, cell(v)});
  return t;
}

}  // namespace

void add_cell_commands(CLI::App& app) {
  auto* group = app.add_subcommand(
      "cell", "list and describe the cells (agents) that report to the server (admin token)");
  group->require_subcommand(1);
  {
    auto* c = group->add_subcommand(
        "list",
        "list cells: group, subgroup, state, health, last heartbeat, held policy versions, "
        "revision");
    c->callback([] {
      json out = server_call(Auth::Bearer, "GET", "/internal/v1/cells");
      show(out, [](const json& o) { return cells_table(o.value("cells", json::array())); });
    });
  }
  {
    static std::string name;
    auto* c = group->add_subcommand(
        "describe", "show one cell: what it reported, its datapath counters and statistics");
    c->add_option("name", name, "the cell's name (wiretag-agent --cell)")->required();
    c->callback([] {
      json out = server_call(Auth::Bearer, "GET", "/internal/v1/cells/" + segment(name));
      show(out, cell_table);
    });
  }
}

}  // namespace wiretag::cli
