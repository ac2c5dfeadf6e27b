// Routing and the error model, as pure functions.
#include <gtest/gtest.h>

#include "http/errors.h"
#include "http/json_input.h"
#include "http/router.h"
#include "http/server.h"

namespace wiretag::http {
namespace {

Router sample() {
  Router r;
  r.get("/app/:app_guid/whitelist", [](const Request& q) -> Result<Reply> {
     return Reply{200, {{"guid", q.param("app_guid")}}};
   }).post("/app", [](const Request&) -> Result<Reply> {
    return Error{"APP_NOT_FOUND", "x"};
  });
  return r;
}

TEST(Router, BindsPathParameters) {
  Request q;
  q.path = "/app/abc/whitelist";
  auto reply = sample().route(q);
  EXPECT_EQ(reply.status, 200u);
  EXPECT_EQ(reply.body["guid"], "abc");
}

TEST(Router, UnknownPathIs404AndWrongMethodIs405) {
  Request q;
  q.path = "/nope";
  EXPECT_EQ(sample().route(q).body[0]["error_code"], "ROUTE_NOT_FOUND");
  q.method = Method::Delete;
  q.path = "/app";
  auto r = sample().route(q);
  EXPECT_EQ(r.status, 405u);
  EXPECT_EQ(r.body[0]["error_code"], "METHOD_NOT_ALLOWED");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>{"Allow", "POST"}));
  q.method = Method::Head;
  q.path = "/app/x/whitelist";
  r = sample().route(q);
  EXPECT_EQ(r.status, 405u);
  EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>{"Allow", "GET"}));
}

TEST(Router, HandlerErrorsBecomeTheErrorBody) {
  Request q;
  q.method = Method::Post;
  q.path = "/app";
  auto r = sample().route(q);
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(r.body, (nlohmann::json::array({{{"error_code", "APP_NOT_FOUND"}, {"message", "x"}}})));
}

TEST(Errors, CodesMapToStatuses) {
  EXPECT_EQ(status_for({"INVALID_JSON", ""}), 400u);
  EXPECT_EQ(status_for({"UNKNOWN_FIELD", ""}), 400u);
  EXPECT_EQ(status_for({"MISSING_FIELD", ""}), 400u);
  EXPECT_EQ(status_for({"APP_NOT_FOUND", ""}), 404u);
  EXPECT_EQ(status_for({"INVALID_POLICY_KEY", ""}), 404u);
  EXPECT_EQ(status_for({"TAGS_EXHAUSTED", ""}), 409u);
  EXPECT_EQ(status_for({"BODY_TOO_LARGE", ""}), 400u);  // SPEC §4: oversized bodies are 400
  EXPECT_EQ(status_for({"UNAUTHORIZED", ""}), 401u);
  EXPECT_EQ(status_for({"STORE_ERROR", ""}), 500u);
}

// The agent's Plugin API: a client's mistake or a full cell is not a fault of the agent.
TEST(Errors, AgentClientAndCapacityErrorsAreNot500) {
  EXPECT_EQ(status_for({"INVALID_NAMESPACE", ""}), 400u);
  EXPECT_EQ(status_for({"IFINDEX_CONFLICT", ""}), 409u);
  EXPECT_EQ(status_for({"ENDPOINTS_FULL", ""}), 507u);
  EXPECT_EQ(status_for({"MAP_FULL", ""}), 507u);
  EXPECT_EQ(status_for({"UPSTREAM_ERROR", ""}), 502u);
  EXPECT_EQ(status_for({"STATE_WRITE_FAILED", ""}), 500u);
}

TEST(SplitTarget, KeepsThePathAsSentAndDecodesTheQuery) {
  std::string path;
  std::map<std::string, std::string> query;
  ASSERT_TRUE(split_target("/app/a%3Ab/whitelist?detail=rules&x=a+b", path, query));
  EXPECT_EQ(path, "/app/a%3Ab/whitelist");
  EXPECT_EQ(query["detail"], "rules");
  EXPECT_EQ(query["x"], "a b");
  EXPECT_FALSE(split_target("/app/%4", path, query));
  EXPECT_FALSE(split_target("/app/%zz", path, query));
}

