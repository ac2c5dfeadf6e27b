// The services API (/v1/services, api/services.yaml) against the real binary over HTTP.
// Engines' cells are played by the test (fake_cell.h): it reads the ops the server sends on
// the cell's watch and answers them as the agent's ops contract says (userspace/agent/
// cell_ops.h), so the server side is pinned apart from any agent.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fake_cell.h"
#include "http/client.h"
#include "server_process.h"

namespace wiretag::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct Answer {
  unsigned status = 0;
  json body;
  std::string error_code() const {
    return body.is_array() && !body.empty() ? body[0].value("error_code", "") : "";
  }
};

std::ostream& operator<<(std::ostream& os, const Answer& a) {
  return os << a.status << " " << a.body.dump();
}

class ServicesApiTest : public ServerTest {
 protected:
  std::string token_with(const json& grant) {
    auto r = s().post("/v1/tokens", grant.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json().value("token", "");
  }
  std::string write_token(const std::string& account) {
    return token_with({{"scopes", {"network.write"}}, {"accounts", {account}}});
  }
  std::unique_ptr<FakeCell> fake_cell(const std::string& name) {
    auto c = std::make_unique<FakeCell>(s().port(),
                                        token_with({{"scopes", {"cell"}}, {"cell", name}}), name);
    EXPECT_EQ(c->status().status, 200) << c->status().body;
    EXPECT_TRUE(c->changes(1));  // the stream is open: the server has attached it
    return c;
  }
  // A request on its own connection, answered whenever the server answers.
  std::future<Answer> ask(const std::string& method, const std::string& target,
                          const std::string& body = "", std::string token = "") {
    if (token.empty()) token = s().admin_token();
    return std::async(std::launch::async, [port = s().port(), method, target, body, token] {
      http::Client c(http::BaseUrl{"127.0.0.1", std::to_string(port)}, token);
      auto r = c.request(method, target, body, 60s);
      Answer a;
      if (!r) return a;
      a.status = r->status;
      a.body = json::parse(r->body, nullptr, false);
      return a;
    });
  }
  Answer get(const std::string& target, const std::string& token = "") {
    return ask("GET", target, "", token).get();
  }
  Answer send(const std::string& method, const std::string& target, const json& body,
              const std::string& token = "") {
    return ask(method, target, body.is_null() ? "" : body.dump(), token).get();
  }
  // Asks, lets the cell answer its next request with `result`, returns the answer and the
  // request the cell saw.
  std::pair<Answer, json> served(FakeCell& cell, const std::string& method,
                                 const std::string& target, const json& result,
                                 const std::string& body = "") {
    const size_t n = cell.request_count();
    auto pending = ask(method, target, body);
    json req = cell.request(n);
    EXPECT_TRUE(req.is_object()) << "no request reached the cell for " << target;
    if (req.is_object()) cell.reply(req["id"], result);
    return {pending.get(), req};
  }
  void register_app(const std::string& guid, const std::string& account = "default") {
    auto r = s().post("/app", json{{"guid", guid}, {"account", account}}.dump());
    ASSERT_TRUE(r.status == 201 || r.status == 200) << r.body;
  }
  int64_t tag_of(const std::string& guid) {
    auto rows = get("/v1/services/apps/tables/apps/rows?guid=" + guid);
    return rows.body["rows"].at(0)["tag"].get<int64_t>();
  }
  std::vector<std::string> ids(const Answer& a) {
    std::vector<std::string> out;
    for (const json& s : a.body["services"]) out.push_back(s["id"]);
    return out;
  }
};

TEST_F(ServicesApiTest, ListsOneEnginePerCellAndTheDataSources) {
  auto cell = fake_cell("c1");
  Answer all = get("/v1/services");
  ASSERT_EQ(all.status, 200u) << all;
  EXPECT_EQ(ids(all), (std::vector<std::string>{"cell:c1", "apps", "cells", "policies", "groups"}));
  const json& engine = all.body["services"][0];
  EXPECT_EQ(engine["type"], "policy-engine");
  EXPECT_EQ(engine["pdpType"], "tc");
  EXPECT_EQ(engine["group"], "defaultGroup");
  EXPECT_EQ(engine["subgroup"], "tc");
  EXPECT_EQ(engine["state"], "ACTIVE");
  EXPECT_EQ(engine["health"], "HEALTHY");
  EXPECT_EQ(all.body["services"][1]["type"], "datasource");
  EXPECT_EQ(ids(get("/v1/services?type=datasource")),
            (std::vector<std::string>{"apps", "cells", "policies", "groups"}));
  EXPECT_EQ(ids(get("/v1/services?type=policy-engine")), (std::vector<std::string>{"cell:c1"}));
  // Seed 001's own spelling of the listing.
  EXPECT_EQ(ids(get("/v1/services?action=list&type=policy-engine")),
            (std::vector<std::string>{"cell:c1"}));
  Answer bad = get("/v1/services?type=engine");
  EXPECT_EQ(bad.status, 400u) << bad;
  EXPECT_EQ(bad.error_code(), "INVALID_SERVICE_TYPE");
  bad = get("/v1/services?kind=datasource");
  EXPECT_EQ(bad.status, 400u) << bad;
  EXPECT_EQ(bad.error_code(), "INVALID_QUERY_PARAMETER");
  bad = get("/v1/services?action=delete");
  EXPECT_EQ(bad.status, 400u) << bad;
  EXPECT_EQ(bad.error_code(), "INVALID_QUERY_PARAMETER");
  EXPECT_EQ(cell->request_count(), 0u);  // listing asks no cell
}

TEST_F(ServicesApiTest, ADataSourceHasTablesAndRowsWithFiltersLimitAndOffset) {
  register_app("a1");
  register_app("a2");
  register_app("b1", "other");
  Answer tables = get("/v1/services/apps/tables");
  ASSERT_EQ(tables.status, 200u) << tables;
  EXPECT_EQ(tables.body["service"], "apps");
  EXPECT_EQ(tables.body["tables"][0]["name"], "apps");
  EXPECT_EQ(tables.body["tables"][0]["columns"][0], (json{{"name", "guid"}, {"type", "string"}}));
  EXPECT_EQ(tables.body["tables"][0]["columns"][2], (json{{"name", "tag"}, {"type", "integer"}}));

  Answer rows = get("/v1/services/apps/tables/apps/rows");
  ASSERT_EQ(rows.status, 200u) << rows;
  EXPECT_EQ(rows.body["total"], 3);
  EXPECT_EQ(rows.body["limit"], 100);
  EXPECT_EQ(rows.body["offset"], 0);
  EXPECT_EQ(rows.body["rows"].size(), 3u);
  EXPECT_EQ(rows.body["rows"][0]["guid"], "a1");
  EXPECT_TRUE(rows.body["rows"][0]["tag"].is_number_integer());

  Answer filtered = get("/v1/services/apps/tables/apps/rows?account=default&limit=1&offset=1");
  ASSERT_EQ(filtered.status, 200u) << filtered;
  EXPECT_EQ(filtered.body["total"], 2);
  ASSERT_EQ(filtered.body["rows"].size(), 1u);
  EXPECT_EQ(filtered.body["rows"][0]["guid"], "a2");
  const std::string tag = std::to_string(tag_of("b1"));
  EXPECT_EQ(get("/v1/services/apps/tables/apps/rows?tag=" + tag).body["rows"][0]["guid"], "b1");
  EXPECT_EQ(get("/v1/services/apps/tables/apps/rows?guid=zz").body["total"], 0);
  EXPECT_EQ(get("/v1/services/apps/tables/apps/rows?offset=5").body["rows"].size(), 0u);

  for (const auto& [query, code] :
       std::vector<std::pair<std::string, std::string>>{{"limit=0", "INVALID_LIMIT"},
                                                        {"limit=1001", "INVALID_LIMIT"},
                                                        {"limit=x", "INVALID_LIMIT"},
                                                        {"limit=-1", "INVALID_LIMIT"},
                                                        {"limit=", "INVALID_LIMIT"},
                                                        {"offset=-1", "INVALID_OFFSET"},
                                                        {"offset=1.5", "INVALID_OFFSET"},
                                                        {"offset=99999999999999", "INVALID_OFFSET"},
                                                        {"nosuch=1", "UNKNOWN_COLUMN"},
                                                        {"Bad-Column=1", "INVALID_FILTER"}}) {
    Answer a = get("/v1/services/apps/tables/apps/rows?" + query);
    EXPECT_EQ(a.status, 400u) << query << " " << a;
    EXPECT_EQ(a.error_code(), code) << query;
  }
  Answer no_table = get("/v1/services/apps/tables/nosuch/rows");
  EXPECT_EQ(no_table.status, 404u) << no_table;
  EXPECT_EQ(no_table.error_code(), "TABLE_NOT_FOUND");
  for (const std::string id : {"nosuch", "cell:nope"}) {
    Answer a = get("/v1/services/" + id + "/tables");
    EXPECT_EQ(a.status, 404u) << id << " " << a;
    EXPECT_EQ(a.error_code(), "SERVICE_NOT_FOUND") << id;
  }
  for (const std::string id : {"cell:", "a%20b", "cell:a%2Fb"}) {
    Answer a = get("/v1/services/" + id + "/status");
    EXPECT_EQ(a.status, 400u) << id << " " << a;
    EXPECT_EQ(a.error_code(), "INVALID_SERVICE_ID") << id;
  }
  // Reads left everything as it was.
  EXPECT_EQ(get("/v1/services/apps/tables/apps/rows").body["total"], 3);
}

TEST_F(ServicesApiTest, TheOtherDataSourcesReadCellsPoliciesAndGroups) {
  auto cell = fake_cell("c1");
  register_app("a1");
  auto created =
      s().post("/v1/accounts/default/policies",
               json{{"name", "web"},
                    {"rules", {{{"source", "*"}, {"destination", "a1"}, {"protocol", "tcp"}}}}}
                   .dump());
  ASSERT_EQ(created.status, 201) << created.body;
  Answer cells = get("/v1/services/cells/tables/cells/rows?name=c1");
  ASSERT_EQ(cells.status, 200u) << cells;
  ASSERT_EQ(cells.body["rows"].size(), 1u);
  EXPECT_EQ(cells.body["rows"][0]["group"], "defaultGroup");
  EXPECT_EQ(cells.body["rows"][0]["healthy"], true);
  EXPECT_EQ(get("/v1/services/cells/tables/cells/rows?healthy=true").body["total"], 1);
  EXPECT_EQ(get("/v1/services/cells/tables/cells/rows?healthy=false").body["total"], 0);
  Answer policies = get("/v1/services/policies/tables/policies/rows?account=default");
  ASSERT_EQ(policies.status, 200u) << policies;
  ASSERT_EQ(policies.body["total"], 1);
  EXPECT_EQ(policies.body["rows"][0]["name"], "web");
  EXPECT_EQ(policies.body["rows"][0]["version"], 1);
  EXPECT_EQ(policies.body["rows"][0]["rules"], 1);
  EXPECT_EQ(policies.body["rows"][0]["refid"], nullptr);
  // A null value matches the empty filter, as in an engine's tables.
  EXPECT_EQ(get("/v1/services/policies/tables/policies/rows?refid=").body["total"], 1);
  EXPECT_EQ(get("/v1/services/policies/tables/policies/rows?refid=null").body["total"], 0);
  Answer groups = get("/v1/services/groups/tables/groups/rows");
  ASSERT_EQ(groups.status, 200u) << groups;
  EXPECT_EQ(groups.body["rows"][0]["name"], "defaultGroup");
  Answer deployments = get("/v1/services/groups/tables/deployments/rows?policy=default-whitelist");
  ASSERT_EQ(deployments.status, 200u) << deployments;
  EXPECT_GE(deployments.body["total"].get<int>(), 1);
  Answer status = get("/v1/services/apps/status");
  ASSERT_EQ(status.status, 200u) << status;
  EXPECT_EQ(status.body["type"], "datasource");
  EXPECT_EQ(status.body["rows"], (json{{"apps", 1}}));
  EXPECT_EQ(get("/v1/services/groups/status").body["rows"]["groups"], 1);
  EXPECT_EQ(cell->request_count(), 0u);
}

TEST_F(ServicesApiTest, AnAccountTokenReadsOnlyItsAccountsAppsAndPolicies) {
  auto cell = fake_cell("c1");
  register_app("a1");
  register_app("b1", "other");
  const std::string other = write_token("other");
  EXPECT_EQ(ids(get("/v1/services", other)), (std::vector<std::string>{"apps", "policies"}));
  Answer rows = get("/v1/services/apps/tables/apps/rows", other);
  ASSERT_EQ(rows.status, 200u) << rows;
  ASSERT_EQ(rows.body["total"], 1);
  EXPECT_EQ(rows.body["rows"][0]["guid"], "b1");
  EXPECT_EQ(get("/v1/services/apps/tables/apps/rows?guid=a1", other).body["total"], 0);
  EXPECT_EQ(get("/v1/services/apps/status", other).body["rows"]["apps"], 1);
  for (const std::string path :
       {"/v1/services/cells/tables", "/v1/services/groups/tables/groups/rows",
        "/v1/services/cell:c1/tables", "/v1/services/cell:c1/tables/rules/rows?src_app=a1",
        "/v1/services/cell:c1/status", "/v1/services/cell:c1/policies"}) {
    Answer a = get(path, other);
    EXPECT_EQ(a.status, 403u) << path << " " << a;
    EXPECT_EQ(a.error_code(), "FORBIDDEN") << path;
  }
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"POST", "/v1/services/cell:c1/actions/resync"},
           {"POST", "/v1/services/apps/actions/resync"},
           {"PUT", "/v1/system/default-service"},
           {"DELETE", "/v1/system/default-service"},
           {"PUT", "/v1/system/service-aliases/x"},
           {"DELETE", "/v1/system/service-aliases/x"}}) {
    Answer a = send(method, path, json{{"service", "apps"}}, other);
    EXPECT_EQ(a.status, 403u) << method << " " << path << " " << a;
  }
  Answer anonymous = send("GET", "/v1/services", nullptr, "not-a-token");
  EXPECT_EQ(anonymous.status, 401u) << anonymous;
  EXPECT_EQ(cell->request_count(), 0u);  // none of it reached the cell
  EXPECT_EQ(get("/v1/system/default-service").error_code(), "DEFAULT_SERVICE_NOT_FOUND");
}

