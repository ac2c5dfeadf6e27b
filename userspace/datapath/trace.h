// A trace: what the cell's real programs decide for one synthesized packet to an endpoint,
// run through BPF_PROG_TEST_RUN against the endpoint's live policy maps — not a model. The
// programs run in a second instance of their own (bpf/wiretag_trace.bpf.c) whose policy maps
// are the live ones, reused by fd and only read, and whose state maps (flows, caches,
// counters, events, rate limit) are private scratch maps made for the one trace, so a trace
// changes nothing live traffic relies on (docs/datapath.md, "Trace").
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/policy_compiler.h"
#include "wiretag/abi.h"
#include "wiretag/result.h"

namespace wiretag::datapath {

class Datapath;

// The live maps a trace reads (and never writes): the owner's, or those pinned in a pin dir.
class LiveMaps {
 public:
  // The owning process's maps (the agent); valid while `dp` lives.
  static LiveMaps of(const Datapath& dp);
  // The maps pinned in pin_dir, opened by path: nothing is created or loaded
  // (wiretag trace --local). DATAPATH_NOT_FOUND when nothing is pinned there.
  static Result<LiveMaps> pinned(const std::string& pin_dir, unsigned tag_length);
  LiveMaps(LiveMaps&& o) noexcept;
  LiveMaps& operator=(LiveMaps&&) = delete;
  LiveMaps(const LiveMaps&) = delete;
  ~LiveMaps();

  int endpoints = -1;
  int endpoint_index = -1;
  int src_policy = -1;
  int port_policy = -1;
  int rule_epochs = -1;
  int devices = -1;  // not read by the programs: device names for --local
  unsigned tag_length = 2;
  // The live programs' settings, which the trace programs run with (but their own flow
  // cache's shift): the owner's, or from the pinned maps and tag_length.
  wt_config config{};

 private:
  LiveMaps() = default;
  bool owned_ = false;
};

struct TraceRequest {
  uint32_t ifindex = 0;               // the destination endpoint's device
  std::string netns;                  // the namespace that ifindex is in ("" = the caller's)
  uint32_t source_tag = 0;            // the tag the packet arrives with (skb->mark); 0 = untagged
  Protocol protocol = Protocol::Tcp;  // Tcp, Udp or Icmp
  uint16_t port = 0;                  // TCP/UDP: the destination port
  bool ipv6 = false;
  // The answer to a flow the endpoint opened: its stamp runs first on the packet it sent
  // (to the source, on `port`), then enforce on the source's reply.
  bool reply = false;
};

// The entry of the live policy maps that admitted the packet.
struct MatchedRule {
  uint32_t source_tag = 0;            // 0 = "*"
  Protocol protocol = Protocol::Any;  // Any: a rule for every protocol and port
  // TCP/UDP: the matched port prefix as a range; unset = every port of the protocol.
  std::optional<PortRange> ports;
  uint8_t prefix_length = 0;  // of `ports`: 16 = one port
};

// What one program run decided (from its trace record).
struct TraceStep {
  uint32_t reason = WT_REASON_MAX;
  uint8_t verdict = WT_VERDICT_PASS;
  uint8_t mode = WT_MODE_ENFORCE;
  int action = -1;  // the TC action
};

struct TracePacket {
  std::string source, destination;  // addresses
  uint16_t source_port = 0, destination_port = 0;
};

struct TraceResult {
  std::string verdict;  // "pass", "drop" or "would-drop" (audit mode)
  TraceStep enforce;
  std::optional<MatchedRule> rule;
  std::optional<TraceStep> stamp;  // reply: the endpoint's stamp of the packet it sent
  uint32_t ifindex = 0;
  wt_endpoint config{};  // the endpoint's live config (its tag, mode, slot)
  TracePacket packet;    // what enforce saw
  TracePacket forward;   // reply: what stamp saw
  // The trace's own state after the run: its enforce counter row (reason, verdict), as the
  // live counters would have counted it. Tests check it against the record.
  uint32_t counted_reason = WT_REASON_MAX;
  uint8_t counted_verdict = 0xff;
};

// Runs the trace: loads the trace programs over `maps` (a verifier pass: tens of ms), builds
// the packet(s), runs them in the endpoint's namespace. Errors: INVALID_TRACE (a bad request),
// ENDPOINT_NOT_FOUND, BPF_LOAD_FAILED, TRACE_FAILED.
Result<TraceResult> trace(const LiveMaps& maps, const TraceRequest& request);

// The settings (abi.h wt_config) the trace programs run with over `maps`, read back from them
// once loaded (tests hold them to the live programs').
Result<wt_config> trace_program_config(const LiveMaps& maps);

// The result as JSON: {"verdict","reason","rule","mode","endpoint":{ifindex, wire_bytes},
// "packet", "stamp"?}; tags as 2*tag_length hex digits.
nlohmann::json trace_json(const TraceResult& result, unsigned tag_length);
std::string wire_bytes(uint32_t tag, unsigned tag_length);

}  // namespace wiretag::datapath
