// The policy server over real HTTP: the binary on 127.0.0.1, an OS-chosen port, a temp dir.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
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

class PolicyServer : public ServerTest {
 protected:
  std::string register_app(const std::string& guid) {
    auto r = s().post("/app", json{{"guid", guid}}.dump());
    EXPECT_TRUE(r.status == 201 || r.status == 200) << r.body;
    return r.json().value("wire_bytes", "");
  }

  // Everything an API client can observe: apps with tags, the revision, and each app's
  // whitelist with rules. Equal snapshots = nothing changed.
  json snapshot() {
    json snap;
    snap["apps"] = s().get("/apps").json();
    snap["revision"] = s().get("/internal/v1/changes?since=0").json()["revision"];
    for (const auto& app : snap["apps"]["apps"]) {
      std::string guid = app["guid"];
      snap["whitelists"][guid] = s().get("/app/" + guid + "/whitelist?detail=rules").json();
    }
    return snap;
  }
};

TEST_F(PolicyServer, RegisterAppReturnsGuidAndWireBytesOfTagLength) {
  auto r = s().post("/app", R"({"guid":"db8e8142-3d4e-413f-99ef-f2a9f644e1b1"})");
  ASSERT_EQ(r.status, 201) << r.body;
  auto j = r.json();
  EXPECT_EQ(j["guid"], "db8e8142-3d4e-413f-99ef-f2a9f644e1b1");
  std::string wire = j["wire_bytes"];
  EXPECT_EQ(wire.size(), 4u);
  EXPECT_EQ(wire.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(wire, "0000");
  EXPECT_EQ(j.size(), 2u);
}

TEST_F(PolicyServer, RegisterAppIsIdempotent) {
  auto first = s().post("/app", R"({"guid":"app-1"})");
  auto before = snapshot();
  auto again = s().post("/app", R"({"guid":"app-1"})");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.json(), first.json());
  EXPECT_EQ(snapshot(), before);
}

TEST_F(PolicyServer, WhitelistEdgeShowsSourceWireBytes) {
  std::string a = register_app("a");
  std::string b = register_app("b");
  std::string c = register_app("c");
  auto r = s().post("/whitelist", R"({"source":"a","destination":"c"})");
  EXPECT_EQ(r.status, 201) << r.body;
  r = s().post("/whitelist", R"({"source":"b","destination":"c"})");
  EXPECT_EQ(r.status, 201) << r.body;
  auto wl = s().get("/app/c/whitelist");
  ASSERT_EQ(wl.status, 200);
  std::vector<std::string> expected = {a, b};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(wl.json(), (json{{"allowed_wire_bytes", expected}}));
  EXPECT_EQ(s().get("/app/a/whitelist").json(), (json{{"allowed_wire_bytes", json::array()}}));
}

TEST_F(PolicyServer, WhitelistDetailRulesCarriesProtocolAndPorts) {
  std::string a = register_app("a");
  register_app("b");
  auto r = s().post(
      "/whitelist",
      R"({"source":"a","destination":"b","protocol":"tcp","ports":{"start":8080,"end":8090}})");
  ASSERT_EQ(r.status, 201) << r.body;
  auto wl = s().get("/app/b/whitelist?detail=rules").json();
  ASSERT_EQ(wl["rules"].size(), 1u);
  EXPECT_EQ(wl["rules"][0]["source"], "a");
  EXPECT_EQ(wl["rules"][0]["wire_bytes"], a);
  EXPECT_EQ(wl["rules"][0]["protocol"], "tcp");
  EXPECT_EQ(wl["rules"][0]["ports"], (json{{"start", 8080}, {"end", 8090}}));
  EXPECT_EQ(wl["allowed_wire_bytes"], json::array({a}));
}

TEST_F(PolicyServer, DuplicateEdgeChangesNothing) {
  register_app("a");
  register_app("b");
  ASSERT_EQ(s().post("/whitelist", R"({"source":"a","destination":"b"})").status, 201);
  auto before = snapshot();
  auto r = s().post("/whitelist", R"({"source":"a","destination":"b"})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(snapshot(), before);
}

TEST_F(PolicyServer, AppsListGetAndDelete) {
  std::string a = register_app("a");
  std::string b = register_app("b");
  auto list = s().get("/apps").json()["apps"];
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0], (json{{"guid", "a"}, {"wire_bytes", a}, {"account", "default"}}));
  auto one = s().get("/app/b");
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(one.json()["wire_bytes"], b);
  EXPECT_EQ(s().get("/app/nope").error_code(), "APP_NOT_FOUND");
}

