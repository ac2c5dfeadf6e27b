// Drop and audit events as readers see them: what the agent learns of a wt_event (names of
// apps, device, protocol, reason; for drop_policy an explanation), the lines of an event
// stream (GET /v1/events on the agent and the server, api/events.yaml) and the filters a
// reader asks for. No Beast, no libbpf: the agent names, the server relays, the CLI prints.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "wiretag/result.h"

namespace wiretag::events {

// One side of a packet. The cell's endpoint side has a device; either side may lack names.
struct Peer {
  std::string address;  // "198.18.7.1", "2001:2::1"; "" when the packet had none
  uint16_t port = 0;    // 0 for protocols without ports
  std::string tag;      // wire bytes in hex ("0a01"); "" untagged
  std::string app;      // guid; "" when the cell cannot tell
  std::string account;
  std::string device_namespace;  // the endpoint side only
  std::string device_interface;
};

struct DropEvent {
  int64_t time_ns = 0;  // unix time
  std::string cell;
  std::string direction;  // "enforce" (into the container) | "stamp" (out of it) | "gate" (the underlay)
  std::string reason;     // core/reasons.h: "drop_policy", …
  std::string verdict;    // "drop" | "pass" (an audited would-drop)
  std::string mode;       // "enforce" | "audit" | "bypass"
  std::string protocol;   // "tcp" | "udp" | "icmp" | "icmpv6" | the IP protocol number; "" none
  uint32_t length = 0;    // bytes
  Peer source;
  Peer destination;
  std::string explanation;  // drop_policy: which rules are in force and why none matched
  // Gate events: the outer source of the VXLAN packet, the VTEP it came from; "" otherwise.
  std::string underlay_source;

  // The app and account of the cell's endpoint: the destination's into a container, the
  // source's out of it.
  const Peer& endpoint() const { return direction == "stamp" ? source : destination; }
};

// Stream lines: {"type":"drop"|"audit",…event…}, {"type":"lost","count","cause"} and
// {"type":"heartbeat"}, each with "time".
nlohmann::json to_json(const DropEvent& e);
// An event line as an agent sent it; INVALID_EVENT when it is not one.
Result<DropEvent> event_from_json(const nlohmann::json& j);
// Why events were lost: the datapath's rate limit (or a full ring buffer), a reader that
// did not keep up, the agent's buffer towards the server.
nlohmann::json lost_json(uint64_t count, std::string_view cause, int64_t time_ns,
                         std::string_view cell = {});
nlohmann::json heartbeat_json(int64_t time_ns);
int64_t unix_now_ns();
// RFC 3339 UTC with microseconds: "2025-01-31T12:00:00.123456Z".
std::string format_time(int64_t unix_ns);
// IP protocol number → the name events use.
std::string protocol_name(uint8_t family, uint8_t proto);

// What a reader asks for: each set empty = any. A comma in a query value separates
// alternatives (app=web,db).
struct EventFilter {
  std::set<std::string> apps;      // the source's or the destination's guid
  std::set<std::string> reasons;   // reason names
  std::set<std::string> verdicts;  // "drop", "pass"
  std::set<std::string> cells;     // the server's streams
  // An account-scoped reader (the server): only events whose endpoint app is in one of
  // these; the other side's app and account are left out when they are of another account.
  std::optional<std::set<std::string>> accounts;

  bool matches(const DropEvent& e) const;
  bool matches_cell(std::string_view cell) const;
  // Whether this reader sees the event with the other side's names left out (accounts).
  bool redacts(const DropEvent& e) const;
};

// The filter of GET /v1/events: app, reason, verdict (and cell when `with_cell`). Errors:
// INVALID_QUERY (a parameter it does not know), INVALID_APP_GUID, INVALID_REASON,
// INVALID_VERDICT, INVALID_CELL_NAME.
Result<EventFilter> parse_event_filter(const std::map<std::string, std::string>& query,
                                       bool with_cell);

}  // namespace wiretag::events
