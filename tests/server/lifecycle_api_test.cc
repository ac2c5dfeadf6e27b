// The TOSCA lifecycle API (/policy/api/v1, SPEC §4.5) over real HTTP against the binary:
// policy types and policies in JSON and YAML, good and bad input (state untouched), the two
// views of one store (the account policies API and this one), deployment (PAP) blocking a
// delete, auth, healthcheck and statistics, and api/lifecycle.yaml's examples.
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "common/yaml_json.h"
#include "server_process.h"

namespace wiretag::test {
namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
using nlohmann::json;

constexpr const char* kBase = "/policy/api/v1";
constexpr const char* kWhitelist =
    "/policy/api/v1/policytypes/wiretag.policies.Whitelist/versions/1.0.0";
constexpr const char* kJson = "application/json";
constexpr const char* kYaml = "application/yaml";

std::string read_api_file(const std::string& name) {
  std::ifstream in(std::string(WIRETAG_API_DIR) + "/" + name);
  EXPECT_TRUE(in) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string basic(const std::string& user_password) {
  std::string out(beast::detail::base64::encoded_size(user_password.size()), '\0');
  out.resize(beast::detail::base64::encode(out.data(), user_password.data(), user_password.size()));
  return "Basic " + out;
}

HttpResult send(unsigned short port, const std::string& method, const std::string& target,
                const std::string& body, const std::string& authorization,
                const std::map<std::string, std::string>& headers) {
  HttpResult out;
  try {
    boost::asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    if (!authorization.empty()) req.set(bhttp::field::authorization, authorization);
    for (const auto& [k, v] : headers) req.set(k, v);
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

json whitelist_policy(const std::string& id, const std::string& account, json rules,
                      std::optional<std::string> version = std::nullopt) {
  json def = {{"type", "wiretag.policies.Whitelist"},
              {"type_version", "1.0.0"},
              {"properties", {{"account", account}, {"rules", std::move(rules)}}}};
  if (version) def["version"] = *version;
  return {{"tosca_definitions_version", "tosca_simple_yaml_1_1_0"},
          {"topology_template", {{"policies", {{{id, def}}}}}}};
}

json tcp_rule(const std::string& from, const std::string& to, int port) {
  return {{"source", from},
          {"destination", to},
          {"protocol", "tcp"},
          {"ports", {{"start", port}, {"end", port}}}};
}

class Lifecycle : public ServerTest {
 protected:
  std::string pap_basic() {
    std::ifstream in(dir_.path() / "data" / "pap-credentials");
    std::string line;
    std::getline(in, line);
    return basic(line);
  }
  // Admin bearer token; JSON in, JSON out unless told otherwise.
  HttpResult call(const std::string& method, const std::string& path, const std::string& body = "",
                  const std::string& content_type = kJson, const std::string& accept = "") {
    std::map<std::string, std::string> h;
    if (!body.empty()) h["Content-Type"] = content_type;
    if (!accept.empty()) h["Accept"] = accept;
    return send(s().port(), method, std::string(kBase) + path, body, "Bearer " + s().admin_token(),
                h);
  }
  HttpResult post_json(const std::string& path, const json& body) {
    return call("POST", path, body.dump());
  }
  json policies_of(const std::string& path) {
    auto r = call("GET", path);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json()["topology_template"]["policies"];
  }
  // The full state both views show, to compare before and after a refused request.
  std::string snapshot() {
    return call("GET", "/policies").body + call("GET", "/policytypes").body +
           s().get("/v1/accounts/acme/policies").body;
  }
};

const char* kDerivedTypeYaml = R"(tosca_definitions_version: tosca_simple_yaml_1_1_0
policy_types:
  acme.policies.Web:
    derived_from: wiretag.policies.Whitelist
    version: 1.0.0
    description: web access with an owner
    properties:
      owner:
        type: string
        required: true
      tickets:
        type: list
        required: false
        entry_schema:
          type: integer
)";

TEST_F(Lifecycle, TheWhitelistTypeIsPreloadedAndReadOnly) {
  for (const char* path : {"/policytypes", "/policytypes/wiretag.policies.Whitelist",
                           "/policytypes/wiretag.policies.Whitelist/versions/latest",
                           "/policytypes/wiretag.policies.Whitelist/versions/1.0.0"}) {
    auto r = call("GET", path);
    ASSERT_EQ(r.status, 200) << path << r.body;
    json t = r.json()["policy_types"]["wiretag.policies.Whitelist"];
    EXPECT_EQ(t["version"], "1.0.0") << path;
    EXPECT_EQ(t["properties"]["rules"]["entry_schema"]["type"], "wiretag.datatypes.Rule");
    EXPECT_TRUE(r.json()["data_types"].contains("wiretag.datatypes.PortRange"));
    EXPECT_EQ(r.headers["x-latestversion"], "1.0.0");
    EXPECT_FALSE(r.headers["x-onap-requestid"].empty());
  }
  auto del = call("DELETE", "/policytypes/wiretag.policies.Whitelist/versions/1.0.0");
  EXPECT_EQ(del.status, 409);
  EXPECT_EQ(del.error_code(), "POLICY_TYPE_READ_ONLY");
  // Posted back unchanged it is accepted as it is; changed, refused.
  json all = call("GET", "/policytypes").json();
  auto same = post_json("/policytypes", all);
  EXPECT_EQ(same.status, 201) << same.body;
  all["policy_types"]["wiretag.policies.Whitelist"]["description"] = "mine now";
  auto changed = post_json("/policytypes", all);
  EXPECT_EQ(changed.status, 409) << changed.body;
  EXPECT_EQ(changed.error_code(), "POLICY_TYPE_READ_ONLY");
  EXPECT_EQ(call("GET", "/policytypes/nope").error_code(), "POLICY_TYPE_NOT_FOUND");
  EXPECT_EQ(call("GET", "/policytypes/nope").status, 404);
}

TEST_F(Lifecycle, DerivedTypesAreCreatedInYamlReadInBothAndDeletedWhenUnused) {
  auto r = call("POST", "/policytypes", kDerivedTypeYaml, kYaml, kYaml);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.headers["content-type"], kYaml);
  auto created = yaml_to_json(r.body);
  ASSERT_TRUE(created) << r.body;
  EXPECT_EQ((*created)["policy_types"]["acme.policies.Web"]["derived_from"],
            "wiretag.policies.Whitelist");
  auto got = call("GET", "/policytypes/acme.policies.Web/versions/1.0.0");
  EXPECT_EQ(got.json()["policy_types"]["acme.policies.Web"]["properties"]["owner"]["type"],
            "string");
  // The same version again: identical is fine, other content is ONAP's 406.
  EXPECT_EQ(call("POST", "/policytypes", kDerivedTypeYaml, kYaml).status, 201);
  std::string changed = kDerivedTypeYaml;
  changed.replace(changed.find("with an owner"), 13, "with a boss");
  auto conflict = call("POST", "/policytypes", changed, kYaml);
  EXPECT_EQ(conflict.status, 406) << conflict.body;
  EXPECT_EQ(conflict.error_code(), "POLICY_TYPE_VERSION_CONFLICT");
  // A second version and a type derived from the first.
  std::string v2 = kDerivedTypeYaml;
  v2.replace(v2.find("version: 1.0.0"), 14, "version: 2.0.0");
  ASSERT_EQ(call("POST", "/policytypes", v2, kYaml).status, 201);
  auto versions = call("GET", "/policytypes/acme.policies.Web").json()["policy_types"];
  EXPECT_TRUE(versions.contains("acme.policies.Web:1.0.0")) << versions;
  EXPECT_TRUE(versions.contains("acme.policies.Web:2.0.0")) << versions;
  EXPECT_EQ(call("GET", "/policytypes/acme.policies.Web/versions/latest")
                .json()["policy_types"]["acme.policies.Web"]["version"],
            "2.0.0");
  json child = {{"tosca_definitions_version", "tosca_simple_yaml_1_1_0"},
                {"policy_types",
                 {{"acme.policies.web.Shop",
                   {{"derived_from", "acme.policies.Web"}, {"version", "1.0.0"}}}}}};
  ASSERT_EQ(post_json("/policytypes", child).status, 201);
  auto in_use = call("DELETE", "/policytypes/acme.policies.Web/versions/1.0.0");
  EXPECT_EQ(in_use.status, 409);
  EXPECT_EQ(in_use.error_code(), "POLICY_TYPE_IN_USE");
  EXPECT_EQ(call("DELETE", "/policytypes/acme.policies.web.Shop/versions/1.0.0").status, 200);
  auto gone = call("DELETE", "/policytypes/acme.policies.Web/versions/1.0.0");
  EXPECT_EQ(gone.status, 200) << gone.body;
  EXPECT_EQ(call("GET", "/policytypes/acme.policies.Web/versions/1.0.0").status, 404);
  EXPECT_EQ(call("DELETE", "/policytypes/acme.policies.Web/versions/1.0.0").status, 404);
}

TEST_F(Lifecycle, BadPolicyTypesAreRefusedWithTheirPathAndChangeNothing) {
  const std::string before = snapshot();
  struct Case {
    std::string body;
    std::string content_type;
    std::string code;
    std::string path;  // the message names it
  };
  const std::string head = "tosca_definitions_version: tosca_simple_yaml_1_1_0\npolicy_types:\n";
  const std::vector<Case> cases = {
      {head + "  x.T:\n    derived_from: tosca.policies.Root\n    version: 1.0.0\n", kYaml,
       "INVALID_POLICY_TYPE", "policy_types.x.T.derived_from"},
      {head + "  x.T:\n    derived_from: wiretag.policies.Whitelist\n    version: one\n", kYaml,
       "INVALID_VERSION", "policy_types.x.T.version"},
      {head + "  x.T:\n    derived_from: wiretag.policies.Whitelist\n", kYaml, "MISSING_FIELD",
       "policy_types.x.T.version"},
      {head + "  x.T:\n    derived_from: wiretag.policies.Whitelist\n    version: 1.0.0\n"
              "    triggers: {}\n",
       kYaml, "UNKNOWN_FIELD", "policy_types.x.T.triggers"},
      {head + "  x.T:\n    derived_from: wiretag.policies.Whitelist\n    version: 1.0.0\n"
              "    properties:\n      rules: {type: string}\n",
       kYaml, "INVALID_POLICY_TYPE", "policy_types.x.T.properties.rules"},
      {head + "  x.T:\n    derived_from: wiretag.policies.Whitelist\n    version: 1.0.0\n"
              "    properties:\n      n: {type: list}\n",
       kYaml, "INVALID_POLICY_TYPE", "policy_types.x.T.properties.n.entry_schema"},
      {head + "  x.T: [1\n", kYaml, "INVALID_YAML", ""},
      {R"({"policy_types":{}})", kJson, "MISSING_FIELD", "tosca_definitions_version"},
      {R"({"tosca_definitions_version":"tosca_simple_yaml_1_1_0","policy_types":{"x.T":{)"
       R"("derived_from":"wiretag.policies.Whitelist","version":"1.0.0","properties":)"
       R"({"n":{"type":"integer","required":"yes"}}}}})",
       kJson, "INVALID_FIELD_TYPE", "policy_types.x.T.properties.n.required"},
      {"{", kJson, "INVALID_JSON", ""},
      {"a: b", "text/plain", "UNSUPPORTED_MEDIA_TYPE", ""},
  };
  for (const Case& c : cases) {
    auto r = call("POST", "/policytypes", c.body, c.content_type);
    EXPECT_EQ(r.error_code(), c.code) << c.body << " → " << r.body;
    EXPECT_EQ(r.status, c.code == "UNSUPPORTED_MEDIA_TYPE" ? 415 : 400) << c.body;
    if (!c.path.empty()) {
      EXPECT_EQ(r.json()[0]["message"].get<std::string>().rfind(c.path + ":", 0), 0u) << r.body;
    }
  }
  EXPECT_EQ(snapshot(), before);
}

// A type's derivation must end at the preloaded type: no type derives from its own name, the
// preloaded name takes no other version, and a new version of a parent's name (children derive
// from its latest) may not close a loop or give a child a property twice. Each such refusal
// changes nothing, and the types and policies already there keep working.
TEST_F(Lifecycle, DerivationLoopsAndNewVersionsOfThePreloadedTypeAreRefused) {
  auto type = [](const std::string& name, const std::string& version, const std::string& parent,
                 json properties = json::object()) {
    return json{
        {"tosca_definitions_version", "tosca_simple_yaml_1_1_0"},
        {"policy_types",
         {{name, {{"derived_from", parent}, {"version", version}, {"properties", properties}}}}}};
  };
  ASSERT_EQ(post_json("/policytypes", type("my.A", "1.0.0", "wiretag.policies.Whitelist")).status,
            201);
  ASSERT_EQ(
      post_json("/policytypes", type("my.B", "1.0.0", "my.A", {{"owner", {{"type", "string"}}}}))
          .status,
      201);
  const std::string before = snapshot();
  struct Case {
    std::string what;
    json body;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"the preloaded name, another version",
       type("wiretag.policies.Whitelist", "2.0.0", "wiretag.policies.Whitelist"), 409,
       "POLICY_TYPE_READ_ONLY"},
      {"the preloaded name, derived from a user type",
       type("wiretag.policies.Whitelist", "2.0.0", "my.A"), 409, "POLICY_TYPE_READ_ONLY"},
      {"a type derived from its own name", type("my.A", "2.0.0", "my.A"), 400,
       "INVALID_POLICY_TYPE"},
      {"a new type derived from itself", type("my.C", "1.0.0", "my.C"), 400, "INVALID_POLICY_TYPE"},
      {"a loop through a child", type("my.A", "2.0.0", "my.B"), 400, "INVALID_POLICY_TYPE"},
      {"a parent's new version defining a child's property",
       type("my.A", "2.0.0", "wiretag.policies.Whitelist", {{"owner", {{"type", "string"}}}}), 400,
       "INVALID_POLICY_TYPE"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto r = post_json("/policytypes", c.body);
    EXPECT_EQ(r.status, c.status) << r.body;
    EXPECT_EQ(r.error_code(), c.code) << r.body;
  }
  EXPECT_EQ(snapshot(), before);
  // What was there still works: a policy of the base type without type_version, and of my.B.
  json base = whitelist_policy("p1", "acme", json::array());
  base["topology_template"]["policies"][0]["p1"].erase("type_version");
  auto created = post_json("/policies", base);
  EXPECT_EQ(created.status, 201) << created.body;
  json derived = whitelist_policy("p2", "acme", json::array());
  derived["topology_template"]["policies"][0]["p2"]["type"] = "my.B";
  derived["topology_template"]["policies"][0]["p2"]["properties"]["owner"] = "ops";
  created = post_json("/policytypes/my.B/versions/1.0.0/policies", derived);
  EXPECT_EQ(created.status, 201) << created.body;
  // A plain new version of a parent is still fine.
  EXPECT_EQ(post_json("/policytypes", type("my.A", "2.0.0", "wiretag.policies.Whitelist")).status,
            201);
}

TEST_F(Lifecycle, APolicyCreatedInToscaIsAnAccountPolicyAndBack) {
  auto r = post_json(std::string(kWhitelist).substr(std::string(kBase).size()) + "/policies",
                     whitelist_policy("acme.web", "acme", {tcp_rule("shop", "db", 5432)}));
  ASSERT_EQ(r.status, 201) << r.body;
  json made = r.json()["topology_template"]["policies"][0]["acme.web"];
  EXPECT_EQ(made["version"], "1.0.0");
  EXPECT_EQ(made["metadata"]["policy-id"], "acme.web");
  EXPECT_EQ(made["metadata"]["policy-version"], "1.0.0");
  EXPECT_EQ(made["metadata"]["name"], "acme.web");
  // The account policies API reads it: same id, version 1, the same rules.
  auto acct = s().get("/v1/accounts/acme/policies/acme.web");
  ASSERT_EQ(acct.status, 200) << acct.body;
  EXPECT_EQ(acct.json()["version"], 1);
  EXPECT_EQ(acct.json()["rules"], json::array({tcp_rule("shop", "db", 5432)}));
  // Updated there (version 2), read here as 2.0.0 with the new name.
  auto put = s().request("PUT", "/v1/accounts/acme/policies/acme.web",
                         json{{"name", "web access"},
                              {"rules", {tcp_rule("shop", "db", 5432), tcp_rule("*", "db", 22)}}}
                             .dump());
  ASSERT_EQ(put.status, 200) << put.body;
  json latest = policies_of("/policies/acme.web/versions/latest")[0]["acme.web"];
  EXPECT_EQ(latest["version"], "2.0.0");
  EXPECT_EQ(latest["metadata"]["name"], "web access");
  EXPECT_EQ(latest["properties"]["rules"].size(), 2u);
  EXPECT_EQ(policies_of("/policies/acme.web").size(), 2u);
  // A new version here in YAML (no version given: the next one), read there as version 3.
  std::string yaml = json_to_yaml(whitelist_policy("acme.web", "acme", {tcp_rule("*", "db", 443)}));
  auto v3 = call("POST", "/policies", yaml, kYaml, kYaml);
  ASSERT_EQ(v3.status, 201) << v3.body;
  auto v3_json = yaml_to_json(v3.body);
  ASSERT_TRUE(v3_json);
  EXPECT_EQ((*v3_json)["topology_template"]["policies"][0]["acme.web"]["version"], "3.0.0");
  EXPECT_EQ((*v3_json)["topology_template"]["policies"][0]["acme.web"]["metadata"]["name"],
            "web access");  // kept when metadata.name is not given
  auto three = s().get("/v1/accounts/acme/policies/acme.web");
  EXPECT_EQ(three.json()["version"], 3);
  EXPECT_EQ(three.json()["rules"], json::array({tcp_rule("*", "db", 443)}));
  // Every old version readable in both views, the same.
  for (int n = 1; n <= 3; ++n) {
    auto a = s().get("/v1/accounts/acme/policies/acme.web/versions/" + std::to_string(n));
    ASSERT_EQ(a.status, 200) << a.body;
    json t =
        policies_of("/policies/acme.web/versions/" + std::to_string(n) + ".0.0")[0]["acme.web"];
    EXPECT_EQ(t["properties"]["rules"], a.json()["rules"]) << n;
    EXPECT_EQ(t["metadata"]["name"], a.json()["name"]) << n;
  }
  // An account policy made over the account API is a TOSCA policy named by its id.
  auto other =
      s().post("/v1/accounts/acme/policies",
               json{{"name", "ssh"}, {"refid", "r1"}, {"rules", {tcp_rule("*", "db", 22)}}}.dump());
  ASSERT_EQ(other.status, 201) << other.body;
  const std::string id = other.json()["result"]["id"];
  json seen =
      policies_of("/policytypes/wiretag.policies.Whitelist/versions/1.0.0/policies/" + id)[0][id];
  EXPECT_EQ(seen["metadata"]["name"], "ssh");
  EXPECT_EQ(seen["metadata"]["refid"], "r1");
  EXPECT_EQ(seen["properties"]["account"], "acme");
  EXPECT_EQ(policies_of("/policies").size(), 4u);  // acme.web 1-3, and the new one
}

TEST_F(Lifecycle, VersionsAreImmutableAsOnapHasThem) {
  const std::string path = "/policies";
  ASSERT_EQ(
      post_json(path, whitelist_policy("p", "acme", {tcp_rule("a", "b", 80)}, "1.0.0")).status,
      201);
  // The same version with the same content: accepted, nothing new.
  auto again = post_json(path, whitelist_policy("p", "acme", {tcp_rule("a", "b", 80)}, "1.0.0"));
  EXPECT_EQ(again.status, 201) << again.body;
  EXPECT_EQ(s().get("/v1/accounts/acme/policies/p").json()["version"], 1);
  const std::string before = snapshot();
  auto changed = post_json(path, whitelist_policy("p", "acme", {tcp_rule("a", "b", 81)}, "1.0.0"));
  EXPECT_EQ(changed.status, 406) << changed.body;
  EXPECT_EQ(changed.error_code(), "POLICY_VERSION_CONFLICT");
  for (const char* v : {"3.0.0", "1.0.1", "0.0.0", "x"}) {
    auto r = post_json(path, whitelist_policy("p", "acme", {tcp_rule("a", "b", 81)}, v));
    EXPECT_EQ(r.status, 400) << v << r.body;
    EXPECT_EQ(r.error_code(), "INVALID_POLICY_VERSION") << v;
  }
  auto moved = post_json(path, whitelist_policy("p", "other", {tcp_rule("a", "b", 81)}, "2.0.0"));
  EXPECT_EQ(moved.status, 400);
  EXPECT_EQ(moved.error_code(), "INVALID_PROPERTY_VALUE");
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(
      post_json(path, whitelist_policy("p", "acme", {tcp_rule("a", "b", 81)}, "2.0.0")).status,
      201);
}

TEST_F(Lifecycle, BadPropertiesAreRefusedNamingThePathInJsonAndYaml) {
  ASSERT_EQ(call("POST", "/policytypes", kDerivedTypeYaml, kYaml).status, 201);
  const std::string before = snapshot();
  json good_rules = {tcp_rule("a", "b", 80), tcp_rule("a", "c", 81), tcp_rule("a", "d", 82)};
  struct Case {
    std::function<void(json& policy_properties)> spoil;
    std::string code;
    std::string path;
  };
  const std::vector<Case> cases = {
      {[](json& p) { p["rules"][2]["ports"]["start"] = "80"; }, "INVALID_PROPERTY_TYPE",
       "properties.rules[2].ports.start"},
      {[](json& p) { p["rules"][1]["colour"] = "red"; }, "UNKNOWN_PROPERTY",
       "properties.rules[1].colour"},
      {[](json& p) { p["rules"][0].erase("destination"); }, "MISSING_PROPERTY",
       "properties.rules[0].destination"},
      {[](json& p) { p.erase("account"); }, "MISSING_PROPERTY", "properties.account"},
      {[](json& p) { p["extra"] = 1; }, "UNKNOWN_PROPERTY", "properties.extra"},
      {[](json& p) { p["rules"] = "all"; }, "INVALID_PROPERTY_TYPE", "properties.rules"},
      {[](json& p) { p["rules"][2]["ports"]["end"] = 70000; }, "INVALID_RULE",
       "properties.rules[2].ports.end"},
      {[](json& p) {
         p["rules"][2]["ports"] = {{"start", 90}, {"end", 80}};
       },
       "INVALID_RULE", "properties.rules[2].ports"},
      {[](json& p) { p["rules"][1]["protocol"] = "sctp"; }, "INVALID_PROTOCOL",
       "properties.rules[1].protocol"},
      {[](json& p) { p["rules"][0]["source"] = "a b"; }, "INVALID_GUID",
       "properties.rules[0].source"},
      {[](json& p) { p["account"] = "no/slash"; }, "INVALID_PROPERTY_VALUE", "properties.account"},
  };
  for (bool yaml : {false, true})
    for (const Case& c : cases) {
      json body = whitelist_policy("bad", "acme", good_rules);
      c.spoil(body["topology_template"]["policies"][0]["bad"]["properties"]);
      auto r = yaml ? call("POST", "/policies", json_to_yaml(body), kYaml)
                    : call("POST", "/policies", body.dump());
      EXPECT_EQ(r.status, 400) << c.path << ": " << r.body;
      EXPECT_EQ(r.error_code(), c.code) << c.path << ": " << r.body;
      EXPECT_EQ(r.json()[0]["message"].get<std::string>().rfind(c.path + ":", 0), 0u) << r.body;
    }
  // A derived type's own properties: required, typed, and only its own.
  json web = whitelist_policy("w", "acme", good_rules);
  json& def = web["topology_template"]["policies"][0]["w"];
  def["type"] = "acme.policies.Web";
  auto missing = call("POST", "/policytypes/acme.policies.Web/versions/1.0.0/policies", web.dump());
  EXPECT_EQ(missing.error_code(), "MISSING_PROPERTY") << missing.body;
  def["properties"]["owner"] = "ops";
  def["properties"]["tickets"] = {1, "two"};
  auto typed = call("POST", "/policytypes/acme.policies.Web/versions/1.0.0/policies", web.dump());
  EXPECT_EQ(typed.error_code(), "INVALID_PROPERTY_TYPE") << typed.body;
  EXPECT_EQ(typed.json()[0]["message"].get<std::string>().rfind("properties.tickets[1]:", 0), 0u);
  // Posted under another type's path.
  def["properties"]["tickets"] = {1, 2};
  auto wrong_path = call(
      "POST", std::string(kWhitelist).substr(std::string(kBase).size()) + "/policies", web.dump());
  EXPECT_EQ(wrong_path.status, 400);
  EXPECT_EQ(wrong_path.error_code(), "INVALID_POLICY_TYPE");
  EXPECT_EQ(snapshot(), before);
  // Right: the type's own properties travel with the policy, kept by the account API.
  ASSERT_EQ(
      call("POST", "/policytypes/acme.policies.Web/versions/1.0.0/policies", web.dump()).status,
      201);
  auto patch = s().request("PATCH", "/v1/accounts/acme/policies/w", json{{"name", "web"}}.dump());
  ASSERT_EQ(patch.status, 200) << patch.body;
  json w2 = policies_of(
      "/policytypes/acme.policies.Web/versions/1.0.0/policies/w/versions/latest")[0]["w"];
  EXPECT_EQ(w2["version"], "2.0.0");
  EXPECT_EQ(w2["properties"]["owner"], "ops");
  EXPECT_EQ(w2["properties"]["tickets"], json({1, 2}));
  EXPECT_EQ(w2["type"], "acme.policies.Web");
  // The type is in use now.
  EXPECT_EQ(call("DELETE", "/policytypes/acme.policies.Web/versions/1.0.0").error_code(),
            "POLICY_TYPE_IN_USE");
}

// A policy of a type derived from wiretag.policies.Whitelist is named by its own type where
// the PAP, the PDP_UPDATE and the decision API name one (they said the preloaded type).
TEST_F(Lifecycle, ADerivedTypesPolicyIsNamedByItsTypeInThePapAndDecisions) {
  ASSERT_EQ(call("POST", "/policytypes", kDerivedTypeYaml, kYaml).status, 201);
  for (const char* guid : {"a", "b"})
    ASSERT_EQ(s().post("/app", json{{"guid", guid}, {"account", "acme"}}.dump()).status, 201);
  json web = whitelist_policy("w", "acme", {tcp_rule("a", "b", 80)});
  json& def = web["topology_template"]["policies"][0]["w"];
  def["type"] = "acme.policies.Web";
  def["properties"]["owner"] = "ops";
  ASSERT_EQ(
      call("POST", "/policytypes/acme.policies.Web/versions/1.0.0/policies", web.dump()).status,
      201);
  json status = {{"messageName", "PDP_STATUS"}, {"name", "cell-a"},  {"pdpType", "tc"},
                 {"pdpGroup", "defaultGroup"},  {"state", "ACTIVE"}, {"healthy", "HEALTHY"},
                 {"heartbeatIntervalMs", 60000}};
  ASSERT_EQ(s().post("/internal/v1/cells/cell-a/status", status.dump()).status, 200);
  ASSERT_EQ(s().pap("POST", "/pdps/policies",
                    json{{"policies", {{{"policy-id", "w"}, {"policy-version", "1.0.0"}}}}}.dump())
                .status,
            202);
  json deployed = s().pap("GET", "/policies/deployed/w").json();
  ASSERT_EQ(deployed.size(), 1u) << deployed;
  EXPECT_EQ(deployed[0]["policy-type"], "acme.policies.Web") << deployed;
  EXPECT_EQ(deployed[0]["policy-type-version"], "1.0.0");
  json st = s().pap("GET", "/policies/status/defaultGroup/w").json();
  ASSERT_EQ(st.size(), 1u) << st;
  EXPECT_EQ(st[0]["policyType"], (json{{"name", "acme.policies.Web"}, {"version", "1.0.0"}}));
  json update = s().post("/internal/v1/cells/cell-a/status", status.dump()).json();
  bool found = false;
  for (const json& p : update["policiesToBeDeployed"])
    if (p["name"] == "w") {
      found = true;
      EXPECT_EQ(p["type"], "acme.policies.Web") << p;
    } else {
      EXPECT_EQ(p["type"], "wiretag.policies.Whitelist") << p;
    }
  EXPECT_TRUE(found) << update;
  json decision = {
      {"ONAPName", "wiretag-test"},
      {"ONAPComponent", "lifecycle_api_test"},
      {"ONAPInstance", "1"},
      {"requestId", "r-1"},
      {"action", "connect"},
      {"resource", {{"source", "a"}, {"destination", "b"}, {"protocol", "tcp"}, {"port", 80}}}};
  auto d = send(s().port(), "POST", "/policy/pdpx/v1/decision", decision.dump(),
                "Bearer " + s().admin_token(), {{"Content-Type", "application/json"}});
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(d.json()["status"], "Permit") << d.body;
  EXPECT_EQ(d.json()["policies"]["w"]["type"], "acme.policies.Web") << d.body;
}

TEST_F(Lifecycle, DeletingVersionsFallsBackAndADeployedVersionStays) {
  for (int port : {80, 81, 82})
    ASSERT_EQ(
        post_json("/policies", whitelist_policy("p", "acme", {tcp_rule("a", "b", port)})).status,
        201);
  // Deploy version 2 with the PAP (to a group with a cell): it cannot be deleted.
  json status = {{"messageName", "PDP_STATUS"}, {"name", "cell-a"},  {"pdpType", "tc"},
                 {"pdpGroup", "defaultGroup"},  {"state", "ACTIVE"}, {"healthy", "HEALTHY"},
                 {"heartbeatIntervalMs", 60000}};
  ASSERT_EQ(s().post("/internal/v1/cells/cell-a/status", status.dump()).status, 200);
  auto deploy =
      s().pap("POST", "/pdps/policies",
              json{{"policies", {{{"policy-id", "p"}, {"policy-version", "2.0.0"}}}}}.dump());
  ASSERT_EQ(deploy.status, 202) << deploy.body;
  const std::string before = snapshot();
  auto deployed = call("DELETE", "/policies/p/versions/2.0.0");
  EXPECT_EQ(deployed.status, 409) << deployed.body;
  EXPECT_EQ(deployed.error_code(), "POLICY_DEPLOYED");
  EXPECT_EQ(call("DELETE", "/policies/p/versions/9.0.0").status, 404);
  EXPECT_EQ(call("DELETE", "/policies/nope/versions/1.0.0").status, 404);
  EXPECT_EQ(call("DELETE", "/policies/p/versions/x").status, 400);
  EXPECT_EQ(snapshot(), before);
  // An old version goes from both views.
  auto one = call("DELETE", "/policies/p/versions/1.0.0");
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.json()["topology_template"]["policies"][0]["p"]["version"], "1.0.0");
  EXPECT_EQ(s().get("/v1/accounts/acme/policies/p/versions/1").status, 404);
  EXPECT_EQ(call("GET", "/policies/p/versions/1.0.0").status, 404);
  // The latest goes: the policy falls back to version 2 in both views.
  ASSERT_EQ(call("DELETE", "/policies/p/versions/3.0.0").status, 200);
  auto back = s().get("/v1/accounts/acme/policies/p");
  EXPECT_EQ(back.json()["version"], 2);
  EXPECT_EQ(back.json()["rules"], json::array({tcp_rule("a", "b", 81)}));
  EXPECT_EQ(policies_of("/policies/p/versions/latest")[0]["p"]["version"], "2.0.0");
  // Undeployed, the only version left goes and the policy with it.
  ASSERT_EQ(s().pap("DELETE", "/pdps/policies/p").status, 202);
  ASSERT_EQ(call("DELETE",
                 "/policytypes/wiretag.policies.Whitelist/versions/1.0.0/policies/p/"
                 "versions/2.0.0")
                .status,
            200);
  EXPECT_EQ(s().get("/v1/accounts/acme/policies/p").status, 404);
  EXPECT_EQ(call("GET", "/policies/p").status, 404);
  // Its name is free again.
  EXPECT_EQ(post_json("/policies", whitelist_policy("p", "acme", {tcp_rule("a", "b", 80)})).status,
            201);
}

TEST_F(Lifecycle, AuthIsThePapBasicAuthOrAnAdminToken) {
  auto none = send(s().port(), "GET", std::string(kBase) + "/policytypes", "", "", {});
  EXPECT_EQ(none.status, 401);
  auto basic_ok = send(s().port(), "GET", std::string(kBase) + "/policytypes", "", pap_basic(), {});
  EXPECT_EQ(basic_ok.status, 200) << basic_ok.body;
  auto bad =
      send(s().port(), "GET", std::string(kBase) + "/policytypes", "", basic("admin:wrong"), {});
  EXPECT_EQ(bad.status, 401);
  auto token =
      s().post("/v1/tokens", json{{"scopes", {"network.write"}}, {"accounts", {"acme"}}}.dump());
  ASSERT_EQ(token.status, 201) << token.body;
  auto scoped = send(s().port(), "GET", std::string(kBase) + "/policies", "",
                     "Bearer " + token.json()["token"].get<std::string>(), {});
  EXPECT_EQ(scoped.status, 403) << scoped.body;
  // Refused before the body is read, headers and all.
  auto post = send(s().port(), "POST", std::string(kBase) + "/policies", "{}", "", {});
  EXPECT_EQ(post.status, 401);
  EXPECT_FALSE(post.headers["x-onap-requestid"].empty());

  // Writes record who made them (SPEC §5): the PAP user, or the admin token's id.
  std::string user;
  std::getline(std::ifstream(dir_.path() / "data" / "pap-credentials"), user);
  user = user.substr(0, user.find(':'));
  auto by_pap = send(s().port(), "POST", std::string(kBase) + "/policies",
                     whitelist_policy("by-pap", "acme", json::array()).dump(), pap_basic(),
                     {{"Content-Type", kJson}});
  ASSERT_EQ(by_pap.status, 201) << by_pap.body;
  ASSERT_EQ(post_json("/policies", whitelist_policy("by-token", "acme", json::array())).status,
            201);
  std::map<std::string, std::string> principal;  // subject -> principal
  const json changes = s().get("/internal/v1/changes?since=0").json();
  for (const json& c : changes["changes"])
    if (c.value("kind", "") == "policy.created" && c["principal"].is_string())
      principal[c.value("subject", "")] = c["principal"].get<std::string>();
  EXPECT_EQ(principal["by-pap"], "pap:" + user);
  EXPECT_EQ(principal["by-token"].rfind("token:", 0), 0u) << principal["by-token"];
}

TEST_F(Lifecycle, HealthcheckAndStatisticsAsOnapHasThem) {
  auto h = call("GET", "/healthcheck", "", kJson, kYaml);
  ASSERT_EQ(h.status, 200);
  auto health = yaml_to_json(h.body);
  ASSERT_TRUE(health) << h.body;
  EXPECT_EQ((*health)["healthy"], true);
  EXPECT_EQ((*health)["message"], "alive");
  EXPECT_EQ((*health)["name"], "Policy API");
  call("GET", "/policytypes");
  call("GET", "/policytypes/none");
  post_json("/policies", whitelist_policy("p", "acme", {tcp_rule("a", "b", 80)}));
  call("GET", "/policies");
  auto st = call("GET", "/statistics").json();
  EXPECT_EQ(st["code"], 200);
  EXPECT_EQ(st["policyTypeGetSuccessCount"], 1);
  EXPECT_EQ(st["policyTypeGetFailureCount"], 1);
  EXPECT_EQ(st["totalPolicyTypeGetCount"], 2);
  EXPECT_EQ(st["policyPostSuccessCount"], 1);
  EXPECT_EQ(st["policyGetSuccessCount"], 1);
  EXPECT_EQ(st["totalApiCallCount"], 5);  // the healthcheck too; this call counts once answered
  auto id = send(s().port(), "GET", std::string(kBase) + "/healthcheck", "",
                 "Bearer " + s().admin_token(), {{"X-ONAP-RequestID", "abc-123"}});
  EXPECT_EQ(id.headers["x-onap-requestid"], "abc-123");
}

TEST_F(Lifecycle, ReferencedModeAddsThePoliciesTypes) {
  ASSERT_EQ(post_json("/policies", whitelist_policy("p", "acme", {tcp_rule("a", "b", 80)})).status,
            201);
  auto bare = call("GET", "/policies?mode=BARE").json();
  EXPECT_FALSE(bare.contains("policy_types"));
  auto ref = call("GET", "/policies?mode=REFERENCED").json();
  EXPECT_TRUE(ref["policy_types"].contains("wiretag.policies.Whitelist")) << ref;
  EXPECT_EQ(call("GET", "/policies?mode=all").error_code(), "INVALID_QUERY");
}

// api/lifecycle.yaml's examples, sent in order: each request gets its response file.
TEST(LifecycleExamples, EveryExampleIsWhatTheServerAnswers) {
  TempDir dir;
  ServerProcess s(dir.path() / "data");
  ASSERT_TRUE(s.started());
  const std::string doc = read_api_file("lifecycle.yaml");
  struct Step {
    std::string method, path, request, response;
    int status;
  };
  const std::vector<Step> steps = {
      {"POST", "/policytypes", "lifecycle-policytype.request.yaml",
       "lifecycle-policytype.response.json", 201},
      {"POST", "/policytypes/wiretag.policies.Whitelist/versions/1.0.0/policies",
       "lifecycle-policy.request.json", "lifecycle-policy.response.json", 201},
      {"POST", "/policies", "lifecycle-policy-v2.request.yaml", "lifecycle-policy-v2.response.json",
       201},
      {"POST", "/policies", "lifecycle-policy-conflict.request.json",
       "lifecycle-policy-conflict.response.json", 406},
      {"POST", "/policies", "lifecycle-policy-bad-port.request.json",
       "lifecycle-policy-bad-port.response.json", 400},
      {"GET", "/policies/acme.web/versions/latest", "", "lifecycle-policy-v2.response.json", 200},
      {"DELETE", "/policies/acme.web/versions/1.0.0", "", "lifecycle-policy.response.json", 200},
  };
  for (const Step& st : steps) {
    if (!st.request.empty()) {
      EXPECT_NE(doc.find("examples/" + st.request), std::string::npos) << st.request;
    }
    EXPECT_NE(doc.find("examples/" + st.response), std::string::npos) << st.response;
    const bool yaml = st.request.ends_with(".yaml");
    std::map<std::string, std::string> headers;
    if (!st.request.empty()) headers["Content-Type"] = yaml ? kYaml : kJson;
    auto r = send(s.port(), st.method, std::string(kBase) + st.path,
                  st.request.empty() ? "" : read_api_file("examples/" + st.request),
                  "Bearer " + s.admin_token(), headers);
    EXPECT_EQ(r.status, st.status) << st.path << ": " << r.body;
    EXPECT_EQ(r.json(), json::parse(read_api_file("examples/" + st.response)))
        << st.method << " " << st.path << ": " << r.body;
  }
}

}  // namespace
}  // namespace wiretag::test
