#include "core/policy_compiler.h"

#include <netinet/in.h>

#include <map>
#include <set>
#include <tuple>

namespace wiretag {

std::string_view to_string(Protocol p) {
  switch (p) {
    case Protocol::Any: return "any";
    case Protocol::Tcp: return "tcp";
    case Protocol::Udp: return "udp";
    case Protocol::Icmp: return "icmp";
  }
  return "any";
}

std::optional<Protocol> parse_protocol(std::string_view s) {
  if (s == "any" || s == "all") return Protocol::Any;
  if (s == "tcp") return Protocol::Tcp;
  if (s == "udp") return Protocol::Udp;
  if (s == "icmp") return Protocol::Icmp;
  return std::nullopt;
}

std::vector<PortPrefix> decompose_port_range(PortRange range) {
  std::vector<PortPrefix> out;
  uint32_t lo = range.start, hi = range.end;
  while (lo <= hi) {
    // The largest aligned block starting at lo that stays within hi.
    uint32_t size = lo == 0 ? 0x10000 : (lo & (~lo + 1));
    while (lo + size - 1 > hi) size >>= 1;
    uint8_t plen = 16;
    for (uint32_t s = size; s > 1; s >>= 1) --plen;
    out.push_back({static_cast<uint16_t>(lo), plen});
    lo += size;
  }
  return out;
}

Result<CompiledPolicy> PolicyCompiler::compile(uint32_t ifindex, uint8_t generation,
                                               const std::vector<Rule>& rules) {
  std::map<uint32_t, wt_src_policy> sources;
  std::set<std::tuple<uint32_t, uint8_t, uint16_t, uint8_t>> ports;  // src, proto, port, plen

  for (const Rule& r : rules) {
    if (r.ports && (r.ports->start == 0 || r.ports->start > r.ports->end))
      return Error{"INVALID_RULE", "port range must satisfy 1 <= start <= end <= 65535"};
    if (r.ports && r.protocol == Protocol::Icmp)
      return Error{"INVALID_RULE", "icmp rules take no ports"};

    wt_src_policy& sp = sources[r.source_tag];
    if (r.protocol == Protocol::Icmp) {
      sp.icmp = 1;
      continue;
    }
    bool all_ports = !r.ports || (r.ports->start == 1 && r.ports->end == 65535);
    if (r.protocol == Protocol::Any && all_ports) {
      sp.any_proto = 1;
      continue;
    }
    // "any" with ports means the port-carrying protocols.
    std::vector<std::pair<uint8_t, int>> protos;
    if (r.protocol == Protocol::Tcp || r.protocol == Protocol::Any)
      protos.push_back({IPPROTO_TCP, WT_PROTO_SLOT_TCP});
    if (r.protocol == Protocol::Udp || r.protocol == Protocol::Any)
      protos.push_back({IPPROTO_UDP, WT_PROTO_SLOT_UDP});
    for (auto [proto, slot] : protos) {
      if (all_ports) {
        sp.port_plens[slot] |= 1u;
        continue;
      }
      for (const PortPrefix& pp : decompose_port_range(*r.ports)) {
        sp.port_plens[slot] |= 1u << pp.plen;
        ports.insert({r.source_tag, proto, pp.port, pp.plen});
      }
    }
  }

  CompiledPolicy out;
  out.src_keys.reserve(sources.size());
  out.src_values.reserve(sources.size());
  for (const auto& [tag, sp] : sources) {
    wt_src_key k{};
    k.ifindex = ifindex;
    k.src_tag = tag;
    k.generation = generation;
    out.src_keys.push_back(k);
    out.src_values.push_back(sp);
  }
  out.port_keys.reserve(ports.size());
  for (const auto& [tag, proto, port, plen] : ports) {
    // Covered by an all-ports entry of the same source: the prefix would be dead weight.
    const wt_src_policy& sp = sources[tag];
    if (sp.any_proto || (sp.port_plens[proto == IPPROTO_TCP ? 0 : 1] & 1u)) continue;
    wt_port_key k{};
    k.ifindex = ifindex;
    k.src_tag = tag;
    k.port = port;
    k.proto = proto;
    k.plen_gen = static_cast<uint8_t>(plen << 1 | generation);
    out.port_keys.push_back(k);
  }
  // Clear plen bits that only dead prefixes set, so enforce does no useless lookups.
  for (size_t i = 0; i < out.src_keys.size(); ++i) {
    wt_src_policy& sp = out.src_values[i];
    for (int slot = 0; slot < 2; ++slot)
      if (sp.any_proto || (sp.port_plens[slot] & 1u)) sp.port_plens[slot] &= 1u;
    if (sp.any_proto) sp.port_plens[0] = sp.port_plens[1] = 0;
  }
  return out;
}

}  // namespace wiretag
