// GET /metrics of the real wiretag-server over HTTP: who may read it, that it parses, that
// request counts move with requests and are labelled by route pattern, never the raw path.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "metrics_text.h"
#include "server_process.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

class Metrics : public ServerTest {
 protected:
  std::string issue(const json& grant) {
    auto r = s().post("/v1/tokens", grant.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json().value("token", "");
  }
  MetricsText scrape() {
    auto r = s().get("/metrics");
    EXPECT_EQ(r.status, 200) << r.body;
    MetricsText m = parse_metrics_text(r.body);
    EXPECT_EQ(m.error, "");
    return m;
  }
};

TEST_F(Metrics, NeedAnAdminOrMetricsToken) {
  const std::string metrics = issue({{"scopes", {"metrics"}}});
  const std::string writer = issue({{"scopes", {"network.write"}}, {"accounts", {"default"}}});
  const std::string cell = issue({{"scopes", {"cell"}}, {"cell", "c1"}});

  auto none = http_request(s().port(), "GET", "/metrics", "", "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.error_code(), "UNAUTHORIZED");
  for (const std::string& t : {writer, cell}) {
    auto r = s().request("GET", "/metrics", "", t);
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_EQ(r.error_code(), "FORBIDDEN");
  }
  for (const std::string& t : {metrics, s().admin_token()}) {
    auto r = s().request("GET", "/metrics", "", t);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_EQ(parse_metrics_text(r.body).error, "");
    EXPECT_NE(r.body.find("# TYPE wiretag_tags_capacity gauge"), std::string::npos) << r.body;
  }
  // A metrics token reads nothing else.
  auto apps = s().request("GET", "/apps", "", metrics);
  EXPECT_EQ(apps.status, 403) << apps.body;
  auto internal = s().request("GET", "/internal/v1/status", "", metrics);
  EXPECT_EQ(internal.status, 403) << internal.body;
}

TEST_F(Metrics, RequestCountsMoveByRoutePatternAndCode) {
  const std::map<std::string, std::string> missing = {
      {"api", "policy"}, {"route", "/app/:app_guid/whitelist"}, {"method", "GET"}, {"code", "404"}};
  const std::map<std::string, std::string> unmatched = {{"route", "unmatched"}, {"code", "404"}};
  MetricsText before = scrape();
  for (int i = 0; i < 3; ++i) {
    auto r = s().get("/app/no-such-app-" + std::to_string(i) + "/whitelist");
    EXPECT_EQ(r.status, 404) << r.body;
  }
  EXPECT_EQ(s().get("/no/such/route").status, 404);
  EXPECT_EQ(s().post("/app", R"({"guid":"metrics-app"})").status, 201);
  MetricsText after = scrape();

  EXPECT_EQ(after.value("wiretag_http_requests_total", missing) -
                before.value("wiretag_http_requests_total", missing),
            3);
  EXPECT_EQ(after.value("wiretag_http_requests_total", unmatched) -
                before.value("wiretag_http_requests_total", unmatched),
            1);
  EXPECT_EQ(
      after.value("wiretag_http_requests_total",
                  {{"api", "policy"}, {"route", "/app"}, {"method", "POST"}, {"code", "201"}}),
      1);
  // The first scrape is counted too, under its own route.
  EXPECT_GE(after.value("wiretag_http_requests_total",
                        {{"api", "metrics"}, {"route", "/metrics"}, {"code", "200"}}),
            1);
  EXPECT_EQ(after.value("wiretag_http_request_duration_seconds_count",
                        {{"route", "/app/:app_guid/whitelist"}}) -
                before.value("wiretag_http_request_duration_seconds_count",
                             {{"route", "/app/:app_guid/whitelist"}}),
            3);
  // Raw paths never become labels: cardinality stays bounded by the route table.
  for (const MetricSample& sample : after.samples)
    for (const auto& [k, v] : sample.labels) EXPECT_EQ(v.find("no-such"), std::string::npos) << v;

  // A refusal before the body (admission: no token) is counted under its route too.
  const std::map<std::string, std::string> refused = {{"route", "/app"}, {"code", "401"}};
  EXPECT_EQ(http_request(s().port(), "POST", "/app", R"({"guid":"x"})", "").status, 401);
  EXPECT_EQ(scrape().value("wiretag_http_requests_total", refused), 1);

  EXPECT_EQ(after.value("wiretag_tags_allocated"), 1);
  EXPECT_EQ(after.value("wiretag_tags_capacity"), 65535);  // tag length 2
  EXPECT_EQ(after.value("wiretag_deployments", {{"status", "success"}}), 0);
}

}  // namespace
}  // namespace wiretag::test
