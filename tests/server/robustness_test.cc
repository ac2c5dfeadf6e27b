// The rest of issue 3's test list over real HTTP: bad-input tables for the endpoints the
// other files leave out, concurrent registration of the same apps, and kill -9 during
// concurrent multi-row writes, checked against a replay of the change log.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "server_process.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

struct BadInput {
  std::string name;
  std::string method;
  std::string target;
  std::string body;
  int status;
  std::string error_code;
};

// Every change since revision 0, following the log page by page.
json all_changes(const ServerProcess& s) {
  json out = json::array();
  int64_t since = 0;
  for (;;) {
    auto page = s.get("/internal/v1/changes?since=" + std::to_string(since)).json();
    if (!page.is_object() || page["changes"].empty()) break;
    for (auto& c : page["changes"]) out.push_back(c);
    since = out.back()["revision"];
  }
  return out;
}

// What a client can observe: apps with tags, every app's rules, every account's policies
// and tokens' effect (the revision). Equal snapshots = nothing changed.
json snapshot(const ServerProcess& s, const std::vector<std::string>& accounts) {
  json snap;
  snap["apps"] = s.get("/apps").json();
  snap["revision"] = s.get("/internal/v1/changes").json()["revision"];
  for (const auto& app : snap["apps"]["apps"]) {
    std::string guid = app["guid"];
    snap["whitelists"][guid] = s.get("/app/" + guid + "/whitelist?detail=rules").json();
  }
  for (const std::string& a : accounts)
    snap["policies"][a] = s.get("/v1/accounts/" + a + "/policies").json();
  snap["tokens"] = json::array();  // which exist (their last use moves on by itself)
  for (const auto& t : s.get("/v1/tokens").json()["tokens"]) snap["tokens"].push_back(t["id"]);
  return snap;
}

void expect_rejected_without_change(const ServerProcess& s, const std::vector<BadInput>& cases,
                                    const std::vector<std::string>& accounts,
                                    const std::string& token = "") {
  for (const BadInput& c : cases) {
    SCOPED_TRACE(c.name);
    json before = snapshot(s, accounts);
    auto r = token.empty() ? s.request(c.method, c.target, c.body)
                           : s.request(c.method, c.target, c.body, token);
    EXPECT_EQ(r.status, c.status) << r.body;
    EXPECT_EQ(r.error_code(), c.error_code) << r.body;
    auto j = r.json();
    ASSERT_TRUE(j.is_array() && j.size() == 1) << r.body;
    EXPECT_EQ(j[0].size(), 2u) << "only error_code and message";
    EXPECT_TRUE(j[0]["message"].is_string() && !j[0]["message"].get<std::string>().empty());
    EXPECT_EQ(snapshot(s, accounts), before);
  }
}

