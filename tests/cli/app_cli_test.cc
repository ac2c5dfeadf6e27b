// `wiretag app …` and what every server command shares (exit statuses, -o json|yaml, errors
// on stderr, credentials), the real CLI against the real server over HTTP.
#include <gtest/gtest.h>

#include "cli_runner.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

class AppCli : public CliServerTest {};

TEST_F(AppCli, RegisterListGetDelete) {
  auto r = cli({"app", "register", "web"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_NE(r.out.find("GUID"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0001"), std::string::npos) << r.out;

  r = cli({"app", "register", "db", "--account", "team-x", "-o", "json"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.json()["wire_bytes"], "0002");
  EXPECT_EQ(r.json()["account"], "team-x");

  r = cli({"-o", "json", "app", "list"});
  ASSERT_EQ(r.status, 0) << describe(r);
  ASSERT_EQ(r.json()["apps"].size(), 2u) << r.out;

  r = cli({"app", "list", "--account", "team-x", "-o", "yaml"});
  ASSERT_EQ(r.status, 0) << describe(r);
  YAML::Node y = r.yaml();
  ASSERT_EQ(y["apps"].size(), 1u) << r.out;
  EXPECT_EQ(y["apps"][0]["guid"].as<std::string>(), "db");
  EXPECT_EQ(y["apps"][0]["wire_bytes"].as<std::string>(), "0002");
  EXPECT_EQ(y["apps"][0]["wire_bytes"].Tag(), "!") << "hex tags are strings in YAML";

  r = cli({"app", "get", "db", "-o", "json"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.json()["account"], "team-x");

  r = cli({"app", "delete", "db"});
  ASSERT_EQ(r.status, 0) << describe(r);
  r = cli({"app", "get", "db"});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_NE(r.err.find("APP_NOT_FOUND"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(AppCli, ApiErrorsExitOneWithCodeAndMessage) {
  auto r = cli({"app", "register", "bad/guid"});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_NE(r.err.find("INVALID_GUID"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("HTTP 400"), std::string::npos) << r.err;
}

TEST_F(AppCli, UsageErrorsExitTwo) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"app"},              // a group needs a command
                                             {"app", "register"},  // missing guid
                                             {"app", "list", "--no-such"},  // unknown flag
                                             {"app", "list", "-o", "xml"},  // bad output format
                                             {"no-such-group"}}) {
    auto r = cli(args);
    EXPECT_EQ(r.status, 2) << args[0] << " " << (args.size() > 1 ? args[1] : "") << describe(r);
  }
}

TEST_F(AppCli, CredentialsFromFileEnvOrDataDir) {
  TempDir empty;
  // --token-file
  const std::string tok = write_file("tok", s().admin_token() + "\n");
  auto r = cli({"--token-file", tok, "app", "list"},
               {{"WIRETAG_TOKEN", ""}, {"WIRETAG_DATA_DIR", empty.path().string()}});
  EXPECT_EQ(r.status, 0) << describe(r);
  // <data-dir>/admin-token
  r = cli({"app", "list"}, {{"WIRETAG_TOKEN", ""}});
  EXPECT_EQ(r.status, 0) << describe(r);
  // none: a clear message naming where a token comes from
  r = cli({"app", "list"}, {{"WIRETAG_TOKEN", ""}, {"WIRETAG_DATA_DIR", empty.path().string()}});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_NE(r.err.find("no bearer token"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--token-file"), std::string::npos) << r.err;
  // a wrong one
  r = cli({"app", "list"}, {{"WIRETAG_TOKEN", "nope"}});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_NE(r.err.find("UNAUTHORIZED"), std::string::npos) << r.err;
  // an unreadable --token-file is a usage error
  r = cli({"--token-file", (empty.path() / "missing").string(), "app", "list"});
  EXPECT_EQ(r.status, 2) << describe(r);
}

TEST_F(AppCli, UnreachableServerExitsOne) {
  auto r = run_cli({"--server", "http://127.0.0.1:1", "--timeout", "2", "app", "list"},
                   {{"WIRETAG_TOKEN", "x"}});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_NE(r.err.find("127.0.0.1:1"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace wiretag::test
