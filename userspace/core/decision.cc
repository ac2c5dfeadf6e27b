#include "core/decision.h"

#include <netinet/in.h>

#include <map>
#include <set>
#include <tuple>

#include "core/reasons.h"

namespace wiretag {
namespace {

// The compiled maps of one endpoint, as lookups (ifindex and generation are fixed).
struct CompiledMaps {
  std::map<uint32_t, wt_src_policy> sources;                         // src_policy by tag
  std::set<std::tuple<uint32_t, uint8_t, uint16_t, uint8_t>> ports;  // tag, proto, port, plen

  bool has_port(uint32_t tag, uint8_t proto, uint16_t port, uint8_t plen) const {
    return ports.count({tag, proto, port, plen}) > 0;
  }
};

constexpr uint32_t kIfindex = 1;
constexpr uint8_t kGeneration = 0;

bool has_ports(const DecisionPacket& p) {
  return p.ip_proto == IPPROTO_TCP || p.ip_proto == IPPROTO_UDP;
}

bool is_icmp(uint8_t proto) { return proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6; }

// wt_exact_port_allowed()
bool exact_port_allowed(const CompiledMaps& m, uint32_t tag, const DecisionPacket& p) {
  return m.has_port(tag, p.ip_proto, p.port, WT_PORT_PLEN_MAX);
}

// wt_source_allowed() with wt_port_allowed()
bool source_allowed(const CompiledMaps& m, uint32_t tag, const DecisionPacket& p) {
  auto it = m.sources.find(tag);
  if (it == m.sources.end()) return false;
  const wt_src_policy& sp = it->second;
  if (sp.any_proto) return true;
  uint32_t plens = 0;
  if (is_icmp(p.ip_proto)) return sp.icmp != 0;
  if (p.ip_proto == IPPROTO_TCP)
    plens = sp.port_plens[WT_PROTO_SLOT_TCP];
  else if (p.ip_proto == IPPROTO_UDP)
    plens = sp.port_plens[WT_PROTO_SLOT_UDP];
  else
    return false;
  if (plens & 1u) return true;
  plens &= ~(1u << WT_PORT_PLEN_MAX);  // the exact lookup looked already
  for (int plen = WT_PORT_PLEN_MAX; plen > 0; --plen) {
    if (!(plens & (1u << plen))) continue;
    const uint16_t masked = p.port & static_cast<uint16_t>(0xffff << (WT_PORT_PLEN_MAX - plen));
    if (m.has_port(tag, p.ip_proto, masked, static_cast<uint8_t>(plen))) return true;
  }
  return false;
}

// wt_rules_lookup()
uint32_t rules_lookup(const CompiledMaps& m, const DecisionPacket& p) {
  if (has_ports(p) && exact_port_allowed(m, p.source_tag, p)) return WT_REASON_ALLOW_RULE;
  if (source_allowed(m, p.source_tag, p)) return WT_REASON_ALLOW_RULE;
  if (has_ports(p) && exact_port_allowed(m, 0, p)) return WT_REASON_ALLOW_WILDCARD;
  if (source_allowed(m, 0, p)) return WT_REASON_ALLOW_WILDCARD;
  return WT_REASON_DROP_POLICY;
}

bool is_drop(uint32_t reason) { return reason >= WT_PASS_REASONS; }

}  // namespace

bool rule_admits(const Rule& rule, const DecisionPacket& p) {
  if (p.source_tag == 0) return false;  // untagged packets never reach the rules
  if (rule.source_tag != 0 && rule.source_tag != p.source_tag) return false;
  const bool all_ports = !rule.ports || (rule.ports->start == 1 && rule.ports->end == 65535);
  const bool in_range = all_ports || (p.port >= rule.ports->start && p.port <= rule.ports->end);
  switch (rule.protocol) {
    case Protocol::Any:
      if (all_ports) return true;
      return has_ports(p) && in_range;
    case Protocol::Tcp:
      return p.ip_proto == IPPROTO_TCP && in_range;
    case Protocol::Udp:
      return p.ip_proto == IPPROTO_UDP && in_range;
    case Protocol::Icmp:
      return is_icmp(p.ip_proto);
  }
  return false;
}

Result<PacketVerdict> evaluate_packet(const std::vector<Rule>& rules, const DecisionPacket& packet,
                                      const DecisionEndpoint& endpoint) {
  WT_TRY(compiled, PolicyCompiler::compile(kIfindex, kGeneration, rules));
  PacketVerdict out;
  // wt_enforce(): bypass before anything is parsed; then (a new flow, not a fragment)
  // untagged packets by the endpoint's setting; then the rules.
  if (endpoint.mode == WT_MODE_BYPASS) {
    out.reason = WT_REASON_ALLOW_BYPASS;
    out.verdict = WT_VERDICT_PASS;
    return out;
  }
  if (packet.source_tag == 0) {
    out.reason =
        endpoint.untagged == WT_UNTAGGED_ALLOW ? WT_REASON_ALLOW_UNTAGGED : WT_REASON_DROP_UNTAGGED;
  } else {
    CompiledMaps maps;
    for (size_t i = 0; i < compiled->src_keys.size(); ++i)
      maps.sources[compiled->src_keys[i].src_tag] = compiled->src_values[i];
    for (const wt_port_key& k : compiled->port_keys)
      maps.ports.insert({k.src_tag, k.proto, k.port, static_cast<uint8_t>(k.plen_gen >> 1)});
    out.reason = rules_lookup(maps, packet);
    for (size_t i = 0; i < rules.size(); ++i)
      if (rule_admits(rules[i], packet)) out.matched.push_back(i);
  }
  // wt_finish(): a drop reason drops unless the endpoint audits.
  out.verdict =
      is_drop(out.reason) && endpoint.mode != WT_MODE_AUDIT ? WT_VERDICT_DROP : WT_VERDICT_PASS;
  return out;
}

std::string_view decision_reason_name(uint32_t reason) {
  const char* name = reason_name(reason);
  return name ? name : "other";
}

}  // namespace wiretag
