#include "core/pap.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <tuple>

#include "core/account_policies.h"
#include "core/app_guid.h"
#include "core/change_log.h"
#include "protocol/policy_version.h"

namespace wiretag {
namespace {

using nlohmann::json;

using protocol::normalize_version;

Error group_not_found(std::string_view g) {
  return Error{"GROUP_NOT_FOUND", "no PDP group \"" + std::string(g) + "\""};
}

Error policy_not_found(std::string_view p) {
  return Error{"POLICY_NOT_FOUND", "no policy \"" + std::string(p) +
                                       "\" (PAP names: default-whitelist, or a named policy's id)"};
}

bool live(const Cell& c) { return !c.expired; }

bool in_subgroup(const Cell& c, std::string_view group, std::string_view pdp_type) {
  return c.report.pdp_group == group && c.report.pdp_subgroup == pdp_type;
}

// pdp.* events: subject = the group, no account.
Result<void> append_event(ChangeLogPort& tx, protocol::EventKind kind, std::string_view group,
                          protocol::EventBody body) {
  auto r = log_change(tx, {kind, "", std::string(group), std::move(body)});
  if (!r) return r.error();
  return Ok();
}

// The policy a request names, with its version made concrete.
Result<PolicyIdent> resolve_policy(PoliciesPort& tx, const PolicyRef& ref) {
  if (ref.name == kDefaultWhitelist) {
    if (ref.version && normalize_version(*ref.version) != kDefaultWhitelistVersion)
      return Error{"POLICY_VERSION_NOT_FOUND",
                   "default-whitelist has one version, " + std::string(kDefaultWhitelistVersion)};
    return PolicyIdent{ref.name, std::string(kDefaultWhitelistVersion)};
  }
  WT_TRY(latest, tx.find_policy_by_id(ref.name));
  if (!*latest) return policy_not_found(ref.name);
  if (!ref.version) return PolicyIdent{ref.name, std::to_string((*latest)->version) + ".0.0"};
  auto n = Pap::parse_version(*ref.version);
  if (!n)
    return Error{"INVALID_POLICY_VERSION",
                 "version \"" + *ref.version + "\" must be N or N.0.0 (N = 1, 2, ...)"};
  WT_TRY(found, tx.policy_version(ref.name, *n));
  if (!*found)
    return Error{"POLICY_VERSION_NOT_FOUND",
                 "policy \"" + ref.name + "\" has no version " + *ref.version};
  return PolicyIdent{ref.name, std::to_string(*n) + ".0.0"};
}

// Known to the PAP: default-whitelist, an existing named policy, or anything deployed.
Result<bool> policy_known(PoliciesPort& tx, const DeploymentMap& m, std::string_view name) {
  if (name == kDefaultWhitelist) return true;
  for (const auto& [key, version] : m)
    if (std::get<2>(key) == name) return true;
  WT_TRY(found, tx.find_policy_by_id(name));
  return found->has_value();
}

Result<void> check_group_name(std::string_view name, std::string_view code = "INVALID_GROUP_NAME") {
  if (is_valid_app_guid(name)) return Ok();
  return Error{std::string(code), "a group or subgroup name is 1-128 of [A-Za-z0-9._:-]"};
}

struct Audit {
  StoreTx& tx;
  const std::string& user;
  int64_t at_ms;
  Result<void> operator()(std::string_view group, std::string_view pdp_type,
                          std::string_view policy, std::string_view version,
                          std::string_view action, std::string_view detail = "") {
    PapAuditRecord r{0,
                     std::string(group),
                     std::string(pdp_type),
                     std::string(policy),
                     std::string(version),
                     std::string(action),
                     std::string(detail),
                     user,
                     at_ms};
    auto id = tx.append_pap_audit(r);
    if (!id) return id.error();
    return Ok();
  }
};

// The versions of `a` not in `b`.
std::vector<PolicyIdent> missing_from(const std::vector<PolicyIdent>& a,
                                      const std::vector<PolicyIdent>& b) {
  std::vector<PolicyIdent> out;
  for (const PolicyIdent& p : a)
    if (std::find(b.begin(), b.end(), p) == b.end()) out.push_back(p);
  return out;
}

// Applies deployment changes to `m` and the store, with audit records; remembers which
// subgroups changed so each gets one pdp.update.
struct DeploymentWriter {
  StoreTx& tx;
  DeploymentMap& m;
  Audit& audit;
  // Each changed subgroup, with what was deployed to it before the first change.
  std::map<std::pair<std::string, std::string>, std::vector<PolicyIdent>> touched;

