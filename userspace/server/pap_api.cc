#include "server/pap_api.h"

#include <ctime>
#include <limits>

#include "core/app_guid.h"
#include "core/field_limits.h"
#include "http/json_input.h"
#include "server/accounts_api.h"
#include "server/name_pattern.h"
#include "server/onap_headers.h"

namespace wiretag {
namespace {

using http::Reply;
using http::Request;
using nlohmann::json;

constexpr size_t kMaxBatch = 100;
constexpr const char* kDeployMessage =
    "Use the policy status url to fetch the latest status. Kindly note that when a policy is "
    "successfully undeployed, it will no longer appear in policy status response.";

std::string iso_time(int64_t ms) {
  std::time_t s = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

Error field_type(std::string_view key, std::string_view what) {
  return Error{"INVALID_FIELD_TYPE", "\"" + std::string(key) + "\" must be " + std::string(what)};
}

// Only these query parameters (and requestID) are accepted.
Result<void> check_query(const Request& req, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : req.query) {
    if (key == "requestID") continue;
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      return Error{"INVALID_QUERY", "unknown query parameter \"" + key + "\""};
  }
  return Ok();
}

// A non-empty JSON array of at most kMaxBatch objects.
Result<const json*> object_array(const json& parent, std::string_view key, bool allow_empty) {
  const json& v = parent.at(std::string(key));
  if (!v.is_array()) return field_type(key, "an array of objects");
  if ((!allow_empty && v.empty()) || v.size() > kMaxBatch)
    return Error{"INVALID_BATCH", "\"" + std::string(key) + "\" must hold " +
                                      (allow_empty ? "0" : "1") + "-100 items"};
  for (const json& item : v)
    if (!item.is_object()) return field_type(key, "an array of objects");
  return &v;
}

Result<std::string> policy_name(const json& v, std::string_view key) {
  if (!v.is_string()) return field_type(key, "a string");
  std::string s = v.get<std::string>();
  if (s.empty() || s.size() > 256 ||
      std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; }))
    return Error{"INVALID_POLICY_NAME", "a policy name is 1-256 printable characters"};
  return s;
}

Result<std::optional<std::string>> policy_version(const json& object, std::string_view key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::optional<std::string>{};
  if (!it->is_string()) return field_type(key, "a string");
  std::string v = it->get<std::string>();
  if (!Pap::parse_version(v))
    return Error{"INVALID_POLICY_VERSION", "version \"" + v + "\" must be N or N.0.0"};
  return std::optional<std::string>{v};
}

// {"name","version"?}; in POST /pdps/policies also ONAP's {"policy-id","policy-version"?}.
Result<PolicyRef> parse_policy_ref(const json& p, bool onap_ids) {
  const bool ids = onap_ids && p.contains("policy-id");
  if (ids) {
    if (auto r = http::check_fields(p, {"policy-id"}, {"policy-version"}); !r) return r.error();
  } else {
    if (auto r = http::check_fields(p, {"name"}, {"version"}); !r) return r.error();
  }
  WT_TRY(name, policy_name(p.at(ids ? "policy-id" : "name"), ids ? "policy-id" : "name"));
  WT_TRY(version, policy_version(p, ids ? "policy-version" : "version"));
  return PolicyRef{*name, *version};
}

Result<std::vector<PolicyTypeIdent>> parse_types(const json& v) {
  if (!v.is_array()) return field_type("supportedPolicyTypes", "an array");
  std::vector<PolicyTypeIdent> out;
  for (const json& t : v) {
    if (!t.is_object()) return field_type("supportedPolicyTypes", "an array of {name, version}");
    if (auto r = http::check_fields(t, {"name", "version"}); !r) return r.error();
    WT_TRY(name, http::string_field(t, "name"));
    WT_TRY(version, http::string_field(t, "version"));
    if (auto c = check_text(*name, "supportedPolicyTypes.name", kMaxLabelChars); !c)
      return c.error();
    if (auto c = check_text(*version, "supportedPolicyTypes.version", 64); !c) return c.error();
    out.push_back({*name, *version});
  }
  return out;
}

