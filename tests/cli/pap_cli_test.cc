// `wiretag group …`, `deploy`, `undeploy`, `status`, `audit`: the real CLI against the real
// server's PAP API (basic auth from the data dir's pap-credentials). The cells' side of
// status (--wait) is in agent_cli_test.cc, with real agents.
#include <gtest/gtest.h>

#include "cli_runner.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

class PapCli : public CliServerTest {
 protected:
  // A named policy of account default with one rule; its id, the PAP name.
  std::string policy(const std::string& name = "p") {
    auto r = s().post(
        "/v1/accounts/default/policies",
        json{{"name", name}, {"rules", {{{"source", "*"}, {"destination", "db"}}}}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json()["result"].value("id", "");
  }

  // The group as `wiretag group list -o json` shows it.
  json group(const std::string& name) {
    auto r = cli({"group", "list", "-o", "json"});
    EXPECT_EQ(r.status, 0) << describe(r);
    for (const json& g : r.json().value("groups", json::array()))
      if (g["name"] == name) return g;
    return nullptr;
  }

  json deployed_in(const std::string& name) {
    json g = group(name);
    return g.is_null() ? json() : g["pdpSubgroups"][0]["policies"];
  }

  static void expect_error(const CliResult& r, const std::string& code) {
    EXPECT_EQ(r.status, 1) << describe(r);
    EXPECT_NE(r.err.find(code), std::string::npos) << describe(r);
    EXPECT_EQ(r.out, "") << describe(r);
  }
};

TEST_F(PapCli, GroupCreateListStateDelete) {
  auto r = cli({"group", "create", "canary", "--state", "test", "--desired-instances", "2",
                "--description", "the canary"});
  ASSERT_EQ(r.status, 0) << describe(r);
  json g = group("canary");
  ASSERT_TRUE(g.is_object());
  EXPECT_EQ(g["pdpGroupState"], "TEST");
  EXPECT_EQ(g["description"], "the canary");
  ASSERT_EQ(g["pdpSubgroups"].size(), 1u);
  EXPECT_EQ(g["pdpSubgroups"][0]["pdpType"], "tc");
  EXPECT_EQ(g["pdpSubgroups"][0]["desiredInstanceCount"], 2);

  r = cli({"group", "list"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_NE(r.out.find("GROUP"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("default-whitelist@1.0.0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0/2"), std::string::npos) << r.out;  // live/desired cells
  r = cli({"group", "list", "-o", "yaml"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.yaml()["groups"].size(), 2u) << r.out;

  // Two subgroups, default state PASSIVE.
  r = cli({"group", "create", "multi", "--subgroup", "tc", "--subgroup", "xdp"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(group("multi")["pdpGroupState"], "PASSIVE");
  EXPECT_EQ(group("multi")["pdpSubgroups"].size(), 2u);

  // An existing group is not silently updated.
  expect_error(cli({"group", "create", "canary"}), "GROUP_EXISTS");
  expect_error(cli({"group", "create", "bad/name"}), "INVALID_GROUP_NAME");

  r = cli({"group", "state", "canary", "ACTIVE"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(group("canary")["pdpGroupState"], "ACTIVE");
  expect_error(cli({"group", "state", "nosuch", "ACTIVE"}), "GROUP_NOT_FOUND");
  // Only a PASSIVE group may be deleted; nothing changes.
  expect_error(cli({"group", "delete", "canary"}), "GROUP_NOT_PASSIVE");
  EXPECT_TRUE(group("canary").is_object());
  ASSERT_EQ(cli({"group", "state", "canary", "passive"}).status, 0);
  r = cli({"group", "delete", "canary"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_TRUE(group("canary").is_null());
  expect_error(cli({"group", "delete", "canary"}), "GROUP_NOT_FOUND");
}

TEST_F(PapCli, GroupUsageErrorsExitTwo) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"group"},
                                             {"group", "create"},
                                             {"group", "create", "g", "--state", "ON"},
                                             {"group", "create", "g", "--desired-instances", "-1"},
                                             {"group", "state", "defaultGroup"},
                                             {"group", "state", "defaultGroup", "BOGUS"},
                                             {"group", "delete"}}) {
    auto r = cli(args);
    EXPECT_EQ(r.status, 2) << json(args).dump() << describe(r);
  }
  EXPECT_EQ(group("defaultGroup")["pdpGroupState"], "ACTIVE");
}

TEST_F(PapCli, WrongPapCredentialsExitOne) {
  const std::string creds = write_file("creds", "admin:wrong\n");
  expect_error(cli({"--pap-credentials", creds, "group", "list"}), "UNAUTHORIZED");
}

TEST_F(PapCli, DeployUndeployAndStatus) {
  const std::string id = policy();
  ASSERT_EQ(cli({"group", "create", "canary", "--state", "ACTIVE"}).status, 0);

  auto r = cli({"deploy", id + "@1", "--group", "canary"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_NE(r.out.find("wiretag status " + id + "@1.0.0 --group canary --wait"), std::string::npos)
      << r.out;
  EXPECT_EQ(deployed_in("canary"), (json{{{"name", id}, {"version", "1.0.0"}}}));
  // Several at once, version N.0.0 or none (the latest); a redeploy changes nothing.
  r = cli({"deploy", "default-whitelist", id + "@1.0.0", "--group", "canary"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(deployed_in("canary").size(), 2u);

  // No cell reports: nothing to list.
  r = cli({"status", "-o", "json"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.json(), json::array());
  r = cli({"status", id + "@1", "--group", "canary"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_NE(r.out.find("CELL"), std::string::npos) << r.out;

  expect_error(cli({"deploy", id + "@7", "--group", "canary"}), "POLICY_VERSION_NOT_FOUND");
  expect_error(cli({"deploy", "nosuch", "--group", "canary"}), "POLICY_NOT_FOUND");
  expect_error(cli({"deploy", id, "--group", "nosuch"}), "GROUP_NOT_FOUND");
  expect_error(cli({"deploy", id, "--group", "canary", "--subgroup", "xdp"}), "SUBGROUP_NOT_FOUND");
  expect_error(cli({"status", "nosuch"}), "POLICY_NOT_FOUND");
  expect_error(cli({"status", "--group", "nosuch"}), "GROUP_NOT_FOUND");
  EXPECT_EQ(deployed_in("canary").size(), 2u);

  r = cli({"undeploy", id + "@1", "--group", "canary"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(deployed_in("canary"), (json{{{"name", "default-whitelist"}, {"version", "1.0.0"}}}));
  expect_error(cli({"undeploy", id, "--group", "canary"}), "DEPLOYMENT_NOT_FOUND");
  // Nothing to wait for once it is gone.
  expect_error(cli({"status", id + "@1", "--group", "canary", "--wait"}), "NOT_DEPLOYED");

  // Without --group: from every group.
  ASSERT_EQ(cli({"deploy", id, "--group", "canary"}).status, 0);
  ASSERT_EQ(cli({"deploy", id, "--group", "defaultGroup"}).status, 0);
  r = cli({"undeploy", id});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(deployed_in("canary").size(), 1u);
  EXPECT_EQ(deployed_in("defaultGroup").size(), 1u);
  expect_error(cli({"undeploy", id}), "DEPLOYMENT_NOT_FOUND");

  // SAFE refuses deployment changes.
  ASSERT_EQ(cli({"group", "state", "canary", "SAFE"}).status, 0);
  expect_error(cli({"deploy", id, "--group", "canary"}), "GROUP_IN_SAFE_STATE");
}

TEST_F(PapCli, DeployUsageErrorsExitTwo) {
  const std::string id = policy();
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"deploy", id},                         // --group is required
           {"deploy", "--group", "defaultGroup"},  // no policy
           {"deploy", id + "@x", "--group", "defaultGroup"},
           {"deploy", id + "@0", "--group", "defaultGroup"},
           {"deploy", id + "@1.2.0", "--group", "defaultGroup"},
           {"deploy", "@1", "--group", "defaultGroup"},
           {"undeploy"},
           {"undeploy", id, "--subgroup", "tc"},  // --subgroup needs --group
           {"status", id + "@", "--wait"},
           {"status", "--wait-timeout", "soon"}}) {
    auto r = cli(args);
    EXPECT_EQ(r.status, 2) << json(args).dump() << describe(r);
  }
  EXPECT_EQ(deployed_in("defaultGroup").size(), 1u);
}

TEST_F(PapCli, AuditFilters) {
  const std::string id = policy();
  ASSERT_EQ(cli({"group", "create", "canary", "--state", "TEST"}).status, 0);
  ASSERT_EQ(cli({"deploy", id + "@1", "--group", "canary"}).status, 0);
  ASSERT_EQ(cli({"group", "state", "canary", "ACTIVE"}).status, 0);
  ASSERT_EQ(cli({"deploy", id + "@1", "--group", "defaultGroup"}).status, 0);

  auto r = cli({"audit", "-o", "json"});
  ASSERT_EQ(r.status, 0) << describe(r);
  json all = r.json();
  ASSERT_EQ(all.size(), 4u) << r.out;  // newest first
  EXPECT_EQ(all[0]["action"], "DEPLOYMENT");
  EXPECT_EQ(all[0]["pdpGroup"], "defaultGroup");
  EXPECT_EQ(all[1]["action"], "STATE_CHANGE");
  EXPECT_EQ(all[1]["detail"], "TEST->ACTIVE");
  EXPECT_EQ(all[3]["action"], "GROUP_CREATE");
  EXPECT_EQ(all[3]["user"], "admin");

  r = cli({"audit"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_NE(r.out.find("TEST->ACTIVE"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(id), std::string::npos) << r.out;

  r = cli({"audit", "--limit", "2", "-o", "json"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.json().size(), 2u);
  r = cli({"audit", "--group", "canary", "-o", "json"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.json().size(), 3u) << r.out;
  r = cli({"audit", "--policy", id + "@1", "-o", "json"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.json().size(), 2u) << r.out;
  r = cli({"audit", "--group", "canary", "--policy", id + "@1.0.0", "-o", "yaml"});
  ASSERT_EQ(r.status, 0) << describe(r);
  ASSERT_EQ(r.yaml().size(), 1u) << r.out;
  EXPECT_EQ(r.yaml()[0]["policy"]["name"].as<std::string>(), id);

  // Time bounds: every record is after 2001 and within the last day; none before 2001.
  r = cli({"audit", "--since", "2001-01-01", "--until", "4000000000", "-o", "json"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.json().size(), 4u) << r.out;
  r = cli({"audit", "--since", "1d", "-o", "json"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.json().size(), 4u) << r.out;
  r = cli({"audit", "--until", "2001-01-01T00:00:00Z", "-o", "json"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.json(), json::array());

  expect_error(cli({"audit", "--limit", "500"}), "INVALID_RECORD_COUNT");
  expect_error(cli({"audit", "--since", "4000000000", "--until", "1"}), "INVALID_TIME_RANGE");
  expect_error(cli({"audit", "--group", "nosuch"}), "GROUP_NOT_FOUND");
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"audit", "--policy", id},  // needs @VERSION
                                             {"audit", "--since", "yesterday"},
                                             {"audit", "--until", "5w"}}) {
    r = cli(args);
    EXPECT_EQ(r.status, 2) << json(args).dump() << describe(r);
  }
}

}  // namespace
}  // namespace wiretag::test
