// The PAP API (/policy/pap/v1, SPEC §4.4) over real HTTP against the binary: basic auth,
// ONAP headers, groups, deployments, SAFE, status per cell, audit, health, statistics, and
// what the agents see of it (PDP_STATUS reply, watch events, endpoints/query per cell).
// Cells are simulated by posting their PDP_STATUS over HTTP.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "server_process.h"

namespace wiretag::test {
namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
using nlohmann::json;

constexpr const char* kBase = "/policy/pap/v1";
constexpr const char* kAlice = "alice:wonderland";  // plain password
constexpr const char* kBob = "bob:builder";         // PBKDF2-hashed in the file
constexpr const char* kCarol = "carol:hunter2";     // salted SHA-256 in the file

struct PapResult {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  json json_body() const { return json::parse(body, nullptr, false); }
  std::string error_code() const {
    auto j = json_body();
    if (!j.is_array() || j.size() != 1 || !j[0].contains("error_code")) return "";
    return j[0]["error_code"].get<std::string>();
  }
};

std::string basic(const std::string& user_password) {
  std::string out(beast::detail::base64::encoded_size(user_password.size()), '\0');
  out.resize(beast::detail::base64::encode(out.data(), user_password.data(), user_password.size()));
  return "Basic " + out;
}

PapResult raw_request(unsigned short port, const std::string& method, const std::string& target,
                      const std::string& body, const std::string& authorization,
                      const std::map<std::string, std::string>& headers = {}) {
  PapResult out;
  try {
    boost::asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    if (!authorization.empty()) req.set(bhttp::field::authorization, authorization);
    for (const auto& [k, v] : headers) req.set(k, v);
    if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    bhttp::write(stream, req);
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buffer, res);
    out.status = res.result_int();
    out.body = res.body();
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(f.value());
    }
  } catch (const std::exception&) {
  }
  return out;
}

class Pap : public ::testing::Test {
 protected:
  void SetUp() override {
    credentials_ = dir_.path() / "pap-users";
    std::ofstream(credentials_)
        << "# test users\n"
        << kAlice << "\n"
        << "bob:$pbkdf2-sha256$1000$00112233445566778899aabbccddeeff$"
           "aaa4f2210b521da260276b9283f211eac14093dfaca02fe4f305e1ccc4bc446c\n"
        << "carol:$sha256$abcd$1200d58c673131ce50c2bd665aa1d4e1f83852f2e03d7c0ef2b3b48eeb85e5fc\n";
    start();
  }
  void start() {
    server_.reset();
    server_ = std::make_unique<ServerProcess>(
        dir_.path() / "data", std::vector<std::string>{"--pap-credentials-file", credentials_});
    ASSERT_TRUE(server_->started()) << "see " << server_->output_file();
  }
  ServerProcess& s() { return *server_; }

  PapResult pap(const std::string& method, const std::string& path, const json& body = nullptr,
                const std::string& user = kAlice,
                const std::map<std::string, std::string>& headers = {}) {
    return raw_request(s().port(), method, std::string(kBase) + path,
                       body.is_null() ? "" : body.dump(), user.empty() ? "" : basic(user), headers);
  }
  PapResult pap_text(const std::string& method, const std::string& path, const std::string& body) {
    return raw_request(s().port(), method, std::string(kBase) + path, body, basic(kAlice));
  }

