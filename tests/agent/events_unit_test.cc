// Events in-process: the fan-out (a reader that does not read loses events and is told how
// many, while the others get every one), the filters readers ask for, the JSON lines, and
// the explanation of a drop_policy.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agent/event_naming.h"
#include "events/drop_event.h"
#include "events/event_fanout.h"
#include "http/line_stream.h"

namespace wiretag::events {
namespace {

using nlohmann::json;

DropEvent drop(const std::string& source_app, uint16_t port = 5432) {
  DropEvent e;
  e.time_ns = 1700000000123456789;
  e.cell = "c1";
  e.direction = "enforce";
  e.reason = "drop_policy";
  e.verdict = "drop";
  e.mode = "enforce";
  e.protocol = "tcp";
  e.source = {"198.18.0.1", 40000, "0a01", source_app, "default", "", ""};
  e.destination = {"198.18.0.2", port, "0b01", "db", "default", "/run/netns/c1", "wt1"};
  return e;
}

// Takes (writes) every line queued on a stream, as a session that keeps up would.
std::vector<json> drain(http::LineStream& lines) {
  std::vector<json> out;
  for (;;) {
    auto batch = lines.take(1000);
    if (batch.lines.empty()) return out;
    size_t bytes = 0;
    for (const auto& l : batch.lines) {
      out.push_back(json::parse(*l));
      bytes += l->size() + 1;
    }
    lines.written(bytes);
  }
}

TEST(EventFanout, ASlowReaderLosesEventsAndIsToldHowManyWhileOthersGetAll) {
  EventFanout fanout;
  auto fast = std::make_shared<http::LineStream>(1 << 20);
  auto slow = std::make_shared<http::LineStream>(4096);
  fanout.subscribe({}, std::make_shared<StreamSink>(fast, 1 << 20));
  fanout.subscribe({}, std::make_shared<StreamSink>(slow, 2048));
  constexpr int kEvents = 100;
  std::vector<json> fast_lines;
  for (int i = 0; i < kEvents; ++i) {
    fanout.publish(drop("web", static_cast<uint16_t>(1000 + i)));
    auto got = drain(*fast);  // the fast reader keeps up; the slow one reads nothing
    fast_lines.insert(fast_lines.end(), got.begin(), got.end());
  }
  ASSERT_EQ(fast_lines.size(), size_t{kEvents});
  EXPECT_LE(slow->queued_bytes(), 2048u + 1024u) << "bounded, and the stream was not cut";
  EXPECT_FALSE(slow->ended());
  auto early = drain(*slow);
  ASSERT_GT(early.size(), 0u);
  ASSERT_LT(early.size(), size_t{kEvents});
  // Once it reads again, the next line it gets says what it lost.
  fanout.publish(drop("web", 9999));
  auto late = drain(*slow);
  ASSERT_EQ(late.size(), 2u);
  EXPECT_EQ(late[0]["type"], "lost");
  EXPECT_EQ(late[0]["cause"], "slow_reader");
  EXPECT_EQ(late[0]["count"].get<size_t>() + early.size(), size_t{kEvents});
  EXPECT_EQ(late[1]["destination"]["port"], 9999);
}

TEST(EventFanout, AReaderThatWentAwayIsForgotten) {
  EventFanout fanout;
  auto lines = std::make_shared<http::LineStream>(1 << 20);
  fanout.subscribe({}, std::make_shared<StreamSink>(lines, 1 << 20));
  lines->close(http::LineStream::End::ClientGone);
  fanout.publish(drop("web"));
  EXPECT_EQ(fanout.readers(), 0u);
}

TEST(EventFanout, RateLimitLossesReachEveryReaderOfTheCell) {
  EventFanout fanout;
  auto any = std::make_shared<http::LineStream>(1 << 20);
  auto other_cell = std::make_shared<http::LineStream>(1 << 20);
  fanout.subscribe({}, std::make_shared<StreamSink>(any, 1 << 20));
  EventFilter f;
  f.cells = {"c2"};
  fanout.subscribe(f, std::make_shared<StreamSink>(other_cell, 1 << 20));
  fanout.publish_lost(7, "rate_limit", "c1");
  auto got = drain(*any);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["count"], 7);
  EXPECT_EQ(got[0]["cell"], "c1");
  EXPECT_TRUE(drain(*other_cell).empty());
}

TEST(EventFilter, AccountScopedReadersSeeTheirEndpointsWithoutForeignNames) {
  EventFilter f;
  f.accounts = std::set<std::string>{"default"};
  DropEvent e = drop("intruder");
  e.source.account = "acme";
  EXPECT_TRUE(f.matches(e));
  EXPECT_TRUE(f.redacts(e));
  e.destination.account = "acme";
  EXPECT_FALSE(f.matches(e));

  EventFanout fanout;
  auto lines = std::make_shared<http::LineStream>(1 << 20);
  fanout.subscribe(f, std::make_shared<StreamSink>(lines, 1 << 20));
  e.destination.account = "default";
  fanout.publish(e);
  auto got = drain(*lines);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(got[0]["source"].contains("app"));
  EXPECT_FALSE(got[0]["source"].contains("account"));
  EXPECT_EQ(got[0]["source"]["tag"], "0a01");
  EXPECT_EQ(got[0]["destination"]["app"], "db");
}

TEST(EventFilter, QueryParametersParseOrFailWithSpecificCodes) {
  auto f = parse_event_filter({{"app", "web,db"}, {"reason", "drop_policy"}, {"verdict", "pass"}},
                              false);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->apps, (std::set<std::string>{"web", "db"}));
  EXPECT_FALSE(f->matches(drop("web"))) << "verdict pass only";
  EXPECT_EQ(parse_event_filter({{"reason", "drop_nothing"}}, false).error().code, "INVALID_REASON");
  EXPECT_EQ(parse_event_filter({{"verdict", "audit"}}, false).error().code, "INVALID_VERDICT");
  EXPECT_EQ(parse_event_filter({{"app", ""}}, false).error().code, "INVALID_APP_GUID");
  EXPECT_EQ(parse_event_filter({{"cell", "c1"}}, false).error().code, "INVALID_QUERY");
  EXPECT_EQ(parse_event_filter({{"cell", "a/b"}}, true).error().code, "INVALID_CELL_NAME");
}