Result<int64_t> count_field(const json& v, std::string_view key) {
  if (!v.is_number_integer()) return field_type(key, "an integer");
  if (v.is_number_unsigned() && v.get<uint64_t>() > 1000000)
    return Error{"INVALID_INSTANCE_COUNT", std::string(key) + " must be 0-1000000"};
  return v.get<int64_t>();
}

Result<std::vector<GroupSpec>> parse_groups_batch(const std::string& body) {
  WT_TRY(j, http::parse_json_object(body));
  if (auto r = http::check_fields(*j, {"groups"}); !r) return r.error();
  WT_TRY(groups, object_array(*j, "groups", false));
  std::vector<GroupSpec> out;
  for (const json& g : **groups) {
    if (auto r = http::check_fields(g, {"name", "pdpSubgroups"},
                                    {"description", "pdpGroupState", "properties"});
        !r)
      return r.error();
    GroupSpec spec;
    WT_TRY(name, http::string_field(g, "name"));
    spec.name = *name;
    WT_TRY(description, http::optional_string_field(g, "description"));
    if (*description)
      if (auto c = check_text(**description, "description"); !c) return c.error();
    spec.description = *description;
    WT_TRY(state, http::optional_string_field(g, "pdpGroupState"));
    spec.state = *state;
    if (g.contains("properties")) {
      if (!g["properties"].is_object()) return field_type("properties", "an object");
      if (auto c = check_object_size(g["properties"], "properties"); !c) return c.error();
      spec.properties = g["properties"];
    }
    WT_TRY(subgroups, object_array(g, "pdpSubgroups", false));
    for (const json& s : **subgroups) {
      if (auto r = http::check_fields(s, {"pdpType"},
                                      {"desiredInstanceCount", "currentInstanceCount", "properties",
                                       "supportedPolicyTypes", "policies", "pdpInstances"});
          !r)
        return r.error();
      SubgroupSpec sub;
      WT_TRY(type, http::string_field(s, "pdpType"));
      sub.pdp_type = *type;
      if (s.contains("desiredInstanceCount")) {
        WT_TRY(n, count_field(s["desiredInstanceCount"], "desiredInstanceCount"));
        sub.desired_instances = *n;
      }
      if (s.contains("currentInstanceCount"))  // ignored (ONAP), but typed
        if (auto n = count_field(s["currentInstanceCount"], "currentInstanceCount"); !n)
          return n.error();
      if (s.contains("properties")) {
        if (!s["properties"].is_object()) return field_type("properties", "an object");
        if (auto c = check_object_size(s["properties"], "pdpSubgroups.properties"); !c)
          return c.error();
        sub.properties = s["properties"];
      }
      if (s.contains("supportedPolicyTypes")) {
        WT_TRY(types, parse_types(s["supportedPolicyTypes"]));
        sub.supported_types = std::move(*types);
      }
      for (std::string_view ignored : {"policies", "pdpInstances"})
        if (s.contains(ignored) && !s[std::string(ignored)].is_array())
          return field_type(ignored, "an array");
      spec.subgroups.push_back(std::move(sub));
    }
    out.push_back(std::move(spec));
  }
  return out;
}