  // A simulated cell's heartbeat; returns the server's reply (its assignment).
  json heartbeat(const std::string& cell, const std::string& group, json extra = json::object(),
                 int interval_ms = 60000) {
    json status = {{"messageName", "PDP_STATUS"},
                   {"name", cell},
                   {"pdpType", "tc"},
                   {"pdpGroup", group},
                   {"state", "ACTIVE"},
                   {"healthy", "HEALTHY"},
                   {"heartbeatIntervalMs", interval_ms}};
    for (auto& [k, v] : extra.items()) status[k] = v;
    auto r = s().post("/internal/v1/cells/" + cell + "/status", status.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json();
  }
  void app(const std::string& guid) {
    auto r = s().post("/app", json{{"guid", guid}}.dump());
    ASSERT_TRUE(r.status == 201 || r.status == 200) << r.body;
  }
  // A named policy in account default; returns its id (its PAP name).
  std::string policy(const json& rules, const std::string& name = "p") {
    auto r =
        s().post("/v1/accounts/default/policies", json{{"name", name}, {"rules", rules}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json()["result"]["id"].get<std::string>();
  }
  void create_group(const std::string& name, const std::string& state) {
    json body = {{"groups",
                  {{{"name", name},
                    {"pdpGroupState", state},
                    {"pdpSubgroups", {{{"pdpType", "tc"}, {"desiredInstanceCount", 0}}}}}}}};
    auto r = pap("POST", "/pdps/groups/batch", body);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  PapResult deploy_batch(const std::string& group, const std::string& action,
                         const json& policies) {
    return pap("POST", "/pdps/deployments/batch",
               {{"groups",
                 {{{"name", group},
                   {"deploymentSubgroups",
                    {{{"pdpType", "tc"}, {"action", action}, {"policies", policies}}}}}}}});
  }
  json group(const std::string& name) {
    const json all = pap("GET", "/pdps").json_body();
    for (const json& g : all["groups"])
      if (g["name"] == name) return g;
    return nullptr;
  }
  json policies_of(const std::string& name) {
    json g = group(name);
    return g.is_null() ? json(nullptr) : g["pdpSubgroups"][0]["policies"];
  }
  // Everything a bad request must leave as it was.
  json snapshot() {
    return {{"pdps", pap("GET", "/pdps").json_body()},
            {"audit", pap("GET", "/policies/audit?recordCount=100").json_body()},
            {"changes", s().get("/internal/v1/changes?since=0").json()}};
  }
  json rules_for(const std::string& app, const std::optional<std::string>& cell) {
    json q = {{"apps", {app}}};
    if (cell) q["cell"] = *cell;
    auto r = s().post("/internal/v1/endpoints/query", q.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json();
  }
  static std::vector<std::string> sources(const json& query_reply) {
    std::vector<std::string> out;
    for (const json& r : query_reply["apps"][0]["rules"]) out.push_back(r["source"]);
    std::sort(out.begin(), out.end());
    return out;
  }

  TempDir dir_;
  std::string credentials_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(Pap, BasicAuthFromTheCredentialsFile) {
  for (const char* user : {kAlice, kBob, kCarol})
    EXPECT_EQ(pap("GET", "/pdps", nullptr, user).status, 200) << user;
  for (const std::string& bad : {std::string(""), std::string("alice:wrong"),
                                 std::string("mallory:wonderland"), std::string("bob:")}) {
    auto r = pap("GET", "/pdps", nullptr, bad);
    EXPECT_EQ(r.status, 401) << bad;
    EXPECT_EQ(r.error_code(), "UNAUTHORIZED");
    EXPECT_EQ(r.headers["www-authenticate"], "Basic realm=\"wiretag PAP\"");
  }
  // A bearer token, even the admin's, is not a PAP credential.
  auto r = raw_request(s().port(), "GET", "/policy/pap/v1/pdps", "", "Bearer " + s().admin_token());
  EXPECT_EQ(r.status, 401);
  auto garbage = raw_request(s().port(), "GET", "/policy/pap/v1/pdps", "", "Basic !!!");
  EXPECT_EQ(garbage.status, 401);
  // A refused write changes nothing.
  json before = snapshot();
  EXPECT_EQ(pap("PUT", "/pdps/groups/defaultGroup?state=PASSIVE", nullptr, "alice:x").status, 401);
  EXPECT_EQ(snapshot(), before);
}

TEST(PapBootstrap, FirstStartWritesAnAdminCredential) {
  TempDir dir;
  ServerProcess s(dir.path() / "data");
  ASSERT_TRUE(s.started());
  const auto file = dir.path() / "data" / "pap-credentials";
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  std::string line;
  std::getline(std::ifstream(file), line);
  ASSERT_EQ(line.rfind("admin:", 0), 0u);
  EXPECT_GT(line.size(), 20u);
  std::ifstream log(s.output_file());
  std::string text((std::istreambuf_iterator<char>(log)), {});
  EXPECT_NE(text.find(file.string()), std::string::npos) << "the log names the file";
  EXPECT_EQ(raw_request(s.port(), "GET", "/policy/pap/v1/pdps", "", basic(line)).status, 200);
  EXPECT_EQ(raw_request(s.port(), "GET", "/policy/pap/v1/pdps", "", basic("admin:admin")).status,
            401);
}

TEST_F(Pap, OnapHeadersOnEveryAnswerErrorsIncluded) {
  auto echoed = pap("GET", "/pdps", nullptr, kAlice, {{"X-ONAP-RequestID", "req-42"}});
  EXPECT_EQ(echoed.headers["x-onap-requestid"], "req-42");
  EXPECT_EQ(pap("GET", "/pdps?requestID=from-query").headers["x-onap-requestid"], "from-query");
  for (const PapResult& r :
       {pap("GET", "/healthcheck"), pap("GET", "/statistics"),
        pap("PUT", "/pdps/groups/nope?state=ACTIVE"), pap("GET", "/pdps", nullptr, "")}) {
    EXPECT_EQ(r.headers.at("x-onap-requestid").size(), 36u) << r.body;  // a generated UUID
    EXPECT_EQ(r.headers.at("x-latestversion"), "1.0.0");
    EXPECT_EQ(r.headers.at("x-minorversion"), "0");
    EXPECT_EQ(r.headers.at("x-patchversion"), "0");
  }
  auto bad_id = pap("GET", "/pdps", nullptr, kAlice, {{"x-onap-requestid", std::string(200, 'a')}});
  EXPECT_EQ(bad_id.status, 400);
  EXPECT_EQ(bad_id.error_code(), "INVALID_REQUEST_ID");
  EXPECT_EQ(pap("GET", "/pdps?color=red").error_code(), "INVALID_QUERY");
  // Also the answers no handler makes: the router's 404, 405 and bad path, and the server's
  // refusal of an oversized body, on every API that comes from ONAP.
  struct Case {
    std::string method, target, body;
    int status;
  };
  for (const Case& c : std::vector<Case>{
           {"GET", std::string(kBase) + "/nope", "", 404},
           {"DELETE", std::string(kBase) + "/healthcheck", "", 405},
           {"GET", std::string(kBase) + "/pdps/groups/%zz", "", 400},
           {"POST", std::string(kBase) + "/pdps/groups/batch", std::string((1 << 20) + 1, ' '),
            400},
           {"GET", "/policy/api/v1/nope", "", 404},
           {"PUT", "/policy/api/v1/healthcheck", "", 405},
           {"GET", "/policy/pdpx/v1/nope", "", 404},
           {"GET", "/policy/pdpx/v1/decision", "", 405},
       }) {
    SCOPED_TRACE(c.method + " " + c.target);
    const bool decision = c.target.starts_with("/policy/pdpx");  // bearer tokens there
    auto r = raw_request(s().port(), c.method, c.target, c.body,
                         decision ? "Bearer " + s().admin_token() : basic(kAlice),
                         {{"x-onap-requestid", "req-7"}});
    EXPECT_EQ(r.status, c.status) << r.body;
    EXPECT_EQ(r.headers["x-onap-requestid"], "req-7");
    EXPECT_EQ(r.headers["x-latestversion"], "1.0.0");
    EXPECT_EQ(r.headers["x-minorversion"], "0");
    EXPECT_EQ(r.headers["x-patchversion"], "0");
  }
}

TEST_F(Pap, DefaultGroupHoldsDefaultWhitelistFromTheStart) {
  json g = group("defaultGroup");
  ASSERT_FALSE(g.is_null());
  EXPECT_EQ(g["pdpGroupState"], "ACTIVE");
  EXPECT_EQ(g["pdpSubgroups"][0]["pdpType"], "tc");
  EXPECT_EQ(g["pdpSubgroups"][0]["policies"],
            json::parse(R"([{"name":"default-whitelist","version":"1.0.0"}])"));
  EXPECT_EQ(pap("GET", "/healthcheck").json_body()["healthy"], true);
}

TEST_F(Pap, GroupLifecycle) {
  create_group("canary", "TEST");
  EXPECT_EQ(group("canary")["pdpGroupState"], "TEST");
  // Update: description changes, the state does not change this way.
  auto upd = pap("POST", "/pdps/groups/batch",
                 {{"groups",
                   {{{"name", "canary"},
                     {"description", "cell 1 first"},
                     {"pdpSubgroups", {{{"pdpType", "tc"}, {"desiredInstanceCount", 0}}}}}}}});
  ASSERT_EQ(upd.status, 200) << upd.body;
  EXPECT_EQ(group("canary")["description"], "cell 1 first");
  json before = snapshot();
  auto state_by_batch = pap("POST", "/pdps/groups/batch",
                            {{"groups",
                              {{{"name", "canary"},
                                {"pdpGroupState", "ACTIVE"},
                                {"pdpSubgroups", {{{"pdpType", "tc"}}}}}}}});
  EXPECT_EQ(state_by_batch.status, 400);
  EXPECT_EQ(state_by_batch.error_code(), "INVALID_STATE_CHANGE");
  for (const char* state : {"ACTIVE", "SAFE"}) {
    ASSERT_EQ(pap("PUT", std::string("/pdps/groups/canary?state=") + state).status, 200);
    before = snapshot();
    auto del = pap("DELETE", "/pdps/groups/canary");
    EXPECT_EQ(del.status, 409) << state;
    EXPECT_EQ(del.error_code(), "GROUP_NOT_PASSIVE");
    EXPECT_EQ(snapshot(), before) << "a refused delete changes nothing";
  }
  ASSERT_EQ(pap("PUT", "/pdps/groups/canary?state=PASSIVE").status, 200);
  ASSERT_EQ(pap("DELETE", "/pdps/groups/canary").status, 200);
  EXPECT_TRUE(group("canary").is_null());
  EXPECT_EQ(pap("DELETE", "/pdps/groups/canary").error_code(), "GROUP_NOT_FOUND");

  std::vector<std::string> actions;
  for (const json& a : pap("GET", "/policies/audit/canary?recordCount=100").json_body()) {
    actions.push_back(a["action"].get<std::string>() +
                      (a.contains("detail") ? " " + a["detail"].get<std::string>() : ""));
    EXPECT_EQ(a["user"], "alice");
  }
  EXPECT_EQ(actions, (std::vector<std::string>{
                         "GROUP_DELETE", "STATE_CHANGE SAFE->PASSIVE", "STATE_CHANGE ACTIVE->SAFE",
                         "STATE_CHANGE TEST->ACTIVE", "GROUP_UPDATE", "GROUP_CREATE TEST"}));
}

TEST_F(Pap, BadGroupRequestsChangeNothing) {
  create_group("canary", "TEST");
  json before = snapshot();
  struct Case {
    std::string body;
    std::string code;
  };
  std::vector<Case> cases = {
      {"{", "INVALID_JSON"},
      {"[]", "INVALID_BODY"},
      {R"({})", "MISSING_FIELD"},
      {R"({"groups":[],"x":1})", "UNKNOWN_FIELD"},
      {R"({"groups":[]})", "INVALID_BATCH"},
      {R"({"groups":{}})", "INVALID_FIELD_TYPE"},
      {R"({"groups":[{"name":"g","pdpSubgroups":[{"pdpType":"tc"}],"color":1}]})", "UNKNOWN_FIELD"},
      {R"({"groups":[{"name":"g","pdpSubgroups":[{"pdpType":"tc","x":1}]}]})", "UNKNOWN_FIELD"},
      {R"({"groups":[{"name":"g","pdpSubgroups":[]}]})", "INVALID_BATCH"},
      {R"({"groups":[{"name":"g g","pdpSubgroups":[{"pdpType":"tc"}]}]})", "INVALID_GROUP_NAME"},
      {R"({"groups":[{"name":"g","pdpGroupState":"ON","pdpSubgroups":[{"pdpType":"tc"}]}]})",
       "INVALID_STATE"},
      {R"({"groups":[{"name":"g","pdpSubgroups":[{"pdpType":"tc"},{"pdpType":"tc"}]}]})",
       "INVALID_SUBGROUP"},
      {R"({"groups":[{"name":"g","pdpSubgroups":[{"pdpType":"tc","desiredInstanceCount":"1"}]}]})",
       "INVALID_FIELD_TYPE"},
      {R"({"groups":[{"name":"g","pdpSubgroups":[{"pdpType":"tc","supportedPolicyTypes":[{"name":"onap.x","version":"1.0.0"}]}]}]})",
       "INVALID_POLICY_TYPE"},
      // The second group is bad: the first is not created either.
      {R"({"groups":[{"name":"ok","pdpSubgroups":[{"pdpType":"tc"}]},{"name":"canary","pdpGroupState":"ACTIVE","pdpSubgroups":[{"pdpType":"tc"}]}]})",
       "INVALID_STATE_CHANGE"},
  };
  // Issue 14 item 7: names are identifiers, free text and properties are bounded.
  auto group = [](json g) {
    if (!g.contains("name")) g["name"] = "g";
    if (!g.contains("pdpSubgroups")) g["pdpSubgroups"] = json{{{"pdpType", "tc"}}};
    return json{{"groups", json::array({g})}}.dump();
  };
  cases.push_back({group({{"description", std::string(1'000'000, 'd')}}), "FIELD_TOO_LONG"});
  cases.push_back({group({{"description", std::string(1025, 'd')}}), "FIELD_TOO_LONG"});
  cases.push_back({group({{"name", std::string(129, 'g')}}), "INVALID_GROUP_NAME"});
  cases.push_back({group({{"properties", {{"k", std::string(20000, 'p')}}}}), "FIELD_TOO_LONG"});
  cases.push_back(
      {group({{"pdpSubgroups",
               json{{{"pdpType", "tc"}, {"properties", {{"k", std::string(20000, 'p')}}}}}}}),
       "FIELD_TOO_LONG"});
  cases.push_back(
      {group({{"pdpSubgroups", json{{{"pdpType", std::string(129, 't')}}}}}), "INVALID_PDP_TYPE"});
  for (const Case& c : cases) {
    auto r = pap_text("POST", "/pdps/groups/batch", c.body);
    EXPECT_EQ(r.status, 400) << c.body.substr(0, 200) << " → " << r.body;
    EXPECT_EQ(r.error_code(), c.code) << c.body.substr(0, 200);
  }
  for (const char* q : {"/pdps/groups/canary?state=RUNNING", "/pdps/groups/canary",
                        "/pdps/groups/canary?state=active"}) {
    auto r = pap("PUT", q);
    EXPECT_EQ(r.status, 400) << q;
    EXPECT_EQ(r.error_code(), "INVALID_STATE") << q;
  }
  EXPECT_EQ(pap("PUT", "/pdps/groups/ghost?state=ACTIVE").status, 404);
  EXPECT_EQ(snapshot(), before);
}

TEST_F(Pap, DeploymentsBatchPostDeletePatchWithAudit) {
  app("web");
  app("db");
  const std::string id = policy({{{"source", "web"}, {"destination", "db"}}});
  create_group("canary", "TEST");
  ASSERT_EQ(deploy_batch("canary", "POST", {{{"name", id}, {"version", "1.0.0"}}}).status, 202);
  EXPECT_EQ(policies_of("canary"), (json{{{"name", id}, {"version", "1.0.0"}}}));
  // PATCH replaces the whole set.
  auto patched = deploy_batch("canary", "PATCH", {{{"name", "default-whitelist"}}});
  ASSERT_EQ(patched.status, 202) << patched.body;
  EXPECT_EQ(patched.json_body()["uri"], "/policy/pap/v1/policies/status");
  EXPECT_EQ(policies_of("canary"), (json{{{"name", "default-whitelist"}, {"version", "1.0.0"}}}));
  ASSERT_EQ(deploy_batch("canary", "DELETE", {{{"name", "default-whitelist"}}}).status, 202);
  EXPECT_EQ(policies_of("canary"), json::array());

  json before = snapshot();
  struct Case {
    PapResult r;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {deploy_batch("canary", "DELETE", {{{"name", "default-whitelist"}}}), 404,
       "DEPLOYMENT_NOT_FOUND"},
      {deploy_batch("ghost", "POST", {{{"name", id}}}), 404, "GROUP_NOT_FOUND"},
      {pap("POST", "/pdps/deployments/batch",
           {{"groups",
             {{{"name", "canary"},
               {"deploymentSubgroups",
                {{{"pdpType", "xdp"}, {"action", "POST"}, {"policies", {{{"name", id}}}}}}}}}}}),
       404, "SUBGROUP_NOT_FOUND"},
      {deploy_batch("canary", "POST", {{{"name", "no-such-policy"}}}), 404, "POLICY_NOT_FOUND"},
      {deploy_batch("canary", "POST", {{{"name", id}, {"version", "7"}}}), 404,
       "POLICY_VERSION_NOT_FOUND"},
      {deploy_batch("canary", "POST", {{{"name", id}, {"version", "1.2.0"}}}), 400,
       "INVALID_POLICY_VERSION"},
      {deploy_batch("canary", "PUT", {{{"name", id}}}), 400, "INVALID_ACTION"},
      {deploy_batch("canary", "POST", json::array()), 400, "INVALID_BATCH"},
      {deploy_batch("canary", "POST", {{{"name", id}, {"colour", "red"}}}), 400, "UNKNOWN_FIELD"},
      // A good subgroup then a bad one: neither happens.
      {pap("POST", "/pdps/deployments/batch",
           {{"groups",
             {{{"name", "canary"},
               {"deploymentSubgroups",
                {{{"pdpType", "tc"}, {"action", "POST"}, {"policies", {{{"name", id}}}}},
                 {{"pdpType", "tc"}, {"action", "POST"}, {"policies", {{{"name", "nope"}}}}}}}}}}}),
       404, "POLICY_NOT_FOUND"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.r.status, c.status) << c.r.body;
    EXPECT_EQ(c.r.error_code(), c.code) << c.r.body;
  }
  EXPECT_EQ(pap_text("POST", "/pdps/deployments/batch", "{\"groups\":").error_code(),
            "INVALID_JSON");
  EXPECT_EQ(snapshot(), before);

  std::vector<std::string> trail;
  for (const json& a : pap("GET", "/policies/audit/canary?recordCount=100").json_body()) {
    EXPECT_EQ(a["user"], "alice");
    if (!a["policy"].is_null())
      trail.push_back(a["action"].get<std::string>() + " " +
                      a["policy"]["name"].get<std::string>());
  }
  EXPECT_EQ(trail, (std::vector<std::string>{"UNDEPLOYMENT default-whitelist",
                                             "DEPLOYMENT default-whitelist", "UNDEPLOYMENT " + id,
                                             "DEPLOYMENT " + id}));
}

TEST_F(Pap, SafeGroupRefusesDeploymentChanges) {
  create_group("canary", "ACTIVE");
  ASSERT_EQ(deploy_batch("canary", "POST", {{{"name", "default-whitelist"}}}).status, 202);
  ASSERT_EQ(pap("PUT", "/pdps/groups/canary?state=SAFE").status, 200);
  json before = snapshot();
  auto add = deploy_batch("canary", "PATCH", json::array());
  EXPECT_EQ(add.status, 409);
  EXPECT_EQ(add.error_code(), "GROUP_IN_SAFE_STATE");
  auto undeploy = pap("DELETE", "/pdps/policies/default-whitelist");
  EXPECT_EQ(undeploy.status, 409);
  EXPECT_EQ(undeploy.error_code(), "GROUP_IN_SAFE_STATE");
  EXPECT_EQ(snapshot(), before);
  // SAFE still enforces what it has.
  json reply = heartbeat("c1", "canary");
  EXPECT_EQ(reply["mode"], "enforce");
  EXPECT_EQ(reply["policies"], (json{{{"name", "default-whitelist"}, {"version", "1.0.0"}}}));
}

// SPEC §3: SAFE accepts no new default-whitelist edges. While a group that has
// default-whitelist deployed is SAFE, an edge is neither added nor removed (409, nothing
// written); posting one that exists is still the no-op it always is. ACTIVE again, both work.
TEST_F(Pap, SafeGroupFreezesTheDefaultWhitelistEdges) {
  for (const char* app : {"api", "web"})
    ASSERT_EQ(s().post("/app", json{{"guid", app}}.dump()).status, 201);
  const std::string kept = R"({"source":"api","destination":"web","protocol":"icmp"})";
  const std::string added =
      R"({"source":"api","destination":"web","protocol":"tcp","ports":{"start":7777,"end":7777}})";
  ASSERT_EQ(s().post("/whitelist", kept).status, 201);
  ASSERT_EQ(pap("PUT", "/pdps/groups/defaultGroup?state=SAFE").status, 200);
  const json rules = s().get("/app/web/whitelist?detail=rules").json();
  auto add = s().post("/whitelist", added);
  EXPECT_EQ(add.status, 409) << add.body;
  EXPECT_EQ(add.error_code(), "GROUP_IN_SAFE_STATE");
  auto remove = s().request("DELETE", "/whitelist", kept);
  EXPECT_EQ(remove.status, 409) << remove.body;
  EXPECT_EQ(remove.error_code(), "GROUP_IN_SAFE_STATE");
  EXPECT_EQ(s().post("/whitelist", kept).status, 200);  // exists: nothing to add
  EXPECT_EQ(s().get("/app/web/whitelist?detail=rules").json(), rules);
  ASSERT_EQ(pap("PUT", "/pdps/groups/defaultGroup?state=ACTIVE").status, 200);
  EXPECT_EQ(s().post("/whitelist", added).status, 201);
  EXPECT_EQ(s().request("DELETE", "/whitelist", kept).status, 200);
}

TEST_F(Pap, DeployAndUndeployPolicies) {
  app("web");
  app("db");
  const std::string id = policy({{{"source", "web"}, {"destination", "db"}}});
  json before = snapshot();
  // defaultGroup (ACTIVE) has no cell yet: refused (ONAP).
  auto none = pap("POST", "/pdps/policies", {{"policies", {{{"policy-id", id}}}}});
  EXPECT_EQ(none.status, 409);
  EXPECT_EQ(none.error_code(), "SUBGROUP_HAS_NO_PDP");
  EXPECT_EQ(snapshot(), before);
  heartbeat("c1", "defaultGroup");
  auto latest = pap("POST", "/pdps/policies", {{"policies", {{{"policy-id", id}}}}});
  ASSERT_EQ(latest.status, 202) << latest.body;
  // Listed by name: a policy id may sort before or after default-whitelist.
  auto version_of = [&](const std::string& name) {
    for (const json& p : policies_of("defaultGroup"))
      if (p["name"] == name) return p["version"].get<std::string>();
    return std::string("absent");
  };
  EXPECT_EQ(policies_of("defaultGroup").size(), 2u);
  EXPECT_EQ(version_of("default-whitelist"), "1.0.0");
  EXPECT_EQ(version_of(id), "1.0.0");
  // A new version replaces the old one in the subgroup.
  ASSERT_EQ(s().request("PATCH", "/v1/accounts/default/policies/" + id,
                        json{{"rules", {{{"source", "*"}, {"destination", "db"}}}}}.dump())
                .status,
            200);
  ASSERT_EQ(
      pap("POST", "/pdps/policies", {{"policies", {{{"name", id}, {"version", "2"}}}}}).status,
      202);
  EXPECT_EQ(version_of(id), "2.0.0");
  EXPECT_EQ(policies_of("defaultGroup").size(), 2u);

  before = snapshot();
  const std::vector<std::pair<PapResult, std::string>> bad = {
      {pap("DELETE", "/pdps/policies/" + id + "/versions/1"), "DEPLOYMENT_NOT_FOUND"},
      {pap("DELETE", "/pdps/policies/" + id + "/versions/one"), "INVALID_POLICY_VERSION"},
      {pap("DELETE", "/pdps/policies/unknown-policy"), "POLICY_NOT_FOUND"},
      {pap("POST", "/pdps/policies",
           {{"policies", {{{"policy-id", id}, {"policy-version", "9"}}}}}),
       "POLICY_VERSION_NOT_FOUND"},
      {pap("POST", "/pdps/policies", {{"policies", json::array()}}), "INVALID_BATCH"},
      {pap("POST", "/pdps/policies", {{"policies", {{{"policy-id", id}, {"name", id}}}}}),
       "UNKNOWN_FIELD"},
      {pap_text("POST", "/pdps/policies", "nope"), "INVALID_JSON"},
  };
  for (const auto& [r, code] : bad) EXPECT_EQ(r.error_code(), code) << r.body;
  EXPECT_EQ(snapshot(), before);
  // A deployed policy cannot be deleted (ONAP): the cells enforce it.
  const json policy_before = s().get("/v1/accounts/default/policies/" + id).json();
  auto deployed = s().request("DELETE", "/v1/accounts/default/policies/" + id);
  EXPECT_EQ(deployed.status, 409) << deployed.body;
  EXPECT_EQ(deployed.error_code(), "POLICY_DEPLOYED");
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(s().get("/v1/accounts/default/policies/" + id).json(), policy_before);
  ASSERT_EQ(pap("DELETE", "/pdps/policies/" + id + "/versions/2.0.0").status, 202);
  EXPECT_EQ(policies_of("defaultGroup"),
            (json{{{"name", "default-whitelist"}, {"version", "1.0.0"}}}));
  EXPECT_EQ(s().request("DELETE", "/v1/accounts/default/policies/" + id).status, 200);
}

TEST_F(Pap, PdpStatusReplyFollowsTheGroupState) {
  create_group("canary", "TEST");
  ASSERT_EQ(deploy_batch("canary", "POST", {{{"name", "default-whitelist"}}}).status, 202);
  json reply = heartbeat("c1", "canary");
  EXPECT_EQ(reply["state"], "TEST");
  EXPECT_EQ(reply["mode"], "audit");
  EXPECT_EQ(reply["locked"], false);
  EXPECT_EQ(reply["pdpSubgroup"], "tc");
  EXPECT_EQ(reply["policies"], (json{{{"name", "default-whitelist"}, {"version", "1.0.0"}}}));
  for (auto [state, mode] : {std::pair{"ACTIVE", "enforce"}, std::pair{"SAFE", "enforce"},
                             std::pair{"PASSIVE", "bypass"}, std::pair{"TEST", "audit"}}) {
    ASSERT_EQ(pap("PUT", std::string("/pdps/groups/canary?state=") + state).status, 200);
    reply = heartbeat("c1", "canary");
    EXPECT_EQ(reply["state"], state);
    EXPECT_EQ(reply["mode"], mode);
  }
  json unknown = heartbeat("c2", "no-such-group");
  EXPECT_EQ(unknown["locked"], true);
  EXPECT_EQ(unknown["state"], "PASSIVE");
  EXPECT_EQ(unknown["mode"], "bypass");
  EXPECT_EQ(unknown["policies"], json::array());
  // The group appears: the cell is unlocked at its next heartbeat.
  create_group("no-such-group", "ACTIVE");
  EXPECT_EQ(heartbeat("c2", "no-such-group")["locked"], false);
}

TEST_F(Pap, UpdatesAndStateChangesArriveOnTheWatch) {
  create_group("canary", "TEST");
  const int64_t rev = s().get("/internal/v1/status").json()["revision"].get<int64_t>();
  ASSERT_EQ(deploy_batch("canary", "POST", {{{"name", "default-whitelist"}}}).status, 202);
  ASSERT_EQ(pap("PUT", "/pdps/groups/canary?state=ACTIVE").status, 200);
  auto w = s().get("/internal/v1/watch?since=" + std::to_string(rev) + "&timeout=5");
  ASSERT_EQ(w.status, 200) << w.body;
  json events = w.json()["events"];
  ASSERT_EQ(events.size(), 2u) << w.body;
  EXPECT_EQ(events[0]["kind"], "pdp.update");
  EXPECT_EQ(events[0]["subject"], "canary");
  // wiretag's fields, and ONAP's PDP_UPDATE / PDP_STATE_CHANGE names with the change.
  const json dw = {{{"name", "default-whitelist"}, {"version", "1.0.0"}}};
  EXPECT_EQ(events[0]["body"], (json{{"messageName", "PDP_UPDATE"},
                                     {"group", "canary"},
                                     {"pdpGroup", "canary"},
                                     {"pdpSubgroup", "tc"},
                                     {"policies", dw},
                                     {"policiesToBeDeployed", dw},
                                     {"policiesToBeUndeployed", json::array()}}));
  EXPECT_EQ(events[1]["kind"], "pdp.state_change");
  EXPECT_EQ(events[1]["body"], (json{{"messageName", "PDP_STATE_CHANGE"},
                                     {"group", "canary"},
                                     {"pdpGroup", "canary"},
                                     {"state", "ACTIVE"},
                                     {"mode", "enforce"}}));
  // Undeploying names what goes.
  ASSERT_EQ(deploy_batch("canary", "DELETE", {{{"name", "default-whitelist"}}}).status, 202);
  json changes = s().get("/internal/v1/changes?since=0").json()["changes"];
  const json& undeploy = changes.back();
  EXPECT_EQ(undeploy["kind"], "pdp.update");
  EXPECT_EQ(undeploy["body"]["policies"], json::array());
  EXPECT_EQ(undeploy["body"]["policiesToBeDeployed"], json::array());
  EXPECT_EQ(undeploy["body"]["policiesToBeUndeployed"], dw);
}

TEST_F(Pap, EndpointsQueryWithCellGivesOnlyDeployedRules) {
  app("web");
  app("api");
  app("db");
  ASSERT_EQ(s().post("/whitelist", json{{"source", "web"}, {"destination", "db"}}.dump()).status,
            201);
  const std::string id = policy({{{"source", "api"},
                                  {"destination", "db"},
                                  {"protocol", "tcp"},
                                  {"ports", {{"start", 5432}, {"end", 5432}}}}});
  create_group("canary", "TEST");
  ASSERT_EQ(deploy_batch("canary", "POST", {{{"name", id}}}).status, 202);
  heartbeat("c1", "defaultGroup");
  heartbeat("c2", "canary");
  heartbeat("c3", "unknown-group");

  EXPECT_EQ(sources(rules_for("db", "c1")), (std::vector<std::string>{"web"}));
  json canary = rules_for("db", "c2");
  EXPECT_EQ(sources(canary), (std::vector<std::string>{"api"}));
  EXPECT_EQ(canary["apps"][0]["rules"][0]["protocol"], "tcp");
  EXPECT_EQ(canary["cell"]["mode"], "audit");
  EXPECT_EQ(canary["cell"]["policies"], (json{{{"name", id}, {"version", "1.0.0"}}}));
  json locked = rules_for("db", "c3");
  EXPECT_EQ(locked["apps"][0]["rules"], json::array());
  EXPECT_EQ(locked["cell"]["locked"], true);
  // Without a cell: as before, every rule.
  EXPECT_EQ(sources(rules_for("db", std::nullopt)), (std::vector<std::string>{"api", "web"}));
  // Both deployed to canary: the union.
  ASSERT_EQ(deploy_batch("canary", "POST", {{{"name", "default-whitelist"}}}).status, 202);
  EXPECT_EQ(sources(rules_for("db", "c2")), (std::vector<std::string>{"api", "web"}));

  auto unregistered =
      s().post("/internal/v1/endpoints/query", json{{"apps", {"db"}}, {"cell", "ghost"}}.dump());
  EXPECT_EQ(unregistered.status, 404);
  EXPECT_EQ(unregistered.error_code(), "CELL_NOT_FOUND");
  auto bad = s().post("/internal/v1/endpoints/query", json{{"apps", {"db"}}, {"cell", 7}}.dump());
  EXPECT_EQ(bad.error_code(), "INVALID_FIELD_TYPE");
}

TEST_F(Pap, DeploymentStateWaitingSuccessFailurePerCell) {
  create_group("canary", "TEST");
  ASSERT_EQ(deploy_batch("canary", "POST", {{{"name", "default-whitelist"}}}).status, 202);
  heartbeat("c1", "canary");
  // ONAP's shape: naming the version answers one status, an object.
  auto state = [&] {
    json st = pap("GET", "/policies/status/canary/default-whitelist/1.0.0").json_body();
    EXPECT_TRUE(st.is_object()) << st;
    return st;
  };
  auto counts = [&] {
    json d = pap("GET", "/policies/deployed/default-whitelist").json_body();
    EXPECT_EQ(d.size(), 1u) << d;
    return d.empty() ? json(nullptr) : d[0];
  };
  EXPECT_EQ(state()["state"], "WAITING");
  EXPECT_EQ(state()["pdpId"], "c1");
  EXPECT_EQ(counts()["incomplete-count"], 1);

  heartbeat("c1", "canary",
            {{"policies", {{{"name", "default-whitelist"}, {"version", "1.0.0"}}}}});
  EXPECT_EQ(state()["state"], "SUCCESS");
  EXPECT_EQ(counts()["success-count"], 1);

  heartbeat("c1", "canary",
            {{"failedPolicies",
              {{{"name", "default-whitelist"},
                {"version", "1.0.0"},
                {"reason", "MAP_FULL: policy map holds 4 entries"}}}}});
  EXPECT_EQ(state()["state"], "FAILURE");
  EXPECT_EQ(state()["message"], "MAP_FULL: policy map holds 4 entries");
  EXPECT_EQ(counts()["failure-count"], 1);
  // ONAP's response alone: what the cell does not hold has failed, with its message.
  heartbeat("c1", "canary",
            {{"response",
              {{"responseTo", "r1"},
               {"responseStatus", "FAIL"},
               {"responseMessage", "VERIFIER: refused"}}}});
  EXPECT_EQ(state()["state"], "FAILURE");
  EXPECT_EQ(state()["message"], "VERIFIER: refused");
  auto stats = pap("GET", "/statistics").json_body();
  EXPECT_EQ(stats["policyDeployFailureCount"], 1);
  EXPECT_EQ(stats["totalPdpCount"], 1);

  // Bad PDP_STATUS extensions are refused and change nothing.
  for (const json& extra :
       {json{{"failedPolicies", {{{"name", "x"}, {"version", "1"}}}}},
        json{{"failedPolicies", "MAP_FULL"}}, json{{"response", {{"responseStatus", "MAYBE"}}}}}) {
    json status = {{"messageName", "PDP_STATUS"}, {"name", "c1"},      {"pdpType", "tc"},
                   {"pdpGroup", "canary"},        {"state", "ACTIVE"}, {"healthy", "HEALTHY"},
                   {"heartbeatIntervalMs", 60000}};
    status.update(extra);
    EXPECT_EQ(s().post("/internal/v1/cells/c1/status", status.dump()).status, 400) << extra;
  }
  EXPECT_EQ(state()["state"], "FAILURE");

  EXPECT_EQ(pap("GET", "/policies/status/ghost").error_code(), "GROUP_NOT_FOUND");
  EXPECT_EQ(pap("GET", "/policies/status/canary/ghost-policy").error_code(), "POLICY_NOT_FOUND");
  EXPECT_EQ(pap("GET", "/policies/status/canary/default-whitelist/x").error_code(),
            "INVALID_POLICY_VERSION");
  EXPECT_EQ(pap("GET", "/policies/deployed/ghost-policy").error_code(), "POLICY_NOT_FOUND");
  EXPECT_EQ(pap("GET", "/policies/status").json_body().size(), 1u);
  // ONAP's shapes (PolicyStatusControllerV1): a version names one object; a filtered query
  // that matches nothing is 404, the unfiltered /policies/status an empty list.
  json one = pap("GET", "/policies/deployed/default-whitelist/1.0.0").json_body();
  ASSERT_TRUE(one.is_object()) << one;
  EXPECT_EQ(one["policy-id"], "default-whitelist");
  EXPECT_EQ(one["failure-count"], 1);
  EXPECT_TRUE(pap("GET", "/policies/deployed/default-whitelist").json_body().is_array());
  create_group("idle", "ACTIVE");
  auto none = pap("GET", "/policies/status/idle");
  EXPECT_EQ(none.status, 404);
  EXPECT_EQ(none.error_code(), "POLICY_STATUS_NOT_FOUND");
  EXPECT_EQ(pap("GET", "/policies/status/idle/default-whitelist").error_code(),
            "POLICY_STATUS_NOT_FOUND");
  EXPECT_EQ(pap("GET", "/policies/status/canary/default-whitelist/2.0.0").status, 404);
  EXPECT_EQ(pap("GET", "/policies/deployed/default-whitelist/2.0.0").error_code(),
            "POLICY_STATUS_NOT_FOUND");
  ASSERT_EQ(deploy_batch("canary", "DELETE", {{{"name", "default-whitelist"}}}).status, 202);
  EXPECT_EQ(pap("GET", "/policies/status").json_body(), json::array());
}

// ONAP's ?regex= (PolicyStatusControllerV1) on /policies/deployed and
// /policies/status/{group}: the whole policy name must match; RE2, so no pattern costs more
// than time linear in the name.
TEST_F(Pap, RegexFiltersStatusAndDeployedByTheWholePolicyName) {
  app("db");
  const std::string id =
      policy({{{"source", "*"}, {"destination", "db"}, {"protocol", "tcp"}}}, "named");
  create_group("canary", "TEST");
  ASSERT_EQ(
      deploy_batch("canary", "POST", {{{"name", id}}, {{"name", "default-whitelist"}}}).status,
      202);
  heartbeat("c1", "canary");
  auto names = [](const json& list, const std::string& key) {
    std::set<std::string> out;
    for (const json& item : list)
      out.insert(key == "policy-id" ? item[key].get<std::string>()
                                    : item["policy"]["name"].get<std::string>());
    return out;
  };
  using Names = std::set<std::string>;
  EXPECT_EQ(names(pap("GET", "/policies/deployed?regex=default-.*").json_body(), "policy-id"),
            Names{"default-whitelist"});
  EXPECT_EQ(names(pap("GET", "/policies/deployed?regex=%5B0-9a-f-%5D%2B").json_body(), "policy-id"),
            Names{id});
  EXPECT_EQ(
      names(pap("GET", "/policies/status/canary?regex=default-whitelist").json_body(), "policy"),
      Names{"default-whitelist"});
  EXPECT_EQ(names(pap("GET", "/policies/status/canary?regex=.*").json_body(), "policy"),
            (Names{"default-whitelist", id}));
  // A match of part of the name is no match: 404, as ONAP's matches().
  EXPECT_EQ(pap("GET", "/policies/deployed?regex=default").error_code(), "POLICY_STATUS_NOT_FOUND");
  EXPECT_EQ(pap("GET", "/policies/status/canary?regex=white").error_code(),
            "POLICY_STATUS_NOT_FOUND");
  // What backtracking engines take exponential time over answers at once (no match).
  EXPECT_EQ(pap("GET", "/policies/deployed?regex=%28%28a*%29*%29*b").error_code(),
            "POLICY_STATUS_NOT_FOUND");
  struct Bad {
    std::string path, code;
  };
  for (const Bad& bad : std::vector<Bad>{
           {"/policies/deployed?regex=", "INVALID_REGEX"},
           {"/policies/deployed?regex=%20%20", "INVALID_REGEX"},
           {"/policies/status/canary?regex=%28", "INVALID_REGEX"},
           {"/policies/deployed?regex=" + std::string(1025, 'a'), "INVALID_REGEX"},
           {"/policies/status?regex=x", "INVALID_QUERY"},
           {"/policies/status/canary/default-whitelist?regex=x", "INVALID_QUERY"},
           {"/policies/deployed/default-whitelist?regex=x", "INVALID_QUERY"},
       }) {
    auto r = pap("GET", bad.path);
    EXPECT_EQ(r.status, 400) << bad.path;
    EXPECT_EQ(r.error_code(), bad.code) << bad.path;
  }
}

TEST_F(Pap, CellThatStopsHeartbeatingIsReportedUnhealthy) {
  heartbeat("c1", "defaultGroup", json::object(), 100);
  EXPECT_EQ(pap("GET", "/components/healthcheck").json_body()["healthy"], true);
  // No more heartbeats: after 3 missed intervals the server says so (a state, polled).
  json health;
  for (int i = 0; i < 400; ++i) {
    health = pap("GET", "/components/healthcheck").json_body();
    if (health["healthy"] == false) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(health["healthy"], false) << health;
  EXPECT_EQ(health["pdps"]["tc"][0]["expired"], true);
  EXPECT_EQ(health["store"]["healthy"], true);
  json pdps = pap("GET", "/pdps/healthcheck").json_body();
  EXPECT_EQ(pdps["healthy"], false);
  EXPECT_EQ(pdps["pdpList"][0]["healthy"], "NOT_HEALTHY");
  // It comes back.
  heartbeat("c1", "defaultGroup");
  EXPECT_EQ(pap("GET", "/components/healthcheck").json_body()["healthy"], true);
}

TEST_F(Pap, AuditQueries) {
  create_group("canary", "TEST");
  ASSERT_EQ(deploy_batch("canary", "POST", {{{"name", "default-whitelist"}}}).status, 202);
  ASSERT_EQ(pap("PUT", "/pdps/groups/canary?state=ACTIVE", nullptr, kBob).status, 200);
  json all = pap("GET", "/policies/audit").json_body();
  ASSERT_EQ(all.size(), 3u) << all;
  EXPECT_EQ(all[0]["action"], "STATE_CHANGE");
  EXPECT_EQ(all[0]["user"], "bob");
  EXPECT_EQ(all[1]["action"], "DEPLOYMENT");
  EXPECT_EQ(all[1]["pdpGroup"], "canary");
  EXPECT_EQ(all[1]["pdpType"], "tc");
  EXPECT_EQ(all[1]["policy"], (json{{"name", "default-whitelist"}, {"version", "1.0.0"}}));
  EXPECT_EQ(pap("GET", "/policies/audit?recordCount=1").json_body().size(), 1u);
  EXPECT_EQ(pap("GET", "/policies/audit/default-whitelist/1.0.0").json_body().size(), 1u);
  EXPECT_EQ(pap("GET", "/policies/audit/canary/default-whitelist/1").json_body().size(), 1u);
  EXPECT_EQ(pap("GET", "/policies/audit/defaultGroup").json_body().size(), 0u);
  EXPECT_EQ(pap("GET", "/policies/audit?startTime=0&endTime=4102444800").json_body().size(), 3u);
  EXPECT_EQ(pap("GET", "/policies/audit?startTime=4102444800").json_body().size(), 0u);
  EXPECT_EQ(pap("GET", "/policies/audit?endTime=1").json_body().size(), 0u);
  for (const char* q :
       {"?recordCount=0", "?recordCount=101", "?recordCount=ten", "?recordCount="}) {
    auto r = pap("GET", std::string("/policies/audit") + q);
    EXPECT_EQ(r.status, 400) << q;
    EXPECT_EQ(r.error_code(), "INVALID_RECORD_COUNT") << q;
  }
  for (const char* q : {"?startTime=yesterday", "?endTime=-5", "?startTime=1.5"}) {
    auto r = pap("GET", std::string("/policies/audit") + q);
    EXPECT_EQ(r.error_code(), "INVALID_TIME") << q;
  }
  EXPECT_EQ(pap("GET", "/policies/audit?startTime=10&endTime=5").error_code(),
            "INVALID_TIME_RANGE");
  EXPECT_EQ(pap("GET", "/policies/audit/ghost").error_code(), "GROUP_NOT_FOUND");
  EXPECT_EQ(pap("GET", "/policies/audit?user=x").error_code(), "INVALID_QUERY");
}

TEST_F(Pap, GroupsDeploymentsAndAuditSurviveRestart) {
  create_group("canary", "TEST");
  ASSERT_EQ(deploy_batch("canary", "POST", {{{"name", "default-whitelist"}}}).status, 202);
  json before = pap("GET", "/pdps").json_body();
  json audit = pap("GET", "/policies/audit").json_body();
  ASSERT_EQ(s().terminate(), 0);
  start();
  EXPECT_EQ(pap("GET", "/pdps").json_body(), before);
  EXPECT_EQ(pap("GET", "/policies/audit").json_body(), audit);
}

}  // namespace
}  // namespace wiretag::test
