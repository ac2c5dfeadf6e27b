// Propagation: from the server's 2xx on POST /whitelist to the rule being in the cell's
// kernel map (the pinned src_policy map, in the endpoint's active generation), with one
// real agent alone and with 99 simulated agents beside it, each holding its own watch
// (they share this process; every change wakes all of them). Then a full resync of 100k
// rules. Each with the agents watching by stream and by long poll (--watch), side by side.
// Prints the figures beside the targets. Run as root: ./wiretag-bench-propagation
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "agent/server_link.h"
#include "bench_common.h"
#include "datapath/datapath.h"
#include "http/client.h"

namespace {

namespace fs = std::filesystem;
using wiretag::bench::Child;
using wiretag::bench::die;
using wiretag::bench::sh;
using wiretag::bench::spawn;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

json must(wiretag::http::Client& c, const char* method, const std::string& target,
          const json& body = nullptr) {
  auto r = c.request(method, target, body.is_null() ? "" : body.dump(), std::chrono::seconds(120));
  if (!r) die(std::string(method) + " " + target + ": " + r.error().message);
  if (r->status >= 300) die(std::string(method) + " " + target + ": HTTP " + std::to_string(r->status) + " " + r->body.substr(0, 300));
  auto j = r->json();
  return j ? *j : json();
}

struct Stats {
  double median, p90, p99, max;
};
Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))]; };
  return {at(0.5), at(0.9), at(0.99), v.back()};
}

// A simulated agent's view: it follows one app of its own and applies nothing.
class SimSink : public wiretag::agent::PolicySink {
 public:
  explicit SimSink(std::string app) : app_(std::move(app)) {}
  std::vector<std::string> followed_apps() const override { return {app_}; }
  std::optional<std::set<std::string>> affected_apps(const wiretag::agent::ChangeEvent& e) const override {
    std::set<std::string> out;
    for (auto& d : e.destinations)
      if (d == app_) out.insert(d);
    return out;
  }
  wiretag::agent::ApplyReport apply(const wiretag::agent::ServerSnapshot&) override { return {}; }

