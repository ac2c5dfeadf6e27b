#include "core/tosca_policies.h"

#include "core/app_guid.h"
#include "core/pap.h"
#include "core/policy_graph.h"
#include "core/policy_types.h"

namespace wiretag {
namespace {

using nlohmann::json;

constexpr const char* kReservedMetadata[] = {"policy-id", "policy-version", "name", "refid"};

std::string version_string(int64_t n) { return std::to_string(n) + ".0.0"; }

Error at(std::string code, const std::string& path, const std::string& what,
         const std::string& policy) {
  return Error{std::move(code), path + ": " + what + " (policy " + policy + ")"};
}

// properties.rules as PolicyRules, each value checked (the shape was checked against the type).
Result<std::vector<PolicyRule>> rules_of(const json& rules, const std::string& policy) {
  std::vector<PolicyRule> out;
  for (size_t i = 0; i < rules.size(); ++i) {
    const json& r = rules[i];
    const std::string path = "properties.rules[" + std::to_string(i) + "]";
    PolicyRule rule{r["source"].get<std::string>(), r["destination"].get<std::string>(),
                    Protocol::Any, std::nullopt};
    if (auto p = r.find("protocol"); p != r.end() && !p->is_null()) {
      auto proto = parse_protocol(p->get<std::string>());
      if (!proto)
        return at("INVALID_PROTOCOL", path + ".protocol", "must be tcp, udp, icmp or any", policy);
      rule.protocol = *proto;
    }
    if (auto ports = r.find("ports"); ports != r.end() && !ports->is_null()) {
      const int64_t start = (*ports)["start"].get<int64_t>();
      auto e = ports->find("end");
      const int64_t end = e != ports->end() && !e->is_null() ? e->get<int64_t>() : start;
      if (start < 1 || start > 65535)
        return at("INVALID_RULE", path + ".ports.start", "must be 1-65535", policy);
      if (end < 1 || end > 65535)
        return at("INVALID_RULE", path + ".ports.end", "must be 1-65535", policy);
      rule.ports = PortRange{static_cast<uint16_t>(start), static_cast<uint16_t>(end)};
    }
    // The account API's own rule checks (guids, start <= end, icmp without ports).
    if (auto fault = check_policy_rule(rule))
      return at(fault->error.code, path + "." + std::string(fault->field), fault->error.message,
                policy);
    out.push_back(std::move(rule));
  }
  return out;
}

struct Parsed {
  Policy policy;
  std::optional<int64_t> version;
  std::optional<std::string> name, refid;  // from metadata
};

// One policy of a topology_template: shape, type and values; not yet placed in history.
Result<Parsed> parse_policy(StoreTx& tx, const std::string& id, const json& def,
                            const ToscaPolicyQuery& typed) {
  if (!is_valid_app_guid(id) || id == kDefaultWhitelist)
    return at("INVALID_POLICY_NAME", id,
              "a policy name is 1-128 characters of [A-Za-z0-9._:-], not default-whitelist", id);
  if (!def.is_object()) return at("INVALID_FIELD_TYPE", id, "must be a map", id);
  for (const auto& [key, v] : def.items())
    if (key != "type" && key != "type_version" && key != "version" && key != "name" &&
        key != "description" && key != "metadata" && key != "properties")
      return at("UNKNOWN_FIELD", key, "not supported in a policy", id);
  for (const char* key : {"type", "properties"})
    if (!def.contains(key)) return at("MISSING_FIELD", key, "required", id);
  for (const char* key : {"type", "type_version", "version", "name", "description"})
    if (def.contains(key) && !def[key].is_string())
      return at("INVALID_FIELD_TYPE", key, "must be a string", id);
  if (def.contains("name") && def["name"] != id)
    return at("NAME_MISMATCH", "name", "must be the policy's key, " + id, id);
  Parsed out;
  if (def.contains("version")) {
    const std::string v = def["version"].get<std::string>();
    out.version = Pap::parse_version(v);
    if (!out.version)
      return at("INVALID_POLICY_VERSION", "version",
                "\"" + v + "\" is not N.0.0: wiretag's policy versions are 1.0.0, 2.0.0, ...", id);
  }
  const std::string type = def["type"].get<std::string>();
  const std::string type_version = def.value("type_version", std::string("latest"));
  if (typed.type && (type != *typed.type ||
                     (def.contains("type_version") && type_version != *typed.type_version)))
    return at("INVALID_POLICY_TYPE", "type",
              type + " " + def.value("type_version", "") + " is not this path's type " +
                  *typed.type + " " + *typed.type_version,
              id);
  auto chain = PolicyTypes::chain(tx, type, typed.type ? *typed.type_version : type_version);
  if (!chain) return at(chain.error().code, "type", chain.error().message, id);
  json extra_metadata = json::object();
  if (auto m = def.find("metadata"); m != def.end()) {
    if (!m->is_object()) return at("INVALID_FIELD_TYPE", "metadata", "must be a map", id);
    for (const auto& [key, v] : m->items()) {
      if (!v.is_string())
        return at("INVALID_FIELD_TYPE", "metadata." + key, "must be a string", id);
      if (std::find(std::begin(kReservedMetadata), std::end(kReservedMetadata), key) ==
          std::end(kReservedMetadata))
        extra_metadata[key] = v;
    }
    if (m->contains("policy-id") && (*m)["policy-id"] != id)
      return at("NAME_MISMATCH", "metadata.policy-id", "must be the policy's name, " + id, id);
    if (m->contains("policy-version")) {
      auto n = Pap::parse_version((*m)["policy-version"].get<std::string>());
      if (!n || (out.version && *n != *out.version))
        return at("INVALID_POLICY_VERSION", "metadata.policy-version", "must be the version", id);
      out.version = n;
    }
    if (m->contains("name")) out.name = (*m)["name"].get<std::string>();
    if (m->contains("refid")) out.refid = (*m)["refid"].get<std::string>();
  }
  const json& props = def["properties"];
  if (auto r = check_policy_properties(props, *chain); !r)
    return Error{r.error().code, r.error().message + " (policy " + id + ")"};
  Policy& p = out.policy;
  p.id = id;
  p.account = props["account"].get<std::string>();
  if (auto r = check_account_id(p.account); !r)
    return at("INVALID_PROPERTY_VALUE", "properties.account", r.error().message, id);
  WT_TRY(rules, rules_of(props["rules"], id));
  p.rules = std::move(*rules);
  PolicyDraft names;
  if (out.name) names.name = out.name;
  if (out.refid) names.refid = std::optional<std::string>(*out.refid);
  if (auto r = check_policy_draft(names); !r)
    return at(r.error().code, out.name ? "metadata.name" : "metadata.refid", r.error().message, id);
  const PolicyType& own = chain->front();
  json tosca = json::object();
  if (!own.preloaded) tosca = {{"type", own.name}, {"type_version", own.version}};
  if (def.contains("description")) tosca["description"] = def["description"];
  if (!extra_metadata.empty()) tosca["metadata"] = extra_metadata;
  json extra = props;
  extra.erase("account");
  extra.erase("rules");
  for (auto it = extra.begin(); it != extra.end();) it = it->is_null() ? extra.erase(it) : ++it;
  if (!extra.empty()) tosca["properties"] = extra;
  if (!tosca.empty()) p.tosca = std::move(tosca);
  return out;
}

bool same_content(const Policy& a, const Policy& b) {
  return a.account == b.account && a.name == b.name && a.refid == b.refid && a.rules == b.rules &&
         a.tosca == b.tosca;
}

// The policies a template's topology_template lists, in order, as (name, definition).
Result<std::vector<std::pair<std::string, json>>> policy_entries(const json& tmpl) {
  if (!tmpl.is_object()) return Error{"INVALID_BODY", "a TOSCA service template is a map"};
  for (const auto& [key, v] : tmpl.items())
    if (key != "tosca_definitions_version" && key != "topology_template" && key != "name" &&
        key != "version" && key != "description" && key != "metadata" && key != "data_types" &&
        key != "policy_types")
      return Error{"UNKNOWN_FIELD", key + ": not accepted with policies"};
  auto tosca = tmpl.find("tosca_definitions_version");
  if (tosca == tmpl.end()) return Error{"MISSING_FIELD", "tosca_definitions_version: required"};
  if (*tosca != kToscaDefinitionsVersion)
    return Error{"INVALID_TOSCA_VERSION",
                 "tosca_definitions_version: must be " + std::string(kToscaDefinitionsVersion)};
  auto topo = tmpl.find("topology_template");
  if (topo == tmpl.end()) return Error{"MISSING_FIELD", "topology_template: required"};
  if (!topo->is_object()) return Error{"INVALID_FIELD_TYPE", "topology_template: must be a map"};
  for (const auto& [key, v] : topo->items())
    if (key != "policies" && key != "description")
      return Error{"UNKNOWN_FIELD", "topology_template." + key + ": not supported"};
  auto list = topo->find("policies");
  if (list == topo->end()) return Error{"MISSING_FIELD", "topology_template.policies: required"};
  if (!list->is_array() || list->empty())
    return Error{"INVALID_FIELD_TYPE",
                 "topology_template.policies: must be a non-empty list of one-entry maps"};
  std::vector<std::pair<std::string, json>> out;
  for (size_t i = 0; i < list->size(); ++i) {
    const json& item = (*list)[i];
    if (!item.is_object() || item.size() != 1)
      return Error{"INVALID_FIELD_TYPE", "topology_template.policies[" + std::to_string(i) +
                                             "]: must be a one-entry map {name: policy}"};
    out.emplace_back(item.begin().key(), item.begin().value());
  }
  return out;
}

// Every stored version of a live policy, oldest first.
Result<std::vector<Policy>> versions_of(StoreTx& tx, const PolicyRecord& live) {
  std::vector<Policy> out;
  for (int64_t n = 1; n <= live.version; ++n) {
    WT_TRY(rec, tx.policy_version(live.id, n));
    if (!*rec) continue;
    PolicyRecord full = **rec;
    full.account = live.account;
    WT_TRY(p, policy_from_record(full));
    json body = json::parse(full.body, nullptr, false);
    p->name = body.value("name", live.name);
    if (auto r = body.find("refid"); r != body.end() && r->is_string())
      p->refid = r->get<std::string>();
    else
      p->refid.reset();
    out.push_back(std::move(*p));
  }
  return out;
}

Error deployed(const std::string& id, const DeploymentRecord& d) {
  return Error{"POLICY_DEPLOYED", "policy " + id + " version " + d.version + " is deployed to " +
                                      d.group + "/" + d.pdp_type +
                                      "; undeploy it first (PAP DELETE pdps/policies/" + id + ")"};
}

}  // namespace

std::string type_of(const Policy& p) {
  return p.tosca.is_object() ? p.tosca.value("type", std::string(kWhitelistPolicyType))
                             : std::string(kWhitelistPolicyType);
}
std::string type_version_of(const Policy& p) {
  return p.tosca.is_object()
             ? p.tosca.value("type_version", std::string(kWhitelistPolicyTypeVersion))
             : std::string(kWhitelistPolicyTypeVersion);
}

json to_tosca(const Policy& p) {
  const json tosca = p.tosca.is_object() ? p.tosca : json::object();
  json metadata = tosca.value("metadata", json::object());
  metadata["policy-id"] = p.id;
  metadata["policy-version"] = version_string(p.version);
  metadata["name"] = p.name;
  if (p.refid) metadata["refid"] = *p.refid;
  json properties = tosca.value("properties", json::object());
  properties["account"] = p.account;
  properties["rules"] = to_json(p.rules);
  json def = {{"type", type_of(p)},
              {"type_version", type_version_of(p)},
              {"version", version_string(p.version)},
              {"name", p.id}};
  if (tosca.contains("description")) def["description"] = tosca["description"];
  def["metadata"] = std::move(metadata);
  def["properties"] = std::move(properties);
  return {{p.id, std::move(def)}};
}

json tosca_policies_template(const std::vector<Policy>& policies) {
  json list = json::array();
  for (const Policy& p : policies) list.push_back(to_tosca(p));
  return {{"tosca_definitions_version", std::string(kToscaDefinitionsVersion)},
          {"topology_template", {{"policies", std::move(list)}}}};
}

Result<std::vector<Policy>> ToscaPolicies::list(const ToscaPolicyQuery& q) {
  std::optional<int64_t> wanted;
  if (q.version && *q.version != "latest") {
    wanted = Pap::parse_version(*q.version);
    if (!wanted)
      return Error{"INVALID_POLICY_VERSION",
                   "version \"" + *q.version + "\" must be N.0.0 (N = 1, 2, ...) or latest"};
  }
  return store_.read<std::vector<Policy>>([&](StoreTx& tx) -> Result<std::vector<Policy>> {
    std::optional<PolicyType> type;
    if (q.type) {
      WT_TRY(chain, PolicyTypes::chain(tx, *q.type, q.type_version.value_or("latest")));
      type = chain->front();
    }
    std::vector<PolicyRecord> live;
    if (q.id) {
      WT_TRY(found, tx.find_policy_by_id(*q.id));
      if (*found) live.push_back(**found);
    } else {
      WT_TRY(all, tx.lifecycle().list_all_policies());
      live = std::move(*all);
    }
    std::vector<Policy> out;
    bool any_version = false;
    for (const PolicyRecord& rec : live) {
      WT_TRY(versions, versions_of(tx, rec));
      std::vector<Policy> matched;
      for (Policy& p : *versions)
        if (!type || (type_of(p) == type->name && type_version_of(p) == type->version))
          matched.push_back(std::move(p));
      any_version = any_version || !matched.empty();
      if (q.version == "latest" && !matched.empty()) {
        out.push_back(std::move(matched.back()));
        continue;
      }
      for (Policy& p : matched)
        if (!wanted || p.version == *wanted) out.push_back(std::move(p));
    }
    if (q.id && !any_version)
      return Error{"POLICY_NOT_FOUND",
                   "no policy " + *q.id +
                       (type ? " of type " + type->name + " " + type->version : std::string())};
    if (q.id && out.empty())
      return Error{"POLICY_VERSION_NOT_FOUND",
                   "policy " + *q.id + " has no version " + q.version.value_or("")};
    return out;
  });
}

Result<std::vector<Policy>> ToscaPolicies::create(const json& tmpl, const ToscaPolicyQuery& typed) {
  WT_TRY(entries, policy_entries(tmpl));
  return store_.write<std::vector<Policy>>([&](StoreTx& tx) -> Result<std::vector<Policy>> {
    std::vector<Policy> out;
    for (const auto& [id, def] : *entries) {
      WT_TRY(parsed, parse_policy(tx, id, def, typed));
      Policy& p = parsed->policy;
      WT_TRY(live, tx.find_policy_by_id(id));
      if (!*live) {
        WT_TRY(highest, tx.lifecycle().highest_policy_version(id));
        if (*highest > 0)
          return Error{"POLICY_ID_RETIRED",
                       "policy " + id +
                           " was deleted over the account policies API; its versions stay "
                           "readable there, and its name cannot be reused"};
        if (parsed->version.value_or(1) != 1)
          return at("INVALID_POLICY_VERSION", "version", "a new policy starts at 1.0.0", id);
        p.version = 1;
        p.name = parsed->name.value_or(id);
        p.refid = parsed->refid;
        if (auto r = tx.ensure_account(p.account); !r) return r.error();
        if (auto r = tx.put_policy(to_policy_record(p)); !r) return r.error();
        if (auto r = log_policy_change(tx, protocol::EventKind::PolicyCreated, p); !r)
          return r.error();
        out.push_back(std::move(p));
        continue;
      }
      WT_TRY(previous, policy_from_record(**live));
      if (previous->account != p.account)
        return at("INVALID_PROPERTY_VALUE", "properties.account",
                  "policy " + id + " belongs to account " + previous->account +
                      "; a policy's account never changes",
                  id);
      const int64_t head = previous->version;
      const int64_t n = parsed->version.value_or(head + 1);
      if (n <= head) {
        WT_TRY(rec, tx.policy_version(id, n));
        if (*rec) {
          WT_TRY(versions, versions_of(tx, **live));
          for (const Policy& old : *versions) {
            if (old.version != n) continue;
            p.version = n;
            p.name = parsed->name.value_or(old.name);
            p.refid = parsed->refid ? parsed->refid : old.refid;
            if (!same_content(p, old))
              return Error{"POLICY_VERSION_CONFLICT",
                           "policy " + id + " version " + version_string(n) +
                               " exists with other content; versions are immutable: post " +
                               version_string(head + 1)};
            out.push_back(old);
          }
          continue;
        }
      }
      if (n != head + 1)
        return at("INVALID_POLICY_VERSION", "version",
                  "the next version of policy " + id + " is " + version_string(head + 1), id);
      p.version = n;
      p.name = parsed->name.value_or(previous->name);
      p.refid = parsed->refid ? parsed->refid : previous->refid;
      if (auto r = tx.put_policy(to_policy_record(p)); !r) return r.error();
      if (auto r = log_policy_change(tx, protocol::EventKind::PolicyUpdated, p, &*previous); !r)
        return r.error();
      out.push_back(std::move(p));
    }
    return out;
  });
}

Result<Policy> ToscaPolicies::remove(const ToscaPolicyQuery& q) {
  if (!q.id || !q.version) return Error{"BAD_REQUEST", "a policy id and version are required"};
  auto n = Pap::parse_version(*q.version);
  if (!n)
    return Error{"INVALID_POLICY_VERSION",
                 "version \"" + *q.version + "\" must be N.0.0 (N = 1, 2, ...)"};
  WT_TRY(matched, list(q));  // the type, id and version exist, and match
  const Policy target = matched->front();
  return store_.write<Policy>([&](StoreTx& tx) -> Result<Policy> {
    WT_TRY(live, tx.find_policy_by_id(target.id));
    if (!*live) return Error{"POLICY_NOT_FOUND", "no policy " + target.id};
    WT_TRY(deployments, tx.list_deployments());
    for (const DeploymentRecord& d : *deployments)
      if (d.policy == target.id && Pap::parse_version(d.version) == *n)
        return deployed(target.id, d);
    WT_TRY(versions, versions_of(tx, **live));
    const Policy* below = nullptr;  // the newest version before the one removed
    for (const Policy& v : *versions)
      if (v.version < *n) below = &v;
    WT_TRY(gone, tx.lifecycle().delete_policy_version(target.id, *n));
    if (!*gone) return Error{"POLICY_VERSION_NOT_FOUND", "no version " + *q.version};
    if (*n < (*live)->version) return target;
    WT_TRY(head, policy_from_record(**live));
    if (!below) {
      if (auto r = tx.delete_policy(target.id); !r) return r.error();
      if (auto r = log_policy_change(tx, protocol::EventKind::PolicyDeleted, *head); !r)
        return r.error();
      return target;
    }
    // The policy falls back to the version before: put_policy stores its head and records the
    // version, so the version's row is taken out and put back unchanged.
    Policy back = *below;
    back.account = (*head).account;
    if (auto r = tx.lifecycle().delete_policy_version(back.id, back.version); !r) return r.error();
    if (auto r = tx.put_policy(to_policy_record(back)); !r) return r.error();
    if (auto r = log_policy_change(tx, protocol::EventKind::PolicyUpdated, back, &*head); !r)
      return r.error();
    return target;
  });
}

}  // namespace wiretag
