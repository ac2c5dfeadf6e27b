// POST /v1/trace on the real wiretag-agent's Plugin API, following apps of the real
// wiretag-server on veths in a namespace: the destination found by app or device, the
// source's tag resolved by the cell or given, the verdict of the cell's real programs, the
// rule and its range, the mode, and every refusal with its error_code.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "../server/temp_dir.h"
#include "agent_process.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

class TraceApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    pin_dir_ = "/sys/fs/bpf/wiretag-trace-" + std::to_string(::getpid()) + "-" +
               std::to_string(rd() % 1000000);
    server_ = std::make_unique<ServerProcess>(dir_.path() / "server");
    ASSERT_TRUE(server_->started()) << "server did not start";
    auto issued = server_->post("/v1/tokens", R"({"scopes":["cell"],"cell":"trace-cell"})");
    ASSERT_EQ(issued.status, 201) << issued.body;
    std::ofstream(dir_.path() / "cell-token") << issued.json()["token"].get<std::string>() << "\n";
    ASSERT_TRUE(netns_.add_veth("wt0"));
    ASSERT_TRUE(netns_.add_veth("wt1"));
    agent_ = std::make_unique<AgentProcess>(
        std::vector<std::string>{"--server", "http://127.0.0.1:" + std::to_string(server_->port()),
                                 "--cell", "trace-cell", "--listen", "127.0.0.1:0", "--pin-dir",
                                 pin_dir_, "--state-dir", (dir_.path() / "agent").string(),
                                 "--token-file", (dir_.path() / "cell-token").string(),
                                 "--heartbeat-interval", "200", "--max-endpoints", "16",
                                 "--max-policy-entries", "65536"},
        dir_.path() / "agent.log");
    ASSERT_TRUE(agent_->started()) << agent_->log_text();
  }

  void TearDown() override {
    agent_.reset();
    server_.reset();
    sh("rm -rf " + pin_dir_);
  }

  json device(const std::string& ifname) const {
    return {{"namespace", netns_.path()}, {"interface_name", ifname}};
  }
  std::string register_app(const std::string& guid) {
    auto r = server_->post("/app", json{{"guid", guid}}.dump());
    EXPECT_TRUE(r.status == 200 || r.status == 201) << r.body;
    return r.json().value("wire_bytes", "");
  }
  void edge(json body) {
    auto r = server_->post("/whitelist", body.dump());
    ASSERT_TRUE(r.status == 200 || r.status == 201) << r.body;
  }
  void follow(const std::string& ifname, const std::string& guid) {
    auto r =
        agent_->request("POST", "/whitelist",
                        json{{"destination_device", device(ifname)}, {"app_guid", guid}}.dump());
    ASSERT_EQ(r.status, 200) << r.body;
  }
  HttpResult trace(const json& body) { return agent_->request("POST", "/v1/trace", body.dump()); }
  json ok(const json& body) {
    auto r = trace(body);
    EXPECT_EQ(r.status, 200) << body.dump() << " → " << r.body;
    return r.status == 200 ? r.json() : json::object();
  }
  std::string refused(const json& body, int status) {
    auto r = trace(body);
    EXPECT_EQ(r.status, status) << body.dump() << " → " << r.body;
    auto j = json::parse(r.body, nullptr, false);
    return j.is_array() && !j.empty() ? j[0].value("error_code", "") : "";
  }

  TempDir dir_;
  TestNetns netns_;
  std::string pin_dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(TraceApiTest, TracesTheCellsProgramsAgainstItsLiveRules) {
  const std::string dst = register_app("app-dst");
  const std::string src = register_app("app-src");
  const std::string other = register_app("app-other");
  const std::string stranger = register_app("app-stranger");
  edge({{"source", "app-src"},
        {"destination", "app-dst"},
        {"protocol", "tcp"},
        {"ports", {{"start", 5432}, {"end", 5432}}}});
  edge({{"source", "app-other"},
        {"destination", "app-dst"},
        {"protocol", "tcp"},
        {"ports", {{"start", 8000}, {"end", 8100}}}});
  follow("wt0", "app-dst");
  follow("wt1", "app-src");

  // The source's tag from the device that follows it; the verdict, the rule, the endpoint.
  json allowed =
      ok({{"destination", "app-dst"}, {"source", "app-src"}, {"protocol", "tcp"}, {"port", 5432}});
  EXPECT_EQ(allowed["cell"], "trace-cell");
  EXPECT_EQ(allowed["verdict"], "pass");
  EXPECT_EQ(allowed["reason"], "allow_rule");
  EXPECT_EQ(allowed["mode"], "enforce");
  EXPECT_EQ(allowed["rule"]["source"], src);
  EXPECT_EQ(allowed["rule"]["protocol"], "tcp");
  EXPECT_EQ(allowed["rule"]["ports"], (json{{"start", 5432}, {"end", 5432}}));
  EXPECT_EQ(allowed["endpoint"]["device"], device("wt0"));
  EXPECT_EQ(allowed["endpoint"]["app_guid"], "app-dst");
  EXPECT_EQ(allowed["endpoint"]["wire_bytes"], dst);
  EXPECT_EQ(allowed["source"],
            (json{{"app_guid", "app-src"}, {"wire_bytes", src}, {"resolved", "cell"}}));
  EXPECT_FALSE(allowed.contains("policies"));  // the server's to add: the agent has no provenance

  json denied =
      ok({{"destination", "app-dst"}, {"source", "app-src"}, {"protocol", "tcp"}, {"port", 5433}});
  EXPECT_EQ(denied["verdict"], "drop");
  EXPECT_EQ(denied["reason"], "drop_policy");
  EXPECT_EQ(denied["rule"], nullptr);

  // A source known from the rules only; the matched prefix and the rule's whole range.
  json ranged = ok({{"destination", "app-dst"},
                    {"source", "app-other"},
                    {"protocol", "tcp"},
                    {"port", 8050},
                    {"ipv6", true}});
  EXPECT_EQ(ranged["reason"], "allow_rule");
  EXPECT_EQ(ranged["rule"]["source"], other);
  EXPECT_EQ(ranged["rule"]["range"], (json{{"start", 8000}, {"end", 8100}}));
  EXPECT_EQ(ranged["rule"]["ports"], (json{{"start", 8000}, {"end", 8063}}));
  EXPECT_NE(ranged["packet"]["destination"].get<std::string>().find(':'), std::string::npos);

  // "*": a tag none of the endpoint's rules names, so only "*" rules (none here) apply.
  json any = ok({{"destination", "app-dst"}, {"source", "*"}, {"protocol", "tcp"}, {"port", 5432}});
  EXPECT_EQ(any["verdict"], "drop");
  EXPECT_EQ(any["source"]["resolved"], "wildcard");
  EXPECT_NE(any["source"]["wire_bytes"], src);
  EXPECT_NE(any["source"]["wire_bytes"], other);

  // A source the cell cannot resolve needs source_tag (the server gives it).
  EXPECT_EQ(refused({{"destination", "app-dst"},
                     {"source", "app-stranger"},
                     {"protocol", "tcp"},
                     {"port", 5432}},
                    400),
            "SOURCE_TAG_UNKNOWN");
  json given = ok({{"destination", "app-dst"},
                   {"source", "app-stranger"},
                   {"source_tag", stranger},
                   {"protocol", "tcp"},
                   {"port", 5432}});
  EXPECT_EQ(given["reason"], "drop_policy");
  EXPECT_EQ(given["source"]["resolved"], "source_tag");

  // A reply to what the destination opened passes, though nothing from there may enter.
  json reply = ok({{"destination", "app-dst"},
                   {"source_tag", stranger},
                   {"protocol", "tcp"},
                   {"port", 443},
                   {"reply", true}});
  EXPECT_EQ(reply["verdict"], "pass");
  EXPECT_EQ(reply["reason"], "allow_reply");
  EXPECT_EQ(reply["stamp"]["reason"], "stamped");

  // Untagged (no source): the endpoint's untagged setting; by device instead of app.
  json host = ok({{"destination_device", device("wt1")}, {"protocol", "icmp"}});
  EXPECT_EQ(host["reason"], "allow_untagged");
  EXPECT_EQ(host["endpoint"]["app_guid"], "app-src");

  // Audit mode (the group in TEST): the same packet is a would-drop.
  ASSERT_EQ(server_->pap("PUT", "/pdps/groups/defaultGroup?state=TEST").status, 200);
  ASSERT_TRUE(eventually([&] {
    return ok({{"destination", "app-dst"},
               {"source", "app-src"},
               {"protocol", "tcp"},
               {"port", 5433}})["mode"] == "audit";
  })) << agent_->log_text();
  json audited =
      ok({{"destination", "app-dst"}, {"source", "app-src"}, {"protocol", "tcp"}, {"port", 5433}});
  EXPECT_EQ(audited["verdict"], "would-drop");
  EXPECT_EQ(audited["reason"], "drop_policy");
}

