// Who may do what, against the binary over HTTP: cell credentials act only as their cell,
// account tokens name only their accounts' apps (a foreign app looks missing), the token
// lifecycle (list, revoke, expiry, last use, admin rotation), and RFC 9110 auth conformance.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/beast/core/detail/base64.hpp>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "server_process.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

json pdp_status(const std::string& name, const std::string& health = "HEALTHY") {
  return {{"messageName", "PDP_STATUS"},   {"name", name},      {"pdpType", "tc"},
          {"pdpGroup", "defaultGroup"},    {"state", "ACTIVE"}, {"healthy", health},
          {"heartbeatIntervalMs", 3600000}};
}

class Auth : public ServerTest {
 protected:
  json issue(const json& body) {
    auto r = s().post("/v1/tokens", body.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json();
  }
  std::string token(const json& body) { return issue(body).value("token", ""); }
  std::string cell_token(const std::string& cell) {
    return token({{"scopes", {"cell"}}, {"cell", cell}});
  }
  std::string account_token(const std::string& account) {
    return token({{"scopes", {"network.write"}}, {"accounts", {account}}});
  }
  json cells() { return s().get("/internal/v1/cells").json(); }
  json tokens() { return s().get("/v1/tokens").json()["tokens"]; }
  json listed(const std::string& id) {
    for (const json& t : tokens())
      if (t["id"] == id) return t;
    return nullptr;
  }
  void register_app(const std::string& guid, const std::string& account) {
    auto r = s().post("/app", json{{"guid", guid}, {"account", account}}.dump());
    ASSERT_EQ(r.status, 201) << r.body;
  }
};

// ---- item 5: a cell credential acts only as its own cell ----------------------------------

TEST_F(Auth, ACellTokenCannotReportAsAnotherCell) {
  const std::string cell1 = cell_token("cell1");
  ASSERT_EQ(s().post("/internal/v1/cells/cell2/status", pdp_status("cell2").dump()).status, 200);
  const json before = cells();

  // As cell2, in the path and the body: refused, and cell2 stays as it was.
  auto r = s().request("POST", "/internal/v1/cells/cell2/status",
                       pdp_status("cell2", "NOT_HEALTHY").dump(), cell1);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(r.error_code(), "CELL_MISMATCH");
  // Its own path with cell2 in the body: refused too.
  auto body = s().request("POST", "/internal/v1/cells/cell1/status",
                          pdp_status("cell2", "NOT_HEALTHY").dump(), cell1);
  EXPECT_NE(body.status, 200) << body.body;
  // The rules of cell2's deployment are not for cell1 either.
  auto query =
      s().request("POST", "/internal/v1/endpoints/query", R"({"apps":["a"],"cell":"cell2"})", cell1);
  EXPECT_EQ(query.status, 403) << query.body;
  EXPECT_EQ(query.error_code(), "CELL_MISMATCH");
  EXPECT_EQ(cells(), before);

  // As itself it reports; the admin token may still act for any cell.
  EXPECT_EQ(
      s().request("POST", "/internal/v1/cells/cell1/status", pdp_status("cell1").dump(), cell1)
          .status,
      200);
  EXPECT_EQ(
      s().request("POST", "/internal/v1/endpoints/query", R"({"apps":["a"],"cell":"cell1"})", cell1)
          .status,
      200);
  EXPECT_EQ(s().post("/internal/v1/cells/cell2/status", pdp_status("cell2").dump()).status, 200);
}

TEST_F(Auth, ACellTokenIsIssuedForOneNamedCell) {
  auto missing = s().post("/v1/tokens", R"({"scopes":["cell"]})");
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.error_code(), "MISSING_FIELD");
  json issued = issue({{"scopes", {"cell"}}, {"cell", "edge-7"}});
  EXPECT_EQ(issued["cell"], "edge-7");
  EXPECT_EQ(listed(issued["id"].get<std::string>())["cell"], "edge-7");
}

// ---- item 6: an account token names only its accounts' apps -------------------------------

