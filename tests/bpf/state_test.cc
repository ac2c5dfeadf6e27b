// Datapath state across packets: flow timeouts and refresh, per-device isolation of
// endpoints and flows, and counters.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <time.h>

#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "datapath/mapped_words.h"
#include "datapath/packet_builder.h"
#include "prog_runner.h"

namespace wiretag::test {
namespace {

const std::string kLocal4 = "198.18.0.2", kRemote4 = "198.18.1.1";
const std::string kLocal6 = "2001:2::2", kRemote6 = "2001:2::1:1";
constexpr uint32_t kTag = 5, kOtherTag = 6;
constexpr uint64_t kSecond = 1000000000ULL;

// The programs age flows by bpf_ktime_get_coarse_ns(): CLOCK_MONOTONIC_COARSE, which is
// CLOCK_MONOTONIC to within a tick; the ages below are seconds.
uint64_t ktime_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * kSecond + uint64_t(ts.tv_nsec);
}

// Makes every recorded flow look `age` old.
void age_flows(ProgRunner& runner, uint64_t age) {
  auto flows = runner.datapath().flow_map();
  std::vector<wt_flow_key> keys;
  flows.for_each_key([&](const wt_flow_key& k) { keys.push_back(k); });
  ASSERT_FALSE(keys.empty());
  for (const auto& k : keys) ASSERT_TRUE(flows.update(k, wt_flow{ktime_now() - age}));
  // And the IPv4 flows' cache entries, which enforce reads first.
  auto& dp = runner.datapath();
  constexpr size_t kWords = sizeof(wt_flow_cache_entry) / 8;  // the stamp is the first
  auto cache = datapath::MappedWords::map(
      dp.map_fd(WT_MAP_FLOW_CACHE),
      (size_t{1} << (64 - dp.flow_cache_shift())) * WT_FLOW_CACHE_WAYS * kWords, WT_MAP_FLOW_CACHE);
  ASSERT_TRUE(cache);
  // Its clock is jiffies; the entries were stamped just now.
  const uint64_t age_jiffies = age / kSecond * dp.kernel_hz();
  for (size_t i = 0; i < cache->size(); i += kWords)
    if (uint64_t stamp = cache->load(i))
      cache->store(
          i, (stamp & ~WT_FLOW_CACHE_TIME_MASK) |
                 (((stamp & WT_FLOW_CACHE_TIME_MASK) - age_jiffies) & WT_FLOW_CACHE_TIME_MASK));
}

class FlowTimeout : public testing::Test {
 protected:
  void SetUp() override {
    runner_ = open_runner();
    ASSERT_TRUE(runner_);
    ASSERT_EQ(runner_->configure(EndpointSetup{}, {}), "");
  }
  std::unique_ptr<ProgRunner> runner_;
};

TEST_F(FlowTimeout, UdpReplyWithinTimeoutPasses) {
  auto out = PacketBuilder::ipv4(kLocal4, kRemote4).udp(5353, 53).build();
  ASSERT_EQ(runner_->run_action(Program::Stamp, out, 0), TC_ACT_OK);
  age_flows(*runner_, 100 * kSecond);  // the UDP timeout is 120 s
  Outcome o = runner_->run(Program::Enforce,
                           PacketBuilder::ipv4(kRemote4, kLocal4).udp(53, 5353).build(), kOtherTag);
  EXPECT_EQ(reason_text(o.reason), reason_text(WT_REASON_ALLOW_REPLY)) << o;
}

TEST_F(FlowTimeout, UdpReplyAfterTimeoutIsDropped) {
  auto out = PacketBuilder::ipv6(kLocal6, kRemote6).udp(5353, 53).build();
  ASSERT_EQ(runner_->run_action(Program::Stamp, out, 0), TC_ACT_OK);
  age_flows(*runner_, 130 * kSecond);
  Outcome o = runner_->run(Program::Enforce,
                           PacketBuilder::ipv6(kRemote6, kLocal6).udp(53, 5353).build(), kOtherTag);
  EXPECT_EQ(o.retval, TC_ACT_SHOT) << o;
  EXPECT_EQ(reason_text(o.reason), reason_text(WT_REASON_DROP_POLICY)) << o;
}

TEST_F(FlowTimeout, EchoReplyAfterThirtySecondsIsDropped) {
  auto out = PacketBuilder::ipv4(kLocal4, kRemote4).icmp_echo_request(7).build();
  ASSERT_EQ(runner_->run_action(Program::Stamp, out, 0), TC_ACT_OK);
  age_flows(*runner_, 40 * kSecond);
  Outcome o =
      runner_->run(Program::Enforce,
                   PacketBuilder::ipv4(kRemote4, kLocal4).icmp_echo_reply(7).build(), kOtherTag);
  EXPECT_EQ(reason_text(o.reason), reason_text(WT_REASON_DROP_POLICY)) << o;
}

TEST_F(FlowTimeout, SendingAgainRefreshesAnAgingFlow) {
  auto out = PacketBuilder::ipv4(kLocal4, kRemote4).udp(5353, 53).build();
  ASSERT_EQ(runner_->run_action(Program::Stamp, out, 0), TC_ACT_OK);
  age_flows(*runner_, 130 * kSecond);
  ASSERT_EQ(runner_->run_action(Program::Stamp, out, 0), TC_ACT_OK);
  Outcome o = runner_->run(Program::Enforce,
                           PacketBuilder::ipv4(kRemote4, kLocal4).udp(53, 5353).build(), kOtherTag);
  EXPECT_EQ(reason_text(o.reason), reason_text(WT_REASON_ALLOW_REPLY)) << o;
}

TEST_F(FlowTimeout, StampRecordsOneFlowPerFiveTuple) {
  auto out = PacketBuilder::ipv4(kLocal4, kRemote4).tcp(40000, 80, kTcpSyn).build();
  auto ack = PacketBuilder::ipv4(kLocal4, kRemote4).tcp(40000, 80, kTcpAck).build();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(runner_->run_action(Program::Stamp, out, 0), TC_ACT_OK);
  ASSERT_EQ(runner_->run_action(Program::Stamp, ack, 0), TC_ACT_OK);
  size_t flows = 0;
  runner_->datapath().flow_map().for_each_key([&](const wt_flow_key& k) {
    ++flows;
    EXPECT_EQ(k.ifindex, kTestIfindex);
    EXPECT_EQ(k.family, 4);
    EXPECT_EQ(k.proto, IPPROTO_TCP);
    EXPECT_EQ(k.sport, htons(40000));
    EXPECT_EQ(k.dport, htons(80));
  });
  EXPECT_EQ(flows, 1u);
}

// Another device of this netns than the loopback, for per-device state.
std::optional<uint32_t> other_device() {
  std::optional<uint32_t> found;
  if (auto* names = if_nameindex()) {
    for (auto* n = names; n->if_index != 0; ++n)
      if (n->if_index != kTestIfindex && !found) found = n->if_index;
    if_freenameindex(names);
  }
  return found;
}

TEST(Devices, EndpointConfigAppliesOnlyToItsDevice) {
  auto other = other_device();
  if (!other) GTEST_SKIP() << "this netns has no device besides the loopback";
  auto runner = open_runner();
  ASSERT_TRUE(runner);
  ASSERT_EQ(runner->configure(EndpointSetup{}, {{kTag, Protocol::Tcp, PortRange{80, 80}}}), "");
  auto in = PacketBuilder::ipv4(kRemote4, kLocal4).tcp(40000, 80).build();
  Outcome here = runner->run(Program::Enforce, in, kTag);
  EXPECT_EQ(reason_text(here.reason), reason_text(WT_REASON_ALLOW_RULE)) << here;
  Outcome there = runner->run(Program::Enforce, in, kTag, *other);
  EXPECT_EQ(there.retval, TC_ACT_SHOT) << there;
  EXPECT_EQ(reason_text(there.reason), reason_text(WT_REASON_DROP_NO_ENDPOINT)) << there;
  EXPECT_EQ(there.ifindex, *other) << "counted under the device it ran on";

  ASSERT_EQ(runner->configure(EndpointSetup{}, {}, *other), "");
  there = runner->run(Program::Enforce, in, kTag, *other);
  EXPECT_EQ(reason_text(there.reason), reason_text(WT_REASON_DROP_POLICY)) << there;
}

TEST(Devices, FlowOfOneDeviceAdmitsNoReplyOnAnother) {
  auto other = other_device();
  if (!other) GTEST_SKIP() << "this netns has no device besides the loopback";
  auto runner = open_runner();
  ASSERT_TRUE(runner);
  ASSERT_EQ(runner->configure(EndpointSetup{}, {}), "");
  ASSERT_EQ(runner->configure(EndpointSetup{}, {}, *other), "");
  ASSERT_EQ(runner->run_action(Program::Stamp,
                               PacketBuilder::ipv4(kLocal4, kRemote4).udp(5353, 53).build(), 0),
            TC_ACT_OK);
  auto reply = PacketBuilder::ipv4(kRemote4, kLocal4).udp(53, 5353).build();
  Outcome there = runner->run(Program::Enforce, reply, kOtherTag, *other);
  EXPECT_EQ(reason_text(there.reason), reason_text(WT_REASON_DROP_POLICY)) << there;
  Outcome here = runner->run(Program::Enforce, reply, kOtherTag);
  EXPECT_EQ(reason_text(here.reason), reason_text(WT_REASON_ALLOW_REPLY)) << here;
}

TEST(Counters, CountPacketsAndFrameBytes) {
  auto runner = open_runner();
  ASSERT_TRUE(runner);
  ASSERT_EQ(runner->configure(EndpointSetup{}, {{kTag, Protocol::Udp, PortRange{53, 53}}}), "");
  auto small = PacketBuilder::ipv4(kRemote4, kLocal4).udp(40000, 53).build();
  auto big = PacketBuilder::ipv6(kRemote6, kLocal6).udp(40000, 53).payload(1000).build();
  ASSERT_EQ(runner->run_action(Program::Enforce, small, kTag), TC_ACT_OK);
  ASSERT_EQ(runner->run_action(Program::Enforce, big, kTag), TC_ACT_OK);
  ASSERT_EQ(runner->run_action(Program::Enforce, big, kTag), TC_ACT_OK);
  auto rows = runner->datapath().counters(kTestIfindex);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].key.direction, WT_DIR_ENFORCE);
  EXPECT_EQ(reason_text(rows[0].key.reason), reason_text(WT_REASON_ALLOW_RULE));
  EXPECT_EQ(rows[0].key.verdict, WT_VERDICT_PASS);
  EXPECT_EQ(rows[0].total.packets, 3u);
  EXPECT_EQ(rows[0].total.bytes, small.size() + 2 * big.size());
}

