// The CLI's commands that need cells: `cell list|describe`, `status --wait` and `device …`,
// the real binary against a real wiretag-server and real wiretag-agents (each with its own
// cell token, pin dir and state dir), devices on veths in a network namespace the test made.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "../agent/agent_process.h"
#include "cli_runner.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

class AgentCli : public CliServerTest {
 protected:
  void TearDown() override {
    agents_.clear();
    for (const std::string& d : pin_dirs_) sh("rm -rf " + d);
  }

  // A wiretag-agent as cell `cell` of `group`, with a cell token bound to it.
  AgentProcess& start_agent(const std::string& cell, const std::string& group = "defaultGroup",
                            const std::vector<std::string>& extra = {}) {
    auto issued = s().post("/v1/tokens", json{{"scopes", {"cell"}}, {"cell", cell}}.dump());
    EXPECT_EQ(issued.status, 201) << issued.body;
    const std::string token = write_file(cell + ".token", issued.json().value("token", "") + "\n");
    std::random_device rd;
    pin_dirs_.push_back("/sys/fs/bpf/wiretag-clitest-" + std::to_string(::getpid()) + "-" +
                        std::to_string(rd() % 1000000));
    std::vector<std::string> args = {"--server",
                                     server_url(),
                                     "--cell",
                                     cell,
                                     "--group",
                                     group,
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--pin-dir",
                                     pin_dirs_.back(),
                                     "--state-dir",
                                     (dir_.path() / (cell + ".state")).string(),
                                     "--token-file",
                                     token,
                                     "--heartbeat-interval",
                                     "200"};
    args.insert(args.end(), extra.begin(), extra.end());
    agents_.push_back(std::make_unique<AgentProcess>(args, dir_.path() / (cell + ".log")));
    EXPECT_TRUE(agents_.back()->started()) << agents_.back()->log_text();
    return *agents_.back();
  }

  // The PAP's deployment state of `policy` `version` on `cell`, or "" when not listed.
  std::string deploy_state(const std::string& cell, const std::string& policy,
                           const std::string& version) {
    for (const json& st : s().pap("GET", "/policies/status").json())
      if (st.value("pdpId", "") == cell && st["policy"]["name"] == policy &&
          st["policy"]["version"] == version)
        return st.value("state", "");
    return "";
  }

  json cell_json(const std::string& name) {
    auto r = cli({"cell", "describe", name, "-o", "json"});
    return r.status == 0 ? r.json() : json();
  }

