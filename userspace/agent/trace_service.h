// The agent's side of `wiretag trace`: finds the destination among this cell's devices,
// resolves the source's tag, and runs the cell's real programs on a synthesized packet
// against its live maps (datapath/trace.h). Served on the Plugin API as POST /v1/trace, and
// called by the server's request channel to the cell.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "agent/cell.h"
#include "datapath/datapath.h"
#include "wiretag/result.h"

namespace wiretag::agent {

class TraceService {
 public:
  TraceService(Cell& cell, const datapath::Datapath& datapath, std::string cell_name)
      : cell_(cell), dp_(datapath), cell_name_(std::move(cell_name)) {}

  // request: {"destination": APP_GUID | "destination_device": {namespace, interface_name},
  //           "source": APP_GUID | "*" | null, "source_tag": "00ab"?, "protocol": "tcp|udp|icmp",
  //           "port": N?, "ipv6": bool?, "reply": bool?}
  // → {"cell", "verdict", "reason", "rule", "mode", "endpoint", "source", "packet", "stamp"?}
  // (docs/agent.md "Trace"). Errors: ENDPOINT_NOT_FOUND (the destination is not on this
  // cell), SOURCE_TAG_UNKNOWN (give source_tag), UNKNOWN_FIELD, MISSING_FIELD,
  // INVALID_FIELD_TYPE, INVALID_FIELD_VALUE, INVALID_FIELD_COMBINATION, INVALID_WIRE_BYTES.
  Result<nlohmann::json> trace(const nlohmann::json& request) const;

 private:
  Cell& cell_;
  const datapath::Datapath& dp_;
  std::string cell_name_;
};

}  // namespace wiretag::agent