  void touch(const std::string& group, const std::string& pdp_type) {
    if (!touched.count({group, pdp_type}))
      touched[{group, pdp_type}] = policies_of(m, group, pdp_type);
  }

  Result<void> put(const std::string& group, const std::string& pdp_type, const PolicyIdent& p) {
    auto it = m.find({group, pdp_type, p.name});
    if (it != m.end() && it->second == p.version) return Ok();
    touch(group, pdp_type);
    DeploymentRecord rec{group, pdp_type, p.name, p.version, audit.at_ms};
    if (auto r = tx.put_deployment(rec); !r) return r;
    if (it != m.end())  // the version it replaces is undeployed
      if (auto r = audit(group, pdp_type, p.name, it->second, "UNDEPLOYMENT"); !r) return r;
    m[{group, pdp_type, p.name}] = p.version;
    return audit(group, pdp_type, p.name, p.version, "DEPLOYMENT");
  }

  Result<void> remove(const std::string& group, const std::string& pdp_type,
                      const std::string& name) {
    auto it = m.find({group, pdp_type, name});
    if (it == m.end()) return Ok();
    const std::string version = it->second;
    touch(group, pdp_type);  // reads m only: `it` stays valid
    WT_TRY(gone, tx.delete_deployment(group, pdp_type, name));
    m.erase(it);
    return audit(group, pdp_type, name, version, "UNDEPLOYMENT");
  }