class Robustness : public ::testing::Test {
 protected:
  void start() {
    server_.reset();  // one server per SQLite data dir: the old one ends first
    server_ = std::make_unique<ServerProcess>(dir_.path() / "data");
    ASSERT_TRUE(server_->started()) << "see " << server_->output_file();
  }
  void SetUp() override { start(); }
  ServerProcess& s() { return *server_; }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(Robustness, TokensRejectBadInputAndChangeNothing) {
  auto issued = s().post("/v1/tokens", R"({"scopes":["network.write"],"accounts":["acme"]})");
  ASSERT_EQ(issued.status, 201) << issued.body;
  const std::string before_token = issued.json()["token"];
  std::vector<BadInput> cases = {
      {"malformed json", "POST", "/v1/tokens", R"({"scopes":[)", 400, "INVALID_JSON"},
      {"not an object", "POST", "/v1/tokens", R"(["network.admin"])", 400, "INVALID_BODY"},
      {"missing scopes", "POST", "/v1/tokens", R"({"accounts":["a"]})", 400, "MISSING_FIELD"},
      {"unknown field", "POST", "/v1/tokens", R"({"scopes":[],"ttl":5})", 400, "UNKNOWN_FIELD"},
      {"scopes not array", "POST", "/v1/tokens", R"({"scopes":"network.admin"})", 400,
       "INVALID_FIELD_TYPE"},
      {"scope not string", "POST", "/v1/tokens", R"({"scopes":[1]})", 400, "INVALID_FIELD_TYPE"},
      {"unknown scope", "POST", "/v1/tokens", R"({"scopes":["root"]})", 400, "INVALID_SCOPE"},
      {"bad account", "POST", "/v1/tokens", R"({"scopes":["network.write"],"accounts":["a b"]})",
       400, "INVALID_ACCOUNT"},
      {"description not string", "POST", "/v1/tokens", R"({"scopes":[],"description":7})", 400,
       "INVALID_FIELD_TYPE"},
      {"oversize", "POST", "/v1/tokens", std::string((1 << 20) + 1, ' '), 400, "BODY_TOO_LARGE"},
      {"wrong method", "PUT", "/v1/tokens", "", 405, "METHOD_NOT_ALLOWED"},
      {"cell token without its cell", "POST", "/v1/tokens", R"({"scopes":["cell"]})", 400,
       "MISSING_FIELD"},
      {"cell for another scope", "POST", "/v1/tokens",
       R"({"scopes":["network.write"],"accounts":["acme"],"cell":"c1"})", 400,
       "INVALID_FIELD_COMBINATION"},
      {"bad cell name", "POST", "/v1/tokens", R"({"scopes":["cell"],"cell":"a b"})", 400,
       "INVALID_CELL_NAME"},
      {"empty cell name", "POST", "/v1/tokens", R"({"scopes":["cell"],"cell":""})", 400,
       "INVALID_CELL_NAME"},
      {"cell not string", "POST", "/v1/tokens", R"({"scopes":["cell"],"cell":7})", 400,
       "INVALID_FIELD_TYPE"},
      {"expires_in zero", "POST", "/v1/tokens", R"({"scopes":[],"expires_in":0})", 400,
       "INVALID_EXPIRES_IN"},
      {"expires_in negative", "POST", "/v1/tokens", R"({"scopes":[],"expires_in":-5})", 400,
       "INVALID_EXPIRES_IN"},
      {"expires_in too far", "POST", "/v1/tokens", R"({"scopes":[],"expires_in":1e12})", 400,
       "INVALID_FIELD_TYPE"},
      {"expires_in huge", "POST", "/v1/tokens", R"({"scopes":[],"expires_in":99999999999})", 400,
       "INVALID_EXPIRES_IN"},
      {"expires_in not integer", "POST", "/v1/tokens", R"({"scopes":[],"expires_in":"1h"})", 400,
       "INVALID_FIELD_TYPE"},
      {"revoke unknown id", "DELETE", "/v1/tokens/0123456789abcdef", "", 404, "TOKEN_NOT_FOUND"},
      {"rotate with a body", "POST", "/v1/tokens/rotate-admin", "{}", 400, "INVALID_BODY"},
      {"a NUL byte, then more", "POST", "/v1/tokens",
       std::string(R"({"scopes":["network.admin"]})") + std::string(1, '\0') + "garbage", 400,
       "INVALID_JSON"},
      {"admin limited to accounts", "POST", "/v1/tokens",
       R"({"scopes":["network.admin"],"accounts":["acme"]})", 400, "INVALID_FIELD_COMBINATION"},
      {"admin and writer limited to accounts", "POST", "/v1/tokens",
       R"({"scopes":["network.admin","network.write"],"accounts":["acme"]})", 400,
       "INVALID_FIELD_COMBINATION"},
      {"accounts without network.write", "POST", "/v1/tokens",
       R"({"scopes":["metrics"],"accounts":["acme"]})", 400, "INVALID_FIELD_COMBINATION"},
      {"cell token that is an admin", "POST", "/v1/tokens",
       R"({"scopes":["cell","network.admin"],"cell":"c1"})", 400, "INVALID_FIELD_COMBINATION"},
      {"cell token that is a writer", "POST", "/v1/tokens",
       R"({"scopes":["cell","network.write"],"cell":"c1","accounts":["acme"]})", 400,
       "INVALID_FIELD_COMBINATION"},
  };
  expect_rejected_without_change(s(), cases, {"acme"});
  // An account token may not issue tokens, and nothing is written when it tries.
  expect_rejected_without_change(
      s(),
      {{"not admin", "POST", "/v1/tokens", R"({"scopes":["network.admin"]})", 403, "FORBIDDEN"},
       {"not admin lists", "GET", "/v1/tokens", "", 403, "FORBIDDEN"},
       {"not admin revokes", "DELETE", "/v1/tokens/" + issued.json()["id"].get<std::string>(), "",
        403, "FORBIDDEN"},
       {"not admin rotates", "POST", "/v1/tokens/rotate-admin", "", 403, "FORBIDDEN"}},
      {"acme"}, before_token);
}

TEST_F(Robustness, PolicyKeysRejectBadInputAndChangeNothing) {
  const std::string keys = "/v1/accounts/acme/policy_keys";
  std::vector<BadInput> cases = {
      {"malformed json", "POST", keys, "{", 400, "INVALID_JSON"},
      {"not an object", "POST", keys, "[]", 400, "INVALID_BODY"},
      {"missing name", "POST", keys, R"({"rules":[]})", 400, "MISSING_FIELD"},
      {"missing rules", "POST", keys, R"({"name":"n"})", 400, "MISSING_FIELD"},
      {"unknown field", "POST", keys, R"({"name":"n","rules":[],"z":1})", 400, "UNKNOWN_FIELD"},
      {"name wrong type", "POST", keys, R"({"name":[],"rules":[]})", 400, "INVALID_FIELD_TYPE"},
      {"rule not object", "POST", keys, R"({"name":"n","rules":["a"]})", 400, "INVALID_FIELD_TYPE"},
      {"rule bad guid", "POST", keys,
       R"({"name":"n","rules":[{"source":"a","destination":"b/c"}]})", 400, "INVALID_GUID"},
      {"icmp with ports", "POST", keys,
       R"({"name":"n","rules":[{"source":"a","destination":"b","protocol":"icmp","ports":{"start":1}}]})",
       400, "INVALID_RULE"},
      {"reserved name", "POST", keys, R"({"name":"default-whitelist","rules":[]})", 409,
       "POLICY_EXISTS"},
      {"bad account", "POST", "/v1/accounts/a%20b/policy_keys", R"({"name":"n","rules":[]})", 400,
       "INVALID_ACCOUNT"},
      {"oversize", "POST", keys, std::string((1 << 20) + 1, '{'), 400, "BODY_TOO_LARGE"},
      {"garbage key", "GET", keys + "/not-a-key", "", 404, "INVALID_POLICY_KEY"},
      {"empty-ish key", "GET", keys + "/A", "", 404, "INVALID_POLICY_KEY"},
      {"from garbage key", "POST", "/v1/accounts/acme/policies", R"({"policy_key":"AAAA"})", 404,
       "INVALID_POLICY_KEY"},
      {"from key, null", "POST", "/v1/accounts/acme/policies", R"({"policy_key":null})", 400,
       "INVALID_FIELD_TYPE"},
      {"wrong method", "DELETE", keys, "", 405, "METHOD_NOT_ALLOWED"},
  };
  expect_rejected_without_change(s(), cases, {"acme"});
}

TEST_F(Robustness, PolicyPathsAndPatchRejectBadInputAndChangeNothing) {
  auto created = s().post("/v1/accounts/acme/policies", R"({"name":"keep","rules":[]})");
  ASSERT_EQ(created.status, 201);
  const std::string one =
      "/v1/accounts/acme/policies/" + created.json()["result"]["id"].get<std::string>();
  std::vector<BadInput> cases = {
      {"patch malformed", "PATCH", one, R"({"name":)", 400, "INVALID_JSON"},
      {"patch not object", "PATCH", one, "5", 400, "INVALID_BODY"},
      {"patch unknown field", "PATCH", one, R"({"version":7})", 400, "UNKNOWN_FIELD"},
      {"patch empty name", "PATCH", one, R"({"name":""})", 400, "INVALID_NAME"},
      {"patch empty refid", "PATCH", one, R"({"refid":""})", 400, "INVALID_REFID"},
      {"patch reserved name", "PATCH", one, R"({"name":"default-whitelist"})", 409,
       "POLICY_EXISTS"},
      {"patch ports wrong type", "PATCH", one,
       R"({"rules":[{"source":"a","destination":"b","protocol":"tcp","ports":[1,2]}]})", 400,
       "INVALID_FIELD_TYPE"},
      {"patch unknown", "PATCH", "/v1/accounts/acme/policies/nope", R"({"name":"x"})", 404,
       "POLICY_NOT_FOUND"},
      {"put malformed", "PUT", one, "{{", 400, "INVALID_JSON"},
      {"put missing name", "PUT", one, R"({"rules":[]})", 400, "MISSING_FIELD"},
      {"put oversize", "PUT", one, std::string((1 << 20) + 1, ' '), 400, "BODY_TOO_LARGE"},
      {"delete unknown", "DELETE", "/v1/accounts/acme/policies/nope", "", 404, "POLICY_NOT_FOUND"},
      {"delete bad account", "DELETE", "/v1/accounts/a*b/policies/x", "", 400, "INVALID_ACCOUNT"},
      {"list bad account", "GET", "/v1/accounts/a%20b/policies", "", 400, "INVALID_ACCOUNT"},
      {"bad percent-encoding", "GET", "/v1/accounts/acme/policies/%zz", "", 400, "INVALID_PATH"},
  };
  expect_rejected_without_change(s(), cases, {"acme"});
}

TEST_F(Robustness, AppsListAndDuplicatesRejectBadInputAndChangeNothing) {
  ASSERT_EQ(s().post("/app", R"({"guid":"mine","account":"team-x"})").status, 201);
  std::vector<BadInput> cases = {
      {"same guid, other account", "POST", "/app", R"({"guid":"mine"})", 409, "APP_EXISTS"},
      {"same guid, named other account", "POST", "/app", R"({"guid":"mine","account":"team-y"})",
       409, "APP_EXISTS"},
      {"list bad account", "GET", "/apps?account=a%20b", "", 400, "INVALID_ACCOUNT"},
      {"get bad guid", "GET", "/app/" + std::string(129, 'g'), "", 400, "INVALID_GUID"},
      {"whitelist wrong method", "PUT", "/whitelist", "", 405, "METHOD_NOT_ALLOWED"},
  };
  expect_rejected_without_change(s(), cases, {"team-x"});
  auto health = s().get("/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.json()["status"], "ok");
  EXPECT_TRUE(health.json()["revision"].is_number_integer());
}

TEST_F(Robustness, ConcurrentClientsRegisteringTheSameAppsAgreeOnOneTagEach) {
  constexpr int kClients = 32, kApps = 16;
  std::vector<std::map<std::string, std::string>> seen(kClients);  // guid -> wire_bytes
  std::atomic<int> created{0}, failures{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < kApps; ++i) {
        std::string guid = "shared-" + std::to_string((i + c) % kApps);
        auto r = s().post("/app", json{{"guid", guid}}.dump());
        if (r.status == 201)
          ++created;
        else if (r.status != 200)
          ++failures;
        if (r.status == 200 || r.status == 201)
          seen[c][guid] = r.json()["wire_bytes"].get<std::string>();
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(created, kApps) << "exactly one 201 per app";
  std::set<std::string> tags;
  for (int i = 0; i < kApps; ++i) {
    std::string guid = "shared-" + std::to_string(i);
    std::string tag = seen[0][guid];
    for (int c = 1; c < kClients; ++c) EXPECT_EQ(seen[c][guid], tag) << guid;
    tags.insert(tag);
  }
  EXPECT_EQ(tags.size(), size_t{kApps});
  EXPECT_EQ(s().get("/apps").json()["apps"].size(), size_t{kApps});
  EXPECT_EQ(s().get("/internal/v1/changes").json()["revision"], kApps);
}

// The state a replay of the change log gives: apps with tags, edges by destination.
struct Replayed {
  std::map<std::string, std::string> apps;                  // guid -> wire_bytes
  std::map<std::string, std::multiset<std::string>> edges;  // destination -> sources
  std::map<std::string, int64_t> policy_versions;           // id -> version
};

Replayed replay(const json& changes) {
  Replayed out;
  for (const auto& c : changes) {
    const std::string kind = c["kind"];
    const json& b = c["body"];
    if (kind == "app.created") {
      out.apps[b["guid"].get<std::string>()] = b["wire_bytes"].get<std::string>();
    } else if (kind == "app.deleted") {
      const std::string guid = b["guid"].get<std::string>();
      out.apps.erase(guid);
      out.edges.erase(guid);
      for (auto& [dst, sources] : out.edges) sources.erase(guid);
    } else if (kind == "edge.created") {
      out.edges[b["destination"].get<std::string>()].insert(b["source"].get<std::string>());
    } else if (kind == "edge.deleted") {
      auto& sources = out.edges[b["destination"].get<std::string>()];
      if (auto it = sources.find(b["source"].get<std::string>()); it != sources.end())
        sources.erase(it);
    } else if (kind == "policy.created" || kind == "policy.updated") {
      out.policy_versions[b["id"].get<std::string>()] = b["version"].get<int64_t>();
    } else if (kind == "policy.deleted") {
      out.policy_versions.erase(b["id"].get<std::string>());
    }
  }
  return out;
}

TEST_F(Robustness, Kill9DuringConcurrentMultiRowWritesLosesNoAcknowledgedWriteAndHalvesNothing) {
  constexpr int kWriters = 8;
  // Per writer: its own apps w<t>-<i>, an edge from each app to the next, every third app
  // deleted again (with its edges, one transaction), and one policy patched every round.
  struct Acked {
    std::map<std::string, std::string> apps;              // registered, not (acked) deleted
    std::set<std::string> deleted;                        // acked deletes
    std::set<std::pair<std::string, std::string>> edges;  // source, destination
    std::string policy_id;
    int64_t policy_version = 0;
    std::string in_flight;  // the guid a write was about at the kill
  };
  std::vector<Acked> acked(kWriters);
  std::atomic<bool> stop{false};
  std::atomic<int> total{0}, running{kWriters};
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&, t] {
      struct Done {
        std::atomic<int>& n;
        ~Done() { --n; }
      } done{running};
      Acked& a = acked[t];
      const std::string policies = "/v1/accounts/acme/policies";
      auto p = s().post(policies, R"({"name":"v0","rules":[]})");
      if (p.status != 201) return;
      a.policy_id = p.json()["result"]["id"].get<std::string>();
      a.policy_version = 1;
      for (int i = 0; !stop; ++i) {
        const std::string guid = "w" + std::to_string(t) + "-" + std::to_string(i);
        a.in_flight = guid;
        auto r = s().post("/app", json{{"guid", guid}}.dump());
        if (r.status != 201) return;
        a.apps[guid] = r.json()["wire_bytes"].get<std::string>();
        ++total;
        if (i > 0) {
          const std::string prev = "w" + std::to_string(t) + "-" + std::to_string(i - 1);
          if (a.apps.count(prev)) {
            auto e = s().post("/whitelist", json{{"source", prev}, {"destination", guid}}.dump());
            if (e.status != 201) return;
            a.edges.insert({prev, guid});
            ++total;
          }
        }
        if (i % 3 == 2) {
          const std::string victim = "w" + std::to_string(t) + "-" + std::to_string(i - 1);
          a.in_flight = victim;
          if (s().request("DELETE", "/app/" + victim).status != 200) return;
          a.apps.erase(victim);
          a.deleted.insert(victim);
          ++total;
        }
        a.in_flight = "policy";
        auto patched = s().request("PATCH", policies + "/" + a.policy_id,
                                   json{{"name", "v" + std::to_string(i + 1)}}.dump());
        if (patched.status != 200) return;
        a.policy_version = patched.json()["result"]["version"].get<int64_t>();
        ++total;
        a.in_flight.clear();
      }
    });
  }
  while (total < 400 && running > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const bool enough = total >= 400;
  s().kill_hard();
  stop = true;
  for (auto& w : writers) w.join();
  ASSERT_TRUE(enough) << "the writers stopped early; see " << s().output_file();
  start();

  // The stored state, as a client sees it.
  std::map<std::string, std::string> apps;
  const json listed = s().get("/apps").json();
  for (const auto& app : listed["apps"])
    apps[app["guid"].get<std::string>()] = app["wire_bytes"].get<std::string>();
  std::map<std::string, std::multiset<std::string>> edges;
  for (const auto& [guid, wire] : apps) {
    auto wl = s().get("/app/" + guid + "/whitelist?detail=rules").json();
    for (const auto& rule : wl["rules"]) edges[guid].insert(rule["source"].get<std::string>());
  }
  std::map<std::string, int64_t> versions;
  for (const auto& p : s().get("/v1/accounts/acme/policies").json())
    versions[p["id"].get<std::string>()] = p["version"].get<int64_t>();

  // Every acknowledged write is there (the one write in flight at the kill may or may not be).
  for (const Acked& a : acked) {
    for (const auto& [guid, wire] : a.apps) {
      if (guid == a.in_flight) continue;
      ASSERT_TRUE(apps.count(guid)) << guid << " was acknowledged but is gone";
      EXPECT_EQ(apps[guid], wire);
    }
    for (const std::string& gone : a.deleted) EXPECT_FALSE(apps.count(gone)) << gone;
    for (const auto& [src, dst] : a.edges) {
      if (src == a.in_flight || dst == a.in_flight) continue;
      if (a.deleted.count(src) || a.deleted.count(dst)) continue;  // went with the app
      EXPECT_TRUE(edges[dst].count(src)) << src << " -> " << dst << " was acknowledged";
    }
    if (!a.policy_id.empty()) {
      ASSERT_TRUE(versions.count(a.policy_id));
      EXPECT_GE(versions[a.policy_id], a.policy_version);
      EXPECT_LE(versions[a.policy_id], a.policy_version + 1);
    }
  }
  // Nothing half-written: no edge outlives its app, and the state is exactly what the
  // change log says, every revision present once (each write and its log entry committed
  // together or not at all).
  for (const auto& [dst, sources] : edges)
    for (const std::string& src : sources) EXPECT_TRUE(apps.count(src)) << src << " -> " << dst;
  json changes = all_changes(s());
  ASSERT_FALSE(changes.empty());
  for (size_t i = 0; i < changes.size(); ++i) ASSERT_EQ(changes[i]["revision"], int64_t(i + 1));
  EXPECT_EQ(s().get("/internal/v1/changes").json()["revision"], int64_t(changes.size()));
  Replayed r = replay(changes);
  EXPECT_EQ(r.apps, apps);
  for (auto it = r.edges.begin(); it != r.edges.end();)
    it = it->second.empty() ? r.edges.erase(it) : std::next(it);
  EXPECT_EQ(r.edges, edges);
  EXPECT_EQ(r.policy_versions, versions);
}

}  // namespace
}  // namespace wiretag::test
