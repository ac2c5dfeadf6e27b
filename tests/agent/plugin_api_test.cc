// The Policy Plugin API of the real wiretag-agent, over HTTP, managing real veths in a
// network namespace, against the real wiretag-server. The pinned maps are read back with
// a read-only datapath to prove what the agent says is what the kernel enforces.
#include <gtest/gtest.h>

#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "../server/temp_dir.h"
#include "agent_process.h"
#include "datapath/datapath.h"
#include "wiretag/version.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    pin_dir_ = "/sys/fs/bpf/wiretag-test-" + std::to_string(::getpid()) + "-" +
               std::to_string(rd() % 1000000);
    server_ = std::make_unique<ServerProcess>(dir_.path() / "server");
    ASSERT_TRUE(server_->started()) << "server did not start";
    // The agent runs as its cell, with a cell token bound to it, never the admin token.
    auto issued = server_->post("/v1/tokens", R"({"scopes":["cell"],"cell":"test-cell"})");
    ASSERT_EQ(issued.status, 201) << issued.body;
    std::ofstream(dir_.path() / "cell-token") << issued.json()["token"].get<std::string>() << "\n";
    ASSERT_TRUE(netns_.add_veth("wt0"));
    ASSERT_TRUE(netns_.add_veth("wt1"));
    start_agent();
  }

  void TearDown() override {
    agent_.reset();
    server_.reset();
    sh("rm -rf " + pin_dir_);
  }

  void start_agent() {
    agent_.reset();
    std::vector<std::string> args = {
        "--server",     "http://127.0.0.1:" + std::to_string(server_->port()),
        "--cell",       "test-cell",
        "--listen",     "127.0.0.1:0",
        "--pin-dir",    pin_dir_,
        "--state-dir",  (dir_.path() / "agent").string(),
        "--token-file", (dir_.path() / "cell-token").string(),
        "--heartbeat-interval", "200",
        "--sweep-interval", "200",
        "--max-policy-entries", std::to_string(max_policy_entries_),
        "--max-endpoints", std::to_string(max_endpoints_),
        "--group", group_,
        "--watch", watch_};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    agent_ = std::make_unique<AgentProcess>(
        args, dir_.path() / ("agent.log." + std::to_string(++starts_)));
    ASSERT_TRUE(agent_->started()) << agent_->log_text();
  }

  json device(const std::string& ifname) const {
    return {{"namespace", netns_.path()}, {"interface_name", ifname}};
  }

  // What the kernel maps hold, read through a read-only datapath.
  std::vector<datapath::Endpoint> enforced() const {
    datapath::Options o;
    o.pin_dir = pin_dir_;
    o.read_only = true;
    o.max_policy_entries = max_policy_entries_;
    o.max_endpoints = max_endpoints_;
    auto dp = datapath::Datapath::open(o);
    EXPECT_TRUE(dp) << dp.error().message;
    if (!dp) return {};
    return (*dp)->endpoints();
  }

  std::optional<datapath::Endpoint> enforced(const std::string& ifname) const {
    for (auto& ep : enforced())
      if (ep.device.ifname == ifname) return ep;
    return std::nullopt;
  }

  // Whether the kernel runs programs on `ifname` (not what the maps say): its TCX links as the
  // agent pins them, or (kernels without TCX) a BPF filter of its clsact.
  bool programs_attached(const std::string& ifname) const {
    auto ep = enforced(ifname);
    if (!ep) return false;
    const std::string links = pin_dir_ + "/links/" + std::to_string(ep->ifindex);
    if (std::filesystem::exists(links + "_ingress") && std::filesystem::exists(links + "_egress"))
      return true;
    return sh("ip netns exec " + netns_.name() + " tc filter show dev " + ifname +
              " egress 2>/dev/null | grep -q bpf") == 0;
  }

  // Whether the enforced rules of `ifname` admit `tag` on every protocol and port.
  bool admits(const std::string& ifname, uint32_t tag) const {
    datapath::Options o;
    o.pin_dir = pin_dir_;
    o.read_only = true;
    o.max_policy_entries = max_policy_entries_;
    o.max_endpoints = max_endpoints_;
    auto dp = datapath::Datapath::open(o);
    if (!dp) return false;
    for (const datapath::Endpoint& ep : (*dp)->endpoints()) {
      if (ep.device.ifname != ifname) continue;
      wt_src_key key{};
      key.ifindex = ep.ifindex;
      key.src_tag = tag;
      key.generation = ep.config.generation & 1;
      auto v = (*dp)->src_policy_map().lookup(key);
      return v && v->any_proto;
    }
    return false;
  }

  static bool created(const HttpResult& r) { return r.status == 200 || r.status == 201; }

  // A registered app's tag (hex wire bytes) from the server.
  std::string register_app(const std::string& guid) {
    auto r = server_->post("/app", json{{"guid", guid}}.dump());
    EXPECT_TRUE(r.status == 200 || r.status == 201) << r.body;
    return r.json().value("wire_bytes", "");
  }

  TempDir dir_;
  TestNetns netns_;
  std::string pin_dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<AgentProcess> agent_;
  int starts_ = 0;
  uint32_t max_policy_entries_ = 65536;
  uint32_t max_endpoints_ = 64;
  std::vector<std::string> extra_args_;
  std::string group_ = "defaultGroup";
  std::string watch_ = "stream";
};

TEST_F(AgentTest, StaticWhitelistIsEnforcedListedAndRemoved) {
  json body = {{"destination_device", device("wt0")},
               {"allowed_source_wire_bytes", {"00b2", "00a1", "00a1"}},
               {"wire_bytes", "0c01"}};
  auto r = agent_->request("POST", "/whitelist", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["wire_bytes"], "0c01");
  EXPECT_EQ(r.json()["allowed_source_wire_bytes"], json({"00a1", "00b2"}));
  auto ep = enforced("wt0");
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->config.tag, 0x0c01u);
  EXPECT_EQ(ep->rules_src_entries, 2u);

  // Idempotent.
  r = agent_->request("POST", "/whitelist", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  auto list = agent_->request("GET", "/whitelist");
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.json()["devices"].size(), 1u);
  EXPECT_EQ(list.json()["devices"][0]["destination_device"]["interface_name"], "wt0");

  // Replace the sources: the old ones go.
  body["allowed_source_wire_bytes"] = {"00c3"};
  r = agent_->request("POST", "/whitelist", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(enforced("wt0")->rules_src_entries, 1u);

  r = agent_->request("DELETE", "/whitelist", json{{"destination_device", device("wt0")}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["status"], "success");
  EXPECT_FALSE(enforced("wt0"));
  r = agent_->request("DELETE", "/whitelist", json{{"destination_device", device("wt0")}}.dump());
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.error_code(), "DEVICE_NOT_FOUND");
}

