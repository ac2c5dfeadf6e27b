// Trace (userspace/datapath/trace.cc): the real programs, run in a second instance over the
// live policy maps, answer what the live programs answer, name the rule that matched, and
// leave every live map exactly as it was.
#include "datapath/trace.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "prog_runner.h"

namespace wiretag::test {
namespace {

using datapath::TraceRequest;
using datapath::TraceResult;

constexpr uint32_t kSource = 5, kOther = 7, kOwn = 9;

datapath::Options small_options() {
  datapath::Options o = test_options();
  o.max_endpoints = 4;
  o.endpoint_index_size = 256;
  return o;
}

class TraceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    runner_ = open_runner(small_options());
    ASSERT_TRUE(runner_);
  }

  void endpoint(const std::vector<Rule>& rules, uint8_t mode = WT_MODE_ENFORCE,
                EndpointSetup setup = {}) {
    setup.tag = kOwn;
    setup.mode = mode;
    ASSERT_EQ(runner_->configure(setup, rules), "");
  }

  TraceResult trace(TraceRequest req) {
    req.ifindex = kTestIfindex;
    auto r = datapath::trace(datapath::LiveMaps::of(runner_->datapath()), req);
    EXPECT_TRUE(r) << r.error().code << ": " << r.error().message;
    return r ? *r : TraceResult{};
  }

  // The live enforce program on the packet the trace synthesized (from its JSON).
  Outcome live(const TraceRequest& req, const TraceResult& r) {
    PacketBuilder b = req.ipv6 ? PacketBuilder::ipv6(r.packet.source, r.packet.destination)
                               : PacketBuilder::ipv4(r.packet.source, r.packet.destination);
    if (req.protocol == Protocol::Tcp)
      b.tcp(r.packet.source_port, r.packet.destination_port,
            req.reply ? kTcpSyn | kTcpAck : kTcpSyn);
    else if (req.protocol == Protocol::Udp)
      b.udp(r.packet.source_port, r.packet.destination_port).payload(16);
    else if (req.reply)
      b.icmp_echo_reply(0x7774);
    else
      b.icmp_echo_request(0x7774);
    return runner_->run(Program::Enforce, b.build(), req.source_tag);
  }

  std::unique_ptr<ProgRunner> runner_;
};

TraceRequest tcp(uint32_t tag, uint16_t port) {
  TraceRequest r;
  r.source_tag = tag;
  r.protocol = Protocol::Tcp;
  r.port = port;
  return r;
}

TEST_F(TraceTest, AllowedByARuleNamesTheRuleAndAgreesWithTheLiveProgram) {
  endpoint({{kSource, Protocol::Tcp, PortRange{8080, 8080}}});
  TraceRequest req = tcp(kSource, 8080);
  TraceResult r = trace(req);
  EXPECT_EQ(r.verdict, "pass");
  EXPECT_EQ(reason_text(r.enforce.reason), "allow_rule");
  EXPECT_EQ(r.enforce.mode, WT_MODE_ENFORCE);
  ASSERT_TRUE(r.rule);
  EXPECT_EQ(r.rule->source_tag, kSource);
  EXPECT_EQ(r.rule->protocol, Protocol::Tcp);
  EXPECT_EQ(r.rule->ports, (PortRange{8080, 8080}));
  EXPECT_EQ(r.rule->prefix_length, 16);
  EXPECT_EQ(r.config.tag, kOwn);
  // The trace's own counters counted what its record says.
  EXPECT_EQ(r.counted_reason, r.enforce.reason);
  EXPECT_EQ(r.counted_verdict, WT_VERDICT_PASS);
  Outcome o = live(req, r);
  EXPECT_EQ(o.reason, r.enforce.reason) << o;
  EXPECT_EQ(o.retval, r.enforce.action) << o;

  auto j = datapath::trace_json(r, 2);
  EXPECT_EQ(j["rule"], (nlohmann::json{{"source", "0005"},
                                       {"protocol", "tcp"},
                                       {"ports", {{"start", 8080}, {"end", 8080}}},
                                       {"prefix_length", 16}}))
      << j.dump();
  EXPECT_EQ(j["endpoint"]["wire_bytes"], "0009");
}

