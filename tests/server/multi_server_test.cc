// --db: the server on PostgreSQL, and several servers on one database (issue 20), against the
// real binary and a private PostgreSQL cluster (pg_cluster.h) the test starts itself.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "pg_cluster.h"
#include "server_process.h"
#include "temp_dir.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

// The cluster must start: no PostgreSQL is a failure, never a skip.
std::string fresh_database() {
  PgCluster& cluster = PgCluster::shared();
  EXPECT_TRUE(cluster.started()) << cluster.error();
  if (!cluster.started()) return "";
  auto url = cluster.create_database();
  EXPECT_TRUE(url) << url.error().message;
  return url ? *url : "";
}

TEST(DbFlag, ABadUrlOrAnUnreachableDatabaseExitsWith2) {
  TempDir dir;
  const std::string data = (dir.path() / "data").string();
  EXPECT_EQ(ServerProcess::run_to_exit({"--data-dir", data, "--db", "mysql://localhost/x"}), 2);
  EXPECT_EQ(ServerProcess::run_to_exit({"--data-dir", data, "--db", "postgresql://%zz"}), 2);
  EXPECT_EQ(ServerProcess::run_to_exit({"--data-dir", data, "--db",
                                        "postgresql://wiretag@/x?host=" + dir.path().string() +
                                            "/no-socket-here&connect_timeout=5"}),
            2);
  EXPECT_EQ(ServerProcess::run_to_exit(
                {"--data-dir", data, "--db", "postgres://127.0.0.1:1/x?connect_timeout=5"}),
            2);
}

TEST(DbFlag, TheStoreIsTheDatabaseNotTheDataDir) {
  const std::string db = fresh_database();
  ASSERT_FALSE(db.empty());
  TempDir dir;
  std::string token;
  std::string wire;
  {
    ServerProcess a(dir.path() / "a", {"--db", db});
    ASSERT_TRUE(a.started()) << a.output_file();
    token = a.admin_token();
    auto r = a.post("/app", R"({"guid":"app1"})");
    ASSERT_EQ(r.status, 201) << r.body;
    wire = r.json()["wire_bytes"];
  }
  // Another data dir, the same database: the app (and the admin token) are there.
  ServerProcess b(dir.path() / "b", {"--db", db});
  ASSERT_TRUE(b.started()) << b.output_file();
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "b" / "wiretag.db"));
  auto r = http_request(b.port(), "POST", "/app", R"({"guid":"app1"})", token);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["wire_bytes"], wire);
}

constexpr const char* kPapUser = "alice:wonderland";