Result<std::vector<GroupDeployment>> parse_deployments_batch(const std::string& body) {
  WT_TRY(j, http::parse_json_object(body));
  if (auto r = http::check_fields(*j, {"groups"}); !r) return r.error();
  WT_TRY(groups, object_array(*j, "groups", false));
  std::vector<GroupDeployment> out;
  for (const json& g : **groups) {
    if (auto r = http::check_fields(g, {"name", "deploymentSubgroups"}); !r) return r.error();
    GroupDeployment d;
    WT_TRY(name, http::string_field(g, "name"));
    d.group = *name;
    WT_TRY(subgroups, object_array(g, "deploymentSubgroups", false));
    for (const json& s : **subgroups) {
      if (auto r = http::check_fields(s, {"pdpType", "action", "policies"}); !r) return r.error();
      SubgroupDeployment sd;
      WT_TRY(type, http::string_field(s, "pdpType"));
      sd.pdp_type = *type;
      WT_TRY(action, http::string_field(s, "action"));
      if (*action == "POST")
        sd.action = DeployAction::Post;
      else if (*action == "DELETE")
        sd.action = DeployAction::Delete;
      else if (*action == "PATCH")
        sd.action = DeployAction::Patch;
      else
        return Error{"INVALID_ACTION", "action must be POST, DELETE or PATCH"};
      WT_TRY(policies, object_array(s, "policies", sd.action == DeployAction::Patch));
      for (const json& p : **policies) {
        WT_TRY(ref, parse_policy_ref(p, false));
        sd.policies.push_back(std::move(*ref));
      }
      d.subgroups.push_back(std::move(sd));
    }
    out.push_back(std::move(d));
  }
  return out;
}

Result<std::vector<PolicyRef>> parse_deploy(const std::string& body) {
  WT_TRY(j, http::parse_json_object(body));
  if (auto r = http::check_fields(*j, {"policies"}); !r) return r.error();
  WT_TRY(policies, object_array(*j, "policies", false));
  std::vector<PolicyRef> out;
  for (const json& p : **policies) {
    WT_TRY(ref, parse_policy_ref(p, true));
    out.push_back(std::move(*ref));
  }
  return out;
}

// An epoch-seconds query value (ONAP's startTime/endTime).
Result<std::optional<int64_t>> epoch_seconds(const Request& req, const std::string& key) {
  if (!req.query.count(key)) return std::optional<int64_t>{};
  const std::string v = req.query_value(key);
  if (v.empty() || v.size() > 12 || v.find_first_not_of("0123456789") != std::string::npos)
    return Error{"INVALID_TIME", key + " must be epoch seconds (a non-negative integer)"};
  return std::optional<int64_t>{std::stoll(v)};
}

Result<std::string> path_name(const Request& req, const std::string& param,
                              std::string_view code = "INVALID_GROUP_NAME") {
  std::string v = req.param(param);
  if (!is_valid_app_guid(v))
    return Error{std::string(code), "\"" + v + "\" is not a valid name (1-128 of [A-Za-z0-9._:-])"};
  return v;
}

Result<std::string> path_policy(const Request& req, const std::string& param) {
  return policy_name(json(req.param(param)), param);
}

Result<std::string> path_version(const Request& req, const std::string& param) {
  std::string v = req.param(param);
  if (!Pap::parse_version(v))
    return Error{"INVALID_POLICY_VERSION", "version \"" + v + "\" must be N or N.0.0"};
  return v;
}

json policy_ident(const PolicyIdent& p) { return {{"name", p.name}, {"version", p.version}}; }

json instance_json(const Cell& c) {
  json out = {{"instanceId", c.report.name},
              {"pdpState", c.report.state},
              {"healthy", c.healthy ? "HEALTHY" : "NOT_HEALTHY"},
              {"lastUpdate", iso_time(c.last_heartbeat_ms)}};
  if (c.expired)
    out["message"] = "expired: no heartbeat for 3 intervals";
  else if (!c.report.description.empty())
    out["message"] = c.report.description;
  return out;
}

json status_json(const PolicyStatus& s, const PolicyTypeIdent& type) {
  json out = {{"pdpGroup", s.group},
              {"pdpType", s.pdp_type},
              {"pdpId", s.cell},
              {"policy", policy_ident(s.policy)},
              {"policyType", {{"name", type.name}, {"version", type.version}}},
              {"deploy", true},
              {"state", to_string(s.state)}};
  if (!s.message.empty()) out["message"] = s.message;
  return out;
}

Reply accepted() {
  return Reply{202, json{{"message", kDeployMessage}, {"uri", "/policy/pap/v1/policies/status"}}};
}

class PapApi {
 public:
  PapApi(Pap& pap, const PapCredentials& credentials) : pap_(pap), credentials_(credentials) {}