TEST(DropEvent, LineRoundTripsThroughTheServer) {
  DropEvent e = drop("web");
  e.explanation = "why";
  json line = to_json(e);
  EXPECT_EQ(line["type"], "drop");
  EXPECT_EQ(line["time"], "2023-11-14T22:13:20.123456Z");
  auto back = event_from_json(line);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(to_json(*back), line);
  line["reason"] = "made_up";
  EXPECT_EQ(event_from_json(line).error().code, "INVALID_EVENT");
}

// A gate event names the VTEP it came from; the server's copy keeps it.
TEST(DropEvent, AGateEventCarriesItsUnderlaySourceThroughTheServer) {
  DropEvent e = drop("web");
  e.direction = "gate";
  e.underlay_source = "2001:2::1";
  json line = to_json(e);
  EXPECT_EQ(line["underlay_source"], "2001:2::1");
  auto back = event_from_json(line);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->underlay_source, "2001:2::1");
  EXPECT_EQ(to_json(*back), line);
  EXPECT_FALSE(to_json(drop("web")).contains("underlay_source")) << "only gate events have one";
}

// api/events.yaml's example line is exactly what the agent writes of such an event.
TEST(DropEvent, TheDocumentedExampleIsALineAsWritten) {
  std::ifstream doc(std::string(WIRETAG_API_DIR) + "/events.yaml");
  std::stringstream text;
  text << doc.rdbuf();
  EXPECT_NE(text.str().find("examples/events-drop.line.json"), std::string::npos);
  std::ifstream in(std::string(WIRETAG_API_DIR) + "/examples/events-drop.line.json");
  json example = json::parse(in);
  auto e = event_from_json(example);
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(to_json(*e), example);
  EXPECT_NE(text.str().find(example.dump()), std::string::npos) << "the inline example too";
}

}  // namespace
}  // namespace wiretag::events

namespace wiretag::agent {
namespace {

Rule rule(uint32_t tag, Protocol p, std::optional<PortRange> ports = std::nullopt) {
  return Rule{tag, p, ports};
}

TEST(DropExplanation, NoEdgeSaysTheSourceMayReachNothing) {
  EXPECT_EQ(explain_policy_drop("api", "db", "tcp/5432", {}, {}),
            "no rule from api to db on tcp/5432; api→db allows nothing");
}

TEST(DropExplanation, EdgeOnAnotherPortQuotesItAndItsPolicy) {
  std::vector<RuleOrigin> from_web = {
      {"web", rule(1, Protocol::Tcp, PortRange{8080, 8080}), {"default-whitelist"}},
      {"web", rule(1, Protocol::Udp, PortRange{8000, 8099}), {"shop", "default-whitelist"}}};
  std::vector<RuleOrigin> from_any = {{"*", rule(0, Protocol::Icmp), {"ops"}}};
  EXPECT_EQ(explain_policy_drop("web", "db", "tcp/5432", from_web, from_any),
            "no rule from web to db on tcp/5432; web→db allows tcp/8080 (default-whitelist), "
            "udp/8000-8099 (shop, default-whitelist); *→db allows icmp (ops)");
}

TEST(DropExplanation, ManyRulesAreCounted) {
  std::vector<RuleOrigin> many;
  for (uint16_t p = 1; p <= 10; ++p)
    many.push_back({"web", rule(1, Protocol::Tcp, PortRange{p, p}), {}});
  EXPECT_EQ(explain_policy_drop("web", "db", "udp/53", many, {}),
            "no rule from web to db on udp/53; web→db allows tcp/1, tcp/2, tcp/3, tcp/4, tcp/5, "
            "tcp/6 and 4 more");
}

}  // namespace
}  // namespace wiretag::agent
