#include "server/decision_api.h"

#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <nlohmann/json.hpp>

#include "core/app_guid.h"
#include "core/field_limits.h"
#include "core/pap.h"
#include "http/json_input.h"
#include "server/accounts_api.h"
#include "server/onap_headers.h"

namespace wiretag {
namespace {

using http::Reply;
using http::Request;
using nlohmann::json;

constexpr size_t kMaxRequestIdChars = 128;

struct DecisionRequest {
  std::optional<std::string> request_id;
  ConnectQuery query;
};

bool valid_request_id(std::string_view id) {
  return !id.empty() && id.size() <= kMaxRequestIdChars &&
         std::none_of(id.begin(), id.end(), [](unsigned char c) { return c <= 0x20 || c >= 0x7f; });
}

// "tcp", "udp", "icmp", "icmpv6", or an IP protocol number "0".."255".
std::optional<uint8_t> parse_packet_protocol(std::string_view s) {
  if (s == "tcp") return IPPROTO_TCP;
  if (s == "udp") return IPPROTO_UDP;
  if (s == "icmp") return IPPROTO_ICMP;
  if (s == "icmpv6") return IPPROTO_ICMPV6;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || s.size() > 3 || ec != std::errc() || end != s.data() + s.size() || value > 255)
    return std::nullopt;
  return static_cast<uint8_t>(value);
}

Result<ConnectQuery> parse_resource(const json& r) {
  if (!r.is_object()) return Error{"INVALID_FIELD_TYPE", "\"resource\" must be an object"};
  if (auto c = http::check_fields(r, {"destination", "protocol"}, {"source", "port", "cell"}); !c)
    return c.error();
  ConnectQuery q;
  if (r.contains("source") && !r["source"].is_null()) {
    WT_TRY(source, http::string_field(r, "source"));
    if (*source == "*")
      return Error{"INVALID_SOURCE",
                   "\"resource.source\" names the one app a packet comes from: \"*\" is a "
                   "rule's wildcard, not a packet's source (null or absent: untagged)"};
    if (auto c = check_app_guid(*source, "resource.source"); !c) return c.error();
    q.source = *source;
  }
  WT_TRY(destination, http::string_field(r, "destination"));
  if (auto c = check_app_guid(*destination, "resource.destination"); !c) return c.error();
  q.destination = *destination;
  WT_TRY(proto, http::string_field(r, "protocol"));
  auto p = parse_packet_protocol(*proto);
  if (!p)
    return Error{"INVALID_PROTOCOL",
                 "\"resource.protocol\" is the packet's protocol: tcp, udp, icmp, icmpv6 or an "
                 "IP protocol number 0-255 (a packet has one protocol, so not \"any\")"};
  q.ip_proto = *p;
  const bool ports = q.ip_proto == IPPROTO_TCP || q.ip_proto == IPPROTO_UDP;
  const bool has_port = r.contains("port") && !r["port"].is_null();
  if (has_port) {
    const json& port = r["port"];
    if (!port.is_number_integer())
      return Error{"INVALID_FIELD_TYPE", "\"resource.port\" must be an integer"};
    if (!ports)
      return Error{"INVALID_PORT",
                   "\"resource.port\" is for tcp and udp; " + *proto + " packets have no port"};
    if (port.is_number_unsigned() ? port.get<uint64_t>() > 65535 : port.get<int64_t>() < 0)
      return Error{"INVALID_PORT", "\"resource.port\" must be 0-65535"};
    q.port = static_cast<uint16_t>(port.get<int64_t>());
  } else if (ports) {
    return Error{"MISSING_FIELD", "\"resource.port\" is required for " + *proto};
  }
  if (r.contains("cell") && !r["cell"].is_null()) {
    WT_TRY(cell, http::string_field(r, "cell"));
    if (auto c = check_name(*cell, "resource.cell", "INVALID_CELL_NAME"); !c) return c.error();
    q.cell = *cell;
  }
  return q;
}

// ONAP's DecisionRequest: ONAPName, ONAPComponent, ONAPInstance, requestId, action, resource.
Result<DecisionRequest> parse_request(std::string_view text) {
  WT_TRY(body, http::parse_json_object(text));
  if (auto c = http::check_fields(*body, {"ONAPName", "action", "resource"},
                                  {"ONAPComponent", "ONAPInstance", "requestId"});
      !c)
    return c.error();
  for (const char* field : {"ONAPName", "ONAPComponent", "ONAPInstance"}) {
    WT_TRY(value, http::optional_string_field(*body, field));
    if (*value)
      if (auto c = check_text(**value, field, kMaxLabelChars); !c) return c.error();
  }
  DecisionRequest out;
  WT_TRY(request_id, http::optional_string_field(*body, "requestId"));
  if (*request_id && !valid_request_id(**request_id))
    return Error{"INVALID_REQUEST_ID", "\"requestId\" is 1-128 printable characters"};
  out.request_id = *request_id;
  WT_TRY(action, http::string_field(*body, "action"));
  if (*action != "connect")
    return Error{"INVALID_ACTION",
                 "\"action\" must be \"connect\" (may a packet open a "
                 "connection); this PDP decides nothing else"};
  WT_TRY(query, parse_resource((*body)["resource"]));
  out.query = std::move(*query);
  return out;
}

json rule_json(const EffectiveRule& r, const std::string& destination) {
  json out = {{"source", r.source},
              {"destination", destination},
              {"protocol", std::string(to_string(r.protocol))}};
  if (r.ports) out["ports"] = {{"start", r.ports->start}, {"end", r.ports->end}};
  return out;
}

class DecisionApi {
 public:
  DecisionApi(DecisionPoint& decisions, const PolicyGraph& graph, Authenticator& auth)
      : decisions_(decisions), graph_(graph), auth_(auth) {}

