#include "server/services_api.h"

#include <algorithm>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/data_sources.h"
#include "core/service_catalog.h"
#include "core/service_names.h"
#include "http/json_input.h"
#include "server/app_access.h"

namespace wiretag {
namespace {

using http::Reply;
using http::Request;
using http::Respond;
using nlohmann::json;

// A request's service: as named in the path (an id or an alias), or the default one.
using Named = std::optional<std::string>;

struct Target {
  Principal who;
  ServiceId id;
  std::optional<Cell> cell;  // an engine's cell as it last reported
};

ReaderScope scope_of(const Principal& who) {
  return who.admin ? ReaderScope{true, {}} : ReaderScope{false, who.accounts};
}

bool is_table_name(std::string_view s) {
  return !s.empty() && s.size() <= 64 &&
         s.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string_view::npos;
}

// An answer of the cell that is not the documented shape.
Error malformed(const std::string& cell, const std::string& op) {
  return Error{"CELL_ERROR",
               "cell \"" + cell + "\" answered op \"" + op + "\" in an unknown shape"};
}

json policy_ident_json(const std::string& name, const std::string& version) {
  return {{"name", name}, {"version", version}};
}

class ServicesApi : public std::enable_shared_from_this<ServicesApi> {
 public:
  ServicesApi(PolicyGraph& graph, Store& store, Pap& pap, CellRegistry& cells,
              std::shared_ptr<CellRequests> requests, Authenticator& auth)
      : graph_(graph),
        store_(store),
        pap_(pap),
        cells_(cells),
        requests_(std::move(requests)),
        auth_(auth),
        names_(store),
        sources_(store, graph, pap, cells) {}

  // GET /v1/services
  Result<Reply> list(const Request& req) {
    WT_TRY(who, auth_.authenticate(req));
    std::optional<ServiceType> only;
    for (const auto& [key, value] : req.query) {
      if (key == "action" && value == "list") continue;  // seed 001 spells the listing so
      if (key != "type")
        return Error{"INVALID_QUERY_PARAMETER",
                     "GET /v1/services takes only ?type=datasource|policy-engine (and "
                     "action=list)"};
      only = parse_service_type(value);
      if (!only) return Error{"INVALID_SERVICE_TYPE", "type is datasource or policy-engine"};
    }
    WT_TRY(aliases, names_.aliases());
    WT_TRY(default_name, names_.default_service());
    std::optional<std::string> default_id;
    if (*default_name)
      if (auto d = names_.resolve(**default_name)) default_id = d->id();
    auto describe = [&](const std::string& id, json entry) {
      json named = json::array();
      for (const auto& [alias, target] : *aliases)
        if (target == id) named.push_back(alias);
      entry["aliases"] = std::move(named);
      entry["default"] = default_id == id;
      return entry;
    };
    json out = json::array();
    if (who->admin && (!only || *only == ServiceType::PolicyEngine)) {
      for (const Cell& c : cells_.list()) {
        const ServiceId id{ServiceType::PolicyEngine, c.report.name};
        out.push_back(describe(id.id(), {{"id", id.id()},
                                         {"type", std::string(to_string(id.type))},
                                         {"cell", c.report.name},
                                         {"pdpType", c.report.pdp_type},
                                         {"group", c.report.pdp_group},
                                         {"subgroup", c.report.pdp_subgroup},
                                         {"state", c.report.state},
                                         {"health", c.report.healthy},
                                         {"healthy", c.healthy},
                                         {"expired", c.expired}}));
      }
    }
    if (!only || *only == ServiceType::DataSource) {
      for (const std::string& name : data_source_names()) {
        if (!who->admin && !DataSources::readable_by_accounts(name)) continue;
        json tables = json::array();
        for (const TableSchema& t : DataSources::tables(name)) tables.push_back(t.name);
        out.push_back(describe(name, {{"id", name},
                                      {"type", std::string(to_string(ServiceType::DataSource))},
                                      {"tables", std::move(tables)}}));
      }
    }
    return Reply{200, json{{"services", std::move(out)}}};
  }

