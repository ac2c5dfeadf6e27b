// The read-only routes the CLI lists with: GET /v1/edges (edges into an app, out of an app, of
// an account, with both ends' wire bytes) and GET …/policies/:id/versions[/:n] (every
// immutable version of an account policy), over real HTTP against the binary.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server_process.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

class EdgesApi : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    for (auto [guid, account] : {std::pair{"web", "a"}, {"db", "a"}, {"cache", "a"}, {"api", "b"}})
      ASSERT_EQ(s().post("/app", json{{"guid", guid}, {"account", account}}.dump()).status, 201);
    allow(
        R"({"source":"web","destination":"db","protocol":"tcp","ports":{"start":5432,"end":5432}})");
    allow(R"({"source":"web","destination":"cache"})");
    allow(R"({"source":"cache","destination":"db","protocol":"icmp"})");
    allow(R"({"source":"web","destination":"api","protocol":"udp"})");  // cross-account (admin)
  }
  void allow(const std::string& body) {
    auto r = s().post("/whitelist", body);
    ASSERT_EQ(r.status, 201) << body << " " << r.body;
  }
  json edges(const std::string& query, const std::optional<std::string>& token = {}) {
    auto r = s().request("GET", "/v1/edges" + query, "", token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json();
  }
  static std::vector<std::string> pairs(const json& out) {
    std::vector<std::string> v;
    for (const json& e : out["edges"])
      v.push_back(e["source"].get<std::string>() + ">" + e["destination"].get<std::string>());
    return v;
  }
  std::string token_for(const std::string& account) {
    auto r =
        s().post("/v1/tokens", json{{"scopes", {"network.write"}}, {"accounts", {account}}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json()["token"];
  }
};

TEST_F(EdgesApi, IntoAnAppWithWireBytesProtocolAndPorts) {
  json out = edges("?destination=db");
  EXPECT_EQ(pairs(out), (std::vector<std::string>{"web>db", "cache>db"}));
  const json& e = out["edges"][0];
  EXPECT_EQ(e["source_wire_bytes"], "0001");
  EXPECT_EQ(e["destination_wire_bytes"], "0002");
  EXPECT_EQ(e["account"], "a");
  EXPECT_EQ(e["protocol"], "tcp");
  EXPECT_EQ(e["ports"], (json{{"start", 5432}, {"end", 5432}}));
  EXPECT_EQ(e["policy"], "default-whitelist");
  EXPECT_EQ(out["edges"][1]["source_wire_bytes"], "0003");
  EXPECT_EQ(out["edges"][1]["protocol"], "icmp");
  EXPECT_FALSE(out["edges"][1].contains("ports"));
  EXPECT_EQ(out["truncated"], false);
  EXPECT_TRUE(out["revision"].is_number_integer());
}

TEST_F(EdgesApi, OutOfAnAppOfAnAccountAndAll) {
  EXPECT_EQ(pairs(edges("?source=web")),
            (std::vector<std::string>{"web>db", "web>cache", "web>api"}));
  EXPECT_EQ(pairs(edges("?source=cache")), (std::vector<std::string>{"cache>db"}));
  auto acct = pairs(edges("?account=a"));
  std::sort(acct.begin(), acct.end());
  EXPECT_EQ(acct, (std::vector<std::string>{"cache>db", "web>cache", "web>db"}));
  EXPECT_EQ(pairs(edges("?account=b")), (std::vector<std::string>{"web>api"}));
  EXPECT_EQ(edges("")["edges"].size(), 4u);
  EXPECT_EQ(pairs(edges("?source=web&destination=cache")), (std::vector<std::string>{"web>cache"}));
  EXPECT_EQ(pairs(edges("?source=web&account=b")), (std::vector<std::string>{"web>api"}));
}

TEST_F(EdgesApi, LimitTruncates) {
  json out = edges("?limit=2");
  EXPECT_EQ(out["edges"].size(), 2u);
  EXPECT_EQ(out["truncated"], true);
  EXPECT_EQ(edges("?limit=4")["truncated"], false);
}

TEST_F(EdgesApi, AnAccountTokenSeesOnlyItsAccountsEdges) {
  const std::string b = token_for("b");
  // web>api is b's edge (into its api), but its source is a's app, which b may not learn of:
  // an account token sees the edges whose both ends it may see (SPEC §4 Auth).
  EXPECT_EQ(pairs(edges("", b)), (std::vector<std::string>{}));
  EXPECT_EQ(pairs(edges("?destination=api", b)), (std::vector<std::string>{}));
  EXPECT_EQ(pairs(edges("?account=b")), (std::vector<std::string>{"web>api"}));  // admin
  // Another account's app answers as a missing one; another account is not there.
  auto r = s().request("GET", "/v1/edges?source=web", "", b);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.error_code(), "APP_NOT_FOUND");
  r = s().request("GET", "/v1/edges?destination=db", "", b);
  EXPECT_EQ(r.error_code(), "APP_NOT_FOUND");
  r = s().request("GET", "/v1/edges?account=a", "", b);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.error_code(), "ACCOUNT_NOT_FOUND");
  const std::string a = token_for("a");
  EXPECT_EQ(pairs(edges("?source=web", a)), (std::vector<std::string>{"web>db", "web>cache"}));
}

