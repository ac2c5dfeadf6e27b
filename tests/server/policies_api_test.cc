// Seed 003's account policies API over real HTTP.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "server_process.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

class AccountPoliciesApi : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.started()); }

  json create(const std::string& body, const std::string& account = "acme") {
    auto r = server_.post("/v1/accounts/" + account + "/policies", body);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json()["result"];
  }
  json list(const std::string& account = "acme") {
    return server_.get("/v1/accounts/" + account + "/policies").json();
  }
  json revision() { return server_.get("/internal/v1/changes").json()["revision"]; }

  TempDir dir_;
  ServerProcess server_{dir_.path() / "data"};
  const std::string base_ = "/v1/accounts/acme/policies";
};

TEST_F(AccountPoliciesApi, CreateReturns201WithResultAndAUuid) {
  json p = create(R"({"name":"web","refid":"ext-1","rules":[
      {"source":"a","destination":"b","protocol":"tcp","ports":{"start":8080,"end":8080}},
      {"source":"*","destination":"b","protocol":"icmp"}]})");
  EXPECT_EQ(p["name"], "web");
  EXPECT_EQ(p["refid"], "ext-1");
  EXPECT_EQ(p["version"], 1);
  EXPECT_EQ(p["account_id"], "acme");
  std::string id = p["id"];
  EXPECT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '4');
  ASSERT_EQ(p["rules"].size(), 2u);
  EXPECT_EQ(p["rules"][0]["ports"], (json{{"start", 8080}, {"end", 8080}}));
  EXPECT_EQ(server_.get(base_ + "/" + id).json(), p);
  EXPECT_EQ(server_.get(base_ + "/ext-1").json(), p);
  EXPECT_EQ(list(), json::array({p}));
}

TEST_F(AccountPoliciesApi, PutReplacesPatchMergesAndBothMakeANewVersion) {
  json p = create(R"({"name":"web","refid":"r","rules":[{"source":"a","destination":"b"}]})");
  std::string id = p["id"];
  auto patched = server_.request("PATCH", base_ + "/r", R"({"name":"web-2"})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.json()["result"]["name"], "web-2");
  EXPECT_EQ(patched.json()["result"]["rules"], p["rules"]);
  EXPECT_EQ(patched.json()["result"]["version"], 2);
  auto put = server_.request("PUT", base_ + "/" + id, R"({"name":"web-3","rules":[]})");
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.json()["result"]["rules"], json::array());
  EXPECT_EQ(put.json()["result"]["refid"], nullptr);
  EXPECT_EQ(put.json()["result"]["version"], 3);
}

TEST_F(AccountPoliciesApi, DeleteAnswersSuccessThen404) {
  json p = create(R"({"name":"web","rules":[]})");
  std::string id = p["id"];
  auto del = server_.request("DELETE", base_ + "/" + id);
  EXPECT_EQ(del.status, 200);
  EXPECT_EQ(del.json(), (json{{"status", "success"}}));
  EXPECT_EQ(server_.get(base_ + "/" + id).error_code(), "POLICY_NOT_FOUND");
  EXPECT_EQ(server_.request("DELETE", base_ + "/" + id).status, 404);
  EXPECT_EQ(list(), json::array());
}

TEST_F(AccountPoliciesApi, RefidNamingTwoPoliciesIsABadRequestForWrites) {
  create(R"({"name":"one","refid":"dup","rules":[]})");
  create(R"({"name":"two","refid":"dup","rules":[]})");
  json before = list();
  auto rev = revision();
  for (auto [method, body] : {std::pair{"PUT", R"({"name":"x","rules":[]})"},
                              std::pair{"PATCH", R"({"name":"x"})"}, std::pair{"DELETE", ""}}) {
    auto r = server_.request(method, base_ + "/dup", body);
    EXPECT_EQ(r.status, 400) << method;
    EXPECT_EQ(r.error_code(), "AMBIGUOUS_REFID") << method;
  }
  EXPECT_EQ(list(), before);
  EXPECT_EQ(revision(), rev);
}

