// Which apps a credential may name (SPEC §4 Auth): admin any app; an account-scoped token only
// the apps of the accounts it holds, or "*" as a source. A foreign app is answered exactly as
// a missing one (404 APP_NOT_FOUND, the same message), so a token cannot learn that another
// account's app exists.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/account_policies.h"
#include "core/policy_graph.h"
#include "server/auth.h"
#include "wiretag/result.h"

namespace wiretag {

// The app, if it exists and the principal may see its account; APP_NOT_FOUND otherwise.
Result<AppRecord> visible_app(PolicyGraph& graph, const Principal& who, std::string_view guid);

// An edge's destination, then its source (unless "*"), are visible to the principal. For admin
// only the destination is looked up here (the graph reports a missing source).
Result<void> check_edge_apps(PolicyGraph& graph, const Principal& who, std::string_view source,
                             std::string_view destination);

// Which edge sources a principal may see, asked edge by edge (one lookup per source app): all
// of them for admin and for a cell (an agent reads every app's whitelist, seed 000), "*"
// always, else the apps of its accounts. An account token does not learn of another
// account's app through an edge an admin made into one of its own.
class SourceVisibility {
 public:
  SourceVisibility(PolicyGraph& graph, const Principal& who) : graph_(graph), who_(who) {}
  bool operator()(const std::string& source);

 private:
  PolicyGraph& graph_;
  const Principal& who_;
  std::map<std::string, bool> seen_;
};

// Every app the draft's rules name is visible to a non-admin principal (admin may name apps
// that do not exist yet). The draft's own checks (check_policy_draft) come first, so bad input
// is still a 400.
Result<void> check_rule_apps(PolicyGraph& graph, const Principal& who, const PolicyDraft& draft);

}  // namespace wiretag