// One endpoint can reach every reason in both directions, and each drop reason with both
// verdicts (enforce mode, then audit mode): the counters map must hold all of them.
TEST(Counters, OneEndpointCanCountEveryReasonAndVerdict) {
  auto options = test_options();
  options.max_endpoints = 1;
  auto runner = open_runner(options);
  ASSERT_TRUE(runner);
  EndpointSetup setup;
  setup.untagged = WT_UNTAGGED_DENY;
  setup.flags = WT_EP_ANTISPOOF_V4;
  setup.ipv4 = kLocal4;
  ASSERT_EQ(runner->configure(setup, {{kTag, Protocol::Udp, PortRange{53, 53}},
                                      {0, Protocol::Udp, PortRange{54, 54}}}),
            "");
  auto& dp = runner->datapath();
  auto set_endpoint = [&](uint8_t mode, uint8_t untagged) {
    auto ep = dp.endpoint_map().lookup(kTestIfindex);
    ASSERT_TRUE(ep);
    auto settings = datapath::settings_of(*ep);
    settings.mode = static_cast<datapath::Mode>(mode);
    settings.allow_untagged = untagged == WT_UNTAGGED_ALLOW;
    ASSERT_TRUE(dp.configure(kTestIfindex, settings));
  };
  auto in4 = [] { return PacketBuilder::ipv4(kRemote4, kLocal4); };
  auto out4 = [] { return PacketBuilder::ipv4(kLocal4, kRemote4); };
  auto in6 = [] { return PacketBuilder::ipv6(kRemote6, kLocal6); };
  auto seven_exthdrs = [&] {
    auto p = in6();
    for (int i = 0; i < WT_MAX_EXTHDRS + 1; ++i) p.ext_header(kIpv6DestOpts);
    return p.udp(1, 53);
  };
  const std::vector<PacketBuilder> malformed = {
      PacketBuilder::ethernet(0x88cc, 46),
      in4().udp(40000, 53).total_length(1400),
      in4().udp(40000, 53).ihl(4),
      in6().udp(40000, 53).ip_version(4),
      seven_exthdrs(),
      in6().ext_header(kIpv6DestOpts, 16).udp(1, 53).total_length(8).truncate(14 + 40 + 8),
      in4().udp(40000, 53).l4_truncate(4),
      in4().tcp(40000, 53, kTcpSyn, 4),
  };
  std::set<std::tuple<uint8_t, uint8_t, uint8_t>> expected;  // direction, reason, verdict
  int runs = 0;
  auto run = [&](Program prog, const PacketBuilder& p, uint32_t mark) {
    Outcome o = runner->run(prog, p.build(), mark);
    ASSERT_TRUE(o.error.empty()) << o;
    ++runs;
  };
  auto expect = [&](Program prog, uint32_t reason, uint8_t verdict) {
    expected.insert({prog == Program::Stamp ? WT_DIR_STAMP : WT_DIR_ENFORCE, reason, verdict});
  };

  for (uint8_t mode : {uint8_t{WT_MODE_ENFORCE}, uint8_t{WT_MODE_AUDIT}}) {
    set_endpoint(mode, WT_UNTAGGED_DENY);
    uint8_t v = mode == WT_MODE_AUDIT ? WT_VERDICT_PASS : WT_VERDICT_DROP;
    for (const auto& p : malformed) {
      run(Program::Stamp, p, 0);
      run(Program::Enforce, p, kTag);
    }
    for (uint32_t r :
         {WT_REASON_DROP_L3_UNKNOWN, WT_REASON_DROP_L3_TRUNCATED, WT_REASON_DROP_IPV4_IHL,
          WT_REASON_DROP_IPV6_VERSION, WT_REASON_DROP_EXTHDR_LIMIT, WT_REASON_DROP_EXTHDR_BAD,
          WT_REASON_DROP_L4_TRUNCATED, WT_REASON_DROP_TCP_DOFF}) {
      expect(Program::Stamp, r, v);
      expect(Program::Enforce, r, v);
    }
    run(Program::Enforce, in4().udp(40000, 55), kTag);
    expect(Program::Enforce, WT_REASON_DROP_POLICY, v);
    run(Program::Enforce, in4().udp(40000, 53), 0);
    expect(Program::Enforce, WT_REASON_DROP_UNTAGGED, v);
    run(Program::Enforce, in4().fragment(5, false, 1).raw_l4(IPPROTO_UDP, 16), kTag);
    expect(Program::Enforce, WT_REASON_DROP_FRAGMENT, v);
    run(Program::Stamp, PacketBuilder::ipv4("198.18.0.9", kRemote4).udp(1, 53), 0);
    expect(Program::Stamp, WT_REASON_DROP_SPOOFED, v);
  }
  set_endpoint(WT_MODE_ENFORCE, WT_UNTAGGED_ALLOW);
  run(Program::Enforce, in4().udp(40000, 53), kTag);
  expect(Program::Enforce, WT_REASON_ALLOW_RULE, WT_VERDICT_PASS);
  run(Program::Enforce, in4().udp(40000, 54), kOtherTag);
  expect(Program::Enforce, WT_REASON_ALLOW_WILDCARD, WT_VERDICT_PASS);
  run(Program::Enforce, in4().udp(40000, 55), 0);
  expect(Program::Enforce, WT_REASON_ALLOW_UNTAGGED, WT_VERDICT_PASS);
  run(Program::Enforce, PacketBuilder::arp_request(kRemote4, kLocal4), 0);
  expect(Program::Enforce, WT_REASON_ALLOW_ARP, WT_VERDICT_PASS);
  run(Program::Enforce, in6().icmp(135), 0);
  expect(Program::Enforce, WT_REASON_ALLOW_NDP, WT_VERDICT_PASS);
  run(Program::Stamp, out4().udp(5353, 5000), 0);
  expect(Program::Stamp, WT_REASON_STAMPED, WT_VERDICT_PASS);
  run(Program::Enforce, in4().udp(5000, 5353), kOtherTag);
  expect(Program::Enforce, WT_REASON_ALLOW_REPLY, WT_VERDICT_PASS);
  run(Program::Enforce, in4().fragment(0, true, 2).udp(40000, 53), kTag);
  run(Program::Enforce, in4().fragment(5, false, 2).raw_l4(IPPROTO_UDP, 16), kTag);
  expect(Program::Enforce, WT_REASON_ALLOW_FRAGMENT, WT_VERDICT_PASS);
  run(Program::Stamp, PacketBuilder::arp_request(kLocal4, kRemote4), 0);
  expect(Program::Stamp, WT_REASON_ALLOW_ARP, WT_VERDICT_PASS);
  set_endpoint(WT_MODE_BYPASS, WT_UNTAGGED_ALLOW);
  run(Program::Stamp, out4().udp(1, 2), 0);
  run(Program::Enforce, in4().udp(1, 2), kTag);
  expect(Program::Stamp, WT_REASON_ALLOW_BYPASS, WT_VERDICT_PASS);
  expect(Program::Enforce, WT_REASON_ALLOW_BYPASS, WT_VERDICT_PASS);

  std::set<std::tuple<uint8_t, uint8_t, uint8_t>> counted;
  uint64_t packets = 0;
  for (const auto& row : dp.counters(kTestIfindex)) {
    counted.insert({row.key.direction, row.key.reason, row.key.verdict});
    packets += row.total.packets;
  }
  EXPECT_EQ(counted, expected);
  EXPECT_EQ(packets, uint64_t(runs));

  // The one reason no endpoint can have: the programs run on a device without a config.
  const uint32_t stranger = kTestIfindex + 1;
  for (Program prog : {Program::Stamp, Program::Enforce})
    ASSERT_EQ(runner->run(prog, in4().udp(1, 2).build(), kTag, stranger).reason,
              uint32_t{WT_REASON_DROP_NO_ENDPOINT});
  counted.clear();
  for (const auto& row : dp.counters(stranger))
    counted.insert({row.key.direction, row.key.reason, row.key.verdict});
  EXPECT_EQ(counted, (std::set<std::tuple<uint8_t, uint8_t, uint8_t>>{
                         {WT_DIR_STAMP, WT_REASON_DROP_NO_ENDPOINT, WT_VERDICT_DROP},
                         {WT_DIR_ENFORCE, WT_REASON_DROP_NO_ENDPOINT, WT_VERDICT_DROP}}));
}