TEST_F(ServicesApiTest, AnEnginesTablesComeFromItsCellWithAnAppColumnAfterEachTagColumn) {
  auto cell = fake_cell("c1");
  json tables = {
      {"tables",
       {{{"name", "rules"},
         {"columns",
          {{{"name", "ifindex"}, {"type", "integer"}},
           {{"name", "src_tag"}, {"type", "integer"}},
           {{"name", "proto"}, {"type", "string"}}}}},
        {{"name", "endpoints"}, {"columns", {{{"name", "ifindex"}, {"type", "integer"}}}}}}}};
  auto [a, req] = served(*cell, "GET", "/v1/services/cell:c1/tables", {{"result", tables}});
  EXPECT_EQ(req["op"], "tables");
  EXPECT_EQ(req["body"], json::object());
  ASSERT_EQ(a.status, 200u) << a;
  EXPECT_EQ(a.body["service"], "cell:c1");
  EXPECT_EQ(a.body["tables"][0]["columns"], (json{{{"name", "ifindex"}, {"type", "integer"}},
                                                  {{"name", "src_tag"}, {"type", "integer"}},
                                                  {{"name", "src_app"}, {"type", "string"}},
                                                  {{"name", "proto"}, {"type", "string"}}}));
  EXPECT_EQ(a.body["tables"][1], tables["tables"][1]);
  // An answer in another shape is the cell's fault.
  auto [odd, _] = served(*cell, "GET", "/v1/services/cell:c1/tables", {{"result", {{"x", 1}}}});
  EXPECT_EQ(odd.status, 502u) << odd;
  EXPECT_EQ(odd.error_code(), "CELL_ERROR");
}

