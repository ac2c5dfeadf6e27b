#include "agent/trace_service.h"

#include <algorithm>
#include <optional>

#include "core/app_guid.h"
#include "datapath/trace.h"
#include "http/json_input.h"

namespace wiretag::agent {

using nlohmann::json;

namespace {

struct TraceQuery {
  std::optional<std::string> destination;  // app guid
  std::optional<datapath::Device> device;
  std::optional<std::string> source;  // app guid or "*"
  std::optional<uint32_t> source_tag;
  Protocol protocol = Protocol::Tcp;
  uint16_t port = 0;
  bool ipv6 = false;
  bool reply = false;
};

bool given(const json& body, const char* key) { return body.contains(key) && !body[key].is_null(); }

Result<bool> bool_field(const json& body, const char* key) {
  if (!given(body, key)) return false;
  if (!body[key].is_boolean())
    return Error{"INVALID_FIELD_TYPE", std::string(key) + " must be a boolean"};
  return body[key].get<bool>();
}

Result<datapath::Device> device_of(const json& d) {
  if (!d.is_object()) return Error{"INVALID_FIELD_TYPE", "destination_device must be an object"};
  if (auto r = http::check_fields(d, {"namespace", "interface_name"}); !r) return r.error();
  WT_TRY(netns, http::string_field(d, "namespace"));
  WT_TRY(ifname, http::string_field(d, "interface_name"));
  return datapath::Device{*netns, *ifname};
}

Result<TraceQuery> parse(const json& body, const TagSpace& tags) {
  if (!body.is_object()) return Error{"INVALID_BODY", "a trace request is a JSON object"};
  if (auto r = http::check_fields(
          body, {"protocol"},
          {"destination", "destination_device", "source", "source_tag", "port", "ipv6", "reply"});
      !r)
    return r.error();
  TraceQuery q;
  if (given(body, "destination")) {
    WT_TRY(guid, http::string_field(body, "destination"));
    if (auto r = check_app_guid(*guid, "destination"); !r) return r.error();
    q.destination = *guid;
  }
  if (given(body, "destination_device")) {
    WT_TRY(device, device_of(body["destination_device"]));
    q.device = *device;
  }
  if (!q.destination && !q.device)
    return Error{"MISSING_FIELD", "give destination (an app guid) or destination_device"};
  if (given(body, "source")) {
    WT_TRY(source, http::string_field(body, "source"));
    if (*source != "*")
      if (auto r = check_app_guid(*source, "source"); !r) return r.error();
    q.source = *source;
  }
  if (given(body, "source_tag")) {
    WT_TRY(text, http::string_field(body, "source_tag"));
    auto tag = tags.parse(*text);
    if (!tag)
      return Error{"INVALID_WIRE_BYTES", "source_tag \"" + *text + "\" is not " +
                                             std::to_string(2 * tags.length()) +
                                             " lowercase hex digits"};
    if (*tag == 0)
      return Error{"INVALID_WIRE_BYTES",
                   "source_tag 0 means untagged: leave source and source_tag out"};
    q.source_tag = *tag;
  }
  WT_TRY(proto_text, http::string_field(body, "protocol"));
  auto proto = parse_protocol(*proto_text);
  if (!proto || *proto == Protocol::Any)
    return Error{"INVALID_FIELD_VALUE", "protocol must be tcp, udp or icmp"};
  q.protocol = *proto;
  const bool ports = q.protocol != Protocol::Icmp;
  if (given(body, "port")) {
    const json& p = body["port"];
    if (!p.is_number_integer()) return Error{"INVALID_FIELD_TYPE", "port must be an integer"};
    if (p.get<int64_t>() < 1 || p.get<int64_t>() > 65535)
      return Error{"INVALID_FIELD_VALUE", "port must be 1-65535"};
    if (!ports) return Error{"INVALID_FIELD_COMBINATION", "icmp has no port"};
    q.port = static_cast<uint16_t>(p.get<int64_t>());
  } else if (ports) {
    return Error{"MISSING_FIELD", "tcp and udp traces need a port"};
  }
  WT_TRY(ipv6, bool_field(body, "ipv6"));
  WT_TRY(reply, bool_field(body, "reply"));
  q.ipv6 = *ipv6;
  q.reply = *reply;
  return q;
}

// For source "*": a tag the endpoint has no rule of its own for, so only "*" rules apply.
uint32_t wildcard_tag(const std::vector<uint32_t>& sources, const TagSpace& tags) {
  for (uint32_t tag = tags.max_tag(); tag > 0; --tag)
    if (!std::binary_search(sources.begin(), sources.end(), tag)) return tag;
  return tags.max_tag();
}

// The rule a matched map entry comes from: a range rule is stored as aligned prefixes.
std::optional<Rule> rule_holding(const std::vector<Rule>& rules, const datapath::MatchedRule& m) {
  for (const Rule& r : rules) {
    if (r.source_tag != m.source_tag || r.protocol != m.protocol) continue;
    if (!m.ports && !r.ports) return r;
    if (m.ports && r.ports && r.ports->start <= m.ports->start && m.ports->end <= r.ports->end)
      return r;
  }
  return std::nullopt;
}

}  // namespace

Result<json> TraceService::trace(const json& request) const {
  const TagSpace& tags = cell_.tags();
  WT_TRY(q, parse(request, tags));

  std::optional<DeviceView> dest;
  for (DeviceView& v : cell_.list()) {
    if (q->device && !(v.record.device == *q->device)) continue;
    if (q->destination && v.record.app_guid != q->destination) continue;
    if (v.ifindex == 0 || !v.mode) continue;  // not attached (yet)
    dest = std::move(v);
    break;
  }
  if (!dest) {
    std::string what = q->destination ? "app " + *q->destination : "";
    if (q->device)
      what += (what.empty() ? "" : " on ") + std::string("device ") + q->device->ifname + "@" +
              (q->device->netns.empty() ? "(own netns)" : q->device->netns);
    return Error{"ENDPOINT_NOT_FOUND", "cell " + cell_name_ + " has no attached device of " + what};
  }

  uint32_t tag = 0;
  std::string resolved = "untagged";
  if (q->source_tag) {
    tag = *q->source_tag;
    resolved = "source_tag";
  } else if (q->source == "*") {
    tag = wildcard_tag(dest->sources, tags);
    resolved = "wildcard";
  } else if (q->source) {
    auto known = cell_.app_tag(*q->source);
    if (!known)
      return Error{"SOURCE_TAG_UNKNOWN",
                   "cell " + cell_name_ + " does not know the tag of app " + *q->source +
                       " (no device of it here, no rule from it): give source_tag"};
    tag = *known;
    resolved = "cell";
  }

  datapath::TraceRequest req;
  req.ifindex = dest->ifindex;
  req.netns = dest->record.device.netns;
  req.source_tag = tag;
  req.protocol = q->protocol;
  req.port = q->port;
  req.ipv6 = q->ipv6;
  req.reply = q->reply;
  WT_TRY(result, datapath::trace(datapath::LiveMaps::of(dp_), req));

  json out = datapath::trace_json(*result, tags.length());
  out["cell"] = cell_name_;
  out["endpoint"]["device"] = {{"namespace", dest->record.device.netns},
                               {"interface_name", dest->record.device.ifname}};
  if (dest->record.app_guid) out["endpoint"]["app_guid"] = *dest->record.app_guid;
  json source = {{"wire_bytes", tag ? json(tags.wire_bytes(tag)) : json(nullptr)},
                 {"resolved", resolved}};
  if (q->source) source["app_guid"] = *q->source;
  out["source"] = source;
  if (result->rule)
    if (auto rule = rule_holding(cell_.rules_of(dest->record.device), *result->rule);
        rule && rule->ports)
      out["rule"]["range"] = {{"start", rule->ports->start}, {"end", rule->ports->end}};
  return out;
}

}  // namespace wiretag::agent
