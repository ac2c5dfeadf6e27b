// --db: the server on PostgreSQL, and several servers on one database (issue 20), against the
// real binary and a private PostgreSQL cluster (pg_cluster.h) the test starts itself.
#include <gtest/gtest.h>

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

// Two servers on one database, the second using the first's admin token.
class TwoServers : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = fresh_database();
    ASSERT_FALSE(db_.empty());
    // One policy-key secret for both, given by configuration.
    const std::string secret = (dir_.path() / "policy-key-secret").string();
    std::ofstream(secret) << std::string(64, 'a').replace(0, 8, "0123abcd") << "\n";
    const std::vector<std::string> flags = {"--db", db_, "--policy-key-file", secret};
    a_ = std::make_unique<ServerProcess>(dir_.path() / "a", flags);
    ASSERT_TRUE(a_->started()) << a_->output_file();
    b_ = std::make_unique<ServerProcess>(dir_.path() / "b", flags);
    ASSERT_TRUE(b_->started()) << b_->output_file();
  }
  HttpResult on(ServerProcess& s, const std::string& method, const std::string& target,
                const std::string& body = "") {
    return http_request(s.port(), method, target, body, a_->admin_token());
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

}  // namespace
}  // namespace wiretag::test
