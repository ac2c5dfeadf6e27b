#include "server/edges_api.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "core/app_guid.h"
#include "core/edge_listing.h"
#include "server/app_access.h"

namespace wiretag {
namespace {

using http::Reply;
using http::Request;
using nlohmann::json;

constexpr size_t kDefaultLimit = 1000, kMaxLimit = 100000;

Result<EdgeFilter> parse_filter(const Request& req, const Principal& who, PolicyGraph& graph) {
  for (const auto& [key, value] : req.query)
    if (key != "account" && key != "source" && key != "destination" && key != "limit")
      return Error{"INVALID_QUERY",
                   "unknown query parameter \"" + key + "\" (account, source, destination, limit)"};
  EdgeFilter f;
  if (req.query.count("account")) {
    f.account = req.query_value("account");
    if (auto r = check_account_id(*f.account); !r) return r.error();
    if (!who.can_access(*f.account))
      return Error{"ACCOUNT_NOT_FOUND", "no account \"" + *f.account + "\" for this token"};
  }
  // A named app must be one this token may see (else 404 APP_NOT_FOUND, as anywhere).
  if (req.query.count("source")) {
    f.source = req.query_value("source");
    if (auto r = check_app_guid(*f.source, "source"); !r) return r.error();
    if (auto app = visible_app(graph, who, *f.source); !app) return app.error();
  }
  if (req.query.count("destination")) {
    f.destination = req.query_value("destination");
    if (auto r = check_app_guid(*f.destination, "destination"); !r) return r.error();
    if (auto app = visible_app(graph, who, *f.destination); !app) return app.error();
  }
  f.limit = kDefaultLimit;
  if (req.query.count("limit")) {
    const std::string text = req.query_value("limit");
    size_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size() || n < 1 || n > kMaxLimit)
      return Error{"INVALID_QUERY", "limit must be an integer 1-100000"};
    f.limit = n;
  }
  return f;
}

json edge_json(const PolicyGraph& graph, const ListedEdge& e) {
  json out = {{"source", e.edge.source},
              {"source_wire_bytes", e.source_tag ? graph.tags().wire_bytes(e.source_tag) : "*"},
              {"destination", e.edge.destination},
              {"destination_wire_bytes", graph.tags().wire_bytes(e.destination_tag)},
              {"account", e.edge.account},
              {"protocol", std::string(to_string(e.edge.protocol))},
              {"policy", e.edge.policy}};
  if (e.edge.ports) out["ports"] = {{"start", e.edge.ports->start}, {"end", e.edge.ports->end}};
  return out;
}

}  // namespace

void add_edge_routes(http::Router& router, Store& store, PolicyGraph& graph, Authenticator& auth) {
  // GET /v1/edges[?account=][&source=][&destination=][&limit=] →
  // {"edges":[…],"truncated","revision"}; a token sees the edges of its accounts only.
  router.get("/v1/edges", [&store, &graph, &auth](const Request& req) -> Result<Reply> {
    WT_TRY(who, auth.authenticate(req));
    WT_TRY(filter, parse_filter(req, *who, graph));
    const Principal principal = *who;
    WT_TRY(listing, list_edges(store, *filter, [&principal](std::string_view account) {
             return principal.can_access(account);
           }));
    SourceVisibility visible(graph, *who);
    json edges = json::array();
    for (const ListedEdge& e : listing->edges)
      if (visible(e.edge.source)) edges.push_back(edge_json(graph, e));
    return Reply{200, json{{"edges", std::move(edges)},
                           {"truncated", listing->truncated},
                           {"revision", listing->revision}}};
  });
  router.admit({"/v1/edges"}, [&auth](const Request& q) { return auth.authenticate(q); });
}

}  // namespace wiretag
