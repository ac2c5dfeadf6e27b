// The PAP's messages to a cell (SPEC §4.4), ONAP's fields carried over HTTP: the answer to a
// PDP_STATUS is the cell's PDP_UPDATE, its PDP_STATE_CHANGE inside, and wiretag's assignment
// fields beside them (what the agent reads; docs/server.md "PDP messages").
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "core/cell_registry.h"
#include "core/pap.h"

namespace wiretag {

// What a cell must be: its group's state and mode and the policy versions to enforce
// (wiretag's fields; also the "cell" of an endpoints query that names one).
nlohmann::json assignment_json(const std::string& cell, const CellAssignment& assigned);

// The answer to `report`: assignment_json() plus ONAP's PDP_UPDATE fields (messageName,
// requestId, timestampMs, source, name, pdpGroup, pdpSubgroup, pdpHeartbeatIntervalMs, and
// policiesToBeDeployed / policiesToBeUndeployed: what is deployed and the cell does not
// report holding, and the reverse) and "pdpStateChange", ONAP's PDP_STATE_CHANGE.
// `types`: the TOSCA type of each assigned version (Pap::policy_types); the preloaded type
// for one it does not name.
nlohmann::json pdp_status_reply(const CellReport& report, const CellAssignment& assigned,
                                const std::map<PolicyIdent, PolicyTypeIdent>& types,
                                int64_t now_ms);

}  // namespace wiretag