  // GET …/tables
  void tables(const Request& req, const Named& name, Respond respond) {
    auto target = resolve(req, name, false);
    if (!target) return respond(target.error());
    const std::string id = target->id.id();
    if (target->id.type == ServiceType::DataSource) {
      json out = json::array();
      for (const TableSchema& t : DataSources::tables(target->id.name))
        out.push_back(table_json(t));
      return respond(Reply{200, json{{"service", id}, {"tables", std::move(out)}}});
    }
    const std::string cell = target->id.name;
    requests_->submit(cell, "tables", json::object(),
                      [cell, id, respond = std::move(respond)](Result<json> answer) {
                        if (!answer) return respond(cell_error_for_caller(cell, answer.error()));
                        if (!answer->is_object() || !(*answer)["tables"].is_array())
                          return respond(malformed(cell, "tables"));
                        json out = json::array();
                        for (json t : (*answer)["tables"]) {
                          if (!t.is_object() || !t["columns"].is_array())
                            return respond(malformed(cell, "tables"));
                          t["columns"] = with_app_columns(t["columns"]);
                          out.push_back(std::move(t));
                        }
                        respond(Reply{200, json{{"service", id}, {"tables", std::move(out)}}});
                      });
  }

  // GET …/tables/:table/rows
  void rows(const Request& req, const Named& name, Respond respond) {
    struct Asked {
      Target target;
      std::string table;
      RowQuery query;
    };
    auto asked = [&]() -> Result<Asked> {
      WT_TRY(target, resolve(req, name, false));
      WT_TRY(query, parse_row_query(req.query));
      std::string table = req.param("table");
      if (target->id.type == ServiceType::PolicyEngine) {
        if (!is_table_name(table))
          return Error{"TABLE_NOT_FOUND",
                       "service \"" + target->id.id() + "\" has no table \"" + table + "\""};
        WT_TRY(filter, tag_filter(query->filter));
        query->filter = std::move(*filter);
      }
      return Asked{std::move(*target), std::move(table), std::move(*query)};
    }();
    if (!asked) return respond(asked.error());
    const std::string id = asked->target.id.id();
    if (asked->target.id.type == ServiceType::DataSource) {
      auto page = sources_.rows(asked->target.id.name, asked->table, asked->query,
                                scope_of(asked->target.who));
      if (!page) return respond(page.error());
      (*page)["service"] = id;
      return respond(Reply{200, std::move(*page)});
    }
    const std::string cell = asked->target.id.name;
    json filter = json::object();
    for (const auto& [column, value] : asked->query.filter) filter[column] = value;
    json body = {{"table", asked->table},
                 {"filter", std::move(filter)},
                 {"limit", asked->query.limit},
                 {"offset", asked->query.offset}};
    auto self = shared_from_this();
    const RowQuery query = asked->query;
    requests_->submit(cell, "rows", std::move(body),
                      [self, cell, id, query, respond = std::move(respond)](Result<json> answer) {
                        if (!answer) return respond(cell_error_for_caller(cell, answer.error()));
                        respond(self->engine_page(cell, id, query, std::move(*answer)));
                      });
  }

  // GET …/status
  void status(const Request& req, const Named& name, Respond respond) {
    auto target = resolve(req, name, false);
    if (!target) return respond(target.error());
    const std::string id = target->id.id();
    if (target->id.type == ServiceType::DataSource) {
      auto counts = sources_.row_counts(target->id.name, scope_of(target->who));
      if (!counts) return respond(counts.error());
      return respond(Reply{200, json{{"service", id},
                                     {"type", std::string(to_string(ServiceType::DataSource))},
                                     {"healthy", true},
                                     {"rows", std::move(*counts)}}});
    }
    const Cell cell = *target->cell;
    auto self = shared_from_this();
    requests_->submit(cell.report.name, "status", json::object(),
                      [self, cell, id, respond = std::move(respond)](Result<json> answer) {
                        if (!answer)
                          return respond(cell_error_for_caller(cell.report.name, answer.error()));
                        respond(self->engine_status(cell, id, std::move(*answer)));
                      });
  }

  // GET …/actions
  Result<Reply> actions(const Request& req, const Named& name) {
    WT_TRY(target, resolve(req, name, false));
    json out = json::array();
    if (target->id.type == ServiceType::PolicyEngine)
      for (const ServiceAction& a : engine_actions()) out.push_back(action_json(a));
    return Reply{200, json{{"service", target->id.id()}, {"actions", std::move(out)}}};
  }