TEST_F(PolicyServer, DeletingAnAppDeletesItsEdges) {
  register_app("a");
  std::string b = register_app("b");
  register_app("c");
  s().post("/whitelist", R"({"source":"a","destination":"c"})");
  s().post("/whitelist", R"({"source":"b","destination":"c"})");
  s().post("/whitelist", R"({"source":"c","destination":"a"})");
  auto del = s().request("DELETE", "/app/a");
  EXPECT_EQ(del.status, 200);
  EXPECT_EQ(del.json(), (json{{"status", "success"}}));
  EXPECT_EQ(s().get("/app/a").status, 404);
  EXPECT_EQ(s().get("/app/c/whitelist").json()["allowed_wire_bytes"], json::array({b}));
  EXPECT_EQ(s().get("/app/c/whitelist?detail=rules").json()["rules"].size(), 1u);
  EXPECT_EQ(s().request("DELETE", "/app/a").error_code(), "APP_NOT_FOUND");
}

struct BadInput {
  std::string name;
  std::string method;
  std::string target;
  std::string body;
  int status;
  std::string error_code;
};

void expect_rejected_without_change(PolicyServer* t, const std::vector<BadInput>& cases,
                                    const std::function<json()>& snapshot, ServerProcess& server) {
  (void)t;
  for (const BadInput& c : cases) {
    SCOPED_TRACE(c.name);
    json before = snapshot();
    auto r = server.request(c.method, c.target, c.body);
    EXPECT_EQ(r.status, c.status) << r.body;
    EXPECT_EQ(r.error_code(), c.error_code) << r.body;
    auto j = r.json();
    ASSERT_TRUE(j.is_array()) << r.body;
    ASSERT_EQ(j.size(), 1u);
    EXPECT_EQ(j[0].size(), 2u) << "only error_code and message";
    EXPECT_TRUE(j[0]["message"].is_string() && !j[0]["message"].get<std::string>().empty());
    EXPECT_EQ(snapshot(), before);
  }
}

TEST_F(PolicyServer, RegisterAppRejectsBadInputAndChangesNothing) {
  register_app("existing");
  std::string long_guid(129, 'a');
  std::vector<BadInput> cases = {
      {"malformed json", "POST", "/app", R"({"guid":)", 400, "INVALID_JSON"},
      {"empty body", "POST", "/app", "", 400, "INVALID_JSON"},
      {"not an object", "POST", "/app", R"(["a"])", 400, "INVALID_BODY"},
      {"guid not a string", "POST", "/app", R"({"guid":42})", 400, "INVALID_FIELD_TYPE"},
      {"guid null", "POST", "/app", R"({"guid":null})", 400, "INVALID_FIELD_TYPE"},
      {"unknown field", "POST", "/app", R"({"guid":"x","tag":5})", 400, "UNKNOWN_FIELD"},
      {"missing guid", "POST", "/app", R"({})", 400, "MISSING_FIELD"},
      {"empty guid", "POST", "/app", R"({"guid":""})", 400, "INVALID_GUID"},
      {"guid with slash", "POST", "/app", R"({"guid":"a/b"})", 400, "INVALID_GUID"},
      {"guid with space", "POST", "/app", R"({"guid":"a b"})", 400, "INVALID_GUID"},
      {"guid too long", "POST", "/app", json{{"guid", long_guid}}.dump(), 400, "INVALID_GUID"},
      {"bad account", "POST", "/app", R"({"guid":"x","account":"a b"})", 400, "INVALID_ACCOUNT"},
      {"oversize body", "POST", "/app",
       R"({"guid":"x","pad":")" + std::string(1 << 20, 'p') + R"("})", 400, "BODY_TOO_LARGE"},
      {"wrong method", "PUT", "/app", R"({"guid":"x"})", 405, "METHOD_NOT_ALLOWED"},
  };
  expect_rejected_without_change(
      this, cases, [this] { return snapshot(); }, s());
}