// tag_length decides the mask: the source tag is the mark's low tag_length bytes.
Outcome run_with_tag_length(unsigned tag_length, uint32_t rule_tag, uint32_t mark) {
  auto options = test_options();
  options.tag_length = tag_length;
  auto runner = open_runner(options);
  if (!runner) return {};
  EXPECT_EQ(runner->configure(EndpointSetup{}, {{rule_tag, Protocol::Tcp, PortRange{80, 80}}}), "");
  return runner->run(Program::Enforce, PacketBuilder::ipv4(kRemote4, kLocal4).tcp(1, 80).build(),
                     mark);
}

TEST(TagLength, OneByteTagIgnoresTheSecondByte) {
  Outcome o = run_with_tag_length(1, kTag, 0x0105);
  EXPECT_EQ(reason_text(o.reason), reason_text(WT_REASON_ALLOW_RULE)) << o;
}

TEST(TagLength, OneByteTagOfHighBitsOnlyIsUntagged) {
  Outcome o = run_with_tag_length(1, kTag, 0x0100);
  EXPECT_EQ(reason_text(o.reason), reason_text(WT_REASON_ALLOW_UNTAGGED)) << o;
}

TEST(TagLength, FourByteTagUsesTheWholeMark) {
  Outcome o = run_with_tag_length(4, kTag, 0x10005);
  EXPECT_EQ(reason_text(o.reason), reason_text(WT_REASON_DROP_POLICY)) << o;
  o = run_with_tag_length(4, 0x10005, 0x10005);
  EXPECT_EQ(reason_text(o.reason), reason_text(WT_REASON_ALLOW_RULE)) << o;
}

