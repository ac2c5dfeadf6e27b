// The decision API, the cell's live enforce program and `trace` agree (issue 15, item 4).
// A real wiretag-server and wiretag-agent; three destination apps followed by the agent on
// veths in a namespace; random edges (sources or "*", protocols, single ports, ranges, no
// port) in rounds; in each round random packets (tagged or untagged, TCP/UDP/ICMP, ports
// near and away from the rules' edges) are asked three ways:
//   1. POST /policy/pdpx/v1/decision on the server, as the agent's cell;
//   2. the live enforce program pinned by the agent, run with BPF_PROG_TEST_RUN on a
//      synthesized packet with the source's tag in skb->mark, in the endpoint's namespace;
//   3. POST /v1/trace on the agent's Plugin API.
// All three must give the same verdict, and trace and decision the same reason (trace for
// every other case: each one is a verifier pass).
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "../server/temp_dir.h"
#include "agent_process.h"
#include "datapath/netns.h"
#include "datapath/packet_builder.h"

namespace wiretag::test {
namespace {

using nlohmann::json;

constexpr int kRounds = 8;
constexpr int kPacketsPerRound = 400;  // 3,200 cases
const char* kCell = "agree-cell";

struct Packet {
  std::optional<std::string> source;  // app guid; none: untagged
  std::string destination;
  std::string protocol;  // tcp, udp, icmp
  uint16_t port = 0;     // tcp, udp
  bool ipv6 = false;
};

std::string describe(const Packet& p) {
  return (p.source ? *p.source : std::string("(untagged)")) + " -> " + p.destination + " " +
         p.protocol + (p.protocol == "icmp" ? "" : "/" + std::to_string(p.port)) +
         (p.ipv6 ? " ipv6" : " ipv4");
}

class Agreement : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    pin_dir_ = "/sys/fs/bpf/wiretag-agree-" + std::to_string(::getpid()) + "-" +
               std::to_string(rd() % 1000000);
    server_ = std::make_unique<ServerProcess>(dir_.path() / "server");
    ASSERT_TRUE(server_->started()) << "server did not start";
    auto issued = server_->post("/v1/tokens", json{{"scopes", {"cell"}}, {"cell", kCell}}.dump());
    ASSERT_EQ(issued.status, 201) << issued.body;
    std::ofstream(dir_.path() / "cell-token") << issued.json()["token"].get<std::string>() << "\n";
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(netns_.add_veth("ag" + std::to_string(i)));
    agent_ = std::make_unique<AgentProcess>(
        std::vector<std::string>{"--server", "http://127.0.0.1:" + std::to_string(server_->port()),
                                 "--cell", kCell, "--listen", "127.0.0.1:0", "--pin-dir", pin_dir_,
                                 "--state-dir", (dir_.path() / "agent").string(), "--token-file",
                                 (dir_.path() / "cell-token").string(), "--heartbeat-interval",
                                 "200", "--max-endpoints", "16", "--max-policy-entries", "65536"},
        dir_.path() / "agent.log");
    ASSERT_TRUE(agent_->started()) << agent_->log_text();
  }

  void TearDown() override {
    agent_.reset();
    server_.reset();
    sh("rm -rf " + pin_dir_);
  }

  std::string register_app(const std::string& guid) {
    auto r = server_->post("/app", json{{"guid", guid}}.dump());
    EXPECT_TRUE(r.status == 200 || r.status == 201) << r.body;
    return r.json().value("wire_bytes", "");
  }

  int64_t server_revision() {
    auto r = server_->get("/healthz");
    return r.status == 200 ? r.json().value("revision", int64_t{-1}) : -1;
  }
  int64_t agent_revision() {
    auto r = agent_->request("GET", "/healthz");
    auto j = json::parse(r.body, nullptr, false);
    return j.is_object() ? j.value("revision", int64_t{-1}) : -1;
  }

  // The live enforce program, pinned by the agent: its TC action for the packet.
  int run_live_enforce(const Packet& p, uint32_t tag, uint32_t ifindex) {
    auto frame = [&] {
      auto b = p.ipv6 ? datapath::PacketBuilder::ipv6("2001:2:0:7::9", "2001:2:0:8::1")
                      : datapath::PacketBuilder::ipv4("198.18.70.9", "198.18.80.1");
      if (p.protocol == "tcp") b.tcp(40000 + (p.port % 1000), p.port);
      if (p.protocol == "udp") b.udp(40000 + (p.port % 1000), p.port);
      if (p.protocol == "icmp") b.icmp_echo_request(static_cast<uint16_t>(p.port + 1));
      return b.build();
    }();
    std::vector<uint8_t> out(frame.size() + 512);
    __sk_buff ctx{};
    ctx.mark = tag;
    ctx.ifindex = ifindex;
    __sk_buff ctx_out{};
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
                .data_size_in = static_cast<__u32>(frame.size()),
                .data_size_out = static_cast<__u32>(out.size()), .ctx_in = &ctx,
                .ctx_out = &ctx_out, .ctx_size_in = sizeof ctx, .ctx_size_out = sizeof ctx_out,
                .repeat = 1);
    if (bpf_prog_test_run_opts(enforce_fd_, &opts) != 0) return -errno;
    return static_cast<int>(opts.retval);
  }

  TempDir dir_;
  TestNetns netns_;
  std::string pin_dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<AgentProcess> agent_;
  int enforce_fd_ = -1;
};

