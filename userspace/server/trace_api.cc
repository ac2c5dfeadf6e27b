#include "server/trace_api.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/account_policies.h"
#include "core/app_guid.h"
#include "http/json_input.h"
#include "server/app_access.h"
#include "server/cell_view.h"

namespace wiretag {
namespace {

using http::Reply;
using http::Request;
using nlohmann::json;

struct TraceRequest {
  std::string source;
  std::string destination;
  Protocol protocol = Protocol::Tcp;
  std::optional<uint16_t> port;
  bool ipv6 = false;
  bool reply = false;
  std::optional<std::string> cell;
};

Result<bool> optional_bool(const json& body, const char* key) {
  if (!body.contains(key)) return false;
  if (!body[key].is_boolean())
    return Error{"INVALID_FIELD_TYPE", "\"" + std::string(key) + "\" must be true or false"};
  return body[key].get<bool>();
}

Result<TraceRequest> parse_trace(const std::string& text) {
  WT_TRY(body, http::parse_json_object(text));
  if (auto r = http::check_fields(*body, {"source", "destination", "protocol"},
                                  {"port", "ipv6", "reply", "cell"});
      !r)
    return r.error();
  TraceRequest t;
  WT_TRY(source, http::string_field(*body, "source"));
  WT_TRY(destination, http::string_field(*body, "destination"));
  if (auto r = check_app_guid(*source, "source"); !r) return r.error();
  if (auto r = check_app_guid(*destination, "destination"); !r) return r.error();
  t.source = *source;
  t.destination = *destination;
  WT_TRY(proto, http::string_field(*body, "protocol"));
  auto p = parse_protocol(*proto);
  if (!p || *p == Protocol::Any)
    return Error{"INVALID_PROTOCOL", "a traced packet's protocol is tcp, udp or icmp"};
  t.protocol = *p;
  if (body->contains("port")) {
    const json& v = (*body)["port"];
    if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 65535)
      return Error{"INVALID_PORT", "port must be an integer 1-65535"};
    t.port = static_cast<uint16_t>(v.get<int64_t>());
  }
  if (t.protocol == Protocol::Icmp && t.port)
    return Error{"INVALID_FIELD_COMBINATION", "icmp has no ports: leave \"port\" out"};
  if (t.protocol != Protocol::Icmp && !t.port)
    return Error{"MISSING_FIELD", "a tcp or udp trace needs \"port\""};
  WT_TRY(ipv6, optional_bool(*body, "ipv6"));
  WT_TRY(reply, optional_bool(*body, "reply"));
  t.ipv6 = *ipv6;
  t.reply = *reply;
  WT_TRY(cell, http::optional_string_field(*body, "cell"));
  if (*cell && !is_valid_app_guid(**cell))
    return Error{"INVALID_CELL_NAME", "a cell name is 1-128 of [A-Za-z0-9._:-]"};
  t.cell = *cell;
  return t;
}

// Whether a rule into the destination admits the traced packet from `source` ("*": only the
// wildcard rules, as the cell matched one).
bool admits(std::string_view rule_source, Protocol rule_protocol,
            const std::optional<PortRange>& rule_ports, std::string_view source,
            const TraceRequest& t) {
  if (rule_source != source) return false;
  if (rule_protocol != Protocol::Any && rule_protocol != t.protocol) return false;
  if (!rule_ports) return true;
  return t.port && *t.port >= rule_ports->start && *t.port <= rule_ports->end;
}

// The policy versions deployed to the cell's subgroup that hold a rule admitting the packet
// from `source` (the traced source, or "*" when the cell matched a wildcard rule), as
// GET /app/:guid/whitelist?detail=rules attributes rules: default-whitelist for its edges, a
// named policy for the rules of that version.
Result<json> holding_versions(Store& store, Pap& pap, const Cell& cell, const AppRecord& dst,
                              const std::string& source, const TraceRequest& t) {
  WT_TRY(assigned, pap.assignment(cell.report.pdp_group, cell.report.pdp_subgroup));
  if (assigned->locked) return json::array();
  return store.read<json>([&](StoreTx& tx) -> Result<json> {
    json out = json::array();
    for (const PolicyIdent& p : assigned->policies) {
      bool holds = false;
      if (p.name == kDefaultWhitelist) {
        WT_TRY(edges, tx.edges_to(dst.guid));
        for (const InboundEdge& in : *edges)
          holds = holds || (in.edge.policy == kDefaultWhitelist &&
                            admits(in.edge.source, in.edge.protocol, in.edge.ports, source, t));
      } else if (auto n = Pap::parse_version(p.version)) {
        WT_TRY(record, tx.policy_version(p.name, *n));
        if (!*record) continue;
        WT_TRY(policy, policy_from_record(**record));
        if (policy->account != dst.account) continue;  // the destination's owner decides
        for (const PolicyRule& r : policy->rules)
          holds = holds ||
                  (r.destination == dst.guid && admits(r.source, r.protocol, r.ports, source, t));
      }
      if (holds) out.push_back({{"name", p.name}, {"version", p.version}});
    }
    return out;
  });
}

class CellRequestApi : public std::enable_shared_from_this<CellRequestApi> {
 public:
  CellRequestApi(PolicyGraph& graph, Store& store, Pap& pap, CellRegistry& cells,
                 std::shared_ptr<CellRequests> requests, Authenticator& auth)
      : graph_(graph),
        store_(store),
        pap_(pap),
        cells_(cells),
        requests_(std::move(requests)),
        auth_(auth) {}