 private:
  std::string app_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"wiretag-bench-propagation: POST /whitelist → rule in the cell's kernel map, with 1 "
               "and with 100 agents watching; and a full resync of many rules. Needs root."};
  int changes = 1000;
  int agents = 100;
  int resync_rules = 100000;
  std::string watch = "both";
  cli.add_option("--changes", changes, "edges added per scenario")->capture_default_str();
  cli.add_option("--agents", agents, "watching agents in the second scenario (1 real, the rest simulated)")
      ->capture_default_str();
  cli.add_option("--resync-rules", resync_rules, "rules in the full-resync measurement (0: skip)")
      ->capture_default_str();
  cli.add_option("--watch", watch, "the agents' watch: stream, long-poll, or both side by side")
      ->check(CLI::IsMember({"stream", "long-poll", "both"}))
      ->capture_default_str();
  CLI11_PARSE(cli, argc, argv);

  const std::string run = "wtpb" + std::to_string(::getpid());
  const fs::path dir = fs::temp_directory_path() / run;
  fs::create_directories(dir);
  const std::string pin_dir = "/sys/fs/bpf/" + run;
  const std::string netns = run;
  struct Cleanup {
    std::string netns, pin_dir;
    fs::path dir;
    ~Cleanup() {
      sh("ip netns del " + netns + " 2>/dev/null");
      sh("rm -rf " + pin_dir);
      fs::remove_all(dir);
    }
  } cleanup{netns, pin_dir, dir};
  if (sh("ip netns add " + netns + " && ip -n " + netns + " link add wtp0 type veth peer name wtp0p && ip -n " +
         netns + " link add wtp1 type veth peer name wtp1p && ip -n " + netns + " link set wtp0 up && ip -n " +
         netns + " link set wtp1 up") != 0)
    die("cannot create the test namespace (root needed)");

  Child server, agent;
  if (!spawn(server, WIRETAG_SERVER_BIN,
             {"--listen", "127.0.0.1:0", "--data-dir", (dir / "server").string(), "--threads", "2",
              "--log-level", "warn"},
             dir / "server.log"))
    die("server did not start");
  std::string token;
  std::getline(std::ifstream(dir / "server" / "admin-token"), token);
  const std::string server_url = "http://127.0.0.1:" + std::to_string(server.port);
  const std::vector<std::string> modes =
      watch == "both" ? std::vector<std::string>{"long-poll", "stream"} : std::vector<std::string>{watch};
  // The agent runs with a token bound to its cell, never the admin token.
  {
    wiretag::http::Client admin(*wiretag::http::parse_base_url(server_url), token);
    json issued = must(admin, "POST", "/v1/tokens",
                       {{"scopes", json::array({"cell"})}, {"cell", "bench-cell"}});
    std::ofstream(dir / "cell-token") << issued["token"].get<std::string>() << "\n";
  }
  // The real agent (re)started with this watch mode; returns once it reports healthy.
  int agent_starts = 0;
  auto start_agent = [&](const std::string& mode) {
    agent.stop();
    if (!spawn(agent, WIRETAG_AGENT_BIN,
               {"--server", server_url, "--cell", "bench-cell", "--listen", "127.0.0.1:0", "--pin-dir",
                pin_dir, "--state-dir", (dir / "agent").string(), "--token-file",
                (dir / "cell-token").string(), "--max-endpoints", "64", "--log-level", "warn",
                "--watch", mode,
                // The Plugin API on TCP, behind a token (the bench's HTTP client speaks TCP).
                "--plugin-tcp", "--plugin-token-file", (dir / "cell-token").string()},
               dir / ("agent.log." + std::to_string(++agent_starts))))
      die("agent did not start");
    wiretag::http::Client health(*wiretag::http::parse_base_url("http://127.0.0.1:" + std::to_string(agent.port)));
    for (auto t0 = Clock::now();;) {
      auto r = health.request("GET", "/healthz", "", std::chrono::seconds(5));
      if (r && r->status == 200) break;
      if (Clock::now() - t0 > std::chrono::seconds(120)) die("agent never became healthy");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  };
  start_agent(modes.front());

  wiretag::http::Client api(*wiretag::http::parse_base_url(server_url), token);
  wiretag::http::Client pap(*wiretag::http::parse_base_url(server_url));
  {
    std::string credentials;
    std::getline(std::ifstream(dir / "server" / "pap-credentials"), credentials);
    pap.set_basic_auth(credentials);
  }
  auto plugin_client = [&] {
    return std::make_unique<wiretag::http::Client>(
        *wiretag::http::parse_base_url("http://127.0.0.1:" + std::to_string(agent.port)), token);
  };
  auto plugin = plugin_client();

  // Sources for every change of both scenarios, and the followed destination.
  must(api, "POST", "/app", {{"guid", "dst"}});
  std::vector<uint32_t> tags;
  for (int i = 0; i < 2 * changes * static_cast<int>(modes.size()); ++i) {
    auto r = must(api, "POST", "/app", {{"guid", "src-" + std::to_string(i)}});
    tags.push_back(static_cast<uint32_t>(std::stoul(r["wire_bytes"].get<std::string>(), nullptr, 16)));
  }
  must(*plugin, "POST", "/whitelist",
       {{"destination_device", {{"namespace", "/run/netns/" + netns}, {"interface_name", "wtp0"}}},
        {"app_guid", "dst"}});

  wiretag::datapath::Options o;
  o.pin_dir = pin_dir;
  o.read_only = true;
  o.max_endpoints = 64;
  auto dp = wiretag::datapath::Datapath::open(o);
  if (!dp) die("read the pinned maps: " + dp.error().message);
  auto ifindex = (*dp)->ifindex_of({"/run/netns/" + netns, "wtp0"});
  if (!ifindex) die("the agent did not attach wtp0");
  auto endpoints = (*dp)->endpoint_map();
  auto src_policy = (*dp)->src_policy_map();

  auto measure = [&](int first) {
    std::vector<double> from_reply, from_send;
    for (int i = first; i < first + changes; ++i) {
      auto t0 = Clock::now();
      must(api, "POST", "/whitelist", {{"source", "src-" + std::to_string(i)}, {"destination", "dst"}});
      auto t1 = Clock::now();
      for (;;) {
        auto ep = endpoints.lookup(*ifindex);
        wt_src_key key{};
        key.ifindex = *ifindex;
        key.src_tag = tags[i];
        key.generation = ep ? ep->generation : 0;
        if (ep && src_policy.lookup(key)) break;
        if (Clock::now() - t1 > std::chrono::seconds(10)) die("change " + std::to_string(i) + " never arrived");
        std::this_thread::sleep_for(std::chrono::microseconds(20));
      }
      auto t2 = Clock::now();
      from_reply.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
      from_send.push_back(std::chrono::duration<double, std::milli>(t2 - t0).count());
    }
    return std::pair{stats(from_reply), stats(from_send)};
  };

  auto print = [&](const char* label, std::pair<Stats, Stats> s) {
    std::printf("%-34s  2xx→map: median %6.3f ms  p90 %6.3f  p99 %6.3f  max %7.3f | send→map median %6.3f p99 %6.3f\n",
                label, s.first.median, s.first.p90, s.first.p99, s.first.max, s.second.median, s.second.p99);
  };

  std::printf("propagation over %d changes each (targets: median <= 2 ms, p99 <= 20 ms at 100 agents)\n",
              changes);
  // The simulated agents' apps, registered once.
  for (int i = 1; i < agents; ++i) must(api, "POST", "/app", {{"guid", "sim-" + std::to_string(i)}});
  int next_change = 0;
  for (const std::string& mode : modes) {
    if (mode != modes.front()) start_agent(mode);
    std::printf("-- watch: %s\n", mode.c_str());
    auto one = measure(next_change);
    next_change += changes;
    print("1 agent", one);

    // 99 simulated agents, each with its own watch connection in this mode.
    std::vector<std::unique_ptr<SimSink>> sinks;
    std::vector<std::unique_ptr<wiretag::agent::ServerLink>> links;
    for (int i = 1; i < agents; ++i) {
      sinks.push_back(std::make_unique<SimSink>("sim-" + std::to_string(i)));
      wiretag::agent::LinkOptions lo;
      lo.server = *wiretag::http::parse_base_url(server_url);
      lo.token = token;
      lo.cell = "sim-" + std::to_string(i);
      lo.stream = mode == "stream";
      links.push_back(std::make_unique<wiretag::agent::ServerLink>(lo, *sinks.back()));
      links.back()->start();
    }
    for (int i = 0; i < 2000; ++i) {
      bool all = std::all_of(links.begin(), links.end(), [](auto& l) { return l->synced() && l->connected(); });
      if (all) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // every watch parked on the server
    auto many = measure(next_change);
    next_change += changes;
    char label[64];
    std::snprintf(label, sizeof label, "%d agents (1 real, %d simulated)", agents, agents - 1);
    print(label, many);
    uint64_t replies = 0;
    for (auto& l : links) replies += l->watch_replies();
    std::printf("%34s  simulated agents handled %llu watch replies (%.1f per change each)\n", "",
                static_cast<unsigned long long>(replies),
                links.empty() ? 0.0 : static_cast<double>(replies) / links.size() / changes);
    for (auto& l : links) l->stop();
  }

  if (resync_rules > 0) {
    // Many rules into one app, as named policies of 5,000 rules (100 sources x N tcp ports).
    must(api, "POST", "/app", {{"guid", "big"}});
    const int sources = 100, per_source = std::max(1, resync_rules / sources);
    for (int s = 0; s < sources; ++s) must(api, "POST", "/app", {{"guid", "bsrc-" + std::to_string(s)}});
    int total = 0;
    json rules = json::array();
    int policy = 0;
    auto flush = [&] {
      if (rules.empty()) return;
      json created = must(api, "POST", "/v1/accounts/default/policies",
                          {{"name", "bulk-" + std::to_string(policy++)}, {"rules", rules}});
      // Named policies apply where the PAP deploys them (SPEC §4.4): to the cells' group.
      must(pap, "POST", "/policy/pap/v1/pdps/deployments/batch",
           {{"groups",
             {{{"name", "defaultGroup"},
               {"deploymentSubgroups",
                {{{"pdpType", "tc"},
                  {"action", "POST"},
                  {"policies", {{{"name", created["result"]["id"]}, {"version", "1.0.0"}}}}}}}}}}});
      rules = json::array();
    };
    for (int s = 0; s < sources; ++s)
      for (int p = 0; p < per_source; ++p) {
        rules.push_back({{"source", "bsrc-" + std::to_string(s)}, {"destination", "big"}, {"protocol", "tcp"},
                         {"ports", {{"start", 1000 + p}, {"end", 1000 + p}}}});
        ++total;
        if (rules.size() == 5000) flush();
      }
    flush();
    auto t0 = Clock::now();
    plugin = plugin_client();  // the agent restarted since
    auto view = must(*plugin, "POST", "/whitelist",
                     {{"destination_device", {{"namespace", "/run/netns/" + netns}, {"interface_name", "wtp1"}}},
                      {"app_guid", "big"}});
    double follow_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    std::printf("full resync of %d rules (%zu reported): Plugin API follow (query + compile + atomic replace) %.0f ms\n",
                total, view.value("rules", size_t{0}), follow_ms);
    // A restarted agent: from exec to healthy (adopt + resync of everything it follows).
    auto t1 = Clock::now();
    start_agent(modes.back());
    std::printf("agent restart → healthy with %d + %d followed rules: %.0f ms\n", total, next_change,
                std::chrono::duration<double, std::milli>(Clock::now() - t1).count());
  }
  return 0;
}