  Result<Reply> healthcheck(const Request& req, const std::string&) {
    WT_TRY(q, check_query(req, {}));
    auto store = pap_.store_healthy();
    json out = {{"name", "Policy PAP"},
                {"url", "self"},
                {"healthy", store.ok()},
                {"code", store ? 200 : 503},
                {"message", store ? "alive" : "store: " + store.error().message}};
    return Reply{200, out};
  }

  Result<Reply> pdps_healthcheck(const Request& req, const std::string&) {
    WT_TRY(q, check_query(req, {}));
    WT_TRY(groups, pap_.groups());
    json list = json::array();
    bool healthy = true;
    for (const GroupView& g : *groups)
      for (const SubgroupView& s : g.subgroups)
        for (const Cell& c : s.cells) {
          json item = instance_json(c);
          item["pdpGroup"] = g.record.name;
          item["pdpSubgroup"] = s.record.pdp_type;
          item["expired"] = c.expired;
          healthy = healthy && c.healthy;
          list.push_back(std::move(item));
        }
    return Reply{200, json{{"healthy", healthy}, {"pdpList", list}}};
  }

  Result<Reply> components_healthcheck(const Request& req, const std::string&) {
    WT_TRY(q, check_query(req, {}));
    auto store = pap_.store_healthy();
    json out = {{"pap",
                 {{"name", "Policy PAP"},
                  {"url", "self"},
                  {"healthy", true},
                  {"code", 200},
                  {"message", "alive"}}},
                {"store",
                 {{"name", "wiretag store"},
                  {"healthy", store.ok()},
                  {"code", store ? 200 : 503},
                  {"message", store ? "alive" : store.error().message}}}};
    bool healthy = store.ok();
    json pdps = json::object();
    json shortfalls = json::array();
    if (store) {
      WT_TRY(groups, pap_.groups());
      for (const GroupView& g : *groups)
        for (const SubgroupView& s : g.subgroups) {
          for (const Cell& c : s.cells) {
            json item = instance_json(c);
            item["pdpGroup"] = g.record.name;
            item["expired"] = c.expired;
            healthy = healthy && c.healthy;
            pdps[s.record.pdp_type].push_back(std::move(item));
          }
          if (s.current_instances < s.record.desired_instances) {
            healthy = false;
            shortfalls.push_back({{"pdpGroup", g.record.name},
                                  {"pdpType", s.record.pdp_type},
                                  {"desiredInstanceCount", s.record.desired_instances},
                                  {"currentInstanceCount", s.current_instances}});
          }
        }
    }
    out["pdps"] = pdps;
    out["subgroupsBelowDesired"] = shortfalls;
    out["healthy"] = healthy;
    return Reply{200, out};
  }

  Result<Reply> statistics(const Request& req, const std::string&) {
    WT_TRY(q, check_query(req, {}));
    WT_TRY(s, pap_.statistics());
    json out = {{"code", 200},
                {"totalPdpCount", s->cells},
                {"healthyPdpCount", s->healthy_cells},
                {"totalPdpGroupCount", s->groups},
                {"totalPolicyDeployCount", s->deploy_requests},
                {"totalPolicyUndeployCount", s->undeploy_requests},
                {"policyDeploySuccessCount", s->deploy_success},
                {"policyDeployFailureCount", s->deploy_failure},
                {"policyDeployWaitingCount", s->deploy_waiting},
                {"datapath",
                 {{"endpoints", s->datapath.endpoints},
                  {"allowed", s->datapath.allowed},
                  {"dropped", s->datapath.dropped},
                  {"audited", s->datapath.audited}}}};
    return Reply{200, out};
  }

