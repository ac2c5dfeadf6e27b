// Issue 14 item 1: JSON nested ~66,000 levels deep (a 400 KB body, under the body limit) made
// nlohmann::json recurse on an HTTP thread until the stack overflowed and the server died.
// Every JSON-body endpoint of the real server gets 100,000 levels of '[' and of {"a": as the
// whole body and inside the field it would copy: 400 JSON_TOO_DEEP, and the server answers on.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server_process.h"

namespace wiretag::test {
namespace {

constexpr size_t kLevels = 100000;

std::string deep_arrays() { return std::string(kLevels, '[') + std::string(kLevels, ']'); }

std::string deep_objects() {
  std::string out;
  out.reserve(kLevels * 6 + 1);
  for (size_t i = 0; i < kLevels; ++i) out += R"({"a":)";
  out += '1';
  out += std::string(kLevels, '}');
  return out;
}

// `shape` with its "@" replaced by `deep`.
std::string inside(const std::string& shape, const std::string& deep) {
  std::string out = shape;
  out.replace(out.find('@'), 1, deep);
  return out;
}

struct JsonEndpoint {
  std::string method;
  std::string target;
  bool pap = false;  // basic auth on /policy/pap/v1 + target, else the admin bearer token
  std::vector<std::string> shapes;  // bodies of the endpoint's own shape, "@" the deep value
};

std::vector<JsonEndpoint> server_endpoints() {
  const std::string status =
      R"({"messageName":"PDP_STATUS","name":"cell-1","pdpType":"wiretag","state":"ACTIVE",)"
      R"("healthy":"HEALTHY","heartbeatIntervalMs":1000,"statistics":@})";
  const std::string rules = R"({"name":"n","rules":[{"source":"a","destination":"b","ports":@}]})";
  return {
      {"POST", "/app", false, {R"({"guid":@})"}},
      {"POST", "/whitelist", false, {R"({"source":"a","destination":@})"}},
      {"DELETE", "/whitelist", false, {R"({"source":@,"destination":"b"})"}},
      {"POST", "/v1/tokens", false, {R"({"scopes":@})", R"({"scopes":[],"accounts":[@]})"}},
      {"POST", "/v1/accounts/acme/policies", false, {rules, R"({"policy_key":@})"}},
      {"PUT", "/v1/accounts/acme/policies/p1", false, {rules}},
      {"PATCH", "/v1/accounts/acme/policies/p1", false, {R"({"rules":@})"}},
      {"POST", "/v1/accounts/acme/policy_keys", false, {rules}},
      {"POST",
       "/pdps/groups/batch",
       true,
       {R"({"groups":[{"name":"g","pdpSubgroups":[],"properties":@}]})",
        R"({"groups":[{"name":"g","pdpSubgroups":[{"pdpType":"wiretag","properties":@}]}]})"}},
      {"POST",
       "/pdps/deployments/batch",
       true,
       {R"({"groups":[{"name":"g","deploymentSubgroups":[{"pdpType":"wiretag","action":"POST","policies":@}]}]})"}},
      {"POST", "/pdps/policies", true, {R"({"policies":[{"policy-id":"x","policy-version":@}]})"}},
      {"POST", "/internal/v1/endpoints/query", false, {R"({"apps":@})"}},
      {"POST", "/internal/v1/cells/cell-1/status", false, {status}},
  };
}

class DeepJson : public ServerTest {};

TEST_F(DeepJson, EveryJsonEndpointOfTheServerRefusesDeepJsonAndTheServerLivesOn) {
  const std::vector<std::string> deep = {deep_arrays(), deep_objects()};
  for (const JsonEndpoint& e : server_endpoints()) {
    std::vector<std::string> bodies = deep;
    for (const std::string& shape : e.shapes) {
      bodies.push_back(inside(shape, deep_objects()));
      bodies.push_back(inside(shape, deep_arrays()));
    }
    for (size_t i = 0; i < bodies.size(); ++i) {
      SCOPED_TRACE(e.method + " " + e.target + " body #" + std::to_string(i));
      ASSERT_LT(bodies[i].size(), size_t{1} << 20) << "under the body limit";
      auto r = e.pap ? s().pap(e.method, e.target, bodies[i])
                     : s().request(e.method, e.target, bodies[i]);
      EXPECT_EQ(r.status, 400) << r.body.substr(0, 200);
      EXPECT_EQ(r.error_code(), "JSON_TOO_DEEP") << r.body.substr(0, 200);
      ASSERT_EQ(s().get("/healthz").status, 200) << "the server is gone; see " << s().output_file();
    }
  }
  // Nothing was created by any of them, and the server still does its work.
  EXPECT_EQ(s().get("/internal/v1/changes").json()["revision"], 0);
  EXPECT_EQ(s().post("/app", R"({"guid":"after"})").status, 201);
  EXPECT_EQ(s().pap("GET", "/pdps").status, 200);
}

TEST_F(DeepJson, NestingWithinTheLimitIsAcceptedInPapProperties) {
  // 60 levels under "properties" (64 in all with the envelope): kept and answered back.
  std::string props = "1";
  for (int i = 0; i < 60; ++i) props = R"({"a":)" + props + "}";
  auto r =
      s().pap("POST", "/pdps/groups/batch",
              R"({"groups":[{"name":"g","pdpSubgroups":[{"pdpType":"wiretag"}],"properties":)" +
                  props + "}]}");
  ASSERT_EQ(r.status, 200) << r.body;
  bool found = false;
  const nlohmann::json pdps = s().pap("GET", "/pdps").json();
  for (const auto& g : pdps["groups"]) {
    if (g["name"] != "g") continue;
    found = true;
    EXPECT_EQ(g["properties"], nlohmann::json::parse(props));
  }
  EXPECT_TRUE(found);
}

TEST_F(DeepJson, LongStringsAreFieldTooLongNamingTheField) {
  const std::string long_guid(64 * 1024 + 1, 'g');
  auto r = s().post("/app", R"({"guid":")" + long_guid + R"("})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.error_code(), "FIELD_TOO_LONG");
  EXPECT_NE(r.json()[0]["message"].get<std::string>().find("\"guid\""), std::string::npos)
      << r.body.substr(0, 200);
  r = s().pap(
      "POST", "/pdps/groups/batch",
      R"({"groups":[{"name":"g","pdpSubgroups":[],"properties":{")" + long_guid + R"(":1}}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.error_code(), "FIELD_TOO_LONG") << r.body.substr(0, 200);
  EXPECT_EQ(s().get("/internal/v1/changes").json()["revision"], 0);
}

}  // namespace
}  // namespace wiretag::test
