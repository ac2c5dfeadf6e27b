#include "core/account_policies.h"

#include "core/app_guid.h"
#include "core/change_log.h"
#include "core/policy_graph.h"

namespace wiretag {
namespace {

using nlohmann::json;

}  // namespace

Result<void> check_policy_draft(const PolicyDraft& d) {
  if (d.name) {
    if (d.name->empty() || d.name->size() > 256)
      return Error{"INVALID_NAME", "name must be 1-256 characters"};
    if (*d.name == kDefaultWhitelist)
      return Error{"POLICY_EXISTS",
                   "default-whitelist is built in; add its edges with POST /whitelist"};
  }
  if (d.refid && *d.refid && ((*d.refid)->empty() || (*d.refid)->size() > 256))
    return Error{"INVALID_REFID", "refid must be 1-256 characters"};
  if (d.rules) {
    for (const PolicyRule& r : *d.rules)
      if (auto fault = check_policy_rule(r)) return std::move(fault->error);
  }
  return Ok();
}

std::optional<RuleFault> check_policy_rule(const PolicyRule& r) {
  if (r.source != "*")
    if (auto c = check_app_guid(r.source, "source"); !c) return RuleFault{"source", c.error()};
  if (auto c = check_app_guid(r.destination, "destination"); !c)
    return RuleFault{"destination", c.error()};
  if (r.ports && (r.ports->start == 0 || r.ports->start > r.ports->end))
    return RuleFault{"ports",
                     Error{"INVALID_RULE", "ports must satisfy 1 <= start <= end <= 65535"}};
  if (r.ports && r.protocol == Protocol::Icmp)
    return RuleFault{"ports", Error{"INVALID_RULE", "icmp rules take no ports"}};
  return std::nullopt;
}

Result<Policy> policy_from_record(const PolicyRecord& rec) {
  json j = json::parse(rec.body, nullptr, false);
  if (!j.is_object() || !j.contains("rules"))
    return Error{"STORE_ERROR", "stored policy " + rec.id + " is corrupt"};
  Policy p{rec.id, rec.account, rec.refid, rec.name, rec.version, {}, {}};
  for (const json& r : j["rules"]) {
    PolicyRule rule{r.value("source", ""), r.value("destination", ""),
                    parse_protocol(r.value("protocol", "any")).value_or(Protocol::Any),
                    std::nullopt};
    if (r.contains("ports"))
      rule.ports =
          PortRange{r["ports"]["start"].get<uint16_t>(), r["ports"]["end"].get<uint16_t>()};
    p.rules.push_back(std::move(rule));
  }
  if (auto it = j.find("tosca"); it != j.end() && it->is_object()) p.tosca = *it;
  return p;
}

namespace {

Result<Policy> from_record(const PolicyRecord& rec) { return policy_from_record(rec); }

// The one policy that id_or_refid names in account.
Result<PolicyRecord> resolve(PoliciesPort& tx, std::string_view account, std::string_view key) {
  auto found = tx.find_policies(account, key);
  if (!found) return found.error();
  if (found->empty())
    return Error{"POLICY_NOT_FOUND", "no policy with id or refid \"" + std::string(key) + "\""};
  for (const PolicyRecord& p : *found)
    if (p.id == key) return p;  // an id wins over refids equal to it
  if (found->size() > 1)
    return Error{"AMBIGUOUS_REFID", "refid \"" + std::string(key) + "\" names " +
                                        std::to_string(found->size()) + " policies"};
  return found->front();
}

}  // namespace

PolicyRecord to_policy_record(const Policy& p) {
  return PolicyRecord{p.id, p.account, p.refid, p.name, p.version, to_json(p).dump()};
}

// The body carries the rules, so a cell sees every destination app the change touches;
// an update also carries the rules it replaced (their destinations may lose a rule).
Result<void> log_policy_change(ChangeLogPort& tx, protocol::EventKind kind, const Policy& p,
                               const Policy* previous) {
  auto rules = [](const std::vector<PolicyRule>& in) {
    std::vector<protocol::PolicyRuleBody> out;
    for (const PolicyRule& r : in) out.push_back({r.source, r.destination, r.protocol, r.ports});
    return out;
  };
  protocol::PolicyChange body{p.id, p.name, p.version, rules(p.rules), std::nullopt};
  if (previous) body.previous_rules = rules(previous->rules);
  auto r = log_change(tx, {kind, p.account, p.id, std::move(body)});
  if (!r) return r.error();
  return Ok();
}

json to_json(const Policy& p) {
  json out = {{"id", p.id},
              {"account_id", p.account},
              {"name", p.name},
              {"version", p.version},
              {"rules", to_json(p.rules)}};
  out["refid"] = p.refid ? json(*p.refid) : json(nullptr);
  if (p.tosca.is_object() && !p.tosca.empty()) out["tosca"] = p.tosca;
  return out;
}

json to_json(const std::vector<PolicyRule>& rules_in) {
  json rules = json::array();
  for (const PolicyRule& r : rules_in) {
    json j = {{"source", r.source},
              {"destination", r.destination},
              {"protocol", std::string(to_string(r.protocol))}};
    if (r.ports) j["ports"] = {{"start", r.ports->start}, {"end", r.ports->end}};
    rules.push_back(std::move(j));
  }
  return rules;
}

Result<std::vector<Policy>> AccountPolicies::list(std::string_view account) {
  if (auto r = check_account_id(account); !r) return r.error();
  return store_.read<std::vector<Policy>>([&](StoreTx& tx) -> Result<std::vector<Policy>> {
    auto records = tx.list_policies(account);
    if (!records) return records.error();
    std::vector<Policy> out;
    for (const PolicyRecord& rec : *records) {
      auto p = from_record(rec);
      if (!p) return p.error();
      out.push_back(std::move(*p));
    }
    return out;
  });
}

Result<Policy> AccountPolicies::get(std::string_view account, std::string_view key) {
  if (auto r = check_account_id(account); !r) return r.error();
  return store_.read<Policy>([&](StoreTx& tx) -> Result<Policy> {
    auto rec = resolve(tx, account, key);
    if (!rec) return rec.error();
    return from_record(*rec);
  });
}

Result<Policy> AccountPolicies::create(std::string_view account, const PolicyDraft& draft) {
  if (auto r = check_account_id(account); !r) return r.error();
  if (!draft.name) return Error{"MISSING_FIELD", "missing required field \"name\""};
  if (!draft.rules) return Error{"MISSING_FIELD", "missing required field \"rules\""};
  if (auto r = check_policy_draft(draft); !r) return r.error();
  Policy p{new_id_(),
           std::string(account),
           draft.refid.value_or(std::nullopt),
           *draft.name,
           1,
           *draft.rules,
           {}};
  return store_.write<Policy>([&](StoreTx& tx) -> Result<Policy> {
    if (auto r = tx.ensure_account(account); !r) return r.error();
    if (auto r = tx.put_policy(to_policy_record(p)); !r) return r.error();
    if (auto r = log_policy_change(tx, protocol::EventKind::PolicyCreated, p); !r) return r.error();
    return p;
  });
}

Result<Policy> AccountPolicies::update(std::string_view account, std::string_view key,
                                       const PolicyDraft& draft, bool replace) {
  if (auto r = check_account_id(account); !r) return r.error();
  if (replace && !draft.name) return Error{"MISSING_FIELD", "missing required field \"name\""};
  if (replace && !draft.rules) return Error{"MISSING_FIELD", "missing required field \"rules\""};
  if (auto r = check_policy_draft(draft); !r) return r.error();
  return store_.write<Policy>([&](StoreTx& tx) -> Result<Policy> {
    auto rec = resolve(tx, account, key);
    if (!rec) return rec.error();
    auto p = from_record(*rec);
    if (!p) return p.error();
    const Policy previous = *p;
    if (draft.name) p->name = *draft.name;
    if (draft.rules) p->rules = *draft.rules;
    if (draft.refid)
      p->refid = *draft.refid;
    else if (replace)
      p->refid.reset();
    p->version += 1;
    if (auto r = tx.put_policy(to_policy_record(*p)); !r) return r.error();
    if (auto r = log_policy_change(tx, protocol::EventKind::PolicyUpdated, *p, &previous); !r)
      return r.error();
    return *p;
  });
}

Result<void> AccountPolicies::remove(std::string_view account, std::string_view key) {
  if (auto r = check_account_id(account); !r) return r.error();
  return store_.write<void>([&](StoreTx& tx) -> Result<void> {
    auto rec = resolve(tx, account, key);
    if (!rec) return rec.error();
    auto p = from_record(*rec);
    if (!p) return p.error();
    // A version deployed to a PDP group is what cells enforce (SPEC §4.4): undeploy it first,
    // as ONAP refuses to delete a deployed policy.
    auto deployments = tx.list_deployments();
    if (!deployments) return deployments.error();
    for (const DeploymentRecord& d : *deployments)
      if (d.policy == rec->id)
        return Error{"POLICY_DEPLOYED", "policy " + rec->id + " version " + d.version +
                                            " is deployed to " + d.group + "/" + d.pdp_type +
                                            "; undeploy it first (PAP DELETE pdps/policies/" +
                                            rec->id + ")"};
    if (auto r = tx.delete_policy(rec->id); !r) return r;
    return log_policy_change(tx, protocol::EventKind::PolicyDeleted, *p);
  });
}

}  // namespace wiretag