// The agent's build in GET /healthz, and in PDP_STATUS (ONAP's deploymentInstanceInfo), which
// the server shows in its cell listing.
TEST_F(AgentTest, ItsVersionIsInHealthzAndInPdpStatus) {
  EXPECT_EQ(agent_->request("GET", "/healthz").json()["version"], std::string(kVersion));
  EXPECT_TRUE(eventually([&] {
    auto cell = server_->get("/internal/v1/cells/test-cell");
    return cell.status == 200 &&
           cell.json()["deploymentInstanceInfo"] == version_line("wiretag-agent");
  })) << server_->get("/internal/v1/cells/test-cell").body;
}

TEST_F(AgentTest, BadInputIsRefusedAndChangesNothing) {
  ASSERT_EQ(agent_
                ->request("POST", "/whitelist",
                          json{{"destination_device", device("wt0")},
                               {"allowed_source_wire_bytes", {"00a1"}}}
                              .dump())
                .status,
            200);
  const std::string before = agent_->request("GET", "/whitelist").body;
  const auto enforced_before = enforced("wt0");
  ASSERT_TRUE(enforced_before);

  json dev = device("wt0");
  struct Case {
    std::string what, method, body;
    int status;
    std::string code;
  };
  std::vector<Case> cases = {
      {"malformed JSON", "POST", "{\"destination_device\":", 400, "INVALID_JSON"},
      {"not an object", "POST", "[1,2]", 400, "INVALID_BODY"},
      {"empty body", "POST", "", 400, "INVALID_JSON"},
      {"unknown field", "POST",
       json{{"destination_device", dev}, {"allowed_source_wire_bytes", json::array()}, {"x", 1}}.dump(),
       400, "UNKNOWN_FIELD"},
      {"missing device", "POST", json{{"allowed_source_wire_bytes", {"00a1"}}}.dump(), 400,
       "MISSING_FIELD"},
      {"neither sources nor app", "POST", json{{"destination_device", dev}}.dump(), 400,
       "MISSING_FIELD"},
      {"sources and an unknown app", "POST",
       json{{"destination_device", dev}, {"allowed_source_wire_bytes", {"00a1"}}, {"app_guid", "a"}}.dump(),
       404, "APP_NOT_FOUND"},
      {"bad source beside an app", "POST",
       json{{"destination_device", dev}, {"allowed_source_wire_bytes", {"0000"}}, {"app_guid", "a"}}.dump(),
       400, "INVALID_WIRE_BYTES"},
      {"wire_bytes with app", "POST",
       json{{"destination_device", dev}, {"app_guid", "a"}, {"wire_bytes", "00a1"}}.dump(), 400,
       "INVALID_FIELD_COMBINATION"},
      {"device not an object", "POST",
       json{{"destination_device", "wt0"}, {"allowed_source_wire_bytes", {"00a1"}}}.dump(), 400,
       "INVALID_FIELD_TYPE"},
      {"device missing ifname", "POST",
       json{{"destination_device", {{"namespace", netns_.path()}}}, {"allowed_source_wire_bytes", {"00a1"}}}.dump(),
       400, "MISSING_FIELD"},
      {"device unknown member", "POST",
       json{{"destination_device", {{"namespace", netns_.path()}, {"interface_name", "wt0"}, {"mac", "x"}}},
            {"allowed_source_wire_bytes", {"00a1"}}}
           .dump(),
       400, "UNKNOWN_FIELD"},
      {"ifname too long", "POST",
       json{{"destination_device", {{"namespace", netns_.path()}, {"interface_name", "abcdefghijklmnop"}}},
            {"allowed_source_wire_bytes", {"00a1"}}}
           .dump(),
       400, "INVALID_DEVICE"},
      {"NUL in ifname", "POST",
       json{{"destination_device", {{"namespace", netns_.path()}, {"interface_name", std::string("wt0\0x", 5)}}},
            {"allowed_source_wire_bytes", {"00a1"}}}
           .dump(),
       400, "INVALID_DEVICE"},
      {"NUL in namespace", "POST",
       json{{"destination_device", {{"namespace", netns_.path() + std::string("\0x", 2)}, {"interface_name", "wt0"}}},
            {"allowed_source_wire_bytes", {"00a1"}}}
           .dump(),
       400, "INVALID_DEVICE"},
      {"ifname ..", "POST",
       json{{"destination_device", {{"namespace", netns_.path()}, {"interface_name", ".."}}},
            {"allowed_source_wire_bytes", {"00a1"}}}
           .dump(),
       400, "INVALID_DEVICE"},
      {"relative namespace", "POST",
       json{{"destination_device", {{"namespace", "netns/x"}, {"interface_name", "wt0"}}},
            {"allowed_source_wire_bytes", {"00a1"}}}
           .dump(),
       400, "INVALID_DEVICE"},
      {"sources not an array", "POST",
       json{{"destination_device", dev}, {"allowed_source_wire_bytes", "00a1"}}.dump(), 400,
       "INVALID_FIELD_TYPE"},
      {"seed's invalid {[…]} shape", "POST",
       R"({"destination_device":{"namespace":")" + netns_.path() +
           R"(","interface_name":"wt0"},"allowed_source_wire_bytes":{["00a1"]}})",
       400, "INVALID_JSON"},
      {"source not a string", "POST",
       json{{"destination_device", dev}, {"allowed_source_wire_bytes", {161}}}.dump(), 400,
       "INVALID_FIELD_TYPE"},
      {"source wrong length", "POST",
       json{{"destination_device", dev}, {"allowed_source_wire_bytes", {"a1"}}}.dump(), 400,
       "INVALID_WIRE_BYTES"},
      {"source not hex", "POST",
       json{{"destination_device", dev}, {"allowed_source_wire_bytes", {"zz01"}}}.dump(), 400,
       "INVALID_WIRE_BYTES"},
      {"source tag 0", "POST",
       json{{"destination_device", dev}, {"allowed_source_wire_bytes", {"0000"}}}.dump(), 400,
       "INVALID_WIRE_BYTES"},
      {"own tag bad", "POST",
       json{{"destination_device", dev}, {"allowed_source_wire_bytes", {"00a1"}}, {"wire_bytes", 7}}.dump(),
       400, "INVALID_FIELD_TYPE"},
      {"bad app guid", "POST", json{{"destination_device", dev}, {"app_guid", "no spaces"}}.dump(),
       400, "INVALID_GUID"},
      {"unknown app", "POST", json{{"destination_device", dev}, {"app_guid", "no-such-app"}}.dump(),
       404, "APP_NOT_FOUND"},
      {"unknown device", "POST",
       json{{"destination_device", device("nosuch0")}, {"allowed_source_wire_bytes", {"00a1"}}}.dump(),
       404, "DEVICE_NOT_FOUND"},
      {"unknown namespace", "POST",
       json{{"destination_device", {{"namespace", "/run/netns/wiretag-no-such-ns"}, {"interface_name", "wt0"}}},
            {"allowed_source_wire_bytes", {"00a1"}}}
           .dump(),
       404, "NETNS_NOT_FOUND"},
      {"delete: malformed", "DELETE", "{", 400, "INVALID_JSON"},
      {"delete: extra field", "DELETE",
       json{{"destination_device", dev}, {"allowed_source_wire_bytes", {"00a1"}}}.dump(), 400,
       "UNKNOWN_FIELD"},
      {"delete: unknown device", "DELETE", json{{"destination_device", device("wt1")}}.dump(), 404,
       "DEVICE_NOT_FOUND"},
      {"wrong method", "PUT", "{}", 405, "METHOD_NOT_ALLOWED"},
      {"unknown route", "GET", "", 404, "ROUTE_NOT_FOUND"},
  };
  for (const Case& c : cases) {
    std::string target = c.what == "unknown route" ? "/nothing" : "/whitelist";
    auto r = agent_->request(c.method, target, c.body);
    EXPECT_EQ(r.status, c.status) << c.what << ": " << r.body;
    if (!c.code.empty()) {
      EXPECT_EQ(r.error_code(), c.code) << c.what << ": " << r.body;
    }
    EXPECT_FALSE(r.error_code().empty()) << c.what << ": not a SPEC §4 error body: " << r.body;
    EXPECT_EQ(agent_->request("GET", "/whitelist").body, before) << c.what;
    auto now = enforced("wt0");
    ASSERT_TRUE(now) << c.what;
    EXPECT_EQ(now->config.tag, enforced_before->config.tag) << c.what;
    EXPECT_EQ(now->rules_src_entries, enforced_before->rules_src_entries) << c.what;
    EXPECT_FALSE(enforced("wt1")) << c.what;
  }
}

