// The internal API (/internal/v1) over real HTTP against the binary: the watch long poll,
// effective rules, cells, DELETE /whitelist and who may call what.
#include <gtest/gtest.h>

#include <functional>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "server_process.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

class InternalApi : public ServerTest {
 protected:
  std::string register_app(const std::string& guid, const std::string& account = "default") {
    auto r = s().post("/app", json{{"guid", guid}, {"account", account}}.dump());
    EXPECT_TRUE(r.status == 201 || r.status == 200) << r.body;
    return r.json().value("wire_bytes", "");
  }
  int64_t revision() { return s().get("/internal/v1/status").json()["revision"].get<int64_t>(); }
  HttpResult watch(const std::string& query) { return s().get("/internal/v1/watch?" + query); }
  // A watch on another thread, answered later.
  std::future<HttpResult> watch_async(const std::string& query) {
    return std::async(std::launch::async, [port = s().port(), token = s().admin_token(), query] {
      return http_request(port, "GET", "/internal/v1/watch?" + query, "", token);
    });
  }
  // Polls the server's own count until n watches wait (a state, not a time).
  bool until_watching(size_t n) {
    for (int i = 0; i < 2000; ++i) {
      if (s().get("/internal/v1/status").json().value("watches", size_t{0}) >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }
  std::string issue(const json& scopes, const json& accounts = json::array()) {
    auto r = s().post("/v1/tokens", json{{"scopes", scopes}, {"accounts", accounts}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json().value("token", "");
  }
  // A cell token bound to `cell`.
  std::string cell_token(const std::string& cell) {
    auto r = s().post("/v1/tokens", json{{"scopes", {"cell"}}, {"cell", cell}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json().value("token", "");
  }
  // Everything the internal API shows; equal snapshots = nothing changed.
  json snapshot() {
    return {{"apps", s().get("/apps").json()},
            {"changes", s().get("/internal/v1/changes?since=0").json()},
            {"cells", s().get("/internal/v1/cells").json()}};
  }
};

struct BadInput {
  std::string name;
  std::string method;
  std::string target;
  std::string body;
  int status;
  std::string error_code;
};

void expect_rejected(InternalApi* t, const std::vector<BadInput>& cases,
                     const std::function<json()>& snapshot, ServerProcess& server) {
  (void)t;
  for (const BadInput& c : cases) {
    SCOPED_TRACE(c.name);
    json before = snapshot();
    auto r = server.request(c.method, c.target, c.body);
    EXPECT_EQ(r.status, c.status) << r.body;
    EXPECT_EQ(r.error_code(), c.error_code) << r.body;
    auto j = r.json();
    ASSERT_TRUE(j.is_array()) << r.body;
    ASSERT_EQ(j.size(), 1u);
    EXPECT_EQ(j[0].size(), 2u) << "only error_code and message";
    EXPECT_EQ(snapshot(), before);
  }
}

TEST_F(InternalApi, WatchBehindTheRevisionReturnsTheEventsAtOnce) {
  std::string a = register_app("a");
  register_app("b");
  ASSERT_EQ(s().post("/whitelist", R"({"source":"a","destination":"b"})").status, 201);
  auto r = watch("since=0&timeout=300");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = r.json();
  EXPECT_EQ(j["revision"], 3);
  EXPECT_EQ(j["resync"], false);
  EXPECT_EQ(j["tag_length"], 2);
  EXPECT_EQ(j["store_id"].get<std::string>().size(), 36u);
  ASSERT_EQ(j["events"].size(), 3u);
  EXPECT_EQ(j["events"][0]["kind"], "app.created");
  EXPECT_EQ(j["events"][0]["body"]["wire_bytes"], a);
  EXPECT_EQ(j["events"][2]["kind"], "edge.created");
  EXPECT_EQ(j["events"][2]["revision"], 3);
  EXPECT_EQ(j["events"][2]["body"]["destination"], "b");
  auto from2 = watch("since=2").json();
  ASSERT_EQ(from2["events"].size(), 1u);
  EXPECT_EQ(from2["revision"], 3);
}

TEST_F(InternalApi, AHeldWatchIsWokenByAWriteAndCarriesTheEdge) {
  register_app("a");
  register_app("b");
  int64_t rev = revision();
  auto pending = watch_async("since=" + std::to_string(rev) + "&timeout=120");
  ASSERT_TRUE(until_watching(1));
  ASSERT_EQ(s().post("/whitelist",
                     R"({"source":"a","destination":"b","protocol":"tcp","ports":{"start":80}})")
                .status,
            201);
  auto r = pending.get();
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = r.json();
  EXPECT_EQ(j["revision"], rev + 1);
  ASSERT_EQ(j["events"].size(), 1u);
  EXPECT_EQ(j["events"][0]["kind"], "edge.created");
  EXPECT_EQ(j["events"][0]["subject"], "b");
  EXPECT_EQ(j["events"][0]["body"]["source"], "a");
  EXPECT_EQ(j["events"][0]["body"]["destination"], "b");
  EXPECT_EQ(j["events"][0]["body"]["protocol"], "tcp");
  EXPECT_EQ(j["events"][0]["body"]["ports"], (json{{"start", 80}, {"end", 80}}));
}

TEST_F(InternalApi, AccountPolicyWritesWakeWatchersToo) {
  register_app("a");
  int64_t rev = revision();
  auto pending = watch_async("since=" + std::to_string(rev) + "&timeout=120");
  ASSERT_TRUE(until_watching(1));
  auto p = s().post("/v1/accounts/default/policies",
                    R"({"name":"p","rules":[{"source":"*","destination":"a"}]})");
  ASSERT_EQ(p.status, 201) << p.body;
  auto j = pending.get().json();
  ASSERT_EQ(j["events"].size(), 1u);
  EXPECT_EQ(j["events"][0]["kind"], "policy.created");
  EXPECT_EQ(j["events"][0]["body"]["rules"][0]["destination"], "a");
}

TEST_F(InternalApi, WatchTimeoutZeroAnswersAtOnceAndExpiryAnswersEmpty) {
  register_app("a");
  int64_t rev = revision();
  auto now = watch("since=" + std::to_string(rev) + "&timeout=0");
  ASSERT_EQ(now.status, 200) << now.body;
  EXPECT_EQ(now.json()["events"], json::array());
  EXPECT_EQ(now.json()["revision"], rev);
  auto expired = watch("since=" + std::to_string(rev) + "&timeout=1");
  ASSERT_EQ(expired.status, 200) << expired.body;
  EXPECT_EQ(expired.json()["events"], json::array());
  EXPECT_EQ(expired.json()["revision"], rev);
  EXPECT_EQ(expired.json()["resync"], false);
}

TEST_F(InternalApi, WatchAheadOfTheStoreAsksForAResync) {
  register_app("a");
  auto r = watch("since=99&timeout=300");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = r.json();
  EXPECT_EQ(j["resync"], true);
  EXPECT_EQ(j["events"], json::array());
  EXPECT_EQ(j["revision"], 1);
}

TEST_F(InternalApi, WatchRejectsBadQueries) {
  std::vector<BadInput> cases = {
      {"no since", "GET", "/internal/v1/watch", "", 400, "INVALID_REVISION"},
      {"empty since", "GET", "/internal/v1/watch?since=", "", 400, "INVALID_REVISION"},
      {"negative since", "GET", "/internal/v1/watch?since=-1", "", 400, "INVALID_REVISION"},
      {"since not a number", "GET", "/internal/v1/watch?since=x", "", 400, "INVALID_REVISION"},
      {"since huge", "GET", "/internal/v1/watch?since=99999999999999999999", "", 400,
       "INVALID_REVISION"},
      {"timeout over 300", "GET", "/internal/v1/watch?since=0&timeout=301", "", 400,
       "INVALID_QUERY"},
      {"timeout negative", "GET", "/internal/v1/watch?since=0&timeout=-1", "", 400,
       "INVALID_QUERY"},
      {"timeout fraction", "GET", "/internal/v1/watch?since=0&timeout=1.5", "", 400,
       "INVALID_QUERY"},
      {"post", "POST", "/internal/v1/watch?since=0", "", 405, "METHOD_NOT_ALLOWED"},
  };
  expect_rejected(
      this, cases, [this] { return snapshot(); }, s());
}

TEST_F(InternalApi, ManyWatchesWaitWithoutHoldingThreads) {
  server_.reset();
  start({"--threads", "2"});
  register_app("a");
  register_app("b");
  int64_t rev = revision();
  constexpr int kWatches = 200;
  std::vector<std::future<HttpResult>> pending;
  for (int i = 0; i < kWatches; ++i)
    pending.push_back(watch_async("since=" + std::to_string(rev) + "&timeout=120"));
  // All 200 wait on a 2-thread server, which still answers everything else.
  ASSERT_TRUE(until_watching(kWatches));
  ASSERT_EQ(s().post("/whitelist", R"({"source":"a","destination":"b"})").status, 201);
  for (auto& f : pending) {
    auto r = f.get();
    ASSERT_EQ(r.status, 200) << r.body;
    auto j = r.json();
    ASSERT_EQ(j["events"].size(), 1u) << r.body;
    EXPECT_EQ(j["events"][0]["body"]["destination"], "b");
  }
}

TEST_F(InternalApi, SigtermAnswersWaitingWatchesAndExits) {
  register_app("a");
  int64_t rev = revision();
  std::vector<std::future<HttpResult>> pending;
  for (int i = 0; i < 5; ++i)
    pending.push_back(watch_async("since=" + std::to_string(rev) + "&timeout=300"));
  ASSERT_TRUE(until_watching(5));
  // terminate() gives up (and returns -1) after 30 s: a liveness bound, not a speed test.
  EXPECT_EQ(s().terminate(), 0);
  for (auto& f : pending) {
    auto r = f.get();
    ASSERT_EQ(r.status, 200) << "a waiting watch must be answered, not cut off";
    EXPECT_EQ(r.json()["events"], json::array());
  }
}

TEST_F(InternalApi, EndpointsQueryGivesEachAppsEffectiveRules) {
  std::string a = register_app("a");
  std::string b = register_app("b");
  std::string c = register_app("c");
  register_app("gone");
  ASSERT_EQ(s().post("/whitelist", R"({"source":"a","destination":"c"})").status, 201);
  ASSERT_EQ(s().post("/whitelist", R"({"source":"gone","destination":"c"})").status, 201);
  auto p = s().post("/v1/accounts/default/policies", R"({"name":"web","rules":[
      {"source":"b","destination":"c","protocol":"tcp","ports":{"start":8080,"end":8090}},
      {"source":"*","destination":"c","protocol":"icmp"},
      {"source":"gone","destination":"c","protocol":"udp"},
      {"source":"c","destination":"a","protocol":"udp","ports":{"start":53,"end":53}}]})");
  ASSERT_EQ(p.status, 201) << p.body;
  ASSERT_EQ(s().request("DELETE", "/app/gone").status, 200);
  auto r = s().post("/internal/v1/endpoints/query", R"({"apps":["c","a","nope"]})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = r.json();
  EXPECT_EQ(j["revision"], revision());
  EXPECT_EQ(j["tag_length"], 2);
  EXPECT_EQ(j["store_id"], watch("since=0&timeout=0").json()["store_id"]);
  EXPECT_EQ(j["missing"], json::array({"nope"}));
  ASSERT_EQ(j["apps"].size(), 2u);
  const json& jc = j["apps"][0];
  EXPECT_EQ(jc["guid"], "c");
  EXPECT_EQ(jc["wire_bytes"], c);
  EXPECT_EQ(jc["tag"], std::stoi(c, nullptr, 16));
  EXPECT_EQ(jc["rules"],
            (json{{{"source", "a"}, {"source_tag", std::stoi(a, nullptr, 16)}, {"protocol", "any"}},
                  {{"source", "b"},
                   {"source_tag", std::stoi(b, nullptr, 16)},
                   {"protocol", "tcp"},
                   {"ports", {{"start", 8080}, {"end", 8090}}}},
                  {{"source", "*"}, {"source_tag", 0}, {"protocol", "icmp"}}}));
  EXPECT_EQ(j["apps"][1]["rules"], (json{{{"source", "c"},
                                          {"source_tag", std::stoi(c, nullptr, 16)},
                                          {"protocol", "udp"},
                                          {"ports", {{"start", 53}, {"end", 53}}}}}));
}

TEST_F(InternalApi, EndpointsQueryRejectsBadInput) {
  register_app("a");
  json too_many = json::array();
  for (int i = 0; i <= 10000; ++i) too_many.push_back("a" + std::to_string(i));
  const std::string q = "/internal/v1/endpoints/query";
  std::vector<BadInput> cases = {
      {"malformed json", "POST", q, R"({"apps":[)", 400, "INVALID_JSON"},
      {"not an object", "POST", q, R"(["a"])", 400, "INVALID_BODY"},
      {"apps not an array", "POST", q, R"({"apps":"a"})", 400, "INVALID_FIELD_TYPE"},
      {"guid not a string", "POST", q, R"({"apps":["a",7]})", 400, "INVALID_FIELD_TYPE"},
      {"unknown field", "POST", q, R"({"apps":["a"],"x":1})", 400, "UNKNOWN_FIELD"},
      {"missing apps", "POST", q, R"({})", 400, "MISSING_FIELD"},
      {"empty list", "POST", q, R"({"apps":[]})", 400, "INVALID_APP_COUNT"},
      {"bad guid", "POST", q, R"({"apps":["a","a b"]})", 400, "INVALID_GUID"},
      {"over 10000", "POST", q, json{{"apps", too_many}}.dump(), 400, "INVALID_APP_COUNT"},
      {"get", "GET", q, "", 405, "METHOD_NOT_ALLOWED"},
  };
  expect_rejected(
      this, cases, [this] { return snapshot(); }, s());
}

TEST_F(InternalApi, DeleteWhitelistRemovesTheEdgeAndLogsIt) {
  register_app("a");
  register_app("b");
  ASSERT_EQ(s().post("/whitelist", R"({"source":"a","destination":"b"})").status, 201);
  ASSERT_EQ(s().post("/whitelist",
                     R"({"source":"a","destination":"b","protocol":"tcp","ports":{"start":80}})")
                .status,
            201);
  int64_t rev = revision();
  auto r = s().request("DELETE", "/whitelist",
                       R"({"source":"a","destination":"b","protocol":"tcp","ports":{"start":80}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json(), (json{{"status", "success"}}));
  auto events = watch("since=" + std::to_string(rev)).json()["events"];
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["kind"], "edge.deleted");
  EXPECT_EQ(events[0]["body"]["destination"], "b");
  EXPECT_EQ(events[0]["body"]["ports"], (json{{"start", 80}, {"end", 80}}));
  auto rules = s().get("/app/b/whitelist?detail=rules").json()["rules"];
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0]["protocol"], "any");
  ASSERT_EQ(s().request("DELETE", "/whitelist", R"({"source":"a","destination":"b"})").status, 200);
  EXPECT_EQ(s().get("/app/b/whitelist").json()["allowed_wire_bytes"], json::array());
}

TEST_F(InternalApi, DeleteWhitelistRejectsBadInputAndChangesNothing) {
  register_app("a");
  register_app("b");
  ASSERT_EQ(s().post("/whitelist", R"({"source":"a","destination":"b"})").status, 201);
  std::vector<BadInput> cases = {
      {"malformed json", "DELETE", "/whitelist", R"({"source":)", 400, "INVALID_JSON"},
      {"wrong type", "DELETE", "/whitelist", R"({"source":1,"destination":"b"})", 400,
       "INVALID_FIELD_TYPE"},
      {"unknown field", "DELETE", "/whitelist", R"({"source":"a","destination":"b","x":1})", 400,
       "UNKNOWN_FIELD"},
      {"missing source", "DELETE", "/whitelist", R"({"destination":"b"})", 400, "MISSING_FIELD"},
      {"bad guid", "DELETE", "/whitelist", R"({"source":"a b","destination":"b"})", 400,
       "INVALID_GUID"},
      {"bad protocol", "DELETE", "/whitelist",
       R"({"source":"a","destination":"b","protocol":"sctp"})", 400, "INVALID_PROTOCOL"},
      {"bad ports", "DELETE", "/whitelist",
       R"({"source":"a","destination":"b","protocol":"tcp","ports":{"start":9,"end":5}})", 400,
       "INVALID_RULE"},
      {"unknown source", "DELETE", "/whitelist", R"({"source":"zz","destination":"b"})", 404,
       "APP_NOT_FOUND"},
      {"unknown destination", "DELETE", "/whitelist", R"({"source":"a","destination":"zz"})", 404,
       "APP_NOT_FOUND"},
      {"no such edge", "DELETE", "/whitelist", R"({"source":"b","destination":"a"})", 404,
       "EDGE_NOT_FOUND"},
      {"other protocol", "DELETE", "/whitelist",
       R"({"source":"a","destination":"b","protocol":"tcp"})", 404, "EDGE_NOT_FOUND"},
  };
  expect_rejected(
      this, cases, [this] { return snapshot(); }, s());
}

json pdp_status(const std::string& name, int interval_ms = 1000) {
  return {{"messageName", "PDP_STATUS"},
          {"requestId", "r-1"},
          {"timestampMs", 1700000000000},
          {"name", name},
          {"pdpType", "tc"},
          {"pdpGroup", "defaultGroup"},
          {"pdpSubgroup", "tc"},
          {"state", "ACTIVE"},
          {"healthy", "HEALTHY"},
          {"description", "wiretag cell agent"},
          {"policies", {{{"name", "default-whitelist"}, {"version", "1"}}}},
          {"statistics",
           {{"pdpInstanceId", name},
            {"timeStamp", "2026-11-23T12:00:00Z"},
            {"pdpGroupName", "defaultGroup"},
            {"pdpSubGroupName", "tc"},
            {"policyDeployCount", 1},
            {"policyDeploySuccessCount", 1},
            {"policyDeployFailCount", 0},
            {"policyExecutedCount", 10},
            {"policyExecutedSuccessCount", 9},
            {"policyExecutedFailCount", 1},
            {"policyUndeployCount", 0},
            {"policyUndeploySuccessCount", 0},
            {"policyUndeployFailCount", 0}}},
          {"heartbeatIntervalMs", interval_ms},
          {"revision", 3},
          {"datapath", {{"endpoints", 2}, {"allowed", 9}, {"dropped", 1}, {"audited", 0}}}};
}

TEST_F(InternalApi, CellsRegisterWithPdpStatusAndAreListed) {
  auto r = s().post("/internal/v1/cells/cell1/status", pdp_status("cell1").dump());
  ASSERT_EQ(r.status, 200) << r.body;
  // The reply is the cell's PAP assignment (docs/server.md, "PAP"): defaultGroup from the start,
  // with ONAP's PDP_UPDATE and PDP_STATE_CHANGE fields (OnapPdpMessages, below).
  json reply = r.json();
  for (const char* onap : {"messageName", "requestId", "timestampMs", "source", "description",
                           "pdpHeartbeatIntervalMs", "policiesToBeDeployed",
                           "policiesToBeUndeployed", "pdpStateChange"}) {
    EXPECT_TRUE(reply.contains(onap)) << onap;
    reply.erase(onap);
  }
  EXPECT_EQ(reply, (json{{"name", "cell1"},
                         {"pdpGroup", "defaultGroup"},
                         {"pdpSubgroup", "tc"},
                         {"state", "ACTIVE"},
                         {"mode", "enforce"},
                         {"locked", false},
                         {"policies", {{{"name", "default-whitelist"}, {"version", "1.0.0"}}}},
                         {"revision", 0},
                         {"heartbeatIntervalMs", 1000},
                         {"vteps", json::array()}}));
  json minimal = {
      {"messageName", "PDP_STATUS"}, {"name", "cell0"},      {"pdpType", "tc"},
      {"state", "PASSIVE"},          {"healthy", "UNKNOWN"}, {"heartbeatIntervalMs", 100}};
  ASSERT_EQ(s().post("/internal/v1/cells/cell0/status", minimal.dump()).status, 200);
  auto list = s().get("/internal/v1/cells").json()["cells"];
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["name"], "cell0");
  EXPECT_EQ(list[0]["pdpGroup"], "defaultGroup");
  EXPECT_EQ(list[0]["pdpSubgroup"], "tc");
  EXPECT_EQ(list[0]["revision"], nullptr);
  const json& c = list[1];
  EXPECT_EQ(c["name"], "cell1");
  EXPECT_EQ(c["pdpType"], "tc");
  EXPECT_EQ(c["state"], "ACTIVE");
  EXPECT_EQ(c["reportedHealthy"], "HEALTHY");
  EXPECT_EQ(c["healthy"], true);
  EXPECT_EQ(c["expired"], false);
  EXPECT_EQ(c["heartbeatIntervalMs"], 1000);
  EXPECT_EQ(c["revision"], 3);
  EXPECT_EQ(c["policies"], pdp_status("cell1")["policies"]);
  EXPECT_EQ(c["statistics"], pdp_status("cell1")["statistics"]);
  EXPECT_EQ(c["datapath"], pdp_status("cell1")["datapath"]);
  EXPECT_GT(c["lastHeartbeatMs"].get<int64_t>(), 0);
  auto one = s().get("/internal/v1/cells/cell1");
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(one.json()["name"], "cell1");
  EXPECT_EQ(s().get("/internal/v1/cells/nope").error_code(), "CELL_NOT_FOUND");
  EXPECT_EQ(s().get("/internal/v1/cells/a%20b").error_code(), "INVALID_CELL_NAME");
}

// The agent's build rides in ONAP's deploymentInstanceInfo (PdpStatus has no version field).
TEST_F(InternalApi, ACellsDeploymentInstanceInfoIsShownInTheCellListing) {
  json status = pdp_status("cell1");
  status["deploymentInstanceInfo"] = "wiretag-agent 0.1.0 (gabc1234)";
  ASSERT_EQ(s().post("/internal/v1/cells/cell1/status", status.dump()).status, 200);
  EXPECT_EQ(s().get("/internal/v1/cells/cell1").json()["deploymentInstanceInfo"],
            "wiretag-agent 0.1.0 (gabc1234)");
  EXPECT_EQ(s().get("/internal/v1/cells").json()["cells"][0]["deploymentInstanceInfo"],
            "wiretag-agent 0.1.0 (gabc1234)");
  // A cell that does not say has null; a wrong type is refused and changes nothing.
  ASSERT_EQ(s().post("/internal/v1/cells/cell2/status", pdp_status("cell2").dump()).status, 200);
  EXPECT_EQ(s().get("/internal/v1/cells/cell2").json()["deploymentInstanceInfo"], nullptr);
  json before = s().get("/internal/v1/cells/cell1").json();
  status["deploymentInstanceInfo"] = 7;
  EXPECT_EQ(s().post("/internal/v1/cells/cell1/status", status.dump()).error_code(),
            "INVALID_FIELD_TYPE");
  status["deploymentInstanceInfo"] = std::string(1025, 'x');
  EXPECT_EQ(s().post("/internal/v1/cells/cell1/status", status.dump()).error_code(),
            "FIELD_TOO_LONG");
  EXPECT_EQ(s().get("/internal/v1/cells/cell1").json(), before);
}

// The XDP gate's VTEP set: each cell reports its own (vtepAddresses), every PDP_STATUS reply
// names every cell's (docs/datapath.md "The XDP gate").
TEST_F(InternalApi, CellsReportTheirVtepsAndEachReplyNamesEveryCells) {
  json a = pdp_status("cell1");
  a["vtepAddresses"] = {"198.18.0.1", "2001:2:0:0::1"};
  auto r = s().post("/internal/v1/cells/cell1/status", a.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["vteps"], (json{"198.18.0.1", "2001:2::1"})) << "normalized";
  json b = pdp_status("cell2");
  b["vtepAddresses"] = {"198.18.0.2"};
  r = s().post("/internal/v1/cells/cell2/status", b.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["vteps"], (json{"198.18.0.1", "198.18.0.2", "2001:2::1"}));
  EXPECT_EQ(s().get("/internal/v1/cells/cell2").json()["vtepAddresses"], (json{"198.18.0.2"}));
  // A cell without the field (no --underlay) reports none and still learns the set.
  r = s().post("/internal/v1/cells/cell3/status", pdp_status("cell3").dump());
  EXPECT_EQ(r.json()["vteps"], (json{"198.18.0.1", "198.18.0.2", "2001:2::1"}));
  EXPECT_EQ(s().get("/internal/v1/cells/cell3").json()["vtepAddresses"], json::array());
  // A cell that moves its VTEP: the old address leaves the set.
  b["vtepAddresses"] = {"198.18.0.22"};
  r = s().post("/internal/v1/cells/cell2/status", b.dump());
  EXPECT_EQ(r.json()["vteps"], (json{"198.18.0.1", "198.18.0.22", "2001:2::1"}));
  // Not an address: refused, and what the cell reported before stays.
  json before = s().get("/internal/v1/cells/cell2").json();
  for (json bad : {json{"198.18.0.256"}, json{"cell2"}, json{7}, json("198.18.0.2")}) {
    b["vtepAddresses"] = bad;
    auto e = s().post("/internal/v1/cells/cell2/status", b.dump());
    EXPECT_EQ(e.status, 400) << bad;
    EXPECT_TRUE(e.error_code() == "INVALID_VTEP" || e.error_code() == "INVALID_FIELD_TYPE")
        << bad << " " << e.body;
  }
  EXPECT_EQ(s().get("/internal/v1/cells/cell2").json()["vtepAddresses"], before["vtepAddresses"]);
}

TEST_F(InternalApi, ACellThatStopsHeartbeatingExpires) {
  ASSERT_EQ(s().post("/internal/v1/cells/fast/status", pdp_status("fast", 100).dump()).status, 200);
  // Three missed 100 ms heartbeats: poll for the state, no timing asserted.
  json cell;
  for (int i = 0; i < 2000; ++i) {
    cell = s().get("/internal/v1/cells/fast").json();
    if (cell["expired"] == true) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(cell["expired"], true);
  EXPECT_EQ(cell["healthy"], false);
  EXPECT_EQ(cell["reportedHealthy"], "HEALTHY");
  ASSERT_EQ(s().post("/internal/v1/cells/fast/status", pdp_status("fast", 100000).dump()).status,
            200);
  EXPECT_EQ(s().get("/internal/v1/cells/fast").json()["expired"], false);
}

// SPEC §4.4: PDP_STATUS, PDP_UPDATE and PDP_STATE_CHANGE use ONAP's fields. A PDP_STATUS as
// ONAP's PDPs send it (no wiretag extension, `properties`, no heartbeat interval) is taken, and
// the answer is the cell's PDP_UPDATE: what it must deploy and undeploy, and the interval it
// is judged by, with its PDP_STATE_CHANGE.
TEST_F(InternalApi, OnapPdpMessages) {
  json onap = {{"messageName", "PDP_STATUS"},
               {"requestId", "5551ab20-0c4e-4a3f-9b2d-7e1f2a3b4c5d"},
               {"timestampMs", 1795939200000},
               {"name", "onap-pdp"},
               {"pdpType", "tc"},
               {"pdpGroup", "defaultGroup"},
               {"pdpSubgroup", "tc"},
               {"state", "ACTIVE"},
               {"healthy", "HEALTHY"},
               {"description", "Pdp Heartbeat"},
               {"deploymentInstanceInfo", "pod onap-pdp-0"},
               {"properties", "{\"site\":\"a\"}"},
               {"policies", {{{"name", "retired"}, {"version", "1.0.0"}}}},
               {"response", {{"responseTo", "x"}, {"responseStatus", "SUCCESS"}}}};
  auto r = s().post("/internal/v1/cells/onap-pdp/status", onap.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  json update = r.json();
  EXPECT_EQ(update["messageName"], "PDP_UPDATE");
  EXPECT_EQ(update["name"], "onap-pdp");
  EXPECT_EQ(update["pdpGroup"], "defaultGroup");
  EXPECT_EQ(update["pdpSubgroup"], "tc");
  EXPECT_EQ(update["source"], "wiretag-server");
  EXPECT_FALSE(update["requestId"].get<std::string>().empty());
  EXPECT_GT(update["timestampMs"].get<int64_t>(), 0);
  EXPECT_EQ(update["pdpHeartbeatIntervalMs"], 10000) << "the server's default";
  ASSERT_EQ(update["policiesToBeDeployed"].size(), 1u) << update;
  const json& deploy = update["policiesToBeDeployed"][0];
  EXPECT_EQ(deploy["name"], "default-whitelist");
  EXPECT_EQ(deploy["version"], "1.0.0");
  EXPECT_EQ(deploy["type"], "wiretag.policies.Whitelist");
  EXPECT_EQ(deploy["type_version"], "1.0.0");
  EXPECT_EQ(deploy["metadata"]["policy-id"], "default-whitelist");
  EXPECT_EQ(update["policiesToBeUndeployed"], (json{{{"name", "retired"}, {"version", "1.0.0"}}}));
  const json& change = update["pdpStateChange"];
  EXPECT_EQ(change["messageName"], "PDP_STATE_CHANGE");
  EXPECT_EQ(change["name"], "onap-pdp");
  EXPECT_EQ(change["pdpGroup"], "defaultGroup");
  EXPECT_EQ(change["pdpSubgroup"], "tc");
  EXPECT_EQ(change["state"], "ACTIVE");
  json cell = s().get("/internal/v1/cells/onap-pdp").json();
  EXPECT_EQ(cell["heartbeatIntervalMs"], 10000);
  EXPECT_EQ(cell["properties"], "{\"site\":\"a\"}");
  EXPECT_EQ(cell["healthy"], true);
  // Once it holds what is deployed, nothing is left to deploy or undeploy.
  onap["policies"] = {{{"name", "default-whitelist"}, {"version", "1.0.0"}}};
  update = s().post("/internal/v1/cells/onap-pdp/status", onap.dump()).json();
  EXPECT_EQ(update["policiesToBeDeployed"], json::array());
  EXPECT_EQ(update["policiesToBeUndeployed"], json::array());
  // ONAP's PDP says TERMINATED as it stops: expired and unhealthy at once.
  onap["state"] = "TERMINATED";
  ASSERT_EQ(s().post("/internal/v1/cells/onap-pdp/status", onap.dump()).status, 200);
  cell = s().get("/internal/v1/cells/onap-pdp").json();
  EXPECT_EQ(cell["state"], "TERMINATED");
  EXPECT_EQ(cell["expired"], true);
  EXPECT_EQ(cell["healthy"], false);
  // A server started with another interval judges such cells by it.
  server_.reset();
  start({"--pdp-heartbeat-interval", "120000"});
  onap["state"] = "ACTIVE";
  update = s().post("/internal/v1/cells/onap-pdp/status", onap.dump()).json();
  EXPECT_EQ(update["pdpHeartbeatIntervalMs"], 120000);
  EXPECT_EQ(s().get("/internal/v1/cells/onap-pdp").json()["heartbeatIntervalMs"], 120000);
  // The watch's pdp.update and pdp.state_change carry ONAP's names and the change.
  ASSERT_EQ(s().pap("PUT", "/pdps/groups/defaultGroup?state=TEST").status, 200);
  json changes = s().get("/internal/v1/changes?since=0").json()["changes"];
  ASSERT_FALSE(changes.empty());
  const json& last = changes.back();
  EXPECT_EQ(last["kind"], "pdp.state_change");
  EXPECT_EQ(last["body"]["messageName"], "PDP_STATE_CHANGE");
  EXPECT_EQ(last["body"]["pdpGroup"], "defaultGroup");
  EXPECT_EQ(last["body"]["state"], "TEST");
}

TEST_F(InternalApi, PdpStatusRejectsBadInputAndChangesNothing) {
  const std::string at = "/internal/v1/cells/cell1/status";
  auto with = [](const std::string& key, json value) {
    json j = pdp_status("cell1");
    j[key] = std::move(value);
    return j.dump();
  };
  auto without = [](const std::string& key) {
    json j = pdp_status("cell1");
    j.erase(key);
    return j.dump();
  };
  auto stats_with = [](const std::string& key, json value) {
    json j = pdp_status("cell1");
    j["statistics"][key] = std::move(value);
    return j.dump();
  };
  std::vector<BadInput> cases = {
      {"malformed json", "POST", at, R"({"messageName":)", 400, "INVALID_JSON"},
      {"not an object", "POST", at, "[]", 400, "INVALID_BODY"},
      {"unknown field", "POST", at, with("extra", 1), 400, "UNKNOWN_FIELD"},
      {"missing messageName", "POST", at, without("messageName"), 400, "MISSING_FIELD"},
      {"missing state", "POST", at, without("state"), 400, "MISSING_FIELD"},
      {"other message", "POST", at, with("messageName", "PDP_UPDATE"), 400, "INVALID_MESSAGE_NAME"},
      {"name mismatch", "POST", at, with("name", "cell2"), 400, "NAME_MISMATCH"},
      {"bad path name", "POST", "/internal/v1/cells/a%20b/status", with("name", "a b"), 400,
       "INVALID_CELL_NAME"},
      {"name not a string", "POST", at, with("name", 5), 400, "INVALID_FIELD_TYPE"},
      {"bad state", "POST", at, with("state", "RUNNING"), 400, "INVALID_STATE"},
      {"bad health", "POST", at, with("healthy", "OK"), 400, "INVALID_HEALTH"},
      {"interval too small", "POST", at, with("heartbeatIntervalMs", 99), 400,
       "INVALID_HEARTBEAT_INTERVAL"},
      {"interval too big", "POST", at, with("heartbeatIntervalMs", 3600001), 400,
       "INVALID_HEARTBEAT_INTERVAL"},
      {"interval a string", "POST", at, with("heartbeatIntervalMs", "1000"), 400,
       "INVALID_FIELD_TYPE"},
      {"interval fractional", "POST", at, with("heartbeatIntervalMs", 1000.5), 400,
       "INVALID_FIELD_TYPE"},
      {"empty pdpType", "POST", at, with("pdpType", ""), 400, "INVALID_PDP_TYPE"},
      {"empty pdpGroup", "POST", at, with("pdpGroup", ""), 400, "INVALID_PDP_GROUP"},
      {"negative revision", "POST", at, with("revision", -1), 400, "INVALID_REVISION"},
      {"negative timestamp", "POST", at, with("timestampMs", -1), 400, "INVALID_TIMESTAMP"},
      {"policies not an array", "POST", at, with("policies", json::object()), 400,
       "INVALID_FIELD_TYPE"},
      {"policy without version", "POST", at, with("policies", json{{{"name", "p"}}}), 400,
       "MISSING_FIELD"},
      {"policy extra field", "POST", at,
       with("policies", json{{{"name", "p"}, {"version", "1"}, {"x", 1}}}), 400, "UNKNOWN_FIELD"},
      {"statistics unknown", "POST", at, stats_with("bogus", 1), 400, "UNKNOWN_FIELD"},
      {"statistics negative", "POST", at, stats_with("policyDeployCount", -2), 400,
       "INVALID_STATISTICS"},
      {"statistics wrong type", "POST", at, stats_with("pdpInstanceId", 3), 400,
       "INVALID_FIELD_TYPE"},
      {"datapath unknown", "POST", at, with("datapath", json{{"flows", 1}}), 400, "UNKNOWN_FIELD"},
      {"datapath negative", "POST", at, with("datapath", json{{"dropped", -1}}), 400,
       "INVALID_DATAPATH"},
      {"get status", "GET", at, "", 405, "METHOD_NOT_ALLOWED"},
      {"properties a number", "POST", at, with("properties", 7), 400, "INVALID_FIELD_TYPE"},
      {"properties an array", "POST", at, with("properties", json::array()), 400,
       "INVALID_FIELD_TYPE"},
      {"properties over 16 KiB", "POST", at, with("properties", std::string(16 * 1024 + 1, 'p')),
       400, "FIELD_TOO_LONG"},
      // Issue 14 item 7: names are identifiers, free text is bounded (docs/server.md).
      {"1 MB description", "POST", at, with("description", std::string(1'000'000, 'd')), 400,
       "FIELD_TOO_LONG"},
      {"description of 1025", "POST", at, with("description", std::string(1025, 'd')), 400,
       "FIELD_TOO_LONG"},
      {"requestId of 129", "POST", at, with("requestId", std::string(129, 'r')), 400,
       "FIELD_TOO_LONG"},
      {"pdpGroup of 129", "POST", at, with("pdpGroup", std::string(129, 'g')), 400,
       "INVALID_PDP_GROUP"},
      {"pdpGroup with a space", "POST", at, with("pdpGroup", "a b"), 400, "INVALID_PDP_GROUP"},
      {"pdpSubgroup with a slash", "POST", at, with("pdpSubgroup", "a/b"), 400,
       "INVALID_PDP_SUBGROUP"},
      {"pdpType of 129", "POST", at, with("pdpType", std::string(129, 't')), 400,
       "INVALID_PDP_TYPE"},
      {"pdpType with a newline", "POST", at, with("pdpType", "t\nc"), 400, "INVALID_PDP_TYPE"},
      {"statistics id of 129", "POST", at, stats_with("pdpInstanceId", std::string(129, 'i')), 400,
       "FIELD_TOO_LONG"},
      {"1001 policies", "POST", at,
       with("policies", json(std::vector<json>(1001, json{{"name", "p"}, {"version", "1"}}))), 400,
       "FIELD_TOO_LONG"},
      {"responseTo of 129", "POST", at,
       with("response", json{{"responseStatus", "SUCCESS"}, {"responseTo", std::string(129, 'x')}}),
       400, "FIELD_TOO_LONG"},
  };
  expect_rejected(
      this, cases, [this] { return snapshot(); }, s());
  EXPECT_EQ(s().get("/internal/v1/cells/cell1").error_code(), "CELL_NOT_FOUND") << "nothing kept";
}

// Issue 14 items 16 and 7 on the real binary: retention runs on its timer (a state, polled).
TEST_F(InternalApi, RetentionCompactsTheChangeLogAndAWatchFromBeforeItResyncs) {
  server_.reset();
  start({"--changelog-retention-revisions", "5", "--retention-interval", "1"});
  for (int i = 0; i < 20; ++i) register_app("app" + std::to_string(i));
  const int64_t rev = revision();
  json changes;
  for (int i = 0; i < 400; ++i) {
    changes = s().get("/internal/v1/changes?since=0").json();
    if (changes["resync"] == true) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(changes["resync"], true) << changes;
  EXPECT_EQ(changes["changes"], json::array());
  json w = watch("since=0&timeout=0").json();
  EXPECT_EQ(w["resync"], true);
  EXPECT_EQ(w["events"], json::array());
  EXPECT_EQ(w["revision"], rev);
  json recent = watch("since=" + std::to_string(rev - 5) + "&timeout=0").json();
  EXPECT_EQ(recent["resync"], false);
  EXPECT_EQ(recent["events"].size(), 5u);
  EXPECT_EQ(s().get("/app/app0").status, 200) << "the apps are all still there";
}

TEST_F(InternalApi, AnExpiredCellIsForgottenAfterTheCellRetention) {
  server_.reset();
  start({"--cell-retention", "0", "--retention-interval", "1"});
  ASSERT_EQ(s().post("/internal/v1/cells/gone/status", pdp_status("gone", 100).dump()).status, 200);
  EXPECT_EQ(s().get("/internal/v1/cells/gone").status, 200);
  int status = 200;
  for (int i = 0; i < 400 && status == 200; ++i) {
    status = s().get("/internal/v1/cells/gone").status;
    if (status == 200) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(status, 404);
  EXPECT_EQ(s().get("/internal/v1/cells").json()["cells"], json::array());
  EXPECT_EQ(s().pap("GET", "/pdps/healthcheck").json()["pdpList"], json::array());
}

TEST_F(InternalApi, ACellTokenReachesOnlyTheInternalApi) {
  register_app("a");
  std::string cell = cell_token("cell1");
  auto r = s().request("POST", "/internal/v1/cells/cell1/status", pdp_status("cell1").dump(), cell);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(s().request("GET", "/internal/v1/cells", "", cell).status, 200);
  EXPECT_EQ(s().request("GET", "/internal/v1/watch?since=0&timeout=0", "", cell).status, 200);
  EXPECT_EQ(s().request("GET", "/internal/v1/changes?since=0", "", cell).status, 200);
  EXPECT_EQ(s().request("POST", "/internal/v1/endpoints/query", R"({"apps":["a"]})", cell).status,
            200);
  for (auto [method, target, body] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"GET", "/apps", ""},
           {"GET", "/app/a", ""},
           {"POST", "/app", R"({"guid":"b"})"},
           {"POST", "/whitelist", R"({"source":"a","destination":"a"})"},
           {"GET", "/v1/accounts/default/policies", ""},
           {"POST", "/v1/tokens", R"({"scopes":["cell"],"cell":"cell2"})"}}) {
    SCOPED_TRACE(method + " " + target);
    auto denied = s().request(method, target, body, cell);
    EXPECT_EQ(denied.status, 403) << denied.body;
    EXPECT_EQ(denied.error_code(), "FORBIDDEN");
  }
  EXPECT_EQ(s().get("/apps").json()["apps"].size(), 1u);
}

TEST_F(InternalApi, AnAccountTokenCannotUseTheInternalApi) {
  std::string writer = issue({"network.write"}, {"default"});
  for (const std::string& target :
       {std::string("/internal/v1/watch?since=0&timeout=0"), std::string("/internal/v1/cells"),
        std::string("/internal/v1/changes"), std::string("/internal/v1/status")})
    EXPECT_EQ(s().request("GET", target, "", writer).error_code(), "FORBIDDEN") << target;
  EXPECT_EQ(
      s().request("POST", "/internal/v1/endpoints/query", R"({"apps":["a"]})", writer).error_code(),
      "FORBIDDEN");
  for (const std::string& bad : {std::string(""), std::string("wt_wrong")})
    EXPECT_EQ(s().request("GET", "/internal/v1/watch?since=0", "", bad).status, 401);
}

}  // namespace
}  // namespace wiretag::test
