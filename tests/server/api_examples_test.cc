// api/: the example bodies work as documented, and every documented path is served.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "server_process.h"

namespace wiretag::test {
namespace {

std::string read_file(const std::string& name) {
  std::ifstream in(std::string(WIRETAG_API_DIR) + "/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ApiExamples, SeedFlowWorksWithTheExampleBodies) {
  TempDir dir;
  ServerProcess s(dir.path() / "data");
  ASSERT_TRUE(s.started());
  auto src = s.post("/app", read_file("examples/register-app.request.json"));
  ASSERT_EQ(src.status, 201) << src.body;
  auto dst = s.post("/app", read_file("examples/register-app-destination.request.json"));
  ASSERT_EQ(dst.status, 201) << dst.body;
  EXPECT_EQ(s.post("/whitelist", read_file("examples/whitelist.request.json")).status, 201);
  EXPECT_EQ(s.post("/whitelist", read_file("examples/whitelist-tcp-port.request.json")).status,
            201);
  auto wl = s.get("/app/55c21794-95a8-41bc-b320-3f79540a6789/whitelist").json();
  EXPECT_EQ(wl["allowed_wire_bytes"], nlohmann::json::array({src.json()["wire_bytes"]}));
  auto policy = s.post("/v1/accounts/default/policies", read_file("examples/policy.request.json"));
  EXPECT_EQ(policy.status, 201) << policy.body;
  // The documented error example is what the server says for the same mistake.
  s.request("DELETE", "/app/55c21794-95a8-41bc-b320-3f79540a6789");
  auto err = s.post("/whitelist", read_file("examples/whitelist.request.json"));
  EXPECT_EQ(err.json(), nlohmann::json::parse(read_file("examples/error.response.json")));
}

TEST(ApiDocument, EveryDocumentedPathIsServed) {
  TempDir dir;
  ServerProcess s(dir.path() / "data");
  ASSERT_TRUE(s.started());
  std::istringstream yaml(read_file("policy-server.yaml"));
  std::regex path_line(R"(^  (/[^:]*):\s*$)");
  int paths = 0;
  for (std::string line; std::getline(yaml, line);) {
    std::smatch m;
    if (!std::regex_match(line, m, path_line)) continue;
    ++paths;
    std::string path = std::regex_replace(m[1].str(), std::regex(R"(\{[^}]+\})"), "x");
    auto r = s.get(path);
    EXPECT_NE(r.error_code(), "ROUTE_NOT_FOUND") << m[1].str();
    EXPECT_NE(r.status, 0) << m[1].str();
  }
  EXPECT_GE(paths, 10);
}

}  // namespace
}  // namespace wiretag::test