  // POST …/actions/:action (admin)
  void act(const Request& req, const Named& name, Respond respond) {
    struct Asked {
      std::string id;
      std::string cell;
      std::string action;
      json body;
    };
    auto asked = [&]() -> Result<Asked> {
      WT_TRY(target, resolve(req, name, true));
      const std::string action = req.param("action");
      if (target->id.type == ServiceType::DataSource)
        return Error{"ACTION_NOT_FOUND", "data source \"" + target->id.name + "\" has no actions"};
      json given = json::object();
      if (!req.body.empty()) {
        WT_TRY(parsed, http::parse_json_object(req.body));
        given = std::move(*parsed);
      }
      WT_TRY(body, engine_action_body(action, given));
      return Asked{target->id.id(), target->id.name, action, std::move(*body)};
    }();
    if (!asked) return respond(asked.error());
    const std::string cell = asked->cell, id = asked->id, action = asked->action;
    requests_->submit(
        cell, action, std::move(asked->body),
        [cell, id, action, respond = std::move(respond)](Result<json> answer) {
          if (!answer) return respond(cell_error_for_caller(cell, answer.error()));
          respond(Reply{200, json{{"service", id}, {"action", action}, {"result", *answer}}});
        });
  }

  // GET …/policies
  Result<Reply> policies(const Request& req, const Named& name) {
    WT_TRY(target, resolve(req, name, false));
    if (target->id.type == ServiceType::DataSource)
      return Error{"SERVICE_HAS_NO_POLICIES",
                   "data source \"" + target->id.name +
                       "\" takes no policies (only a policy engine holds policy versions)"};
    const CellReport& r = target->cell->report;
    WT_TRY(assigned, pap_.assignment(r.pdp_group, r.pdp_subgroup));
    std::map<std::pair<std::string, std::string>, json> out;
    for (const DeployedPolicy& p : r.policies) {
      json& e = out[{p.name, p.version}];
      e = policy_ident_json(p.name, p.version);
      e["held"] = true;
      e["assigned"] = false;
    }
    for (const PolicyIdent& p : assigned->policies) {
      json& e = out[{p.name, p.version}];
      if (e.is_null()) {
        e = policy_ident_json(p.name, p.version);
        e["held"] = false;
      }
      e["assigned"] = true;
    }
    for (const FailedPolicy& f : r.failed_policies) {
      json& e = out[{f.name, f.version}];
      if (e.is_null()) {
        e = policy_ident_json(f.name, f.version);
        e["held"] = false;
        e["assigned"] = false;
      }
      e["failure"] = f.reason;
    }
    json list = json::array();
    for (auto& [_, e] : out) list.push_back(std::move(e));
    return Reply{200, json{{"service", target->id.id()},
                           {"group", assigned->group},
                           {"subgroup", assigned->subgroup},
                           {"policies", std::move(list)}}};
  }

  // GET /v1/system/default-service
  Result<Reply> get_default(const Request& req) {
    WT_TRY(who, auth_.authenticate(req));
    WT_TRY(name, names_.default_service());
    if (!*name)
      return Error{"DEFAULT_SERVICE_NOT_FOUND",
                   "no default service is set: PUT /v1/system/default-service {\"service\": …}"};
    return Reply{200, default_json(**name)};
  }

  // PUT /v1/system/default-service {"service"}
  Result<Reply> put_default(const Request& req) {
    WT_TRY(who, admin(req, "setting the default service"));
    WT_TRY(body, http::parse_json_object(req.body));
    if (auto r = http::check_fields(*body, {"service"}); !r) return r.error();
    WT_TRY(service, http::string_field(*body, "service"));
    if (auto r = names_.set_default(*service); !r) return r.error();
    return Reply{200, default_json(*service)};
  }

  // DELETE /v1/system/default-service
  Result<Reply> delete_default(const Request& req) {
    WT_TRY(who, admin(req, "clearing the default service"));
    WT_TRY(cleared, names_.clear_default());
    if (!*cleared) return Error{"DEFAULT_SERVICE_NOT_FOUND", "no default service is set"};
    return Reply{200, json{{"status", "success"}}};
  }

  // GET /v1/system/service-aliases
  Result<Reply> list_aliases(const Request& req) {
    WT_TRY(who, auth_.authenticate(req));
    WT_TRY(aliases, names_.aliases());
    json out = json::array();
    for (const auto& [alias, service] : *aliases)
      out.push_back({{"alias", alias}, {"service", service}});
    return Reply{200, json{{"aliases", std::move(out)}}};
  }

