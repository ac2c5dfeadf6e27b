// The Decision API (POST /policy/pdpx/v1/decision, SPEC §4.5) over real HTTP against the
// binary: a decision table over the datapath's semantics (exact ports, range edges, any-port,
// protocol any, ICMP, wildcard source, untagged), which versions count (undeployed versions,
// a cell's subgroup, every group without a cell), the group modes (PASSIVE, TEST, SAFE),
// unknown and foreign apps, auth, ONAP headers, every malformed input with its error_code,
// and api/decision.yaml's examples. Cells are simulated by posting their PDP_STATUS.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "server_process.h"

namespace wiretag::test {
namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
using nlohmann::json;

constexpr const char* kDecision = "/policy/pdpx/v1/decision";

std::string read_api_file(const std::string& name) {
  std::ifstream in(std::string(WIRETAG_API_DIR) + "/" + name);
  EXPECT_TRUE(in) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One request with any headers; status 0 when there was no answer.
HttpResult send(unsigned short port, const std::string& body, const std::string& token,
                const std::map<std::string, std::string>& headers = {}) {
  HttpResult out;
  try {
    boost::asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, kDecision, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    if (!token.empty()) req.set(bhttp::field::authorization, "Bearer " + token);
    for (const auto& [k, v] : headers) req.set(k, v);
    req.set(bhttp::field::content_type, "application/json");
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

json request(const json& resource) {
  return {{"ONAPName", "wiretag-test"}, {"ONAPComponent", "decision_api_test"},
          {"ONAPInstance", "1"},        {"requestId", "r-1"},
          {"action", "connect"},        {"resource", resource}};
}

// A packet as a resource: source "" = untagged (field left out).
json packet(const std::string& source, const std::string& destination, const std::string& proto,
            std::optional<int> port = std::nullopt, std::optional<std::string> cell = {}) {
  json r = {{"destination", destination}, {"protocol", proto}};
  if (!source.empty()) r["source"] = source;
  if (port) r["port"] = *port;
  if (cell) r["cell"] = *cell;
  return r;
}

class Decision : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    for (const char* guid : {"a", "b", "c", "web"}) app(guid);
    app("x", "acme");
    app("x2", "acme");
    edge("a", "b", "tcp", PortRange{5432, 5432});
    edge("a", "b", "udp", PortRange{1000, 2000});
    edge("a", "b", "icmp");
    edge("c", "b", "tcp");  // every tcp port
    edge("a", "web", "any");
    edge("x", "x2", "tcp", PortRange{443, 443});
    // Wildcard sources come with named policies: "public", deployed to defaultGroup.
    json rules = {{{"source", "*"},
                   {"destination", "b"},
                   {"protocol", "tcp"},
                   {"ports", {{"start", 8080}, {"end", 8080}}}}};
    auto r = s().post("/v1/accounts/default/policies",
                      json{{"name", "public"}, {"rules", rules}}.dump());
    ASSERT_EQ(r.status, 201) << r.body;
    public_id_ = r.json()["result"]["id"].get<std::string>();
    deploy("defaultGroup", public_id_, "1.0.0");
  }

  struct PortRange {
    int start, end;
  };
  void app(const std::string& guid, const std::string& account = "default") {
    auto r = s().post("/app", json{{"guid", guid}, {"account", account}}.dump());
    ASSERT_TRUE(r.status == 201 || r.status == 200) << r.body;
  }
  void edge(const std::string& from, const std::string& to, const std::string& proto,
            std::optional<PortRange> ports = std::nullopt) {
    json e = {{"source", from}, {"destination", to}, {"protocol", proto}};
    if (ports) e["ports"] = {{"start", ports->start}, {"end", ports->end}};
    auto r = s().post("/whitelist", e.dump());
    ASSERT_TRUE(r.status == 201 || r.status == 200) << r.body;
  }
  HttpResult decide(const json& resource, const std::string& token = "") {
    return send(s().port(), request(resource).dump(), token.empty() ? s().admin_token() : token);
  }
  // "Permit"/"Deny" and the verdict reason, or "HTTP <status> <error_code>".
  std::string verdict(const json& resource, const std::string& token = "") {
    auto r = decide(resource, token);
    if (r.status != 200) return "HTTP " + std::to_string(r.status) + " " + r.error_code();
    json j = r.json();
    return j["status"].get<std::string>() + " " +
           j["attributes"].value("verdict_reason", std::string("-"));
  }
  std::string token(const json& grant) {
    auto r = s().post("/v1/tokens", grant.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json().value("token", std::string());
  }
  void heartbeat(const std::string& cell, const std::string& group) {
    json st = {{"messageName", "PDP_STATUS"}, {"name", cell},      {"pdpType", "tc"},
               {"pdpGroup", group},           {"state", "ACTIVE"}, {"healthy", "HEALTHY"},
               {"heartbeatIntervalMs", 60000}};
    auto r = s().post("/internal/v1/cells/" + cell + "/status", st.dump());
    ASSERT_EQ(r.status, 200) << r.body;
  }
  void group(const std::string& name, const std::string& state) {
    json body = {{"groups",
                  {{{"name", name},
                    {"pdpGroupState", state},
                    {"pdpSubgroups", {{{"pdpType", "tc"}, {"desiredInstanceCount", 1}}}}}}}};
    auto r = s().pap("POST", "/pdps/groups/batch", body.dump());
    ASSERT_EQ(r.status, 200) << r.body;
  }
  void deploy(const std::string& group, const std::string& policy, const std::string& version) {
    json body = {{"groups",
                  {{{"name", group},
                    {"deploymentSubgroups",
                     {{{"pdpType", "tc"},
                       {"action", "POST"},
                       {"policies", {{{"name", policy}, {"version", version}}}}}}}}}}};
    auto r = s().pap("POST", "/pdps/deployments/batch", body.dump());
    ASSERT_EQ(r.status, 202) << r.body;
  }
  void set_state(const std::string& group, const std::string& state) {
    auto r = s().pap("PUT", "/pdps/groups/" + group + "?state=" + state);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  std::string public_id_;

  // A named policy of account default with one rule c → b udp/port; its id.
  std::string udp_policy(int port) {
    json rules = {{{"source", "c"},
                   {"destination", "b"},
                   {"protocol", "udp"},
                   {"ports", {{"start", port}, {"end", port}}}}};
    auto r =
        s().post("/v1/accounts/default/policies", json{{"name", "dns"}, {"rules", rules}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json()["result"]["id"].get<std::string>();
  }
};

TEST_F(Decision, TableOfTheDatapathsSemantics) {
  struct Case {
    json resource;
    std::string expected;
  };
  const std::vector<Case> cases = {
      // Exact port.
      {packet("a", "b", "tcp", 5432), "Permit allow_rule"},
      {packet("a", "b", "tcp", 5431), "Deny drop_policy"},
      {packet("a", "b", "tcp", 5433), "Deny drop_policy"},
      {packet("a", "b", "udp", 5432), "Deny drop_policy"},
      // Port range edges.
      {packet("a", "b", "udp", 999), "Deny drop_policy"},
      {packet("a", "b", "udp", 1000), "Permit allow_rule"},
      {packet("a", "b", "udp", 2000), "Permit allow_rule"},
      {packet("a", "b", "udp", 2001), "Deny drop_policy"},
      // Any port of one protocol.
      {packet("c", "b", "tcp", 1), "Permit allow_rule"},
      {packet("c", "b", "tcp", 65535), "Permit allow_rule"},
      {packet("c", "b", "tcp", 0), "Permit allow_rule"},
      {packet("c", "b", "udp", 53), "Deny drop_policy"},
      // Protocol any, every port: every protocol.
      {packet("a", "web", "tcp", 80), "Permit allow_rule"},
      {packet("a", "web", "udp", 65535), "Permit allow_rule"},
      {packet("a", "web", "icmp"), "Permit allow_rule"},
      {packet("a", "web", "132"), "Permit allow_rule"},
      {packet("c", "web", "tcp", 80), "Deny drop_policy"},
      // ICMP: no port; icmpv6 is the same rule.
      {packet("a", "b", "icmp"), "Permit allow_rule"},
      {packet("a", "b", "icmpv6"), "Permit allow_rule"},
      {packet("a", "b", "1"), "Permit allow_rule"},
      {packet("c", "b", "icmp"), "Deny drop_policy"},
      // Wildcard source: any tagged source, also of another account.
      {packet("x", "b", "tcp", 8080), "Permit allow_wildcard"},
      {packet("web", "b", "tcp", 8080), "Permit allow_wildcard"},
      {packet("x", "b", "tcp", 8081), "Deny drop_policy"},
      {packet("c", "b", "tcp", 8080), "Permit allow_rule"},  // its own rule first
      // Untagged (no source app): the endpoint's default, allow.
      {packet("", "b", "tcp", 22), "Permit allow_untagged"},
      {packet("", "web", "132"), "Permit allow_untagged"},
      // Unknown apps: Deny, never an error.
      {packet("a", "nope", "tcp", 5432), "Deny -"},
      {packet("nope", "b", "tcp", 8080), "Deny -"},
  };
  for (const Case& c : cases) EXPECT_EQ(verdict(c.resource), c.expected) << c.resource.dump();

  json untagged = packet("a", "b", "tcp", 22);
  untagged["source"] = nullptr;
  EXPECT_EQ(verdict(untagged), "Permit allow_untagged") << "null source = untagged";
}

TEST_F(Decision, AnswerNamesTheMatchingVersionsAndRules) {
  auto r = decide(packet("c", "b", "tcp", 8080));
  ASSERT_EQ(r.status, 200) << r.body;
  json j = r.json();
  EXPECT_EQ(j["status"], "Permit");
  const json& wl = j["policies"]["default-whitelist"];
  EXPECT_EQ(wl["version"], "1.0.0");
  EXPECT_EQ(wl["type"], "wiretag.policies.Whitelist");
  EXPECT_EQ(wl["metadata"]["policy-id"], "default-whitelist");
  EXPECT_EQ(wl["properties"]["rules"],
            json::parse(R"([{"source":"c","destination":"b","protocol":"tcp"}])"));
  const json& pub = j["policies"][public_id_];
  EXPECT_EQ(pub["name"], "public");
  EXPECT_EQ(pub["version"], "1.0.0");
  EXPECT_EQ(pub["properties"]["account"], "default");
  EXPECT_EQ(pub["properties"]["rules"],
            json::parse(R"([{"source":"*","destination":"b","protocol":"tcp",
                             "ports":{"start":8080,"end":8080}}])"));
  EXPECT_EQ(j["attributes"]["source"]["guid"], "c");
  EXPECT_EQ(j["attributes"]["mode"], "enforce");
  EXPECT_NE(j["reason"].get<std::string>().find("source \"c\""), std::string::npos) << j["reason"];

  auto deny = decide(packet("c", "b", "udp", 9)).json();
  EXPECT_EQ(deny["status"], "Deny");
  EXPECT_EQ(deny["policies"], json::object());
  EXPECT_NE(deny["reason"].get<std::string>().find("no rule"), std::string::npos);
}

TEST_F(Decision, OnlyDeployedVersionsCount) {
  const std::string id = udp_policy(53);
  // Created, not deployed: its rules reach no cell.
  EXPECT_EQ(verdict(packet("c", "b", "udp", 53)), "Deny drop_policy");

  // Deployed to one group only: counts without a cell, and on that group's cells only.
  heartbeat("cell-default", "defaultGroup");
  heartbeat("cell-edge", "edge");
  group("edge", "ACTIVE");
  deploy("edge", id, "1.0.0");
  EXPECT_EQ(verdict(packet("c", "b", "udp", 53)), "Permit allow_rule");
  EXPECT_EQ(verdict(packet("c", "b", "udp", 53, "cell-edge")), "Permit allow_rule");
  EXPECT_EQ(verdict(packet("c", "b", "udp", 53, "cell-default")), "Deny drop_policy");
  // The edge group holds only that policy, not default-whitelist.
  EXPECT_EQ(verdict(packet("a", "b", "tcp", 5432, "cell-edge")), "Deny drop_policy");
  EXPECT_EQ(verdict(packet("a", "b", "tcp", 5432, "cell-default")), "Permit allow_rule");

  auto r = decide(packet("c", "b", "udp", 53, "cell-edge")).json();
  ASSERT_TRUE(r["policies"].contains(id)) << r.dump();
  EXPECT_EQ(r["policies"][id]["version"], "1.0.0");
  EXPECT_EQ(r["policies"][id]["name"], "dns");
  EXPECT_EQ(r["attributes"]["counted_policies"],
            (json::array({{{"name", id}, {"version", "1.0.0"}}})));

  // A new version, not deployed: the deployed one still decides.
  json v2 = {{"name", "dns"},
             {"rules",
              {{{"source", "c"},
                {"destination", "b"},
                {"protocol", "udp"},
                {"ports", {{"start", 54}, {"end", 54}}}}}}};
  ASSERT_EQ(s().request("PUT", "/v1/accounts/default/policies/" + id, v2.dump()).status, 200);
  EXPECT_EQ(verdict(packet("c", "b", "udp", 53, "cell-edge")), "Permit allow_rule");
  EXPECT_EQ(verdict(packet("c", "b", "udp", 54, "cell-edge")), "Deny drop_policy");
  EXPECT_EQ(verdict(packet("c", "b", "udp", 54)), "Deny drop_policy");
}

TEST_F(Decision, GroupModes) {
  for (const auto& [cell, grp] :
       {std::pair{"c-off", "off"}, std::pair{"c-test", "canary"}, std::pair{"c-safe", "frozen"}})
    heartbeat(cell, grp);
  group("off", "PASSIVE");
  group("canary", "TEST");
  group("frozen", "ACTIVE");
  for (const char* g : {"off", "canary", "frozen"}) deploy(g, "default-whitelist", "1.0.0");
  set_state("frozen", "SAFE");

  // PASSIVE: bypass, whatever the rules.
  auto off = decide(packet("a", "b", "tcp", 5431, "c-off")).json();
  EXPECT_EQ(off["status"], "Permit");
  EXPECT_EQ(off["attributes"]["verdict_reason"], "allow_bypass");
  EXPECT_EQ(off["attributes"]["mode"], "bypass");
  EXPECT_EQ(off["attributes"]["state"], "PASSIVE");
  EXPECT_NE(off["reason"].get<std::string>().find("bypass"), std::string::npos);

  // TEST: audit passes, and says what enforcement would do.
  auto would_deny = decide(packet("a", "b", "tcp", 5431, "c-test")).json();
  EXPECT_EQ(would_deny["status"], "Permit");
  EXPECT_EQ(would_deny["attributes"]["would_be"], "Deny");
  EXPECT_EQ(would_deny["attributes"]["verdict_reason"], "drop_policy");
  EXPECT_EQ(would_deny["attributes"]["mode"], "audit");
  auto would_permit = decide(packet("a", "b", "tcp", 5432, "c-test")).json();
  EXPECT_EQ(would_permit["status"], "Permit");
  EXPECT_EQ(would_permit["attributes"]["would_be"], "Permit");
  EXPECT_TRUE(would_permit["policies"].contains("default-whitelist"));

  // SAFE: enforces what was deployed.
  EXPECT_EQ(verdict(packet("a", "b", "tcp", 5432, "c-safe")), "Permit allow_rule");
  EXPECT_EQ(verdict(packet("a", "b", "tcp", 5431, "c-safe")), "Deny drop_policy");
  auto safe = decide(packet("a", "b", "tcp", 5431, "c-safe")).json();
  EXPECT_EQ(safe["attributes"]["state"], "SAFE");
  EXPECT_EQ(safe["attributes"]["group"], "frozen");
  EXPECT_EQ(safe["attributes"]["subgroup"], "tc");

  // Without a cell every deployed version counts, enforced, whatever the groups' states.
  EXPECT_EQ(verdict(packet("a", "b", "tcp", 5431)), "Deny drop_policy");
  EXPECT_FALSE(decide(packet("a", "b", "tcp", 5431)).json()["attributes"].contains("state"));
}

TEST_F(Decision, UnknownOrUnassignedCell) {
  auto r = decide(packet("a", "b", "tcp", 5432, "nowhere"));
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(r.error_code(), "CELL_NOT_FOUND");
  heartbeat("lost", "ghost-group");
  auto lost = decide(packet("a", "b", "tcp", 5432, "lost"));
  EXPECT_EQ(lost.status, 409) << lost.body;
  EXPECT_EQ(lost.error_code(), "CELL_NOT_ASSIGNED");
}

TEST_F(Decision, AccountTokenSeesForeignAppsAsMissing) {
  const std::string acme = token({{"scopes", {"network.write"}}, {"accounts", {"acme"}}});
  ASSERT_FALSE(acme.empty());
  // Its own apps: answered.
  EXPECT_EQ(verdict(packet("x", "x2", "tcp", 443), acme), "Permit allow_rule");
  EXPECT_EQ(verdict(packet("x", "x2", "tcp", 444), acme), "Deny drop_policy");
  // A foreign app, as destination or source, is answered exactly as a missing one.
  for (const auto& [foreign, missing] :
       {std::pair{packet("x", "b", "tcp", 8080), packet("x", "zz", "tcp", 8080)},
        std::pair{packet("a", "x2", "tcp", 443), packet("zz", "x2", "tcp", 443)}}) {
    auto f = decide(foreign, acme);
    auto m = decide(missing, acme);
    ASSERT_EQ(f.status, 200) << f.body;
    ASSERT_EQ(m.status, 200) << m.body;
    std::string expected = m.body;
    const std::string zz = R"(\"zz\")";
    const std::string name = foreign["destination"] == "b" ? R"(\"b\")" : R"(\"a\")";
    ASSERT_NE(expected.find(zz), std::string::npos) << expected;
    expected.replace(expected.find(zz), zz.size(), name);
    EXPECT_EQ(f.body, expected);
    EXPECT_EQ(f.json()["status"], "Deny");
  }
  // The admin sees them.
  EXPECT_EQ(verdict(packet("x", "b", "tcp", 8080)), "Permit allow_wildcard");
}

TEST_F(Decision, Auth) {
  auto none = send(s().port(), request(packet("a", "b", "tcp", 5432)).dump(), "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.error_code(), "UNAUTHORIZED");
  EXPECT_EQ(none.headers["x-latestversion"], "1.0.0");
  auto bad = send(s().port(), request(packet("a", "b", "tcp", 5432)).dump(), "garbage");
  EXPECT_EQ(bad.status, 401);
  const std::string cell = token({{"scopes", {"cell"}}, {"cell", "cell-1"}});
  auto as_cell = send(s().port(), request(packet("a", "b", "tcp", 5432)).dump(), cell);
  EXPECT_EQ(as_cell.status, 403);
  EXPECT_EQ(as_cell.error_code(), "FORBIDDEN");
}

TEST_F(Decision, OnapHeaders) {
  const std::string body = request(packet("a", "b", "tcp", 5432)).dump();
  auto from_header = send(s().port(), body, s().admin_token(), {{"X-ONAP-RequestID", "h-7"}});
  EXPECT_EQ(from_header.headers["x-onap-requestid"], "h-7");
  auto from_body = send(s().port(), body, s().admin_token());
  EXPECT_EQ(from_body.headers["x-onap-requestid"], "r-1") << "the body's requestId";
  json anonymous = request(packet("a", "b", "tcp", 5432));
  anonymous.erase("requestId");
  auto generated = send(s().port(), anonymous.dump(), s().admin_token());
  EXPECT_EQ(generated.status, 200);
  EXPECT_EQ(generated.headers["x-onap-requestid"].size(), 36u);
  for (const HttpResult& r : {from_header, from_body, generated}) {
    EXPECT_EQ(r.headers.at("x-latestversion"), "1.0.0");
    EXPECT_EQ(r.headers.at("x-minorversion"), "0");
    EXPECT_EQ(r.headers.at("x-patchversion"), "0");
  }
  auto long_id =
      send(s().port(), body, s().admin_token(), {{"X-ONAP-RequestID", std::string(200, 'a')}});
  EXPECT_EQ(long_id.status, 400);
  EXPECT_EQ(long_id.error_code(), "INVALID_REQUEST_ID");
  EXPECT_EQ(long_id.headers["x-onap-requestid"].size(), 36u);
}

TEST_F(Decision, EveryMalformedInputHasItsCode) {
  auto with = [](const std::function<void(json&)>& edit) {
    json r = request(packet("a", "b", "tcp", 5432));
    edit(r);
    return r.dump();
  };
  struct Case {
    std::string body;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"{", "INVALID_JSON"},
      {"", "INVALID_JSON"},
      {"[]", "INVALID_BODY"},
      {"{}", "MISSING_FIELD"},
      {with([](json& r) { r.erase("ONAPName"); }), "MISSING_FIELD"},
      {with([](json& r) { r.erase("action"); }), "MISSING_FIELD"},
      {with([](json& r) { r.erase("resource"); }), "MISSING_FIELD"},
      {with([](json& r) { r["context"] = json::object(); }), "UNKNOWN_FIELD"},
      {with([](json& r) { r["ONAPName"] = 1; }), "INVALID_FIELD_TYPE"},
      {with([](json& r) { r["ONAPComponent"] = nullptr; }), "INVALID_FIELD_TYPE"},
      {with([](json& r) { r["ONAPInstance"] = std::string(300, 'i'); }), "FIELD_TOO_LONG"},
      {with([](json& r) { r["requestId"] = ""; }), "INVALID_REQUEST_ID"},
      {with([](json& r) { r["requestId"] = "has space"; }), "INVALID_REQUEST_ID"},
      {with([](json& r) { r["requestId"] = 7; }), "INVALID_FIELD_TYPE"},
      {with([](json& r) { r["action"] = "guard"; }), "INVALID_ACTION"},
      {with([](json& r) { r["action"] = "configure"; }), "INVALID_ACTION"},
      {with([](json& r) { r["action"] = 5; }), "INVALID_FIELD_TYPE"},
      {with([](json& r) { r["resource"] = json::array(); }), "INVALID_FIELD_TYPE"},
      {with([](json& r) { r["resource"].erase("destination"); }), "MISSING_FIELD"},
      {with([](json& r) { r["resource"].erase("protocol"); }), "MISSING_FIELD"},
      {with([](json& r) { r["resource"]["reply"] = true; }), "UNKNOWN_FIELD"},
      {with([](json& r) { r["resource"]["policy-id"] = "x"; }), "UNKNOWN_FIELD"},
      {with([](json& r) { r["resource"]["source"] = "*"; }), "INVALID_SOURCE"},
      {with([](json& r) { r["resource"]["source"] = "a b"; }), "INVALID_GUID"},
      {with([](json& r) { r["resource"]["source"] = 5; }), "INVALID_FIELD_TYPE"},
      {with([](json& r) { r["resource"]["destination"] = ""; }), "INVALID_GUID"},
      {with([](json& r) { r["resource"]["destination"] = nullptr; }), "INVALID_FIELD_TYPE"},
      {with([](json& r) { r["resource"]["protocol"] = "any"; }), "INVALID_PROTOCOL"},
      {with([](json& r) { r["resource"]["protocol"] = "256"; }), "INVALID_PROTOCOL"},
      {with([](json& r) { r["resource"]["protocol"] = "TCP"; }), "INVALID_PROTOCOL"},
      {with([](json& r) { r["resource"]["protocol"] = 6; }), "INVALID_FIELD_TYPE"},
      {with([](json& r) { r["resource"]["port"] = "5432"; }), "INVALID_FIELD_TYPE"},
      {with([](json& r) { r["resource"]["port"] = 5432.5; }), "INVALID_FIELD_TYPE"},
      {with([](json& r) { r["resource"]["port"] = 65536; }), "INVALID_PORT"},
      {with([](json& r) { r["resource"]["port"] = -1; }), "INVALID_PORT"},
      {with([](json& r) { r["resource"].erase("port"); }), "MISSING_FIELD"},
      {with([](json& r) { r["resource"]["protocol"] = "icmp"; }), "INVALID_PORT"},
      {with([](json& r) { r["resource"]["protocol"] = "132"; }), "INVALID_PORT"},
      {with([](json& r) { r["resource"]["cell"] = "a b"; }), "INVALID_CELL_NAME"},
      {with([](json& r) { r["resource"]["cell"] = 1; }), "INVALID_FIELD_TYPE"},
  };
  for (const Case& c : cases) {
    auto r = send(s().port(), c.body, s().admin_token());
    EXPECT_EQ(r.status, 400) << c.body << " → " << r.body;
    EXPECT_EQ(r.error_code(), c.code) << c.body << " → " << r.body;
  }
}

// api/decision.yaml's examples: each request file sent in order gets its response file.
TEST(DecisionExamples, EveryExampleIsWhatTheServerAnswers) {
  TempDir dir;
  ServerProcess s(dir.path() / "data");
  ASSERT_TRUE(s.started());
  for (const char* guid : {"billing", "orders", "postgres"})
    ASSERT_EQ(s.post("/app", json{{"guid", guid}}.dump()).status, 201);
  json e = {{"source", "orders"},
            {"destination", "postgres"},
            {"protocol", "tcp"},
            {"ports", {{"start", 5432}, {"end", 5432}}}};
  ASSERT_EQ(s.post("/whitelist", e.dump()).status, 201);
  const std::string doc = read_api_file("decision.yaml");
  for (const char* name : {"decision-permit", "decision-deny", "decision-untagged"}) {
    const std::string req = std::string("examples/") + name + ".request.json";
    const std::string res = std::string("examples/") + name + ".response.json";
    EXPECT_NE(doc.find(req), std::string::npos) << req << " is in api/decision.yaml";
    EXPECT_NE(doc.find(res), std::string::npos) << res << " is in api/decision.yaml";
    auto r = send(s.port(), read_api_file(req), s.admin_token());
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json(), json::parse(read_api_file(res))) << name << ": " << r.body;
  }
  auto bad =
      send(s.port(), read_api_file("examples/decision-bad-action.request.json"), s.admin_token());
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json(), json::parse(read_api_file("examples/decision-bad-action.response.json")));
  EXPECT_NE(doc.find("examples/decision-bad-action.response.json"), std::string::npos);
  int files = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(WIRETAG_API_DIR) + "/examples")) {
    const std::string file = entry.path().filename().string();
    if (file.rfind("decision-", 0) != 0) continue;
    ++files;
    EXPECT_NE(doc.find("examples/" + file), std::string::npos) << file << " is not in the doc";
  }
  EXPECT_EQ(files, 8);
}

struct CliRun {
  int status = -1;
  std::string output;  // stdout and stderr
};

// `wiretag <args>` against the test's server, with its admin token.
CliRun wiretag_cli(const ServerProcess& s, const std::filesystem::path& data_dir,
                   const std::string& args) {
  const std::string cmd = "WIRETAG_SERVER=http://127.0.0.1:" + std::to_string(s.port()) +
                          " WIRETAG_DATA_DIR=" + data_dir.string() + " " + WIRETAG_CLI_BIN + " " +
                          args + " 2>&1";
  CliRun out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.output.append(buf, n);
  const int st = ::pclose(p);
  out.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

TEST_F(Decision, CliDecide) {
  const auto data = dir_.path() / "data";
  auto permit = wiretag_cli(s(), data, "decide --from a --to b --proto tcp --port 5432");
  EXPECT_EQ(permit.status, 0) << permit.output;
  EXPECT_NE(permit.output.find("Permit  allow_rule"), std::string::npos) << permit.output;
  auto deny = wiretag_cli(s(), data, "decide --from a --to b --port 5431");
  EXPECT_EQ(deny.status, 0) << "a Deny is an answer, not an error: " << deny.output;
  EXPECT_NE(deny.output.find("Deny"), std::string::npos) << deny.output;
  auto as_json = wiretag_cli(s(), data, "decide --from c --to b --port 8080 -o json");
  ASSERT_EQ(as_json.status, 0) << as_json.output;
  json j = json::parse(as_json.output, nullptr, false);
  ASSERT_TRUE(j.is_object()) << as_json.output;
  EXPECT_EQ(j["status"], "Permit");
  EXPECT_TRUE(j["policies"].contains(public_id_));
  auto as_yaml = wiretag_cli(s(), data, "decide --untagged --to b --proto icmp -o yaml");
  EXPECT_EQ(as_yaml.status, 0) << as_yaml.output;
  EXPECT_NE(as_yaml.output.find("status: Permit"), std::string::npos) << as_yaml.output;
  EXPECT_NE(as_yaml.output.find("verdict_reason: allow_untagged"), std::string::npos);

  heartbeat("c-test", "canary");
  group("canary", "TEST");
  deploy("canary", "default-whitelist", "1.0.0");
  auto audit = wiretag_cli(s(), data, "decide --from a --to b --port 5431 --cell c-test");
  EXPECT_EQ(audit.status, 0) << audit.output;
  EXPECT_NE(audit.output.find("Permit (enforced: Deny)"), std::string::npos) << audit.output;

  auto no_cell = wiretag_cli(s(), data, "decide --from a --to b --port 1 --cell nowhere");
  EXPECT_EQ(no_cell.status, 1) << no_cell.output;
  EXPECT_NE(no_cell.output.find("CELL_NOT_FOUND"), std::string::npos) << no_cell.output;
  auto bad = wiretag_cli(s(), data, "decide --from a --to b --proto any --port 1");
  EXPECT_EQ(bad.status, 1) << bad.output;
  EXPECT_NE(bad.output.find("INVALID_PROTOCOL"), std::string::npos) << bad.output;
  EXPECT_EQ(wiretag_cli(s(), data, "decide --to b --port 1").status, 2) << "no --from";
  EXPECT_EQ(wiretag_cli(s(), data, "decide --from a --untagged --to b --port 1").status, 2);
}

}  // namespace
}  // namespace wiretag::test