  Result<void> announce() {
    for (const auto& [subgroup, before] : touched) {
      const auto& [group, pdp_type] = subgroup;
      std::vector<PolicyIdent> after = policies_of(m, group, pdp_type);
      protocol::PdpUpdate body{group, pdp_type, after, missing_from(after, before),
                               missing_from(before, after)};
      if (auto r = append_event(tx, protocol::EventKind::PdpUpdate, group, std::move(body)); !r)
        return r;
    }
    return Ok();
  }
};

DeployState cell_state(const Cell& c, const PolicyIdent& p, std::string& message) {
  for (const FailedPolicy& f : c.report.failed_policies)
    if (f.name == p.name && normalize_version(f.version) == p.version) {
      message = f.reason;
      return DeployState::Failure;
    }
  for (const DeployedPolicy& d : c.report.policies)
    if (d.name == p.name && normalize_version(d.version) == p.version) return DeployState::Success;
  // ONAP's response without a list of failed policies: whatever the cell lacks has failed.
  if (c.report.response && c.report.response->status == "FAIL") {
    message = c.report.response->message;
    return DeployState::Failure;
  }
  return DeployState::Waiting;
}

}  // namespace

std::string_view datapath_mode(std::string_view state) {
  if (state == "ACTIVE" || state == "SAFE") return "enforce";
  if (state == "TEST") return "audit";
  return "bypass";
}

bool is_group_state(std::string_view s) {
  return s == "ACTIVE" || s == "PASSIVE" || s == "SAFE" || s == "TEST";
}

std::string_view to_string(DeployState s) {
  switch (s) {
    case DeployState::Success:
      return "SUCCESS";
    case DeployState::Failure:
      return "FAILURE";
    case DeployState::Waiting:
      break;
  }
  return "WAITING";
}

std::optional<int64_t> Pap::parse_version(std::string_view v) {
  return protocol::policy_version_number(v);
}

Pap::Pap(Store& store, CellRegistry& cells, std::function<int64_t()> clock_ms)
    : store_(store), cells_(cells), clock_ms_(std::move(clock_ms)) {}

int64_t Pap::now_ms() const {
  if (clock_ms_) return clock_ms_();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::vector<GroupView>> Pap::groups() {
  const std::vector<Cell> cells = cells_.list();
  return store_.read<std::vector<GroupView>>([&](StoreTx& tx) -> Result<std::vector<GroupView>> {
    WT_TRY(groups, tx.list_pdp_groups());
    WT_TRY(deployments, load_deployments(tx));
    std::vector<GroupView> out;
    for (PdpGroupRecord& g : *groups) {
      GroupView view;
      for (const PdpSubgroupRecord& s : g.subgroups) {
        SubgroupView sv{s, policies_of(*deployments, g.name, s.pdp_type), {}, 0};
        for (const Cell& c : cells)
          if (in_subgroup(c, g.name, s.pdp_type)) {
            sv.cells.push_back(c);
            if (live(c)) ++sv.current_instances;
          }
        view.subgroups.push_back(std::move(sv));
      }
      view.record = std::move(g);
      out.push_back(std::move(view));
    }
    return out;
  });
}

Result<void> Pap::apply_groups(const std::vector<GroupSpec>& specs, const std::string& user) {
  std::set<std::string> names;
  for (const GroupSpec& g : specs) {
    if (auto r = check_group_name(g.name); !r) return r;
    if (!names.insert(g.name).second)
      return Error{"INVALID_GROUP", "group \"" + g.name + "\" appears twice in the request"};
    if (g.state && !is_group_state(*g.state))
      return Error{"INVALID_STATE", "pdpGroupState must be ACTIVE, PASSIVE, SAFE or TEST"};
    if (g.subgroups.empty())
      return Error{"INVALID_GROUP", "group \"" + g.name + "\" needs at least one subgroup"};
    std::set<std::string> types;
    for (const SubgroupSpec& s : g.subgroups) {
      if (auto r = check_group_name(s.pdp_type, "INVALID_PDP_TYPE"); !r) return r;
      if (!types.insert(s.pdp_type).second)
        return Error{"INVALID_SUBGROUP", "subgroup \"" + s.pdp_type + "\" appears twice"};
      if (s.desired_instances < 0 || s.desired_instances > 1000000)
        return Error{"INVALID_INSTANCE_COUNT", "desiredInstanceCount must be 0-1000000"};
      if (s.supported_types)
        for (const PolicyTypeIdent& t : *s.supported_types)
          if (t.name != kWhitelistPolicyType || t.version != kWhitelistPolicyTypeVersion)
            return Error{"INVALID_POLICY_TYPE",
                         "the only policy type is wiretag.policies.Whitelist 1.0.0, not " + t.name +
                             " " + t.version};
    }
  }
  const int64_t at = now_ms();
  return store_.write<void>([&](StoreTx& tx) -> Result<void> {
    Audit audit{tx, user, at};
    WT_TRY(deployments, load_deployments(tx));
    for (const GroupSpec& spec : specs) {
      WT_TRY(existing, tx.find_pdp_group(spec.name));
      PdpGroupRecord rec;
      if (*existing) {
        rec = **existing;
        if (spec.state && *spec.state != rec.state)
          return Error{"INVALID_STATE_CHANGE",
                       "group \"" + spec.name + "\" is " + rec.state +
                           "; change its state with PUT /policy/pap/v1/pdps/groups/" + spec.name +
                           "?state=" + *spec.state};
        if (spec.description) rec.description = *spec.description;
        if (spec.properties) rec.properties = spec.properties->dump();
        std::vector<PdpSubgroupRecord> subgroups;
        for (const SubgroupSpec& s : spec.subgroups) {
          const PdpSubgroupRecord* old = find_subgroup(rec, s.pdp_type);
          PdpSubgroupRecord sub{s.pdp_type, s.desired_instances, "", s.properties.dump()};
          if (old) {
            sub.supported_types = old->supported_types;  // fixed at creation (ONAP)
          } else {
            json types = json::array();
            for (const PolicyTypeIdent& t : s.supported_types.value_or(
                     std::vector<PolicyTypeIdent>{{std::string(kWhitelistPolicyType),
                                                   std::string(kWhitelistPolicyTypeVersion)}}))
              types.push_back({{"name", t.name}, {"version", t.version}});
            sub.supported_types = types.dump();
          }
          subgroups.push_back(std::move(sub));
        }
        for (const PdpSubgroupRecord& old : rec.subgroups) {
          bool kept = std::any_of(subgroups.begin(), subgroups.end(),
                                  [&](const auto& s) { return s.pdp_type == old.pdp_type; });
          if (!kept && !policies_of(*deployments, rec.name, old.pdp_type).empty())
            return Error{"SUBGROUP_HAS_POLICIES", "subgroup \"" + old.pdp_type + "\" of \"" +
                                                      rec.name +
                                                      "\" still holds policies; undeploy them "
                                                      "before removing it"};
        }
        rec.subgroups = std::move(subgroups);
        if (auto r = tx.put_pdp_group(rec); !r) return r;
        if (auto r = audit(rec.name, "", "", "", "GROUP_UPDATE"); !r) return r;
        continue;
      }
      rec.name = spec.name;
      rec.description = spec.description.value_or("");
      rec.state = spec.state.value_or("PASSIVE");
      rec.properties = spec.properties.value_or(json::object()).dump();
      for (const SubgroupSpec& s : spec.subgroups) {
        json types = json::array();
        for (const PolicyTypeIdent& t : s.supported_types.value_or(std::vector<PolicyTypeIdent>{
                 {std::string(kWhitelistPolicyType), std::string(kWhitelistPolicyTypeVersion)}}))
          types.push_back({{"name", t.name}, {"version", t.version}});
        rec.subgroups.push_back(
            {s.pdp_type, s.desired_instances, types.dump(), s.properties.dump()});
      }
      if (auto r = tx.put_pdp_group(rec); !r) return r;
      if (auto r = audit(rec.name, "", "", "", "GROUP_CREATE", rec.state); !r) return r;
      // Cells that reported this group while it was unknown are locked until they learn it.
      protocol::PdpStateChange body{rec.name, rec.state, std::string(datapath_mode(rec.state))};
      if (auto r = append_event(tx, protocol::EventKind::PdpStateChange, rec.name, body); !r)
        return r;
    }
    return Ok();
  });
}

Result<void> Pap::set_state(const std::string& group, const std::string& state,
                            const std::string& user) {
  if (auto r = check_group_name(group); !r) return r;
  if (!is_group_state(state))
    return Error{"INVALID_STATE", "state must be ACTIVE, PASSIVE, SAFE or TEST"};
  const int64_t at = now_ms();
  return store_.write<void>([&](StoreTx& tx) -> Result<void> {
    WT_TRY(found, tx.find_pdp_group(group));
    if (!*found) return group_not_found(group);
    PdpGroupRecord rec = **found;
    if (rec.state == state) return Ok();
    const std::string before = rec.state;
    rec.state = state;
    if (auto r = tx.put_pdp_group(rec); !r) return r;
    Audit audit{tx, user, at};
    if (auto r = audit(group, "", "", "", "STATE_CHANGE", before + "->" + state); !r) return r;
    return append_event(tx, protocol::EventKind::PdpStateChange, group,
                        protocol::PdpStateChange{group, state, std::string(datapath_mode(state))});
  });
}

Result<void> Pap::delete_group(const std::string& group, const std::string& user) {
  if (auto r = check_group_name(group); !r) return r;
  const int64_t at = now_ms();
  return store_.write<void>([&](StoreTx& tx) -> Result<void> {
    WT_TRY(found, tx.find_pdp_group(group));
    if (!*found) return group_not_found(group);
    if ((*found)->state != "PASSIVE")
      return Error{"GROUP_NOT_PASSIVE", "group \"" + group + "\" is " + (*found)->state +
                                            "; only a PASSIVE group may be deleted"};
    WT_TRY(deployments, load_deployments(tx));
    Audit audit{tx, user, at};
    for (const auto& [key, version] : *deployments)
      if (std::get<0>(key) == group)
        if (auto r = audit(group, std::get<1>(key), std::get<2>(key), version, "UNDEPLOYMENT"); !r)
          return r;
    if (auto r = tx.delete_pdp_group(group); !r) return r;
    if (auto r = audit(group, "", "", "", "GROUP_DELETE"); !r) return r;
    return append_event(tx, protocol::EventKind::PdpStateChange, group,
                        protocol::PdpStateChange{group, "PASSIVE", "bypass", true});
  });
}

Result<void> Pap::deploy_batch(const std::vector<GroupDeployment>& batch, const std::string& user) {
  for (const GroupDeployment& g : batch) {
    if (auto r = check_group_name(g.group); !r) return r;
    for (const SubgroupDeployment& s : g.subgroups)
      if (auto r = check_group_name(s.pdp_type, "INVALID_PDP_TYPE"); !r) return r;
  }
  const int64_t at = now_ms();
  return store_.write<void>([&](StoreTx& tx) -> Result<void> {
    WT_TRY(deployments, load_deployments(tx));
    Audit audit{tx, user, at};
    DeploymentWriter writer{tx, *deployments, audit, {}};
    for (const GroupDeployment& g : batch) {
      WT_TRY(found, tx.find_pdp_group(g.group));
      if (!*found) return group_not_found(g.group);
      if ((*found)->state == "SAFE")
        return Error{"GROUP_IN_SAFE_STATE", "group \"" + g.group +
                                                "\" is SAFE: it keeps its policies and accepts "
                                                "no deployment changes"};
      for (const SubgroupDeployment& s : g.subgroups) {
        if (!find_subgroup(**found, s.pdp_type))
          return Error{"SUBGROUP_NOT_FOUND",
                       "group \"" + g.group + "\" has no subgroup \"" + s.pdp_type + "\""};
        switch (s.action) {
          case DeployAction::Post:
            for (const PolicyRef& ref : s.policies) {
              WT_TRY(p, resolve_policy(tx, ref));
              if (auto r = writer.put(g.group, s.pdp_type, *p); !r) return r;
            }
            break;
          case DeployAction::Delete:
            for (const PolicyRef& ref : s.policies) {
              auto it = deployments->find({g.group, s.pdp_type, ref.name});
              if (it == deployments->end() ||
                  (ref.version && normalize_version(*ref.version) != it->second))
                return Error{"DEPLOYMENT_NOT_FOUND",
                             "policy \"" + ref.name + "\"" +
                                 (ref.version ? " version " + *ref.version : std::string()) +
                                 " is not deployed to " + g.group + "/" + s.pdp_type};
              if (auto r = writer.remove(g.group, s.pdp_type, ref.name); !r) return r;
            }
            break;
          case DeployAction::Patch: {
            std::vector<PolicyIdent> wanted;
            for (const PolicyRef& ref : s.policies) {
              WT_TRY(p, resolve_policy(tx, ref));
              wanted.push_back(*p);
            }
            for (const PolicyIdent& have : policies_of(*deployments, g.group, s.pdp_type)) {
              bool keep = std::any_of(wanted.begin(), wanted.end(),
                                      [&](const PolicyIdent& w) { return w.name == have.name; });
              if (!keep)
                if (auto r = writer.remove(g.group, s.pdp_type, have.name); !r) return r;
            }
            for (const PolicyIdent& p : wanted)
              if (auto r = writer.put(g.group, s.pdp_type, p); !r) return r;
            break;
          }
        }
      }
    }
    return writer.announce();
  });
}

Result<void> Pap::deploy(const std::vector<PolicyRef>& refs, const std::string& user) {
  const std::vector<Cell> cells = cells_.list();
  const int64_t at = now_ms();
  return store_.write<void>([&](StoreTx& tx) -> Result<void> {
    WT_TRY(groups, tx.list_pdp_groups());
    std::vector<std::pair<std::string, std::string>> targets;
    for (const PdpGroupRecord& g : *groups) {
      if (g.state != "ACTIVE") continue;
      for (const PdpSubgroupRecord& s : g.subgroups) {
        bool has_pdp = std::any_of(cells.begin(), cells.end(), [&](const Cell& c) {
          return live(c) && in_subgroup(c, g.name, s.pdp_type);
        });
        if (!has_pdp)
          return Error{"SUBGROUP_HAS_NO_PDP",
                       "group " + g.name + " subgroup " + s.pdp_type + " has no active PDPs"};
        targets.push_back({g.name, s.pdp_type});
      }
    }
    if (targets.empty())
      return Error{"NO_ACTIVE_GROUP", "no ACTIVE group to deploy to; use pdps/deployments/batch"};
    WT_TRY(deployments, load_deployments(tx));
    Audit audit{tx, user, at};
    DeploymentWriter writer{tx, *deployments, audit, {}};
    for (const PolicyRef& ref : refs) {
      WT_TRY(p, resolve_policy(tx, ref));
      for (const auto& [group, pdp_type] : targets)
        if (auto r = writer.put(group, pdp_type, *p); !r) return r;
    }
    return writer.announce();
  });
}

Result<void> Pap::undeploy(const std::string& name, const std::optional<std::string>& version,
                           const std::string& user) {
  if (version && !parse_version(*version))
    return Error{"INVALID_POLICY_VERSION",
                 "version \"" + *version + "\" must be N or N.0.0 (N = 1, 2, ...)"};
  const int64_t at = now_ms();
  return store_.write<void>([&](StoreTx& tx) -> Result<void> {
    WT_TRY(deployments, load_deployments(tx));
    WT_TRY(known, policy_known(tx, *deployments, name));
    if (!*known) return policy_not_found(name);
    std::vector<DeploymentKey> matching;
    for (const auto& [key, v] : *deployments)
      if (std::get<2>(key) == name && (!version || normalize_version(*version) == v))
        matching.push_back(key);
    if (matching.empty())
      return Error{"DEPLOYMENT_NOT_FOUND", "policy \"" + name + "\"" +
                                               (version ? " version " + *version : std::string()) +
                                               " is not deployed"};
    for (const DeploymentKey& key : matching) {
      WT_TRY(g, tx.find_pdp_group(std::get<0>(key)));
      if (*g && (*g)->state == "SAFE")
        return Error{"GROUP_IN_SAFE_STATE", "group \"" + std::get<0>(key) +
                                                "\" is SAFE and accepts no deployment changes"};
    }
    Audit audit{tx, user, at};
    DeploymentWriter writer{tx, *deployments, audit, {}};
    for (const DeploymentKey& key : matching)
      if (auto r = writer.remove(std::get<0>(key), std::get<1>(key), std::get<2>(key)); !r)
        return r;
    return writer.announce();
  });
}

Result<std::vector<PolicyStatus>> Pap::policy_status(const std::optional<std::string>& group,
                                                     const std::optional<std::string>& policy,
                                                     const std::optional<std::string>& version) {
  const std::vector<Cell> cells = cells_.list();
  return store_.read<std::vector<PolicyStatus>>(
      [&](StoreTx& tx) -> Result<std::vector<PolicyStatus>> {
        WT_TRY(deployments, load_deployments(tx));
        if (group) {
          WT_TRY(g, tx.find_pdp_group(*group));
          if (!*g) return group_not_found(*group);
        }
        if (policy) {
          WT_TRY(known, policy_known(tx, *deployments, *policy));
          if (!*known) return policy_not_found(*policy);
        }
        std::vector<PolicyStatus> out;
        for (const auto& [key, v] : *deployments) {
          const auto& [g, pdp_type, name] = key;
          if ((group && g != *group) || (policy && name != *policy) ||
              (version && normalize_version(*version) != v))
            continue;
          for (const Cell& c : cells) {
            if (!in_subgroup(c, g, pdp_type)) continue;
            PolicyStatus s{g, pdp_type, c.report.name, {name, v}, DeployState::Waiting, ""};
            s.state = cell_state(c, s.policy, s.message);
            out.push_back(std::move(s));
          }
        }
        return out;
      });
}

Result<std::map<PolicyIdent, PolicyTypeIdent>> Pap::policy_types(
    const std::vector<PolicyIdent>& versions) {
  return store_.read<std::map<PolicyIdent, PolicyTypeIdent>>(
      [&](StoreTx& tx) { return wiretag::policy_types(tx, versions); });
}

Result<std::vector<DeployedCounts>> Pap::deployed(const std::optional<std::string>& policy,
                                                  const std::optional<std::string>& version) {
  WT_TRY(statuses, policy_status(std::nullopt, policy, version));
  WT_TRY(
      versions,
      store_.read<std::vector<PolicyIdent>>([&](StoreTx& tx) -> Result<std::vector<PolicyIdent>> {
        WT_TRY(deployments, load_deployments(tx));
        std::set<std::pair<std::string, std::string>> seen;
        std::vector<PolicyIdent> out;
        for (const auto& [key, v] : *deployments) {
          const std::string& name = std::get<2>(key);
          if ((policy && name != *policy) || (version && normalize_version(*version) != v))
            continue;
          if (seen.insert({name, v}).second) out.push_back({name, v});
        }
        return out;
      }));
  std::vector<DeployedCounts> out;
  for (const PolicyIdent& p : *versions) {
    DeployedCounts c{p, 0, 0, 0};
    for (const PolicyStatus& s : *statuses) {
      if (!(s.policy == p)) continue;
      if (s.state == DeployState::Success) ++c.success;
      if (s.state == DeployState::Failure) ++c.failure;
      if (s.state == DeployState::Waiting) ++c.incomplete;
    }
    out.push_back(c);
  }
  return out;
}

Result<std::vector<PapAuditRecord>> Pap::audit(const AuditFilter& f) {
  if (f.limit < 1 || f.limit > 100)
    return Error{"INVALID_RECORD_COUNT", "recordCount must be 1-100"};
  if (f.from_ms && f.to_ms && *f.from_ms > *f.to_ms)
    return Error{"INVALID_TIME_RANGE", "startTime must not be after endTime"};
  return store_.read<std::vector<PapAuditRecord>>(
      [&](StoreTx& tx) -> Result<std::vector<PapAuditRecord>> {
        if (f.group) {
          WT_TRY(g, tx.find_pdp_group(*f.group));
          // A deleted group keeps its audit trail.
          if (!*g) {
            WT_TRY(any, tx.pap_audit(PapAuditQuery{f.group, {}, {}, {}, {}, 1}));
            if (any->empty()) return group_not_found(*f.group);
          }
        }
        PapAuditQuery q{f.group, f.policy, f.version, f.from_ms, f.to_ms, f.limit};
        if (q.version) q.version = normalize_version(*q.version);
        return tx.pap_audit(q);
      });
}

Result<PapStatistics> Pap::statistics() {
  const std::vector<Cell> cells = cells_.list();
  WT_TRY(statuses, policy_status(std::nullopt, std::nullopt, std::nullopt));
  return store_.read<PapStatistics>([&](StoreTx& tx) -> Result<PapStatistics> {
    PapStatistics s;
    WT_TRY(groups, tx.list_pdp_groups());
    s.groups = static_cast<int64_t>(groups->size());
    WT_TRY(deploys, tx.count_pap_audit("DEPLOYMENT"));
    WT_TRY(undeploys, tx.count_pap_audit("UNDEPLOYMENT"));
    s.deploy_requests = *deploys;
    s.undeploy_requests = *undeploys;
    for (const Cell& c : cells) {
      ++s.cells;
      if (c.healthy) ++s.healthy_cells;
      if (c.report.datapath) {
        s.datapath.endpoints += c.report.datapath->endpoints;
        s.datapath.allowed += c.report.datapath->allowed;
        s.datapath.dropped += c.report.datapath->dropped;
        s.datapath.audited += c.report.datapath->audited;
      }
    }
    for (const PolicyStatus& st : *statuses) {
      if (st.state == DeployState::Success) ++s.deploy_success;
      if (st.state == DeployState::Failure) ++s.deploy_failure;
      if (st.state == DeployState::Waiting) ++s.deploy_waiting;
    }
    return s;
  });
}

Result<void> Pap::store_healthy() {
  return store_.read<void>([](StoreTx& tx) -> Result<void> {
    auto r = tx.revision();
    if (!r) return r.error();
    return Ok();
  });
}

Result<CellAssignment> Pap::assignment(const std::string& group, const std::string& subgroup) {
  return store_.read<CellAssignment>([&](StoreTx& tx) -> Result<CellAssignment> {
    CellAssignment a{group, subgroup, "PASSIVE", "bypass", true, {}, 0};
    WT_TRY(rev, tx.revision());
    a.revision = *rev;
    WT_TRY(found, tx.find_pdp_group(group));
    if (!*found || !find_subgroup(**found, subgroup)) return a;
    a.locked = false;
    a.state = (*found)->state;
    a.mode = std::string(datapath_mode(a.state));
    WT_TRY(deployments, load_deployments(tx));
    a.policies = policies_of(*deployments, group, subgroup);
    return a;
  });
}

Result<EffectiveRules> Pap::effective_rules(const std::string& cell_name,
                                            const std::vector<std::string>& guids,
                                            CellAssignment* assignment_out) {
  for (const std::string& guid : guids)
    if (auto r = check_app_guid(guid); !r) return r.error();
  auto cell = cells_.find(cell_name);
  if (!cell)
    return Error{"CELL_NOT_FOUND",
                 "cell \"" + cell_name + "\" has not reported; send its PDP_STATUS first"};
  WT_TRY(a, assignment(cell->report.pdp_group, cell->report.pdp_subgroup));
  return store_.read<EffectiveRules>([&](StoreTx& tx) -> Result<EffectiveRules> {
    EffectiveRules out;
    WT_TRY(rev, tx.revision());
    out.revision = *rev;
    // Re-read in this transaction, so rules and policy list are of one revision.
    WT_TRY(found, tx.find_pdp_group(cell->report.pdp_group));
    CellAssignment now = *a;
    now.revision = *rev;
    if (!*found || !find_subgroup(**found, cell->report.pdp_subgroup)) {
      now.locked = true;
      now.state = "PASSIVE";
      now.mode = "bypass";
      now.policies.clear();
    } else {
      WT_TRY(deployments, load_deployments(tx));
      now.locked = false;
      now.state = (*found)->state;
      now.mode = std::string(datapath_mode(now.state));
      now.policies = policies_of(*deployments, now.group, now.subgroup);
    }
    if (assignment_out) *assignment_out = now;

    WT_TRY(deployed,
           DeployedRules::load(tx, now.locked ? std::vector<PolicyIdent>{} : now.policies));
    std::set<std::string> seen;
    for (const std::string& guid : guids) {
      if (!seen.insert(guid).second) continue;
      WT_TRY(app, tx.find_app(guid));
      if (!*app) {
        out.missing.push_back(guid);
        continue;
      }
      AppRules entry{**app, {}};
      EffectiveRuleSet rules(entry.rules);
      WT_TRY(sourced, deployed->into(tx, entry.app));
      for (SourcedRule& s : *sourced) {
        s.rule.policies = {std::move(s.policy_name)};
        rules.add(std::move(s.rule));
      }
      out.apps.push_back(std::move(entry));
    }
    return out;
  });
}

}  // namespace wiretag