  // PUT /v1/system/service-aliases/:alias {"service"}
  Result<Reply> put_alias(const Request& req) {
    WT_TRY(who, admin(req, "naming a service"));
    const std::string alias = req.param("alias");
    if (auto r = check_alias(alias); !r) return r.error();
    WT_TRY(body, http::parse_json_object(req.body));
    if (auto r = http::check_fields(*body, {"service"}); !r) return r.error();
    WT_TRY(service, http::string_field(*body, "service"));
    if (auto r = names_.set_alias(alias, *service); !r) return r.error();
    return Reply{200, json{{"alias", alias}, {"service", *service}}};
  }

  // DELETE /v1/system/service-aliases/:alias
  Result<Reply> delete_alias(const Request& req) {
    WT_TRY(who, admin(req, "removing an alias"));
    const std::string alias = req.param("alias");
    if (auto r = check_alias(alias); !r) return r.error();
    if (auto r = names_.delete_alias(alias); !r) return r.error();
    return Reply{200, json{{"status", "success"}}};
  }

 private:
  Result<Principal> admin(const Request& req, const std::string& what) {
    WT_TRY(who, auth_.authenticate(req));
    if (!who->admin) return Error{"FORBIDDEN", what + " needs a network.admin token"};
    return *who;
  }

  json default_json(const std::string& name) {
    auto id = names_.resolve(name);
    return {{"service", name}, {"resolved", id ? json(id->id()) : json(nullptr)}};
  }

  // The service a request names (or the default), checked against the caller: an engine,
  // the cells and groups data sources and every action need an admin; an engine's cell must
  // have reported.
  Result<Target> resolve(const Request& req, const Named& name, bool action) {
    WT_TRY(who, auth_.authenticate(req));
    WT_TRY(id, name ? names_.resolve(*name) : names_.resolve_default());
    if (!who->admin) {
      if (action)
        return Error{"FORBIDDEN", "running a service's action needs a network.admin token"};
      if (id->type == ServiceType::PolicyEngine)
        return Error{"FORBIDDEN",
                     "a cell's policy engine holds every account's endpoints and rules: reading "
                     "it needs a network.admin token"};
      if (!DataSources::readable_by_accounts(id->name))
        return Error{"FORBIDDEN", "data source \"" + id->name + "\" needs a network.admin token"};
    }
    Target t{std::move(*who), std::move(*id), std::nullopt};
    if (t.id.type == ServiceType::PolicyEngine) {
      t.cell = cells_.find(t.id.name);
      if (!t.cell)
        return Error{"SERVICE_NOT_FOUND", "no service \"" + t.id.id() + "\": cell \"" + t.id.name +
                                              "\" has not reported"};
    }
    return t;
  }

  // Filters on "<x>_app" become filters on "<x>_tag" (the cell knows tags, not guids).
  Result<std::map<std::string, std::string>> tag_filter(
      const std::map<std::string, std::string>& filter) {
    std::map<std::string, std::string> out;
    for (const auto& [column, value] : filter) {
      auto tag_column = tag_column_for(column);
      if (!tag_column) {
        out[column] = value;
        continue;
      }
      if (filter.contains(*tag_column))
        return Error{"INVALID_FILTER",
                     "filter on \"" + column + "\" or on \"" + *tag_column + "\", not both"};
      WT_TRY(app, graph_.app(value));
      out[*tag_column] = std::to_string(app->tag);
    }
    return out;
  }

  Result<Reply> engine_page(const std::string& cell, const std::string& id, const RowQuery& query,
                            json answer) {
    if (!answer.is_object() || !answer["columns"].is_array() || !answer["rows"].is_array() ||
        !answer["total"].is_number_integer())
      return malformed(cell, "rows");
    const json& columns = answer["columns"];
    json rows = std::move(answer["rows"]);
    std::map<uint32_t, std::optional<std::string>> guids;
    const auto tags = tags_in_rows(columns, rows);
    if (!tags.empty()) {
      auto found = store_.read<bool>([&](StoreTx& tx) -> Result<bool> {
        for (uint32_t tag : tags) {
          WT_TRY(app, tx.find_app_by_tag(tag));
          guids[tag] = *app ? std::optional<std::string>((*app)->guid) : std::nullopt;
        }
        return true;
      });
      if (!found) return found.error();
    }
    add_app_values(columns, rows, [&](uint32_t tag) -> std::optional<std::string> {
      auto it = guids.find(tag);
      return it == guids.end() ? std::nullopt : it->second;
    });
    return Reply{200, json{{"service", id},
                           {"table", answer.value("table", std::string())},
                           {"columns", with_app_columns(columns)},
                           {"rows", std::move(rows)},
                           {"total", answer["total"]},
                           {"limit", query.limit},
                           {"offset", query.offset}}};
  }