  Result<Reply> pdps(const Request& req, const std::string&) {
    WT_TRY(q, check_query(req, {}));
    WT_TRY(groups, pap_.groups());
    json out = json::array();
    for (const GroupView& g : *groups) {
      json subgroups = json::array();
      for (const SubgroupView& s : g.subgroups) {
        json policies = json::array(), instances = json::array();
        for (const PolicyIdent& p : s.policies) policies.push_back(policy_ident(p));
        for (const Cell& c : s.cells) instances.push_back(instance_json(c));
        subgroups.push_back({{"pdpType", s.record.pdp_type},
                             {"supportedPolicyTypes", json::parse(s.record.supported_types)},
                             {"policies", policies},
                             {"currentInstanceCount", s.current_instances},
                             {"desiredInstanceCount", s.record.desired_instances},
                             {"properties", json::parse(s.record.properties)},
                             {"pdpInstances", instances}});
      }
      out.push_back({{"name", g.record.name},
                     {"description", g.record.description},
                     {"pdpGroupState", g.record.state},
                     {"properties", json::parse(g.record.properties)},
                     {"pdpSubgroups", subgroups}});
    }
    return Reply{200, json{{"groups", out}}};
  }

  Result<Reply> groups_batch(const Request& req, const std::string& user) {
    WT_TRY(q, check_query(req, {}));
    WT_TRY(specs, parse_groups_batch(req.body));
    WT_TRY(done, pap_.apply_groups(*specs, user));
    return Reply{200, json::object()};
  }

  Result<Reply> set_state(const Request& req, const std::string& user) {
    WT_TRY(q, check_query(req, {"state"}));
    WT_TRY(group, path_name(req, "name"));
    if (!req.query.count("state"))
      return Error{"INVALID_STATE", "?state=ACTIVE|PASSIVE|SAFE|TEST is required"};
    WT_TRY(done, pap_.set_state(*group, req.query_value("state"), user));
    return Reply{200, json::object()};
  }

  Result<Reply> delete_group(const Request& req, const std::string& user) {
    WT_TRY(q, check_query(req, {}));
    WT_TRY(group, path_name(req, "name"));
    WT_TRY(done, pap_.delete_group(*group, user));
    return Reply{200, json::object()};
  }

  Result<Reply> deployments_batch(const Request& req, const std::string& user) {
    WT_TRY(q, check_query(req, {}));
    WT_TRY(batch, parse_deployments_batch(req.body));
    WT_TRY(done, pap_.deploy_batch(*batch, user));
    return accepted();
  }

  Result<Reply> deploy(const Request& req, const std::string& user) {
    WT_TRY(q, check_query(req, {}));
    WT_TRY(refs, parse_deploy(req.body));
    WT_TRY(done, pap_.deploy(*refs, user));
    return accepted();
  }

  Result<Reply> undeploy(const Request& req, const std::string& user) {
    WT_TRY(q, check_query(req, {}));
    WT_TRY(name, path_policy(req, "name"));
    std::optional<std::string> version;
    if (req.params.count("version")) {
      WT_TRY(v, path_version(req, "version"));
      version = *v;
    }
    WT_TRY(done, pap_.undeploy(*name, version, user));
    return accepted();
  }

  Result<Reply> policy_status(const Request& req, const std::string&) {
    WT_TRY(q, check_query(req, {"regex"}));
    WT_TRY(pattern, name_pattern(req, req.params.size() == 1));
    std::optional<std::string> group, policy, version;
    if (req.params.count("group")) {
      WT_TRY(g, path_name(req, "group"));
      group = *g;
    }
    if (req.params.count("policy")) {
      WT_TRY(p, path_policy(req, "policy"));
      policy = *p;
    }
    if (req.params.count("version")) {
      WT_TRY(v, path_version(req, "version"));
      version = *v;
    }
    WT_TRY(statuses, pap_.policy_status(group, policy, version));
    std::vector<PolicyIdent> versions;
    for (const PolicyStatus& s : *statuses) versions.push_back(s.policy);
    WT_TRY(types, pap_.policy_types(versions));
    json out = json::array();
    for (const PolicyStatus& s : *statuses)
      if (!*pattern || (*pattern)->matches(s.policy.name))
        out.push_back(status_json(s, types->at(s.policy)));
    if (!group) return Reply{200, out};  // ONAP: the whole list, even empty
    return onap_found(std::move(out), version.has_value(),
                      "no cell of group \"" + *group + "\" has a deployment" +
                          (policy ? " of \"" + *policy + "\"" : std::string()));
  }

