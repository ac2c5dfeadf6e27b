#include "server/rule_input.h"

#include "http/json_input.h"

namespace wiretag {

using nlohmann::json;

Result<std::optional<PortRange>> parse_ports(const json& body) {
  auto it = body.find("ports");
  if (it == body.end() || it->is_null()) return std::optional<PortRange>{};
  if (!it->is_object())
    return Error{"INVALID_FIELD_TYPE", "\"ports\" must be an object {\"start\",\"end\"}"};
  if (auto r = http::check_fields(*it, {"start"}, {"end"}); !r) return r.error();
  const json& s = (*it)["start"];
  const json& e = it->contains("end") ? (*it)["end"] : s;
  if (!s.is_number_integer() || !e.is_number_integer())
    return Error{"INVALID_FIELD_TYPE", "port start and end must be integers"};
  int64_t start = s.get<int64_t>(), end = e.get<int64_t>();
  if (start < 1 || end > 65535 || start > end)
    return Error{"INVALID_RULE", "ports must satisfy 1 <= start <= end <= 65535"};
  return std::optional<PortRange>{
      PortRange{static_cast<uint16_t>(start), static_cast<uint16_t>(end)}};
}

Result<PolicyRule> parse_rule(const json& rule) {
  if (!rule.is_object()) return Error{"INVALID_FIELD_TYPE", "each rule must be an object"};
  if (auto r = http::check_fields(rule, {"source", "destination"}, {"protocol", "ports"}); !r)
    return r.error();
  auto source = http::string_field(rule, "source");
  if (!source) return source.error();
  auto destination = http::string_field(rule, "destination");
  if (!destination) return destination.error();
  auto proto = http::optional_string_field(rule, "protocol");
  if (!proto) return proto.error();
  PolicyRule out{*source, *destination, Protocol::Any, std::nullopt};
  if (*proto) {
    auto p = parse_protocol(**proto);
    if (!p) return Error{"INVALID_PROTOCOL", "protocol must be tcp, udp, icmp or any"};
    out.protocol = *p;
  }
  auto ports = parse_ports(rule);
  if (!ports) return ports.error();
  out.ports = *ports;
  return out;
}

}  // namespace wiretag
