// `wiretag decide --from A --to B --proto tcp --port 5432 [--cell C]`: may this packet open
// a connection, as the cells enforce it? The Decision API (SPEC §4.5, docs/server.md
// "Decision API"). Exit 0 with Permit or Deny printed; 1 on an API error.
#include "cli/api_client.h"
#include "cli/commands.h"

namespace wiretag::cli {

using nlohmann::json;

namespace {

// The versions that matched: "name version" each (the PAP name, an id, only when the
// policy's name differs from it).
std::string matched_policies(const json& policies) {
  std::string out;
  for (const auto& [key, p] : policies.items()) {
    if (!out.empty()) out += ", ";
    out += p.value("name", key) + " " + p.value("version", std::string());
  }
  return out.empty() ? "-" : out;
}

Table decision_table(const json& d) {
  const json& a = d.contains("attributes") ? d["attributes"] : json::object();
  std::string status = cell(d, "status");
  if (a.contains("would_be")) status += " (enforced: " + cell(a, "would_be") + ")";
  Table t{{"status", "verdict", "mode", "policies", "reason"}, {}};
  t.add({status, cell(a, "verdict_reason"), cell(a, "mode"),
         matched_policies(d.value("policies", json::object())), cell(d, "reason")});
  return t;
}

}  // namespace

void add_decide_commands(CLI::App& app) {
  static std::string from, to, proto = "tcp", cell_name;
  static int port = -1;
  static bool untagged = false;
  auto* c = app.add_subcommand(
      "decide",
      "may a packet from one app open a connection to another? (Decision API: the cells' "
      "deployed policy versions, the datapath's semantics)");
  auto* from_opt = c->add_option("--from", from, "the sending app's guid");
  auto* untagged_flag =
      c->add_flag("--untagged", untagged, "a packet without a source app (host or router)");
  from_opt->excludes(untagged_flag);
  c->add_option("--to", to, "the receiving app's guid")->required();
  c->add_option("--proto", proto, "tcp | udp | icmp | icmpv6 | an IP protocol number")
      ->capture_default_str();
  c->add_option("--port", port, "destination port (tcp and udp)")->check(CLI::Range(0, 65535));
  c->add_option("--cell", cell_name,
                "decide as this cell: its group's deployed versions and mode (default: every "
                "deployed version, enforced)");
  c->callback([] {
    if (from.empty() && !untagged) usage_error("decide: give --from APP, or --untagged");
    json resource = {{"destination", to}, {"protocol", proto}};
    resource["source"] = untagged ? json(nullptr) : json(from);
    if (port >= 0) resource["port"] = port;
    if (!cell_name.empty()) resource["cell"] = cell_name;
    json body = {{"ONAPName", "wiretag-cli"},
                 {"ONAPComponent", "decide"},
                 {"action", "connect"},
                 {"resource", resource}};
    json out = server_call(Auth::Bearer, "POST", "/policy/pdpx/v1/decision", body);
    show(out, decision_table);
  });
}

}  // namespace wiretag::cli
