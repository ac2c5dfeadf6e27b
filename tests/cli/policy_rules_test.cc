// The command line's rule syntax SOURCE/DESTINATION[/PROTO[/PORT[-PORT]]] and port ranges.
#include "cli/policy_rules.h"

#include <gtest/gtest.h>

namespace wiretag::cli {
namespace {

using nlohmann::json;

TEST(PolicyRuleSyntax, Good) {
  EXPECT_EQ(*parse_policy_rule("web/db"), (json{{"source", "web"}, {"destination", "db"}}));
  EXPECT_EQ(*parse_policy_rule("*/db/icmp"),
            (json{{"source", "*"}, {"destination", "db"}, {"protocol", "icmp"}}));
  EXPECT_EQ(*parse_policy_rule("web/db/tcp/5432"),
            (json{{"source", "web"},
                  {"destination", "db"},
                  {"protocol", "tcp"},
                  {"ports", {{"start", 5432}, {"end", 5432}}}}));
  EXPECT_EQ((*parse_policy_rule("a:b.c/d_e-f/udp/5000-5010"))["ports"],
            (json{{"start", 5000}, {"end", 5010}}))
      << "guids may hold ':', '.', '_', '-'";
  EXPECT_EQ((*parse_policy_rule("a/b/any/1-65535"))["ports"], (json{{"start", 1}, {"end", 65535}}));
}

TEST(PolicyRuleSyntax, Bad) {
  for (const char* text : {"", "web", "web/", "/db", "web/db/tcp/5432/x", "web/db/sctp",
                           "web/db/tcp/0", "web/db/tcp/65536", "web/db/tcp/x", "web/db/tcp/9-8",
                           "web/db/tcp/1-2-3", "web/db/tcp/", "web/db/tcp/-5"}) {
    auto r = parse_policy_rule(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code, "INVALID_RULE") << text;
    EXPECT_NE(r.error().message.find("SOURCE/DESTINATION"), std::string::npos) << text;
  }
}

TEST(PolicyRuleSyntax, PortRangesAndText) {
  EXPECT_EQ(*parse_port_range("80"), (json{{"start", 80}, {"end", 80}}));
  EXPECT_EQ(*parse_port_range("80-90"), (json{{"start", 80}, {"end", 90}}));
  for (const char* bad : {"", "0", "90-80", "a", "80-", "-80", "1-70000", " 80"})
    EXPECT_EQ(parse_port_range(bad).error().code, "INVALID_PORTS") << bad;
  EXPECT_EQ(ports_text(json{{"ports", {{"start", 80}, {"end", 80}}}}), "80");
  EXPECT_EQ(ports_text(json{{"ports", {{"start", 80}, {"end", 90}}}}), "80-90");
  EXPECT_EQ(ports_text(json{{"protocol", "tcp"}}), "all");
  EXPECT_EQ(rule_text(json{{"protocol", "tcp"}, {"ports", {{"start", 1}, {"end", 2}}}}), "tcp/1-2");
  EXPECT_EQ(rule_text(json::object()), "any");
}

}  // namespace
}  // namespace wiretag::cli
