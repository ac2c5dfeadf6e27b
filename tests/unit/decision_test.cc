// core/decision: the enforce program's verdict computed in userspace from the compiled rules.
#include "core/decision.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <random>

namespace wiretag {
namespace {

constexpr uint32_t kA = 0x0a01, kB = 0x0b02;

uint32_t reason(const std::vector<Rule>& rules, DecisionPacket p, DecisionEndpoint ep = {}) {
  auto v = evaluate_packet(rules, p, ep);
  EXPECT_TRUE(v.ok()) << v.error().message;
  return v ? v->reason : static_cast<uint32_t>(WT_REASON_MAX);
}

DecisionPacket tcp(uint32_t tag, uint16_t port) { return {tag, IPPROTO_TCP, port}; }
DecisionPacket udp(uint32_t tag, uint16_t port) { return {tag, IPPROTO_UDP, port}; }

TEST(Decision, ExactPort) {
  std::vector<Rule> rules = {{kA, Protocol::Tcp, PortRange{5432, 5432}}};
  EXPECT_EQ(reason(rules, tcp(kA, 5432)), WT_REASON_ALLOW_RULE);
  EXPECT_EQ(reason(rules, tcp(kA, 5431)), WT_REASON_DROP_POLICY);
  EXPECT_EQ(reason(rules, tcp(kA, 5433)), WT_REASON_DROP_POLICY);
  EXPECT_EQ(reason(rules, udp(kA, 5432)), WT_REASON_DROP_POLICY);
  EXPECT_EQ(reason(rules, tcp(kB, 5432)), WT_REASON_DROP_POLICY);
}

TEST(Decision, PortRangeEdges) {
  std::vector<Rule> rules = {{kA, Protocol::Udp, PortRange{1000, 2000}}};
  EXPECT_EQ(reason(rules, udp(kA, 999)), WT_REASON_DROP_POLICY);
  EXPECT_EQ(reason(rules, udp(kA, 1000)), WT_REASON_ALLOW_RULE);
  EXPECT_EQ(reason(rules, udp(kA, 1500)), WT_REASON_ALLOW_RULE);
  EXPECT_EQ(reason(rules, udp(kA, 2000)), WT_REASON_ALLOW_RULE);
  EXPECT_EQ(reason(rules, udp(kA, 2001)), WT_REASON_DROP_POLICY);
  EXPECT_EQ(reason(rules, tcp(kA, 1500)), WT_REASON_DROP_POLICY);
}

TEST(Decision, AnyPortOfOneProtocol) {
  for (auto ports : {std::optional<PortRange>{}, std::optional<PortRange>{PortRange{1, 65535}}}) {
    std::vector<Rule> rules = {{kA, Protocol::Tcp, ports}};
    for (uint16_t port : {0, 1, 80, 65535})
      EXPECT_EQ(reason(rules, tcp(kA, port)), WT_REASON_ALLOW_RULE) << port;
    EXPECT_EQ(reason(rules, udp(kA, 80)), WT_REASON_DROP_POLICY);
    EXPECT_EQ(reason(rules, {kA, IPPROTO_ICMP, 0}), WT_REASON_DROP_POLICY);
  }
}

TEST(Decision, ProtocolAny) {
  std::vector<Rule> all = {{kA, Protocol::Any, std::nullopt}};
  for (int proto :
       {int{IPPROTO_TCP}, int{IPPROTO_UDP}, int{IPPROTO_ICMP}, int{IPPROTO_ICMPV6}, 132})
    EXPECT_EQ(reason(all, {kA, static_cast<uint8_t>(proto), 443}), WT_REASON_ALLOW_RULE) << proto;
  // "any" with ports: the port-carrying protocols only.
  std::vector<Rule> ported = {{kA, Protocol::Any, PortRange{53, 53}}};
  EXPECT_EQ(reason(ported, tcp(kA, 53)), WT_REASON_ALLOW_RULE);
  EXPECT_EQ(reason(ported, udp(kA, 53)), WT_REASON_ALLOW_RULE);
  EXPECT_EQ(reason(ported, udp(kA, 54)), WT_REASON_DROP_POLICY);
  EXPECT_EQ(reason(ported, {kA, IPPROTO_ICMP, 0}), WT_REASON_DROP_POLICY);
  EXPECT_EQ(reason(ported, {kA, 132, 53}), WT_REASON_DROP_POLICY);
}

TEST(Decision, IcmpHasNoPort) {
  std::vector<Rule> rules = {{kA, Protocol::Icmp, std::nullopt}};
  EXPECT_EQ(reason(rules, {kA, IPPROTO_ICMP, 0}), WT_REASON_ALLOW_RULE);
  EXPECT_EQ(reason(rules, {kA, IPPROTO_ICMPV6, 0}), WT_REASON_ALLOW_RULE);
  EXPECT_EQ(reason(rules, tcp(kA, 0)), WT_REASON_DROP_POLICY);
  auto bad = evaluate_packet({{kA, Protocol::Icmp, PortRange{1, 2}}}, {kA, IPPROTO_ICMP, 0});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "INVALID_RULE");
}

TEST(Decision, WildcardSourceAndTheSpecificRuleFirst) {
  std::vector<Rule> rules = {{0, Protocol::Tcp, PortRange{8080, 8080}},
                             {0, Protocol::Udp, PortRange{9000, 9100}}};
  EXPECT_EQ(reason(rules, tcp(kA, 8080)), WT_REASON_ALLOW_WILDCARD);
  EXPECT_EQ(reason(rules, udp(kB, 9100)), WT_REASON_ALLOW_WILDCARD);
  EXPECT_EQ(reason(rules, udp(kB, 9101)), WT_REASON_DROP_POLICY);
  rules.push_back({kA, Protocol::Any, std::nullopt});
  auto v = evaluate_packet(rules, tcp(kA, 8080));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->reason, WT_REASON_ALLOW_RULE);
  EXPECT_EQ(v->matched, (std::vector<size_t>{0, 2}));
}