TEST_F(TraceApiTest, RefusalsNameTheirError) {
  register_app("app-dst");
  follow("wt0", "app-dst");
  const json good = {{"destination", "app-dst"}, {"protocol", "tcp"}, {"port", 80}};
  ASSERT_EQ(trace(good).status, 200) << trace(good).body;
  auto with = [&](const char* key, json value) {
    json b = good;
    b[key] = std::move(value);
    return b;
  };
  auto without = [&](const char* key) {
    json b = good;
    b.erase(key);
    return b;
  };
  EXPECT_EQ(refused(with("destination", "app-elsewhere"), 404), "ENDPOINT_NOT_FOUND");
  EXPECT_EQ(refused(with("destination_device", device("wt1")), 404), "ENDPOINT_NOT_FOUND");
  EXPECT_EQ(refused(with("colour", "red"), 400), "UNKNOWN_FIELD");
  EXPECT_EQ(refused(without("destination"), 400), "MISSING_FIELD");
  EXPECT_EQ(refused(without("protocol"), 400), "MISSING_FIELD");
  EXPECT_EQ(refused(without("port"), 400), "MISSING_FIELD");
  EXPECT_EQ(refused(with("protocol", "any"), 400), "INVALID_FIELD_VALUE");
  EXPECT_EQ(refused(with("protocol", "icmp"), 400), "INVALID_FIELD_COMBINATION");
  EXPECT_EQ(refused(with("port", 0), 400), "INVALID_FIELD_VALUE");
  EXPECT_EQ(refused(with("port", "80"), 400), "INVALID_FIELD_TYPE");
  EXPECT_EQ(refused(with("ipv6", "yes"), 400), "INVALID_FIELD_TYPE");
  EXPECT_EQ(refused(with("source_tag", "xyz"), 400), "INVALID_WIRE_BYTES");
  EXPECT_EQ(refused(with("source_tag", "0000"), 400), "INVALID_WIRE_BYTES");
  EXPECT_EQ(refused(with("destination", "not a guid!"), 400).substr(0, 8), "INVALID_");
  EXPECT_EQ(agent_->request("POST", "/v1/trace", "{").status, 400);
}

}  // namespace
}  // namespace wiretag::test