  // POST /policy/pdpx/v1/decision
  Result<Reply> decide(const Request& req, std::optional<std::string>& request_id) {
    WT_TRY(who, auth_.authenticate(req));
    WT_TRY(parsed, parse_request(req.body));
    request_id = parsed->request_id;
    WT_TRY(d, decisions_.decide(parsed->query, [&](std::string_view account) {
      return who->can_access(account);
    }));
    return Reply{200, to_json(*d)};
  }

  json to_json(const Decision& d) const {
    json policies = json::object();
    std::map<std::string, int> names;
    for (const MatchedVersion& m : d.policies) ++names[m.policy.name];
    for (const MatchedVersion& m : d.policies) {
      json rules = json::array();
      for (const EffectiveRule& r : m.rules) rules.push_back(rule_json(r, d.destination->guid));
      const std::string key =
          names[m.policy.name] > 1 ? m.policy.name + "@" + m.policy.version : m.policy.name;
      policies[key] = {
          {"type", m.type.name},
          {"type_version", m.type.version},
          {"version", m.policy.version},
          {"name", m.name},
          {"metadata", {{"policy-id", m.policy.name}, {"policy-version", m.policy.version}}},
          {"properties", {{"account", m.account}, {"rules", std::move(rules)}}}};
    }
    json attributes = json::object();
    if (d.datapath_reason) {  // not for an unknown app: nothing else is said about it
      attributes["mode"] = d.mode;
      attributes["destination"] = app_json(*d.destination);
      attributes["source"] = d.source ? app_json(*d.source) : json(nullptr);
    }
    if (d.datapath_reason)
      attributes["verdict_reason"] = std::string(decision_reason_name(*d.datapath_reason));
    if (d.would_permit) attributes["would_be"] = *d.would_permit ? "Permit" : "Deny";
    if (d.group) {
      attributes["group"] = *d.group;
      attributes["subgroup"] = *d.subgroup;
    }
    if (d.state) attributes["state"] = *d.state;
    if (d.datapath_reason && d.mode != "bypass") {
      json counted = json::array();
      for (const PolicyIdent& p : d.counted)
        counted.push_back({{"name", p.name}, {"version", p.version}});
      attributes["counted_policies"] = std::move(counted);
    }
    return {{"status", d.permit ? "Permit" : "Deny"},
            {"reason", d.reason},
            {"policies", std::move(policies)},
            {"attributes", std::move(attributes)}};
  }

  // The request id and ONAP's version headers on every answer, errors included.
  Reply answer(const Request& req) {
    std::string id = req.header("x-onap-requestid");
    std::optional<std::string> body_id;
    Result<Reply> r = Error{"INVALID_REQUEST_ID", "a request id is 1-128 printable characters"};
    if (id.empty() || valid_request_id(id)) r = decide(req, body_id);
    if (!valid_request_id(id)) id = body_id.value_or(random_uuid());
    Reply out = r ? std::move(r).value() : http::error_reply(r.error());
    out.headers.emplace_back("x-onap-requestid", id);
    return out;
  }

  // The bearer token on the head (its refusal gets ONAP's headers from the dresser).
  Reply admit(const Request& head) {
    auto who = auth_.authenticate(head);
    return who ? Reply{204, nullptr} : http::error_reply(who.error());
  }

 private:
  json app_json(const AppRecord& app) const {
    return {{"guid", app.guid}, {"wire_bytes", graph_.tags().wire_bytes(app.tag)}};
  }

  DecisionPoint& decisions_;
  const PolicyGraph& graph_;
  Authenticator& auth_;
};

}  // namespace

void add_decision_routes(http::Router& router, DecisionPoint& decisions, const PolicyGraph& graph,
                         Authenticator& auth) {
  auto api = std::make_shared<DecisionApi>(decisions, graph, auth);
  dress_with_onap_headers(router, {"/policy/pdpx/v1"});
  router.post(kDecisionPath,
              [api](const Request& req) -> Result<Reply> { return api->answer(req); });
  router.admit_by({"/policy/pdpx"},
                  [api](const Request& head) -> Result<Reply> { return api->admit(head); });
}

}  // namespace wiretag
