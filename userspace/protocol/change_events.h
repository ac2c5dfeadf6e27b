// The change events of the policy server's change log, as the watch carries them to the
// agents (api/internal.yaml, Event): one enum of kinds, one struct per body, one codec. The
// server's domain builds the bodies with these structs, the store keeps them as encoded here,
// the server's in-memory index and the agent read them back with decode_body(): the JSON on
// the wire is defined here and nowhere else (as include/wiretag/abi.h is for the datapath).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/policy_compiler.h"
#include "protocol/policy_version.h"
#include "wiretag/result.h"

namespace wiretag::protocol {

enum class EventKind {
  AppCreated,      // app.created
  AppDeleted,      // app.deleted
  EdgeCreated,     // edge.created
  EdgeDeleted,     // edge.deleted
  PolicyCreated,   // policy.created
  PolicyUpdated,   // policy.updated
  PolicyDeleted,   // policy.deleted
  PdpUpdate,       // pdp.update
  PdpStateChange,  // pdp.state_change
};
inline constexpr EventKind kEventKinds[] = {
    EventKind::AppCreated,    EventKind::AppDeleted,    EventKind::EdgeCreated,
    EventKind::EdgeDeleted,   EventKind::PolicyCreated, EventKind::PolicyUpdated,
    EventKind::PolicyDeleted, EventKind::PdpUpdate,     EventKind::PdpStateChange};

std::string_view to_string(EventKind kind);
// nullopt for a kind this build does not know (a newer server's).
std::optional<EventKind> parse_event_kind(std::string_view kind);
bool is_edge(EventKind kind);    // edge.*
bool is_policy(EventKind kind);  // policy.*
bool is_pdp(EventKind kind);     // pdp.*

// app.created
struct AppCreated {
  std::string guid;
  std::string wire_bytes;
  friend bool operator==(const AppCreated&, const AppCreated&) = default;
};
// app.deleted: the apps that had default-whitelist edges from it lose them.
struct AppDeleted {
  std::string guid;
  std::string wire_bytes;
  int64_t edges_removed = 0;
  std::vector<std::string> destinations;
  friend bool operator==(const AppDeleted&, const AppDeleted&) = default;
};
// edge.created / edge.deleted: source_tag is the source app's tag (0 for "*"), so a cell
// can apply an added edge without asking.
struct EdgeChange {
  std::string source;
  uint32_t source_tag = 0;
  std::string destination;
  std::string policy = "default-whitelist";
  Protocol protocol = Protocol::Any;
  std::optional<PortRange> ports;
  friend bool operator==(const EdgeChange&, const EdgeChange&) = default;
};
// One rule of a named policy, in a policy.* body.
struct PolicyRuleBody {
  std::string source;
  std::string destination;
  Protocol protocol = Protocol::Any;
  std::optional<PortRange> ports;
  friend bool operator==(const PolicyRuleBody&, const PolicyRuleBody&) = default;
};
// policy.created / policy.deleted (the rules of its last version) / policy.updated (with
// the rules it replaced).
struct PolicyChange {
  std::string id;
  std::string name;
  int64_t version = 1;
  std::vector<PolicyRuleBody> rules;
  std::optional<std::vector<PolicyRuleBody>> previous_rules;  // policy.updated
  friend bool operator==(const PolicyChange&, const PolicyChange&) = default;
};
// pdp.update: the versions now deployed to one subgroup of a group.
// On the wire also ONAP's PDP_UPDATE fields: messageName, pdpGroup, and the change as
// policiesToBeDeployed / policiesToBeUndeployed (rows logged before those were written have
// neither: both empty).
struct PdpUpdate {
  std::string group;                       // also "pdpGroup" on the wire
  std::string subgroup;                    // "pdpSubgroup" on the wire
  std::vector<PolicyVersion> policies;     // every version deployed to it after the change
  std::vector<PolicyVersion> to_deploy;    // policiesToBeDeployed: in policies, not before
  std::vector<PolicyVersion> to_undeploy;  // policiesToBeUndeployed: before, not in policies
  friend bool operator==(const PdpUpdate&, const PdpUpdate&) = default;
};
// pdp.state_change: a group's state and the datapath mode it means; deleted: the group is
// gone (its cells are locked from then on). On the wire also ONAP's PDP_STATE_CHANGE fields
// messageName and pdpGroup.
struct PdpStateChange {
  std::string group;
  std::string state;
  std::string mode;
  bool deleted = false;
  friend bool operator==(const PdpStateChange&, const PdpStateChange&) = default;
};

using EventBody =
    std::variant<AppCreated, AppDeleted, EdgeChange, PolicyChange, PdpUpdate, PdpStateChange>;

// Whether `body` is the body of events of `kind`.
bool body_fits(EventKind kind, const EventBody& body);

// The body as its JSON object.
nlohmann::json encode_body(const EventBody& body);
// The body of an event of `kind`, every member checked: INVALID_EVENT_BODY (with the
// member) when it is not what `kind` carries.
Result<EventBody> decode_body(EventKind kind, const nlohmann::json& body);
// The same, from the change log's text; INVALID_EVENT_BODY when it is not JSON.
Result<EventBody> decode_body_text(EventKind kind, std::string_view text);

// The apps an event names as touched: the destination(s) of an edge or of a policy's rules
// (and of the rules it replaced), the destinations of a deleted app's edges.
std::vector<std::string> touched_destinations(const EventBody& body);

// One change as the domain logs it: what becomes a change-log row (the store adds the
// revision and the principal).
struct Change {
  EventKind kind;
  std::string account;  // "" for pdp.*
  std::string subject;  // the app guid (app.*, edge.*: the destination), policy id, group
  EventBody body;
};

// One event of a watch answer or of GET /internal/v1/changes.
struct WatchEvent {
  int64_t revision = 0;
  std::optional<int64_t> committed_at_ms;
  EventKind kind = EventKind::AppCreated;
  std::string account;
  std::string subject;
  std::optional<std::string> principal;
  EventBody body;
  friend bool operator==(const WatchEvent&, const WatchEvent&) = default;
};

nlohmann::json to_json(const WatchEvent& event);
// Errors: INVALID_EVENT (revision, kind, account or subject missing or mistyped),
// UNKNOWN_EVENT_KIND (a kind this build does not know: a newer server's), INVALID_EVENT_BODY.
Result<WatchEvent> parse_watch_event(const nlohmann::json& event);

}  // namespace wiretag::protocol