TEST_F(ServicesApiTest, AnEnginesRowsResolveTagsToAppsAndAnAppFilterBecomesATagFilter) {
  auto cell = fake_cell("c1");
  register_app("a1");
  const int64_t tag = tag_of("a1");
  json columns = {{{"name", "ifindex"}, {"type", "integer"}},
                  {{"name", "src_tag"}, {"type", "integer"}}};
  json result = {{"table", "rules"},
                 {"columns", columns},
                 {"rows",
                  {{{"ifindex", 3}, {"src_tag", tag}},
                   {{"ifindex", 4}, {"src_tag", 60000}},
                   {{"ifindex", 5}, {"src_tag", 0}}}},
                 {"total", 7}};
  auto [a, req] = served(*cell, "GET", "/v1/services/cell:c1/tables/rules/rows?limit=3&offset=2",
                         {{"result", result}});
  EXPECT_EQ(req["op"], "rows");
  EXPECT_EQ(req["body"],
            (json{{"table", "rules"}, {"filter", json::object()}, {"limit", 3}, {"offset", 2}}));
  ASSERT_EQ(a.status, 200u) << a;
  EXPECT_EQ(a.body["table"], "rules");
  EXPECT_EQ(a.body["total"], 7);
  EXPECT_EQ(a.body["limit"], 3);
  EXPECT_EQ(a.body["offset"], 2);
  EXPECT_EQ(a.body["columns"][2], (json{{"name", "src_app"}, {"type", "string"}}));
  EXPECT_EQ(a.body["rows"][0]["src_app"], "a1");
  EXPECT_EQ(a.body["rows"][1]["src_app"], nullptr);  // no app holds the tag
  EXPECT_EQ(a.body["rows"][2]["src_app"], nullptr);  // untagged

  auto [f, freq] =
      served(*cell, "GET", "/v1/services/cell:c1/tables/rules/rows?src_app=a1&ifindex=3",
             {{"result", result}});
  EXPECT_EQ(f.status, 200u) << f;
  EXPECT_EQ(freq["body"]["filter"], (json{{"ifindex", "3"}, {"src_tag", std::to_string(tag)}}));

  // Refused before the cell is asked.
  const size_t asked = cell->request_count();
  for (const auto& [query, status, code] :
       std::vector<std::tuple<std::string, unsigned, std::string>>{
           {"rules/rows?src_app=nosuch", 404, "APP_NOT_FOUND"},
           {"rules/rows?src_app=a1&src_tag=1", 400, "INVALID_FILTER"},
           {"rules/rows?limit=5000", 400, "INVALID_LIMIT"},
           {"rules/rows?offset=x", 400, "INVALID_OFFSET"},
           {"Bad.Table/rows", 404, "TABLE_NOT_FOUND"}}) {
    Answer bad = get("/v1/services/cell:c1/tables/" + query);
    EXPECT_EQ(bad.status, status) << query << " " << bad;
    EXPECT_EQ(bad.error_code(), code) << query;
  }
  EXPECT_EQ(cell->request_count(), asked);
  // The cell's own refusals pass on with their codes.
  auto [unknown, ureq] =
      served(*cell, "GET", "/v1/services/cell:c1/tables/rules/rows?nosuch=1",
             {{"error", {{"error_code", "UNKNOWN_COLUMN"}, {"message", "no column nosuch"}}}});
  EXPECT_EQ(unknown.status, 400u) << unknown;
  EXPECT_EQ(unknown.error_code(), "UNKNOWN_COLUMN");
  auto [missing, mreq] =
      served(*cell, "GET", "/v1/services/cell:c1/tables/nosuch/rows",
             {{"error", {{"error_code", "TABLE_NOT_FOUND"}, {"message", "no table nosuch"}}}});
  EXPECT_EQ(missing.status, 404u) << missing;
  EXPECT_EQ(missing.error_code(), "TABLE_NOT_FOUND");
}

