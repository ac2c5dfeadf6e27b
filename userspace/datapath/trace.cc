#include "datapath/trace.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>

#include "datapath/datapath.h"
#include "datapath/kernel_hz.h"
#include "datapath/netns.h"
#include "datapath/packet_builder.h"
#include "datapath/program_config.h"
#include "wiretag_trace_bpf.skel.h"

namespace wiretag::datapath {
namespace {

// Addresses of the synthesized packets: the endpoint's anti-spoof address when it has one
// (its stamp checks it), else these; the source's never matters to enforce.
constexpr const char* kPeer4 = "198.18.255.1";
constexpr const char* kEndpoint4 = "198.18.255.2";
constexpr const char* kPeer6 = "2001:2:ffff::1";
constexpr const char* kEndpoint6 = "2001:2:ffff::2";
constexpr uint16_t kEphemeralPort = 40000;  // the client side of a connection
constexpr uint16_t kEchoId = 0x7774;

// The maps the trace programs read from the live datapath; every other map of the trace
// object is created for the one trace.
struct Reused {
  const char* name;
  int LiveMaps::*fd;
};
constexpr Reused kReused[] = {
    {WT_MAP_ENDPOINTS, &LiveMaps::endpoints},
    {WT_MAP_ENDPOINT_INDEX, &LiveMaps::endpoint_index},
    {WT_MAP_SRC_POLICY, &LiveMaps::src_policy},
    {WT_MAP_PORT_POLICY, &LiveMaps::port_policy},
    {WT_MAP_RULE_EPOCHS, &LiveMaps::rule_epochs},
};

// Sizes of the scratch state: one endpoint (the trace programs use slot 0) and a few flows.
uint32_t scratch_entries(const std::string& name) {
  if (name == WT_MAP_FLOWS) return 64;
  if (name == WT_MAP_FRAGMENTS || name == WT_MAP_COUNTERS) return 16;
  if (name == WT_MAP_SLOT_COUNTERS) return uint32_t{WT_DIR_MAX} * WT_SLOT_COLUMNS;
  if (name == WT_MAP_REPLY_PORTS) return WT_REPLY_PORT_WORDS;
  if (name == WT_MAP_FLOW_CACHE) return WT_FLOW_CACHE_WAYS * WT_FLOW_CACHE_MIN_SETS;
  if (name == WT_MAP_FLOW_SPILL) return WT_FLOW_SPILL_WORDS;
  if (name == WT_MAP_VERDICT_CACHE) return WT_VERDICT_CACHE_ENTRIES;
  if (name == WT_MAP_EVENTS) return static_cast<uint32_t>(sysconf(_SC_PAGESIZE));
  if (name == WT_MAP_EVENT_RATELIMIT) return 1;
  return 0;  // keep the compiled-in size
}

struct SkelDeleter {
  void operator()(wiretag_trace_bpf* s) const { wiretag_trace_bpf__destroy(s); }
};
using Skel = std::unique_ptr<wiretag_trace_bpf, SkelDeleter>;

Result<Skel> open_programs(const LiveMaps& maps) {
  Skel skel(wiretag_trace_bpf__open());
  if (!skel) return Error::from_errno("BPF_OPEN_FAILED", "open the trace programs", errno);
  skel->rodata->wt_cfg = maps.config;
  // Its flow cache is its own scratch map, of the fewest sets (scratch_entries).
  skel->rodata->wt_cfg.flow_cache_shift = flow_cache_shift_of(WT_FLOW_CACHE_MIN_SETS);

  bpf_map* map;
  bpf_object__for_each_map(map, skel->obj) {
    if (bpf_map__is_internal(map)) continue;
    const std::string name = bpf_map__name(map);
    bool reused = false;
    for (const Reused& r : kReused) {
      if (name != r.name) continue;
      if (int rc = bpf_map__reuse_fd(map, maps.*(r.fd)); rc != 0)
        return Error::from_errno("TRACE_FAILED", "reuse the live " + name + " map", rc);
      reused = true;
    }
    if (reused) continue;
    if (name == WT_MAP_DEVICES) {
      bpf_map__set_autocreate(map, false);  // userspace's record only
    } else if (uint32_t n = scratch_entries(name)) {
      bpf_map__set_max_entries(map, n);
    }
  }
  if (int rc = wiretag_trace_bpf__load(skel.get()); rc != 0)
    return Error::from_errno("BPF_LOAD_FAILED", "load the trace programs", rc);
  return skel;
}

struct Run {
  int action = -1;
  uint32_t cb[5] = {};
};

Result<Run> test_run(int prog_fd, const std::vector<uint8_t>& frame, uint32_t mark,
                     uint32_t ifindex) {
  std::vector<uint8_t> out(frame.size() + 512);
  __sk_buff ctx{};
  ctx.mark = mark;
  ctx.ifindex = ifindex;
  __sk_buff ctx_out{};
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
              .data_size_in = static_cast<__u32>(frame.size()),
              .data_size_out = static_cast<__u32>(out.size()), .ctx_in = &ctx, .ctx_out = &ctx_out,
              .ctx_size_in = sizeof ctx, .ctx_size_out = sizeof ctx_out, .repeat = 1);
  if (bpf_prog_test_run_opts(prog_fd, &opts) != 0)
    return Error::from_errno("TRACE_FAILED",
                             "BPF_PROG_TEST_RUN on ifindex " + std::to_string(ifindex), errno);
  Run r;
  r.action = static_cast<int>(opts.retval);
  std::memcpy(r.cb, ctx_out.cb, sizeof r.cb);
  if (!(r.cb[WT_TRACE_CB_REASON] & WT_TRACE_RAN))
    return Error{"TRACE_FAILED", "the trace program left no record"};
  return r;
}

TraceStep step_of(const Run& run) {
  const uint32_t word = run.cb[WT_TRACE_CB_REASON];
  return TraceStep{word & 0xff, static_cast<uint8_t>(word >> 8), static_cast<uint8_t>(word >> 16),
                   run.action};
}

std::optional<MatchedRule> rule_of(const Run& run) {
  const uint32_t word = run.cb[WT_TRACE_CB_MATCH];
  const uint8_t match = word & 0xff, proto = (word >> 8) & 0xff, plen = (word >> 16) & 0xff;
  MatchedRule rule;
  rule.source_tag = run.cb[WT_TRACE_CB_SOURCE];
  rule.protocol = proto == IPPROTO_TCP   ? Protocol::Tcp
                  : proto == IPPROTO_UDP ? Protocol::Udp
                                         : Protocol::Icmp;
  switch (match) {
    case WT_TRACE_MATCH_PORT: {
      const auto port = static_cast<uint16_t>(run.cb[WT_TRACE_CB_PORT]);
      const auto span = static_cast<uint16_t>(plen >= WT_PORT_PLEN_MAX ? 0 : (0xffffu >> plen));
      rule.ports = PortRange{port, static_cast<uint16_t>(port | span)};
      rule.prefix_length = plen;
      return rule;
    }
    case WT_TRACE_MATCH_ANY:
      rule.protocol = Protocol::Any;
      return rule;
    case WT_TRACE_MATCH_ICMP:
      rule.protocol = Protocol::Icmp;
      return rule;
    case WT_TRACE_MATCH_ALL_PORTS:
      return rule;
    default:
      return std::nullopt;
  }
}

std::string address_text(bool ipv6, const void* addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(ipv6 ? AF_INET6 : AF_INET, addr, buf, sizeof buf);
  return buf;
}

// The endpoint's own address: the one its stamp admits, if it checks one.
std::string endpoint_address(const wt_endpoint& ep, bool ipv6) {
  if (!ipv6 && (ep.flags & WT_EP_ANTISPOOF_V4)) return address_text(false, &ep.ipv4);
  if (ipv6 && (ep.flags & WT_EP_ANTISPOOF_V6)) return address_text(true, ep.ipv6);
  return ipv6 ? kEndpoint6 : kEndpoint4;
}

// One packet from `from` to `to`; `answer`: the second packet of a flow (SYN-ACK, echo reply).
std::vector<uint8_t> frame(const TraceRequest& req, const TracePacket& pkt, bool answer) {
  PacketBuilder b = req.ipv6 ? PacketBuilder::ipv6(pkt.source, pkt.destination)
                             : PacketBuilder::ipv4(pkt.source, pkt.destination).dont_fragment();
  switch (req.protocol) {
    case Protocol::Tcp:
      b.tcp(pkt.source_port, pkt.destination_port, answer ? (kTcpSyn | kTcpAck) : kTcpSyn);
      break;
    case Protocol::Udp:
      b.udp(pkt.source_port, pkt.destination_port).payload(16);
      break;
    default:
      if (answer)
        b.icmp_echo_reply(kEchoId);
      else
        b.icmp_echo_request(kEchoId);
      break;
  }
  return b.build();
}

// The enforce row of the trace's own counters: slot 0, one packet.
void read_counted(int slot_counters_fd, TraceResult& result) {
  int ncpu = libbpf_num_possible_cpus();
  std::vector<wt_counter> values(ncpu > 0 ? ncpu : 1);
  for (uint32_t reason = 0; reason < WT_SLOT_REASONS; ++reason)
    for (uint8_t verdict : {uint8_t{WT_VERDICT_PASS}, uint8_t{WT_VERDICT_DROP}}) {
      if (reason < WT_PASS_REASONS && verdict != WT_VERDICT_PASS) continue;
      uint32_t index = wt_slot_counter_index(0, WT_DIR_ENFORCE, reason, verdict);
      if (bpf_map_lookup_elem(slot_counters_fd, &index, values.data()) != 0) continue;
      for (const wt_counter& c : values)
        if (c.packets) {
          result.counted_reason = reason;
          result.counted_verdict = verdict;
        }
    }
}

}  // namespace