// Issue 14 item 1: 100,000 levels of '[' and of {"a": in every JSON body of the Plugin API
// (whole, and where the agent copies a field): 400 JSON_TOO_DEEP, and the agent lives on.
TEST_F(AgentTest, DeepJsonIsRefusedOnEveryPluginEndpointAndTheAgentLivesOn) {
  constexpr size_t kLevels = 100000;
  std::string arrays = std::string(kLevels, '[') + std::string(kLevels, ']');
  std::string objects;
  for (size_t i = 0; i < kLevels; ++i) objects += R"({"a":)";
  objects += "1" + std::string(kLevels, '}');
  const std::string dev = device("wt0").dump();
  for (const char* method : {"POST", "DELETE"}) {
    for (const std::string& body :
         {arrays, objects, R"({"destination_device":)" + objects + "}",
          R"({"destination_device":)" + dev + R"(,"allowed_source_wire_bytes":)" + arrays + "}",
          R"({"destination_device":)" + dev + R"(,"app_guid":)" + objects + "}"}) {
      SCOPED_TRACE(std::string(method) + " " + body.substr(0, 80));
      auto r = agent_->request(method, "/whitelist", body);
      EXPECT_EQ(r.status, 400) << r.body.substr(0, 200);
      EXPECT_EQ(r.error_code(), "JSON_TOO_DEEP") << r.body.substr(0, 200);
      ASSERT_TRUE(agent_->alive()) << agent_->log_text();
      ASSERT_EQ(agent_->request("GET", "/healthz").status, 200);
    }
  }
  EXPECT_EQ(agent_->request("GET", "/whitelist").json()["devices"].size(), 0u);
  EXPECT_FALSE(enforced("wt0"));
}

// A client's mistake is a 4xx, a full cell a 507 naming its limit: 5xx only for the agent's
// own faults. Each refusal leaves nothing behind.
TEST_F(AgentTest, ClientAndCapacityErrorsAreNotServerFaults) {
  auto post = [&](const json& dev, const json& sources) {
    return agent_->request(
        "POST", "/whitelist",
        json{{"destination_device", dev}, {"allowed_source_wire_bytes", sources}}.dump());
  };
  // Namespaces that exist but are not network namespace files.
  const auto plain = dir_.path() / "not-a-netns";
  ASSERT_EQ(sh("echo x > " + plain.string()), 0);
  for (const std::string& ns :
       {plain.string(), dir_.path().string(), std::string("/proc/self/ns/mnt")}) {
    auto r = post({{"namespace", ns}, {"interface_name", "wt0"}}, {"00a1"});
    EXPECT_EQ(r.status, 400) << ns << ": " << r.body;
    EXPECT_EQ(r.error_code(), "INVALID_NAMESPACE") << ns << ": " << r.body;
  }
  EXPECT_TRUE(agent_->request("GET", "/whitelist").json()["devices"].empty());

  // Another namespace's device with the ifindex of one the agent manages.
  TestNetns other;
  ASSERT_TRUE(other.add_veth("wt0"));  // the first veth of a fresh namespace, as netns_'s wt0
  ASSERT_EQ(post(device("wt0"), {"00a1"}).status, 200);
  ASSERT_TRUE(programs_attached("wt0"));
  auto r = post({{"namespace", other.path()}, {"interface_name", "wt0"}}, {"00a1"});
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(r.error_code(), "IFINDEX_CONFLICT") << r.body;
  EXPECT_EQ(agent_->request("GET", "/whitelist").json()["devices"].size(), 1u);
  // The refusal leaves the managed device's programs where they are (its undo once removed
  // whatever was pinned for the ifindex); so does naming that device through another path of
  // its namespace (/var/run is /run on Debian; "//" is "/").
  EXPECT_TRUE(programs_attached("wt0"));
  for (const std::string& same : {"/var" + netns_.path(), "/" + netns_.path()}) {
    r = post({{"namespace", same}, {"interface_name", "wt0"}}, {"00a1"});
    EXPECT_EQ(r.status, 409) << same << ": " << r.body;
    EXPECT_EQ(r.error_code(), "IFINDEX_CONFLICT") << r.body;
    EXPECT_TRUE(programs_attached("wt0")) << same;
  }

  // Capacity: one endpoint, 16 policy entries (both generations together).
  max_endpoints_ = 1;
  max_policy_entries_ = 16;
  agent_.reset();
  sh("rm -rf " + pin_dir_);  // maps of another size cannot be adopted
  sh("rm -rf " + (dir_.path() / "agent").string());
  start_agent();
  json many = json::array();
  for (int i = 1; i <= 20; ++i) {
    char tag[5];
    std::snprintf(tag, sizeof tag, "%04x", 0x100 + i);
    many.push_back(tag);
  }
  r = post(device("wt0"), many);
  EXPECT_EQ(r.status, 507) << r.body;
  EXPECT_EQ(r.error_code(), "MAP_FULL") << r.body;
  EXPECT_NE(r.body.find("--max-policy-entries"), std::string::npos) << r.body;
  EXPECT_FALSE(enforced("wt0"));  // not left attached, holding the only slot
  EXPECT_TRUE(agent_->request("GET", "/whitelist").json()["devices"].empty());
  ASSERT_EQ(post(device("wt0"), {"00a1"}).status, 200);
  r = post(device("wt1"), {"00a1"});
  EXPECT_EQ(r.status, 507) << r.body;
  EXPECT_EQ(r.error_code(), "ENDPOINTS_FULL") << r.body;
  EXPECT_NE(r.body.find("--max-endpoints"), std::string::npos) << r.body;
  EXPECT_FALSE(enforced("wt1"));
  EXPECT_EQ(agent_->request("GET", "/whitelist").json()["devices"].size(), 1u);
}