TEST_F(AccountPoliciesApi, BadInputIsRejectedAndChangesNothing) {
  json p = create(R"({"name":"keep","rules":[]})");
  std::string id = p["id"];
  struct Case {
    std::string name, method, target, body;
    int status;
    std::string code;
  };
  std::vector<Case> cases = {
      {"malformed json", "POST", base_, "{", 400, "INVALID_JSON"},
      {"unknown field", "POST", base_, R"({"name":"n","rules":[],"x":1})", 400, "UNKNOWN_FIELD"},
      {"missing name", "POST", base_, R"({"rules":[]})", 400, "MISSING_FIELD"},
      {"missing rules", "POST", base_, R"({"name":"n"})", 400, "MISSING_FIELD"},
      {"rules not array", "POST", base_, R"({"name":"n","rules":{}})", 400, "INVALID_FIELD_TYPE"},
      {"name not string", "POST", base_, R"({"name":5,"rules":[]})", 400, "INVALID_FIELD_TYPE"},
      {"refid wrong type", "POST", base_, R"({"name":"n","refid":1,"rules":[]})", 400,
       "INVALID_FIELD_TYPE"},
      {"rule unknown field", "POST", base_,
       R"({"name":"n","rules":[{"source":"a","destination":"b","y":1}]})", 400, "UNKNOWN_FIELD"},
      {"rule bad guid", "POST", base_,
       R"({"name":"n","rules":[{"source":"a b","destination":"b"}]})", 400, "INVALID_GUID"},
      {"rule bad protocol", "POST", base_,
       R"({"name":"n","rules":[{"source":"a","destination":"b","protocol":"gre"}]})", 400,
       "INVALID_PROTOCOL"},
      {"rule bad ports", "POST", base_,
       R"({"name":"n","rules":[{"source":"a","destination":"b","protocol":"tcp","ports":{"start":5,"end":1}}]})",
       400, "INVALID_RULE"},
      {"empty name", "POST", base_, R"({"name":"","rules":[]})", 400, "INVALID_NAME"},
      {"reserved name", "POST", base_, R"({"name":"default-whitelist","rules":[]})", 409,
       "POLICY_EXISTS"},
      {"bad account", "POST", "/v1/accounts/a%20b/policies", R"({"name":"n","rules":[]})", 400,
       "INVALID_ACCOUNT"},
      {"oversize", "POST", base_, std::string((1 << 20) + 10, '['), 400, "BODY_TOO_LARGE"},
      {"put unknown", "PUT", base_ + "/nope", R"({"name":"n","rules":[]})", 404,
       "POLICY_NOT_FOUND"},
      {"put missing rules", "PUT", base_ + "/" + id, R"({"name":"n"})", 400, "MISSING_FIELD"},
      {"patch bad rule", "PATCH", base_ + "/" + id, R"({"rules":[1]})", 400, "INVALID_FIELD_TYPE"},
      {"get unknown", "GET", base_ + "/nope", "", 404, "POLICY_NOT_FOUND"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    json before = list();
    auto rev = revision();
    auto r = server_.request(c.method, c.target, c.body);
    EXPECT_EQ(r.status, c.status) << r.body;
    EXPECT_EQ(r.error_code(), c.code) << r.body;
    EXPECT_EQ(list(), before);
    EXPECT_EQ(revision(), rev);
  }
}

TEST_F(AccountPoliciesApi, AnAccountTokenCannotSeeAnotherAccount) {
  json theirs = create(R"({"name":"secret","refid":"s","rules":[]})", "other");
  auto issued = server_.post("/v1/tokens", R"({"scopes":["network.write"],"accounts":["acme"]})");
  ASSERT_EQ(issued.status, 201);
  std::string tok = issued.json()["token"];
  auto mine = server_.request("POST", base_, R"({"name":"mine","rules":[]})", tok);
  EXPECT_EQ(mine.status, 201);
  const std::string other = "/v1/accounts/other/policies";
  EXPECT_EQ(server_.request("GET", other, "", tok).status, 404);
  EXPECT_EQ(server_.request("GET", other + "/s", "", tok).status, 404);
  EXPECT_EQ(server_.request("DELETE", other + "/s", "", tok).status, 404);
  std::string id = theirs["id"];
  // Another account's policy id under my account is simply not found.
  EXPECT_EQ(server_.request("GET", base_ + "/" + id, "", tok).error_code(), "POLICY_NOT_FOUND");
  EXPECT_EQ(list("other").size(), 1u);
}

TEST_F(AccountPoliciesApi, PoliciesSurviveRestart) {
  json p = create(R"({"name":"web","rules":[{"source":"a","destination":"b"}]})");
  EXPECT_EQ(server_.terminate(), 0);
  ServerProcess again(dir_.path() / "data");
  ASSERT_TRUE(again.started());
  EXPECT_EQ(again.get(base_ + "/" + p["id"].get<std::string>()).json(), p);
}

TEST_F(AccountPoliciesApi, PolicyKeyRoundTripsAndCreatesAPolicy) {
  const std::string body =
      R"({"name":"web","refid":"r","rules":[{"source":"a","destination":"b","protocol":"udp","ports":{"start":53,"end":53}}]})";
  auto sealed = server_.post("/v1/accounts/acme/policy_keys", body);
  ASSERT_EQ(sealed.status, 200) << sealed.body;
  std::string key = sealed.json()["key-string"];
  json policy = sealed.json()["policy"];
  EXPECT_EQ(policy["name"], "web");
  EXPECT_EQ(policy["rules"][0]["ports"]["start"], 53);
  EXPECT_EQ(list(), json::array()) << "sealing stores nothing";

  auto opened = server_.get("/v1/accounts/acme/policy_keys/" + key);
  ASSERT_EQ(opened.status, 200) << opened.body;
  EXPECT_EQ(opened.json(), policy);

  auto created = server_.post(base_, json{{"policy_key", key}}.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.json()["result"]["rules"], policy["rules"]);
  EXPECT_EQ(created.json()["result"]["name"], "web");
}

TEST_F(AccountPoliciesApi, TamperedForeignOrGarbageKeysAreInvalid) {
  auto sealed = server_.post("/v1/accounts/acme/policy_keys", R"({"name":"web","rules":[]})");
  ASSERT_EQ(sealed.status, 200);
  std::string key = sealed.json()["key-string"];
  std::string tampered = key;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  auto rev = revision();
  for (const std::string& target :
       {"/v1/accounts/acme/policy_keys/" + tampered, "/v1/accounts/other/policy_keys/" + key,
        std::string("/v1/accounts/acme/policy_keys/garbage"),
        std::string("/v1/accounts/acme/policy_keys/%21%21")}) {
    auto r = server_.get(target);
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(
        r.json(),
        json::parse(
            R"([{"error_code":"INVALID_POLICY_KEY","message":"The policy key string supplied is not valid."}])"))
        << target;
  }
  auto from_foreign = server_.post("/v1/accounts/other/policies", json{{"policy_key", key}}.dump());
  EXPECT_EQ(from_foreign.error_code(), "INVALID_POLICY_KEY");
  EXPECT_EQ(list("other"), json::array());
  EXPECT_EQ(revision(), rev);
}

TEST_F(AccountPoliciesApi, PolicyKeyRejectsAnInvalidPolicy) {
  EXPECT_EQ(server_.post("/v1/accounts/acme/policy_keys", R"({"rules":[]})").error_code(),
            "MISSING_FIELD");
  EXPECT_EQ(server_.post("/v1/accounts/acme/policy_keys", R"({"name":"n","rules":[],"z":1})")
                .error_code(),
            "UNKNOWN_FIELD");
  EXPECT_EQ(server_.post(base_, R"({"policy_key":"x","name":"n"})").error_code(), "UNKNOWN_FIELD");
  EXPECT_EQ(server_.post(base_, R"({"policy_key":5})").error_code(), "INVALID_FIELD_TYPE");
}

TEST_F(AccountPoliciesApi, KeysStayValidAcrossRestart) {
  auto sealed = server_.post("/v1/accounts/acme/policy_keys", R"({"name":"web","rules":[]})");
  std::string key = sealed.json()["key-string"];
  EXPECT_EQ(server_.terminate(), 0);
  ServerProcess again(dir_.path() / "data");
  ASSERT_TRUE(again.started());
  EXPECT_EQ(again.get("/v1/accounts/acme/policy_keys/" + key).status, 200);
}

// Issue 14 item 4: whatever POST …/policy_keys issues opens with GET …/policy_keys/<key>.
std::string random_guid(std::mt19937_64& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string g;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) g += '-';
    g += kHex[rng() % 16];
  }
  return g;
}