Router app_routes() {
  Router r;
  r.get("/app/:app_guid", [](const Request& q) -> Result<Reply> {
     return Reply{200, {{"app", q.param("app_guid")}}};
   }).get("/app/:app_guid/whitelist", [](const Request& q) -> Result<Reply> {
    return Reply{200, {{"whitelist_of", q.param("app_guid")}}};
  });
  return r;
}

Reply get(const Router& r, std::string target) {
  Request q;
  std::map<std::string, std::string> query;
  if (auto split = split_target(target, q.path, query); !split) return error_reply(split.error());
  return r.route(q);
}

TEST(Router, SplitsThePathBeforeDecodingEachSegment) {
  // An encoded '/' stays inside its segment: db's whitelist is not reachable this way.
  auto r = get(app_routes(), "/app/db%2Fwhitelist");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, (nlohmann::json{{"app", "db/whitelist"}}));
  r = get(app_routes(), "/app/a%3Ab/whitelist");
  EXPECT_EQ(r.body, (nlohmann::json{{"whitelist_of", "a:b"}}));
  r = get(app_routes(), "/app/db/%77hitelist");  // literal segments compare decoded
  EXPECT_EQ(r.body, (nlohmann::json{{"whitelist_of", "db"}}));
}

TEST(Router, AnEmptySegmentMatchesNothing) {
  for (const char* target :
       {"//app/db/whitelist", "/app//db/whitelist", "/app/db//whitelist", "/app/db/whitelist/",
        "/app//whitelist", "/app/", "//app/db", "/", "app/db"}) {
    SCOPED_TRACE(target);
    auto r = get(app_routes(), target);
    EXPECT_EQ(r.status, 404u);
    EXPECT_EQ(r.body[0]["error_code"], "ROUTE_NOT_FOUND");
  }
  EXPECT_EQ(get(app_routes(), "/app/db/whitelist").status, 200u);
}

TEST(Router, ARestSegmentBindsTheRestOfThePath) {
  Router r;
  r.get("/files/*rest", [](const Request& q) -> Result<Reply> {
    return Reply{200, {{"rest", q.param("rest")}}};
  });
  const std::pair<const char*, const char*> cases[] = {
      {"/files", ""}, {"/files/", ""}, {"/files/a", "a"}, {"/files/a/b%2Fc/", "a/b/c/"}};
  for (const auto& [path, rest] : cases) {
    Request q;
    q.path = path;
    auto reply = r.route(q);
    EXPECT_EQ(reply.status, 200u) << path;
    EXPECT_EQ(reply.body["rest"], rest) << path;
  }
  Request other;
  other.path = "/filesx/a";
  EXPECT_EQ(r.route(other).status, 404u);
}

TEST(Router, BadPercentEncodingInASegmentIsInvalidPath) {
  Request q;
  q.path = "/app/%zz/whitelist";  // set directly: the router decodes, not only split_target
  auto r = app_routes().route(q);
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.body[0]["error_code"], "INVALID_PATH");
}

std::string nested(size_t depth, const std::string& open, const std::string& close,
                   const std::string& inner = "1") {
  std::string out;
  for (size_t i = 0; i < depth; ++i) out += open;
  out += inner;
  for (size_t i = 0; i < depth; ++i) out += close;
  return out;
}

TEST(JsonInput, NestingUpToTheLimitParsesAndOneMoreIsTooDeep) {
  EXPECT_TRUE(parse_json(nested(kMaxJsonDepth, "[", "]")));
  EXPECT_TRUE(parse_json_object(nested(kMaxJsonDepth, "{\"a\":", "}")));
  EXPECT_EQ(parse_json(nested(kMaxJsonDepth + 1, "[", "]")).error().code, "JSON_TOO_DEEP");
  auto deep = parse_json_object(nested(kMaxJsonDepth + 1, "{\"a\":", "}"));
  EXPECT_EQ(deep.error().code, "JSON_TOO_DEEP");
  EXPECT_EQ(status_for(deep.error()), 400u);
  // What a program reads from its peers has room for the envelope around a stored body.
  EXPECT_TRUE(parse_json(nested(kMaxJsonDepth + 3, "[", "]"), kReceivedJsonLimits));
}

