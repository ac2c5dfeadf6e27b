#include "cli/rule_syntax.h"

#include <gtest/gtest.h>

namespace wiretag {
namespace {

TEST(RuleSyntax, ParsesSourceProtocolAndRange) {
  auto r = parse_rule("0x0a/tcp/8000-8080");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->source_tag, 10u);
  EXPECT_EQ(r->protocol, Protocol::Tcp);
  EXPECT_EQ(r->ports, (PortRange{8000, 8080}));
  EXPECT_EQ(format_rule(*r), "10/tcp/8000-8080");
}

TEST(RuleSyntax, WildcardSourceAndNoPorts) {
  auto r = parse_rule("*/icmp");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->source_tag, 0u);
  EXPECT_FALSE(r->ports);
}

TEST(RuleSyntax, RejectsMalformedRules) {
  for (const char* bad : {"", "1", "1/tcp/1/2", "0/tcp", "x/tcp", "1/sctp", "1/tcp/0",
                          "1/tcp/65536", "1/tcp/9-8", "1/tcp/-", "1/tcp/80-"}) {
    auto r = parse_rule(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, "INVALID_RULE") << bad;
  }
}

}  // namespace
}  // namespace wiretag