  Result<Reply> deployed(const Request& req, const std::string&) {
    WT_TRY(q, check_query(req, {"regex"}));
    WT_TRY(pattern, name_pattern(req, req.params.empty()));
    std::optional<std::string> policy, version;
    if (req.params.count("policy")) {
      WT_TRY(p, path_policy(req, "policy"));
      policy = *p;
    }
    if (req.params.count("version")) {
      WT_TRY(v, path_version(req, "version"));
      version = *v;
    }
    WT_TRY(counts, pap_.deployed(policy, version));
    json out = json::array();
    std::vector<PolicyIdent> versions;
    for (const DeployedCounts& c : *counts) versions.push_back(c.policy);
    WT_TRY(types, pap_.policy_types(versions));
    for (const DeployedCounts& c : *counts)
      if (!*pattern || (*pattern)->matches(c.policy.name))
        out.push_back({{"policy-type", types->at(c.policy).name},
                       {"policy-type-version", types->at(c.policy).version},
                       {"policy-id", c.policy.name},
                       {"policy-version", c.policy.version},
                       {"success-count", c.success},
                       {"failure-count", c.failure},
                       {"incomplete-count", c.incomplete}});
    return onap_found(std::move(out), version.has_value(),
                      policy ? "\"" + *policy + "\" is not deployed" : "nothing is deployed");
  }

  // ONAP's ?regex= where it takes one (/policies/deployed, /policies/status/{group}): a
  // pattern the whole policy name must match.
  static Result<std::optional<NamePattern>> name_pattern(const Request& req, bool taken) {
    if (!req.query.count("regex")) return std::optional<NamePattern>();
    if (!taken)
      return Error{"INVALID_QUERY",
                   "regex is taken by /policies/deployed and /policies/status/{group} only"};
    WT_TRY(pattern, NamePattern::compile(req.query_value("regex")));
    return std::optional<NamePattern>(std::move(*pattern));
  }

  // ONAP's answer to a filtered status query: 404 when nothing matched; the one match (an
  // object, not a list) when the query named a version.
  static Result<Reply> onap_found(json list, bool one, const std::string& none) {
    if (list.empty()) return Error{"POLICY_STATUS_NOT_FOUND", none};
    if (one) return Reply{200, std::move(list[0])};
    return Reply{200, std::move(list)};
  }

  // /policies/audit[/{group}[/{policy}/{version}]] and /policies/audit/{policy}/{version}.
  Result<Reply> audit(const Request& req, const std::string&) {
    WT_TRY(q, check_query(req, {"recordCount", "startTime", "endTime"}));
    AuditFilter f;
    if (req.query.count("recordCount")) {
      const std::string v = req.query_value("recordCount");
      if (v.empty() || v.size() > 3 || v.find_first_not_of("0123456789") != std::string::npos ||
          std::stoi(v) < 1 || std::stoi(v) > 100)
        return Error{"INVALID_RECORD_COUNT", "recordCount must be 1-100"};
      f.limit = std::stoi(v);
    }
    WT_TRY(start, epoch_seconds(req, "startTime"));
    WT_TRY(end, epoch_seconds(req, "endTime"));
    if (*start) f.from_ms = **start * 1000;
    if (*end) f.to_ms = **end * 1000 + 999;
    if (req.params.count("group")) {
      WT_TRY(g, path_name(req, "group"));
      f.group = *g;
    }
    if (req.params.count("policy")) {
      WT_TRY(p, path_policy(req, "policy"));
      f.policy = *p;
    }
    if (req.params.count("version")) {
      WT_TRY(v, path_version(req, "version"));
      f.version = *v;
    }
    WT_TRY(records, pap_.audit(f));
    json out = json::array();
    for (const PapAuditRecord& r : *records) {
      json item = {{"auditId", r.id},
                   {"pdpGroup", r.group},
                   {"pdpType", r.pdp_type},
                   {"action", r.action},
                   {"timestamp", iso_time(r.at_ms)},
                   {"user", r.user}};
      item["policy"] = r.policy.empty() ? json(nullptr) : policy_ident({r.policy, r.version});
      if (!r.detail.empty()) item["detail"] = r.detail;
      out.push_back(std::move(item));
    }
    return Reply{200, out};
  }