  // A named policy of account default; its id.
  std::string policy(const std::string& destination) {
    auto r = s().post(
        "/v1/accounts/default/policies",
        json{{"name", "p"}, {"rules", {{{"source", "*"}, {"destination", destination}}}}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json()["result"].value("id", "");
  }

  std::vector<std::unique_ptr<AgentProcess>> agents_;
  std::vector<std::string> pin_dirs_;
};

TEST_F(AgentCli, CellListAndDescribe) {
  start_agent("cell-a");
  ASSERT_TRUE(eventually(
      [&] {
        const json c = cell_json("cell-a");
        return c.is_object() && c["policies"].size() == 1 && c.value("healthy", false);
      },
      std::chrono::seconds(30)))
      << cli({"cell", "list"}).out;

  auto r = cli({"cell", "list", "-o", "json"});
  ASSERT_EQ(r.status, 0) << describe(r);
  ASSERT_EQ(r.json()["cells"].size(), 1u) << r.out;
  const json c = r.json()["cells"][0];
  EXPECT_EQ(c["name"], "cell-a");
  EXPECT_EQ(c["pdpGroup"], "defaultGroup");
  EXPECT_EQ(c["pdpSubgroup"], "tc");
  EXPECT_EQ(c["policies"], (json{{{"name", "default-whitelist"}, {"version", "1.0.0"}}}));
  EXPECT_TRUE(c["revision"].is_number_integer()) << c;

  r = cli({"cell", "list"});
  ASSERT_EQ(r.status, 0) << describe(r);
  for (const char* want : {"NAME", "LAST_HEARTBEAT", "cell-a", "defaultGroup", "ACTIVE", "HEALTHY",
                           "default-whitelist@1.0.0", "s ago"})
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;

  r = cli({"cell", "describe", "cell-a"});
  ASSERT_EQ(r.status, 0) << describe(r);
  for (const char* want : {"FIELD", "heartbeat_interval_ms", "200", "datapath.endpoints",
                           "HEALTHY (reported HEALTHY)"})
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
  r = cli({"cell", "describe", "cell-a", "-o", "yaml"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.yaml()["pdpGroup"].as<std::string>(), "defaultGroup");

  r = cli({"cell", "describe", "nosuch"});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_NE(r.err.find("CELL_NOT_FOUND"), std::string::npos) << r.err;
  r = cli({"cell", "describe", "bad/name"});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_NE(r.err.find("INVALID_CELL_NAME"), std::string::npos) << r.err;
  EXPECT_EQ(cli({"cell", "describe"}).status, 2);
  // The cells are read with the bearer token: none, no listing.
  TempDir empty;
  r = cli({"cell", "list"}, {{"WIRETAG_TOKEN", ""}, {"WIRETAG_DATA_DIR", empty.path().string()}});
  EXPECT_EQ(r.status, 1) << describe(r);
}

// status --wait returns once every cell of the group holds the version, and times out
// naming the cell that does not: one that stopped after registering.
TEST_F(AgentCli, StatusWaitsForEveryCellOfTheGroup) {
  ASSERT_EQ(cli({"group", "create", "canary", "--state", "ACTIVE"}).status, 0);
  const std::string id = policy("db");
  start_agent("cell-a", "canary");
  AgentProcess& b = start_agent("cell-b", "canary");
  ASSERT_EQ(cli({"deploy", id + "@1", "--group", "canary"}).status, 0);

  auto r = cli({"status", id + "@1", "--group", "canary", "--wait", "-o", "json"});
  ASSERT_EQ(r.status, 0) << describe(r);
  ASSERT_EQ(r.json().size(), 2u) << r.out;
  std::set<std::string> cells;
  for (const json& st : r.json()) {
    EXPECT_EQ(st["state"], "SUCCESS") << st;
    cells.insert(st.value("pdpId", ""));
  }
  EXPECT_EQ(cells, (std::set<std::string>{"cell-a", "cell-b"}));

  // cell-b stops; version 2 reaches cell-a only.
  b.terminate();
  ASSERT_EQ(s().request("PATCH", "/v1/accounts/default/policies/" + id,
                        json{{"rules", {{{"source", "*"}, {"destination", "web"}}}}}.dump())
                .status,
            200);
  ASSERT_EQ(cli({"deploy", id + "@2", "--group", "canary"}).status, 0);
  ASSERT_TRUE(eventually([&] { return deploy_state("cell-a", id, "2.0.0") == "SUCCESS"; },
                         std::chrono::seconds(30)))
      << s().pap("GET", "/policies/status").body;

  r = cli({"status", id + "@2.0.0", "--group", "canary", "--wait", "--wait-timeout", "1"});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_NE(r.err.find("TIMEOUT"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cell-b (WAITING)"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("cell-a"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("SUCCESS"), std::string::npos) << r.out;  // the last status, as a table

  // Without a policy: every deployed version of the group; -o json still parses.
  r = cli({"status", "--group", "canary", "--wait", "--wait-timeout", "0", "-o", "json"});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_NE(r.err.find("cell-b (WAITING)"), std::string::npos) << r.err;
  EXPECT_TRUE(r.json().is_array()) << r.out;

  // Another group holds it everywhere it runs.
  r = cli({"status", "default-whitelist", "--group", "defaultGroup", "--wait"});
  EXPECT_EQ(r.status, 0) << describe(r);
}

TEST_F(AgentCli, DeviceAddListRemove) {
  TestNetns netns;
  ASSERT_TRUE(netns.add_veth("wtc0"));
  ASSERT_TRUE(netns.add_veth("wtc1"));
  AgentProcess& a = start_agent("cell-a");
  ASSERT_EQ(cli({"app", "register", "web"}).status, 0);
  const std::string web_tag = s().get("/app/web").json().value("wire_bytes", "");
  const std::vector<std::string> agent = {"--agent", "unix:" + a.plugin_socket().string()};
  auto dev = [&](std::vector<std::string> args) {
    args.insert(args.begin(), agent.begin(), agent.end());
    return cli(args);
  };

  auto r = dev({"device", "add", "--netns", netns.path(), "--dev", "wtc0", "--tag", "0a0b",
                "--allow", "0001,0002", "--allow", "00ff", "-o", "json"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.json()["destination_device"]["interface_name"], "wtc0");
  EXPECT_EQ(r.json()["wire_bytes"], "0a0b");
  EXPECT_EQ(r.json()["allowed_source_wire_bytes"], (json{"0001", "0002", "00ff"}));

  r = dev({"device", "add", "--netns", netns.path(), "--dev", "wtc1", "--app", "web", "--allow",
           "00ee"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_NE(r.out.find("wtc1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(web_tag), std::string::npos) << r.out;

  r = dev({"device", "list", "-o", "json"});
  ASSERT_EQ(r.status, 0) << describe(r);
  ASSERT_EQ(r.json()["devices"].size(), 2u) << r.out;
  r = dev({"device", "list", "-o", "yaml"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.yaml()["devices"].size(), 2u);
  r = dev({"device", "list"});
  ASSERT_EQ(r.status, 0) << describe(r);
  for (const std::string& want :
       {std::string("WIRE_BYTES"), std::string("0a0b"), std::string("0001,0002,00ff"),
        std::string("web"), web_tag, netns.path()})
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;

  // Bad input: the agent's error, exit 1, nothing changed.
  for (const auto& [args, code] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--dev", "wtc0", "--allow", "zz"}, "INVALID_WIRE_BYTES"},
           {{"--dev", "nosuch0", "--allow", "0001"}, "DEVICE_NOT_FOUND"},
           {{"--dev", "wtc0", "--app", "nosuch-app"}, "APP_NOT_FOUND"},
           {{"--dev", "wtc0", "--app", "bad/guid"}, "INVALID_GUID"}}) {
    std::vector<std::string> full = {"device", "add", "--netns", netns.path()};
    full.insert(full.end(), args.begin(), args.end());
    r = dev(full);
    EXPECT_EQ(r.status, 1) << json(args).dump() << describe(r);
    EXPECT_NE(r.err.find(code), std::string::npos) << json(args).dump() << describe(r);
  }
  for (const json& d : dev({"device", "list", "-o", "json"}).json()["devices"])
    if (d["destination_device"]["interface_name"] == "wtc0") {
      EXPECT_EQ(d["wire_bytes"], "0a0b");
    }
  // Usage errors: exit 2.
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"device"},
           {"device", "add", "--netns", netns.path(), "--allow", "0001"},  // no --dev
           {"device", "add", "--netns", netns.path(), "--dev", "wtc0"},    // nothing to admit
           {"device", "add", "--dev", "wtc0", "--app", "web", "--tag", "0001"},
           {"device", "remove"}}) {
    r = dev(args);
    EXPECT_EQ(r.status, 2) << json(args).dump() << describe(r);
  }

  r = dev({"device", "remove", "--netns", netns.path(), "--dev", "wtc0"});
  ASSERT_EQ(r.status, 0) << describe(r);
  r = dev({"device", "list", "-o", "json"});
  ASSERT_EQ(r.json()["devices"].size(), 1u) << r.out;
  EXPECT_EQ(r.json()["devices"][0]["app_guid"], "web");
  r = dev({"device", "remove", "--netns", netns.path(), "--dev", "wtc0"});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_NE(r.err.find("DEVICE_NOT_FOUND"), std::string::npos) << r.err;

  // No agent there.
  r = cli({"--agent", "unix:" + (dir_.path() / "none.sock").string(), "device", "list"});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_NE(r.err.find("AGENT_UNREACHABLE"), std::string::npos) << r.err;
}

// An agent serving its Plugin API on TCP (--plugin-tcp) with a bearer token: --agent
// http://HOST:PORT and --agent-token-file.
TEST_F(AgentCli, DeviceOverTcpWithToken) {
  const std::string token = write_file("plugin.token", "a-long-random-plugin-token\n");
  AgentProcess& a =
      start_agent("cell-a", "defaultGroup", {"--plugin-tcp", "--plugin-token-file", token});
  const std::string url = "http://127.0.0.1:" + std::to_string(a.port());
  auto r = cli({"--agent", url, "--agent-token-file", token, "device", "list", "-o", "json"});
  ASSERT_EQ(r.status, 0) << describe(r);
  EXPECT_EQ(r.json()["devices"], json::array());
  r = cli({"--agent", url, "--agent-token-file", write_file("wrong", "nope\n"), "device", "list"});
  EXPECT_EQ(r.status, 1) << describe(r);
  EXPECT_NE(r.err.find("UNAUTHORIZED"), std::string::npos) << r.err;
}

// `wiretag monitor` on the server's aggregated stream (--server): names, the explanation, the
// filters, -o json. The cell's lines are pushed as the agent's forwarder does.
TEST_F(AgentCli, MonitorFollowsTheServersStream) {
  const json line = {
      {"type", "drop"},
      {"time", "2025-03-01T12:00:00.123456Z"},
      {"time_ns", 1740830400123456789},
      {"direction", "enforce"},
      {"reason", "drop_policy"},
      {"verdict", "drop"},
      {"mode", "enforce"},
      {"protocol", "tcp"},
      {"length", 60},
      {"source", {{"address", "198.18.9.1"}, {"port", 40312}, {"tag", "0001"}, {"app", "web"},
                  {"account", "default"}}},
      {"destination", {{"address", "198.18.9.2"}, {"port", 5432}, {"tag", "0002"}, {"app", "db"},
                       {"account", "default"},
                       {"device", {{"namespace", "/run/netns/c"}, {"interface_name", "veth-db"}}}}},
      {"explanation", "no rule from web to db on tcp/5432; web→db allows tcp/8080 (default-whitelist)"}};
  std::atomic<bool> done{false};
  std::thread cell([&] {
    // Until the monitors have what they wait for: a line pushed before one subscribed is not
    // for it.
    while (!done) {
      s().post("/internal/v1/cells/cell-m/events",
               json{{"events", {line, {{"type", "lost"}, {"count", 3}, {"cause", "rate_limit"}}}}}
                   .dump());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  auto table = cli({"monitor", "--count", "1", "--app", "db", "--reason", "drop_policy"});
  auto as_json = cli({"monitor", "--count", "1", "--cell", "cell-m", "-o", "json"});
  auto other_cell = cli({"monitor", "--cell", "cell-x", "--seconds", "1"});
  done = true;
  cell.join();
  ASSERT_EQ(table.status, 0) << describe(table);
  EXPECT_NE(table.out.find("DROP  drop_policy tcp 198.18.9.1:40312 web/default [0001] -> "
                           "198.18.9.2:5432 db/default [0002] veth-db@/run/netns/c cell=cell-m"),
            std::string::npos)
      << table.out;
  EXPECT_NE(table.out.find("    why: no rule from web to db on tcp/5432; web→db allows tcp/8080 "
                           "(default-whitelist)"),
            std::string::npos)
      << table.out;
  ASSERT_EQ(as_json.status, 0) << describe(as_json);
  bool saw_event = false;
  std::istringstream lines(as_json.out);
  for (std::string l; std::getline(lines, l);) {
    json j = json::parse(l);
    if (j["type"] == "drop") {
      saw_event = true;
      EXPECT_EQ(j["cell"], "cell-m");
      EXPECT_EQ(j["source"]["app"], "web");
    } else {
      EXPECT_EQ(j["type"], "lost") << l;
      EXPECT_EQ(j["cell"], "cell-m");
    }
  }
  EXPECT_TRUE(saw_event) << as_json.out;
  EXPECT_EQ(other_cell.status, 0) << describe(other_cell);
  EXPECT_EQ(other_cell.out, "");
}

// `wiretag monitor` on an agent's own stream (--agent unix:…): it runs, and its filters are
// checked by the agent.
TEST_F(AgentCli, MonitorFollowsTheAgentsStream) {
  AgentProcess& a = start_agent("cell-n");
  const std::string agent = "unix:" + a.plugin_socket().string();
  auto r = run_cli({"--agent", agent, "monitor", "--seconds", "1"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "");
  r = run_cli({"--agent", agent, "monitor", "--reason", "drop_nothing", "--seconds", "1"});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("INVALID_REASON"), std::string::npos) << r.err;
  r = run_cli({"--agent", agent, "monitor", "--cell", "cell-n"});
  EXPECT_EQ(r.status, 2) << r.out << r.err;
}

}  // namespace
}  // namespace wiretag::test