json rules_from_random_sources(int n, std::mt19937_64& rng, bool random_destinations) {
  json rules = json::array();
  for (int i = 0; i < n; ++i)
    rules.push_back({{"source", random_guid(rng)},
                     {"destination", random_destinations ? random_guid(rng) : "web"},
                     {"protocol", "tcp"},
                     {"ports", {{"start", 1 + i % 60000}, {"end", 1 + i % 60000}}}});
  return rules;
}

TEST_F(AccountPoliciesApi, AThousandRulePolicyKeyOpensWithGet) {
  std::mt19937_64 rng(4);
  json body = {{"name", "big"}, {"rules", rules_from_random_sources(1000, rng, false)}};
  auto sealed = server_.post("/v1/accounts/acme/policy_keys", body.dump());
  ASSERT_EQ(sealed.status, 200) << sealed.body.substr(0, 300);
  const std::string key = sealed.json()["key-string"];
  auto opened = server_.get("/v1/accounts/acme/policy_keys/" + key);
  ASSERT_EQ(opened.status, 200) << "a key of " << key.size()
                                << " characters: " << opened.body.substr(0, 300);
  EXPECT_EQ(opened.json(), sealed.json()["policy"]);
  EXPECT_EQ(opened.json()["rules"].size(), 1000u);
  auto created = server_.post(base_, json{{"policy_key", key}}.dump());
  ASSERT_EQ(created.status, 201) << created.body.substr(0, 300);
  EXPECT_EQ(created.json()["result"]["rules"].size(), 1000u);
}