LiveMaps LiveMaps::of(const Datapath& dp) {
  LiveMaps m;
  m.endpoints = dp.map_fd(WT_MAP_ENDPOINTS);
  m.endpoint_index = dp.map_fd(WT_MAP_ENDPOINT_INDEX);
  m.src_policy = dp.map_fd(WT_MAP_SRC_POLICY);
  m.port_policy = dp.map_fd(WT_MAP_PORT_POLICY);
  m.rule_epochs = dp.map_fd(WT_MAP_RULE_EPOCHS);
  m.devices = dp.map_fd(WT_MAP_DEVICES);
  m.tag_length = dp.options().tag_length;
  m.config = dp.program_config();
  return m;
}

Result<LiveMaps> LiveMaps::pinned(const std::string& pin_dir, unsigned tag_length) {
  if (tag_length < 1 || tag_length > 4) return Error{"INVALID_TRACE", "tag_length must be 1..4"};
  LiveMaps m;
  m.owned_ = true;
  m.tag_length = tag_length;
  for (const Reused& r : kReused) {
    const std::string path = pin_dir + "/" + r.name;
    m.*(r.fd) = bpf_obj_get(path.c_str());
    if (m.*(r.fd) < 0)
      return Error::from_errno("DATAPATH_NOT_FOUND",
                               "no datapath pinned in " + pin_dir + " (" + path + ")", errno);
  }
  m.devices = bpf_obj_get((pin_dir + "/" + WT_MAP_DEVICES).c_str());
  // The settings its owner's programs run with, as far as the pinned maps tell them.
  static const Result<uint32_t> hz = kernel_hz();  // read once: the kernel's, it never changes
  if (!hz) return hz.error();
  bpf_map_info index_info{};
  __u32 len = sizeof index_info;
  if (bpf_obj_get_info_by_fd(m.endpoint_index, &index_info, &len) != 0)
    return Error::from_errno("TRACE_FAILED", "read the endpoint_index map", errno);
  Options options;
  options.tag_length = tag_length;
  options.endpoint_index_size = index_info.max_entries;
  m.config = program_config(options, hz.value());
  return m;
}