TEST_F(Agreement, DecisionLiveProgramAndTraceAgreeOnRandomRulesAndPackets) {
  std::mt19937 rng(20261204);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };

  const std::vector<std::string> dests = {"ag-db", "ag-api", "ag-cache"};
  const std::vector<std::string> sources = {"ag-web", "ag-batch", "ag-ops", "ag-db", "ag-api"};
  std::map<std::string, uint32_t> tag;
  std::map<std::string, std::string> wire_bytes;
  for (const auto& a : {"ag-db", "ag-api", "ag-cache", "ag-web", "ag-batch", "ag-ops"}) {
    wire_bytes[a] = register_app(a);
    tag[a] = static_cast<uint32_t>(std::stoul(wire_bytes[a], nullptr, 16));
  }
  for (int i = 0; i < 3; ++i) {
    json body = {{"destination_device",
                  {{"namespace", netns_.path()}, {"interface_name", "ag" + std::to_string(i)}}},
                 {"app_guid", dests[i]}};
    auto r = agent_->request("POST", "/whitelist", body.dump());
    ASSERT_EQ(r.status, 200) << r.body;
  }
  std::map<std::string, uint32_t> ifindex;
  {
    auto scope = datapath::NetnsScope::enter(netns_.path());
    ASSERT_TRUE(scope.ok()) << scope.error().message;
    for (int i = 0; i < 3; ++i)
      ifindex[dests[i]] = if_nametoindex(("ag" + std::to_string(i)).c_str());
  }
  enforce_fd_ = bpf_obj_get((pin_dir_ + "/wt_enforce_prog").c_str());
  ASSERT_GE(enforce_fd_, 0) << "no pinned enforce program in " << pin_dir_;

  // Wildcard-source rules cannot be edges (POST /whitelist names an app): they live in a
  // named policy, a new version of it each round, deployed to the cell's group.
  auto created = server_->post("/v1/accounts/default/policies",
                               json{{"name", "agree-wild"}, {"rules", json::array()}}.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string wild_id = created.json()["result"]["id"];

  std::vector<json> edges;  // this round's, removed before the next
  int cases = 0, permits = 0, denies = 0, traces = 0;
  for (int round = 0; round < kRounds; ++round) {
    for (const json& e : edges) {
      auto r = server_->request("DELETE", "/whitelist", e.dump());
      ASSERT_EQ(r.status, 200) << r.body;
    }
    edges.clear();
    for (const auto& d : dests) {
      const int n = pick(6);
      for (int i = 0; i < n; ++i) {
        json e = {{"source", sources[pick(5)]}, {"destination", d}};
        const char* protos[] = {"tcp", "udp", "icmp", "any"};
        std::string proto = protos[pick(4)];
        e["protocol"] = proto;
        if (proto == "tcp" || proto == "udp") {
          const int shape = pick(3);  // 0: no port, 1: one port, 2: a range
          if (shape > 0) {
            const int start = 1000 + pick(100);
            const int end = shape == 1 ? start : std::min(65535, start + pick(70));
            e["ports"] = {{"start", start}, {"end", end}};
          }
        }
        auto r = server_->post("/whitelist", e.dump());
        if (r.status == 201)
          edges.push_back(e);  // 200: the same edge again, already listed
        else if (r.status != 200)
          ADD_FAILURE() << e.dump() << " → " << r.body;
      }
    }
    json wild = json::array();
    for (int i = pick(4); i > 0; --i) {
      json r = {{"source", "*"}, {"destination", dests[pick(3)]}};
      const char* protos[] = {"tcp", "udp", "icmp", "any"};
      std::string proto = protos[pick(4)];
      r["protocol"] = proto;
      if ((proto == "tcp" || proto == "udp") && pick(2) == 0) {
        const int start = 1000 + pick(100);
        r["ports"] = {{"start", start}, {"end", std::min(65535, start + pick(40))}};
      }
      wild.push_back(r);
    }
    auto updated = server_->request("PUT", "/v1/accounts/default/policies/" + wild_id,
                                    json{{"name", "agree-wild"}, {"rules", wild}}.dump());
    ASSERT_EQ(updated.status, 200) << updated.body;
    const std::string version =
        std::to_string(updated.json()["result"]["version"].get<int>()) + ".0.0";
    json deploy = {{"groups",
                    {{{"name", "defaultGroup"},
                      {"deploymentSubgroups",
                       {{{"pdpType", "tc"},
                         {"action", "POST"},
                         {"policies", {{{"name", wild_id}, {"version", version}}}}}}}}}}};
    auto deployed = server_->pap("POST", "/pdps/deployments/batch", deploy.dump());
    ASSERT_TRUE(deployed.status == 200 || deployed.status == 202) << deployed.body;
    ASSERT_TRUE(eventually(
        [&] {
          auto h = json::parse(agent_->request("GET", "/healthz").body, nullptr, false);
          if (!h.is_object()) return false;
          for (const json& held : h["pdp"].value("policies", json::array()))
            if (held.value("name", "") == wild_id && held.value("version", "") == version)
              return true;
          return false;
        },
        std::chrono::seconds(30)))
        << "the agent never held " << wild_id << " " << version << "\n"
        << agent_->log_text();

    const int64_t rev = server_revision();
    ASSERT_TRUE(eventually([&] { return agent_revision() >= rev; }, std::chrono::seconds(30)))
        << "agent at " << agent_revision() << ", server at " << rev << "\n"
        << agent_->log_text();

    for (int k = 0; k < kPacketsPerRound; ++k) {
      Packet p;
      p.destination = dests[pick(3)];
      const int s = pick(8);
      if (s < 6)
        p.source = std::vector<std::string>{"ag-web", "ag-batch", "ag-ops",
                                            "ag-db",  "ag-api",   "ag-cache"}[s];
      const char* protos[] = {"tcp", "udp", "icmp"};
      p.protocol = protos[pick(3)];
      if (p.protocol != "icmp")
        p.port = static_cast<uint16_t>(pick(4) == 0 ? 1 + pick(65535) : 995 + pick(180));
      p.ipv6 = pick(2) == 0;
      SCOPED_TRACE(describe(p) + " (round " + std::to_string(round) + ")");

      // 1. The Decision API, as this cell.
      json resource = {{"destination", p.destination}, {"protocol", p.protocol}, {"cell", kCell}};
      if (p.source) resource["source"] = *p.source;
      if (p.protocol != "icmp") resource["port"] = p.port;
      json ask = {{"ONAPName", "wiretag-test"}, {"ONAPComponent", "agreement"},
                  {"ONAPInstance", "1"},        {"requestId", "agree-" + std::to_string(cases)},
                  {"action", "connect"},        {"resource", resource}};
      auto d = server_->post("/policy/pdpx/v1/decision", ask.dump());
      ASSERT_EQ(d.status, 200) << ask.dump() << " → " << d.body;
      const json decision = d.json();
      const bool permit = decision["status"] == "Permit";
      const std::string decision_reason =
          decision["attributes"].value("verdict_reason", std::string());

      // 2. The live program.
      const uint32_t mark = p.source ? tag[*p.source] : 0;
      int action = -1;
      {
        auto scope = datapath::NetnsScope::enter(netns_.path());
        ASSERT_TRUE(scope.ok());
        action = run_live_enforce(p, mark, ifindex[p.destination]);
      }
      ASSERT_TRUE(action == TC_ACT_OK || action == TC_ACT_SHOT) << "test run: " << action;
      EXPECT_EQ(permit, action == TC_ACT_OK)
          << "decision " << decision.dump() << " but the live program " << action;

      ++cases;
      (permit ? permits : denies)++;
      if (::testing::Test::HasFailure()) return;
      // 3. trace on the agent, for every other case: each trace loads the trace programs (a
      // verifier pass, ~0.2 s), so all of them would take minutes.
      if (cases % 2 != 0) continue;
      ++traces;
      json t = {{"destination", p.destination}, {"protocol", p.protocol}, {"ipv6", p.ipv6}};
      if (p.source) {
        t["source"] = *p.source;
        t["source_tag"] = wire_bytes[*p.source];
      }
      if (p.protocol != "icmp") t["port"] = p.port;
      auto tr = agent_->request("POST", "/v1/trace", t.dump());
      ASSERT_EQ(tr.status, 200) << t.dump() << " → " << tr.body;
      const json trace = json::parse(tr.body);
      EXPECT_EQ(trace["verdict"] == "pass", permit) << "trace " << trace.dump();
      EXPECT_EQ(trace["reason"], decision_reason)
          << "trace " << trace.dump() << "\ndecision " << decision.dump();
      if (::testing::Test::HasFailure()) return;
    }
  }
  ::close(enforce_fd_);
  std::printf(
      "agreement: %d cases (%d Permit, %d Deny): decision = live program; %d of them "
      "also traced: = trace\n",
      cases, permits, denies, traces);
  EXPECT_GE(permits, 100);
  EXPECT_GE(denies, 100);
}

}  // namespace
}  // namespace wiretag::test