TEST_F(ServicesApiTest, AnEnginesStatusComparesTheRevisionItHoldsWithTheServers) {
  auto cell = fake_cell("c1");
  register_app("a1");
  json status = {{"healthy", true},
                 {"mode", "enforce"},
                 {"state", "ACTIVE"},
                 {"revision", 1},
                 {"endpoints", 2},
                 {"synced", true},
                 {"map_fill", {{"rules", {{"entries", 10}, {"capacity", 1024}}}}}};
  auto [a, req] = served(*cell, "GET", "/v1/services/cell:c1/status", {{"result", status}});
  EXPECT_EQ(req["op"], "status");
  ASSERT_EQ(a.status, 200u) << a;
  EXPECT_EQ(a.body["type"], "policy-engine");
  EXPECT_EQ(a.body["health"], "HEALTHY");
  EXPECT_EQ(a.body["mode"], "enforce");
  EXPECT_EQ(a.body["map_fill"], status["map_fill"]);
  EXPECT_EQ(a.body["revision"]["held"], 1);
  const int64_t server = a.body["revision"]["server"].get<int64_t>();
  EXPECT_GE(server, 1);
  EXPECT_EQ(a.body["revision"]["behind"], server - 1);
}

TEST_F(ServicesApiTest, EnginesHaveActionsWithParametersAndDataSourcesNone) {
  auto cell = fake_cell("c1");
  Answer listed = get("/v1/services/cell:c1/actions");
  ASSERT_EQ(listed.status, 200u) << listed;
  std::vector<std::string> names;
  for (const json& a : listed.body["actions"]) names.push_back(a["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"resync", "flush-flows", "reload-device"}));
  EXPECT_EQ(listed.body["actions"][2]["parameters"][0]["name"], "device");
  EXPECT_EQ(listed.body["actions"][2]["parameters"][0]["required"], true);
  EXPECT_EQ(get("/v1/services/apps/actions").body["actions"], json::array());

  json outcome = {{"outcome", "ok"}, {"revision", 4}, {"duration_ms", 3}};
  auto [done, req] =
      served(*cell, "POST", "/v1/services/cell:c1/actions/resync", {{"result", outcome}});
  EXPECT_EQ(req["op"], "resync");
  EXPECT_EQ(req["body"], json::object());
  ASSERT_EQ(done.status, 200u) << done;
  EXPECT_EQ(done.body, (json{{"service", "cell:c1"}, {"action", "resync"}, {"result", outcome}}));
  json device = {{"namespace", "/var/run/netns/x"}, {"interface_name", "veth1"}};
  auto [flushed, freq] = served(*cell, "POST", "/v1/services/cell:c1/actions/flush-flows",
                                {{"result", {{"flushed", 2}}}}, json{{"device", device}}.dump());
  EXPECT_EQ(freq["op"], "flush-flows");
  EXPECT_EQ(freq["body"], (json{{"device", device}}));
  EXPECT_EQ(flushed.body["result"]["flushed"], 2);
  auto [failed, _] = served(
      *cell, "POST", "/v1/services/cell:c1/actions/resync",
      {{"error", {{"error_code", "UNAVAILABLE"}, {"message", "the server did not answer"}}}});
  EXPECT_EQ(failed.status, 503u) << failed;

  const size_t asked = cell->request_count();
  for (const auto& [path, body, status, code] :
       std::vector<std::tuple<std::string, std::string, unsigned, std::string>>{
           {"cell:c1/actions/reload-device", "{}", 400, "MISSING_FIELD"},
           {"cell:c1/actions/reload-device", R"({"device":{"namespace":"x","interface_name":"v"}})",
            400, "INVALID_DEVICE"},
           {"cell:c1/actions/reload-device",
            R"({"device":{"namespace":"","interface_name":"a-very-long-ifname"}})", 400,
            "INVALID_DEVICE"},
           {"cell:c1/actions/reload-device", R"({"device":{"namespace":""}})", 400,
            "MISSING_FIELD"},
           {"cell:c1/actions/reload-device", R"({"device":"veth1"})", 400, "INVALID_FIELD_TYPE"},
           {"cell:c1/actions/resync", R"({"force":true})", 400, "UNKNOWN_FIELD"},
           {"cell:c1/actions/resync", "[1]", 400, "INVALID_BODY"},
           {"cell:c1/actions/resync", "{", 400, "INVALID_JSON"},
           {"cell:c1/actions/reboot", "{}", 404, "ACTION_NOT_FOUND"},
           {"apps/actions/resync", "{}", 404, "ACTION_NOT_FOUND"},
           {"cell:c9/actions/resync", "{}", 404, "SERVICE_NOT_FOUND"}}) {
    Answer a = ask("POST", "/v1/services/" + path, body).get();
    EXPECT_EQ(a.status, status) << path << " " << body << " " << a;
    EXPECT_EQ(a.error_code(), code) << path << " " << body;
  }
  EXPECT_EQ(cell->request_count(), asked);
}

TEST_F(ServicesApiTest, AnEnginesPoliciesAreWhatItHoldsAndWhatItIsAssigned) {
  auto cell = fake_cell("c1");
  Answer a = get("/v1/services/cell:c1/policies");
  ASSERT_EQ(a.status, 200u) << a;
  EXPECT_EQ(a.body["group"], "defaultGroup");
  // The fake cell reported no policies; defaultGroup assigns default-whitelist.
  EXPECT_EQ(a.body["policies"], (json{{{"name", "default-whitelist"},
                                       {"version", "1.0.0"},
                                       {"held", false},
                                       {"assigned", true}}}));
  Answer none = get("/v1/services/apps/policies");
  EXPECT_EQ(none.status, 404u) << none;
  EXPECT_EQ(none.error_code(), "SERVICE_HAS_NO_POLICIES");
  EXPECT_EQ(cell->request_count(), 0u);
}

TEST_F(ServicesApiTest, ACellWhoseAgentIsGoneIs503CellUnreachable) {
  server_.reset();
  start({"--cell-request-timeout", "600000"});  // only an immediate answer passes the 60 s
  { auto gone = fake_cell("c1"); }              // registered, then its watch closes
  for (int i = 0; i < 3000 && s().get("/internal/v1/status").json().value("streams", -1) != 0; ++i)
    std::this_thread::sleep_for(5ms);
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/v1/services/cell:c1/tables"},
           {"GET", "/v1/services/cell:c1/tables/rules/rows"},
           {"GET", "/v1/services/cell:c1/status"},
           {"POST", "/v1/services/cell:c1/actions/resync"}}) {
    Answer a = ask(method, path, method == "POST" ? "{}" : "").get();
    EXPECT_EQ(a.status, 503u) << path << " " << a;
    EXPECT_EQ(a.error_code(), "CELL_UNREACHABLE") << path;
  }
  // What the server knows by itself still answers.
  EXPECT_EQ(get("/v1/services/cell:c1/policies").status, 200u);
  EXPECT_EQ(get("/v1/services/cell:c1/actions").status, 200u);
}

