// The enforce program's verdict, computed in userspace: given an endpoint's rules exactly as
// the agent installs them (the std::vector<Rule> handed to PolicyCompiler::compile) and a
// packet entering the endpoint, what would bpf/lib/verdict.h answer? The Decision API
// (core/decision_point.h) answers with this; tests compare it with the real program run
// through BPF_PROG_TEST_RUN.
//
// How: the rules are compiled with PolicyCompiler (the one compiler the agent uses) and the
// resulting map entries are looked up in the order of wt_rules_lookup() (bpf/lib/policy.h):
// the exact port of the packet's tag, the tag's src_policy (any protocol, icmp, all ports,
// port prefixes), then the same two for source "*". The WT_EP_HAS_* flags the agent writes
// only skip lookups that cannot hit, so they do not change the answer and are not modelled.
//
// What the decision covers: a first packet (a new flow), not a reply to a flow the endpoint
// originated (enforce passes those from its flow table: the cell's state, not policy), not a
// later IP fragment, not ICMPv6 neighbour discovery (always passed), and well-formed packets
// only (malformed ones get a drop reason before any rule is read).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "core/policy_compiler.h"
#include "wiretag/abi.h"
#include "wiretag/result.h"

namespace wiretag {

// A packet entering an endpoint, as enforce sees it after parsing.
struct DecisionPacket {
  uint32_t source_tag = 0;  // skb->mark & tag_mask; 0 = untagged (host, router)
  uint8_t ip_proto = 6;     // IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6, or other
  uint16_t port = 0;        // TCP/UDP destination port (host order); ignored for others
};

// The endpoint's settings that take part in the verdict (struct wt_endpoint).
struct DecisionEndpoint {
  uint8_t mode = WT_MODE_ENFORCE;        // enum wt_mode
  uint8_t untagged = WT_UNTAGGED_ALLOW;  // enum wt_untagged: the agent's default is allow
};

struct PacketVerdict {
  // enum wt_reason, as enforce counts it: WT_REASON_ALLOW_RULE, _ALLOW_WILDCARD,
  // _ALLOW_UNTAGGED, _ALLOW_BYPASS, _DROP_POLICY or _DROP_UNTAGGED.
  uint32_t reason = WT_REASON_DROP_POLICY;
  // enum wt_verdict after the mode: a drop reason in audit mode (TEST) passes.
  uint8_t verdict = WT_VERDICT_DROP;
  // Indexes into the rules of every rule that admits the packet (for the explanation): a
  // rule of the packet's tag or of "*" whose protocol and ports cover it. Empty for
  // untagged and bypassed packets, whose verdict no rule decides.
  std::vector<size_t> matched;
};

// The verdict of the enforce program for `packet` on an endpoint with `rules` and
// `endpoint` settings. INVALID_RULE for rules the compiler refuses (as the agent would).
Result<PacketVerdict> evaluate_packet(const std::vector<Rule>& rules, const DecisionPacket& packet,
                                      const DecisionEndpoint& endpoint = {});

// Does this one rule admit the packet (a tagged one)? The rule-level reading of the compiled
// lookup, used to name the rules behind a verdict: protocol "any" with all ports admits every
// protocol; "any" with ports admits TCP and UDP on them; a port range {1, 65535} is all ports.
bool rule_admits(const Rule& rule, const DecisionPacket& packet);

// The reason's name as the agent's counters and `wiretag trace` print it ("allow_rule").
std::string_view decision_reason_name(uint32_t reason);

}  // namespace wiretag
