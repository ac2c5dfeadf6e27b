#include "core/decision_point.h"

#include <netinet/in.h>

#include <algorithm>
#include <set>

#include "core/pap.h"

namespace wiretag {
namespace {

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string version_list(const std::vector<PolicyIdent>& versions) {
  std::string out;
  for (const PolicyIdent& p : versions) {
    if (!out.empty()) out += ", ";
    out += p.name + " " + p.version;
  }
  return out.empty() ? "none" : out;
}

// The enforced verdict's reason, in words.
std::string rules_reason(const Decision& d, const PacketVerdict& v, const std::string& packet) {
  const std::string into = " into " + in_quotes(d.destination->guid);
  switch (v.reason) {
    case WT_REASON_ALLOW_UNTAGGED:
      return "untagged " + packet + " (no source app: host or router traffic)" + into +
             " is allowed: the endpoint's default for untagged packets";
    case WT_REASON_ALLOW_RULE:
    case WT_REASON_ALLOW_WILDCARD: {
      std::string held;
      for (const MatchedVersion& m : d.policies) {
        if (!held.empty()) held += ", ";
        held += m.name + (m.name == m.policy.name ? "" : " (" + m.policy.name + ")") + " " +
                m.policy.version;
      }
      return packet + " from " + in_quotes(d.source->guid) + into + " is allowed by a rule for " +
             (v.reason == WT_REASON_ALLOW_RULE ? "source " + in_quotes(d.source->guid)
                                               : std::string("any source (*)")) +
             " in " + held;
    }
    default:
      return "no rule of the counted policy versions (" + version_list(d.counted) + ") allows " +
             packet + " from " + in_quotes(d.source->guid) + into;
  }
}

std::vector<MatchedVersion> matched_versions(const std::vector<SourcedRule>& sourced,
                                             const std::vector<size_t>& matched,
                                             const std::string& account) {
  std::vector<MatchedVersion> out;
  for (size_t i : matched) {
    const SourcedRule& s = sourced[i];
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const MatchedVersion& m) { return m.policy == s.policy; });
    if (it == out.end()) {
      out.push_back({s.policy, s.policy_name, account, {}, s.type});
      it = out.end() - 1;
    }
    it->rules.push_back(s.rule);
  }
  return out;
}

}  // namespace

std::string describe_packet(uint8_t ip_proto, uint16_t port) {
  switch (ip_proto) {
    case IPPROTO_TCP:
      return "tcp/" + std::to_string(port);
    case IPPROTO_UDP:
      return "udp/" + std::to_string(port);
    case IPPROTO_ICMP:
      return "icmp";
    case IPPROTO_ICMPV6:
      return "icmpv6";
    default:
      return "ip proto " + std::to_string(ip_proto);
  }
}

Result<Decision> DecisionPoint::decide(const ConnectQuery& q,
                                       const std::function<bool(std::string_view)>& may_see) {
  std::optional<Cell> cell;
  if (q.cell) {
    cell = cells_.find(*q.cell);
    if (!cell)
      return Error{"CELL_NOT_FOUND", "cell " + in_quotes(*q.cell) +
                                         " has not reported to this server (see GET "
                                         "/policy/pap/v1/pdps)"};
  }
  return store_.read<Decision>([&](StoreTx& tx) -> Result<Decision> {
    Decision d;
    auto visible = [&](std::string_view guid) -> Result<std::optional<AppRecord>> {
      WT_TRY(app, tx.find_app(guid));
      if (!*app || !may_see((*app)->account)) return std::optional<AppRecord>();
      return *app;
    };
    WT_TRY(destination, visible(q.destination));
    if (!*destination) {
      d.reason = "destination app " + in_quotes(q.destination) + " is not registered";
      return d;
    }
    d.destination = **destination;
    if (q.source) {
      WT_TRY(source, visible(*q.source));
      if (!*source) {
        d.reason =
            "source app " + in_quotes(*q.source) + " is not registered: no packet carries its tag";
        return d;
      }
      d.source = **source;
    }

    // Which versions count, and the mode.
    WT_TRY(deployments, load_deployments(tx));
    std::string state = "ACTIVE";
    if (cell) {
      d.group = cell->report.pdp_group;
      d.subgroup = cell->report.pdp_subgroup;
      WT_TRY(group, tx.find_pdp_group(*d.group));
      if (!*group || !find_subgroup(**group, *d.subgroup))
        return Error{"CELL_NOT_ASSIGNED",
                     "cell " + in_quotes(*q.cell) + " reports group " + in_quotes(*d.group) +
                         " subgroup " + in_quotes(*d.subgroup) +
                         ", which the PAP does not know: the cell keeps what it enforced "
                         "before and the server cannot answer for it"};
      state = (*group)->state;
      d.state = state;
      d.counted = policies_of(*deployments, *d.group, *d.subgroup);
    } else {
      std::set<PolicyIdent> all;
      for (const auto& [key, version] : *deployments) all.insert({std::get<2>(key), version});
      d.counted.assign(all.begin(), all.end());
    }
    d.mode = std::string(datapath_mode(state));
    const std::string where =
        cell ? "cell " + in_quotes(*q.cell) + " (group " + in_quotes(*d.group) + ", " + state + ")"
             : std::string("no cell given: every version deployed to any group counts, enforced");

    if (d.mode == "bypass") {
      d.permit = true;
      d.datapath_reason = WT_REASON_ALLOW_BYPASS;
      d.reason = where + ": a PASSIVE group's cells pass everything (bypass); no rule is read";
      return d;
    }

    WT_TRY(loaded, DeployedRules::load(tx, d.counted));
    WT_TRY(sourced, loaded->into(tx, *d.destination));
    std::vector<Rule> rules;
    rules.reserve(sourced->size());
    for (const SourcedRule& s : *sourced)
      rules.push_back(Rule{s.rule.source_tag, s.rule.protocol, s.rule.ports});
    const DecisionPacket packet{d.source ? d.source->tag : 0u, q.ip_proto, q.port};
    // Enforced first; the mode is applied below, so TEST can tell the would-be verdict.
    WT_TRY(verdict, evaluate_packet(rules, packet, DecisionEndpoint{}));
    d.policies = matched_versions(*sourced, verdict->matched, d.destination->account);
    d.datapath_reason = verdict->reason;
    const bool enforced_permit = verdict->verdict == WT_VERDICT_PASS;
    const std::string why = rules_reason(d, *verdict, describe_packet(q.ip_proto, q.port));
    if (d.mode == "audit") {
      d.permit = true;
      d.would_permit = enforced_permit;
      d.reason = where + ": a TEST group's cells audit (pass and report would-drops); enforced " +
                 "it would be " + (enforced_permit ? "Permit" : "Deny") + ": " + why;
      return d;
    }
    d.permit = enforced_permit;
    d.reason =
        why + " (" + where +
        (state == "SAFE" ? ": SAFE enforces the versions deployed before it was SAFE)" : ")");
    return d;
  });
}

}  // namespace wiretag
