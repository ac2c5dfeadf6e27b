#include "server/policy_api.h"

#include <nlohmann/json.hpp>
#include <set>

#include "core/app_guid.h"
#include "core/field_limits.h"
#include "http/json_input.h"
#include "server/app_access.h"
#include "server/rule_input.h"
#include "wiretag/error_kind.h"
#include "wiretag/version.h"

namespace wiretag {
namespace {

using http::Reply;
using http::Request;
using nlohmann::json;

Error app_not_found(std::string_view guid) {
  return Error{"APP_NOT_FOUND", "app \"" + std::string(guid) + "\" is not registered"};
}

json app_json(const PolicyGraph& graph, const AppRecord& app) {
  return {{"guid", app.guid},
          {"wire_bytes", graph.tags().wire_bytes(app.tag)},
          {"account", app.account}};
}

// Who may read an app's whitelist: an external API credential, or an agent's cell credential
// (seed 000 has "the policy agent running on a diego cell" call it).
Result<Principal> whitelist_reader(const Authenticator& auth, const Request& req) {
  auto who = auth.authenticate(req);
  if (!who && is(who.error(), ErrorKind::Forbidden)) return auth.authenticate_internal(req);
  return who;
}

// The body of POST and DELETE /whitelist: {"source","destination","protocol"?,"ports"?}.
Result<EdgeRequest> parse_edge(const std::string& text) {
  WT_TRY(body, http::parse_json_object(text));
  if (auto r = http::check_fields(*body, {"source", "destination"}, {"protocol", "ports"}); !r)
    return r.error();
  WT_TRY(source, http::string_field(*body, "source"));
  WT_TRY(destination, http::string_field(*body, "destination"));
  WT_TRY(proto_name, http::optional_string_field(*body, "protocol"));
  EdgeRequest edge{*source, *destination, Protocol::Any, std::nullopt};
  if (*proto_name) {
    auto p = parse_protocol(**proto_name);
    if (!p) return Error{"INVALID_PROTOCOL", "protocol must be tcp, udp, icmp or any"};
    edge.protocol = *p;
  }
  WT_TRY(ports, parse_ports(*body));
  edge.ports = *ports;
  if (auto r = check_app_guid(edge.source, "source"); !r) return r.error();
  if (auto r = check_app_guid(edge.destination, "destination"); !r) return r.error();
  if (edge.ports && edge.protocol == Protocol::Icmp)
    return Error{"INVALID_RULE", "icmp rules take no ports"};
  return edge;
}

class PolicyServerApi {
 public:
  PolicyServerApi(PolicyGraph& graph, Authenticator& auth) : graph_(graph), auth_(auth) {}

  // POST /app {"guid", "account"?} → {"guid","wire_bytes"}; the same guid again → 200.
  Result<Reply> register_app(const Request& req) {
    WT_TRY(who, auth_.authenticate(req));
    WT_TRY(body, http::parse_json_object(req.body));
    if (auto r = http::check_fields(*body, {"guid"}, {"account"}); !r) return r.error();
    WT_TRY(guid, http::string_field(*body, "guid"));
    WT_TRY(account, http::optional_string_field(*body, "account"));
    const std::string acct = account->value_or(std::string(kDefaultAccount));
    if (auto r = check_account_id(acct); !r) return r.error();
    if (!who->can_access(acct))
      return Error{"ACCOUNT_NOT_FOUND", "no account \"" + acct + "\" for this token"};
    WT_TRY(reg, graph_.register_app(acct, *guid));
    return Reply{
        reg->created ? 201u : 200u,
        json{{"guid", reg->app.guid}, {"wire_bytes", graph_.tags().wire_bytes(reg->app.tag)}}};
  }

  // GET /apps[?account=] → {"apps":[{guid,wire_bytes,account}]}
  Result<Reply> list_apps(const Request& req) {
    WT_TRY(who, auth_.authenticate(req));
    std::optional<std::string> account;
    if (req.query.count("account")) {
      account = req.query_value("account");
      if (auto r = check_account_id(*account); !r) return r.error();
    }
    WT_TRY(apps, graph_.apps(account ? std::optional<std::string_view>(*account) : std::nullopt));
    json out = json::array();
    for (const AppRecord& app : *apps)
      if (who->can_access(app.account)) out.push_back(app_json(graph_, app));
    return Reply{200, json{{"apps", out}}};
  }

  Result<Reply> get_app(const Request& req) {
    WT_TRY(who, auth_.authenticate(req));
    WT_TRY(app, visible_app(graph_, *who, req.param("app_guid")));
    return Reply{200, app_json(graph_, *app)};
  }

  // DELETE /app/:app_guid: the app, its edges and (after quarantine) its tag.
  Result<Reply> delete_app(const Request& req) {
    WT_TRY(who, auth_.authenticate(req));
    WT_TRY(app, visible_app(graph_, *who, req.param("app_guid")));
    if (auto r = graph_.delete_app(app->guid); !r) return r.error();
    return Reply{200, json{{"status", "success"}}};
  }

