#include "core/deployed_rules.h"

#include "core/pap.h"
#include "core/tosca_policies.h"

namespace wiretag {
namespace {

PolicyTypeIdent preloaded_type() {
  return {std::string(kWhitelistPolicyType), std::string(kWhitelistPolicyTypeVersion)};
}

}  // namespace

const PdpSubgroupRecord* find_subgroup(const PdpGroupRecord& g, std::string_view pdp_type) {
  for (const PdpSubgroupRecord& s : g.subgroups)
    if (s.pdp_type == pdp_type) return &s;
  return nullptr;
}

Result<DeploymentMap> load_deployments(PapPort& tx) {
  WT_TRY(all, tx.list_deployments());
  DeploymentMap out;
  for (const DeploymentRecord& d : *all) out[{d.group, d.pdp_type, d.policy}] = d.version;
  return out;
}

std::vector<PolicyIdent> policies_of(const DeploymentMap& m, std::string_view group,
                                     std::string_view pdp_type) {
  std::vector<PolicyIdent> out;
  for (const auto& [key, version] : m)
    if (std::get<0>(key) == group && std::get<1>(key) == pdp_type)
      out.push_back({std::get<2>(key), version});
  return out;
}

Result<DeployedRules> DeployedRules::load(PoliciesPort& tx,
                                          const std::vector<PolicyIdent>& versions) {
  DeployedRules out;
  for (const PolicyIdent& p : versions) {
    if (p.name == kDefaultWhitelist) {
      out.whitelist_ = true;
      continue;
    }
    auto n = Pap::parse_version(p.version);
    if (!n) continue;
    WT_TRY(rec, tx.policy_version(p.name, *n));
    if (!*rec) continue;
    WT_TRY(policy, policy_from_record(**rec));
    out.named_.emplace_back(p, std::move(*policy));
  }
  return out;
}

Result<std::map<PolicyIdent, PolicyTypeIdent>> policy_types(
    PoliciesPort& tx, const std::vector<PolicyIdent>& versions) {
  std::map<PolicyIdent, PolicyTypeIdent> out;
  for (const PolicyIdent& p : versions) {
    if (out.count(p)) continue;  // one read per version, however many cells list it
    PolicyTypeIdent type = preloaded_type();
    if (auto n = Pap::parse_version(p.version); n && p.name != kDefaultWhitelist) {
      WT_TRY(rec, tx.policy_version(p.name, *n));
      if (*rec) {
        WT_TRY(policy, policy_from_record(**rec));
        type = {type_of(*policy), type_version_of(*policy)};
      }
    }
    out.emplace(p, std::move(type));
  }
  return out;
}

Result<std::vector<SourcedRule>> DeployedRules::into(StoreTx& tx, const AppRecord& app) {
  auto tag_of = [&](const std::string& source) -> Result<uint32_t> {
    if (source == "*") return uint32_t{0};
    if (auto it = source_tags_.find(source); it != source_tags_.end()) return it->second;
    WT_TRY(found, tx.find_app(source));
    uint32_t tag = *found ? (*found)->tag : 0;
    source_tags_.emplace(source, tag);
    return tag;
  };
  std::vector<SourcedRule> out;
  if (whitelist_) {
    const PolicyIdent ident{std::string(kDefaultWhitelist), std::string(kDefaultWhitelistVersion)};
    WT_TRY(edges, tx.edges_to(app.guid));
    for (const InboundEdge& in : *edges) {
      if (in.edge.policy != kDefaultWhitelist) continue;
      if (in.edge.source != "*" && in.source_tag == 0) continue;
      out.push_back({EffectiveRule{in.edge.source, in.source_tag, in.edge.protocol, in.edge.ports},
                     ident, std::string(kDefaultWhitelist), preloaded_type()});
    }
  }
  for (const auto& [ident, p] : named_) {
    if (p.account != app.account) continue;  // the destination's owner decides
    for (const PolicyRule& r : p.rules) {
      if (r.destination != app.guid) continue;
      WT_TRY(tag, tag_of(r.source));
      if (r.source != "*" && *tag == 0) continue;
      out.push_back({EffectiveRule{r.source, *tag, r.protocol, r.ports}, ident, p.name,
                     PolicyTypeIdent{type_of(p), type_version_of(p)}});
    }
  }
  return out;
}

}  // namespace wiretag