TEST(JsonInput, DeepTextIsRefusedBeforeItIsBuiltEvenUnfinished) {
  // 100,000 levels (the crash needed ~66,000): refused at level 65, unclosed or not.
  EXPECT_EQ(parse_json_object(nested(100000, "{\"a\":", "}")).error().code, "JSON_TOO_DEEP");
  EXPECT_EQ(parse_json_object("{\"a\":" + std::string(100000, '[')).error().code, "JSON_TOO_DEEP");
  EXPECT_EQ(parse_json(std::string(100000, '[')).error().code, "JSON_TOO_DEEP");
  EXPECT_EQ(parse_json("[" + nested(100000, "[", "]") + ",").error().code, "JSON_TOO_DEEP");
}

TEST(JsonInput, LongStringsAndKeysAreFieldTooLongNamingTheField) {
  const std::string at_limit(kMaxJsonStringBytes, 'x'), over(kMaxJsonStringBytes + 1, 'x');
  EXPECT_TRUE(parse_json_object(nlohmann::json{{"name", at_limit}}.dump()));
  auto r = parse_json_object(
      nlohmann::json{{"groups", {{{"name", "ok"}}, {{"name", "ok"}, {"description", over}}}}}
          .dump());
  EXPECT_EQ(r.error().code, "FIELD_TOO_LONG");
  EXPECT_NE(r.error().message.find("\"groups[1].description\""), std::string::npos)
      << r.error().message;
  EXPECT_EQ(status_for(r.error()), 400u);
  r = parse_json_object(nlohmann::json{{"properties", {{over, 1}}}}.dump());
  EXPECT_EQ(r.error().code, "FIELD_TOO_LONG");
  EXPECT_NE(r.error().message.find("a key in \"properties\""), std::string::npos)
      << r.error().message;
  EXPECT_TRUE(parse_json(nlohmann::json{{"key", over}}.dump(), kReceivedJsonLimits));
}

TEST(JsonInput, ChecksFieldsInOrderUnknownThenMissing) {
  auto j = parse_json_object(R"({"a":1,"b":2})");
  ASSERT_TRUE(j);
  EXPECT_EQ(check_fields(*j, {"a"}).error().code, "UNKNOWN_FIELD");
  EXPECT_EQ(check_fields(*j, {"a", "b", "c"}).error().code, "MISSING_FIELD");
  EXPECT_TRUE(check_fields(*j, {"a"}, {"b"}));
  EXPECT_EQ(string_field(*j, "a").error().code, "INVALID_FIELD_TYPE");
  EXPECT_EQ(parse_json_object("{").error().code, "INVALID_JSON");
  EXPECT_EQ(parse_json_object("").error().code, "INVALID_JSON");
  EXPECT_EQ(parse_json_object("{} x").error().code, "INVALID_JSON");
  // nlohmann's lexer ends the input at a NUL byte: what follows one must not be ignored.
  EXPECT_EQ(parse_json_object(std::string("{}\0garbage", 10)).error().code, "INVALID_JSON");
  EXPECT_EQ(parse_json(std::string("[1]\0", 4)).error().code, "INVALID_JSON");
  EXPECT_EQ(parse_json_object(std::string("{\"a\":\"\0\"}", 8)).error().code, "INVALID_JSON");
  EXPECT_EQ(parse_json_object("[]").error().code, "INVALID_BODY");
}

// A repeated key means the first value to some readers, the last to nlohmann: refused, the
// message naming the key and where; the same key in sibling objects is no repeat.
TEST(JsonInput, ARepeatedKeyIsInvalidJsonNamingIt) {
  auto r = parse_json_object(R"({"source":"a","destination":"b","source":"c"})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "INVALID_JSON");
  EXPECT_NE(r.error().message.find("\"source\" appears twice in (the body)"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(status_for(r.error()), 400u);
  r = parse_json_object(R"({"rules":[{"protocol":"tcp"},{"protocol":"udp","protocol":"any"}]})");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("in \"rules[1]\""), std::string::npos) << r.error().message;
  EXPECT_TRUE(parse_json_object(R"({"a":{"k":1},"b":{"k":2},"c":[{"k":1},{"k":2}]})"));
  EXPECT_EQ(parse_json(R"([{"k":1,"k":1}])").error().code, "INVALID_JSON");
}

TEST(Respond, AnswersJsonWithTheRoutedStatus) {
  BeastRequest req{boost::beast::http::verb::get, "/app/x/whitelist", 11};
  auto res = respond(sample(), req);
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res[boost::beast::http::field::content_type], "application/json");
  EXPECT_EQ(res.body(), R"({"guid":"x"})");
}

}  // namespace
}  // namespace wiretag::http
