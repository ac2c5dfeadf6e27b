#include "core/policy_compiler.h"

#include <netinet/in.h>

#include <algorithm>
#include <tuple>
#include <unordered_map>

namespace wiretag {

std::string_view to_string(Protocol p) {
  switch (p) {
    case Protocol::Any:
      return "any";
    case Protocol::Tcp:
      return "tcp";
    case Protocol::Udp:
      return "udp";
    case Protocol::Icmp:
      return "icmp";
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
  struct PortEntry {
    uint32_t tag;
    uint8_t proto;
    uint16_t port;
    uint8_t plen;
    auto tie() const { return std::tie(tag, proto, port, plen); }
  };
  std::unordered_map<uint32_t, wt_src_policy> sources;
  std::vector<PortEntry> ports;
  ports.reserve(rules.size());

  for (const Rule& r : rules) {
    if (r.ports && (r.ports->start == 0 || r.ports->start > r.ports->end))
      return Error{"INVALID_RULE", "port range must satisfy 1 <= start <= end <= 65535"};
    if (r.ports && r.protocol == Protocol::Icmp)
      return Error{"INVALID_RULE", "icmp rules take no ports"};

    // Exact ports, the common case, need no src_policy entry: enforce looks them up directly.
    if (r.ports && r.ports->start == r.ports->end && r.protocol != Protocol::Icmp) {
      if (r.protocol != Protocol::Udp)
        ports.push_back({r.source_tag, IPPROTO_TCP, r.ports->start, 16});
      if (r.protocol != Protocol::Tcp)
        ports.push_back({r.source_tag, IPPROTO_UDP, r.ports->start, 16});
      continue;
    }
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
    for (auto [proto, slot] :
         {std::pair{IPPROTO_TCP, WT_PROTO_SLOT_TCP}, std::pair{IPPROTO_UDP, WT_PROTO_SLOT_UDP}}) {
      if (r.protocol != Protocol::Any && (r.protocol == Protocol::Tcp) != (proto == IPPROTO_TCP))
        continue;
      if (all_ports) {
        sp.port_plens[slot] |= 1u;
        continue;
      }
      for (const PortPrefix& pp : decompose_port_range(*r.ports)) {
        sp.port_plens[slot] |= 1u << pp.plen;
        ports.push_back({r.source_tag, static_cast<uint8_t>(proto), pp.port, pp.plen});
      }
    }
  }

  // A source allowed every port (of a protocol) needs no prefixes: enforce stops before them.
  auto covered = [&](const PortEntry& e) {
    auto it = sources.find(e.tag);
    if (it == sources.end()) return false;
    const wt_src_policy& sp = it->second;
    return sp.any_proto || (sp.port_plens[e.proto == IPPROTO_TCP ? 0 : 1] & 1u);
  };
  std::sort(ports.begin(), ports.end(),
            [](const PortEntry& a, const PortEntry& b) { return a.tie() < b.tie(); });
  ports.erase(
      std::unique(ports.begin(), ports.end(),
                  [](const PortEntry& a, const PortEntry& b) { return a.tie() == b.tie(); }),
      ports.end());

  CompiledPolicy out;
  out.port_keys.reserve(ports.size());
  for (const PortEntry& e : ports) {
    if (covered(e)) continue;
    wt_port_key k{};
    k.ifindex = ifindex;
    k.src_tag = e.tag;
    k.port = e.port;
    k.proto = e.proto;
    k.plen_gen = static_cast<uint8_t>(e.plen << 1 | generation);
    out.port_keys.push_back(k);
  }

  std::vector<std::pair<uint32_t, wt_src_policy>> ordered(sources.begin(), sources.end());
  std::sort(ordered.begin(), ordered.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [tag, sp] : ordered) {
    for (int slot = 0; slot < 2; ++slot)
      if (sp.any_proto || (sp.port_plens[slot] & 1u)) sp.port_plens[slot] &= 1u;
    if (sp.any_proto) sp.port_plens[0] = sp.port_plens[1] = 0;
    // Exact ports alone are found by enforce's exact lookup: the entry would be dead weight.
    const uint32_t exact_only = 1u << WT_PORT_PLEN_MAX;
    if (!sp.any_proto && !sp.icmp && (sp.port_plens[0] & ~exact_only) == 0 &&
        (sp.port_plens[1] & ~exact_only) == 0)
      continue;
    wt_src_key k{};
    k.ifindex = ifindex;
    k.src_tag = tag;
    k.generation = generation;
    out.src_keys.push_back(k);
    out.src_values.push_back(sp);
  }
  return out;
}

}  // namespace wiretag
