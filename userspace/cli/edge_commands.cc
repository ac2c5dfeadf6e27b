// `wiretag edge allow|deny|list`: the default-whitelist edges between apps (Policy Server API,
// SPEC §4.1: POST/DELETE /whitelist, GET /v1/edges).
#include <cstdio>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/policy_rules.h"

namespace wiretag::cli {

using nlohmann::json;

namespace {

struct EdgeFlags {
  std::string from, to, proto, port, ports;
};

// The flags' edge as POST/DELETE /whitelist take it.
json edge_body(const EdgeFlags& f) {
  json body = {{"source", f.from}, {"destination", f.to}};
  if (!f.proto.empty()) body["protocol"] = f.proto;
  const std::string& range = f.port.empty() ? f.ports : f.port;
  if (!range.empty()) {
    auto ports = parse_port_range(range);
    if (!ports) usage_error(ports.error().code + ": " + ports.error().message);
    body["ports"] = *ports;
  }
  return body;
}

void add_edge_flags(CLI::App* c, EdgeFlags& f) {
  c->add_option("--from", f.from, "source app guid")->required();
  c->add_option("--to", f.to, "destination app guid")->required();
  c->add_option("--proto", f.proto, "tcp | udp | icmp | any (default any)")
      ->check(CLI::IsMember({"tcp", "udp", "icmp", "any"}));
  auto* port = c->add_option("--port", f.port, "one destination port (default: all ports)");
  c->add_option("--ports", f.ports, "a destination port range START-END")->excludes(port);
}

}  // namespace

void add_edge_commands(CLI::App& app) {
  auto* group = app.add_subcommand("edge",
                                   "allow, deny and list edges: which app may reach which "
                                   "(the destination account's default-whitelist)");
  group->require_subcommand(1);
  {
    static EdgeFlags f;
    auto* c = group->add_subcommand("allow", "let --from reach --to (idempotent)");
    add_edge_flags(c, f);
    c->callback([] {
      const json body = edge_body(f);
      ApiAnswer a = server_request(Auth::Bearer, "POST", "/whitelist", body);
      json out = checked(a);
      out["status"] = a.status == 201 ? "created" : "exists";
      show(out, [](const json& e) {
        Table t{{"source", "destination", "protocol", "ports", "status"}, {}};
        t.add({cell(e, "source"), cell(e, "destination"), cell(e, "protocol"), ports_text(e),
               cell(e, "status")});
        return t;
      });
    });
  }
  {
    static EdgeFlags f;
    auto* c = group->add_subcommand("deny",
                                    "remove exactly that edge (protocol any and all ports "
                                    "unless given)");
    add_edge_flags(c, f);
    c->callback([] {
      const json body = edge_body(f);
      server_call(Auth::Bearer, "DELETE", "/whitelist", body);
      std::printf("removed edge %s -> %s %s\n", f.from.c_str(), f.to.c_str(),
                  rule_text(body).c_str());
    });
  }
  {
    static std::string into, from, account;
    static int limit = 1000;
    auto* c = group->add_subcommand("list",
                                    "list edges with both ends' wire bytes: into an app, out "
                                    "of an app, of an account, or all you may see");
    c->add_option("--into", into, "only edges into this app");
    c->add_option("--from", from, "only edges out of this app");
    c->add_option("--account", account, "only edges of this account (the destination's)");
    c->add_option("--limit", limit, "at most this many edges (1-100000)")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    c->callback([] {
      std::string query;
      auto add = [&query](const char* key, const std::string& value) {
        if (value.empty()) return;
        query += (query.empty() ? "?" : "&") + std::string(key) + "=" + query_value(value);
      };
      add("destination", into);
      add("source", from);
      add("account", account);
      add("limit", std::to_string(limit));
      json out = server_call(Auth::Bearer, "GET", "/v1/edges" + query);
      show(out, [](const json& o) {
        Table t{
            {"source", "source_wire", "destination", "dest_wire", "protocol", "ports", "account"},
            {}};
        for (const json& e : o.value("edges", json::array()))
          t.add({cell(e, "source"), cell(e, "source_wire_bytes"), cell(e, "destination"),
                 cell(e, "destination_wire_bytes"), cell(e, "protocol"), ports_text(e),
                 cell(e, "account")});
        return t;
      });
      if (out.value("truncated", false))
        std::fprintf(stderr, "wiretag: showing the first %d edges; more match (--limit)\n", limit);
    });
  }
}

}  // namespace wiretag::cli
