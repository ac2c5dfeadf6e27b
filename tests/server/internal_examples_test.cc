// api/internal.yaml: its example bodies work as documented, and every documented path is served.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "server_process.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

std::string read_api_file(const std::string& name) {
  std::ifstream in(std::string(WIRETAG_API_DIR) + "/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(InternalApiExamples, PdpStatusAndQueryExamplesWork) {
  TempDir dir;
  ServerProcess s(dir.path() / "data");
  ASSERT_TRUE(s.started());
  ASSERT_EQ(s.post("/app", read_api_file("examples/register-app.request.json")).status, 201);
  ASSERT_EQ(s.post("/app", read_api_file("examples/register-app-destination.request.json")).status,
            201);
  ASSERT_EQ(s.post("/whitelist", read_api_file("examples/whitelist.request.json")).status, 201);

  auto status =
      s.post("/internal/v1/cells/cell1/status", read_api_file("examples/pdp-status.request.json"));
  ASSERT_EQ(status.status, 200) << status.body;
  // The documented answer, but for what each message makes anew: its id and time.
  json answer = status.json();
  for (json* message : {&answer, &answer["pdpStateChange"]}) {
    EXPECT_EQ((*message)["requestId"].get<std::string>().size(), 36u);
    EXPECT_GT((*message)["timestampMs"].get<int64_t>(), 0);
    message->erase("requestId");
    message->erase("timestampMs");
  }
  EXPECT_EQ(answer, json::parse(read_api_file("examples/pdp-status.response.json")));

  auto query = s.post("/internal/v1/endpoints/query",
                      read_api_file("examples/endpoints-query.request.json"));
  ASSERT_EQ(query.status, 200) << query.body;
  // The documented response, but for the store id, which every store makes anew.
  json expected = json::parse(read_api_file("examples/endpoints-query.response.json"));
  json got = query.json();
  EXPECT_EQ(got["store_id"].get<std::string>().size(), 36u);
  got.erase("store_id");
  expected.erase("store_id");
  EXPECT_EQ(got, expected);

  auto watch = s.get("/internal/v1/watch?since=2&timeout=0");
  ASSERT_EQ(watch.status, 200);
  json expected_watch = json::parse(read_api_file("examples/watch.response.json"));
  json got_watch = watch.json();
  got_watch.erase("store_id");
  expected_watch.erase("store_id");
  // And for the commit times (unix ms), which are now, and the token that made each change,
  // which every store makes anew.
  for (json* w : {&got_watch, &expected_watch})
    for (json& e : (*w)["events"]) {
      EXPECT_TRUE(e["committed_at_ms"].is_number_integer()) << e;
      e.erase("committed_at_ms");
      EXPECT_TRUE(e["principal"].is_string() &&
                  e["principal"].get<std::string>().starts_with("token:"))
          << e;
      e.erase("principal");
    }
  EXPECT_EQ(got_watch, expected_watch);
}

TEST(InternalApiDocument, EveryDocumentedPathIsServed) {
  TempDir dir;
  ServerProcess s(dir.path() / "data");
  ASSERT_TRUE(s.started());
  std::istringstream yaml(read_api_file("internal.yaml"));
  std::regex path_line(R"(^  (/[^:]*):\s*$)");
  int paths = 0;
  for (std::string line; std::getline(yaml, line);) {
    std::smatch m;
    if (!std::regex_match(line, m, path_line)) continue;
    ++paths;
    std::string path = std::regex_replace(m[1].str(), std::regex(R"(\{[^}]+\})"), "x");
    auto r = s.request("GET", path + "?since=0&timeout=0");
    EXPECT_NE(r.error_code(), "ROUTE_NOT_FOUND") << m[1].str();
    EXPECT_NE(r.status, 0) << m[1].str();
  }
  EXPECT_EQ(paths, 10);
}

}  // namespace
}  // namespace wiretag::test
