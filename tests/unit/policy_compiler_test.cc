#include "core/policy_compiler.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <random>

namespace wiretag {
namespace {

bool covered(const std::vector<PortPrefix>& prefixes, uint32_t port) {
  for (const auto& p : prefixes) {
    uint16_t mask = p.plen == 0 ? 0 : static_cast<uint16_t>(0xffff << (16 - p.plen));
    if ((port & mask) == p.port) return true;
  }
  return false;
}

TEST(PortRangeDecomposition, SinglePortIsOneExactPrefix) {
  auto p = decompose_port_range({8080, 8080});
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0], (PortPrefix{8080, 16}));
}

TEST(PortRangeDecomposition, AlignedBlockIsOnePrefix) {
  auto p = decompose_port_range({1024, 2047});
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0], (PortPrefix{1024, 6}));
}

TEST(PortRangeDecomposition, WorstCaseStaysWithinBound) {
  auto p = decompose_port_range({1, 65534});
  EXPECT_LE(p.size(), 30u);
}

TEST(PortRangeDecomposition, CoversExactlyTheRangeForRandomRanges) {
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    uint16_t a = 1 + rng() % 65535, b = 1 + rng() % 65535;
    PortRange r{std::min(a, b), std::max(a, b)};
    auto prefixes = decompose_port_range(r);
    EXPECT_LE(prefixes.size(), 30u);
    for (uint32_t port : {uint32_t(r.start) - 1, uint32_t(r.start), uint32_t(r.end),
                          uint32_t(r.end) + 1, uint32_t(r.start + (r.end - r.start) / 2)}) {
      if (port == 0 || port > 65535) continue;
      EXPECT_EQ(covered(prefixes, port), port >= r.start && port <= r.end)
          << "range " << r.start << "-" << r.end << " port " << port;
    }
  }
}

TEST(PolicyCompiler, ExactPortRuleIsOnePortEntryOnly) {
  auto c = PolicyCompiler::compile(7, 1, {Rule{5, Protocol::Tcp, PortRange{8080, 8080}}});
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->src_keys.empty()) << "enforce finds exact ports without src_policy";
  ASSERT_EQ(c->port_keys.size(), 1u);
  EXPECT_EQ(c->port_keys[0].ifindex, 7u);
  EXPECT_EQ(c->port_keys[0].src_tag, 5u);
  EXPECT_EQ(c->port_keys[0].port, 8080);
  EXPECT_EQ(c->port_keys[0].proto, IPPROTO_TCP);
  EXPECT_EQ(c->port_keys[0].plen_gen, (16 << 1) | 1);
}

TEST(PolicyCompiler, AnyProtocolAllPortsNeedsNoPortEntries) {
  auto c = PolicyCompiler::compile(1, 0,
                                   {Rule{5, Protocol::Any, std::nullopt},
                                    Rule{5, Protocol::Tcp, PortRange{80, 90}}});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->src_values[0].any_proto, 1);
  EXPECT_TRUE(c->port_keys.empty());
  EXPECT_EQ(c->src_values[0].port_plens[0], 0u);
}

TEST(PolicyCompiler, AnyProtocolWithPortsMeansTcpAndUdp) {
  auto c = PolicyCompiler::compile(1, 0, {Rule{0, Protocol::Any, PortRange{52, 55}}});
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->src_keys.size(), 1u);
  EXPECT_EQ(c->src_keys[0].src_tag, 0u);
  EXPECT_EQ(c->src_keys[0].generation, 0);
  EXPECT_EQ(c->port_keys.size(), 2u);  // 52/14 for tcp and for udp
  EXPECT_EQ(c->src_values[0].port_plens[WT_PROTO_SLOT_TCP], 1u << 14);
  EXPECT_EQ(c->src_values[0].port_plens[WT_PROTO_SLOT_UDP], 1u << 14);
}

TEST(PolicyCompiler, RangeKeepsItsSourceEntryWithPrefixLengths) {
  auto c = PolicyCompiler::compile(1, 1, {Rule{9, Protocol::Udp, PortRange{1024, 2047}}});
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->src_keys.size(), 1u);
  EXPECT_EQ(c->src_keys[0].generation, 1);
  EXPECT_EQ(c->src_values[0].port_plens[WT_PROTO_SLOT_UDP], 1u << 6);
}

TEST(PolicyCompiler, RejectsPortsOnIcmpAndInvertedRanges) {
  EXPECT_EQ(PolicyCompiler::compile(1, 0, {Rule{1, Protocol::Icmp, PortRange{1, 2}}}).error().code,
            "INVALID_RULE");
  EXPECT_EQ(PolicyCompiler::compile(1, 0, {Rule{1, Protocol::Tcp, PortRange{9, 8}}}).error().code,
            "INVALID_RULE");
  EXPECT_EQ(PolicyCompiler::compile(1, 0, {Rule{1, Protocol::Tcp, PortRange{0, 8}}}).error().code,
            "INVALID_RULE");
}

TEST(PolicyCompiler, DuplicateRulesShareEntries) {
  Rule r{3, Protocol::Udp, PortRange{5000, 5010}};
  auto one = PolicyCompiler::compile(1, 0, {r});
  auto two = PolicyCompiler::compile(1, 0, {r, r});
  ASSERT_TRUE(one.ok() && two.ok());
  EXPECT_EQ(one->port_keys.size(), two->port_keys.size());
  EXPECT_EQ(two->src_keys.size(), one->src_keys.size());
}

}  // namespace
}  // namespace wiretag