TEST_F(EdgesApi, BadQueriesAndCredentials) {
  for (const auto& [query, code] :
       std::vector<std::pair<std::string, std::string>>{{"?color=red", "INVALID_QUERY"},
                                                        {"?limit=0", "INVALID_QUERY"},
                                                        {"?limit=100001", "INVALID_QUERY"},
                                                        {"?limit=x", "INVALID_QUERY"},
                                                        {"?account=bad/acct", "INVALID_ACCOUNT"},
                                                        {"?source=bad%20guid", "INVALID_GUID"},
                                                        {"?source=*", "INVALID_GUID"},
                                                        {"?destination=nope", "APP_NOT_FOUND"}}) {
    auto r = s().get("/v1/edges" + query);
    EXPECT_EQ(r.error_code(), code) << query << " " << r.body;
    EXPECT_EQ(r.status, code == "APP_NOT_FOUND" ? 404 : 400) << query;
  }
  auto r = s().request("GET", "/v1/edges", "", std::string(""));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(s().request("GET", "/v1/edges", "", std::string("nope")).status, 401);
  // a cell token is not an operator
  auto cell = s().post("/v1/tokens", R"({"scopes":["cell"],"cell":"c1"})").json()["token"];
  EXPECT_EQ(s().request("GET", "/v1/edges", "", cell.get<std::string>()).status, 403);
  EXPECT_EQ(s().request("POST", "/v1/edges", "{}").status, 405);
}

class PolicyVersionsApi : public ServerTest {
 protected:
  const std::string base_ = "/v1/accounts/acme/policies";
};

TEST_F(PolicyVersionsApi, EveryVersionStaysReadable) {
  auto c =
      s().post(base_, R"({"name":"web","refid":"r1","rules":[{"source":"a","destination":"b"}]})");
  ASSERT_EQ(c.status, 201) << c.body;
  const std::string id = c.json()["result"]["id"];
  ASSERT_EQ(s().request("PATCH", base_ + "/" + id, R"({"name":"web-2","refid":null})").status, 200);
  ASSERT_EQ(
      s().request(
             "PUT", base_ + "/" + id,
             R"({"name":"web-3","refid":"r3","rules":[{"source":"*","destination":"b","protocol":"tcp"}]})")
          .status,
      200);
  auto r = s().get(base_ + "/" + id + "/versions");
  ASSERT_EQ(r.status, 200) << r.body;
  json v = r.json();
  ASSERT_EQ(v.size(), 3u) << r.body;
  EXPECT_EQ(v[0]["version"], 1);
  EXPECT_EQ(v[0]["name"], "web");
  EXPECT_EQ(v[0]["refid"], "r1");
  EXPECT_EQ(v[0]["account_id"], "acme");
  EXPECT_EQ(v[0]["rules"][0]["source"], "a");
  EXPECT_EQ(v[1]["name"], "web-2");
  EXPECT_TRUE(v[1]["refid"].is_null());
  EXPECT_EQ(v[2], s().get(base_ + "/" + id).json()) << "the last version is the policy";
  EXPECT_EQ(s().get(base_ + "/r3/versions").json(), v) << "by refid";

  EXPECT_EQ(s().get(base_ + "/" + id + "/versions/1").json(), v[0]);
  EXPECT_EQ(s().get(base_ + "/" + id + "/versions/2.0.0").json(), v[1]) << "the PAP's name";
  EXPECT_EQ(s().get(base_ + "/r3/versions/3").json(), v[2]);

  // Deleted: the versions remain readable by id (the PAP may have deployed them).
  ASSERT_EQ(s().request("DELETE", base_ + "/" + id).status, 200);
  EXPECT_EQ(s().get(base_ + "/" + id).status, 404);
  EXPECT_EQ(s().get(base_ + "/" + id + "/versions").json(), v);
  EXPECT_EQ(s().get(base_ + "/" + id + "/versions/2").json(), v[1]);
  EXPECT_EQ(s().get(base_ + "/r3/versions").error_code(), "POLICY_NOT_FOUND");
}

TEST_F(PolicyVersionsApi, ErrorsAndOtherAccounts) {
  auto c = s().post(base_, R"({"name":"web","rules":[]})");
  const std::string id = c.json()["result"]["id"];
  for (const auto& [path, status, code] : std::vector<std::tuple<std::string, int, std::string>>{
           {base_ + "/" + id + "/versions/2", 404, "POLICY_VERSION_NOT_FOUND"},
           {base_ + "/" + id + "/versions/0", 400, "INVALID_VERSION"},
           {base_ + "/" + id + "/versions/-1", 400, "INVALID_VERSION"},
           {base_ + "/" + id + "/versions/1.1.0", 400, "INVALID_VERSION"},
           {base_ + "/" + id + "/versions/x", 400, "INVALID_VERSION"},
           {base_ + "/nope/versions", 404, "POLICY_NOT_FOUND"},
           {base_ + "/nope/versions/1", 404, "POLICY_NOT_FOUND"},
           {"/v1/accounts/other/policies/" + id + "/versions", 404, "POLICY_NOT_FOUND"},
           {"/v1/accounts/other/policies/" + id + "/versions/1", 404, "POLICY_NOT_FOUND"}}) {
    auto r = s().get(path);
    EXPECT_EQ(r.status, status) << path << " " << r.body;
    EXPECT_EQ(r.error_code(), code) << path;
  }
  // A token of another account does not see the account at all.
  auto tok = s().post("/v1/tokens", R"({"scopes":["network.write"],"accounts":["other"]})");
  auto r = s().request("GET", base_ + "/" + id + "/versions", "",
                       tok.json()["token"].get<std::string>());
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.error_code(), "ACCOUNT_NOT_FOUND");
}

}  // namespace
}  // namespace wiretag::test
