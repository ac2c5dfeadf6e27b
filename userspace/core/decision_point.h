// The Decision API's domain (SPEC §4.5, seed 002): may this packet open a connection from
// one app to another? Answered from the policy versions the cells install (DeployedRules) with
// the enforce program's semantics (evaluate_packet), as the destination's cell would: for a
// given cell, the versions deployed to its subgroup and its group's mode; without a cell, the
// union of the versions deployed to any subgroup of any group, enforced. docs/server.md,
// "Decision API".
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/cell_registry.h"
#include "core/decision.h"
#include "core/deployed_rules.h"
#include "core/ports/store.h"
#include "wiretag/result.h"

namespace wiretag {

// A first packet from source to destination (action "connect").
struct ConnectQuery {
  std::optional<std::string> source;  // an app guid; nullopt = untagged (host, router)
  std::string destination;            // an app guid
  uint8_t ip_proto = 6;               // IPPROTO_*
  uint16_t port = 0;                  // TCP/UDP destination port
  std::optional<std::string> cell;    // decide as this cell does
};

// A deployed version holding rules that admit the packet, and those rules.
struct MatchedVersion {
  PolicyIdent policy;   // PAP name (default-whitelist or the policy id) and version
  std::string name;     // the policy's name
  std::string account;  // the destination's account (whose rules these are)
  std::vector<EffectiveRule> rules;
  PolicyTypeIdent type;  // its TOSCA type (a type derived from the preloaded one, say)
};

struct Decision {
  bool permit = false;
  std::string reason;
  // The enforce program's reason (enum wt_reason); none when an app is not registered.
  std::optional<uint32_t> datapath_reason;
  std::string mode = "enforce";      // enforce | audit | bypass
  std::optional<bool> would_permit;  // audit (TEST): the verdict under enforcement
  std::vector<MatchedVersion> policies;
  std::vector<PolicyIdent> counted;  // the versions whose rules were read
  std::optional<AppRecord> source;
  std::optional<AppRecord> destination;
  std::optional<std::string> group, subgroup, state;  // of the cell, when one was given
};

class DecisionPoint {
 public:
  DecisionPoint(Store& store, const CellRegistry& cells) : store_(store), cells_(cells) {}

  // may_see(account): whether the caller may see that account's apps; an app it may not see
  // is answered exactly as a missing one (Deny). CELL_NOT_FOUND for a cell that never
  // reported; CELL_NOT_ASSIGNED when the cell's group or subgroup does not exist (the cell
  // then keeps what it enforced before, which the server cannot answer for).
  Result<Decision> decide(const ConnectQuery& query,
                          const std::function<bool(std::string_view account)>& may_see);

 private:
  Store& store_;
  const CellRegistry& cells_;
};

// "tcp/5432", "udp/53", "icmp", "ip proto 132": how a reason names the packet.
std::string describe_packet(uint8_t ip_proto, uint16_t port);

}  // namespace wiretag