class Accounts : public Auth {
 protected:
  void SetUp() override {
    Auth::SetUp();
    register_app("red-web", "red");
    register_app("red-db", "red");
    register_app("blue-db", "blue");
    red_ = account_token("red");
    blue_ = account_token("blue");
  }
  // What either account could observe, read as admin.
  json snapshot() {
    json snap = {{"apps", s().get("/apps").json()},
                 {"revision", s().get("/internal/v1/changes").json()["revision"]}};
    for (const char* app : {"red-web", "red-db", "blue-db"})
      snap[app] = s().get(std::string("/app/") + app + "/whitelist?detail=rules").json();
    for (const char* account : {"red", "blue"})
      snap[account] = s().get(std::string("/v1/accounts/") + account + "/policies").json();
    return snap;
  }
  // The same answer for blue's app and for an app that does not exist: 404 APP_NOT_FOUND
  // with the same message once the guid is taken out.
  void expect_foreign_looks_missing(const std::string& method, const std::string& target,
                                    const std::string& body_template) {
    SCOPED_TRACE(method + " " + target + " " + body_template);
    auto with = [&](const std::string& text, const std::string& guid) {
      std::string out = text;
      for (size_t at; (at = out.find("@")) != std::string::npos;) out.replace(at, 1, guid);
      return out;
    };
    const json before = snapshot();
    auto foreign =
        s().request(method, with(target, "blue-db"), with(body_template, "blue-db"), red_);
    auto missing =
        s().request(method, with(target, "no-such-app"), with(body_template, "no-such-app"), red_);
    EXPECT_EQ(foreign.status, 404) << foreign.body;
    EXPECT_EQ(missing.status, 404) << missing.body;
    EXPECT_EQ(foreign.error_code(), "APP_NOT_FOUND") << foreign.body;
    EXPECT_EQ(missing.error_code(), foreign.error_code());
    auto message = [](const HttpResult& r, const std::string& guid) {
      std::string m = r.json()[0].value("message", "");
      if (auto at = m.find(guid); at != std::string::npos) m.replace(at, guid.size(), "<app>");
      return m;
    };
    EXPECT_EQ(message(foreign, "blue-db"), message(missing, "no-such-app"));
    EXPECT_EQ(snapshot(), before);
  }

  std::string red_, blue_;
};

TEST_F(Accounts, AForeignAppAsAnEdgeSourceLooksMissing) {
  expect_foreign_looks_missing("POST", "/whitelist", R"({"source":"@","destination":"red-db"})");
  expect_foreign_looks_missing("DELETE", "/whitelist", R"({"source":"@","destination":"red-db"})");
  expect_foreign_looks_missing("POST", "/whitelist", R"({"source":"red-web","destination":"@"})");
  // So blue's tag never shows in red's rules.
  auto rules = s().request("GET", "/app/red-db/whitelist?detail=rules", "", red_).json();
  EXPECT_EQ(rules["rules"], json::array()) << rules;
  // Its own apps it may name; admin may cross accounts.
  EXPECT_EQ(
      s().request("POST", "/whitelist", R"({"source":"red-web","destination":"red-db"})", red_)
          .status,
      201);
  EXPECT_EQ(s().post("/whitelist", R"({"source":"blue-db","destination":"red-db"})").status, 201);
}