// Two servers on one database, the second using the first's admin token.
class TwoServers : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = fresh_database();
    ASSERT_FALSE(db_.empty());
    // One policy-key secret for both, given by configuration.
    const std::string secret = (dir_.path() / "policy-key-secret").string();
    std::ofstream(secret) << std::string(64, 'a').replace(0, 8, "0123abcd") << "\n";
    // One PAP user for both, also by configuration.
    const std::string pap_users = (dir_.path() / "pap-users").string();
    std::ofstream(pap_users) << kPapUser << "\n";
    std::vector<std::string> flags = {
        "--db", db_, "--policy-key-file", secret, "--pap-credentials-file", pap_users};
    for (const std::string& f : extra_flags()) flags.push_back(f);
    a_ = std::make_unique<ServerProcess>(dir_.path() / "a", flags);
    ASSERT_TRUE(a_->started()) << a_->output_file();
    b_ = std::make_unique<ServerProcess>(dir_.path() / "b", flags);
    ASSERT_TRUE(b_->started()) << b_->output_file();
  }
  HttpResult on(ServerProcess& s, const std::string& method, const std::string& target,
                const std::string& body = "") {
    return http_request(s.port(), method, target, body, a_->admin_token());
  }
  virtual std::vector<std::string> extra_flags() const { return {}; }
  // GET on the PAP API (basic auth).
  json pap(ServerProcess& s, const std::string& path) {
    auto r = http_request_authorized(s.port(), "GET", "/policy/pap/v1" + path, "",
                                     "Basic YWxpY2U6d29uZGVybGFuZA==");  // kPapUser
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    return r.json();
  }
  bool until_watching(ServerProcess& s, size_t n) {
    for (int i = 0; i < 2000; ++i) {
      if (on(s, "GET", "/internal/v1/status").json().value("watches", size_t{0}) >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  TempDir dir_;
  std::string db_;
  std::unique_ptr<ServerProcess> a_, b_;
};

TEST_F(TwoServers, AWriteOnOneServerWakesTheWatchHeldOnTheOther) {
  ASSERT_EQ(on(*a_, "POST", "/app", R"({"guid":"src"})").status, 201);
  ASSERT_EQ(on(*a_, "POST", "/app", R"({"guid":"dst"})").status, 201);
  const auto src_wire = on(*a_, "POST", "/app", R"({"guid":"src"})").json()["wire_bytes"];
  const int64_t rev = on(*a_, "GET", "/internal/v1/status").json()["revision"].get<int64_t>();
  auto pending = std::async(std::launch::async, [&] {
    return on(*b_, "GET", "/internal/v1/watch?since=" + std::to_string(rev) + "&timeout=120");
  });
  ASSERT_TRUE(until_watching(*b_, 1));
  ASSERT_EQ(on(*a_, "POST", "/whitelist", R"({"source":"src","destination":"dst"})").status, 201);
  auto r = pending.get();
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = r.json();
  EXPECT_EQ(j["revision"], rev + 1);
  ASSERT_EQ(j["events"].size(), 1u) << r.body;
  EXPECT_EQ(j["events"][0]["kind"], "edge.created");
  EXPECT_EQ(j["events"][0]["body"]["source"], "src");
  // B's in-memory index has caught up too: its whitelist of dst names src.
  EXPECT_EQ(on(*b_, "GET", "/app/dst/whitelist").json(),
            (json{{"allowed_wire_bytes", json::array({src_wire})}}));
}

TEST_F(TwoServers, ConcurrentRegistrationsOnBothGetDistinctTagsAndOneRevisionEach) {
  constexpr int kPerServer = 40;
  auto register_on = [&](ServerProcess* s, std::string prefix) {
    std::vector<std::string> wires;
    for (int i = 0; i < kPerServer; ++i) {
      auto r = on(*s, "POST", "/app", json{{"guid", prefix + std::to_string(i)}}.dump());
      EXPECT_EQ(r.status, 201) << r.body;
      wires.push_back(r.json().value("wire_bytes", ""));
    }
    return wires;
  };
  auto from_a = std::async(std::launch::async, register_on, a_.get(), "a-");
  auto from_b = std::async(std::launch::async, register_on, b_.get(), "b-");
  std::set<std::string> distinct;
  for (auto* f : {&from_a, &from_b})
    for (const std::string& w : f->get()) distinct.insert(w);
  EXPECT_EQ(distinct.size(), size_t{2 * kPerServer});
  EXPECT_EQ(distinct.count(""), 0u);
  // Both servers see all the apps, and one change log: revisions 1..N, no gap, no repeat.
  for (ServerProcess* s : {a_.get(), b_.get()}) {
    auto changes = on(*s, "GET", "/internal/v1/changes?since=0").json();
    ASSERT_TRUE(changes.contains("changes")) << changes.dump();
    ASSERT_EQ(changes["changes"].size(), size_t{2 * kPerServer});
    EXPECT_EQ(changes["revision"], 2 * kPerServer);
    int64_t expect = 0;
    for (const json& e : changes["changes"]) EXPECT_EQ(e["revision"], ++expect);
    EXPECT_EQ(on(*s, "GET", "/apps").json()["apps"].size(), size_t{2 * kPerServer});
  }
}

TEST_F(TwoServers, APolicyKeySealedByOneServerOpensOnTheOther) {
  const std::string body =
      R"({"name":"any-to-web","rules":[{"source":"*","destination":"web","protocol":"tcp"}]})";
  ASSERT_EQ(on(*a_, "POST", "/app", R"({"guid":"web"})").status, 201);
  auto sealed = on(*a_, "POST", "/v1/accounts/default/policy_keys", body);
  ASSERT_EQ(sealed.status, 200) << sealed.body;
  const std::string key = sealed.json().value("key-string", "");
  ASSERT_FALSE(key.empty()) << sealed.body;
  auto opened = on(*b_, "GET", "/v1/accounts/default/policy_keys/" + key);
  EXPECT_EQ(opened.status, 200) << opened.body;
  EXPECT_EQ(opened.json(), on(*a_, "GET", "/v1/accounts/default/policy_keys/" + key).json());
}

// Each server caches the tokens it has seen; a revocation through another server reaches it
// within Authenticator::kRecheckSeconds.
TEST_F(TwoServers, ATokenRevokedOnOneServerStopsWorkingOnTheOther) {
  auto issued = on(*a_, "POST", "/v1/tokens", R"({"scopes":["cell"],"cell":"c1"})");
  ASSERT_EQ(issued.status, 201) << issued.body;
  const std::string token = issued.json()["token"];
  const std::string id = issued.json()["id"];
  auto with_token = [&] {
    return http_request(b_->port(), "GET", "/internal/v1/changes?since=0", "", token).status;
  };
  ASSERT_EQ(with_token(), 200);  // B has it cached now
  ASSERT_EQ(on(*a_, "DELETE", "/v1/tokens/" + id).status, 200);
  EXPECT_EQ(http_request(a_->port(), "GET", "/internal/v1/changes?since=0", "", token).status, 401);
  // A state, polled: B refuses it (the bound only ends a failing run).
  int status = 200;
  for (int i = 0; i < 600 && status != 401; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    status = with_token();
  }
  EXPECT_EQ(status, 401);
}

// Cells (PDPs) and their heartbeats are in the database: a cell that reports to one server is
// known to every server, with the same state and health.
class TwoServersCells : public TwoServers {
 protected:
  // The cell's token, issued on A.
  std::string cell_token(const std::string& cell) {
    auto issued = on(*a_, "POST", "/v1/tokens", json{{"scopes", {"cell"}}, {"cell", cell}}.dump());
    EXPECT_EQ(issued.status, 201) << issued.body;
    return issued.json().value("token", "");
  }
  // The cell's PDP_STATUS to server s, as its agent sends it.
  HttpResult heartbeat(ServerProcess& s, const std::string& token, const std::string& cell,
                       int64_t interval_ms) {
    json status = {{"messageName", "PDP_STATUS"},
                   {"name", cell},
                   {"pdpType", "tc"},
                   {"pdpGroup", "defaultGroup"},
                   {"state", "ACTIVE"},
                   {"healthy", "HEALTHY"},
                   {"description", "cell " + cell},
                   {"deploymentInstanceInfo", "wiretag-agent test"},
                   {"policies", {{{"name", "default-whitelist"}, {"version", "1.0.0"}}}},
                   {"revision", 0},
                   {"datapath", {{"endpoints", 2}, {"allowed", 5}, {"dropped", 1}, {"audited", 0}}},
                   {"hostedApps", {"app1"}},
                   {"heartbeatIntervalMs", interval_ms}};
    return http_request(s.port(), "POST", "/internal/v1/cells/" + cell + "/status", status.dump(),
                        token);
  }
  // What every view of the cells says on server s.
  json views(ServerProcess& s) {
    json components = pap(s, "/components/healthcheck");
    json statistics = pap(s, "/statistics");
    return {{"cells", on(s, "GET", "/internal/v1/cells").json()},
            {"pdps", pap(s, "/pdps")},
            {"pdps/healthcheck", pap(s, "/pdps/healthcheck")},
            {"components/healthcheck",
             {{"healthy", components["healthy"]}, {"pdps", components["pdps"]}}},
            {"statistics",
             {{"totalPdpCount", statistics["totalPdpCount"]},
              {"healthyPdpCount", statistics["healthyPdpCount"]},
              {"datapath", statistics["datapath"]}}},
            {"policies/status", pap(s, "/policies/status")}};
  }
  // Polls until pred(views of A) and pred(views of B) hold and both are the same (a state; the
  // bound only ends a failing run). Returns B's views.
  template <class Pred>
  json until_both(Pred pred) {
    json va, vb;
    for (int i = 0; i < 600; ++i) {
      va = views(*a_);
      vb = views(*b_);
      if (pred(va) && pred(vb) && va == vb) return vb;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "A: " << va.dump() << "\nB: " << vb.dump();
    return vb;
  }
  static json cell_named(const json& v, const std::string& name) {
    for (const json& c : v["cells"].value("cells", json::array()))
      if (c.value("name", "") == name) return c;
    return nullptr;
  }
};

TEST_F(TwoServersCells, ACellHeartbeatingToOneServerIsKnownAlikeToTheOther) {
  const std::string token = cell_token("c1");
  const int64_t rev = on(*a_, "GET", "/internal/v1/status").json()["revision"].get<int64_t>();
  auto r = heartbeat(*a_, token, "c1", 60000);
  ASSERT_EQ(r.status, 200) << r.body;
  json v = until_both([](const json& v) {
    json c = cell_named(v, "c1");
    return c.is_object() && c["healthy"] == true;
  });
  // B lists it as A does, through every view: the cell list, the group's instances, health,
  // statistics and the per-PDP deployment status.
  json c = cell_named(v, "c1");
  EXPECT_EQ(c["expired"], false);
  EXPECT_EQ(c["description"], "cell c1");
  EXPECT_EQ(c["hostedApps"], json::array({"app1"}));
  EXPECT_EQ(c["datapath"]["allowed"], 5);
  EXPECT_EQ(v["pdps/healthcheck"]["healthy"], true);
  ASSERT_EQ(v["pdps/healthcheck"]["pdpList"].size(), 1u) << v.dump();
  EXPECT_EQ(v["pdps/healthcheck"]["pdpList"][0]["instanceId"], "c1");
  EXPECT_EQ(v["pdps/healthcheck"]["pdpList"][0]["healthy"], "HEALTHY");
  EXPECT_EQ(v["statistics"]["totalPdpCount"], 1);
  EXPECT_EQ(v["components/healthcheck"]["healthy"], true);
  EXPECT_NE(v["pdps"].dump().find("\"instanceId\":\"c1\""), std::string::npos) << v["pdps"];
  EXPECT_NE(v["policies/status"].dump().find("\"pdpId\":\"c1\""), std::string::npos)
      << v["policies/status"];
  // Heartbeats are not policy changes: no revision on either server.
  ASSERT_EQ(heartbeat(*b_, token, "c1", 60000).status, 200);
  for (ServerProcess* s : {a_.get(), b_.get()})
    EXPECT_EQ(on(*s, "GET", "/internal/v1/status").json()["revision"], rev);
  EXPECT_EQ(on(*a_, "GET", "/internal/v1/changes?since=0").json()["changes"].size(), size_t(rev));
}

TEST_F(TwoServersCells, ACellThatStopsHeartbeatingExpiresAlikeOnBothAndComesBackThroughEither) {
  const std::string token = cell_token("c1");
  ASSERT_EQ(heartbeat(*a_, token, "c1", 60000).status, 200);
  until_both([](const json& v) { return cell_named(v, "c1").is_object(); });
  // Its last heartbeat announces 100 ms intervals; then no more: after 3 missed intervals
  // both servers report it expired and unhealthy, the same way.
  ASSERT_EQ(heartbeat(*a_, token, "c1", 100).status, 200);
  json v = until_both([](const json& v) {
    json c = cell_named(v, "c1");
    return c.is_object() && c["expired"] == true;
  });
  EXPECT_EQ(cell_named(v, "c1")["healthy"], false);
  EXPECT_EQ(v["pdps/healthcheck"]["healthy"], false);
  ASSERT_EQ(v["pdps/healthcheck"]["pdpList"].size(), 1u) << v.dump();
  EXPECT_EQ(v["pdps/healthcheck"]["pdpList"][0]["healthy"], "NOT_HEALTHY");
  EXPECT_EQ(v["pdps/healthcheck"]["pdpList"][0]["expired"], true);
  EXPECT_EQ(v["components/healthcheck"]["healthy"], false);
  EXPECT_EQ(v["statistics"]["healthyPdpCount"], 0);
  // Its agent fails over to B: A sees it healthy again too.
  ASSERT_EQ(heartbeat(*b_, token, "c1", 60000).status, 200);
  v = until_both([](const json& v) {
    json c = cell_named(v, "c1");
    return c.is_object() && c["healthy"] == true;
  });
  EXPECT_EQ(v["pdps/healthcheck"]["healthy"], true);
}

// With --cell-retention 1, an expired cell is forgotten a second after it expired: by both
// servers alike, and its row leaves the database (the servers' retention runs).
class TwoServersForgettingCells : public TwoServersCells {
 protected:
  std::vector<std::string> extra_flags() const override {
    return {"--cell-retention", "1", "--retention-interval", "1"};
  }
  int64_t rows_in_cells_table() {
    PGconn* c = PQconnectdb(db_.c_str());
    PGresult* r = PQexec(c, "SELECT count(*) FROM cells");
    const int64_t n = PQresultStatus(r) == PGRES_TUPLES_OK ? std::atoll(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    PQfinish(c);
    return n;
  }
};

TEST_F(TwoServersForgettingCells, AnExpiredCellIsForgottenByBothAndLeavesTheDatabase) {
  const std::string token = cell_token("c1");
  ASSERT_EQ(heartbeat(*a_, token, "c1", 60000).status, 200);
  until_both([](const json& v) { return cell_named(v, "c1").is_object(); });
  ASSERT_EQ(heartbeat(*a_, token, "c1", 100).status, 200);
  json v = until_both([](const json& v) { return v["cells"]["cells"] == json::array(); });
  EXPECT_EQ(v["pdps/healthcheck"]["pdpList"], json::array());
  EXPECT_EQ(v["statistics"]["totalPdpCount"], 0);
  int64_t rows = -1;
  for (int i = 0; i < 600 && rows != 0; ++i) {
    rows = rows_in_cells_table();
    if (rows != 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(rows, 0);
}

}  // namespace
}  // namespace wiretag::test