  Result<Reply> engine_status(const Cell& cell, const std::string& id, json answer) {
    if (!answer.is_object()) return malformed(cell.report.name, "status");
    WT_TRY(server_revision, graph_.revision());
    json held = answer.contains("revision") ? answer["revision"] : json(nullptr);
    json revision = {{"held", held}, {"server", *server_revision}};
    if (held.is_number_integer()) revision["behind"] = *server_revision - held.get<int64_t>();
    auto field = [&](const char* key) {
      return answer.contains(key) ? answer[key] : json(nullptr);
    };
    return Reply{200, json{{"service", id},
                           {"type", std::string(to_string(ServiceType::PolicyEngine))},
                           {"cell", cell.report.name},
                           {"health", cell.report.healthy},
                           {"healthy", field("healthy")},
                           {"expired", cell.expired},
                           {"state", field("state")},
                           {"mode", field("mode")},
                           {"group", field("group")},
                           {"subgroup", field("subgroup")},
                           {"synced", field("synced")},
                           {"connected", field("connected")},
                           {"endpoints", field("endpoints")},
                           {"revision", std::move(revision)},
                           {"map_fill", field("map_fill")}}};
  }

  PolicyGraph& graph_;
  Store& store_;
  Pap& pap_;
  CellRegistry& cells_;
  std::shared_ptr<CellRequests> requests_;
  Authenticator& auth_;
  ServiceNames names_;
  DataSources sources_;
};

}  // namespace

void add_services_routes(http::Router& router, PolicyGraph& graph, Store& store, Pap& pap,
                         CellRegistry& cells, std::shared_ptr<CellRequests> requests,
                         Authenticator& auth) {
  auto api = std::make_shared<ServicesApi>(graph, store, pap, cells, std::move(requests), auth);
  using M = http::Method;
  auto id = [](const Request& q) -> Named { return q.param("id"); };
  auto by_default = [](const Request&) -> Named { return std::nullopt; };
  router.get("/v1/services", [api](const Request& q) { return api->list(q); });
  // Each service route twice: of the service the path names, and of the default service.
  struct Routes {
    std::string prefix;
    std::function<Named(const Request&)> named;
  };
  for (const Routes& r : {Routes{"/v1/services/:id", id}, Routes{"/v1", by_default}}) {
    auto named = r.named;
    router
        .add_async(M::Get, r.prefix + "/tables",
                   [api, named](const Request& q, Respond done) {
                     api->tables(q, named(q), std::move(done));
                   })
        .add_async(M::Get, r.prefix + "/tables/:table/rows",
                   [api, named](const Request& q, Respond done) {
                     api->rows(q, named(q), std::move(done));
                   })
        .add_async(M::Get, r.prefix + "/status",
                   [api, named](const Request& q, Respond done) {
                     api->status(q, named(q), std::move(done));
                   })
        .get(r.prefix + "/actions",
             [api, named](const Request& q) { return api->actions(q, named(q)); })
        .add_async(M::Post, r.prefix + "/actions/:action",
                   [api, named](const Request& q, Respond done) {
                     api->act(q, named(q), std::move(done));
                   })
        .get(r.prefix + "/policies",
             [api, named](const Request& q) { return api->policies(q, named(q)); });
  }
  router.get("/v1/system/default-service", [api](const Request& q) { return api->get_default(q); })
      .put("/v1/system/default-service", [api](const Request& q) { return api->put_default(q); })
      .del("/v1/system/default-service", [api](const Request& q) { return api->delete_default(q); })
      .get("/v1/system/service-aliases", [api](const Request& q) { return api->list_aliases(q); })
      .put("/v1/system/service-aliases/:alias",
           [api](const Request& q) { return api->put_alias(q); })
      .del("/v1/system/service-aliases/:alias",
           [api](const Request& q) { return api->delete_alias(q); });
  router.admit(
      {"/v1/services", "/v1/system", "/v1/tables", "/v1/status", "/v1/actions", "/v1/policies"},
      [&auth](const Request& q) { return auth.authenticate(q.authorization); });
}

}  // namespace wiretag