TEST_F(TraceTest, DeniedByPortHasNoRuleAndDrops) {
  endpoint({{kSource, Protocol::Tcp, PortRange{8080, 8080}}});
  TraceRequest req = tcp(kSource, 9090);
  TraceResult r = trace(req);
  EXPECT_EQ(r.verdict, "drop");
  EXPECT_EQ(reason_text(r.enforce.reason), "drop_policy");
  EXPECT_FALSE(r.rule);
  EXPECT_EQ(r.counted_verdict, WT_VERDICT_DROP);
  Outcome o = live(req, r);
  EXPECT_EQ(o.reason, r.enforce.reason) << o;
  EXPECT_EQ(o.retval, r.enforce.action) << o;
  EXPECT_EQ(datapath::trace_json(r, 2)["rule"], nullptr);
}

TEST_F(TraceTest, WildcardRangeNamesThePrefixThatMatched) {
  endpoint({{0, Protocol::Tcp, PortRange{9000, 9010}}});
  TraceResult r = trace(tcp(kOther, 9005));
  EXPECT_EQ(reason_text(r.enforce.reason), "allow_wildcard");
  ASSERT_TRUE(r.rule);
  EXPECT_EQ(r.rule->source_tag, 0u);
  // 9000-9010 is stored as 9000-9007 (/13), 9008-9009 (/15), 9010 (/16).
  EXPECT_EQ(r.rule->ports, (PortRange{9000, 9007}));
  EXPECT_EQ(r.rule->prefix_length, 13);
  EXPECT_EQ(datapath::trace_json(r, 2)["rule"]["source"], "*");
  TraceResult past = trace(tcp(kOther, 9011));
  EXPECT_EQ(reason_text(past.enforce.reason), "drop_policy");
}

TEST_F(TraceTest, AnyProtocolIcmpAndAllPortsRules) {
  endpoint({{kSource, Protocol::Any, std::nullopt},
            {kOther, Protocol::Icmp, std::nullopt},
            {kOther, Protocol::Udp, std::nullopt}});
  TraceRequest udp = tcp(kSource, 53);
  udp.protocol = Protocol::Udp;
  TraceResult any = trace(udp);
  ASSERT_TRUE(any.rule);
  EXPECT_EQ(any.rule->protocol, Protocol::Any);
  EXPECT_FALSE(any.rule->ports);

  TraceRequest ping;
  ping.source_tag = kOther;
  ping.protocol = Protocol::Icmp;
  for (bool v6 : {false, true}) {
    ping.ipv6 = v6;
    TraceResult r = trace(ping);
    EXPECT_EQ(reason_text(r.enforce.reason), "allow_rule") << v6;
    ASSERT_TRUE(r.rule);
    EXPECT_EQ(r.rule->protocol, Protocol::Icmp);
    Outcome o = live(ping, r);
    EXPECT_EQ(o.reason, r.enforce.reason) << o;
  }
  udp.source_tag = kOther;
  udp.ipv6 = true;
  TraceResult all = trace(udp);
  ASSERT_TRUE(all.rule);
  EXPECT_EQ(all.rule->protocol, Protocol::Udp);
  EXPECT_FALSE(all.rule->ports);
  EXPECT_NE(all.packet.destination.find(':'), std::string::npos);
}