  // POST /v1/trace
  void trace(const Request& req, http::Respond respond) {
    struct Routed {
      TraceRequest t;
      AppRecord destination;
      Cell cell;
      json body;
    };
    auto routed = [&]() -> Result<Routed> {
      WT_TRY(who, auth_.authenticate(req));
      WT_TRY(t, parse_trace(req.body));
      WT_TRY(dst, visible_app(graph_, *who, t->destination));
      WT_TRY(src, visible_app(graph_, *who, t->source));
      std::optional<Cell> cell;
      if (t->cell) {
        cell = cells_.find(*t->cell);
        if (!cell) return Error{"CELL_NOT_FOUND", "no cell \"" + *t->cell + "\" has reported"};
      } else {
        auto hosting = cells_hosting(cells_, dst->guid);
        if (hosting.empty())
          return Error{"ENDPOINT_NOT_FOUND",
                       "no cell hosts an endpoint of app \"" + dst->guid + "\""};
        cell = std::move(hosting.front());
      }
      json body = {{"destination", dst->guid},
                   {"source", src->guid},
                   {"source_tag", graph_.tags().wire_bytes(src->tag)},
                   {"protocol", std::string(to_string(t->protocol))},
                   {"ipv6", t->ipv6},
                   {"reply", t->reply}};
      if (t->port) body["port"] = *t->port;
      return Routed{std::move(*t), std::move(*dst), std::move(*cell), std::move(body)};
    }();
    if (!routed) return respond(routed.error());
    const std::string cell = routed->cell.report.name;
    auto self = shared_from_this();
    auto r = std::make_shared<Routed>(std::move(*routed));
    requests_->submit(cell, "trace", r->body,
                      [self, r, respond = std::move(respond)](Result<json> answer) mutable {
                        if (!answer) return respond(cell_error_for_caller(r->cell.report.name, answer.error()));
                        respond(self->traced(r->cell, r->destination, r->t, std::move(*answer)));
                      });
  }

  // POST /v1/cells/:name/ops/:op (admin)
  void op(const Request& req, http::Respond respond) {
    auto asked = [&]() -> Result<json> {
      WT_TRY(who, auth_.authenticate(req));
      if (!who->admin)
        return Error{"FORBIDDEN", "asking a cell directly needs a network.admin token"};
      if (!is_valid_app_guid(req.param("name")))
        return Error{"INVALID_CELL_NAME", "a cell name is 1-128 of [A-Za-z0-9._:-]"};
      const std::string op = req.param("op");
      if (op.empty() || op.size() > 64 ||
          op.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") != std::string::npos)
        return Error{"INVALID_OP", "an op is 1-64 of [a-z0-9_-]"};
      if (req.body.empty()) return json::object();
      return http::parse_json_object(req.body);
    }();
    if (!asked) return respond(asked.error());
    const std::string cell = req.param("name");
    const std::string op = req.param("op");
    requests_->submit(cell, op, std::move(*asked),
                      [cell, op, respond = std::move(respond)](Result<json> answer) {
                        if (!answer) return respond(cell_error_for_caller(cell, answer.error()));
                        respond(Reply{200, json{{"cell", cell}, {"op", op}, {"result", *answer}}});
                      });
  }

 private:
  Result<Reply> traced(const Cell& cell, const AppRecord& dst, const TraceRequest& t, json result) {
    result["cell"] = cell.report.name;
    if (result.contains("rule") && result["rule"].is_object() && !result.contains("policies")) {
      const json& rule = result["rule"];
      const bool wildcard = rule.value("source_tag", std::string()) == "*" ||
                            rule.value("source", std::string()) == "*";
      WT_TRY(held, holding_versions(store_, pap_, cell, dst, wildcard ? "*" : t.source, t));
      result["policies"] = std::move(*held);
    }
    return Reply{200, std::move(result)};
  }

  PolicyGraph& graph_;
  Store& store_;
  Pap& pap_;
  CellRegistry& cells_;
  std::shared_ptr<CellRequests> requests_;
  Authenticator& auth_;
};

}  // namespace

void add_cell_request_routes(http::Router& router, PolicyGraph& graph, Store& store, Pap& pap,
                             CellRegistry& cells, std::shared_ptr<CellRequests> requests,
                             Authenticator& auth) {
  auto api = std::make_shared<CellRequestApi>(graph, store, pap, cells, requests, auth);
  router
      .add_async(http::Method::Post, "/v1/trace",
                 [api](const Request& q, http::Respond done) { api->trace(q, std::move(done)); })
      .add_async(http::Method::Post, "/v1/cells/:name/ops/:op",
                 [api](const Request& q, http::Respond done) { api->op(q, std::move(done)); });
  router.admit({"/v1/trace", "/v1/cells"},
               [&auth](const Request& q) { return auth.authenticate(q); });
}

}  // namespace wiretag
