// What enforce reads per packet besides the rules: the endpoint_index word (with the
// endpoints hash as fallback), the endpoint's slot (slot_counters, reply_ports) and the rule
// flags. Each test can fail: it checks the verdicts the state must produce.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "datapath/packet_builder.h"
#include "prog_runner.h"

namespace wiretag::test {
namespace {

using datapath::PacketBuilder;

const std::string kLocal4 = "198.18.0.2", kRemote4 = "198.18.1.1", kOtherRemote4 = "198.18.1.2";
constexpr uint32_t kTag = 5, kOtherTag = 6;

// A network namespace of this test's own, with veth devices beside its loopback (ifindex 1),
// so endpoints on several devices need nothing from the host. The test process stays in it.
std::vector<uint32_t> private_netns_with_devices(int n) {
  if (unshare(CLONE_NEWNET) != 0) return {};
  std::vector<uint32_t> ifindexes;
  for (int i = 0; i < n; ++i) {
    std::string name = "wtveth" + std::to_string(i);
    if (std::system(("ip link add " + name + " type veth peer name " + name + "p").c_str()) != 0)
      return {};
    ifindexes.push_back(if_nametoindex(name.c_str()));
  }
  return ifindexes;
}

std::vector<uint8_t> tcp_in(uint16_t dport, uint8_t flags = datapath::kTcpSyn,
                            uint16_t sport = 40000, const std::string& from = kRemote4) {
  return PacketBuilder::ipv4(from, kLocal4).tcp(sport, dport, flags).build();
}

uint64_t index_entry(datapath::Datapath& dp, uint32_t entry) {
  uint64_t word = 0;
  EXPECT_EQ(bpf_map_lookup_elem(dp.map_fd(WT_MAP_ENDPOINT_INDEX), &entry, &word), 0);
  return word;
}

datapath::EndpointSettings settings_with(datapath::Mode mode) {
  datapath::EndpointSettings s;
  s.tag = 9;
  s.mode = mode;
  return s;
}

TEST(EndpointIndex, EndpointsSharingAnEntryEachGetTheirOwnConfig) {
  auto devices = private_netns_with_devices(1);
  ASSERT_EQ(devices.size(), 1u) << "could not make a private netns with a veth";
  const uint32_t lo = kTestIfindex, dummy = devices[0];
  auto options = test_options();
  options.endpoint_index_size = 1;  // every endpoint on entry 0: the first owns it
  auto runner = open_runner(options);
  ASSERT_TRUE(runner);
  auto& dp = runner->datapath();

  ASSERT_EQ(runner->configure(EndpointSetup{}, {{kTag, Protocol::Tcp, PortRange{80, 80}}}, lo), "");
  EndpointSetup audit;
  audit.mode = WT_MODE_AUDIT;
  ASSERT_EQ(runner->configure(audit, {{kTag, Protocol::Tcp, PortRange{81, 81}}}, dummy), "");
  EXPECT_EQ(WT_EPW_IFINDEX(index_entry(dp, 0)), lo);

  auto expect = [&](uint32_t ifindex, uint16_t port, uint32_t reason, uint8_t verdict) {
    Outcome o = runner->run(Program::Enforce, tcp_in(port), kTag, ifindex);
    EXPECT_EQ(reason_text(o.reason), reason_text(reason)) << "ifindex " << ifindex << " " << o;
    EXPECT_EQ(o.verdict, verdict) << "ifindex " << ifindex << " " << o;
  };
  expect(lo, 80, WT_REASON_ALLOW_RULE, WT_VERDICT_PASS);
  expect(lo, 81, WT_REASON_DROP_POLICY, WT_VERDICT_DROP);
  expect(dummy, 81, WT_REASON_ALLOW_RULE, WT_VERDICT_PASS);
  expect(dummy, 80, WT_REASON_DROP_POLICY, WT_VERDICT_PASS);  // audit, from the hash

  // The endpoint read from the hash changes rules and mode like any other.
  ASSERT_TRUE(dp.replace_policy(dummy, {{kTag, Protocol::Tcp, PortRange{82, 82}}}));
  ASSERT_TRUE(dp.configure(dummy, settings_with(datapath::Mode::Enforce)));
  expect(dummy, 82, WT_REASON_ALLOW_RULE, WT_VERDICT_PASS);
  expect(dummy, 81, WT_REASON_DROP_POLICY, WT_VERDICT_DROP);
  EXPECT_EQ(WT_EPW_IFINDEX(index_entry(dp, 0)), lo) << "the owner keeps its entry";

  // The owner goes: the entry is free, and the next config write of the other takes it.
  ASSERT_TRUE(dp.forget(lo));
  EXPECT_EQ(index_entry(dp, 0), 0u);
  expect(lo, 80, WT_REASON_DROP_NO_ENDPOINT, WT_VERDICT_DROP);
  expect(dummy, 82, WT_REASON_ALLOW_RULE, WT_VERDICT_PASS);
  ASSERT_TRUE(dp.configure(dummy, settings_with(datapath::Mode::Audit)));
  EXPECT_EQ(WT_EPW_IFINDEX(index_entry(dp, 0)), dummy);
  EXPECT_EQ(WT_EPW_MODE(index_entry(dp, 0)), WT_MODE_AUDIT);
  expect(dummy, 81, WT_REASON_DROP_POLICY, WT_VERDICT_PASS);
  ASSERT_TRUE(dp.replace_policy(dummy, {{kTag, Protocol::Tcp, PortRange{81, 81}}}));
  expect(dummy, 81, WT_REASON_ALLOW_RULE, WT_VERDICT_PASS);
  expect(dummy, 82, WT_REASON_DROP_POLICY, WT_VERDICT_PASS);
}

uint64_t counted(datapath::Datapath& dp, uint32_t ifindex, uint32_t reason) {
  uint64_t n = 0;
  for (const auto& row : dp.counters(ifindex))
    if (row.key.reason == reason && row.key.direction == WT_DIR_ENFORCE) n += row.total.packets;
  return n;
}

TEST(EndpointSlots, EachEndpointCountsInItsOwnSlotAndAReusedSlotStartsAtZero) {
  auto devices = private_netns_with_devices(2);
  ASSERT_EQ(devices.size(), 2u) << "could not make a private netns with veths";
  auto runner = open_runner();
  ASSERT_TRUE(runner);
  auto& dp = runner->datapath();
  const std::vector<Rule> rules = {{kTag, Protocol::Tcp, PortRange{80, 80}}};
  ASSERT_EQ(runner->configure(EndpointSetup{}, rules, kTestIfindex), "");
  ASSERT_EQ(runner->configure(EndpointSetup{}, rules, devices[0]), "");
  auto slot = [&](uint32_t ifindex) { return dp.endpoint_map().lookup(ifindex)->slot; };
  EXPECT_NE(slot(kTestIfindex), slot(devices[0]));

  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(runner->run_action(Program::Enforce, tcp_in(80), kTag), TC_ACT_OK);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(runner->run_action(Program::Enforce, tcp_in(80), kTag, nullptr, devices[0]),
              TC_ACT_OK);
  ASSERT_EQ(runner->run_action(Program::Enforce, tcp_in(81), kTag, nullptr, devices[0]),
            TC_ACT_SHOT);
  EXPECT_EQ(counted(dp, kTestIfindex, WT_REASON_ALLOW_RULE), 2u);
  EXPECT_EQ(counted(dp, devices[0], WT_REASON_ALLOW_RULE), 3u);
  EXPECT_EQ(counted(dp, devices[0], WT_REASON_DROP_POLICY), 1u);
  EXPECT_EQ(counted(dp, kTestIfindex, WT_REASON_DROP_POLICY), 0u);

  const uint16_t freed = slot(devices[0]);
  ASSERT_TRUE(dp.forget(devices[0]));
  ASSERT_EQ(runner->configure(EndpointSetup{}, rules, devices[1]), "");
  EXPECT_EQ(slot(devices[1]), freed) << "the lowest free slot";
  EXPECT_TRUE(dp.counters(devices[1]).empty()) << "counts of the slot's last owner";
  ASSERT_EQ(runner->run_action(Program::Enforce, tcp_in(80), kTag, nullptr, devices[1]), TC_ACT_OK);
  EXPECT_EQ(counted(dp, devices[1], WT_REASON_ALLOW_RULE), 1u);
  EXPECT_EQ(counted(dp, kTestIfindex, WT_REASON_ALLOW_RULE), 2u);
}

TEST(EndpointSlots, MoreEndpointsThanSlotsIsRefused) {
  auto devices = private_netns_with_devices(1);
  ASSERT_EQ(devices.size(), 1u);
  auto options = test_options();
  options.max_endpoints = 1;
  auto runner = open_runner(options);
  ASSERT_TRUE(runner);
  ASSERT_TRUE(runner->datapath().define(kTestIfindex, settings_with(datapath::Mode::Enforce)));
  auto full = runner->datapath().define(devices[0], settings_with(datapath::Mode::Enforce));
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, "ENDPOINTS_FULL");
  EXPECT_FALSE(runner->datapath().endpoint_map().lookup(devices[0]));
}

// The reply-port filter only ever skips lookups that would miss.
TEST(ReplyPorts, APortTheEndpointSentFromAdmitsOnlyRepliesOfItsFlows) {
  auto runner = open_runner();
  ASSERT_TRUE(runner);
  ASSERT_EQ(runner->configure(EndpointSetup{}, {}), "");
  ASSERT_EQ(runner->run_action(Program::Stamp,
                               PacketBuilder::ipv4(kLocal4, kRemote4).tcp(45000, 5432).build(), 0),
            TC_ACT_OK);
  auto in = [&](const std::string& from, uint16_t sport, uint16_t dport) {
    return runner->run(Program::Enforce, tcp_in(dport, datapath::kTcpAck, sport, from), kOtherTag);
  };
  Outcome reply = in(kRemote4, 5432, 45000);
  EXPECT_EQ(reason_text(reply.reason), reason_text(WT_REASON_ALLOW_REPLY)) << reply;
  Outcome other_peer = in(kOtherRemote4, 5432, 45000);  // bit set, lookup misses
  EXPECT_EQ(reason_text(other_peer.reason), reason_text(WT_REASON_DROP_POLICY)) << other_peer;
  Outcome other_port = in(kRemote4, 5432, 45001);  // bit clear
  EXPECT_EQ(reason_text(other_port.reason), reason_text(WT_REASON_DROP_POLICY)) << other_port;
}

// Pinned state left by another process: a previous build that set no reply-port bits, or a
// crash between writing an endpoint's config and its index word.
class Adoption : public testing::Test {
 protected:
  void SetUp() override {
    pin_dir_ = "/sys/fs/bpf/wiretag-test-" + std::to_string(getpid());
    options_ = test_options();
    options_.pin_dir = pin_dir_;
  }
  void TearDown() override {
    runner_.reset();
    std::error_code ec;
    std::filesystem::remove_all(pin_dir_, ec);
  }
  void reopen() {
    runner_.reset();  // releases the pin dir's owner lock
    runner_ = open_runner(options_);
    ASSERT_TRUE(runner_);
  }
  // A fresh owner whose endpoint opened 45000 -> kRemote4:5432, whose reply passes.
  void open_with_a_flow() {
    reopen();
    ASSERT_EQ(runner_->configure(EndpointSetup{}, {}), "");
    ASSERT_EQ(
        runner_->run_action(Program::Stamp,
                            PacketBuilder::ipv4(kLocal4, kRemote4).tcp(45000, 5432).build(), 0),
        TC_ACT_OK);
    ASSERT_EQ(reason_text(reply()), reason_text(WT_REASON_ALLOW_REPLY));
  }
  uint32_t reply() {
    return runner_->run(Program::Enforce, tcp_in(45000, datapath::kTcpAck, 5432), kOtherTag).reason;
  }
  std::string pin_dir_;
  datapath::Options options_;
  std::unique_ptr<ProgRunner> runner_;
};

TEST_F(Adoption, FlowsWithoutReplyPortBitsGetThemWhenAdopted) {
  ASSERT_NO_FATAL_FAILURE(open_with_a_flow());

  // What a build without the filter leaves behind: the flow, and no bit.
  uint32_t word =
      runner_->datapath().endpoint_map().lookup(kTestIfindex)->slot * WT_REPLY_PORT_WORDS +
      (45000 >> 6);
  uint64_t zero = 0;
  ASSERT_EQ(
      bpf_map_update_elem(runner_->datapath().map_fd(WT_MAP_REPLY_PORTS), &word, &zero, BPF_ANY),
      0);
  ASSERT_EQ(reason_text(reply()), reason_text(WT_REASON_DROP_POLICY))
      << "the filter is in the path";

  reopen();
  EXPECT_EQ(reason_text(reply()), reason_text(WT_REASON_ALLOW_REPLY));
}

TEST_F(Adoption, FlowsTheCacheDoesNotHoldGetSpillBitsWhenAdopted) {
  ASSERT_NO_FATAL_FAILURE(open_with_a_flow());

  // What a build without the cache leaves behind: the flow in `flows`, an empty cache set
  // and no spill bit.
  in_addr remote{};
  ASSERT_EQ(inet_pton(AF_INET, kRemote4.c_str(), &remote), 1);
  uint32_t remote_word;
  std::memcpy(&remote_word, &remote, 4);
  const uint32_t slot = runner_->datapath().endpoint_map().lookup(kTestIfindex)->slot;
  in_addr local{};
  ASSERT_EQ(inet_pton(AF_INET, kLocal4.c_str(), &local), 1);
  uint32_t local_word;
  std::memcpy(&local_word, &local, 4);
  uint64_t ports = wt_flow_cache_ports(4, htons(5432), htons(45000), slot);
  uint32_t first =
      wt_flow_cache_set_entry(wt_flow_cache_mix(0, remote_word, 0, local_word, ports, IPPROTO_TCP),
                              runner_->datapath().flow_cache_shift(), slot);
  wt_flow_cache_entry empty{};
  for (uint32_t entry = first; entry < first + WT_FLOW_CACHE_WAYS; ++entry)
    ASSERT_EQ(
        bpf_map_update_elem(runner_->datapath().map_fd(WT_MAP_FLOW_CACHE), &entry, &empty, BPF_ANY),
        0);
  ASSERT_EQ(reason_text(reply()), reason_text(WT_REASON_DROP_POLICY)) << "the cache is in the path";

  reopen();
  EXPECT_EQ(reason_text(reply()), reason_text(WT_REASON_ALLOW_REPLY));
}

TEST_F(Adoption, IndexWordsAreRebuiltFromTheEndpointsHash) {
  reopen();
  ASSERT_EQ(runner_->configure(EndpointSetup{}, {}), "");
  ASSERT_TRUE(runner_->datapath().configure(kTestIfindex, settings_with(datapath::Mode::Audit)));
  auto denied = [&] { return runner_->run(Program::Enforce, tcp_in(80), kTag).verdict; };
  ASSERT_EQ(denied(), WT_VERDICT_PASS);

  // A crash after the hash write, before the word: the word still says enforce.
  wt_endpoint stale = *runner_->datapath().endpoint_map().lookup(kTestIfindex);
  stale.mode = WT_MODE_ENFORCE;
  uint32_t entry = kTestIfindex & (options_.endpoint_index_size - 1);
  uint64_t word = wt_endpoint_word(kTestIfindex, &stale);
  ASSERT_EQ(bpf_map_update_elem(runner_->datapath().map_fd(WT_MAP_ENDPOINT_INDEX), &entry, &word,
                                BPF_ANY),
            0);
  ASSERT_EQ(denied(), WT_VERDICT_DROP) << "enforce reads the word";

  reopen();
  EXPECT_EQ(denied(), WT_VERDICT_PASS);
}

TEST_F(Adoption, RuleFlagsAreRecomputedFromTheRulesInForce) {
  reopen();
  ASSERT_EQ(runner_->configure(EndpointSetup{}, {{0, Protocol::Tcp, PortRange{90, 99}}}), "");
  auto wildcard = [&] { return runner_->run(Program::Enforce, tcp_in(95), kTag).reason; };
  ASSERT_EQ(reason_text(wildcard()), reason_text(WT_REASON_ALLOW_WILDCARD));

  // An endpoint written by a build without rule flags, in the hash and in its word.
  auto& dp = runner_->datapath();
  wt_endpoint old = *dp.endpoint_map().lookup(kTestIfindex);
  old.flags &= ~WT_EP_RULE_FLAGS;
  ASSERT_TRUE(dp.endpoint_map().update(kTestIfindex, old));
  uint32_t entry = kTestIfindex & (options_.endpoint_index_size - 1);
  uint64_t word = wt_endpoint_word(kTestIfindex, &old);
  ASSERT_EQ(bpf_map_update_elem(dp.map_fd(WT_MAP_ENDPOINT_INDEX), &entry, &word, BPF_ANY), 0);
  // Such a build had no verdict cache either.
  for (uint32_t i = 0; i < WT_VERDICT_CACHE_ENTRIES; ++i) {
    uint32_t cached = old.slot * WT_VERDICT_CACHE_ENTRIES + i;
    uint64_t zero = 0;
    ASSERT_EQ(bpf_map_update_elem(dp.map_fd(WT_MAP_VERDICT_CACHE), &cached, &zero, BPF_ANY), 0);
  }
  ASSERT_EQ(reason_text(wildcard()), reason_text(WT_REASON_DROP_POLICY)) << "the flags matter";

  reopen();
  EXPECT_EQ(reason_text(wildcard()), reason_text(WT_REASON_ALLOW_WILDCARD));
}

TEST_F(Adoption, AnInspectorReadsMapsOfOtherSizesThanItsOwnOptions) {
  options_.max_endpoints = 64;
  reopen();
  ASSERT_EQ(runner_->configure(EndpointSetup{}, {{kTag, Protocol::Tcp, PortRange{80, 80}}}), "");
  ASSERT_EQ(runner_->run_action(Program::Enforce, tcp_in(80), kTag), TC_ACT_OK);

  datapath::Options inspect;  // defaults: another max_endpoints, other map sizes
  inspect.pin_dir = pin_dir_;
  inspect.read_only = true;
  auto dp = datapath::Datapath::open(inspect);
  ASSERT_TRUE(dp) << dp.error().code << ": " << dp.error().message;
  uint64_t allowed = 0;
  for (const auto& row : (*dp)->counters(kTestIfindex))
    if (row.key.reason == WT_REASON_ALLOW_RULE) allowed += row.total.packets;
  EXPECT_EQ(allowed, 1u);
}

// The flags let enforce skip src_policy and wildcard lookups; rules added in place must
// turn them on, and a replace must set them for the new generation.
TEST(RuleFlags, AddedWildcardAndRangeRulesAreLookedUpAndReplacedOnesAreNot) {
  auto runner = open_runner();
  ASSERT_TRUE(runner);
  auto& dp = runner->datapath();
  ASSERT_EQ(runner->configure(EndpointSetup{}, {{kTag, Protocol::Tcp, PortRange{80, 80}}}), "");
  auto flags = [&] { return dp.endpoint_map().lookup(kTestIfindex)->flags & WT_EP_RULE_FLAGS; };
  EXPECT_EQ(flags(), 0);

  ASSERT_TRUE(dp.add_rules(kTestIfindex, {{0, Protocol::Tcp, PortRange{443, 443}},
                                          {0, Protocol::Tcp, PortRange{90, 99}},
                                          {kOtherTag, Protocol::Udp, std::nullopt}}));
  EXPECT_EQ(flags(), WT_EP_HAS_SRC_POLICY | WT_EP_HAS_WILDCARD_PORTS | WT_EP_HAS_WILDCARD_SRC);
  auto reason = [&](std::vector<uint8_t> packet) {
    return reason_text(runner->run(Program::Enforce, packet, kOtherTag).reason);
  };
  auto udp_in = [](uint16_t dport) {
    return PacketBuilder::ipv4(kRemote4, kLocal4).udp(40000, dport).build();
  };
  EXPECT_EQ(reason(tcp_in(443)), reason_text(WT_REASON_ALLOW_WILDCARD));
  EXPECT_EQ(reason(tcp_in(95)), reason_text(WT_REASON_ALLOW_WILDCARD));
  EXPECT_EQ(reason(udp_in(7)), reason_text(WT_REASON_ALLOW_RULE));
  EXPECT_EQ(reason(tcp_in(80)), reason_text(WT_REASON_DROP_POLICY));

  ASSERT_TRUE(dp.replace_policy(kTestIfindex, {{kOtherTag, Protocol::Tcp, PortRange{80, 80}}}));
  EXPECT_EQ(flags(), 0);
  EXPECT_EQ(reason(tcp_in(80)), reason_text(WT_REASON_ALLOW_RULE));
  EXPECT_EQ(reason(tcp_in(443)), reason_text(WT_REASON_DROP_POLICY));
  EXPECT_EQ(reason(udp_in(7)), reason_text(WT_REASON_DROP_POLICY));
}

}  // namespace
}  // namespace wiretag::test