TEST_F(TraceTest, ReplyRunsTheEndpointsStampFirst) {
  // Nothing may enter, but what the endpoint opened may answer — also past anti-spoofing.
  EndpointSetup spoof;
  spoof.flags = WT_EP_ANTISPOOF_V4 | WT_EP_ANTISPOOF_V6;
  spoof.ipv4 = "198.18.7.7";
  spoof.ipv6 = "2001:2:0:7::7";
  endpoint({}, WT_MODE_ENFORCE, spoof);
  for (auto proto : {Protocol::Tcp, Protocol::Udp, Protocol::Icmp})
    for (bool v6 : {false, true}) {
      TraceRequest req = tcp(kSource, proto == Protocol::Icmp ? 0 : 5432);
      req.protocol = proto;
      req.ipv6 = v6;
      req.reply = true;
      TraceResult r = trace(req);
      ASSERT_TRUE(r.stamp);
      EXPECT_EQ(reason_text(r.stamp->reason), "stamped");
      EXPECT_EQ(r.forward.source, v6 ? "2001:2:0:7::7" : "198.18.7.7");
      EXPECT_EQ(r.verdict, "pass");
      EXPECT_EQ(reason_text(r.enforce.reason), "allow_reply");
      EXPECT_FALSE(r.rule);
      // The flow is the trace's own: the same reply on the live program is still denied.
      Outcome o = live(req, r);
      EXPECT_EQ(reason_text(o.reason), "drop_policy") << o;
      req.reply = false;
      EXPECT_EQ(reason_text(trace(req).enforce.reason), "drop_policy");
    }
}

TEST_F(TraceTest, AuditModeIsAWouldDropAndBypassPasses) {
  endpoint({{kSource, Protocol::Tcp, PortRange{8080, 8080}}}, WT_MODE_AUDIT);
  TraceRequest req = tcp(kOther, 8080);
  TraceResult r = trace(req);
  EXPECT_EQ(r.verdict, "would-drop");
  EXPECT_EQ(reason_text(r.enforce.reason), "drop_policy");
  EXPECT_EQ(r.enforce.mode, WT_MODE_AUDIT);
  EXPECT_EQ(datapath::trace_json(r, 2)["mode"], "audit");
  Outcome o = live(req, r);
  EXPECT_EQ(o.retval, r.enforce.action) << o;
  EXPECT_EQ(o.verdict, WT_VERDICT_PASS) << o;

  endpoint({}, WT_MODE_BYPASS);
  TraceResult bypass = trace(req);
  EXPECT_EQ(bypass.verdict, "pass");
  EXPECT_EQ(reason_text(bypass.enforce.reason), "allow_bypass");
}

TEST_F(TraceTest, UntaggedFollowsTheEndpointsSetting) {
  EndpointSetup deny;
  deny.untagged = WT_UNTAGGED_DENY;
  endpoint({}, WT_MODE_ENFORCE, deny);
  EXPECT_EQ(reason_text(trace(tcp(0, 80)).enforce.reason), "drop_untagged");
  endpoint({});
  EXPECT_EQ(reason_text(trace(tcp(0, 80)).enforce.reason), "allow_untagged");
}

TEST_F(TraceTest, BadRequestsAndUnknownEndpointsAreErrors) {
  endpoint({});
  auto maps = datapath::LiveMaps::of(runner_->datapath());
  TraceRequest req = tcp(kSource, 0);
  req.ifindex = kTestIfindex;
  EXPECT_EQ(datapath::trace(maps, req).error().code, "INVALID_TRACE");  // tcp without a port
  req.protocol = Protocol::Icmp;
  req.port = 7;
  EXPECT_EQ(datapath::trace(maps, req).error().code, "INVALID_TRACE");  // icmp with one
  req = tcp(0x10000, 80);                                               // wider than 2 bytes
  req.ifindex = kTestIfindex;
  EXPECT_EQ(datapath::trace(maps, req).error().code, "INVALID_TRACE");
  req = tcp(kSource, 80);
  req.ifindex = 4242;
  EXPECT_EQ(datapath::trace(maps, req).error().code, "ENDPOINT_NOT_FOUND");
}

