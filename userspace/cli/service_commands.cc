// `wiretag service …`: the services API (api/services.yaml): every cell's policy engine
// ("cell:<name>") and the server's data sources (apps, cells, policies, groups) through one
// set of commands. `-s/--service` names the service (an id or an alias); without it, the
// default service an admin set (`wiretag service default SERVICE`).
#include <string>
#include <vector>

#include "cli/api_client.h"
#include "cli/commands.h"

namespace wiretag::cli {

using nlohmann::json;

namespace {

// /v1/services/<id><rest>, or /v1<rest> (the default service) when no service is named.
std::string service_path(const std::string& service, const std::string& rest) {
  return service.empty() ? "/v1" + rest : "/v1/services/" + segment(service) + rest;
}

Table services_table(const json& out) {
  Table t{{"id", "type", "state", "health", "aliases", "default"}, {}};
  for (const json& s : out.value("services", json::array())) {
    const json aliases = s.value("aliases", json::array());
    t.add({cell(s, "id"), cell(s, "type"), cell(s, "state"), cell(s, "health"),
           aliases.empty() ? "-" : cell(aliases), s.value("default", false) ? "yes" : "-"});
  }
  return t;
}

Table tables_table(const json& out) {
  Table t{{"table", "columns"}, {}};
  for (const json& table : out.value("tables", json::array())) {
    std::string columns;
    for (const json& c : table.value("columns", json::array()))
      columns += (columns.empty() ? "" : ",") + c.value("name", "?") + ":" + c.value("type", "?");
    t.add({cell(table, "name"), columns});
  }
  return t;
}

Table rows_table(const json& out) {
  Table t;
  for (const json& c : out.value("columns", json::array()))
    t.columns.push_back(c.value("name", "?"));
  for (const json& row : out.value("rows", json::array())) {
    std::vector<std::string> r;
    for (const std::string& c : t.columns) r.push_back(cell(row, c));
    t.add(std::move(r));
  }
  return t;
}

// Nested objects flattened to "a.b" fields.
void flatten(const json& value, const std::string& prefix, Table& t) {
  if (value.is_object() && !value.empty()) {
    for (const auto& [k, v] : value.items()) flatten(v, prefix.empty() ? k : prefix + "." + k, t);
    return;
  }
  t.add({prefix, cell(value)});
}

Table fields_table(const json& out) {
  Table t{{"field", "value"}, {}};
  flatten(out, "", t);
  return t;
}

Table actions_table(const json& out) {
  Table t{{"action", "parameters", "description"}, {}};
  for (const json& a : out.value("actions", json::array())) {
    std::string params;
    for (const json& p : a.value("parameters", json::array()))
      params += (params.empty() ? "" : ",") + p.value("name", "?") +
                (p.value("required", false) ? "" : "?");
    t.add({cell(a, "name"), params.empty() ? "-" : params, cell(a, "description")});
  }
  return t;
}

Table policies_table(const json& out) {
  Table t{{"name", "version", "held", "assigned", "failure"}, {}};
  for (const json& p : out.value("policies", json::array()))
    t.add({cell(p, "name"), cell(p, "version"), p.value("held", false) ? "yes" : "no",
           p.value("assigned", false) ? "yes" : "no", cell(p, "failure")});
  return t;
}

Table aliases_table(const json& out) {
  Table t{{"alias", "service"}, {}};
  for (const json& a : out.value("aliases", json::array()))
    t.add({cell(a, "alias"), cell(a, "service")});
  return t;
}

void add_service_option(CLI::App* c, std::string& service) {
  c->add_option("-s,--service", service,
                "the service: cell:<name>, apps, cells, policies, groups, or an alias (default: "
                "the default service)");
}

}  // namespace

void add_service_commands(CLI::App& app) {
  auto* group = app.add_subcommand(
      "service",
      "the services API: each cell's policy engine and the server's data sources (tables, rows, "
      "status, actions, policies), the default service and aliases");
  group->require_subcommand(1);
  {
    static std::string type;
    auto* c = group->add_subcommand("list", "list the services the token may read");
    c->add_option("--type", type, "only this type")
        ->check(CLI::IsMember({"datasource", "policy-engine"}));
    c->callback([] {
      std::string target = "/v1/services";
      if (!type.empty()) target += "?type=" + query_value(type);
      show(server_call(Auth::Bearer, "GET", target), services_table);
    });
  }
  {
    static std::string service;
    auto* c = group->add_subcommand("tables", "list a service's tables and their columns");
    add_service_option(c, service);
    c->callback([] {
      show(server_call(Auth::Bearer, "GET", service_path(service, "/tables")), tables_table);
    });
  }
  {
    static std::string service, table;
    static std::vector<std::string> where;
    static int64_t limit = 0, offset = -1;
    auto* c = group->add_subcommand(
        "rows", "print a table's rows (an engine's are read live from its cell)");
    c->add_option("table", table, "the table (see `wiretag service tables`)")->required();
    add_service_option(c, service);
    c->add_option("-w,--where", where,
                  "COLUMN=VALUE: only rows whose column has this value (repeatable; an engine's "
                  "<x>_app column takes an app guid)");
    c->add_option("--limit", limit, "at most this many rows (1-1000; the server's default: 100)");
    c->add_option("--offset", offset, "skip this many matching rows first");
    c->callback([] {
      std::string query;
      auto add = [&](const std::string& k, const std::string& v) {
        query += (query.empty() ? "?" : "&") + query_value(k) + "=" + query_value(v);
      };
      for (const std::string& w : where) {
        const auto eq = w.find('=');
        if (eq == std::string::npos || eq == 0) usage_error("--where takes COLUMN=VALUE: " + w);
        add(w.substr(0, eq), w.substr(eq + 1));
      }
      if (limit != 0) add("limit", std::to_string(limit));
      if (offset != -1) add("offset", std::to_string(offset));
      json out = server_call(Auth::Bearer, "GET",
                             service_path(service, "/tables/" + segment(table) + "/rows") + query);
      show(out, rows_table);
    });
  }
  {
    static std::string service;
    auto* c = group->add_subcommand(
        "status",
        "an engine's health, mode, revision against the server's and map fill; a data source's "
        "row counts");
    add_service_option(c, service);
    c->callback([] {
      show(server_call(Auth::Bearer, "GET", service_path(service, "/status")), fields_table);
    });
  }
  {
    static std::string service;
    auto* c = group->add_subcommand("actions", "list a service's actions and their parameters");
    add_service_option(c, service);
    c->callback([] {
      show(server_call(Auth::Bearer, "GET", service_path(service, "/actions")), actions_table);
    });
  }
  {
    static std::string service, action, netns, dev;
    auto* c = group->add_subcommand(
        "act",
        "run an engine's action on its cell now: resync, flush-flows, reload-device (admin)");
    c->add_option("action", action, "the action (see `wiretag service actions`)")->required();
    add_service_option(c, service);
    c->add_option("--netns", netns, "the device's network namespace (flush-flows, reload-device)");
    c->add_option("--dev", dev, "the device's interface name (flush-flows, reload-device)");
    c->callback([] {
      json body = json::object();
      if (!dev.empty())
        body["device"] = {{"namespace", netns}, {"interface_name", dev}};
      else if (!netns.empty())
        usage_error("--netns needs --dev");
      json out = server_call(Auth::Bearer, "POST",
                             service_path(service, "/actions/" + segment(action)), body);
      show(out, fields_table);
    });
  }
  {
    static std::string service;
    auto* c =
        group->add_subcommand("policies", "the policy versions an engine holds and is assigned");
    add_service_option(c, service);
    c->callback([] {
      show(server_call(Auth::Bearer, "GET", service_path(service, "/policies")), policies_table);
    });
  }
  {
    static std::string service;
    static bool unset = false;
    auto* c = group->add_subcommand(
        "default", "show the default service; with SERVICE set it (admin), with --unset clear it");
    c->add_option("service", service, "a service id or an alias");
    c->add_flag("--unset", unset, "clear the default service");
    c->callback([] {
      if (unset && !service.empty()) usage_error("give SERVICE or --unset, not both");
      json out = unset ? server_call(Auth::Bearer, "DELETE", "/v1/system/default-service")
                 : service.empty() ? server_call(Auth::Bearer, "GET", "/v1/system/default-service")
                                   : server_call(Auth::Bearer, "PUT", "/v1/system/default-service",
                                                 json{{"service", service}});
      show(out, fields_table);
    });
  }
  {
    static std::string alias, service;
    static bool remove = false;
    auto* c = group->add_subcommand(
        "alias", "list aliases; ALIAS SERVICE names a service (admin); ALIAS --delete removes one");
    c->add_option("alias", alias, "the alias: 1-64 of [a-z0-9._-]");
    c->add_option("service", service, "the service id it names");
    c->add_flag("--delete", remove, "remove ALIAS");
    c->callback([] {
      if (alias.empty()) {
        if (remove) usage_error("--delete needs ALIAS");
        return show(server_call(Auth::Bearer, "GET", "/v1/system/service-aliases"), aliases_table);
      }
      const std::string path = "/v1/system/service-aliases/" + segment(alias);
      if (remove) {
        if (!service.empty()) usage_error("give SERVICE or --delete, not both");
        return show(server_call(Auth::Bearer, "DELETE", path), fields_table);
      }
      if (service.empty()) usage_error("naming a service takes ALIAS SERVICE");
      show(server_call(Auth::Bearer, "PUT", path, json{{"service", service}}), fields_table);
    });
  }
}

}  // namespace wiretag::cli
