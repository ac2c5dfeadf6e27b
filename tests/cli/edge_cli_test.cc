// `wiretag edge allow|deny|list`, the real CLI against the real server over HTTP.
#include <gtest/gtest.h>

#include "cli_runner.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

class EdgeCli : public CliServerTest {
 protected:
  void SetUp() override {
    CliServerTest::SetUp();
    for (auto [guid, account] : {std::pair{"web", "a"}, {"db", "a"}, {"api", "b"}})
      ASSERT_EQ(cli({"app", "register", guid, "--account", account}).status, 0);
  }
  CliResult ok(std::vector<std::string> args) {
    auto r = cli(std::move(args));
    EXPECT_EQ(r.status, 0) << describe(r);
    return r;
  }
};

TEST_F(EdgeCli, AllowListDeny) {
  auto r = ok({"edge", "allow", "--from", "web", "--to", "db", "--proto", "tcp", "--port", "5432",
               "-o", "json"});
  EXPECT_EQ(r.json(), (json{{"source", "web"},
                            {"destination", "db"},
                            {"protocol", "tcp"},
                            {"ports", {{"start", 5432}, {"end", 5432}}},
                            {"status", "created"}}));
  r = ok({"edge", "allow", "--from", "web", "--to", "db", "--proto", "tcp", "--port", "5432"});
  EXPECT_NE(r.out.find("exists"), std::string::npos) << r.out;
  ok({"edge", "allow", "--from", "api", "--to", "db", "--proto", "udp", "--ports", "5000-5010"});
  ok({"edge", "allow", "--from", "web", "--to", "api"});

  // Table: guids and hex wire bytes.
  r = ok({"edge", "list", "--into", "db"});
  EXPECT_NE(r.out.find("SOURCE_WIRE"), std::string::npos) << r.out;
  EXPECT_TRUE(has_row(r.out, {"web", "0001", "db", "0002", "tcp", "5432", "a"})) << r.out;
  EXPECT_TRUE(has_row(r.out, {"api", "0003", "db", "0002", "udp", "5000-5010", "a"})) << r.out;

  r = ok({"edge", "list", "--into", "db", "-o", "json"});
  json e = r.json()["edges"];
  ASSERT_EQ(e.size(), 2u) << r.out;
  EXPECT_EQ(e[0]["source_wire_bytes"], "0001");
  EXPECT_EQ(e[0]["destination_wire_bytes"], "0002");
  EXPECT_EQ(e[1]["source"], "api");
  EXPECT_EQ(e[1]["ports"], (json{{"start", 5000}, {"end", 5010}}));

  r = ok({"edge", "list", "--from", "web", "-o", "yaml"});
  YAML::Node y = r.yaml();
  ASSERT_EQ(y["edges"].size(), 2u) << r.out;
  EXPECT_EQ(y["edges"][1]["destination"].as<std::string>(), "api");
  EXPECT_EQ(y["edges"][1]["destination_wire_bytes"].as<std::string>(), "0003");
  EXPECT_EQ(y["edges"][1]["protocol"].as<std::string>(), "any");

  r = ok({"edge", "list", "--account", "b", "-o", "json"});
  ASSERT_EQ(r.json()["edges"].size(), 1u);
  EXPECT_EQ(r.json()["edges"][0]["account"], "b");
  EXPECT_EQ(ok({"edge", "list", "-o", "json"}).json()["edges"].size(), 3u);

  r = ok({"edge", "list", "--limit", "1"});
  EXPECT_NE(r.err.find("more match"), std::string::npos) << r.err;

  r = ok({"edge", "deny", "--from", "web", "--to", "db", "--proto", "tcp", "--port", "5432"});
  EXPECT_NE(r.out.find("removed edge web -> db tcp/5432"), std::string::npos) << r.out;
  EXPECT_EQ(ok({"edge", "list", "--into", "db", "-o", "json"}).json()["edges"].size(), 1u);
}