TEST_F(ServicesApiTest, ACellThatNeverAnswersIs503WhenTheDeadlinePasses) {
  server_.reset();
  start({"--cell-request-timeout", "200"});
  auto silent = fake_cell("c1");
  Answer a = get("/v1/services/cell:c1/status");
  EXPECT_EQ(a.status, 503u) << a;
  EXPECT_EQ(a.error_code(), "CELL_UNREACHABLE");
  EXPECT_EQ(silent->request_count(), 1u);
}

TEST_F(ServicesApiTest, TheDefaultServiceAndAliasesRouteTheShortPaths) {
  auto cell = fake_cell("c1");
  for (const std::string path : {"/v1/tables", "/v1/status", "/v1/actions", "/v1/policies",
                                 "/v1/tables/apps/rows", "/v1/system/default-service"}) {
    Answer a = get(path);
    EXPECT_EQ(a.status, 404u) << path << " " << a;
    EXPECT_EQ(a.error_code(), "DEFAULT_SERVICE_NOT_FOUND") << path;
  }
  Answer set = send("PUT", "/v1/system/default-service", {{"service", "apps"}});
  ASSERT_EQ(set.status, 200u) << set;
  EXPECT_EQ(set.body, (json{{"service", "apps"}, {"resolved", "apps"}}));
  EXPECT_EQ(get("/v1/tables").body["tables"][0]["name"], "apps");
  EXPECT_EQ(get("/v1/tables/apps/rows").body["service"], "apps");
  EXPECT_EQ(get("/v1/policies").error_code(), "SERVICE_HAS_NO_POLICIES");
  EXPECT_EQ(get("/v1/actions").body["actions"], json::array());

  // An alias for the engine, then the default set to the alias.
  Answer alias = send("PUT", "/v1/system/service-aliases/engine", {{"service", "cell:c1"}});
  ASSERT_EQ(alias.status, 200u) << alias;
  EXPECT_EQ(get("/v1/system/service-aliases").body,
            (json{{"aliases", {{{"alias", "engine"}, {"service", "cell:c1"}}}}}));
  EXPECT_EQ(get("/v1/services/engine/actions").body["service"], "cell:c1");
  ASSERT_EQ(send("PUT", "/v1/system/default-service", {{"service", "engine"}}).status, 200u);
  EXPECT_EQ(get("/v1/system/default-service").body,
            (json{{"service", "engine"}, {"resolved", "cell:c1"}}));
  Answer listed = get("/v1/services?type=policy-engine");
  EXPECT_EQ(listed.body["services"][0]["aliases"], (json{"engine"}));
  EXPECT_EQ(listed.body["services"][0]["default"], true);
  auto [resync, req] =
      served(*cell, "POST", "/v1/actions/resync", {{"result", {{"outcome", "ok"}}}}, "{}");
  EXPECT_EQ(req["op"], "resync");
  EXPECT_EQ(resync.body["service"], "cell:c1");
  auto [status, sreq] = served(*cell, "GET", "/v1/status", {{"result", {{"revision", 0}}}});
  EXPECT_EQ(sreq["op"], "status");
  EXPECT_EQ(status.body["service"], "cell:c1");
  EXPECT_EQ(get("/v1/policies").body["service"], "cell:c1");

  // Bad input leaves both as they were.
  for (const auto& [method, path, body, status, code] :
       std::vector<std::tuple<std::string, std::string, std::string, unsigned, std::string>>{
           {"PUT", "/v1/system/default-service", R"({"service":"nosuch"})", 404,
            "SERVICE_NOT_FOUND"},
           {"PUT", "/v1/system/default-service", R"({"service":"cell:"})", 400,
            "INVALID_SERVICE_ID"},
           {"PUT", "/v1/system/default-service", R"({"service":1})", 400, "INVALID_FIELD_TYPE"},
           {"PUT", "/v1/system/default-service", R"({})", 400, "MISSING_FIELD"},
           {"PUT", "/v1/system/default-service", R"({"service":"apps","x":1})", 400,
            "UNKNOWN_FIELD"},
           {"PUT", "/v1/system/default-service", "nope", 400, "INVALID_JSON"},
           {"PUT", "/v1/system/service-aliases/Bad!", R"({"service":"apps"})", 400,
            "INVALID_ALIAS"},
           {"PUT", "/v1/system/service-aliases/apps", R"({"service":"cells"})", 400,
            "INVALID_ALIAS"},
           {"PUT", "/v1/system/service-aliases/engine", R"({"service":"engine"})", 404,
            "SERVICE_NOT_FOUND"},
           {"PUT", "/v1/system/service-aliases/engine", R"({"service":"cell:bad name"})", 400,
            "INVALID_SERVICE_ID"},
           {"DELETE", "/v1/system/service-aliases/engine", "", 409, "ALIAS_IN_USE"},
           {"DELETE", "/v1/system/service-aliases/nosuch", "", 404, "ALIAS_NOT_FOUND"}}) {
    Answer a = ask(method, path, body).get();
    EXPECT_EQ(a.status, status) << method << " " << path << " " << body << " " << a;
    EXPECT_EQ(a.error_code(), code) << method << " " << path << " " << body;
  }
  EXPECT_EQ(get("/v1/system/default-service").body["service"], "engine");
  EXPECT_EQ(get("/v1/system/service-aliases").body["aliases"].size(), 1u);

  // Kept in the store: a restarted server still has them.
  cell.reset();
  server_.reset();
  start();
  EXPECT_EQ(get("/v1/system/default-service").body,
            (json{{"service", "engine"}, {"resolved", "cell:c1"}}));
  // Re-pointing the alias moves the default; then it can go.
  ASSERT_EQ(send("PUT", "/v1/system/service-aliases/engine", {{"service", "groups"}}).status, 200u);
  EXPECT_EQ(get("/v1/tables").body["service"], "groups");
  ASSERT_EQ(send("DELETE", "/v1/system/default-service", nullptr).status, 200u);
  EXPECT_EQ(send("DELETE", "/v1/system/default-service", nullptr).error_code(),
            "DEFAULT_SERVICE_NOT_FOUND");
  EXPECT_EQ(send("DELETE", "/v1/system/service-aliases/engine", nullptr).status, 200u);
  EXPECT_EQ(get("/v1/services/engine/tables").error_code(), "SERVICE_NOT_FOUND");
}