TEST_F(AccountPoliciesApi, APolicyTooLargeForAKeyIsRefusedWhenSealed) {
  std::mt19937_64 rng(5);
  json body = {{"name", "huge"}, {"rules", rules_from_random_sources(2500, rng, true)}};
  auto sealed = server_.post("/v1/accounts/acme/policy_keys", body.dump());
  EXPECT_EQ(sealed.status, 400) << sealed.body.substr(0, 300);
  EXPECT_EQ(sealed.error_code(), "POLICY_TOO_LARGE_FOR_KEY");
  EXPECT_NE(sealed.body.find("60000"), std::string::npos) << sealed.body;
}

TEST_F(AccountPoliciesApi, EveryCharacterOfAKeyTamperedIs404) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  auto sealed = server_.post("/v1/accounts/acme/policy_keys",
                             R"({"name":"web","rules":[{"source":"a","destination":"b"}]})");
  ASSERT_EQ(sealed.status, 200);
  const std::string key = sealed.json()["key-string"];
  auto rev = revision();
  for (size_t i = 0; i < key.size(); ++i) {
    const size_t v = kAlphabet.find(key[i]);
    // The neighbour in the last bit and one far away: the last character's unused bits too.
    for (size_t other : {v ^ 1, v ^ 33}) {
      std::string tampered = key;
      tampered[i] = kAlphabet[other];
      auto got = server_.get("/v1/accounts/acme/policy_keys/" + tampered);
      EXPECT_EQ(got.status, 404) << "position " << i << ": " << tampered;
      EXPECT_EQ(got.error_code(), "INVALID_POLICY_KEY");
      EXPECT_EQ(server_.post(base_, json{{"policy_key", tampered}}.dump()).status, 404);
    }
  }
  EXPECT_EQ(list(), json::array());
  EXPECT_EQ(revision(), rev);
}

TEST(PolicyKeyFormats, AKeyIssuedBeforeCompressionStillOpens) {
  // A key and the secret of the data dir that issued it, made by wiretag-server at 5fe2a4e.
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "data");
  std::ofstream(dir.path() / "data" / "policy-key-secret")
      << "b2ccee2442a232fc69053749e5aff5ab85b500e95e799320ecace1134272d4d4\n";
  ServerProcess server(dir.path() / "data");
  ASSERT_TRUE(server.started());
  const std::string key =
      "vSSSlVKJftygBJU2yyhhDLFVcw4bPetXacmtRTW-4yYWNXXSJCwEaARsyoPFqHrjdABB"
      "JSRSoOLmmkBtZ_vUu5Rourn5a_5ibp0DpsFK-w_sb-_zutX5_964FclfUAwMNjiJ3uUG"
      "Bz5LWcFN32K8GI2XLHZkvU2vZO43cGXIF1JJsqkpjW0RKVG1UgNRqmpoBhzkzsKxTTtE";
  auto opened = server.get("/v1/accounts/acme/policy_keys/" + key);
  ASSERT_EQ(opened.status, 200) << opened.body;
  EXPECT_EQ(opened.json(), json::parse(R"({"name":"legacy","refid":"old-1","rules":[
      {"destination":"b","ports":{"end":443,"start":443},"protocol":"tcp","source":"a"}]})"));
  EXPECT_EQ(server.post("/v1/accounts/acme/policies", json{{"policy_key", key}}.dump()).status,
            201);
}

}  // namespace
}  // namespace wiretag::test
