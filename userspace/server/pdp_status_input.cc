#include "server/pdp_status_input.h"

#include <arpa/inet.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/app_guid.h"
#include "core/field_limits.h"
#include "http/json_input.h"

namespace wiretag {
namespace {

using nlohmann::json;

// An integer field that fits int64; INVALID_FIELD_TYPE otherwise.
Result<int64_t> integer(const json& v, std::string_view key) {
  if (!v.is_number_integer() ||
      (v.is_number_unsigned() &&
       v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())))
    return Error{"INVALID_FIELD_TYPE", "field \"" + std::string(key) + "\" must be an integer"};
  return v.get<int64_t>();
}

// A present, non-null member of object, or nullptr (optional fields may be null).
const json* member(const json& object, std::string_view key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

Result<std::string> text(const json& object, std::string_view key, std::string_view code,
                         size_t max = 256) {
  WT_TRY(v, http::string_field(object, key));
  if (v->empty() || v->size() > max)
    return Error{std::string(code),
                 "\"" + std::string(key) + "\" must be 1-" + std::to_string(max) + " characters"};
  return *v;
}

Result<std::string> one_of(const json& object, std::string_view key, std::string_view code,
                           std::initializer_list<std::string_view> allowed) {
  WT_TRY(v, http::string_field(object, key));
  for (std::string_view a : allowed)
    if (*v == a) return *v;
  std::string list;
  for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  return Error{std::string(code), "\"" + std::string(key) + "\" must be one of " + list};
}

Result<std::vector<DeployedPolicy>> parse_policies(const json& v) {
  if (!v.is_array()) return Error{"INVALID_FIELD_TYPE", "\"policies\" must be an array"};
  if (auto c = check_items(v, "policies"); !c) return c.error();
  std::vector<DeployedPolicy> out;
  for (const json& p : v) {
    if (!p.is_object())
      return Error{"INVALID_FIELD_TYPE", "each of \"policies\" must be {\"name\",\"version\"}"};
    if (auto r = http::check_fields(p, {"name", "version"}); !r) return r.error();
    WT_TRY(name, text(p, "name", "INVALID_POLICY_NAME"));
    WT_TRY(version, text(p, "version", "INVALID_POLICY_VERSION", 64));
    out.push_back({*name, *version});
  }
  return out;
}

// ONAP PdpStatistics: identifiers as strings, counters as non-negative integers.
Result<json> parse_statistics(const json& v) {
  if (!v.is_object()) return Error{"INVALID_FIELD_TYPE", "\"statistics\" must be an object"};
  static constexpr std::string_view kStrings[] = {"pdpInstanceId", "pdpGroupName",
                                                  "pdpSubGroupName"};
  static constexpr std::string_view kCounters[] = {
      "policyDeployCount",   "policyDeploySuccessCount",   "policyDeployFailCount",
      "policyExecutedCount", "policyExecutedSuccessCount", "policyExecutedFailCount",
      "policyUndeployCount", "policyUndeploySuccessCount", "policyUndeployFailCount"};
  for (const auto& [key, value] : v.items()) {
    bool is_string = std::find(std::begin(kStrings), std::end(kStrings), key) != std::end(kStrings);
    bool is_counter =
        std::find(std::begin(kCounters), std::end(kCounters), key) != std::end(kCounters);
    if (key == "timeStamp") {
      // ONAP sends an ISO-8601 instant; epoch milliseconds are accepted too.
      if (!value.is_string() && !value.is_number_integer())
        return Error{"INVALID_FIELD_TYPE", "statistics.timeStamp must be a string or integer"};
      if (value.is_string())
        if (auto c = check_text(value.get_ref<const std::string&>(), "statistics.timeStamp",
                                kMaxNameChars);
            !c)
          return c.error();
    } else if (is_string) {
      if (!value.is_string())
        return Error{"INVALID_FIELD_TYPE", "statistics." + key + " must be a string"};
      if (auto c =
              check_text(value.get_ref<const std::string&>(), "statistics." + key, kMaxNameChars);
          !c)
        return c.error();
    } else if (is_counter) {
      WT_TRY(n, integer(value, "statistics." + key));
      if (*n < 0) return Error{"INVALID_STATISTICS", "statistics." + key + " must be >= 0"};
    } else {
      return Error{"UNKNOWN_FIELD", "unknown field \"statistics." + key + "\""};
    }
  }
  return v;
}

Result<DatapathCounters> parse_datapath(const json& v) {
  if (!v.is_object()) return Error{"INVALID_FIELD_TYPE", "\"datapath\" must be an object"};
  if (auto r = http::check_fields(v, {}, {"endpoints", "allowed", "dropped", "audited"}); !r)
    return r.error();
  DatapathCounters out;
  for (auto [key, field] :
       {std::pair{"endpoints", &out.endpoints}, std::pair{"allowed", &out.allowed},
        std::pair{"dropped", &out.dropped}, std::pair{"audited", &out.audited}}) {
    const json* m = member(v, key);
    if (!m) continue;
    WT_TRY(n, integer(*m, std::string("datapath.") + key));
    if (*n < 0) return Error{"INVALID_DATAPATH", std::string("datapath.") + key + " must be >= 0"};
    *field = *n;
  }
  return out;
}

// wiretag's extension: [{"name","version","reason"}], the versions the cell could not apply.
Result<std::vector<FailedPolicy>> parse_failed_policies(const json& v) {
  if (!v.is_array()) return Error{"INVALID_FIELD_TYPE", "\"failedPolicies\" must be an array"};
  if (auto c = check_items(v, "failedPolicies"); !c) return c.error();
  std::vector<FailedPolicy> out;
  for (const json& p : v) {
    if (!p.is_object())
      return Error{"INVALID_FIELD_TYPE",
                   "each of \"failedPolicies\" must be {\"name\",\"version\",\"reason\"}"};
    if (auto r = http::check_fields(p, {"name", "version", "reason"}); !r) return r.error();
    WT_TRY(name, text(p, "name", "INVALID_POLICY_NAME"));
    WT_TRY(version, text(p, "version", "INVALID_POLICY_VERSION", 64));
    WT_TRY(reason, text(p, "reason", "INVALID_REASON", 1024));
    out.push_back({*name, *version, *reason});
  }
  return out;
}

// ONAP's PdpResponseDetails: {"responseTo","responseStatus":"SUCCESS|FAIL","responseMessage"}.
Result<PdpResponse> parse_response(const json& v) {
  if (!v.is_object()) return Error{"INVALID_FIELD_TYPE", "\"response\" must be an object"};
  if (auto r = http::check_fields(v, {"responseStatus"}, {"responseTo", "responseMessage"}); !r)
    return r.error();
  PdpResponse out;
  WT_TRY(status, one_of(v, "responseStatus", "INVALID_RESPONSE_STATUS", {"SUCCESS", "FAIL"}));
  out.status = *status;
  if (member(v, "responseTo")) {
    WT_TRY(to, http::string_field(v, "responseTo"));
    if (auto c = check_text(*to, "responseTo", kMaxNameChars); !c) return c.error();
    out.response_to = *to;
  }
  if (member(v, "responseMessage")) {
    WT_TRY(message, http::string_field(v, "responseMessage"));
    if (message->size() > 1024)
      return Error{"INVALID_RESPONSE_MESSAGE", "responseMessage must be at most 1024 characters"};
    out.message = *message;
  }
  return out;
}

// wiretag's extension: the guids of the apps the cell has endpoints of (at most one per
// endpoint slot of the datapath, 65536).
Result<std::vector<std::string>> parse_hosted_apps(const json& v) {
  if (!v.is_array()) return Error{"INVALID_FIELD_TYPE", "\"hostedApps\" must be an array"};
  if (auto c = check_items(v, "hostedApps", 65536); !c) return c.error();
  std::vector<std::string> out;
  out.reserve(v.size());
  for (const json& g : v) {
    if (!g.is_string()) return Error{"INVALID_FIELD_TYPE", "\"hostedApps\" must hold guids"};
    if (auto c = check_app_guid(g.get_ref<const std::string&>(), "hostedApps[]"); !c)
      return c.error();
    out.push_back(g.get<std::string>());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// wiretag's extension: the cell's VTEP addresses, IPv4 or IPv6, normalized (at most 16).
Result<std::vector<std::string>> parse_vtep_addresses(const json& v) {
  if (!v.is_array()) return Error{"INVALID_FIELD_TYPE", "\"vtepAddresses\" must be an array"};
  if (auto c = check_items(v, "vtepAddresses", 16); !c) return c.error();
  std::vector<std::string> out;
  for (const json& a : v) {
    if (!a.is_string())
      return Error{"INVALID_FIELD_TYPE", "\"vtepAddresses\" must hold IP addresses"};
    const std::string& text = a.get_ref<const std::string&>();
    unsigned char bytes[16] = {};
    char normal[INET6_ADDRSTRLEN] = {};
    const int family = text.find(':') == std::string::npos ? AF_INET : AF_INET6;
    if (inet_pton(family, text.c_str(), bytes) != 1 ||
        !inet_ntop(family, bytes, normal, sizeof normal))
      return Error{"INVALID_VTEP",
                   "vtepAddresses[]: not an IPv4 or IPv6 address: \"" + text.substr(0, 64) + "\""};
    out.push_back(normal);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// ONAP's free-text `properties` (a string in PdpStatus); an object is taken too, as sent.
Result<nlohmann::json> parse_properties(const json& v) {
  if (!v.is_string() && !v.is_object())
    return Error{"INVALID_FIELD_TYPE", "\"properties\" must be a string or an object"};
  const size_t size = v.is_string() ? v.get_ref<const std::string&>().size() : v.dump().size();
  if (size > kMaxPropertiesBytes)
    return Error{"FIELD_TOO_LONG",
                 "\"properties\" is longer than " + std::to_string(kMaxPropertiesBytes) + " bytes"};
  return v;
}

}  // namespace

Result<CellReport> parse_pdp_status(const std::string& body, const std::string& path_name,
                                    int64_t default_heartbeat_ms) {
  if (!is_valid_app_guid(path_name))
    return Error{"INVALID_CELL_NAME", "a cell name is 1-128 of [A-Za-z0-9._:-]"};
  WT_TRY(j, http::parse_json_object(body));
  if (auto r = http::check_fields(
          *j, {"messageName", "name", "pdpType", "state", "healthy"},
          {"requestId", "timestampMs", "pdpGroup", "pdpSubgroup", "description",
           "deploymentInstanceInfo", "properties", "policies", "statistics", "response",
           // wiretag's extensions
           "heartbeatIntervalMs", "revision", "datapath", "failedPolicies", "hostedApps",
           "vtepAddresses"});
      !r)
    return r.error();
  WT_TRY(message, http::string_field(*j, "messageName"));
  if (*message != "PDP_STATUS")
    return Error{"INVALID_MESSAGE_NAME", "messageName must be \"PDP_STATUS\""};
  WT_TRY(name, http::string_field(*j, "name"));
  if (*name != path_name)
    return Error{"NAME_MISMATCH",
                 "name \"" + *name + "\" differs from the cell in the path, \"" + path_name + "\""};
  CellReport r;
  r.name = *name;
  WT_TRY(type, http::string_field(*j, "pdpType"));
  if (auto c = check_name(*type, "pdpType", "INVALID_PDP_TYPE"); !c) return c.error();
  r.pdp_type = *type;
  WT_TRY(state,
         one_of(*j, "state", "INVALID_STATE", {"ACTIVE", "PASSIVE", "SAFE", "TEST", "TERMINATED"}));
  r.state = *state;
  WT_TRY(healthy, one_of(*j, "healthy", "INVALID_HEALTH",
                         {"HEALTHY", "NOT_HEALTHY", "TEST_IN_PROGRESS", "UNKNOWN"}));
  r.healthy = *healthy;
  // ONAP's PDPs do not say (the PAP tells them, PDP_UPDATE pdpHeartbeatIntervalMs): those
  // are judged by the server's interval.
  r.heartbeat_interval_ms = default_heartbeat_ms;
  if (const json* given = member(*j, "heartbeatIntervalMs")) {
    WT_TRY(interval, integer(*given, "heartbeatIntervalMs"));
    if (*interval < kMinHeartbeatIntervalMs || *interval > kMaxHeartbeatIntervalMs)
      return Error{"INVALID_HEARTBEAT_INTERVAL", "heartbeatIntervalMs must be 100-3600000"};
    r.heartbeat_interval_ms = *interval;
  }
  if (const json* p = member(*j, "properties")) {
    WT_TRY(properties, parse_properties(*p));
    r.properties = std::move(*properties);
  }
  r.pdp_group = std::string(kDefaultGroup);
  if (member(*j, "pdpGroup")) {
    WT_TRY(group, http::string_field(*j, "pdpGroup"));
    if (auto c = check_name(*group, "pdpGroup", "INVALID_PDP_GROUP"); !c) return c.error();
    r.pdp_group = *group;
  }
  r.pdp_subgroup = r.pdp_type;
  if (member(*j, "pdpSubgroup")) {
    WT_TRY(subgroup, http::string_field(*j, "pdpSubgroup"));
    if (auto c = check_name(*subgroup, "pdpSubgroup", "INVALID_PDP_SUBGROUP"); !c) return c.error();
    r.pdp_subgroup = *subgroup;
  }
  for (std::string_view key : {"requestId", "description", "deploymentInstanceInfo"}) {
    if (!member(*j, key)) continue;
    WT_TRY(v, http::string_field(*j, key));
    if (auto c = check_text(*v, key, key == "requestId" ? kMaxNameChars : kMaxTextChars); !c)
      return c.error();
    if (key == "description") r.description = *v;
    if (key == "deploymentInstanceInfo") r.deployment_instance_info = *v;
  }
  if (const json* t = member(*j, "timestampMs")) {
    WT_TRY(ms, integer(*t, "timestampMs"));
    if (*ms < 0) return Error{"INVALID_TIMESTAMP", "timestampMs must be >= 0"};
  }
  if (const json* rev = member(*j, "revision")) {
    WT_TRY(n, integer(*rev, "revision"));
    if (*n < 0) return Error{"INVALID_REVISION", "revision must be >= 0"};
    r.revision = *n;
  }
  if (const json* p = member(*j, "policies")) {
    WT_TRY(policies, parse_policies(*p));
    r.policies = std::move(*policies);
  }
  if (const json* s = member(*j, "statistics")) {
    WT_TRY(stats, parse_statistics(*s));
    r.statistics = std::move(*stats);
  }
  if (const json* d = member(*j, "datapath")) {
    WT_TRY(counters, parse_datapath(*d));
    r.datapath = *counters;
  }
  if (const json* f = member(*j, "failedPolicies")) {
    WT_TRY(failed, parse_failed_policies(*f));
    r.failed_policies = std::move(*failed);
  }
  if (const json* resp = member(*j, "response")) {
    WT_TRY(response, parse_response(*resp));
    r.response = std::move(*response);
  }
  if (const json* apps = member(*j, "hostedApps")) {
    WT_TRY(hosted, parse_hosted_apps(*apps));
    r.hosted_apps = std::move(*hosted);
  }
  if (const json* vteps = member(*j, "vtepAddresses")) {
    WT_TRY(addresses, parse_vtep_addresses(*vteps));
    r.vtep_addresses = std::move(*addresses);
  }
  return r;
}

}  // namespace wiretag