// An edge an admin made from blue's app into red's: red's token sees neither the edge nor
// blue's tag (it cannot learn that blue's app exists), on any route that lists edges; the
// admin and an agent's cell token see everything the cell needs.
TEST_F(Accounts, AForeignSourceOfAnAdminsEdgeIsNotShown) {
  ASSERT_EQ(s().post("/whitelist", R"({"source":"red-web","destination":"red-db"})").status, 201);
  ASSERT_EQ(s().post("/whitelist", R"({"source":"blue-db","destination":"red-db"})").status, 201);
  const std::string blue_tag = s().get("/app/blue-db").json()["wire_bytes"];
  const std::string red_tag = s().get("/app/red-web").json()["wire_bytes"];
  auto rules = s().request("GET", "/app/red-db/whitelist?detail=rules", "", red_).json();
  EXPECT_EQ(rules["allowed_wire_bytes"], json::array({red_tag})) << rules;
  ASSERT_EQ(rules["rules"].size(), 1u) << rules;
  EXPECT_EQ(rules["rules"][0]["source"], "red-web");
  auto tags = s().request("GET", "/app/red-db/whitelist", "", red_).json();
  EXPECT_EQ(tags["allowed_wire_bytes"], json::array({red_tag})) << tags;
  auto edges = s().request("GET", "/v1/edges?destination=red-db", "", red_).json();
  ASSERT_EQ(edges["edges"].size(), 1u) << edges;
  EXPECT_EQ(edges["edges"][0]["source"], "red-web");
  // The admin sees both; so does a cell token, which reads whitelists as seed 000's agent.
  EXPECT_EQ(s().get("/app/red-db/whitelist").json()["allowed_wire_bytes"].size(), 2u);
  const std::string cell = issue({{"scopes", {"cell"}}, {"cell", "c1"}})["token"];
  auto by_cell = s().request("GET", "/app/red-db/whitelist", "", cell);
  ASSERT_EQ(by_cell.status, 200) << by_cell.body;
  EXPECT_EQ(by_cell.json()["allowed_wire_bytes"].size(), 2u) << by_cell.body;
  EXPECT_NE(by_cell.body.find(blue_tag), std::string::npos);
  // A cell token still reads nothing else of the external API.
  EXPECT_EQ(s().request("GET", "/app/red-db", "", cell).status, 403);
  EXPECT_EQ(s().request("GET", "/apps", "", cell).status, 403);
}

TEST_F(Accounts, AForeignAppReadLooksMissing) {
  expect_foreign_looks_missing("GET", "/app/@", "");
  expect_foreign_looks_missing("GET", "/app/@/whitelist", "");
  expect_foreign_looks_missing("GET", "/app/@/whitelist?detail=rules", "");
  expect_foreign_looks_missing("DELETE", "/app/@", "");
}

TEST_F(Accounts, AForeignAppInAPolicyRuleLooksMissing) {
  const std::string policies = "/v1/accounts/red/policies";
  expect_foreign_looks_missing("POST", policies,
                               R"({"name":"p","rules":[{"source":"@","destination":"red-db"}]})");
  expect_foreign_looks_missing("POST", policies,
                               R"({"name":"p","rules":[{"source":"red-web","destination":"@"}]})");
  auto created = s().request(
      "POST", policies,
      R"({"name":"p","refid":"p","rules":[{"source":"*","destination":"red-db"}]})", red_);
  ASSERT_EQ(created.status, 201) << created.body;
  expect_foreign_looks_missing("PUT", policies + "/p",
                               R"({"name":"p","rules":[{"source":"@","destination":"red-db"}]})");
  expect_foreign_looks_missing("PATCH", policies + "/p",
                               R"({"rules":[{"source":"@","destination":"red-db"}]})");
  expect_foreign_looks_missing("POST", "/v1/accounts/red/policy_keys",
                               R"({"name":"k","rules":[{"source":"@","destination":"red-db"}]})");
  // A key the admin sealed for red, naming blue's app: red cannot turn it into a policy.
  for (const std::string guid : {"blue-db", "no-such-app"}) {
    auto sealed = s().post(
        "/v1/accounts/red/policy_keys",
        json{{"name", "k"}, {"rules", {{{"source", guid}, {"destination", "red-db"}}}}}.dump());
    ASSERT_EQ(sealed.status, 200) << sealed.body;
    auto r = s().request("POST", policies, json{{"policy_key", sealed.json()["key-string"]}}.dump(),
                         red_);
    EXPECT_EQ(r.status, 404) << guid << " " << r.body;
    EXPECT_EQ(r.error_code(), "APP_NOT_FOUND");
  }
  // Admin may name any app, in any account's policy.
  EXPECT_EQ(
      s().post(policies, R"({"name":"x","rules":[{"source":"blue-db","destination":"red-db"}]})")
          .status,
      201);
  // Bad input is still a 400 before any app is looked up.
  auto bad = s().request("POST", policies,
                         R"({"name":"p","rules":[{"source":"a b","destination":"red-db"}]})", red_);
  EXPECT_EQ(bad.status, 400) << bad.body;
}

