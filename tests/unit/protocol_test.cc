// The server–agent protocol (userspace/protocol): every change-event kind decoded from
// api/examples and encoded back to the same JSON, malformed bodies refused with specific
// errors, and the policy-version rule both sides share ("03" is no version).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "protocol/change_events.h"
#include "protocol/policy_version.h"

namespace wiretag::protocol {
namespace {

using nlohmann::json;

json api_example(const std::string& name) {
  std::ifstream in(std::string(WIRETAG_API_DIR) + "/examples/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

TEST(ChangeEvents, EveryKindHasOneName) {
  std::set<std::string_view> names;
  for (EventKind k : kEventKinds) {
    names.insert(to_string(k));
    EXPECT_EQ(parse_event_kind(to_string(k)), k);
  }
  EXPECT_EQ(names.size(), std::size(kEventKinds));
  EXPECT_FALSE(parse_event_kind("token.issued"));
  EXPECT_FALSE(parse_event_kind("APP.CREATED"));
}

// api/examples/watch-every-kind.response.json holds one event of each kind: each decodes to
// its struct and encodes back to the very JSON of the example.
TEST(ChangeEvents, EveryKindRoundTripsTheApiExamples) {
  std::set<EventKind> seen;
  for (const char* file : {"watch-every-kind.response.json", "watch.response.json"}) {
    const json reply = api_example(file);
    for (const json& ej : reply.at("events")) {
      auto e = parse_watch_event(ej);
      ASSERT_TRUE(e) << e.error().code << ": " << e.error().message << "\n" << ej.dump();
      EXPECT_TRUE(body_fits(e->kind, e->body)) << ej.dump();
      EXPECT_EQ(to_json(*e), ej) << file;
      auto again = parse_watch_event(to_json(*e));
      ASSERT_TRUE(again);
      EXPECT_EQ(*again, *e);
      // The change log's text form decodes to the same body.
      auto body = decode_body_text(e->kind, encode_body(e->body).dump());
      ASSERT_TRUE(body);
      EXPECT_EQ(*body, e->body);
      seen.insert(e->kind);
    }
  }
  EXPECT_EQ(seen.size(), std::size(kEventKinds)) << "an event kind has no api example";
}

TEST(ChangeEvents, TypedBodiesCarryWhatTheCellsNeed) {
  const json reply = api_example("watch-every-kind.response.json");
  std::map<EventKind, WatchEvent> by_kind;
  for (const json& ej : reply.at("events")) {
    auto e = parse_watch_event(ej);
    ASSERT_TRUE(e);
    by_kind[e->kind] = *e;
  }
  const auto& edge = std::get<EdgeChange>(by_kind[EventKind::EdgeCreated].body);
  EXPECT_EQ(edge.source_tag, 1u);
  EXPECT_EQ(edge.protocol, Protocol::Tcp);
  EXPECT_EQ(edge.ports, (PortRange{8080, 8090}));
  EXPECT_EQ(by_kind[EventKind::EdgeCreated].committed_at_ms, 1764856800110);
  EXPECT_FALSE(by_kind[EventKind::PolicyCreated].principal);
  const auto& update = std::get<PolicyChange>(by_kind[EventKind::PolicyUpdated].body);
  ASSERT_TRUE(update.previous_rules);
  EXPECT_EQ(update.previous_rules->at(0).ports, (PortRange{53, 53}));
  const auto& pdp = std::get<PdpUpdate>(by_kind[EventKind::PdpUpdate].body);
  EXPECT_EQ(pdp.subgroup, "tc");
  EXPECT_EQ(pdp.policies.at(1).version, "2.0.0");
  // ONAP's PDP_UPDATE names the change; a row logged before they were written has neither.
  EXPECT_EQ(pdp.to_deploy.at(0).version, "2.0.0");
  EXPECT_EQ(pdp.to_undeploy.at(0).version, "1.0.0");
  EXPECT_EQ(encode_body(pdp)["messageName"], "PDP_UPDATE");
  auto old = decode_body(EventKind::PdpUpdate, json::parse(R"({"group":"g","pdpSubgroup":"tc",
                                                               "policies":[]})"));
  ASSERT_TRUE(old);
  EXPECT_TRUE(std::get<PdpUpdate>(*old).to_deploy.empty());
  EXPECT_EQ(std::get<PdpStateChange>(by_kind[EventKind::PdpStateChange].body).mode, "audit");
  // The destinations each change touches: an edge's, a policy's old and new rules', a deleted
  // app's edges'.
  const std::string dst = "55c21794-95a8-41bc-b320-3f79540a6789";
  EXPECT_EQ(touched_destinations(by_kind[EventKind::EdgeDeleted].body), std::vector{dst});
  EXPECT_EQ(touched_destinations(update), (std::vector{dst, dst}));
  EXPECT_EQ(touched_destinations(by_kind[EventKind::AppDeleted].body), std::vector{dst});
  EXPECT_TRUE(touched_destinations(by_kind[EventKind::AppCreated].body).empty());
  // A deleted group's state change says so; a live group's does not carry the member.
  const json deleted = encode_body(PdpStateChange{"g", "PASSIVE", "bypass", true});
  EXPECT_EQ(deleted, json::parse(R"({"messageName":"PDP_STATE_CHANGE","group":"g","pdpGroup":"g",
                                     "state":"PASSIVE","mode":"bypass","deleted":true})"));
  EXPECT_EQ(std::get<PdpStateChange>(*decode_body(EventKind::PdpStateChange, deleted)).deleted,
            true);
}

struct Malformed {
  EventKind kind;
  const char* body;
  const char* names;  // what the message must name
};

TEST(ChangeEvents, MalformedBodiesAreRefusedNamingTheMember) {
  const Malformed cases[] = {
      {EventKind::AppCreated, R"({"guid":"a"})", "wire_bytes"},
      {EventKind::AppCreated, R"({"guid":1,"wire_bytes":"0001"})", "guid"},
      {EventKind::AppCreated, R"([])", "not an object"},
      {EventKind::AppDeleted,
       R"({"guid":"a","wire_bytes":"01","edges_removed":-1,"destinations":[]})", "edges_removed"},
      {EventKind::AppDeleted,
       R"({"guid":"a","wire_bytes":"01","edges_removed":0,"destinations":[1]})", "destinations"},
      {EventKind::EdgeCreated,
       R"({"source":"a","destination":"b","policy":"default-whitelist","protocol":"any"})",
       "source_tag"},
      {EventKind::EdgeCreated,
       R"({"source":"a","source_tag":4294967296,"destination":"b","policy":"default-whitelist","protocol":"any"})",
       "source_tag"},
      {EventKind::EdgeDeleted,
       R"({"source":"a","source_tag":1,"destination":"b","policy":"default-whitelist","protocol":"sctp"})",
       "protocol"},
      {EventKind::EdgeDeleted,
       R"({"source":"a","source_tag":1,"destination":"b","policy":"default-whitelist","protocol":"tcp","ports":{"start":90,"end":80}})",
       "ports.end"},
      {EventKind::EdgeDeleted,
       R"({"source":"a","source_tag":1,"destination":"b","policy":"default-whitelist","protocol":"tcp","ports":{"start":0,"end":80}})",
       "ports.start"},
      {EventKind::PolicyCreated, R"({"id":"p","name":"n","version":0,"rules":[]})", "version"},
      {EventKind::PolicyCreated,
       R"({"id":"p","name":"n","version":1,"rules":[{"source":"a","protocol":"any"}]})",
       "rules[0].destination"},
      {EventKind::PolicyUpdated, R"({"id":"p","name":"n","version":2,"rules":[]})",
       "previous_rules"},
      {EventKind::PolicyDeleted, R"({"id":"p","name":"n","version":1})", "rules"},
      {EventKind::PdpUpdate, R"({"group":"g","pdpSubgroup":"tc","policies":[{"name":"p"}]})",
       "policies[0].version"},
      {EventKind::PdpUpdate, R"({"group":"g","policies":[]})", "pdpSubgroup"},
      {EventKind::PdpStateChange,
       R"({"group":"g","state":"ACTIVE","mode":"enforce","deleted":"yes"})", "deleted"},
  };
  for (const Malformed& c : cases) {
    auto r = decode_body(c.kind, json::parse(c.body));
    ASSERT_FALSE(r) << c.body;
    EXPECT_EQ(r.error().code, "INVALID_EVENT_BODY") << c.body;
    EXPECT_NE(r.error().message.find(c.names), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find(to_string(c.kind)), std::string::npos) << r.error().message;
  }
  auto text = decode_body_text(EventKind::AppCreated, "{not json");
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code, "INVALID_EVENT_BODY");
}

TEST(ChangeEvents, MalformedEventsAreRefusedWithTheirOwnCodes) {
  const json ok = api_example("watch.response.json").at("events").at(0);
  ASSERT_TRUE(parse_watch_event(ok));
  auto without = [&](const char* key) {
    json j = ok;
    j.erase(key);
    return j;
  };
  for (const char* key : {"revision", "kind", "account", "subject", "body"}) {
    auto r = parse_watch_event(without(key));
    ASSERT_FALSE(r) << key;
    EXPECT_EQ(r.error().code, "INVALID_EVENT") << key;
  }
  json unknown = ok;
  unknown["kind"] = "cell.created";
  auto r = parse_watch_event(unknown);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "UNKNOWN_EVENT_KIND");
  json wrong_body = ok;
  wrong_body["kind"] = "app.created";  // an edge's body under another kind
  r = parse_watch_event(wrong_body);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "INVALID_EVENT_BODY");
  json negative = ok;
  negative["revision"] = -1;
  EXPECT_EQ(parse_watch_event(negative).error().code, "INVALID_EVENT");
  json principal = ok;
  principal["principal"] = 7;
  EXPECT_EQ(parse_watch_event(principal).error().code, "INVALID_EVENT");
}

// One rule for server and agent: N or N.0.0, N >= 1 without leading zeros. "03" is not a
// version: it is not "3" (the agent used to read it as "03.0.0", the PAP refused it).
TEST(PolicyVersions, OneNormalisationAndZeroPaddedIsNoVersion) {
  EXPECT_EQ(policy_version_number("3"), 3);
  EXPECT_EQ(policy_version_number("3.0.0"), 3);
  EXPECT_EQ(policy_version_number("120.0.0"), 120);
  for (const char* bad : {"03", "03.0.0", "0", "0.0.0", "", ".0.0", "3.1.0", "3.0", "-3", "+3",
                          "3 ", "1234567890123456"})
    EXPECT_FALSE(policy_version_number(bad)) << bad;
  EXPECT_EQ(normalize_version("3"), "3.0.0");
  EXPECT_EQ(normalize_version("3.0.0"), "3.0.0");
  EXPECT_EQ(normalize_version("03"), "03");
  EXPECT_TRUE(same_version({"p", "3"}, {"p", "3.0.0"}));
  EXPECT_FALSE(same_version({"p", "03"}, {"p", "3.0.0"}));
  EXPECT_FALSE(same_version({"p", "03"}, {"p", "3"}));
  EXPECT_FALSE(same_version({"p", "03"}, {"p", "03.0.0"}));  // the agent used to say equal
  EXPECT_TRUE(same_version({"p", "03"}, {"p", "03"}));       // the same text is the same
  EXPECT_FALSE(same_version({"p", "3"}, {"q", "3"}));
}

}  // namespace
}  // namespace wiretag::protocol