TEST_F(PolicyServer, WhitelistRejectsBadInputAndChangesNothing) {
  register_app("a");
  register_app("b");
  std::vector<BadInput> cases = {
      {"malformed json", "POST", "/whitelist", R"({"source":"a",)", 400, "INVALID_JSON"},
      {"wrong type", "POST", "/whitelist", R"({"source":1,"destination":"b"})", 400,
       "INVALID_FIELD_TYPE"},
      {"unknown field", "POST", "/whitelist", R"({"source":"a","destination":"b","x":1})", 400,
       "UNKNOWN_FIELD"},
      {"missing destination", "POST", "/whitelist", R"({"source":"a"})", 400, "MISSING_FIELD"},
      {"bad source guid", "POST", "/whitelist", R"({"source":"a b","destination":"b"})", 400,
       "INVALID_GUID"},
      {"unknown source", "POST", "/whitelist", R"({"source":"zz","destination":"b"})", 404,
       "APP_NOT_FOUND"},
      {"unknown destination", "POST", "/whitelist", R"({"source":"a","destination":"zz"})", 404,
       "APP_NOT_FOUND"},
      {"bad protocol", "POST", "/whitelist",
       R"({"source":"a","destination":"b","protocol":"sctp"})", 400, "INVALID_PROTOCOL"},
      {"port zero", "POST", "/whitelist",
       R"({"source":"a","destination":"b","protocol":"tcp","ports":{"start":0,"end":5}})", 400,
       "INVALID_RULE"},
      {"reversed ports", "POST", "/whitelist",
       R"({"source":"a","destination":"b","protocol":"tcp","ports":{"start":9,"end":5}})", 400,
       "INVALID_RULE"},
      {"port too big", "POST", "/whitelist",
       R"({"source":"a","destination":"b","protocol":"tcp","ports":{"start":1,"end":65536}})", 400,
       "INVALID_RULE"},
      {"ports on icmp", "POST", "/whitelist",
       R"({"source":"a","destination":"b","protocol":"icmp","ports":{"start":1,"end":2}})", 400,
       "INVALID_RULE"},
      {"ports wrong type", "POST", "/whitelist",
       R"({"source":"a","destination":"b","protocol":"tcp","ports":{"start":"80"}})", 400,
       "INVALID_FIELD_TYPE"},
      {"oversize body", "POST", "/whitelist", std::string((1 << 20) + 1, ' '), 400,
       "BODY_TOO_LARGE"},
  };
  expect_rejected_without_change(
      this, cases, [this] { return snapshot(); }, s());
}

TEST_F(PolicyServer, AppEndpointsRejectBadPathsAndChangeNothing) {
  register_app("a");
  std::vector<BadInput> cases = {
      {"whitelist of unknown app", "GET", "/app/zz/whitelist", "", 404, "APP_NOT_FOUND"},
      {"whitelist of bad guid", "GET", "/app/a*b/whitelist", "", 400, "INVALID_GUID"},
      {"bad detail", "GET", "/app/a/whitelist?detail=all", "", 400, "INVALID_QUERY"},
      {"bad percent-encoding", "GET", "/app/a%zz", "", 400, "INVALID_PATH"},
      {"delete unknown", "DELETE", "/app/zz", "", 404, "APP_NOT_FOUND"},
      {"delete bad guid", "DELETE", "/app/a%20b", "", 400, "INVALID_GUID"},
      {"unknown route", "GET", "/nope", "", 404, "ROUTE_NOT_FOUND"},
      {"changes since garbage", "GET", "/internal/v1/changes?since=x", "", 400, "INVALID_QUERY"},
  };
  expect_rejected_without_change(
      this, cases, [this] { return snapshot(); }, s());
}

TEST_F(PolicyServer, RequestsWithoutAValidTokenAreUnauthorized) {
  auto before = snapshot();
  for (const std::string& token : {std::string(""), std::string("wt_wrong")}) {
    auto r = s().request("POST", "/app", R"({"guid":"x"})", token);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.error_code(), "UNAUTHORIZED");
    EXPECT_EQ(s().request("GET", "/apps", "", token).status, 401);
  }
  EXPECT_EQ(snapshot(), before);
}

