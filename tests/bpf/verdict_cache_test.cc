// The verdict cache (abi.h, docs/datapath.md): enforce answers a (tag, protocol, port) it
// saw before from the endpoint's slot, and never with an answer from rules that changed.
// Each test can fail: where a test changes the maps behind the datapath's back, it first
// shows that the cache is what answers.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "datapath/packet_builder.h"
#include "prog_runner.h"

namespace wiretag::test {
namespace {

using datapath::PacketBuilder;

const std::string kLocal4 = "198.18.0.2", kRemote4 = "198.18.1.1";
constexpr uint32_t kTag = 5, kOtherTag = 6;

std::vector<uint8_t> tcp_in(uint16_t dport) {
  return PacketBuilder::ipv4(kRemote4, kLocal4).tcp(40000, dport, datapath::kTcpSyn).build();
}
std::vector<uint8_t> udp_in(uint16_t dport) {
  return PacketBuilder::ipv4(kRemote4, kLocal4).udp(40000, dport).build();
}

const std::vector<Rule> kTcp80 = {{kTag, Protocol::Tcp, PortRange{80, 80}}};

class VerdictCache : public testing::Test {
 protected:
  void SetUp() override { open(test_options()); }
  void open(const datapath::Options& options) {
    runner_ = open_runner(options);
    ASSERT_TRUE(runner_);
  }
  datapath::Datapath& dp() { return runner_->datapath(); }
  std::string reason(const std::vector<uint8_t>& pkt, uint32_t tag = kTag) {
    return reason_text(runner_->run(Program::Enforce, pkt, tag).reason);
  }
  uint32_t slot() { return dp().endpoint_map().lookup(kTestIfindex)->slot; }
  uint64_t word(uint32_t tag, uint16_t port, uint8_t cls) {
    uint32_t index = wt_verdict_index(slot(), wt_verdict_key(tag, port, cls));
    uint64_t w = 0;
    EXPECT_EQ(bpf_map_lookup_elem(dp().map_fd(WT_MAP_VERDICT_CACHE), &index, &w), 0);
    return w;
  }
  // Removes the endpoint's rules from the maps without the datapath knowing.
  void erase_rules_behind_its_back() {
    std::vector<wt_port_key> keys;
    dp().port_policy_map().for_each_key([&](const wt_port_key& k) { keys.push_back(k); });
    ASSERT_FALSE(keys.empty());
    for (const auto& k : keys) ASSERT_TRUE(dp().port_policy_map().erase(k));
  }
  std::unique_ptr<ProgRunner> runner_;
};

const std::string kRule = reason_text(WT_REASON_ALLOW_RULE);
const std::string kWildcard = reason_text(WT_REASON_ALLOW_WILDCARD);
const std::string kDenied = reason_text(WT_REASON_DROP_POLICY);

TEST_F(VerdictCache, ARepeatedPacketIsAnsweredFromTheCacheUntilTheEndpointChanges) {
  ASSERT_EQ(runner_->configure(EndpointSetup{}, kTcp80), "");
  ASSERT_EQ(reason(tcp_in(80)), kRule);
  const uint64_t w = word(kTag, 80, WT_CLASS_TCP);
  EXPECT_EQ(w & WT_VERDICT_KEY_MASK, wt_verdict_key(kTag, 80, WT_CLASS_TCP));
  EXPECT_EQ((w >> 34) & 3, uint64_t{WT_VERDICT_CODE_RULE});

  erase_rules_behind_its_back();
  EXPECT_EQ(reason(tcp_in(80)), kRule) << "the cache answers, not the maps";
  // Any config write gives the endpoint a new epoch.
  ASSERT_TRUE(dp().configure(kTestIfindex, datapath::settings_of(*dp().endpoint_map().lookup(kTestIfindex))));
  EXPECT_EQ(reason(tcp_in(80)), kDenied);
}

TEST_F(VerdictCache, AReplaceThatRemovesARuleEndsItsCachedAllow) {
  ASSERT_EQ(runner_->configure(EndpointSetup{}, kTcp80), "");
  ASSERT_EQ(reason(tcp_in(80)), kRule);
  ASSERT_EQ(reason(tcp_in(80)), kRule);
  ASSERT_TRUE(dp().replace_policy(kTestIfindex, {}));
  EXPECT_EQ(reason(tcp_in(80)), kDenied);
  EXPECT_EQ(reason(tcp_in(80)), kDenied);
  ASSERT_TRUE(dp().replace_policy(kTestIfindex, kTcp80));
  EXPECT_EQ(reason(tcp_in(80)), kRule);
}

TEST_F(VerdictCache, AddedRulesEndCachedDenials) {
  ASSERT_EQ(runner_->configure(EndpointSetup{}, kTcp80), "");
  ASSERT_EQ(reason(tcp_in(81)), kDenied);
  ASSERT_EQ(reason(tcp_in(81)), kDenied);
  EXPECT_EQ((word(kTag, 81, WT_CLASS_TCP) >> 34) & 3, uint64_t{WT_VERDICT_CODE_DENIED});
  // An exact port adds no rule flag: add_rules writes no config, and still ends the denial.
  ASSERT_TRUE(dp().add_rules(kTestIfindex, {{kTag, Protocol::Tcp, PortRange{81, 81}}}));
  EXPECT_EQ(reason(tcp_in(81)), kRule);
  // A range adds a flag: the config write ends the denial.
  ASSERT_EQ(reason(tcp_in(90)), kDenied);
  ASSERT_TRUE(dp().add_rules(kTestIfindex, {{kTag, Protocol::Tcp, PortRange{90, 99}}}));
  EXPECT_EQ(reason(tcp_in(90)), kRule);
}

TEST_F(VerdictCache, AnswersAreKeptApartByTagProtocolAndPort) {
  ASSERT_EQ(runner_->configure(EndpointSetup{}, {{kTag, Protocol::Tcp, PortRange{80, 80}},
                                                  {0, Protocol::Udp, PortRange{53, 53}},
                                                  {kOtherTag, Protocol::Icmp, std::nullopt}}),
            "");
  struct Case {
    const char* what;
    std::vector<uint8_t> pkt;
    uint32_t tag;
    std::string want;
  };
  auto icmp = PacketBuilder::ipv4(kRemote4, kLocal4).icmp_echo_request(1).build();
  const std::vector<Case> cases = {
      {"tcp/80 from the tag", tcp_in(80), kTag, kRule},
      {"tcp/80 from another tag", tcp_in(80), kOtherTag, kDenied},
      {"udp/80 from the tag", udp_in(80), kTag, kDenied},
      {"tcp/81 from the tag", tcp_in(81), kTag, kDenied},
      {"udp/53 from any tag", udp_in(53), kTag, kWildcard},
      {"udp/53 from another", udp_in(53), kOtherTag, kWildcard},
      {"tcp/53", tcp_in(53), kTag, kDenied},
      {"icmp from the icmp tag", icmp, kOtherTag, kRule},
      {"icmp from the tcp tag", icmp, kTag, kDenied},
  };
  // Twice: the second round is answered from the cache and must agree with the first.
  for (int round = 0; round < 2; ++round)
    for (const auto& c : cases) EXPECT_EQ(reason(c.pkt, c.tag), c.want) << c.what << ", round " << round;
}

TEST_F(VerdictCache, ASlotsNextOwnerDoesNotInheritItsAnswers) {
  ASSERT_EQ(runner_->configure(EndpointSetup{}, kTcp80), "");
  ASSERT_EQ(reason(tcp_in(80)), kRule);
  const uint32_t old_slot = slot();
  ASSERT_TRUE(dp().forget(kTestIfindex));
  ASSERT_EQ(runner_->configure(EndpointSetup{}, {}), "");
  ASSERT_EQ(slot(), old_slot);
  EXPECT_EQ(word(kTag, 80, WT_CLASS_TCP), 0u) << "a slot is handed out clean";
  EXPECT_EQ(reason(tcp_in(80)), kDenied);
}

TEST_F(VerdictCache, WiderTagsThanSixteenBitsAreNotCached) {
  datapath::Options options = test_options();
  options.tag_length = 4;
  open(options);
  const uint32_t wide = 0x10005;  // the same low 16 bits as kTag
  ASSERT_EQ(runner_->configure(EndpointSetup{}, {{wide, Protocol::Tcp, PortRange{80, 80}}}), "");
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(reason(tcp_in(80), wide), kRule);
    EXPECT_EQ(reason(tcp_in(80), kTag), kDenied);
  }
  EXPECT_EQ(word(kTag, 80, WT_CLASS_TCP), 0u);
}

// While packets keep filling the cache from another CPU, every replace is in force for the
// next packet after it returns: no answer of the rules before it is read back.
TEST_F(VerdictCache, NoAnswerOutlivesAReplaceWhilePacketsRun) {
  ASSERT_EQ(runner_->configure(EndpointSetup{}, kTcp80), "");
  const auto pkt = tcp_in(80);
  std::atomic<bool> stop{false};
  std::thread traffic([&] {
    while (!stop) (void)runner_->run_action(Program::Enforce, pkt, kTag);
  });
  int wrong = 0;
  for (int i = 0; i < 200; ++i) {
    const bool allow = i % 2 == 1;
    ASSERT_TRUE(dp().replace_policy(kTestIfindex, allow ? kTcp80 : std::vector<Rule>{}));
    for (int j = 0; j < 3; ++j)
      if (runner_->run_action(Program::Enforce, pkt, kTag) != (allow ? TC_ACT_OK : TC_ACT_SHOT)) ++wrong;
  }
  stop = true;
  traffic.join();
  EXPECT_EQ(wrong, 0);
}

TEST(VerdictCacheAdoption, AStartingOwnerEndsEveryCachedAnswer) {
  const std::string pin_dir = "/sys/fs/bpf/wiretag-test-vc-" + std::to_string(getpid());
  datapath::Options options = test_options();
  options.pin_dir = pin_dir;
  {
    auto runner = open_runner(options);
    ASSERT_TRUE(runner);
    ASSERT_EQ(runner->configure(EndpointSetup{}, kTcp80), "");
    ASSERT_EQ(reason_text(runner->run(Program::Enforce, tcp_in(80), kTag).reason), kRule);
    // An owner that died between a rule change and its epoch store.
    auto& dp = runner->datapath();
    std::vector<wt_port_key> keys;
    dp.port_policy_map().for_each_key([&](const wt_port_key& k) { keys.push_back(k); });
    for (const auto& k : keys) ASSERT_TRUE(dp.port_policy_map().erase(k));
    ASSERT_EQ(reason_text(runner->run(Program::Enforce, tcp_in(80), kTag).reason), kRule)
        << "the cache answers";
  }
  {
    auto runner = open_runner(options);
    ASSERT_TRUE(runner);
    EXPECT_EQ(reason_text(runner->run(Program::Enforce, tcp_in(80), kTag).reason), kDenied);
  }
  std::error_code ec;
  std::filesystem::remove_all(pin_dir, ec);
}

}  // namespace
}  // namespace wiretag::test