// SPEC §4.2: the Plugin API listens on a unix socket only its owner (root) may use; TCP
// serves health, and the Plugin API only when asked for.
TEST_F(AgentTest, PluginApiIsOnARootOnlySocketAndNotOnTcp) {
  struct stat st {};
  ASSERT_EQ(::stat(agent_->plugin_socket().c_str(), &st), 0) << agent_->plugin_socket();
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, ::geteuid());
  EXPECT_EQ(agent_->plugin_socket(), dir_.path() / "agent" / "plugin.sock");  // the default
  const std::string body =
      json{{"destination_device", device("wt0")}, {"allowed_source_wire_bytes", {"00a1"}}}.dump();
  auto r = agent_->tcp_request("POST", "/whitelist", body);
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(r.error_code(), "ROUTE_NOT_FOUND") << r.body;
  EXPECT_EQ(agent_->tcp_request("GET", "/whitelist").status, 404);
  EXPECT_EQ(agent_->tcp_request("DELETE", "/whitelist", body).status, 404);
  EXPECT_FALSE(enforced("wt0"));
  EXPECT_TRUE(agent_->tcp_request("GET", "/healthz").json().contains("synced"));
  EXPECT_EQ(agent_->request("POST", "/whitelist", body).status, 200);
  EXPECT_TRUE(enforced("wt0"));
}

TEST_F(AgentTest, PluginApiOnTcpOnlyWhenAskedAndWithTheToken) {
  const std::string state = (dir_.path() / "agent-refused").string();
  // --plugin-tcp needs a token file, or the insecure flag said out loud.
  EXPECT_EQ(AgentProcess::run_to_exit({"--plugin-tcp", "--state-dir", state, "--listen",
                                       "127.0.0.1:0", "--pin-dir", pin_dir_ + "-refused"}),
            2);
  EXPECT_NE(AgentProcess::run_to_exit({"--plugin-tcp-insecure", "--state-dir", state, "--listen",
                                       "127.0.0.1:0", "--pin-dir", pin_dir_ + "-refused"}),
            0);

  const auto token_file = dir_.path() / "plugin-token";
  ASSERT_EQ(sh("echo s3cret-plugin-token > " + token_file.string()), 0);
  extra_args_ = {"--plugin-tcp", "--plugin-token-file", token_file.string()};
  start_agent();
  const std::string body =
      json{{"destination_device", device("wt0")}, {"allowed_source_wire_bytes", {"00a1"}}}.dump();
  for (const std::string& auth :
       {std::string(), std::string("Bearer wrong"), std::string("Bearer s3cret-plugin-tokenx"),
        std::string("Basic s3cret-plugin-token")}) {
    auto r = agent_->tcp_request("POST", "/whitelist", body, auth);
    EXPECT_EQ(r.status, 401) << auth << ": " << r.body;
    EXPECT_EQ(r.error_code(), "UNAUTHORIZED") << auth << ": " << r.body;
    EXPECT_EQ(agent_->tcp_request("GET", "/whitelist", "", auth).status, 401) << auth;
    // A trace reads the cell's rules: behind the same token.
    auto trace = agent_->tcp_request("POST", "/v1/trace", R"({"app":"x"})", auth);
    EXPECT_EQ(trace.status, 401) << auth << ": " << trace.body;
    EXPECT_EQ(trace.error_code(), "UNAUTHORIZED") << auth << ": " << trace.body;
  }
  EXPECT_FALSE(enforced("wt0"));
  EXPECT_EQ(agent_->tcp_request("POST", "/whitelist", body, "bearer s3cret-plugin-token").status,
            200);
  EXPECT_TRUE(enforced("wt0"));
  EXPECT_EQ(agent_->tcp_request("GET", "/whitelist", "", "BEARER s3cret-plugin-token")
                .json()["devices"]
                .size(),
            1u);
  EXPECT_TRUE(agent_->tcp_request("GET", "/healthz").json().contains("synced"));  // no token
  EXPECT_EQ(agent_->request("GET", "/whitelist").status, 200);  // the socket needs none

  // Without a token only when asked for, and said at warning level.
  extra_args_ = {"--plugin-tcp", "--plugin-tcp-insecure"};
  start_agent();
  EXPECT_EQ(agent_->tcp_request("GET", "/whitelist").status, 200);
  EXPECT_NE(agent_->log_text().find("warning the Plugin API is served on 127.0.0.1:"),
            std::string::npos)
      << agent_->log_text();
}

TEST_F(AgentTest, VanishedDeviceIsForgotten) {
  auto r = agent_->request("POST", "/whitelist",
                           json{{"destination_device", device("wt1")},
                                {"allowed_source_wire_bytes", {"00a1"}}}
                               .dump());
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(enforced("wt1"));
  ASSERT_TRUE(netns_.del_link("wt1"));
  EXPECT_TRUE(eventually([&] {
    return agent_->request("GET", "/whitelist").json()["devices"].empty() && !enforced("wt1");
  })) << agent_->request("GET", "/whitelist").body;
}

TEST_F(AgentTest, RestartAfterKillAdoptsDevicesAndKeepsEnforcing) {
  auto r = agent_->request("POST", "/whitelist",
                           json{{"destination_device", device("wt0")},
                                {"allowed_source_wire_bytes", {"00a1", "00a2"}},
                                {"wire_bytes", "0101"}}
                               .dump());
  ASSERT_EQ(r.status, 200) << r.body;
  agent_->kill_hard();
  // Nobody owns the datapath now; what is pinned still enforces.
  auto ep = enforced("wt0");
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->config.tag, 0x0101u);
  EXPECT_EQ(ep->rules_src_entries, 2u);
  start_agent();
  auto list = agent_->request("GET", "/whitelist");
  ASSERT_EQ(list.json()["devices"].size(), 1u) << list.body;
  EXPECT_EQ(list.json()["devices"][0]["allowed_source_wire_bytes"], json({"00a1", "00a2"}));
  ep = enforced("wt0");
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->rules_src_entries, 2u);
  // SIGTERM leaves enforcement in place as well.
  EXPECT_EQ(agent_->terminate(), 0);
  EXPECT_TRUE(enforced("wt0"));
}