std::string api_file(const std::string& name) {
  std::ifstream in(std::string(WIRETAG_API_DIR) + "/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json example(const std::string& name) {
  json j = json::parse(api_file("examples/" + name), nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << name << " is not JSON";
  return j;
}

// api/services.yaml's examples, sent in the document's order on a fresh server, get exactly
// the example responses; every services-* example file is named in the document.
TEST_F(ServicesApiTest, TheDocumentsExamplesAreWhatTheServerAnswers) {
  const std::string doc = api_file("services.yaml");
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(WIRETAG_API_DIR) + "/examples")) {
    const std::string file = entry.path().filename().string();
    if (file.starts_with("services-")) {
      EXPECT_NE(doc.find("examples/" + file), std::string::npos) << file << " is not in the doc";
    }
  }
  EXPECT_EQ(get("/v1/services?type=datasource").body,
            example("services-list-datasources.response.json"));
  EXPECT_EQ(get("/v1/services/groups/tables").body,
            example("services-groups-tables.response.json"));
  EXPECT_EQ(get("/v1/services/groups/tables/groups/rows").body,
            example("services-groups-rows.response.json"));
  EXPECT_EQ(get("/v1/services/groups/status").body,
            example("services-groups-status.response.json"));
  EXPECT_EQ(get("/v1/services/apps/tables/apps/rows?limit=0").body,
            example("services-bad-limit.response.json"));
  EXPECT_EQ(get("/v1/services/apps/policies").body, example("services-no-policies.response.json"));
  auto cell = fake_cell("c1");
  EXPECT_EQ(get("/v1/services/cell:c1/actions").body,
            example("services-engine-actions.response.json"));
  auto [flushed, req] = served(*cell, "POST", "/v1/services/cell:c1/actions/flush-flows",
                               {{"result", {{"flushed", 0}}}},
                               api_file("examples/services-flush-flows.request.json"));
  EXPECT_EQ(flushed.status, 200u) << flushed;
  EXPECT_EQ(req["body"], example("services-flush-flows.request.json"));
  EXPECT_EQ(
      send("PUT", "/v1/system/service-aliases/engine", example("services-alias.request.json")).body,
      example("services-alias.response.json"));
  EXPECT_EQ(
      send("PUT", "/v1/system/default-service", example("services-default-service.request.json"))
          .body,
      example("services-default-service.response.json"));
}

}  // namespace
}  // namespace wiretag::test