TEST(TagLength, ThreeByteTagMasksTheTopByte) {
  Outcome o = run_with_tag_length(3, 0x10005, 0x7f010005);
  EXPECT_EQ(reason_text(o.reason), reason_text(WT_REASON_ALLOW_RULE)) << o;
}

// forget() says flows of a removed endpoint must not admit anything to a future endpoint
// that reuses its ifindex; fragment admissions are the same kind of state.
TEST(Forget, RemovedEndpointLeavesNoAdmissionsForItsIfindex) {
  auto runner = open_runner();
  ASSERT_TRUE(runner);
  ASSERT_EQ(runner->configure(EndpointSetup{}, {{kTag, Protocol::Udp, PortRange{53, 53}}}), "");
  auto in = [] { return PacketBuilder::ipv4(kRemote4, kLocal4); };
  ASSERT_EQ(runner->run_action(Program::Stamp,
                               PacketBuilder::ipv4(kLocal4, kRemote4).udp(5353, 5000).build(), 0),
            TC_ACT_OK);
  ASSERT_EQ(
      runner->run_action(Program::Enforce, in().fragment(0, true, 77).udp(40000, 53).build(), kTag),
      TC_ACT_OK);
  ASSERT_TRUE(runner->datapath().forget(kTestIfindex));

  // A new endpoint, same ifindex, same address, no rules.
  ASSERT_EQ(runner->configure(EndpointSetup{}, {}), "");
  Outcome reply = runner->run(Program::Enforce, in().udp(5000, 5353).build(), kOtherTag);
  EXPECT_EQ(reason_text(reply.reason), reason_text(WT_REASON_DROP_POLICY)) << reply;
  Outcome later = runner->run(Program::Enforce,
                              in().fragment(5, false, 77).raw_l4(IPPROTO_UDP, 16).build(), kTag);
  EXPECT_EQ(reason_text(later.reason), reason_text(WT_REASON_DROP_FRAGMENT)) << later;
}

}  // namespace
}  // namespace wiretag::test
