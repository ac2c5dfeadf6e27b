// The daemons' environment names (common/daemon_env.h): old names adopted for one release
// with a warning, WIRETAG_LISTEN refused, and no name shared by the server and the agent.
#include "common/daemon_env.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

namespace wiretag {
namespace {

struct FakeEnv {
  std::map<std::string, std::string> vars;
  LegacyEnvOutcome adopt(std::span<const LegacyEnv> renames) {
    return adopt_legacy_env(
        renames,
        [this](const char* name) -> const char* {
          auto it = vars.find(name);
          return it == vars.end() ? nullptr : it->second.c_str();
        },
        [this](const char* name, const char* value) { vars[name] = value; });
  }
};

TEST(DaemonEnv, OldNameIsCopiedToTheNewOneWithAWarning) {
  FakeEnv env;
  env.vars["WIRETAG_DATA_DIR"] = "/srv/wt";
  auto out = env.adopt(server_legacy_env());
  EXPECT_TRUE(out.error.empty());
  EXPECT_EQ(env.vars["WIRETAG_SERVER_DATA_DIR"], "/srv/wt");
  ASSERT_EQ(out.warnings.size(), 1u);
  EXPECT_NE(out.warnings[0].find("WIRETAG_DATA_DIR is deprecated"), std::string::npos);
  EXPECT_NE(out.warnings[0].find("WIRETAG_SERVER_DATA_DIR"), std::string::npos);
}

TEST(DaemonEnv, NewNameWinsOverTheOldOne) {
  FakeEnv env;
  env.vars["WIRETAG_PIN_DIR"] = "/sys/fs/bpf/old";
  env.vars["WIRETAG_AGENT_PIN_DIR"] = "/sys/fs/bpf/new";
  auto out = env.adopt(agent_legacy_env());
  EXPECT_TRUE(out.error.empty());
  EXPECT_EQ(env.vars["WIRETAG_AGENT_PIN_DIR"], "/sys/fs/bpf/new");
  ASSERT_EQ(out.warnings.size(), 1u);
  EXPECT_NE(out.warnings[0].find("ignored"), std::string::npos);
}

TEST(DaemonEnv, SharedListenIsRefusedByBothDaemons) {
  for (auto renames : {server_legacy_env(), agent_legacy_env()}) {
    FakeEnv env;
    env.vars["WIRETAG_LISTEN"] = "0.0.0.0:4002";
    auto out = env.adopt(renames);
    EXPECT_NE(out.error.find("WIRETAG_LISTEN is no longer read"), std::string::npos) << out.error;
    EXPECT_EQ(env.vars.size(), 1u);  // nothing adopted
  }
  // With the new name set the old one is only ignored.
  FakeEnv env;
  env.vars["WIRETAG_LISTEN"] = "0.0.0.0:4002";
  env.vars["WIRETAG_SERVER_LISTEN"] = "0.0.0.0:4002";
  EXPECT_TRUE(env.adopt(server_legacy_env()).error.empty());
}

TEST(DaemonEnv, NothingSetNothingSaid) {
  FakeEnv env;
  auto out = env.adopt(server_legacy_env());
  EXPECT_TRUE(out.error.empty());
  EXPECT_TRUE(out.warnings.empty());
  EXPECT_TRUE(env.vars.empty());
}

TEST(DaemonEnv, EachDaemonHasItsOwnPrefixAndNoNewNameIsShared) {
  std::set<std::string> server, agent;
  for (const LegacyEnv& r : server_legacy_env()) {
    EXPECT_EQ(std::string(r.new_name).rfind("WIRETAG_SERVER_", 0), 0u) << r.new_name;
    server.insert(r.new_name);
  }
  for (const LegacyEnv& r : agent_legacy_env()) {
    EXPECT_EQ(std::string(r.new_name).rfind("WIRETAG_AGENT_", 0), 0u) << r.new_name;
    agent.insert(r.new_name);
  }
  for (const std::string& name : server) EXPECT_FALSE(agent.count(name)) << name;
  // Nor one the CLI reads with another meaning (an agent's Plugin API token, an agent's URL).
  for (const char* cli : {"WIRETAG_AGENT_TOKEN_FILE", "WIRETAG_AGENT", "WIRETAG_SERVER"})
    EXPECT_FALSE(agent.count(cli) || server.count(cli)) << cli;
}

}  // namespace
}  // namespace wiretag