  // POST /whitelist {"source","destination","protocol"?,"ports"?}: an edge into destination.
  // Answered after the durable commit, which concurrent writes share (group commit), without
  // holding a server thread while it waits.
  void allow(const Request& req, http::Respond respond) {
    auto parsed = [&]() -> Result<EdgeRequest> {
      WT_TRY(who, auth_.authenticate(req));
      WT_TRY(edge, parse_edge(req.body));
      // The destination's owner decides who may reach it; a scoped token names its own apps.
      if (auto r = check_edge_apps(graph_, *who, edge->source, edge->destination); !r)
        return r.error();
      return std::move(*edge);
    }();
    if (!parsed) return respond(parsed.error());
    json out = {{"source", parsed->source},
                {"destination", parsed->destination},
                {"protocol", std::string(to_string(parsed->protocol))}};
    if (parsed->ports)
      out["ports"] = {{"start", parsed->ports->start}, {"end", parsed->ports->end}};
    graph_.allow_async(std::move(*parsed), [out = std::move(out), respond = std::move(respond)](
                                               Result<bool> created) mutable {
      if (!created) return respond(created.error());
      respond(Reply{*created ? 201u : 200u, std::move(out)});
    });
  }

  // DELETE /whitelist, the same body as POST: removes exactly that edge.
  Result<Reply> disallow(const Request& req) {
    WT_TRY(who, auth_.authenticate(req));
    WT_TRY(edge, parse_edge(req.body));
    if (auto r = check_edge_apps(graph_, *who, edge->source, edge->destination); !r)
      return r.error();
    if (auto r = graph_.disallow(*edge); !r) return r.error();
    return Reply{200, json{{"status", "success"}}};
  }

  // GET /app/:app_guid/whitelist[?detail=rules] → {"allowed_wire_bytes":[…]}: seed 000's
  // internal API, for operators and for agents (cell tokens) alike.
  Result<Reply> whitelist(const Request& req) {
    WT_TRY(who, whitelist_reader(auth_, req));
    const std::string detail = req.query_value("detail");
    if (req.query.count("detail") && detail != "rules")
      return Error{"INVALID_QUERY", "detail may only be \"rules\""};
    const std::string guid = req.param("app_guid");
    // The rules are needed to tell which tags come from apps this token may not see.
    SourceVisibility visible(graph_, *who);
    const bool scoped = !who->admin && !who->cell;
    WT_TRY(found, graph_.app_whitelist(guid, detail == "rules" || scoped));
    if (!who->cell && !who->can_access(found->app.account)) return app_not_found(guid);
    const Whitelist* wl = &found->whitelist;
    std::set<uint32_t> hidden;  // tags of sources in accounts the token does not hold
    for (const InboundEdge& in : wl->edges)
      if (in.source_tag && !visible(in.edge.source)) hidden.insert(in.source_tag);
    json tags = json::array();
    for (uint32_t t : wl->allowed_tags)
      if (!hidden.count(t)) tags.push_back(graph_.tags().wire_bytes(t));
    json out = {{"allowed_wire_bytes", tags}};
    if (detail == "rules") {
      json rules = json::array();
      for (const InboundEdge& in : wl->edges) {
        if (!visible(in.edge.source)) continue;
        json r = {{"source", in.edge.source},
                  {"wire_bytes", in.source_tag ? graph_.tags().wire_bytes(in.source_tag) : "*"},
                  {"protocol", std::string(to_string(in.edge.protocol))},
                  {"policy", in.edge.policy}};
        if (in.edge.ports)
          r["ports"] = {{"start", in.edge.ports->start}, {"end", in.edge.ports->end}};
        rules.push_back(r);
      }
      out["rules"] = rules;
    }
    return Reply{200, out};
  }

  Result<Reply> health(const Request&) {
    WT_TRY(rev, graph_.revision());
    return Reply{200,
                 json{{"status", "ok"}, {"revision", *rev}, {"version", std::string(kVersion)}}};
  }

 private:
  PolicyGraph& graph_;
  Authenticator& auth_;
};

}  // namespace

void add_policy_server_routes(http::Router& router, PolicyGraph& graph, Authenticator& auth) {
  auto api = std::make_shared<PolicyServerApi>(graph, auth);
  auto bind = [api](Result<Reply> (PolicyServerApi::*fn)(const Request&)) {
    return [api, fn](const Request& req) { return ((*api).*fn)(req); };
  };
  router.post("/app", bind(&PolicyServerApi::register_app))
      .get("/apps", bind(&PolicyServerApi::list_apps))
      .get("/app/:app_guid", bind(&PolicyServerApi::get_app))
      .del("/app/:app_guid", bind(&PolicyServerApi::delete_app))
      .add_async(http::Method::Post, "/whitelist",
                 [api](const Request& req, http::Respond respond) {
                   api->allow(req, std::move(respond));
                 })
      .del("/whitelist", bind(&PolicyServerApi::disallow))
      .get("/app/:app_guid/whitelist", bind(&PolicyServerApi::whitelist))
      .get("/healthz", bind(&PolicyServerApi::health));
  // The bearer token is checked on the head, before a body is read (/healthz needs none).
  router.admit({"/app", "/apps", "/whitelist", "/v1/tokens"}, [&auth](const Request& q) {
    if (q.method == http::Method::Get && q.path.ends_with("/whitelist"))
      return whitelist_reader(auth, q);
    return auth.authenticate(q);
  });
}

}  // namespace wiretag
