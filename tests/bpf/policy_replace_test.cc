// Atomic policy replacement under traffic: packets see all of the old rules or all of the
// new ones, an allowed flow never drops, and a revoked rule is gone once replace returns.
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "datapath/packet_builder.h"
#include "prog_runner.h"

namespace wiretag::test {
namespace {

constexpr uint32_t kTag = 5;

void pin_to_cpu(int cpu) {
  if (std::thread::hardware_concurrency() < 2) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

TEST(PolicyReplace, AllowedFlowNeverDropsWhileRulesFlipBetweenEquivalentSets) {
  std::string error;
  auto runner = ProgRunner::open(test_options(), &error);
  ASSERT_TRUE(runner) << error;
  // A and B both allow P (tcp/8080), by an exact port and by a range; only A allows Q (udp/53).
  const std::vector<Rule> a = {{kTag, Protocol::Tcp, PortRange{8080, 8080}},
                               {kTag, Protocol::Udp, PortRange{53, 53}}};
  const std::vector<Rule> b = {{kTag, Protocol::Tcp, PortRange{8000, 8191}},
                               {0, Protocol::Icmp, std::nullopt}};
  ASSERT_EQ(runner->configure(EndpointSetup{}, a), "");
  const auto p = PacketBuilder::ipv4("198.18.1.1", "198.18.0.2").tcp(40000, 8080).build();
  const auto q = PacketBuilder::ipv4("198.18.1.1", "198.18.0.2").udp(40000, 53).build();
  const auto p6 = PacketBuilder::ipv6("2001:2::1:1", "2001:2::2").tcp(40000, 8080).build();

  // Both loops overlap entirely: replacing goes on until the traffic has made its runs.
  constexpr int kMinReplacePairs = 400;
  constexpr int kMinRuns = 20000;
  std::atomic<bool> replacing_done{false};
  std::atomic<int> runs{0}, not_passed{0}, run_errors{0};

  cpu_set_t saved;
  ASSERT_EQ(pthread_getaffinity_np(pthread_self(), sizeof saved, &saved), 0);
  std::thread traffic([&] {
    pin_to_cpu(1);  // the replacer stays on CPU 0, so the two really run at once
    while (!replacing_done.load()) {
      int rc = runner->run_action(Program::Enforce, runs.load() % 2 ? p : p6, kTag);
      if (rc < 0)
        ++run_errors;
      else if (rc != TC_ACT_OK)
        ++not_passed;
      ++runs;
    }
  });

  int q_wrong = 0, replace_errors = 0;
  pin_to_cpu(0);
  int pairs = 0;
  for (; pairs < kMinReplacePairs || runs.load() < kMinRuns; ++pairs) {
    if (!runner->datapath().replace_policy(kTestIfindex, b)) ++replace_errors;
    // B is in force once replace returns: Q, allowed only by A, must drop from now on.
    for (int k = 0; k < 3; ++k)
      if (runner->run_action(Program::Enforce, q, kTag) != TC_ACT_SHOT) ++q_wrong;
    if (!runner->datapath().replace_policy(kTestIfindex, a)) ++replace_errors;
    if (runner->run_action(Program::Enforce, q, kTag) != TC_ACT_OK) ++q_wrong;
  }
  replacing_done = true;
  traffic.join();
  (void)pthread_setaffinity_np(pthread_self(), sizeof saved, &saved);
  RecordProperty("replace_pairs", pairs);
  RecordProperty("runs", runs.load());

  EXPECT_EQ(replace_errors, 0);
  EXPECT_EQ(run_errors.load(), 0);
  EXPECT_GE(runs.load(), kMinRuns);
  EXPECT_EQ(not_passed.load(), 0) << "of " << runs.load() << " runs of an always-allowed packet";
  EXPECT_EQ(q_wrong, 0) << "Q judged by the old generation after replace returned";

  uint64_t dropped = 0;
  for (const auto& row : runner->datapath().counters(kTestIfindex))
    if (row.key.verdict == WT_VERDICT_DROP && row.key.reason != WT_REASON_DROP_POLICY)
      dropped += row.total.packets;
  EXPECT_EQ(dropped, 0u) << "only Q's policy drops are expected";
}

TEST(PolicyReplace, ReplacedRulesLeaveNoEntriesOfTheOldGeneration) {
  std::string error;
  auto runner = ProgRunner::open(test_options(), &error);
  ASSERT_TRUE(runner) << error;
  ASSERT_EQ(runner->configure(EndpointSetup{}, {{kTag, Protocol::Tcp, PortRange{1000, 2000}},
                                                {0, Protocol::Udp, PortRange{53, 53}}}),
            "");
  const std::vector<Rule> next = {{kTag, Protocol::Tcp, PortRange{443, 444}},
                                  {kTag, Protocol::Icmp, std::nullopt}};
  ASSERT_TRUE(runner->datapath().replace_policy(kTestIfindex, next));
  runner->datapath().settle();  // else the stale reaper may still be erasing the old ones
  auto ep = runner->datapath().endpoint_map().lookup(kTestIfindex);
  ASSERT_TRUE(ep);
  size_t src = 0, port = 0;
  runner->datapath().src_policy_map().for_each_key([&](const wt_src_key& k) {
    EXPECT_EQ(k.generation, ep->generation);
    ++src;
  });
  runner->datapath().port_policy_map().for_each_key([&](const wt_port_key& k) {
    EXPECT_EQ(k.plen_gen & 1, ep->generation);
    ++port;
  });
  auto compiled = PolicyCompiler::compile(kTestIfindex, ep->generation, next);
  ASSERT_TRUE(compiled);
  EXPECT_EQ(src, compiled->src_keys.size());
  EXPECT_EQ(port, compiled->port_keys.size());
  auto in = PacketBuilder::ipv4("198.18.1.1", "198.18.0.2");
  EXPECT_EQ(runner->run_action(Program::Enforce, in.tcp(40000, 1500).build(), kTag), TC_ACT_SHOT);
  EXPECT_EQ(runner->run_action(Program::Enforce, in.udp(40000, 53).build(), kTag), TC_ACT_SHOT);
  EXPECT_EQ(runner->run_action(Program::Enforce, in.tcp(40000, 444).build(), kTag), TC_ACT_OK);
}

int enforce(ProgRunner& runner, uint16_t dport) {
  return runner.run_action(
      Program::Enforce, PacketBuilder::ipv4("198.18.1.1", "198.18.0.2").tcp(40000, dport).build(),
      kTag);
}

TEST(PolicyReplace, RejectedRulesLeaveTheOldRulesInForce) {
  std::string error;
  auto runner = ProgRunner::open(test_options(), &error);
  ASSERT_TRUE(runner) << error;
  ASSERT_EQ(runner->configure(EndpointSetup{}, {{kTag, Protocol::Tcp, PortRange{80, 80}}}), "");
  auto r = runner->datapath().replace_policy(
      kTestIfindex,
      {{kTag, Protocol::Tcp, PortRange{443, 443}}, {kTag, Protocol::Icmp, PortRange{1, 2}}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "INVALID_RULE");
  EXPECT_EQ(enforce(*runner, 80), TC_ACT_OK);
  EXPECT_EQ(enforce(*runner, 443), TC_ACT_SHOT);
}

TEST(PolicyReplace, PolicyTooBigForTheMapsLeavesTheOldRulesInForce) {
  auto options = test_options();
  options.max_policy_entries = 8;
  std::string error;
  auto runner = ProgRunner::open(options, &error);
  ASSERT_TRUE(runner) << error;
  ASSERT_EQ(runner->configure(EndpointSetup{}, {{kTag, Protocol::Tcp, PortRange{80, 80}}}), "");
  // 1..65534 decomposes into 30 prefixes: more than the port map holds.
  auto r =
      runner->datapath().replace_policy(kTestIfindex, {{kTag, Protocol::Tcp, PortRange{1, 65534}}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "MAP_FULL");
  EXPECT_EQ(enforce(*runner, 80), TC_ACT_OK);
  EXPECT_EQ(enforce(*runner, 81), TC_ACT_SHOT);
  auto ep = runner->datapath().endpoint_map().lookup(kTestIfindex);
  ASSERT_TRUE(ep);
  size_t port_entries = 0;
  runner->datapath().port_policy_map().for_each_key([&](const wt_port_key& k) {
    EXPECT_EQ(k.plen_gen & 1, ep->generation) << "half-written generation left behind";
    ++port_entries;
  });
  EXPECT_EQ(port_entries, 1u);
  // And the maps still take a policy that fits.
  ASSERT_TRUE(
      runner->datapath().replace_policy(kTestIfindex, {{kTag, Protocol::Tcp, PortRange{81, 81}}}));
  EXPECT_EQ(enforce(*runner, 81), TC_ACT_OK);
  EXPECT_EQ(enforce(*runner, 80), TC_ACT_SHOT);
}

// Large policies are written by several threads at once; one of them failing must leave
// nothing of the new generation behind, whatever the others wrote.
TEST(PolicyReplace, LargePolicyTooBigForTheMapsLeavesTheOldRulesInForce) {
  auto options = test_options();
  options.max_policy_entries = 1u << 17;
  std::string error;
  auto runner = ProgRunner::open(options, &error);
  ASSERT_TRUE(runner) << error;
  ASSERT_EQ(runner->configure(EndpointSetup{}, {{kTag, Protocol::Tcp, PortRange{80, 80}}}), "");
  std::vector<Rule> big;  // 140k exact-port rules: 140k port_policy entries
  for (uint32_t tag = 10; big.size() < 140000; ++tag)
    for (uint16_t port = 1000; port < 1010; ++port)
      big.push_back({tag, Protocol::Tcp, PortRange{port, port}});
  auto r = runner->datapath().replace_policy(kTestIfindex, big);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "MAP_FULL");
  EXPECT_EQ(enforce(*runner, 80), TC_ACT_OK);
  EXPECT_EQ(enforce(*runner, 81), TC_ACT_SHOT);
  size_t port_entries = 0;
  runner->datapath().port_policy_map().for_each_key([&](const wt_port_key&) { ++port_entries; });
  EXPECT_EQ(port_entries, 1u) << "entries of the failed generation left behind";

  big.resize(100000);  // fits: written by several threads, then in force
  ASSERT_TRUE(runner->datapath().replace_policy(kTestIfindex, big));
  runner->datapath().settle();
  port_entries = 0;
  runner->datapath().port_policy_map().for_each_key([&](const wt_port_key&) { ++port_entries; });
  EXPECT_EQ(port_entries, 100000u);
  EXPECT_EQ(enforce(*runner, 80), TC_ACT_SHOT);
}

// Entries of each generation in the port map: {generation 0, generation 1}.
std::array<size_t, 2> port_entries_by_generation(datapath::Datapath& dp) {
  std::array<size_t, 2> n{};
  dp.port_policy_map().for_each_key([&](const wt_port_key& k) { ++n[k.plen_gen & 1]; });
  return n;
}

// replace_policy returns once the new rules are in force; the stale reaper erases the old
// generation after it, without anyone calling settle().
TEST(PolicyReplace, TheStaleReaperErasesTheOldGenerationAfterReplaceReturns) {
  std::string error;
  auto runner = ProgRunner::open(test_options(), &error);
  ASSERT_TRUE(runner) << error;
  std::vector<Rule> old_rules, new_rules;
  for (uint16_t port = 1000; port < 1500; ++port) {
    old_rules.push_back({kTag, Protocol::Tcp, PortRange{port, port}});
    new_rules.push_back(
        {kTag, Protocol::Tcp,
         PortRange{static_cast<uint16_t>(port + 1000), static_cast<uint16_t>(port + 1000)}});
  }
  ASSERT_EQ(runner->configure(EndpointSetup{}, old_rules), "");
  ASSERT_TRUE(runner->datapath().replace_policy(kTestIfindex, new_rules));
  EXPECT_EQ(enforce(*runner, 1000), TC_ACT_SHOT) << "the old rules are out of force at once";
  EXPECT_EQ(enforce(*runner, 2000), TC_ACT_OK);
  const int gen = runner->datapath().endpoint_map().lookup(kTestIfindex)->generation & 1;
  std::array<size_t, 2> n{};
  for (int i = 0; i < 500; ++i) {  // up to 5 s: a condition awaited, not a time measured
    n = port_entries_by_generation(runner->datapath());
    if (n[gen ^ 1] == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(n[gen ^ 1], 0u) << "the old generation was not erased in the background";
  EXPECT_EQ(n[gen], new_rules.size());
}

// Without the background reaper the old generation waits, and whatever writes the policy
// maps next erases it first: another endpoint's replace finds room for its rules.
TEST(PolicyReplace, TheNextWriteErasesOldGenerationsBeforeItWrites) {
  auto options = test_options();
  options.stale_reaper = false;
  options.max_policy_entries = 8;
  std::string error;
  auto runner = ProgRunner::open(options, &error);
  ASSERT_TRUE(runner) << error;
  auto ports = [](uint16_t first, uint16_t count) {
    std::vector<Rule> rules;
    for (uint16_t p = first; p < first + count; ++p)
      rules.push_back({kTag, Protocol::Tcp, PortRange{p, p}});
    return rules;
  };
  ASSERT_EQ(runner->configure(EndpointSetup{}, ports(80, 3)), "");  // settled: 3 entries
  auto& dp = runner->datapath();
  ASSERT_TRUE(dp.replace_policy(kTestIfindex, ports(90, 3)));
  auto n = port_entries_by_generation(dp);
  EXPECT_EQ(n[0] + n[1], 6u) << "the old generation waits for the next write";
  EXPECT_EQ(enforce(*runner, 80), TC_ACT_SHOT);
  EXPECT_EQ(enforce(*runner, 90), TC_ACT_OK);

  constexpr uint32_t kOther = kTestIfindex + 1;
  ASSERT_TRUE(dp.define(kOther, datapath::EndpointSettings{}));
  // 3 in force + 3 old + 4 new would not fit in 8.
  ASSERT_TRUE(dp.replace_policy(kOther, ports(100, 4)));
  n = port_entries_by_generation(dp);
  EXPECT_EQ(n[0] + n[1], 7u);

  ASSERT_TRUE(dp.add_rules(kTestIfindex, ports(95, 1)));  // add_rules erases them too
  dp.settle();
  n = port_entries_by_generation(dp);
  EXPECT_EQ(n[0] + n[1], 8u);
  EXPECT_EQ(enforce(*runner, 95), TC_ACT_OK);
}

// Closing the datapath erases what no reaper got to: a restarted owner finds only the
// rules in force.
TEST(PolicyReplace, CloseErasesTheOldGeneration) {
  auto options = test_options();
  options.stale_reaper = false;
  std::string error;
  auto runner = ProgRunner::open(options, &error);
  ASSERT_TRUE(runner) << error;
  ASSERT_EQ(runner->configure(EndpointSetup{}, {{kTag, Protocol::Tcp, PortRange{80, 80}}}), "");
  ASSERT_TRUE(
      runner->datapath().replace_policy(kTestIfindex, {{kTag, Protocol::Tcp, PortRange{81, 81}}}));
  int fd = dup(runner->datapath().port_policy_map().fd());  // outlives the datapath
  ASSERT_GE(fd, 0);
  runner.reset();
  size_t entries = 0;
  datapath::TypedMap<wt_port_key, wt_port_rule>(fd, "port_policy")
      .for_each_key([&](const wt_port_key&) { ++entries; });
  close(fd);
  EXPECT_EQ(entries, 1u);
}

TEST(PolicyReplace, ConfigureKeepsTheRulesInForce) {
  std::string error;
  auto runner = ProgRunner::open(test_options(), &error);
  ASSERT_TRUE(runner) << error;
  ASSERT_EQ(runner->configure(EndpointSetup{}, {{kTag, Protocol::Tcp, PortRange{80, 80}}}), "");
  for (int i = 0; i < 2; ++i) {  // both generations
    datapath::EndpointSettings settings;
    settings.tag = 9;
    settings.allow_untagged = false;
    ASSERT_TRUE(runner->datapath().configure(kTestIfindex, settings));
    EXPECT_EQ(enforce(*runner, 80), TC_ACT_OK);
    EXPECT_EQ(enforce(*runner, 81), TC_ACT_SHOT);
    ASSERT_TRUE(runner->datapath().replace_policy(kTestIfindex,
                                                  {{kTag, Protocol::Tcp, PortRange{80, 80}}}));
  }
}

}  // namespace
}  // namespace wiretag::test

namespace wiretag::test {
namespace {

// Datapath::add_rules: rules added in place join the rules in force — exact ports, ranges
// merged into an existing source entry, wildcard sources — and a later replace_policy still
// removes everything of the old generation (nothing added in place is left behind).
TEST(PolicyAdd, AddedRulesJoinTheRulesInForceAndReplaceStillRemovesThem) {
  std::string error;
  auto runner = ProgRunner::open(test_options(), &error);
  ASSERT_TRUE(runner) << error;
  ASSERT_EQ(runner->configure(EndpointSetup{}, {{kTag, Protocol::Tcp, PortRange{8080, 8080}}}), "");
  auto tcp = [](uint16_t port) {
    return PacketBuilder::ipv4("198.18.1.1", "198.18.0.2").tcp(40000, port).build();
  };
  const auto udp53 = PacketBuilder::ipv4("198.18.1.1", "198.18.0.2").udp(40000, 53).build();
  const auto ping = PacketBuilder::ipv4("198.18.1.1", "198.18.0.2").icmp_echo_request(1, 1).build();
  auto verdict = [&](const std::vector<uint8_t>& pkt, uint32_t tag) {
    return runner->run_action(Program::Enforce, pkt, tag);
  };
  EXPECT_EQ(verdict(tcp(8080), kTag), TC_ACT_OK);
  EXPECT_EQ(verdict(tcp(9000), kTag), TC_ACT_SHOT);
  EXPECT_EQ(verdict(udp53, kTag), TC_ACT_SHOT);

  datapath::Datapath& dp = runner->datapath();
  ASSERT_TRUE(dp.add_rules(kTestIfindex, {{kTag, Protocol::Tcp, PortRange{9000, 9100}}}));
  ASSERT_TRUE(dp.add_rules(kTestIfindex, {{kTag, Protocol::Udp, PortRange{53, 53}}}));
  ASSERT_TRUE(dp.add_rules(kTestIfindex, {{0, Protocol::Icmp, std::nullopt}}));
  EXPECT_EQ(verdict(tcp(8080), kTag), TC_ACT_OK) << "the rule in force stays";
  EXPECT_EQ(verdict(tcp(8999), kTag), TC_ACT_SHOT) << "range start - 1";
  EXPECT_EQ(verdict(tcp(9000), kTag), TC_ACT_OK) << "range start";
  EXPECT_EQ(verdict(tcp(9100), kTag), TC_ACT_OK) << "range end";
  EXPECT_EQ(verdict(tcp(9101), kTag), TC_ACT_SHOT) << "range end + 1";
  EXPECT_EQ(verdict(udp53, kTag), TC_ACT_OK);
  EXPECT_EQ(verdict(ping, kTag + 1), TC_ACT_OK) << "wildcard source icmp";
  EXPECT_EQ(verdict(tcp(9000), kTag + 1), TC_ACT_SHOT) << "another source";
  // Adding what is already there changes nothing.
  ASSERT_TRUE(dp.add_rules(kTestIfindex, {{kTag, Protocol::Tcp, PortRange{9000, 9100}}}));
  EXPECT_EQ(verdict(tcp(9050), kTag), TC_ACT_OK);

  // Replace with a set that has none of them: every added entry goes with the generation.
  ASSERT_TRUE(dp.replace_policy(kTestIfindex, {{kTag, Protocol::Tcp, PortRange{22, 22}}}));
  EXPECT_EQ(verdict(tcp(22), kTag), TC_ACT_OK);
  for (uint16_t port : {8080, 9000, 9100})
    EXPECT_EQ(verdict(tcp(port), kTag), TC_ACT_SHOT) << port;
  EXPECT_EQ(verdict(udp53, kTag), TC_ACT_SHOT);
  EXPECT_EQ(verdict(ping, kTag + 1), TC_ACT_SHOT);
  // Flip back and forth once more: no stale entry resurfaces in the other generation.
  ASSERT_TRUE(dp.replace_policy(kTestIfindex, {{kTag, Protocol::Udp, PortRange{5353, 5353}}}));
  EXPECT_EQ(verdict(tcp(9000), kTag), TC_ACT_SHOT);
  EXPECT_EQ(verdict(tcp(22), kTag), TC_ACT_SHOT);
  for (const auto& ep : dp.endpoints())
    if (ep.ifindex == kTestIfindex) {
      EXPECT_EQ(ep.rules_src_entries, 0u) << "an exact port has no source entry";
      EXPECT_EQ(ep.rules_port_entries, 1u);
    }
}

}  // namespace
}  // namespace wiretag::test