LiveMaps::LiveMaps(LiveMaps&& o) noexcept
    : endpoints(o.endpoints),
      endpoint_index(o.endpoint_index),
      src_policy(o.src_policy),
      port_policy(o.port_policy),
      rule_epochs(o.rule_epochs),
      devices(o.devices),
      tag_length(o.tag_length),
      config(o.config),
      owned_(o.owned_) {
  o.owned_ = false;
}

LiveMaps::~LiveMaps() {
  if (!owned_) return;
  for (int fd : {endpoints, endpoint_index, src_policy, port_policy, rule_epochs, devices})
    if (fd >= 0) ::close(fd);
}

std::string wire_bytes(uint32_t tag, unsigned tag_length) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%0*x", static_cast<int>(2 * tag_length), tag);
  return buf;
}

Result<TraceResult> trace(const LiveMaps& maps, const TraceRequest& req) {
  const bool ports = req.protocol == Protocol::Tcp || req.protocol == Protocol::Udp;
  if (req.protocol == Protocol::Any)
    return Error{"INVALID_TRACE", "a trace is of one protocol: tcp, udp or icmp"};
  if (ports && req.port == 0) return Error{"INVALID_TRACE", "tcp and udp need a port (1-65535)"};
  if (!ports && req.port != 0) return Error{"INVALID_TRACE", "icmp has no port"};
  if (req.source_tag > maps.config.tag_mask)
    return Error{"INVALID_TRACE", "the source tag does not fit the cell's tag length"};

  TraceResult result;
  result.ifindex = req.ifindex;
  wt_endpoint ep{};
  if (bpf_map_lookup_elem(maps.endpoints, &req.ifindex, &ep) != 0)
    return Error{"ENDPOINT_NOT_FOUND", "no endpoint on ifindex " + std::to_string(req.ifindex)};
  result.config = ep;

  WT_TRY(skel, open_programs(maps));
  const std::string self = endpoint_address(ep, req.ipv6);
  const std::string peer = req.ipv6 ? kPeer6 : kPeer4;
  const uint16_t service = ports ? req.port : 0;
  const uint16_t client = ports ? kEphemeralPort : 0;
  // Forward: a new connection from the source to the endpoint's port. Reply: the endpoint
  // connected to the source's port, and this is the answer.
  result.packet = req.reply ? TracePacket{peer, self, service, client}
                            : TracePacket{peer, self, client, service};
  {
    auto scope = NetnsScope::enter(req.netns);  // the ifindex is the device's in its namespace
    if (!scope) return scope.error();
    if (req.reply) {
      result.forward = TracePacket{self, peer, client, service};
      WT_TRY(sent, test_run(bpf_program__fd((*skel)->progs.wt_trace_stamp_prog),
                            frame(req, result.forward, false), 0, req.ifindex));
      result.stamp = step_of(*sent);
    }
    WT_TRY(run, test_run(bpf_program__fd((*skel)->progs.wt_trace_enforce_prog),
                         frame(req, result.packet, req.reply), req.source_tag, req.ifindex));
    result.enforce = step_of(*run);
    result.rule = rule_of(*run);
  }
  read_counted(bpf_map__fd((*skel)->maps.slot_counters), result);
  const bool drop_reason = result.enforce.reason >= WT_REASON_DROP_POLICY;
  result.verdict = result.enforce.action == TC_ACT_SHOT ? "drop"
                   : drop_reason                        ? "would-drop"
                                                        : "pass";
  return result;
}