// ---- item 14: the token lifecycle --------------------------------------------------------

TEST_F(Auth, TokensAreListedWithoutTheirSecret) {
  json issued = issue({{"scopes", {"network.write"}},
                       {"accounts", {"red"}},
                       {"description", "ci deploys"},
                       {"expires_in", 3600}});
  const std::string secret = issued["token"];
  ASSERT_FALSE(secret.empty());
  auto all = s().get("/v1/tokens");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(all.body.find(secret), std::string::npos);
  json t = listed(issued["id"].get<std::string>());
  ASSERT_TRUE(t.is_object()) << all.body;
  for (const char* key :
       {"id", "scopes", "accounts", "cell", "description", "created", "expires", "last_used"})
    EXPECT_TRUE(t.contains(key)) << key;
  EXPECT_EQ(t.size(), 8u) << t;
  EXPECT_EQ(t["scopes"], json({"network.write"}));
  EXPECT_EQ(t["accounts"], json({"red"}));
  EXPECT_EQ(t["description"], "ci deploys");
  EXPECT_TRUE(t["expires"].is_string());
  EXPECT_TRUE(t["cell"].is_null());
  // The bootstrap admin token is there too, never expiring.
  EXPECT_EQ(tokens().size(), 2u);
  EXPECT_TRUE(tokens()[0]["expires"].is_null());
}

TEST_F(Auth, ARevokedTokenStopsAtOnce) {
  register_app("red-web", "red");
  const json issued = issue({{"scopes", {"network.write"}}, {"accounts", {"red"}}});
  const std::string secret = issued["token"];
  EXPECT_EQ(s().request("GET", "/app/red-web", "", secret).status, 200);  // known, cached
  auto revoked = s().request("DELETE", "/v1/tokens/" + issued["id"].get<std::string>());
  EXPECT_EQ(revoked.status, 200) << revoked.body;
  auto after = s().request("GET", "/app/red-web", "", secret);
  EXPECT_EQ(after.status, 401) << after.body;
  EXPECT_EQ(after.error_code(), "UNAUTHORIZED");
  EXPECT_TRUE(listed(issued["id"].get<std::string>()).is_null());
  auto again = s().request("DELETE", "/v1/tokens/" + issued["id"].get<std::string>());
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(again.error_code(), "TOKEN_NOT_FOUND");
  // A cell token too, on the internal API.
  const json cell = issue({{"scopes", {"cell"}}, {"cell", "c1"}});
  EXPECT_EQ(s().request("GET", "/internal/v1/status", "", cell["token"].get<std::string>()).status,
            200);
  s().request("DELETE", "/v1/tokens/" + cell["id"].get<std::string>());
  EXPECT_EQ(s().request("GET", "/internal/v1/status", "", cell["token"].get<std::string>()).status,
            401);
}