// Every entry of a map, values as bytes (per-CPU values: every CPU's).
std::map<std::vector<uint8_t>, std::vector<uint8_t>> dump(int fd) {
  bpf_map_info info{};
  __u32 len = sizeof info;
  EXPECT_EQ(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
  const bool percpu =
      info.type == BPF_MAP_TYPE_PERCPU_ARRAY || info.type == BPF_MAP_TYPE_PERCPU_HASH;
  const size_t value_size =
      percpu ? ((info.value_size + 7) / 8 * 8) * libbpf_num_possible_cpus() : info.value_size;
  std::map<std::vector<uint8_t>, std::vector<uint8_t>> out;
  std::vector<uint8_t> key(info.key_size), next(info.key_size), value(value_size);
  void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
    if (bpf_map_lookup_elem(fd, next.data(), value.data()) == 0) out[next] = value;
    key = next;
    prev = key.data();
  }
  return out;
}

TEST_F(TraceTest, LeavesEveryLiveMapByteForByteAsItWas) {
  endpoint({{kSource, Protocol::Tcp, PortRange{8080, 8080}}});
  // Live traffic first: counters, flows, the flow and verdict caches, events, the rate limit.
  auto& dp = runner_->datapath();
  int events = 0;
  ASSERT_TRUE(dp.on_event([&](const wt_event&) { ++events; }));
  auto out = PacketBuilder::ipv4("198.18.255.2", "198.18.9.9").tcp(41000, 443).build();
  auto in =
      PacketBuilder::ipv4("198.18.9.9", "198.18.255.2").tcp(443, 41000, kTcpSyn | kTcpAck).build();
  auto allowed = PacketBuilder::ipv4("198.18.9.9", "198.18.255.2").tcp(40001, 8080).build();
  auto denied = PacketBuilder::ipv4("198.18.9.9", "198.18.255.2").tcp(40001, 9090).build();
  EXPECT_EQ(reason_text(runner_->run(Program::Stamp, out, 0).reason), "stamped");
  EXPECT_EQ(reason_text(runner_->run(Program::Enforce, in, kSource).reason), "allow_reply");
  EXPECT_EQ(reason_text(runner_->run(Program::Enforce, allowed, kSource).reason), "allow_rule");
  EXPECT_EQ(reason_text(runner_->run(Program::Enforce, denied, kSource).reason), "drop_policy");
  ASSERT_TRUE(dp.poll_events(0));
  ASSERT_EQ(events, 1);

  const char* names[] = {WT_MAP_ENDPOINTS,   WT_MAP_ENDPOINT_INDEX,  WT_MAP_SRC_POLICY,
                         WT_MAP_PORT_POLICY, WT_MAP_FLOWS,           WT_MAP_FRAGMENTS,
                         WT_MAP_COUNTERS,    WT_MAP_SLOT_COUNTERS,   WT_MAP_REPLY_PORTS,
                         WT_MAP_FLOW_CACHE,  WT_MAP_FLOW_SPILL,      WT_MAP_VERDICT_CACHE,
                         WT_MAP_RULE_EPOCHS, WT_MAP_EVENT_RATELIMIT, WT_MAP_DEVICES};
  std::map<std::string, std::map<std::vector<uint8_t>, std::vector<uint8_t>>> before;
  for (const char* name : names) before[name] = dump(dp.map_fd(name));
  ASSERT_FALSE(before[WT_MAP_FLOWS].empty());

  // Traces of every kind: allowed, denied (an event), reply (a flow), a first fragment's
  // kind of state, IPv6, ICMP.
  TraceRequest req = tcp(kSource, 8080);
  EXPECT_EQ(trace(req).verdict, "pass");
  req.port = 9090;
  EXPECT_EQ(trace(req).verdict, "drop");
  req.reply = true;
  EXPECT_EQ(reason_text(trace(req).enforce.reason), "allow_reply");
  req.ipv6 = true;
  req.protocol = Protocol::Udp;
  trace(req);
  req.protocol = Protocol::Icmp;
  req.port = 0;
  trace(req);

  for (const char* name : names)
    EXPECT_TRUE(dump(dp.map_fd(name)) == before[name]) << "the trace changed live map " << name;
  ASSERT_TRUE(dp.poll_events(0));
  EXPECT_EQ(events, 1) << "the trace wrote to the live event ring buffer";
}

}  // namespace
}  // namespace wiretag::test