nlohmann::json trace_json(const TraceResult& r, unsigned tag_length) {
  using nlohmann::json;
  const char* reason = reason_name(r.enforce.reason);
  json out = {{"verdict", r.verdict},
              {"reason", reason ? reason : "unknown"},
              {"mode", mode_name(r.enforce.mode)}};
  if (r.rule) {
    json rule = {{"source", r.rule->source_tag ? json(wire_bytes(r.rule->source_tag, tag_length))
                                               : json("*")},
                 {"protocol", std::string(to_string(r.rule->protocol))}};
    if (r.rule->ports) {
      rule["ports"] = {{"start", r.rule->ports->start}, {"end", r.rule->ports->end}};
      rule["prefix_length"] = r.rule->prefix_length;
    }
    out["rule"] = rule;
  } else {
    out["rule"] = nullptr;
  }
  out["endpoint"] = {
      {"ifindex", r.ifindex},
      {"wire_bytes", r.config.tag ? json(wire_bytes(r.config.tag, tag_length)) : json(nullptr)}};
  auto packet = [](const TracePacket& p) {
    json j = {{"source", p.source}, {"destination", p.destination}};
    if (p.source_port || p.destination_port) {
      j["source_port"] = p.source_port;
      j["destination_port"] = p.destination_port;
    }
    return j;
  };
  out["packet"] = packet(r.packet);
  if (r.stamp) {
    const char* stamped = reason_name(r.stamp->reason);
    out["stamp"] = {{"reason", stamped ? stamped : "unknown"},
                    {"verdict", r.stamp->action == TC_ACT_SHOT ? "drop" : "pass"},
                    {"packet", packet(r.forward)}};
  }
  return out;
}

Result<wt_config> trace_program_config(const LiveMaps& maps) {
  auto skel = open_programs(maps);
  if (!skel) return skel.error();
  return loaded_program_config(bpf_program__fd((*skel)->progs.wt_trace_enforce_prog));
}

}  // namespace wiretag::datapath
