// Compiles an endpoint's rules into the datapath's map entries (include/wiretag/abi.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wiretag/abi.h"
#include "wiretag/result.h"

namespace wiretag {

enum class Protocol : uint8_t { Any, Tcp, Udp, Icmp };

std::string_view to_string(Protocol p);
std::optional<Protocol> parse_protocol(std::string_view s);

struct PortRange {
  uint16_t start = 1;
  uint16_t end = 65535;
  friend bool operator==(const PortRange&, const PortRange&) = default;
};

// One allowed edge into an endpoint. source_tag 0 means "*": any tagged source.
struct Rule {
  uint32_t source_tag = 0;
  Protocol protocol = Protocol::Any;
  std::optional<PortRange> ports;  // absent = all ports
  friend bool operator==(const Rule&, const Rule&) = default;
};

// A port range as the aligned prefixes that cover it exactly: at most 2*16-2 of them.
struct PortPrefix {
  uint16_t port;  // masked to plen bits
  uint8_t plen;   // 0..16
  friend bool operator==(const PortPrefix&, const PortPrefix&) = default;
};
std::vector<PortPrefix> decompose_port_range(PortRange range);

struct CompiledPolicy {
  std::vector<wt_src_key> src_keys;
  std::vector<wt_src_policy> src_values;
  std::vector<wt_port_key> port_keys;
};

class PolicyCompiler {
 public:
  // Rejects invalid rules (ports on icmp, start > end, port 0) with INVALID_RULE.
  static Result<CompiledPolicy> compile(uint32_t ifindex, uint8_t generation,
                                        const std::vector<Rule>& rules);
};

}  // namespace wiretag