TEST_F(Auth, AnExpiredTokenIsUnauthorized) {
  const std::string secret = token({{"scopes", {"network.admin"}}, {"expires_in", 1}});
  // Expiry is a state reached, not a time asserted: poll until it comes (at most 30 s).
  HttpResult r;
  for (int i = 0; i < 300; ++i) {
    r = s().request("GET", "/apps", "", secret);
    if (r.status != 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(r.error_code(), "UNAUTHORIZED");
  EXPECT_NE(r.body.find("expired"), std::string::npos) << r.body;
  // A token with a long life still works.
  EXPECT_EQ(
      s().request("GET", "/apps", "", token({{"scopes", {"network.admin"}}, {"expires_in", 86400}}))
          .status,
      200);
}

TEST_F(Auth, ATokensLastUseIsRecorded) {
  const json issued = issue({{"scopes", {"network.write"}}, {"accounts", {"red"}}});
  EXPECT_TRUE(listed(issued["id"].get<std::string>())["last_used"].is_null());
  EXPECT_EQ(s().request("GET", "/apps", "", issued["token"].get<std::string>()).status, 200);
  json used = listed(issued["id"].get<std::string>())["last_used"];
  EXPECT_TRUE(used.is_string()) << used;
}

TEST_F(Auth, TheAdminTokenRotates) {
  const std::string old = s().admin_token();
  const std::string old_id = tokens()[0]["id"];
  auto rotated = s().post("/v1/tokens/rotate-admin", "");
  ASSERT_EQ(rotated.status, 201) << rotated.body;
  const std::string fresh = rotated.json()["token"];
  EXPECT_EQ(rotated.json()["revoked"], old_id);
  std::string in_file;
  std::getline(std::ifstream(dir_.path() / "data" / "admin-token"), in_file);
  EXPECT_EQ(in_file, fresh);
  struct stat st {};
  ASSERT_EQ(::stat((dir_.path() / "data" / "admin-token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(s().request("GET", "/apps", "", old).status, 401);
  EXPECT_EQ(s().request("GET", "/apps", "", fresh).status, 200);
  auto all = s().request("GET", "/v1/tokens", "", fresh).json()["tokens"];
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]["scopes"], json({"network.admin"}));
  // The last admin token cannot be revoked: nobody could manage the server any more.
  auto last = s().request("DELETE", "/v1/tokens/" + all[0]["id"].get<std::string>(), "", fresh);
  EXPECT_EQ(last.status, 409) << last.body;
  EXPECT_EQ(last.error_code(), "LAST_ADMIN_TOKEN");
  EXPECT_EQ(s().request("GET", "/apps", "", fresh).status, 200);
}

// ---- item 10 (part): auth schemes are case-insensitive, every 401 challenges --------------

TEST_F(Auth, AuthSchemesAreCaseInsensitive) {
  for (const std::string scheme : {"Bearer", "bearer", "BEARER", "bEaReR"}) {
    SCOPED_TRACE(scheme);
    EXPECT_EQ(
        http_request_authorized(s().port(), "GET", "/apps", "", scheme + " " + s().admin_token())
            .status,
        200);
    EXPECT_EQ(http_request_authorized(s().port(), "GET", "/internal/v1/status", "",
                                      scheme + " " + s().admin_token())
                  .status,
              200);
  }
  std::string user_password;
  std::getline(std::ifstream(dir_.path() / "data" / "pap-credentials"), user_password);
  std::string encoded(boost::beast::detail::base64::encoded_size(user_password.size()), '\0');
  encoded.resize(boost::beast::detail::base64::encode(encoded.data(), user_password.data(),
                                                      user_password.size()));
  for (const std::string scheme : {"Basic", "basic", "BASIC"})
    EXPECT_EQ(http_request_authorized(s().port(), "GET", "/policy/pap/v1/pdps", "",
                                      scheme + " " + encoded)
                  .status,
              200)
        << scheme;
  // A scheme is a whole word: "Bearerx" is not "Bearer".
  EXPECT_EQ(
      http_request_authorized(s().port(), "GET", "/apps", "", "Bearerx" + s().admin_token()).status,
      401);
}

TEST_F(Auth, EveryUnauthorizedAnswerCarriesAChallenge) {
  const std::string bearer = "Bearer realm=\"wiretag\"";
  for (const std::string target : {"/apps", "/v1/tokens", "/v1/accounts/default/policies",
                                   "/internal/v1/status", "/internal/v1/watch?since=0"}) {
    SCOPED_TRACE(target);
    for (const std::string authorization : {"", "Bearer wt_wrong", "Basic YWRtaW46eA=="}) {
      auto r = http_request_authorized(s().port(), "GET", target, "", authorization);
      EXPECT_EQ(r.status, 401) << authorization;
      EXPECT_EQ(r.headers["www-authenticate"], bearer) << authorization;
    }
  }
  auto pap = http_request_authorized(s().port(), "GET", "/policy/pap/v1/pdps", "", "");
  EXPECT_EQ(pap.status, 401);
  EXPECT_EQ(pap.headers["www-authenticate"], "Basic realm=\"wiretag PAP\"");
  // Not on other errors.
  auto forbidden = s().request("GET", "/apps", "", cell_token("c1"));
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_EQ(forbidden.headers.count("www-authenticate"), 0u);
}

}  // namespace
}  // namespace wiretag::test