// A device deleted while the agent was down, and a new interface made under its name: the
// restarted agent forgets the old one, as it does at run time, and the new interface gets
// neither its tag nor its rules (it is nobody's endpoint until it is attached).
TEST_F(AgentTest, ANewInterfaceUnderADeadDevicesNameInheritsNothingAcrossARestart) {
  auto r = agent_->request("POST", "/whitelist",
                           json{{"destination_device", device("wt0")},
                                {"allowed_source_wire_bytes", {"00a1"}},
                                {"wire_bytes", "0101"}}
                               .dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const uint32_t old_ifindex = enforced("wt0")->ifindex;
  agent_->kill_hard();
  ASSERT_TRUE(netns_.del_link("wt0"));
  ASSERT_TRUE(netns_.add_veth("wt0"));
  start_agent();
  auto list = agent_->request("GET", "/whitelist");
  EXPECT_EQ(list.json()["devices"].size(), 0u) << list.body;
  for (const datapath::Endpoint& ep : enforced()) {
    EXPECT_NE(ep.device.ifname, "wt0") << "the new wt0 stamps as the old one";
    EXPECT_NE(ep.ifindex, old_ifindex);
  }
  EXPECT_FALSE(programs_attached("wt0"));
  // Attached anew, it is an endpoint of its own.
  r = agent_->request("POST", "/whitelist",
                      json{{"destination_device", device("wt0")},
                           {"allowed_source_wire_bytes", json::array()},
                           {"wire_bytes", "0102"}}
                          .dump());
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(enforced("wt0"));
  EXPECT_EQ(enforced("wt0")->config.tag, 0x0102u);
  EXPECT_EQ(enforced("wt0")->rules_src_entries, 0u);
}

TEST_F(AgentTest, FollowedAppTracksTheServer) {
  const std::string dst = register_app("app-dst");
  const std::string src1 = register_app("app-src1");
  const std::string src2 = register_app("app-src2");
  ASSERT_TRUE(created(server_->post("/whitelist", json{{"source", "app-src1"}, {"destination", "app-dst"}}.dump())));

  auto r = agent_->request("POST", "/whitelist",
                           json{{"destination_device", device("wt0")}, {"app_guid", "app-dst"}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["wire_bytes"], dst);
  EXPECT_EQ(r.json()["allowed_source_wire_bytes"], json({src1}));
  EXPECT_EQ(r.json()["synced"], true);
  auto ep = enforced("wt0");
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->config.tag, std::stoul(dst, nullptr, 16));

  // A new edge on the server reaches the kernel by push.
  ASSERT_TRUE(created(server_->post("/whitelist", json{{"source", "app-src2"}, {"destination", "app-dst"}}.dump())));
  EXPECT_TRUE(eventually([&] {
    return agent_->request("GET", "/whitelist").json()["devices"][0]["allowed_source_wire_bytes"] ==
           json({src1, src2});
  })) << agent_->request("GET", "/whitelist").body;
  EXPECT_TRUE(eventually([&] { return enforced("wt0")->rules_src_entries == 2; }));

  // Deleting it takes it away again.
  auto del = server_->request("DELETE", "/whitelist",
                              json{{"source", "app-src2"}, {"destination", "app-dst"}}.dump());
  ASSERT_EQ(del.status, 200) << del.body;
  EXPECT_TRUE(eventually([&] { return enforced("wt0")->rules_src_entries == 1; }));

  // Deleting a source app removes its edges from the cell too.
  ASSERT_EQ(server_->request("DELETE", "/app/app-src1").status, 200);
  EXPECT_TRUE(eventually([&] { return enforced("wt0")->rules_src_entries == 0; }));

  // It watches by stream (the default): the server counts one open.
  EXPECT_EQ(server_->get("/internal/v1/status").json().value("streams", -1), 1);
  // The agent reports itself to the server.
  EXPECT_TRUE(eventually([&] {
    auto cell = server_->get("/internal/v1/cells/test-cell");
    return cell.status == 200 && cell.json().value("healthy", false) == true;
  })) << server_->get("/internal/v1/cells/test-cell").body;
}

// Seed clients always send allowed_source_wire_bytes; with app_guid an empty list is just
// "follow the server".
TEST_F(AgentTest, SeedShapeWithAppGuidAndEmptySourcesFollowsTheServer) {
  const std::string src1 = register_app("app-src1");
  const std::string src2 = register_app("app-src2");
  register_app("app-dst");
  ASSERT_TRUE(created(server_->post(
      "/whitelist", json{{"source", "app-src1"}, {"destination", "app-dst"}}.dump())));
  auto r = agent_->request("POST", "/whitelist",
                           json{{"destination_device", device("wt0")},
                                {"allowed_source_wire_bytes", json::array()},
                                {"app_guid", "app-dst"}}
                               .dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["allowed_source_wire_bytes"], json({src1}));
  EXPECT_EQ(r.json()["static_source_wire_bytes"], json::array());
  EXPECT_EQ(r.json()["synced"], true);
  ASSERT_TRUE(created(server_->post(
      "/whitelist", json{{"source", "app-src2"}, {"destination", "app-dst"}}.dump())));
  EXPECT_TRUE(eventually([&] { return admits("wt0", std::stoul(src2, nullptr, 16)); }))
      << agent_->request("GET", "/whitelist").body;
  EXPECT_TRUE(admits("wt0", std::stoul(src1, nullptr, 16)));
}

// A non-empty static list beside app_guid adds sources to what the server says, and they
// stay through every server update (an added edge, a removed one) and a restart.
TEST_F(AgentTest, StaticSourcesBesideAppGuidAreAddedToTheServersAndKept) {
  const uint32_t src1 = std::stoul(register_app("app-src1"), nullptr, 16);
  const uint32_t src2 = std::stoul(register_app("app-src2"), nullptr, 16);
  register_app("app-dst");
  // Static tags no registered app holds.
  std::vector<uint32_t> extra;
  for (uint32_t t = 0xf001; extra.size() < 2; ++t)
    if (t != src1 && t != src2) extra.push_back(t);
  char hex[2][5];
  for (int i = 0; i < 2; ++i) std::snprintf(hex[i], sizeof hex[i], "%04x", extra[i]);
  ASSERT_TRUE(created(server_->post(
      "/whitelist", json{{"source", "app-src1"}, {"destination", "app-dst"}}.dump())));
  auto r = agent_->request("POST", "/whitelist",
                           json{{"destination_device", device("wt0")},
                                {"allowed_source_wire_bytes", {hex[1], hex[0], hex[1]}},
                                {"app_guid", "app-dst"}}
                               .dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["static_source_wire_bytes"], json({hex[0], hex[1]}));
  EXPECT_EQ(r.json()["allowed_source_wire_bytes"].size(), 3u) << r.body;
  auto all_static = [&] { return admits("wt0", extra[0]) && admits("wt0", extra[1]); };
  EXPECT_TRUE(admits("wt0", src1));
  EXPECT_TRUE(all_static());
  EXPECT_FALSE(admits("wt0", src2));

  // An edge added on the server (applied in place from the event).
  ASSERT_TRUE(created(server_->post(
      "/whitelist", json{{"source", "app-src2"}, {"destination", "app-dst"}}.dump())));
  EXPECT_TRUE(eventually([&] { return admits("wt0", src2); })) << agent_->log_text();
  EXPECT_TRUE(all_static());
  // An edge removed (query and atomic replace).
  ASSERT_EQ(server_
                ->request("DELETE", "/whitelist",
                          json{{"source", "app-src1"}, {"destination", "app-dst"}}.dump())
                .status,
            200);
  EXPECT_TRUE(eventually([&] { return !admits("wt0", src1); })) << agent_->log_text();
  EXPECT_TRUE(admits("wt0", src2));
  EXPECT_TRUE(all_static());

  // A restart: the extra sources are part of the intent on disk, and the resync keeps them.
  agent_->kill_hard();
  start_agent();
  ASSERT_TRUE(eventually([&] { return agent_->request("GET", "/healthz").status == 200; }))
      << agent_->log_text();
  auto list = agent_->request("GET", "/whitelist").json();
  ASSERT_EQ(list["devices"].size(), 1u);
  EXPECT_EQ(list["devices"][0]["static_source_wire_bytes"], json({hex[0], hex[1]}));
  EXPECT_TRUE(admits("wt0", src2));
  EXPECT_FALSE(admits("wt0", src1));
  EXPECT_TRUE(all_static());
}

TEST_F(AgentTest, LongPollWatchFollowsTheServerToo) {
  watch_ = "long-poll";  // for servers or proxies without streamed answers
  start_agent();
  register_app("app-dst");
  register_app("app-src");
  auto r = agent_->request("POST", "/whitelist",
                           json{{"destination_device", device("wt0")}, {"app_guid", "app-dst"}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(created(server_->post("/whitelist", json{{"source", "app-src"}, {"destination", "app-dst"}}.dump())));
  EXPECT_TRUE(eventually([&] { return enforced("wt0")->rules_src_entries == 1; })) << agent_->log_text();
  ASSERT_EQ(server_->request("DELETE", "/whitelist",
                             json{{"source", "app-src"}, {"destination", "app-dst"}}.dump())
                .status,
            200);
  EXPECT_TRUE(eventually([&] { return enforced("wt0")->rules_src_entries == 0; }));
  // The server counts no open stream: this agent long-polls.
  EXPECT_EQ(server_->get("/internal/v1/status").json().value("streams", -1), 0);
}

TEST_F(AgentTest, RuleDeletedWhileTheAgentWasDownIsGoneOnRestart) {
  register_app("app-b");
  register_app("app-a");
  ASSERT_TRUE(created(server_->post("/whitelist", json{{"source", "app-a"}, {"destination", "app-b"}}.dump())));
  auto r = agent_->request("POST", "/whitelist",
                           json{{"destination_device", device("wt0")}, {"app_guid", "app-b"}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(enforced("wt0")->rules_src_entries, 1u);
  agent_->kill_hard();
  ASSERT_EQ(server_->request("DELETE", "/whitelist",
                             json{{"source", "app-a"}, {"destination", "app-b"}}.dump())
                .status,
            200);
  EXPECT_EQ(enforced("wt0")->rules_src_entries, 1u);  // nobody applied it yet
  start_agent();
  // Healthy only after the resync: by then the rule is gone.
  ASSERT_TRUE(eventually([&] { return agent_->request("GET", "/healthz").status == 200; }))
      << agent_->log_text();
  EXPECT_EQ(enforced("wt0")->rules_src_entries, 0u);
}

TEST_F(AgentTest, ServerAwayMeansNothingChangesAndFollowIsRefused) {
  register_app("app-b");
  register_app("app-a");
  ASSERT_TRUE(created(server_->post("/whitelist", json{{"source", "app-a"}, {"destination", "app-b"}}.dump())));
  ASSERT_EQ(agent_->request("POST", "/whitelist",
                            json{{"destination_device", device("wt0")}, {"app_guid", "app-b"}}.dump())
                .status,
            200);
  server_->kill_hard();
  EXPECT_TRUE(eventually([&] { return agent_->request("GET", "/healthz").status == 503; }));
  EXPECT_EQ(enforced("wt0")->rules_src_entries, 1u);
  auto r = agent_->request("POST", "/whitelist",
                           json{{"destination_device", device("wt1")}, {"app_guid", "app-b"}}.dump());
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.error_code(), "UNAVAILABLE");
  EXPECT_FALSE(enforced("wt1"));
  // Static whitelists still work without the server.
  r = agent_->request("POST", "/whitelist",
                      json{{"destination_device", device("wt1")}, {"allowed_source_wire_bytes", {"00a1"}}}.dump());
  EXPECT_EQ(r.status, 200) << r.body;
}

// The PAP side of the cell (SPEC §4.4): what is deployed to the cell's group is what its
// maps hold, the group's state is its endpoints' datapath mode, and PDP_STATUS says which
// deployed versions the cell holds.
class PapCellTest : public AgentTest {
 protected:
  json health() { return agent_->request("GET", "/healthz").json(); }
  // The state of `policy` on test-cell in policies/status ("" when not listed).
  std::string deploy_state(const std::string& policy, std::string* message = nullptr) {
    for (const json& st : server_->pap("GET", "/policies/status").json()) {
      if (st.value("pdpId", "") != "test-cell" || st["policy"]["name"] != policy) continue;
      if (message) *message = st.value("message", "");
      return st.value("state", "");
    }
    return "";
  }
  int deploy(const std::string& group, const std::string& action, const json& policies) {
    return server_->pap("POST", "/pdps/deployments/batch",
                        json{{"groups",
                              {{{"name", group},
                                {"deploymentSubgroups",
                                 {{{"pdpType", "tc"}, {"action", action}, {"policies", policies}}}}}}}}
                            .dump())
        .status;
  }
  std::optional<datapath::Mode> mode(const std::string& ifname) {
    auto ep = enforced(ifname);
    if (!ep) return std::nullopt;
    return datapath::settings_of(ep->config).mode;
  }
  // A named policy of account default from `source` to app-dst on `count` tcp ports, every
  // other one from first_port (no two adjacent, so none merges into a range); its id.
  std::string port_policy(const std::string& name, const std::string& source, int first_port,
                          int count) {
    json rules = json::array();
    for (int p = first_port; p < first_port + 2 * count; p += 2)
      rules.push_back({{"source", source},
                       {"destination", "app-dst"},
                       {"protocol", "tcp"},
                       {"ports", {{"start", p}, {"end", p}}}});
    auto r = server_->post("/v1/accounts/default/policies", json{{"name", name}, {"rules", rules}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json()["result"].value("id", "");
  }
  void follow_dst() {
    register_app("app-dst");
    register_app("app-src");
    ASSERT_TRUE(created(server_->post("/whitelist", json{{"source", "app-src"}, {"destination", "app-dst"}}.dump())));
    auto r = agent_->request("POST", "/whitelist",
                             json{{"destination_device", device("wt0")}, {"app_guid", "app-dst"}}.dump());
    ASSERT_EQ(r.status, 200) << r.body;
  }
};

TEST_F(PapCellTest, GroupStateSetsTheModeAndDeploymentsSetTheRules) {
  follow_dst();
  ASSERT_TRUE(eventually([&] { return deploy_state("default-whitelist") == "SUCCESS"; }))
      << server_->pap("GET", "/policies/status").body << agent_->log_text();
  EXPECT_EQ(health()["pdp"]["policies"], (json{{{"name", "default-whitelist"}, {"version", "1.0.0"}}}));
  EXPECT_EQ(health()["pdp"]["state"], "ACTIVE");
  EXPECT_EQ(mode("wt0"), datapath::Mode::Enforce);
  EXPECT_EQ(agent_->request("GET", "/whitelist").json()["devices"][0]["mode"], "enforce");

  // TEST → audit, PASSIVE → bypass, ACTIVE → enforce again: by push, on every endpoint.
  for (auto [state, want] : {std::pair{"TEST", datapath::Mode::Audit},
                             std::pair{"PASSIVE", datapath::Mode::Bypass},
                             std::pair{"ACTIVE", datapath::Mode::Enforce}}) {
    ASSERT_EQ(server_->pap("PUT", std::string("/pdps/groups/defaultGroup?state=") + state).status, 200);
    EXPECT_TRUE(eventually([&] { return mode("wt0") == want; })) << state << "\n" << agent_->log_text();
    EXPECT_TRUE(eventually([&] { return health()["pdp"]["state"] == state; })) << health();
  }
  // A static device follows the cell's mode too, from its first attach.
  ASSERT_EQ(server_->pap("PUT", "/pdps/groups/defaultGroup?state=TEST").status, 200);
  ASSERT_TRUE(eventually([&] { return mode("wt0") == datapath::Mode::Audit; }));
  ASSERT_EQ(agent_->request("POST", "/whitelist",
                            json{{"destination_device", device("wt1")}, {"allowed_source_wire_bytes", {"00a1"}}}.dump())
                .status,
            200);
  EXPECT_EQ(mode("wt1"), datapath::Mode::Audit);
  ASSERT_EQ(server_->pap("PUT", "/pdps/groups/defaultGroup?state=ACTIVE").status, 200);
  EXPECT_TRUE(eventually([&] { return mode("wt1") == datapath::Mode::Enforce; }));

  // Undeploying default-whitelist takes its edges out of the maps.
  ASSERT_EQ(deploy("defaultGroup", "DELETE", {{{"name", "default-whitelist"}}}), 202);
  EXPECT_TRUE(eventually([&] { return enforced("wt0")->rules_src_entries == 0; }));
  EXPECT_TRUE(eventually([&] { return health()["pdp"]["policies"] == json::array(); })) << health();
  // Edges no longer reach the cell while it is not deployed...
  register_app("app-other");
  ASSERT_TRUE(created(server_->post("/whitelist", json{{"source", "app-other"}, {"destination", "app-dst"}}.dump())));
  // ...but a named policy's version does, port by port.
  const std::string id = port_policy("web", "app-src", 8080, 2);  // tcp/8080 and tcp/8082
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(deploy("defaultGroup", "POST", {{{"name", id}, {"version", "1.0.0"}}}), 202);
  EXPECT_TRUE(eventually([&] { return deploy_state(id) == "SUCCESS"; }))
      << server_->pap("GET", "/policies/status").body << agent_->log_text();
  auto ep = enforced("wt0");
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->rules_src_entries, 0u);
  EXPECT_EQ(ep->rules_port_entries, 2u);
  // Deploying default-whitelist again brings every edge back, app-other's included.
  ASSERT_EQ(deploy("defaultGroup", "POST", {{{"name", "default-whitelist"}}}), 202);
  EXPECT_TRUE(eventually([&] { return enforced("wt0")->rules_src_entries == 2; }));
  EXPECT_TRUE(eventually([&] { return deploy_state("default-whitelist") == "SUCCESS"; }));
}

TEST_F(PapCellTest, PolicyThatDoesNotFitFailsAndThePreviousOneStays) {
  max_policy_entries_ = 16;  // both generations of each policy map together
  agent_.reset();
  sh("rm -rf " + pin_dir_);  // maps of another size cannot be adopted
  start_agent();
  follow_dst();
  ASSERT_TRUE(eventually([&] { return deploy_state("default-whitelist") == "SUCCESS"; }));
  const auto before = enforced("wt0");
  ASSERT_TRUE(before);
  ASSERT_EQ(before->rules_src_entries, 1u);

  // 40 port entries from another source (app-src's edge allows it every port already, so
  // rules of its own would add no entry): they cannot fit.
  register_app("app-big");
  const std::string id = port_policy("big", "app-big", 9000, 40);
  ASSERT_EQ(deploy("defaultGroup", "POST", {{{"name", id}, {"version", "1.0.0"}}}), 202);
  std::string message;
  ASSERT_TRUE(eventually([&] { return deploy_state(id, &message) == "FAILURE"; }))
      << server_->pap("GET", "/policies/status").body << agent_->log_text();
  EXPECT_EQ(message.rfind("MAP_FULL: ", 0), 0u) << message;
  EXPECT_EQ(deploy_state("default-whitelist"), "SUCCESS");
  EXPECT_EQ(health()["pdp"]["failedPolicies"][0]["name"], id);
  // The previous rules are still the ones in force, and nothing of the new one is.
  auto after = enforced("wt0");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->config.generation, before->config.generation);
  EXPECT_EQ(after->rules_src_entries, 1u);
  EXPECT_EQ(after->rules_port_entries, 0u);
  // The failure is not retried at every heartbeat: no resync in 5 heartbeats.
  auto resyncs = [&] {
    std::string log = agent_->log_text();
    size_t n = 0;
    for (size_t at = log.find("resynced "); at != std::string::npos; at = log.find("resynced ", at + 1)) ++n;
    return n;
  };
  const size_t resyncs_before = resyncs();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(resyncs(), resyncs_before) << agent_->log_text();
  EXPECT_EQ(deploy_state(id), "FAILURE");

  // Undeployed, the cell holds everything deployed again.
  ASSERT_EQ(deploy("defaultGroup", "DELETE", {{{"name", id}}}), 202);
  EXPECT_TRUE(eventually([&] { return health()["pdp"]["failedPolicies"] == json::array(); })) << health();
  EXPECT_EQ(deploy_state("default-whitelist"), "SUCCESS");
  EXPECT_EQ(enforced("wt0")->rules_src_entries, 1u);
}

// Fail closed (SPEC §3): a new cell whose group the PAP does not know denies by default, says
// so loudly, and takes the group's rules and mode once it exists.
TEST_F(PapCellTest, UnknownGroupFailsClosedUntilTheGroupExists) {
  group_ = "ghost";
  start_agent();
  follow_dst();  // app-src → app-dst is on the server, but not deployed to "ghost"
  EXPECT_TRUE(eventually([&] { return health()["pdp"].value("locked", false); })) << health();
  EXPECT_EQ(mode("wt0"), datapath::Mode::Enforce);
  EXPECT_EQ(enforced("wt0")->rules_src_entries, 0u);
  const uint32_t src = std::stoul(register_app("app-src"), nullptr, 16);
  ASSERT_NE(src, 0u);
  EXPECT_FALSE(admits("wt0", src));  // denied, and stays denied
  // Loudly: a warning, /healthz 503 with the reason, NOT_HEALTHY on the server with it.
  EXPECT_EQ(agent_->request("GET", "/healthz").status, 503);
  EXPECT_NE(health().value("reason", "").find("ghost"), std::string::npos) << health();
  EXPECT_NE(agent_->log_text().find("warning the PAP knows no group \"ghost\""), std::string::npos)
      << agent_->log_text();
  EXPECT_TRUE(eventually([&] {
    json c = server_->get("/internal/v1/cells/test-cell").json();
    return c.value("reportedHealthy", "") == "NOT_HEALTHY" &&
           c.value("description", "").find("ghost") != std::string::npos &&
           c.value("state", "") != "PASSIVE";
  })) << server_->get("/internal/v1/cells/test-cell").body;
  // A heartbeat later, nothing has changed.
  const int64_t seen =
      server_->get("/internal/v1/cells/test-cell").json().value("lastHeartbeatMs", int64_t{0});
  ASSERT_TRUE(eventually([&] {
    return server_->get("/internal/v1/cells/test-cell")
               .json()
               .value("lastHeartbeatMs", int64_t{0}) > seen;
  }));
  EXPECT_EQ(mode("wt0"), datapath::Mode::Enforce);
  EXPECT_FALSE(admits("wt0", src));

  // The group is created ACTIVE with default-whitelist: the cell takes its rules.
  auto r =
      server_->pap("POST", "/pdps/groups/batch",
                   json{{"groups",
                         {{{"name", "ghost"},
                           {"pdpGroupState", "ACTIVE"},
                           {"pdpSubgroups", {{{"pdpType", "tc"}, {"desiredInstanceCount", 1}}}}}}}}
                       .dump());
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(deploy("ghost", "POST", {{{"name", "default-whitelist"}}}), 202);
  EXPECT_TRUE(eventually([&] { return admits("wt0", src); })) << agent_->log_text();
  EXPECT_TRUE(eventually([&] { return deploy_state("default-whitelist") == "SUCCESS"; }));
  EXPECT_TRUE(eventually([&] { return agent_->request("GET", "/healthz").status == 200; }))
      << health();
  EXPECT_EQ(mode("wt0"), datapath::Mode::Enforce);
}

// A cell restarted into a group the PAP does not know (a typo) keeps what it enforced: the
// adopted endpoints keep their rules and mode; a new device denies by default.
TEST_F(PapCellTest, UnknownGroupAfterRestartKeepsThePinnedState) {
  follow_dst();
  const uint32_t src = std::stoul(register_app("app-src"), nullptr, 16);
  ASSERT_TRUE(admits("wt0", src));
  agent_->kill_hard();
  group_ = "defaultGrup";
  start_agent();
  ASSERT_TRUE(eventually([&] { return health()["pdp"].value("locked", false); })) << health();
  EXPECT_TRUE(admits("wt0", src));
  EXPECT_EQ(mode("wt0"), datapath::Mode::Enforce);
  auto r =
      agent_->request("POST", "/whitelist",
                      json{{"destination_device", device("wt1")}, {"app_guid", "app-dst"}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(mode("wt1"), datapath::Mode::Enforce);
  EXPECT_FALSE(admits("wt1", src));
  // A new edge does not reach a locked cell either.
  register_app("app-late");
  ASSERT_TRUE(created(server_->post(
      "/whitelist", json{{"source", "app-late"}, {"destination", "app-dst"}}.dump())));
  const int64_t rev = server_->get("/internal/v1/status").json().value("revision", int64_t{-1});
  ASSERT_TRUE(eventually([&] { return health().value("revision", int64_t{-1}) >= rev; }))
      << health();
  EXPECT_EQ(enforced("wt0")->rules_src_entries, 1u);
  EXPECT_EQ(agent_->request("GET", "/healthz").status, 503);
}

// SAFE freezes what a cell enforces: no default-whitelist edge is accepted while its group is
// SAFE (the server refuses it, so the decision API and the cell agree), and one added once the
// group is ACTIVE again reaches the cell.
TEST_F(PapCellTest, SafeCellTakesNoNewEdgeUntilActive) {
  follow_dst();
  ASSERT_TRUE(eventually([&] { return deploy_state("default-whitelist") == "SUCCESS"; }));
  ASSERT_EQ(server_->pap("PUT", "/pdps/groups/defaultGroup?state=SAFE").status, 200);
  ASSERT_TRUE(eventually([&] { return health()["pdp"]["state"] == "SAFE"; })) << health();
  const uint32_t late = std::stoul(register_app("app-late"), nullptr, 16);
  auto refused =
      server_->post("/whitelist", json{{"source", "app-late"}, {"destination", "app-dst"}}.dump());
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_EQ(refused.error_code(), "GROUP_IN_SAFE_STATE");
  // The agent has handled the change log to its end: nothing new.
  const int64_t rev = server_->get("/internal/v1/status").json().value("revision", int64_t{-1});
  ASSERT_TRUE(eventually([&] { return health().value("revision", int64_t{-1}) >= rev; }))
      << health();
  EXPECT_FALSE(admits("wt0", late));
  EXPECT_EQ(enforced("wt0")->rules_src_entries, 1u);
  EXPECT_EQ(mode("wt0"), datapath::Mode::Enforce);
  // Nor a device attached while SAFE: it gets what the cell holds for the app.
  auto r =
      agent_->request("POST", "/whitelist",
                      json{{"destination_device", device("wt1")}, {"app_guid", "app-dst"}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(admits("wt1", late));
  EXPECT_EQ(enforced("wt1")->rules_src_entries, 1u);

  ASSERT_EQ(server_->pap("PUT", "/pdps/groups/defaultGroup?state=ACTIVE").status, 200);
  ASSERT_TRUE(created(server_->post(
      "/whitelist", json{{"source", "app-late"}, {"destination", "app-dst"}}.dump())));
  EXPECT_TRUE(eventually([&] { return admits("wt0", late) && admits("wt1", late); }))
      << agent_->log_text();
  EXPECT_EQ(enforced("wt0")->rules_src_entries, 2u);
}

}  // namespace
}  // namespace wiretag::test
