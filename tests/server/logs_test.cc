// The server's logs, from the real binary's output: --log-format json (every line one JSON
// object), the access log (one record per request, with its principal), the change log and
// the write records naming who made each change, and the log level changed at run time.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "common/yaml_json.h"
#include "server_process.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

std::vector<std::string> lines_of(const std::string& file) {
  std::ifstream in(file);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

// Every line of the output as JSON; a line that is not one object fails the test.
std::vector<json> json_records(const std::string& file) {
  std::vector<json> out;
  for (const std::string& line : lines_of(file)) {
    json j = json::parse(line, nullptr, false);
    EXPECT_TRUE(j.is_object()) << "not a JSON object: " << line;
    if (j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

std::vector<json> records_of(const std::vector<json>& all, const std::string& logger) {
  std::vector<json> out;
  for (const json& r : all)
    if (r.value("logger", "") == logger) out.push_back(r);
  return out;
}

bool contains(const std::string& file, const std::string& text) {
  for (const std::string& line : lines_of(file))
    if (line.find(text) != std::string::npos) return true;
  return false;
}

// The id GET /v1/tokens shows for the one token there is at first: the admin's.
std::string admin_token_id(ServerProcess& s) {
  auto tokens = s.get("/v1/tokens");
  EXPECT_EQ(tokens.status, 200) << tokens.body;
  return tokens.json()["tokens"][0]["id"].get<std::string>();
}

class LogsTest : public ServerTest {
 protected:
  void SetUp() override { start({"--log-format", "json"}); }
};

TEST_F(LogsTest, EveryLineOfAJsonServerIsAJsonRecord) {
  EXPECT_EQ(s().post("/app", R"({"guid":"web"})").status, 201);
  EXPECT_EQ(s().request("GET", "/v1/tokens", "", std::string("wrong")).status, 401);
  EXPECT_EQ(s().get("/no/such/route").status, 404);
  ASSERT_EQ(s().terminate(), 0);
  const std::vector<json> all = json_records(s().output_file());
  ASSERT_GE(all.size(), 5u);  // started, listening, 3 requests, the change, stopped
  const std::regex rfc3339_ms(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  bool listening = false, stopped = false;
  for (const json& r : all) {
    ASSERT_TRUE(r.contains("time") && r["time"].is_string()) << r;
    EXPECT_TRUE(std::regex_match(r["time"].get<std::string>(), rfc3339_ms)) << r;
    EXPECT_TRUE(r.value("level", "") == "info" || r.value("level", "") == "warn") << r;
    EXPECT_EQ(r.value("program", ""), "wiretag-server") << r;
    EXPECT_TRUE(r.contains("logger") && r["logger"].is_string()) << r;
    EXPECT_TRUE(r.contains("message") && r["message"].is_string()) << r;
    if (r.value("listen", "") == "127.0.0.1:" + std::to_string(s().port())) listening = true;
    if (r.value("message", "") == "stopped") stopped = true;
  }
  EXPECT_TRUE(listening);
  EXPECT_TRUE(stopped);
}

TEST(Logs, AnUnknownLogFormatExitsWith2) {
  TempDir dir;
  EXPECT_EQ(ServerProcess::run_to_exit({"--listen", "127.0.0.1:0", "--data-dir",
                                        (dir.path() / "data").string(), "--log-format", "yaml"}),
            2);
}

// A usage error exits 2 like every other refused setting, not CLI11's 105/109; --help 0.
TEST(Logs, CommandLineErrorsExitWith2) {
  TempDir dir;
  const std::string data = (dir.path() / "data").string();
  EXPECT_EQ(
      ServerProcess::run_to_exit({"--listen", "127.0.0.1:0", "--data-dir", data, "--no-such-flag"}),
      2);
  EXPECT_EQ(
      ServerProcess::run_to_exit({"--listen", "127.0.0.1:0", "--data-dir", data, "--threads", "0"}),
      2);
  EXPECT_EQ(ServerProcess::run_to_exit(
                {"--listen", "127.0.0.1:0", "--data-dir", data, "--pdp-heartbeat-interval", "99"}),
            2);
  EXPECT_EQ(ServerProcess::run_to_exit({"--help"}), 0);
}

TEST_F(LogsTest, TheAccessLogHasOneRecordPerRequestWithItsPrincipal) {
  const std::string admin = "token:" + admin_token_id(s());      // request 1
  EXPECT_EQ(s().post("/app", R"({"guid":"web"})").status, 201);  // 2
  EXPECT_EQ(s().request("POST", "/v1/edges", "{}", std::string("")).status,
            401);                                        // 3: no body read
  EXPECT_EQ(s().pap("GET", "/pdps").status, 200);        // 4
  EXPECT_EQ(s().get("/app/web/whitelist").status, 200);  // 5
  const std::vector<json> access = records_of(json_records(s().output_file()), "access");
  ASSERT_EQ(access.size(), 5u);
  EXPECT_EQ(access[0]["route"], "/v1/tokens");
  EXPECT_EQ(access[0]["principal"], admin);
  EXPECT_EQ(access[1]["method"], "POST");
  EXPECT_EQ(access[1]["route"], "/app");
  EXPECT_EQ(access[1]["status"], 201);
  EXPECT_EQ(access[1]["principal"], admin);
  EXPECT_TRUE(access[1]["duration_ms"].is_number());
  EXPECT_EQ(access[2]["route"], "/v1/edges");
  EXPECT_EQ(access[2]["status"], 401);
  EXPECT_EQ(access[2]["principal"], "anonymous");
  EXPECT_EQ(access[3]["route"], "/policy/pap/v1/pdps");
  EXPECT_EQ(access[3]["principal"], "pap:admin");
  EXPECT_TRUE(access[3].contains("request_id") &&
              !access[3]["request_id"].get<std::string>().empty());
  EXPECT_EQ(access[4]["route"], "/app/:app_guid/whitelist");
  EXPECT_EQ(access[4]["path"], "/app/web/whitelist");
  EXPECT_EQ(access[4]["principal"], admin);
}

TEST_F(LogsTest, AccessLogFalseLogsNoRequest) {
  server_.reset();
  start({"--log-format", "json", "--access-log=false"});
  EXPECT_EQ(s().post("/app", R"({"guid":"web"})").status, 201);
  EXPECT_EQ(s().get("/v1/tokens").status, 200);
  const std::vector<json> all = json_records(s().output_file());
  EXPECT_TRUE(records_of(all, "access").empty());
  EXPECT_EQ(records_of(all, "change").size(), 1u);  // writes are still logged
}

// Who added this edge? The change log says (GET /internal/v1/changes), and so does the log.
TEST_F(LogsTest, TheChangeLogRecordsWhoAddedAnEdge) {
  auto issued = s().post("/v1/tokens", R"({"scopes":["network.write"],"accounts":["default"]})");
  ASSERT_EQ(issued.status, 201) << issued.body;
  const std::string writer = issued.json()["token"].get<std::string>();
  const std::string writer_id = issued.json()["id"].get<std::string>();
  const std::string admin = "token:" + admin_token_id(s());
  ASSERT_EQ(s().post("/app", R"({"guid":"web"})").status, 201);
  ASSERT_EQ(s().request("POST", "/app", R"({"guid":"db"})", writer).status, 201);
  ASSERT_EQ(
      s().request("POST", "/whitelist", R"({"source":"web","destination":"db"})", writer).status,
      201);
  auto changes = s().get("/internal/v1/changes?since=0");
  ASSERT_EQ(changes.status, 200) << changes.body;
  std::map<std::string, std::string> who;  // kind:subject → principal
  const json listed = changes.json();
  for (const json& c : listed["changes"])
    who[c["kind"].get<std::string>() + ":" + c["subject"].get<std::string>()] =
        c["principal"].is_string() ? c["principal"].get<std::string>() : "null";
  EXPECT_EQ(who["app.created:web"], admin);
  EXPECT_EQ(who["app.created:db"], "token:" + writer_id);
  EXPECT_EQ(who["edge.created:db"], "token:" + writer_id);
  // A PAP write names its user.
  auto group = s().pap("POST", "/pdps/groups/batch",
                       R"({"groups":[{"name":"g1","pdpGroupState":"PASSIVE",)"
                       R"("pdpSubgroups":[{"pdpType":"tc","desiredInstanceCount":0}]}]})");
  ASSERT_EQ(group.status, 200) << group.body;
  changes = s().get("/internal/v1/changes?since=0");
  ASSERT_FALSE(changes.json()["changes"].empty());
  EXPECT_EQ(changes.json()["changes"].back()["principal"], "pap:admin")
      << changes.json()["changes"].back();

  // The log names the writer of every change and of token writes.
  std::map<std::string, std::string> logged;
  for (const json& r : records_of(json_records(s().output_file()), "change"))
    logged[r.value("kind", "") + ":" + r.value("subject", r.value("token", ""))] =
        r.value("principal", "");
  EXPECT_EQ(logged["edge.created:db"], "token:" + writer_id);
  EXPECT_EQ(logged["app.created:web"], admin);
  EXPECT_EQ(logged["token.issued:" + writer_id], admin);
  EXPECT_EQ(logged["pdp.state_change:g1"], "pap:admin") << json(logged);
}

class LogLevelTest : public ServerTest {};

// A request refused before its body is logged at debug: absent at info, present once an admin
// has set the level to debug at run time.
TEST_F(LogLevelTest, AnAdminChangesTheLevelAtRunTime) {
  EXPECT_EQ(s().request("POST", "/v1/edges", "{}", std::string("")).status, 401);
  EXPECT_FALSE(contains(s().output_file(), "refused before the body"));
  auto level = s().get("/v1/system/log-level");
  ASSERT_EQ(level.status, 200) << level.body;
  EXPECT_EQ(level.json(), json({{"level", "info"}}));
  auto set = s().request("PUT", "/v1/system/log-level", R"({"level":"debug"})");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(set.json(), json({{"level", "debug"}, {"previous", "info"}}));
  EXPECT_EQ(s().get("/v1/system/log-level").json()["level"], "debug");
  EXPECT_EQ(s().request("POST", "/v1/edges", "{}", std::string("")).status, 401);
  EXPECT_TRUE(contains(s().output_file(), "refused before the body"));
  EXPECT_TRUE(contains(s().output_file(), "log level changed"));
}

// api/system.yaml's examples, sent to the real server: the PUT body gets the 200 example, and
// GET then answers the level the example set.
TEST_F(LogLevelTest, ApiSystemYamlExamplesHold) {
  std::ifstream in(std::string(WIRETAG_API_DIR) + "/system.yaml");
  std::stringstream text;
  text << in.rdbuf();
  auto doc = yaml_to_json(text.str());
  ASSERT_TRUE(doc) << doc.error().message;
  const json& route = (*doc)["paths"]["/v1/system/log-level"];
  EXPECT_EQ(s().get("/v1/system/log-level").json(),
            route["get"]["responses"]["200"]["content"]["application/json"]["example"]);
  const json put = route["put"];
  auto r = s().request("PUT", "/v1/system/log-level",
                       put["requestBody"]["content"]["application/json"]["example"].dump());
  EXPECT_EQ(r.json(), put["responses"]["200"]["content"]["application/json"]["example"]);
  auto bad = s().request("PUT", "/v1/system/log-level", R"({"level":"verbose"})");
  EXPECT_EQ(bad.json(), put["responses"]["400"]["content"]["application/json"]["example"]);
}

TEST_F(LogLevelTest, OnlyAnAdminMayChangeItAndABadLevelChangesNothing) {
  auto issued = s().post("/v1/tokens", R"({"scopes":["network.write"],"accounts":["default"]})");
  ASSERT_EQ(issued.status, 201) << issued.body;
  const std::string writer = issued.json()["token"].get<std::string>();
  auto r = s().request("PUT", "/v1/system/log-level", R"({"level":"debug"})", writer);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.error_code(), "FORBIDDEN");
  EXPECT_EQ(s().request("GET", "/v1/system/log-level", "", writer).status, 403);
  r = s().request("PUT", "/v1/system/log-level", R"({"level":"debug"})", std::string(""));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.error_code(), "UNAUTHORIZED");
  r = s().request("PUT", "/v1/system/log-level", R"({"level":"verbose"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.error_code(), "INVALID_LOG_LEVEL");
  r = s().request("PUT", "/v1/system/log-level", R"({"level":"debug","extra":1})");
  EXPECT_EQ(r.error_code(), "UNKNOWN_FIELD");
  r = s().request("PUT", "/v1/system/log-level", R"({"level":7})");
  EXPECT_EQ(r.error_code(), "INVALID_FIELD_TYPE");
  EXPECT_EQ(s().get("/v1/system/log-level").json()["level"], "info");
}

}  // namespace
}  // namespace wiretag::test