TEST_F(EdgeCli, AnAccountTokenListsItsOwnEdges) {
  ok({"edge", "allow", "--from", "web", "--to", "db"});
  ok({"edge", "allow", "--from", "web", "--to", "api"});
  auto t = ok({"token", "create", "--scope", "network.write", "--account", "b", "-o", "json"});
  const std::string token = t.json()["token"];
  // web -> api is into b's app, but web is a's: b's token may not learn of it (SPEC §4 Auth).
  auto r = cli({"edge", "list", "-o", "json"}, {{"WIRETAG_TOKEN", token}});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.json()["edges"].size(), 0u) << r.out;
  EXPECT_EQ(ok({"edge", "list", "--into", "api", "-o", "json"}).json()["edges"].size(), 1u);
  r = cli({"edge", "list", "--into", "db"}, {{"WIRETAG_TOKEN", token}});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_NE(r.err.find("APP_NOT_FOUND"), std::string::npos) << r.err;
}

// SPEC §1: a command's flag has an environment twin named after the command's path.
TEST_F(EdgeCli, ACommandsFlagsHaveEnvironmentTwins) {
  ok({"edge", "allow", "--from", "web", "--to", "db"});
  ok({"edge", "allow", "--from", "web", "--to", "api"});
  auto r = cli({"edge", "list", "-o", "json"}, {{"WIRETAG_EDGE_LIST_INTO", "api"}});
  ASSERT_EQ(r.status, 0) << describe(r);
  ASSERT_EQ(r.json()["edges"].size(), 1u) << r.out;
  EXPECT_EQ(r.json()["edges"][0]["destination"], "api");
  // The flag given wins over its twin; another command's twin is not read.
  r = cli({"edge", "list", "--into", "db", "-o", "json"}, {{"WIRETAG_EDGE_LIST_INTO", "api"}});
  EXPECT_EQ(r.json()["edges"][0]["destination"], "db") << r.out;
  r = cli({"edge", "list", "-o", "json"}, {{"WIRETAG_EDGE_ALLOW_TO", "api"}});
  EXPECT_EQ(r.json()["edges"].size(), 2u) << r.out;
  EXPECT_NE(ok({"edge", "list", "--help"}).out.find("WIRETAG_EDGE_LIST_INTO"), std::string::npos);
}

TEST_F(EdgeCli, BadInput) {
  // API errors: exit 1, error_code and message on stderr.
  struct Case {
    std::vector<std::string> args;
    std::string code;
  };
  for (const Case& c : std::vector<Case>{
           {{"edge", "allow", "--from", "web", "--to", "nope"}, "APP_NOT_FOUND"},
           {{"edge", "allow", "--from", "web", "--to", "db", "--proto", "icmp", "--port", "1"},
            "INVALID_RULE"},
           {{"edge", "deny", "--from", "web", "--to", "db"}, "EDGE_NOT_FOUND"},
           {{"edge", "allow", "--from", "we b", "--to", "db"}, "INVALID_GUID"},
           {{"edge", "list", "--into", "nope"}, "APP_NOT_FOUND"},
           {{"edge", "list", "--account", "bad/acct"}, "INVALID_ACCOUNT"}}) {
    auto r = cli(c.args);
    EXPECT_EQ(r.status, 1) << c.code << describe(r);
    EXPECT_NE(r.err.find(c.code), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "") << c.code;
  }
  // Usage errors: exit 2, nothing sent.
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"edge", "allow", "--to", "db"},
           {"edge", "allow", "--from", "web"},
           {"edge", "allow", "--from", "web", "--to", "db", "--proto", "sctp"},
           {"edge", "allow", "--from", "web", "--to", "db", "--port", "0"},
           {"edge", "allow", "--from", "web", "--to", "db", "--port", "70000"},
           {"edge", "allow", "--from", "web", "--to", "db", "--ports", "90-80"},
           {"edge", "allow", "--from", "web", "--to", "db", "--port", "1", "--ports", "1-2"},
           {"edge", "list", "--limit", "0"},
           {"edge"}}) {
    auto r = cli(args);
    EXPECT_EQ(r.status, 2) << describe(r);
  }
  EXPECT_EQ(cli({"edge", "list", "-o", "json"}).json()["edges"].size(), 0u) << "nothing written";
}

}  // namespace
}  // namespace wiretag::test
