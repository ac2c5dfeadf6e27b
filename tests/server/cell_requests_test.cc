// Requests from the server to a cell over the cell's own streamed watch, against the real
// binary over HTTP. The cell is played by the test (a cell token, a watch stream read with
// http::Client, replies POSTed by hand), so it can also answer wrongly, late or never.
// POST /v1/cells/:name/ops/:op and POST /v1/trace put requests on the channel.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fake_cell.h"
#include "http/client.h"
#include "server_process.h"

namespace wiretag::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct Answer {
  unsigned status = 0;
  json body;
  std::string error_code() const {
    return body.is_array() && !body.empty() ? body[0].value("error_code", "") : "";
  }
};

class CellRequestsTest : public ServerTest {
 protected:
  void SetUp() override {}  // each test starts the server with its flags
  void start_with(std::vector<std::string> flags) { ServerTest::start(std::move(flags)); }

  std::string cell_token(const std::string& cell) {
    auto r = s().post("/v1/tokens", json{{"scopes", {"cell"}}, {"cell", cell}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json().value("token", "");
  }
  std::string write_token(const std::string& account) {
    auto r =
        s().post("/v1/tokens", json{{"scopes", {"network.write"}}, {"accounts", {account}}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json().value("token", "");
  }
  std::unique_ptr<FakeCell> fake_cell(const std::string& name, std::vector<std::string> hosted = {},
                                      bool name_in_watch = true) {
    auto c = std::make_unique<FakeCell>(s().port(), cell_token(name), name, std::move(hosted),
                                        name_in_watch);
    EXPECT_EQ(c->status().status, 200) << c->status().body;
    EXPECT_TRUE(c->changes(1));  // the stream is open: the server has attached it
    return c;
  }
  // A request on its own connection, answered whenever the server answers (a 60 s liveness
  // bound: a request the server would hold until a far deadline fails with status 0).
  std::future<Answer> ask(const std::string& target, const json& body, std::string token = "") {
    if (token.empty()) token = s().admin_token();
    return std::async(std::launch::async, [port = s().port(), target, body, token] {
      http::Client c(http::BaseUrl{"127.0.0.1", std::to_string(port)}, token);
      auto r = c.request("POST", target, body.dump(), 60s);
      Answer a;
      if (!r) return a;
      a.status = r->status;
      a.body = json::parse(r->body, nullptr, false);
      return a;
    });
  }
  Answer ask_now(const std::string& target, const json& body, const std::string& token = "") {
    return ask(target, body, token).get();
  }
  void register_app(const std::string& guid, const std::string& account = "default") {
    auto r = s().post("/app", json{{"guid", guid}, {"account", account}}.dump());
    ASSERT_TRUE(r.status == 201 || r.status == 200) << r.body;
  }
  std::string wire_bytes(const std::string& guid) {
    return s().get("/app/" + guid).json().value("wire_bytes", "");
  }
};

TEST_F(CellRequestsTest, AnOpReachesTheCellOnItsWatchAndItsAnswerComesBack) {
  start_with({});
  auto cell = fake_cell("c1");
  auto pending = ask("/v1/cells/c1/ops/status", json{{"verbose", true}});
  json req = cell->request(0);
  ASSERT_TRUE(req.is_object()) << "no request line on the watch";
  EXPECT_EQ(req["kind"], "cell_request");
  EXPECT_EQ(req["op"], "status");
  EXPECT_EQ(req["body"], (json{{"verbose", true}}));
  EXPECT_TRUE(req["id"].is_string());
  EXPECT_TRUE(req["deadline_ms"].is_number_integer());
  auto ok = cell->reply(req["id"], json{{"result", {{"healthy", true}}}});
  EXPECT_EQ(ok.status, 200) << ok.body;
  Answer a = pending.get();
  EXPECT_EQ(a.status, 200u) << a.body;
  EXPECT_EQ(a.body["cell"], "c1");
  EXPECT_EQ(a.body["op"], "status");
  EXPECT_EQ(a.body["result"], (json{{"healthy", true}}));
  // Answered once: the same id again is unknown.
  auto again = cell->reply(req["id"], json{{"result", json::object()}});
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(again.error_code(), "REQUEST_NOT_FOUND");
}

TEST_F(CellRequestsTest, TheCellsErrorIsPassedOnWithItsCode) {
  start_with({});
  auto cell = fake_cell("c1");
  auto pending = ask("/v1/cells/c1/ops/frobnicate", json::object());
  json req = cell->request(0);
  ASSERT_TRUE(req.is_object());
  cell->reply(req["id"], json{{"error",
                               {{"error_code", "CELL_OP_UNSUPPORTED"},
                                {"message", "this agent has no op \"frobnicate\""}}}});
  Answer a = pending.get();
  EXPECT_EQ(a.status, 501u) << a.body;
  EXPECT_EQ(a.error_code(), "CELL_OP_UNSUPPORTED");
  // A cell's code that would speak of the caller's credential is not passed on as such.
  auto second = ask("/v1/cells/c1/ops/status", json::object());
  req = cell->request(1);
  ASSERT_TRUE(req.is_object());
  cell->reply(req["id"], json{{"error", {{"error_code", "UNAUTHORIZED"}, {"message", "x"}}}});
  a = second.get();
  EXPECT_EQ(a.status, 502u) << a.body;
  EXPECT_EQ(a.error_code(), "CELL_ERROR");
}

TEST_F(CellRequestsTest, AReplyForAnotherCellsNameIs403AndForItsRequestIs404) {
  start_with({});
  auto c1 = fake_cell("c1");
  auto c2 = fake_cell("c2");
  auto pending = ask("/v1/cells/c1/ops/status", json::object());
  json req = c1->request(0);
  ASSERT_TRUE(req.is_object());
  // c2's credential, c1's name in the path.
  auto wrong_name = c2->reply(req["id"], json{{"result", json::object()}}, "c1");
  EXPECT_EQ(wrong_name.status, 403) << wrong_name.body;
  EXPECT_EQ(wrong_name.error_code(), "CELL_MISMATCH");
  // c2's credential and name, c1's request id.
  auto wrong_id = c2->reply(req["id"], json{{"result", json::object()}});
  EXPECT_EQ(wrong_id.status, 404) << wrong_id.body;
  EXPECT_EQ(wrong_id.error_code(), "REQUEST_NOT_FOUND");
  // Neither took the request: c1's answer is still taken.
  EXPECT_EQ(c1->reply(req["id"], json{{"result", {{"from", "c1"}}}}).status, 200);
  Answer a = pending.get();
  EXPECT_EQ(a.status, 200u);
  EXPECT_EQ(a.body["result"]["from"], "c1");
}

TEST_F(CellRequestsTest, AReplyToAnUnknownIdIs404AndABadReplyIs400) {
  start_with({});
  auto cell = fake_cell("c1");
  auto unknown =
      cell->reply("00000000-0000-4000-8000-000000000000", json{{"result", json::object()}});
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.error_code(), "REQUEST_NOT_FOUND");
  auto pending = ask("/v1/cells/c1/ops/status", json::object());
  json req = cell->request(0);
  ASSERT_TRUE(req.is_object());
  for (const json& bad : {json::object(), json{{"result", 1}},
                          json{{"result", json::object()}, {"error", json::object()}},
                          json{{"error", {{"error_code", "lower"}, {"message", "m"}}}},
                          json{{"result", json::object()}, {"extra", 1}}}) {
    auto r = cell->reply(req["id"], bad);
    EXPECT_EQ(r.status, 400) << bad.dump() << " " << r.body;
  }
  // Bad replies left the request pending.
  EXPECT_EQ(cell->reply(req["id"], json{{"result", json::object()}}).status, 200);
  EXPECT_EQ(pending.get().status, 200u);
}

TEST_F(CellRequestsTest, ACellWithoutAnOpenWatchIs503AtOnceAndAnUnknownCell404) {
  // A deadline far beyond the client's 60 s: only an immediate answer passes.
  start_with({"--cell-request-timeout", "600000"});
  {
    FakeCell registered(s().port(), cell_token("c1"), "c1");
    ASSERT_EQ(registered.status().status, 200);
    // Its watch is open (the server sent its first line) before it closes: else the loop
    // below could see no stream yet, and the watch start after it (a loaded machine).
    ASSERT_TRUE(registered.changes(1));
  }  // its watch closed: once the server saw it end, nothing carries c1's requests
  for (int i = 0; i < 3000 && s().get("/internal/v1/status").json().value("streams", -1) != 0; ++i)
    std::this_thread::sleep_for(5ms);
  Answer a = ask_now("/v1/cells/c1/ops/status", json::object());
  EXPECT_EQ(a.status, 503u) << a.body;
  EXPECT_EQ(a.error_code(), "CELL_UNREACHABLE");
  // A watch that does not name its cell takes no requests.
  auto anonymous = fake_cell("c2", {}, false);
  a = ask_now("/v1/cells/c2/ops/status", json::object());
  EXPECT_EQ(a.status, 503u) << a.body;
  EXPECT_EQ(a.error_code(), "CELL_UNREACHABLE");
  EXPECT_EQ(anonymous->request_count(), 0u);
  a = ask_now("/v1/cells/nobody/ops/status", json::object());
  EXPECT_EQ(a.status, 404u) << a.body;
  EXPECT_EQ(a.error_code(), "CELL_NOT_FOUND");
}

TEST_F(CellRequestsTest, ACellThatNeverAnswersIs503AfterTheDeadline) {
  start_with({"--cell-request-timeout", "200"});
  auto cell = fake_cell("c1");
  Answer a = ask_now("/v1/cells/c1/ops/status", json::object());
  EXPECT_EQ(a.status, 503u) << a.body;
  EXPECT_EQ(a.error_code(), "CELL_UNREACHABLE");
  ASSERT_EQ(cell->request_count(), 1u);  // it was asked
  // Its late answer finds nothing waiting.
  auto late = cell->reply(cell->request(0)["id"], json{{"result", json::object()}});
  EXPECT_EQ(late.status, 404);
}

TEST_F(CellRequestsTest, PendingRequestsAreBoundedPerCellAndInAll) {
  start_with({"--cell-request-max-pending-per-cell", "2", "--cell-request-max-pending", "3",
              "--cell-request-timeout", "600000"});
  auto c1 = fake_cell("c1");
  auto c2 = fake_cell("c2");
  auto p1 = ask("/v1/cells/c1/ops/status", json::object());
  auto p2 = ask("/v1/cells/c1/ops/status", json::object());
  ASSERT_TRUE(c1->request(1).is_object());  // both pending
  Answer busy = ask_now("/v1/cells/c1/ops/status", json::object());
  EXPECT_EQ(busy.status, 503u) << busy.body;
  EXPECT_EQ(busy.error_code(), "SERVER_BUSY");
  auto p3 = ask("/v1/cells/c2/ops/status", json::object());
  ASSERT_TRUE(c2->request(0).is_object());  // another cell still has room, the total is 3
  busy = ask_now("/v1/cells/c2/ops/status", json::object());
  EXPECT_EQ(busy.status, 503u) << busy.body;
  EXPECT_EQ(busy.error_code(), "SERVER_BUSY");
  // Answered, they free their places.
  for (size_t i = 0; i < 2; ++i)
    EXPECT_EQ(c1->reply(c1->request(i)["id"], json{{"result", json::object()}}).status, 200);
  EXPECT_EQ(c2->reply(c2->request(0)["id"], json{{"result", json::object()}}).status, 200);
  EXPECT_EQ(p1.get().status, 200u);
  EXPECT_EQ(p2.get().status, 200u);
  EXPECT_EQ(p3.get().status, 200u);
  auto p4 = ask("/v1/cells/c1/ops/status", json::object());
  ASSERT_TRUE(c1->request(2).is_object());
  EXPECT_EQ(c1->reply(c1->request(2)["id"], json{{"result", json::object()}}).status, 200);
  EXPECT_EQ(p4.get().status, 200u);
}

TEST_F(CellRequestsTest, ChangeLinesFlowAsBeforeBesideRequestLines) {
  start_with({});
  auto cell = fake_cell("c1");
  auto pending = ask("/v1/cells/c1/ops/status", json::object());
  ASSERT_TRUE(cell->request(0).is_object());
  register_app("a");
  ASSERT_TRUE(cell->changes(2));
  json change = cell->change(1);
  EXPECT_FALSE(change.contains("kind"));  // a change line is what it always was
  EXPECT_TRUE(change["revision"].is_number_integer());
  EXPECT_EQ(change["resync"], false);
  ASSERT_EQ(change["events"].size(), 1u);
  EXPECT_EQ(change["events"][0]["kind"], "app.created");
  cell->reply(cell->request(0)["id"], json{{"result", json::object()}});
  EXPECT_EQ(pending.get().status, 200u);
  register_app("b");  // the stream goes on after a request
  ASSERT_TRUE(cell->changes(3));
  EXPECT_EQ(cell->change(2)["events"][0]["subject"], "b");
}

TEST_F(CellRequestsTest, AWatchNamingAnotherCellIsRefused) {
  start_with({});
  http::Client c(http::BaseUrl{"127.0.0.1", std::to_string(s().port())}, cell_token("c1"));
  auto r = c.request("GET", "/internal/v1/watch?since=0&stream=1&cell=c2", "", 30s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403u);
  EXPECT_EQ(r->error_code(), "CELL_MISMATCH");
  r = c.request("GET", "/internal/v1/watch?since=0&stream=1&cell=a%2Fb", "", 30s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400u);
  EXPECT_EQ(r->error_code(), "INVALID_CELL_NAME");
}

TEST_F(CellRequestsTest, OpsNeedAnAdminToken) {
  start_with({});
  auto cell = fake_cell("c1");
  Answer a = ask_now("/v1/cells/c1/ops/status", json::object(), write_token("default"));
  EXPECT_EQ(a.status, 403u) << a.body;
  a = ask_now("/v1/cells/c1/ops/status", json::object(), cell_token("c1"));
  EXPECT_EQ(a.status, 403u) << a.body;
  a = ask_now("/v1/cells/c1/ops/BAD", json::object());
  EXPECT_EQ(a.status, 400u) << a.body;
  EXPECT_EQ(cell->request_count(), 0u);
}

// POST /v1/trace: routed to the cell whose PDP_STATUS lists the destination in hostedApps.
TEST_F(CellRequestsTest, ATraceGoesToTheCellHostingTheDestination) {
  start_with({});
  register_app("a");
  register_app("b");
  ASSERT_EQ(s().post("/whitelist", R"({"source":"a","destination":"b","protocol":"tcp",
                                       "ports":{"start":5432,"end":5432}})")
                .status,
            201);
  auto other = fake_cell("c0", {"a"});
  auto cell = fake_cell("c1", {"b"});
  auto pending =
      ask("/v1/trace",
          json{{"source", "a"}, {"destination", "b"}, {"protocol", "tcp"}, {"port", 5432}});
  json req = cell->request(0);
  ASSERT_TRUE(req.is_object());
  EXPECT_EQ(req["op"], "trace");
  EXPECT_EQ(req["body"], (json{{"destination", "b"},
                               {"source", "a"},
                               {"source_tag", wire_bytes("a")},
                               {"protocol", "tcp"},
                               {"port", 5432},
                               {"ipv6", false},
                               {"reply", false}}));
  json result = {{"verdict", "pass"},
                 {"reason", "rule"},
                 {"rule", {{"source_tag", wire_bytes("a")}, {"protocol", "tcp"}}}};
  ASSERT_EQ(cell->reply(req["id"], json{{"result", result}}).status, 200);
  Answer a = pending.get();
  ASSERT_EQ(a.status, 200u) << a.body;
  EXPECT_EQ(a.body["cell"], "c1");
  EXPECT_EQ(a.body["verdict"], "pass");
  // The cell could not say which versions hold the rule: the server does.
  EXPECT_EQ(a.body["policies"],
            (json::array({{{"name", "default-whitelist"}, {"version", "1.0.0"}}})));
  EXPECT_EQ(other->request_count(), 0u);
}

TEST_F(CellRequestsTest, ATraceNamesTheVersionsOnlyForTheMatchedRule) {
  start_with({});
  register_app("a");
  register_app("b");
  auto cell = fake_cell("c1", {"b"});
  // A wildcard rule matched, but default-whitelist holds only a→b on another port.
  ASSERT_EQ(s().post("/whitelist", R"({"source":"a","destination":"b","protocol":"tcp",
                                       "ports":{"start":80,"end":80}})")
                .status,
            201);
  auto pending = ask("/v1/trace", json{{"source", "a"},
                                       {"destination", "b"},
                                       {"protocol", "udp"},
                                       {"port", 53},
                                       {"ipv6", true},
                                       {"cell", "c1"}});
  json req = cell->request(0);
  ASSERT_TRUE(req.is_object());
  EXPECT_EQ(req["body"]["ipv6"], true);
  cell->reply(req["id"], json{{"result", {{"verdict", "drop"}, {"rule", {{"source_tag", "*"}}}}}});
  Answer a = pending.get();
  ASSERT_EQ(a.status, 200u) << a.body;
  EXPECT_EQ(a.body["policies"], json::array());
  // What the cell says about policies is kept.
  auto second = ask("/v1/trace", json{{"source", "a"}, {"destination", "b"}, {"protocol", "icmp"}});
  req = cell->request(1);
  ASSERT_TRUE(req.is_object());
  EXPECT_FALSE(req["body"].contains("port"));
  cell->reply(req["id"], json{{"result", {{"rule", json::object()}, {"policies", {"p@1"}}}}});
  a = second.get();
  EXPECT_EQ(a.body["policies"], json::array({"p@1"}));
}

TEST_F(CellRequestsTest, ATraceIntoAnAppNoCellHostsIs404EndpointNotFound) {
  start_with({});
  register_app("a");
  register_app("b");
  auto cell = fake_cell("c1", {"a"});
  Answer a = ask_now(
      "/v1/trace", json{{"source", "a"}, {"destination", "b"}, {"protocol", "tcp"}, {"port", 80}});
  EXPECT_EQ(a.status, 404u) << a.body;
  EXPECT_EQ(a.error_code(), "ENDPOINT_NOT_FOUND");
  a = ask_now("/v1/trace", json{{"source", "a"},
                                {"destination", "b"},
                                {"protocol", "tcp"},
                                {"port", 80},
                                {"cell", "nobody"}});
  EXPECT_EQ(a.status, 404u) << a.body;
  EXPECT_EQ(a.error_code(), "CELL_NOT_FOUND");
  EXPECT_EQ(cell->request_count(), 0u);
}

TEST_F(CellRequestsTest, ATraceWithAForeignAppAnswersAsAMissingOne) {
  start_with({});
  register_app("mine", "acct1");
  register_app("theirs", "acct2");
  auto cell = fake_cell("c1", {"mine", "theirs"});
  const std::string token = write_token("acct1");
  for (auto [src, dst] :
       {std::pair{"mine", "theirs"}, std::pair{"theirs", "mine"}, std::pair{"mine", "missing"}}) {
    Answer a = ask_now(
        "/v1/trace", json{{"source", src}, {"destination", dst}, {"protocol", "tcp"}, {"port", 80}},
        token);
    EXPECT_EQ(a.status, 404u) << src << "→" << dst << " " << a.body;
    EXPECT_EQ(a.error_code(), "APP_NOT_FOUND");
  }
  EXPECT_EQ(cell->request_count(), 0u);
  // Its own apps: forwarded.
  auto pending = ask(
      "/v1/trace",
      json{{"source", "mine"}, {"destination", "mine"}, {"protocol", "tcp"}, {"port", 80}}, token);
  ASSERT_TRUE(cell->request(0).is_object());
  cell->reply(cell->request(0)["id"], json{{"result", {{"verdict", "pass"}}}});
  EXPECT_EQ(pending.get().status, 200u);
}

TEST_F(CellRequestsTest, ATraceWithBadInputIs400) {
  start_with({});
  register_app("a");
  register_app("b");
  auto cell = fake_cell("c1", {"b"});
  const json base = {{"source", "a"}, {"destination", "b"}, {"protocol", "tcp"}, {"port", 80}};
  auto with = [&](const char* key, json v) {
    json b = base;
    if (v.is_null())
      b.erase(key);
    else
      b[key] = std::move(v);
    return b;
  };
  struct Case {
    json body;
    std::string code;
  };
  std::vector<Case> cases = {
      {with("protocol", "any"), "INVALID_PROTOCOL"},
      {with("protocol", "sctp"), "INVALID_PROTOCOL"},
      {with("port", 0), "INVALID_PORT"},
      {with("port", 65536), "INVALID_PORT"},
      {with("port", "80"), "INVALID_PORT"},
      {with("port", nullptr), "MISSING_FIELD"},
      {with("source", nullptr), "MISSING_FIELD"},
      {with("source", "*"), "INVALID_GUID"},
      {with("ipv6", "yes"), "INVALID_FIELD_TYPE"},
      {with("reply", 1), "INVALID_FIELD_TYPE"},
      {with("cell", "a/b"), "INVALID_CELL_NAME"},
      {with("color", "red"), "UNKNOWN_FIELD"},
      {json{{"source", "a"}, {"destination", "b"}, {"protocol", "icmp"}, {"port", 1}},
       "INVALID_FIELD_COMBINATION"},
  };
  for (const Case& c : cases) {
    Answer a = ask_now("/v1/trace", c.body);
    EXPECT_EQ(a.status, 400u) << c.body.dump() << " " << a.body;
    EXPECT_EQ(a.error_code(), c.code) << c.body.dump();
  }
  EXPECT_EQ(cell->request_count(), 0u);
  auto r = http_request(s().port(), "POST", "/v1/trace", base.dump(), "");
  EXPECT_EQ(r.status, 401);
}

}  // namespace
}  // namespace wiretag::test