TEST_F(PolicyServer, AdminTokenFileIsPrivate) {
  struct stat st {};
  ASSERT_EQ(::stat((dir_.path() / "data" / "admin-token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(s().admin_token().empty());
}

// Issue 14 item 11: the data dir and the database files are the server user's only.
TEST_F(PolicyServer, DataDirAndDatabaseArePrivate) {
  register_app("a");  // a write: -wal and -shm exist
  struct stat st {};
  ASSERT_EQ(::stat((dir_.path() / "data").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  const char* db = std::getenv("WIRETAG_TEST_DB");
  if (db && std::string_view(db) == "postgresql") return;  // no database files in the data dir
  for (const char* f : {"wiretag.db", "wiretag.db-wal", "wiretag.db-shm"}) {
    ASSERT_EQ(::stat((dir_.path() / "data" / f).c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }
}

// Issue 14 item 7: a token's description is free text of at most 1024 bytes.
TEST_F(PolicyServer, TokenDescriptionIsBounded) {
  auto body = [](size_t n) {
    return nlohmann::json{
        {"scopes", {"cell"}}, {"cell", "c1"}, {"description", std::string(n, 'd')}}
        .dump();
  };
  EXPECT_EQ(s().post("/v1/tokens", body(1024)).status, 201);
  for (size_t n : {size_t{1025}, size_t{1'000'000}}) {
    auto r = s().post("/v1/tokens", body(n));
    EXPECT_EQ(r.status, 400) << n;
    EXPECT_EQ(r.error_code(), "FIELD_TOO_LONG") << n;
  }
}

TEST_F(PolicyServer, AccountTokenSeesOnlyItsAccount) {
  register_app("default-app");
  auto issued = s().post("/v1/tokens", R"({"scopes":["network.write"],"accounts":["team-x"]})");
  ASSERT_EQ(issued.status, 201) << issued.body;
  std::string tx = issued.json()["token"];

  auto mine = s().request("POST", "/app", R"({"guid":"x-app","account":"team-x"})", tx);
  EXPECT_EQ(mine.status, 201) << mine.body;
  EXPECT_EQ(s().request("GET", "/app/x-app", "", tx).status, 200);
  EXPECT_EQ(s().request("GET", "/app/default-app", "", tx).error_code(), "APP_NOT_FOUND");
  EXPECT_EQ(s().request("GET", "/app/default-app/whitelist", "", tx).error_code(), "APP_NOT_FOUND");
  EXPECT_EQ(s().request("DELETE", "/app/default-app", "", tx).error_code(), "APP_NOT_FOUND");
  EXPECT_EQ(s().request("POST", "/app", R"({"guid":"y"})", tx).error_code(), "ACCOUNT_NOT_FOUND");
  auto listed = s().request("GET", "/apps", "", tx).json()["apps"];
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["guid"], "x-app");
  // An edge names only team-x apps, as destination and as source (SPEC §4 Auth).
  EXPECT_EQ(
      s().request("POST", "/whitelist", R"({"source":"x-app","destination":"default-app"})", tx)
          .error_code(),
      "APP_NOT_FOUND");
  EXPECT_EQ(
      s().request("POST", "/whitelist", R"({"source":"default-app","destination":"x-app"})", tx)
          .error_code(),
      "APP_NOT_FOUND");
  EXPECT_EQ(
      s().request("POST", "/whitelist", R"({"source":"x-app","destination":"x-app"})", tx).status,
      201);
  EXPECT_EQ(s().request("POST", "/v1/tokens", R"({"scopes":["network.admin"]})", tx).status, 403);
  EXPECT_EQ(s().request("GET", "/internal/v1/changes", "", tx).status, 403);
}

TEST_F(PolicyServer, ConcurrentClientsGetDistinctTags) {
  constexpr int kClients = 32, kAppsEach = 8;
  std::vector<std::vector<std::string>> tags(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < kAppsEach; ++i) {
        std::string guid = "c" + std::to_string(c) + "-" + std::to_string(i);
        auto r = s().post("/app", json{{"guid", guid}}.dump());
        if (r.status == 201) tags[c].push_back(r.json()["wire_bytes"]);
      }
    });
  }
  for (auto& t : clients) t.join();
  std::set<std::string> distinct;
  size_t total = 0;
  for (auto& v : tags) {
    total += v.size();
    distinct.insert(v.begin(), v.end());
  }
  EXPECT_EQ(total, size_t{kClients * kAppsEach});
  EXPECT_EQ(distinct.size(), total);
  EXPECT_EQ(distinct.count("0000"), 0u);
  EXPECT_EQ(s().get("/apps").json()["apps"].size(), size_t{kClients * kAppsEach});
}

TEST_F(PolicyServer, TagsExhaustedIsAConflictAndQuarantineHoldsDeletedTags) {
  server_.reset();
  TempDir other;
  ServerProcess small(other.path() / "data", {"--tag-length", "1"});
  ASSERT_TRUE(small.started());
  std::set<std::string> seen;
  for (int i = 0; i < 255; ++i) {
    auto r = small.post("/app", json{{"guid", "app" + std::to_string(i)}}.dump());
    ASSERT_EQ(r.status, 201) << r.body;
    std::string wire = r.json()["wire_bytes"];
    EXPECT_EQ(wire.size(), 2u);
    seen.insert(wire);
  }
  EXPECT_EQ(seen.size(), 255u);
  EXPECT_EQ(seen.count("00"), 0u);
  auto full = small.post("/app", R"({"guid":"one-too-many"})");
  EXPECT_EQ(full.status, 409);
  EXPECT_EQ(full.error_code(), "TAGS_EXHAUSTED");
  // A deleted app's tag stays quarantined (default: a day).
  ASSERT_EQ(small.request("DELETE", "/app/app7").status, 200);
  EXPECT_EQ(small.post("/app", R"({"guid":"one-too-many"})").error_code(), "TAGS_EXHAUSTED");
}

TEST_F(PolicyServer, TagIsReusedOnlyAfterQuarantine) {
  server_.reset();
  TempDir other;
  ServerProcess small(other.path() / "data", {"--tag-length", "1", "--tag-quarantine", "0"});
  ASSERT_TRUE(small.started());
  for (int i = 0; i < 255; ++i)
    ASSERT_EQ(small.post("/app", json{{"guid", "app" + std::to_string(i)}}.dump()).status, 201);
  std::string freed = small.get("/app/app7").json()["wire_bytes"];
  ASSERT_EQ(small.request("DELETE", "/app/app7").status, 200);
  auto r = small.post("/app", R"({"guid":"newcomer"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json()["wire_bytes"], freed);
}

TEST_F(PolicyServer, KeepAliveServesManyRequestsOnOneConnection) {
  // The harness opens a connection per request; here one raw connection carries three.
  register_app("a");
  boost::asio::io_context ioc;
  boost::beast::tcp_stream stream(ioc);
  stream.connect({boost::asio::ip::make_address("127.0.0.1"), s().port()});
  for (int i = 0; i < 3; ++i) {
    namespace bhttp = boost::beast::http;
    bhttp::request<bhttp::string_body> req{bhttp::verb::get, "/app/a", 11};
    req.set(bhttp::field::host, "127.0.0.1");
    req.set(bhttp::field::authorization, "Bearer " + s().admin_token());
    req.keep_alive(true);
    bhttp::write(stream, req);
    boost::beast::flat_buffer buf;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buf, res);
    EXPECT_EQ(res.result_int(), 200);
    EXPECT_TRUE(res.keep_alive());
  }
}

TEST_F(PolicyServer, StateAndTokenSurviveRestart) {
  std::string a = register_app("a");
  register_app("b");
  s().post("/whitelist", R"({"source":"a","destination":"b"})");
  std::string token = s().admin_token();
  EXPECT_EQ(s().terminate(), 0);
  start();
  EXPECT_EQ(s().admin_token(), token);
  auto r = s().request("GET", "/app/b/whitelist", "", token);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["allowed_wire_bytes"], json::array({a}));
  EXPECT_NE(register_app("c"), a);
}

TEST_F(PolicyServer, SigtermExitsCleanly) { EXPECT_EQ(s().terminate(), 0); }

TEST_F(PolicyServer, SigtermClosesIdleKeepAliveConnectionsAndExits) {
  namespace bhttp = boost::beast::http;
  boost::asio::io_context ioc;
  boost::beast::tcp_stream stream(ioc);
  stream.connect({boost::asio::ip::make_address("127.0.0.1"), s().port()});
  bhttp::request<bhttp::string_body> req{bhttp::verb::get, "/healthz", 11};
  req.set(bhttp::field::host, "127.0.0.1");
  req.keep_alive(true);
  bhttp::write(stream, req);
  boost::beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(stream, buf, res);
  ASSERT_EQ(res.result_int(), 200);
  // The connection stays open and idle: shutdown must not wait for the client.
  EXPECT_EQ(s().terminate(), 0);
  char byte;
  boost::system::error_code ec;
  stream.socket().read_some(boost::asio::buffer(&byte, 1), ec);
  EXPECT_EQ(ec, boost::asio::error::eof);
}

TEST_F(PolicyServer, AClientThatNeverFinishesItsRequestIsDisconnected) {
  server_.reset();
  start({"--read-timeout", "1"});
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket sock(ioc);
  sock.connect({boost::asio::ip::make_address("127.0.0.1"), s().port()});
  const std::string partial = "POST /app HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{";
  boost::asio::write(sock, boost::asio::buffer(partial));
  // Blocks until the server gives up on the request and closes the connection.
  std::string got;
  boost::system::error_code ec;
  char chunk[512];
  for (;;) {
    size_t n = sock.read_some(boost::asio::buffer(chunk), ec);
    got.append(chunk, n);
    if (ec) break;
  }
  EXPECT_TRUE(ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset)
      << ec.message();
  EXPECT_EQ(s().get("/apps").json()["apps"].size(), 0u);
}

// One server per SQLite data dir (docs/server.md "Storage"): a second exits 2 naming the
// first's pid, and the first serves on; once the first is gone (kill -9 too) the dir is free.
TEST_F(PolicyServer, ASecondServerOnTheSameSqliteDataDirIsRefused) {
  const char* db = std::getenv("WIRETAG_TEST_DB");
  if (db && std::string_view(db) != "sqlite")
    GTEST_SKIP() << "several servers share one PostgreSQL database (multi_server_test.cc)";
  ASSERT_EQ(s().post("/app", R"({"guid":"before"})").status, 201);
  {
    ServerProcess second(dir_.path() / "data");
    EXPECT_FALSE(second.started()) << "two servers on one SQLite data dir";
  }
  if (HasFailure()) return;  // run_to_exit would wait for ever on a second server that runs
  EXPECT_EQ(ServerProcess::run_to_exit({"--listen", "127.0.0.1:0", "--data-dir",
                                        (dir_.path() / "data").string(), "--log-level", "error"}),
            2);
  EXPECT_EQ(s().get("/apps").json()["apps"].size(), 1u) << "the first serves on";
  s().kill_hard();
  start();
  EXPECT_EQ(s().get("/apps").json()["apps"].size(), 1u);
}

TEST_F(PolicyServer, RefusesToStartWithAnotherTagLength) {
  s().terminate();
  EXPECT_NE(ServerProcess::run_to_exit({"--listen", "127.0.0.1:0", "--data-dir",
                                        (dir_.path() / "data").string(), "--tag-length", "3"}),
            0);
}

TEST_F(PolicyServer, EveryAcknowledgedWriteSurvivesKill9) {
  std::vector<std::pair<std::string, std::string>> acked;  // guid, wire_bytes
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      std::string guid = "w" + std::to_string(i);
      auto r = s().post("/app", json{{"guid", guid}}.dump());
      if (r.status != 201) break;  // the server died mid-request: not acknowledged
      std::lock_guard lock(mu);
      acked.emplace_back(guid, r.json()["wire_bytes"]);
    }
  });
  // Kill once a good number of writes is acknowledged, while the writer keeps going.
  for (;;) {
    {
      std::lock_guard lock(mu);
      if (acked.size() >= 150) break;
    }
    std::this_thread::yield();
  }
  s().kill_hard();
  stop = true;
  writer.join();
  start();
  auto apps = s().get("/apps").json()["apps"];
  std::map<std::string, std::string> stored;
  for (const auto& app : apps) stored[app["guid"]] = app["wire_bytes"];
  ASSERT_GE(acked.size(), 150u);
  for (const auto& [guid, wire] : acked) {
    ASSERT_TRUE(stored.count(guid)) << guid << " was acknowledged but is gone";
    EXPECT_EQ(stored[guid], wire);
  }
  // At most the one request in flight at the kill may have landed unacknowledged.
  EXPECT_LE(stored.size(), acked.size() + 1);
  auto changes = s().get("/internal/v1/changes?since=0").json();
  EXPECT_EQ(changes["revision"].get<int64_t>(), static_cast<int64_t>(stored.size()));
}

}  // namespace
}  // namespace wiretag::test
