// `wiretag log-level` and `wiretag changes` against the real server.
#include <gtest/gtest.h>

#include "cli_runner.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

class LogCli : public CliServerTest {};

TEST_F(LogCli, LogLevelPrintsAndSetsTheServersLevel) {
  auto r = cli({"log-level", "-o", "json"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.json(), json({{"level", "info"}}));
  r = cli({"log-level", "debug"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_NE(r.out.find("debug"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("info"), std::string::npos) << r.out;  // the previous level
  r = cli({"log-level", "loud"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("INVALID_LOG_LEVEL"), std::string::npos) << r.err;
  EXPECT_EQ(cli({"log-level", "-o", "json"}).json()["level"], "debug");
}

TEST_F(LogCli, ChangesNameWhoMadeEachChange) {
  auto issued = s().post("/v1/tokens", R"({"scopes":["network.write"],"accounts":["default"]})");
  ASSERT_EQ(issued.status, 201) << issued.body;
  const std::string writer = issued.json()["token"].get<std::string>();
  const std::string writer_id = issued.json()["id"].get<std::string>();
  ASSERT_EQ(cli({"app", "register", "web"}, {{"WIRETAG_TOKEN", writer}}).status, 0);
  auto r = cli({"changes"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_NE(r.out.find("PRINCIPAL"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("app.created"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("token:" + writer_id), std::string::npos) << r.out;
  r = cli({"changes", "--since", "1", "-o", "json"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_TRUE(r.json()["changes"].empty()) << r.out;
}

}  // namespace
}  // namespace wiretag::test