TEST(Decision, UntaggedFollowsTheEndpointSetting) {
  std::vector<Rule> rules = {{kA, Protocol::Tcp, PortRange{1, 1}}};
  auto v = evaluate_packet(rules, tcp(0, 22));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->reason, WT_REASON_ALLOW_UNTAGGED);
  EXPECT_EQ(v->verdict, WT_VERDICT_PASS);
  EXPECT_TRUE(v->matched.empty());
  // A wildcard rule does not cover untagged packets: they never reach the rules.
  EXPECT_EQ(
      reason({{0, Protocol::Any, std::nullopt}}, tcp(0, 22), {WT_MODE_ENFORCE, WT_UNTAGGED_DENY}),
      WT_REASON_DROP_UNTAGGED);
}

TEST(Decision, Modes) {
  std::vector<Rule> none;
  auto audit = evaluate_packet(none, tcp(kA, 80), {WT_MODE_AUDIT, WT_UNTAGGED_ALLOW});
  ASSERT_TRUE(audit.ok());
  EXPECT_EQ(audit->reason, WT_REASON_DROP_POLICY);
  EXPECT_EQ(audit->verdict, WT_VERDICT_PASS) << "audit passes would-drops";
  auto enforce = evaluate_packet(none, tcp(kA, 80));
  EXPECT_EQ(enforce->verdict, WT_VERDICT_DROP);
  auto bypass = evaluate_packet(none, tcp(kA, 80), {WT_MODE_BYPASS, WT_UNTAGGED_DENY});
  EXPECT_EQ(bypass->reason, WT_REASON_ALLOW_BYPASS);
  EXPECT_EQ(bypass->verdict, WT_VERDICT_PASS);
}

TEST(Decision, ReasonNamesAreTheAgents) {
  EXPECT_EQ(decision_reason_name(WT_REASON_ALLOW_RULE), "allow_rule");
  EXPECT_EQ(decision_reason_name(WT_REASON_ALLOW_WILDCARD), "allow_wildcard");
  EXPECT_EQ(decision_reason_name(WT_REASON_DROP_POLICY), "drop_policy");
}

// The compiled-map lookup (the verdict) and the rule-level reading (the explanation) agree on
// random rule sets: a packet passes iff some rule admits it, and the reason is allow_rule iff
// one of those rules names the packet's own tag.
TEST(Decision, CompiledLookupAgreesWithTheRulesOnRandomCases) {
  std::mt19937 rng(15);
  const uint32_t tags[] = {0, 1, 2, 3};
  const uint8_t protos[] = {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6, 132};
  auto port = [&]() -> uint16_t {
    switch (rng() % 4) {
      case 0:
        return static_cast<uint16_t>(rng() % 8);
      case 1:
        return static_cast<uint16_t>(65530 + rng() % 6);
      default:
        return static_cast<uint16_t>(rng() % 65536);
    }
  };
  for (int c = 0; c < 3000; ++c) {
    std::vector<Rule> rules;
    const int n = static_cast<int>(rng() % 6);
    for (int i = 0; i < n; ++i) {
      Rule r{tags[rng() % 4], static_cast<Protocol>(rng() % 4), std::nullopt};
      if (r.protocol != Protocol::Icmp && rng() % 3) {
        uint16_t a = std::max<uint16_t>(1, port()), b = std::max<uint16_t>(1, port());
        if (rng() % 2) b = a;
        r.ports = PortRange{std::min(a, b), std::max(a, b)};
      }
      rules.push_back(r);
    }
    const DecisionPacket p{1 + static_cast<uint32_t>(rng() % 3), protos[rng() % 5], port()};
    auto v = evaluate_packet(rules, p);
    ASSERT_TRUE(v.ok()) << v.error().message;
    bool own = false;
    for (size_t i : v->matched) own |= rules[i].source_tag == p.source_tag;
    const uint32_t expected = v->matched.empty() ? WT_REASON_DROP_POLICY
                              : own              ? WT_REASON_ALLOW_RULE
                                                 : WT_REASON_ALLOW_WILDCARD;
    ASSERT_EQ(v->reason, expected) << "case " << c << " proto " << int(p.ip_proto) << " port "
                                   << p.port << " tag " << p.source_tag;
  }
}

}  // namespace
}  // namespace wiretag