  // Admission (Router::admit_by): wrap() has authenticated the head by then.
  Result<Reply> admit(const Request&, const std::string&) { return Reply{204, nullptr}; }

  // Auth, request id and version headers around every handler, errors included.
  http::Handler wrap(Result<Reply> (PapApi::*fn)(const Request&, const std::string&),
                     const std::shared_ptr<PapApi>& self) {
    return [self, fn](const Request& req) -> Result<Reply> {
      std::string id = req.header("x-onap-requestid");
      if (id.empty()) id = req.query_value("requestID");
      Result<Reply> r = Error{"", ""};
      if (id.size() > 128 ||
          std::any_of(id.begin(), id.end(), [](unsigned char c) { return c <= 0x20 || c >= 0x7f; }))
        r = Error{"INVALID_REQUEST_ID", "a request id is 1-128 printable characters"};
      if (id.empty() || !r.error().code.empty()) id = random_uuid();
      if (r.error().code.empty()) {
        auto user = self->credentials_.authenticate(req.authorization);
        if (user) req.set_principal("pap:" + *user);
        r = user ? ((*self).*fn)(req, *user) : Result<Reply>(user.error());
      }
      Reply out = r ? std::move(r).value() : http::error_reply(r.error());
      out.headers.emplace_back("x-onap-requestid", id);
      return out;
    };
  }

 private:
  Pap& pap_;
  const PapCredentials& credentials_;
};

}  // namespace

void add_pap_routes(http::Router& router, Pap& pap, const PapCredentials& credentials) {
  auto api = std::make_shared<PapApi>(pap, credentials);
  auto h = [api](auto fn) { return api->wrap(fn, api); };
  dress_with_onap_headers(router, {kPapBase});
  const std::string b(kPapBase);
  router.get(b + "/healthcheck", h(&PapApi::healthcheck))
      .get(b + "/pdps/healthcheck", h(&PapApi::pdps_healthcheck))
      .get(b + "/components/healthcheck", h(&PapApi::components_healthcheck))
      .get(b + "/statistics", h(&PapApi::statistics))
      .get(b + "/pdps", h(&PapApi::pdps))
      .post(b + "/pdps/groups/batch", h(&PapApi::groups_batch))
      .put(b + "/pdps/groups/:name", h(&PapApi::set_state))
      .del(b + "/pdps/groups/:name", h(&PapApi::delete_group))
      .post(b + "/pdps/deployments/batch", h(&PapApi::deployments_batch))
      .post(b + "/pdps/policies", h(&PapApi::deploy))
      .del(b + "/pdps/policies/:name", h(&PapApi::undeploy))
      .del(b + "/pdps/policies/:name/versions/:version", h(&PapApi::undeploy))
      .get(b + "/policies/status", h(&PapApi::policy_status))
      .get(b + "/policies/status/:group", h(&PapApi::policy_status))
      .get(b + "/policies/status/:group/:policy", h(&PapApi::policy_status))
      .get(b + "/policies/status/:group/:policy/:version", h(&PapApi::policy_status))
      .get(b + "/policies/deployed", h(&PapApi::deployed))
      .get(b + "/policies/deployed/:policy", h(&PapApi::deployed))
      .get(b + "/policies/deployed/:policy/:version", h(&PapApi::deployed))
      .get(b + "/policies/audit", h(&PapApi::audit))
      .get(b + "/policies/audit/:group", h(&PapApi::audit))
      .get(b + "/policies/audit/:policy/:version", h(&PapApi::audit))
      .get(b + "/policies/audit/:group/:policy/:version", h(&PapApi::audit));
  router.admit_by({b}, h(&PapApi::admit));  // basic auth on the head, refused as wrap() does
}

}  // namespace wiretag
