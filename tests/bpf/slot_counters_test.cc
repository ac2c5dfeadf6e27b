// Where a packet is counted: an endpoint's every reason, drops and audited would-drops
// included, in slot_counters at wt_slot_counter_index(); a device without an endpoint in the
// counters hash. Datapath::counters() reads both into the rows it always returned.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>

#include <cstring>
#include <string>
#include <vector>

#include "datapath/packet_builder.h"
#include "prog_runner.h"

namespace wiretag::test {
namespace {

const std::string kLocal4 = "198.18.0.2", kRemote4 = "198.18.1.1";
constexpr uint32_t kTag = 5;

size_t possible_cpus() {
  int n = libbpf_num_possible_cpus();
  return n > 0 ? n : 1;
}

// A slot_counters element summed over CPUs.
wt_counter slot_total(const datapath::Datapath& dp, uint32_t index) {
  std::vector<wt_counter> per_cpu(possible_cpus());
  wt_counter total{};
  EXPECT_EQ(bpf_map_lookup_elem(dp.map_fd(WT_MAP_SLOT_COUNTERS), &index, per_cpu.data()), 0);
  for (const auto& c : per_cpu) {
    total.packets += c.packets;
    total.bytes += c.bytes;
  }
  return total;
}

std::vector<wt_counter_key> hash_keys(const datapath::Datapath& dp) {
  std::vector<wt_counter_key> keys;
  datapath::TypedMap<wt_counter_key, wt_counter>(dp.counters_fd(), WT_MAP_COUNTERS)
      .for_each_key([&](const wt_counter_key& k) { keys.push_back(k); });
  return keys;
}

std::unique_ptr<ProgRunner> open_runner(const EndpointSetup& endpoint) {
  std::string error;
  auto runner = ProgRunner::open(test_options(), &error);
  EXPECT_TRUE(runner) << error;
  if (runner) {
    EXPECT_EQ(runner->configure(endpoint, {{kTag, Protocol::Tcp, PortRange{80, 80}}}), "");
  }
  return runner;
}

PacketBuilder in4() { return PacketBuilder::ipv4(kRemote4, kLocal4); }
PacketBuilder out4() { return PacketBuilder::ipv4(kLocal4, kRemote4); }

struct SlotCase {
  std::string name;
  uint8_t mode;
  Program prog;
  PacketBuilder packet;
  uint32_t mark;
  uint32_t reason;
  uint8_t verdict;
};

std::vector<SlotCase> slot_cases() {
  constexpr uint8_t kEnforce = WT_MODE_ENFORCE, kAudit = WT_MODE_AUDIT;
  constexpr uint8_t kPass = WT_VERDICT_PASS, kDrop = WT_VERDICT_DROP;
  auto spoofed = PacketBuilder::ipv4("198.18.0.9", kRemote4).udp(1, 53);
  return {
      {"AllowedRule", kEnforce, Program::Enforce, in4().tcp(1, 80), kTag, WT_REASON_ALLOW_RULE,
       kPass},
      {"Stamped", kEnforce, Program::Stamp, out4().udp(5353, 53), 0, WT_REASON_STAMPED, kPass},
      {"PolicyDrop", kEnforce, Program::Enforce, in4().tcp(1, 81), kTag, WT_REASON_DROP_POLICY,
       kDrop},
      {"AuditedPolicyDropPasses", kAudit, Program::Enforce, in4().tcp(1, 81), kTag,
       WT_REASON_DROP_POLICY, kPass},
      {"UntaggedDrop", kEnforce, Program::Enforce, in4().tcp(1, 80), 0, WT_REASON_DROP_UNTAGGED,
       kDrop},
      {"AuditedUntaggedPasses", kAudit, Program::Enforce, in4().tcp(1, 80), 0,
       WT_REASON_DROP_UNTAGGED, kPass},
      {"MalformedOnEnforce", kEnforce, Program::Enforce, in4().udp(1, 53).ihl(4), kTag,
       WT_REASON_DROP_IPV4_IHL, kDrop},
      {"AuditedMalformedOnStamp", kAudit, Program::Stamp, out4().udp(1, 53).ihl(4), 0,
       WT_REASON_DROP_IPV4_IHL, kPass},
      {"SpoofedOnStamp", kEnforce, Program::Stamp, spoofed, 0, WT_REASON_DROP_SPOOFED, kDrop},
      {"AuditedSpoofedOnStamp", kAudit, Program::Stamp, spoofed, 0, WT_REASON_DROP_SPOOFED, kPass},
      {"LaterFragmentDrop", kEnforce, Program::Enforce,
       in4().fragment(5, false, 1).raw_l4(IPPROTO_UDP, 16), kTag, WT_REASON_DROP_FRAGMENT, kDrop},
  };
}

class SlotCounting : public testing::TestWithParam<SlotCase> {};

// Each case: exactly its row changes, the endpoint's slot holds the packet at the column of
// its reason and verdict, and the counters hash holds nothing of the endpoint.
TEST_P(SlotCounting, CountsTheEndpointsReasonInItsSlot) {
  const SlotCase& c = GetParam();
  EndpointSetup endpoint;
  endpoint.mode = c.mode;
  endpoint.untagged = WT_UNTAGGED_DENY;
  endpoint.flags = WT_EP_ANTISPOOF_V4;
  endpoint.ipv4 = kLocal4;
  auto runner = open_runner(endpoint);
  ASSERT_TRUE(runner);
  auto& dp = runner->datapath();
  auto frame = c.packet.build();

  Outcome o = runner->run(c.prog, frame, c.mark);
  ASSERT_TRUE(o.error.empty()) << o;
  EXPECT_EQ(reason_text(o.reason), reason_text(c.reason)) << o;
  EXPECT_EQ(int(o.verdict), int(c.verdict)) << o;
  EXPECT_EQ(o.ifindex, kTestIfindex) << o;
  EXPECT_EQ(o.counter_rows_changed, 1) << o;
  EXPECT_EQ(o.retval, c.verdict == WT_VERDICT_DROP ? TC_ACT_SHOT : TC_ACT_OK) << o;

  const uint32_t slot = dp.endpoint_map().lookup(kTestIfindex)->slot;
  const uint32_t dir = c.prog == Program::Stamp ? WT_DIR_STAMP : WT_DIR_ENFORCE;
  wt_counter counted = slot_total(dp, wt_slot_counter_index(slot, dir, c.reason, c.verdict));
  EXPECT_EQ(counted.packets, 1u);
  EXPECT_EQ(counted.bytes, frame.size());
  EXPECT_TRUE(hash_keys(dp).empty()) << "an endpoint's packets are not counted in the hash";
}

INSTANTIATE_TEST_SUITE_P(Table, SlotCounting, testing::ValuesIn(slot_cases()),
                         [](const testing::TestParamInfo<SlotCase>& info) {
                           return info.param.name;
                         });

TEST(SlotCounters, DropsWithoutAnEndpointStayInTheHash) {
  std::string error;
  auto runner = ProgRunner::open(test_options(), &error);
  ASSERT_TRUE(runner) << error;
  auto frame = in4().tcp(1, 80).build();
  for (Program prog : {Program::Stamp, Program::Enforce, Program::Enforce})
    ASSERT_EQ(runner->run_action(prog, frame, kTag), TC_ACT_SHOT);

  auto keys = hash_keys(runner->datapath());
  ASSERT_EQ(keys.size(), 2u);
  for (const auto& k : keys) {
    EXPECT_EQ(k.ifindex, kTestIfindex);
    EXPECT_EQ(reason_text(k.reason), reason_text(WT_REASON_DROP_NO_ENDPOINT));
    EXPECT_EQ(k.verdict, WT_VERDICT_DROP);
  }
  uint64_t stamp = 0, enforce = 0;
  for (const auto& row : runner->datapath().counters(kTestIfindex))
    (row.key.direction == WT_DIR_STAMP ? stamp : enforce) += row.total.packets;
  EXPECT_EQ(stamp, 1u);
  EXPECT_EQ(enforce, 2u);
}

// What a build before slot_counters left in the hash adds to the slot's count: one row.
TEST(SlotCounters, RowsOfAnOlderBuildInTheHashAddToTheSlotsRow) {
  auto runner = open_runner(EndpointSetup{});
  ASSERT_TRUE(runner);
  auto& dp = runner->datapath();
  const wt_counter_key key{kTestIfindex, WT_DIR_ENFORCE, WT_REASON_DROP_POLICY, WT_VERDICT_DROP, 0};
  std::vector<wt_counter> old(possible_cpus());
  old[0] = {4, 400};
  ASSERT_EQ(bpf_map_update_elem(dp.counters_fd(), &key, old.data(), BPF_NOEXIST), 0);
  auto frame = in4().tcp(1, 81).build();
  ASSERT_EQ(runner->run_action(Program::Enforce, frame, kTag), TC_ACT_SHOT);

  auto rows = dp.counters(kTestIfindex);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(std::memcmp(&rows[0].key, &key, sizeof key), 0);
  EXPECT_EQ(rows[0].total.packets, 5u);
  EXPECT_EQ(rows[0].total.bytes, 400 + frame.size());
}

// The rows' shape callers rely on: one per key, in key order, pad zero, no empty row.
TEST(SlotCounters, CountersAreOneRowPerKeyInKeyOrder) {
  EndpointSetup endpoint;
  endpoint.mode = WT_MODE_AUDIT;
  auto runner = open_runner(endpoint);
  ASSERT_TRUE(runner);
  auto& dp = runner->datapath();
  ASSERT_EQ(runner->run_action(Program::Enforce, in4().tcp(1, 80).build(), kTag), TC_ACT_OK);
  ASSERT_EQ(runner->run_action(Program::Enforce, in4().tcp(1, 81).build(), kTag), TC_ACT_OK);
  ASSERT_EQ(runner->run_action(Program::Enforce, in4().tcp(1, 81).build(), kTag), TC_ACT_OK);
  ASSERT_EQ(runner->run_action(Program::Stamp, out4().udp(5353, 53).build(), 0), TC_ACT_OK);
  auto settings = datapath::settings_of(*dp.endpoint_map().lookup(kTestIfindex));
  settings.mode = datapath::Mode::Enforce;
  ASSERT_TRUE(dp.configure(kTestIfindex, settings));
  ASSERT_EQ(runner->run_action(Program::Enforce, in4().tcp(1, 81).build(), kTag), TC_ACT_SHOT);
  ASSERT_EQ(runner->run_action(Program::Enforce, in4().tcp(1, 80).build(), kTag + 1), TC_ACT_SHOT);
  ASSERT_EQ(runner->run_action(Program::Stamp, out4().udp(1, 53).ihl(4).build(), 0), TC_ACT_SHOT);

  struct Row {
    uint8_t direction, reason, verdict;
    uint64_t packets;
  };
  const std::vector<Row> expected = {
      {WT_DIR_STAMP, WT_REASON_STAMPED, WT_VERDICT_PASS, 1},
      {WT_DIR_STAMP, WT_REASON_DROP_IPV4_IHL, WT_VERDICT_DROP, 1},
      {WT_DIR_ENFORCE, WT_REASON_ALLOW_RULE, WT_VERDICT_PASS, 1},
      {WT_DIR_ENFORCE, WT_REASON_DROP_POLICY, WT_VERDICT_PASS, 2},
      {WT_DIR_ENFORCE, WT_REASON_DROP_POLICY, WT_VERDICT_DROP, 2},
  };
  auto rows = dp.counters();
  ASSERT_EQ(rows.size(), expected.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& k = rows[i].key;
    SCOPED_TRACE("row " + std::to_string(i) + ": " + reason_text(k.reason));
    EXPECT_EQ(k.ifindex, kTestIfindex);
    EXPECT_EQ(k.direction, expected[i].direction);
    EXPECT_EQ(reason_text(k.reason), reason_text(expected[i].reason));
    EXPECT_EQ(k.verdict, expected[i].verdict);
    EXPECT_EQ(k.pad, 0);
    EXPECT_EQ(rows[i].total.packets, expected[i].packets);
    if (i > 0) {
      EXPECT_LT(std::memcmp(&rows[i - 1].key, &k, sizeof k), 0) << "key order, one row per key";
    }
  }
}

}  // namespace
}  // namespace wiretag::test
