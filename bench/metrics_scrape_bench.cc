// Scrape time of an agent's GET /metrics (docs/metrics.md), on the real wiretag-agent with a
// real server: first with one endpoint and 10 rules, then the same agent grown to 1,000
// endpoints (veths in a namespace of its own) and 1,000,000 rules (1,000 static source tags
// on each endpoint, through the Plugin API), side by side in one run. A scrape reads every
// endpoint's per-CPU counters and the maps' fill, so this is where its cost would show.
// Prints median / p99 / max scrape time and the body size beside Prometheus' default scrape
// timeout (10 s) and the target. Run as root: ./wiretag-bench-metrics-scrape
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
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.h"
#include "http/client.h"

namespace {

namespace fs = std::filesystem;
using wiretag::bench::Child;
using wiretag::bench::die;
using wiretag::bench::sh;
using wiretag::bench::spawn;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

void must(wiretag::http::Client& c, const char* method, const std::string& target,
          const json& body) {
  auto r = c.request(method, target, body.dump(), std::chrono::seconds(120));
  if (!r) die(std::string(method) + " " + target + ": " + r.error().message);
  if (r->status >= 300)
    die(std::string(method) + " " + target + ": HTTP " + std::to_string(r->status) + " " +
        r->body.substr(0, 300));
}

std::string hex_tag(int tag) {
  char out[16];
  std::snprintf(out, sizeof out, "%04x", tag);
  return out;
}

struct Scrapes {
  double median_ms, p99_ms, max_ms;
  size_t bytes;
  long agent_rss_kb;
};

Scrapes scrape(wiretag::http::Client& agent, int n, pid_t pid) {
  std::vector<double> ms;
  size_t bytes = 0;
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    auto r = agent.request("GET", "/metrics", "", std::chrono::seconds(60));
    double took = wiretag::bench::seconds_since(t0) * 1e3;
    if (!r || r->status != 200) die("GET /metrics failed");
    if (r->body.find("wiretag_datapath_packets_total") == std::string::npos)
      die("the scrape has no datapath counters");
    bytes = r->body.size();
    ms.push_back(took);
  }
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))]; };
  return {at(0.5), at(0.99), ms.back(), bytes, wiretag::bench::status_kb(pid, "VmRSS")};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"wiretag-bench-metrics-scrape: GET /metrics of a real agent with 1 endpoint and "
               "10 rules, then with 1,000 endpoints and 1,000,000 rules. Needs root."};
  int endpoints = 1000;
  int sources = 1000;
  int scrapes = 30;
  cli.add_option("--endpoints", endpoints, "endpoints (veths) in the large case")->capture_default_str();
  cli.add_option("--sources", sources, "static source tags per endpoint (rules = endpoints × sources)")
      ->capture_default_str();
  cli.add_option("--scrapes", scrapes, "scrapes measured per case")->capture_default_str();
  CLI11_PARSE(cli, argc, argv);
  if (endpoints < 1 || endpoints > 4000 || sources < 10 || sources > 60000)
    die("--endpoints 1..4000, --sources 10..60000");

  const std::string run = "wtms" + std::to_string(::getpid());
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
  {
    std::ofstream batch(dir / "links.batch");
    for (int i = 0; i < endpoints; ++i)
      batch << "link add e" << i << " type veth peer name p" << i << "\nlink set e" << i << " up\n";
  }
  if (sh("ip netns add " + netns + " && ip -n " + netns + " -batch " + (dir / "links.batch").string()) != 0)
    die("cannot create the namespace and its veths (root needed)");

  Child server, agent;
  if (!spawn(server, WIRETAG_SERVER_BIN,
             {"--listen", "127.0.0.1:0", "--data-dir", (dir / "server").string(), "--log-level", "warn"},
             dir / "server.log"))
    die("server did not start");
  std::string token;
  std::getline(std::ifstream(dir / "server" / "admin-token"), token);
  const std::string server_url = "http://127.0.0.1:" + std::to_string(server.port);
  {
    wiretag::http::Client admin(*wiretag::http::parse_base_url(server_url), token);
    auto r = admin.request("POST", "/v1/tokens",
                           json{{"scopes", json::array({"cell"})}, {"cell", "bench-cell"}}.dump(),
                           std::chrono::seconds(10));
    if (!r || r->status != 201) die("cannot issue the cell token");
    std::ofstream(dir / "cell-token") << json::parse(r->body)["token"].get<std::string>() << "\n";
  }
  if (!spawn(agent, WIRETAG_AGENT_BIN,
             {"--server", server_url, "--cell", "bench-cell", "--listen", "127.0.0.1:0", "--pin-dir",
              pin_dir, "--state-dir", (dir / "agent").string(), "--token-file",
              (dir / "cell-token").string(), "--max-endpoints", std::to_string(std::max(endpoints, 64)),
              "--log-level", "warn", "--plugin-tcp", "--plugin-token-file", (dir / "cell-token").string()},
             dir / "agent.log"))
    die("agent did not start");
  std::string cell_token;
  std::getline(std::ifstream(dir / "cell-token"), cell_token);
  const std::string agent_url = "http://127.0.0.1:" + std::to_string(agent.port);
  wiretag::http::Client plugin(*wiretag::http::parse_base_url(agent_url), cell_token);
  wiretag::http::Client metrics(*wiretag::http::parse_base_url(agent_url));

  auto whitelist = [&](int endpoint, int n) {
    json tags = json::array();
    for (int t = 1; t <= n; ++t) tags.push_back(hex_tag(t));
    must(plugin, "POST", "/whitelist",
         {{"destination_device",
           {{"namespace", "/run/netns/" + netns}, {"interface_name", "e" + std::to_string(endpoint)}}},
          {"wire_bytes", hex_tag(60001 + endpoint % 4000)},
          {"allowed_source_wire_bytes", tags}});
  };

  std::printf("machine: %s\n", wiretag::bench::machine_line().c_str());
  whitelist(0, 10);
  Scrapes small = scrape(metrics, scrapes, agent.pid);
  auto t0 = Clock::now();
  for (int e = 0; e < endpoints; ++e) whitelist(e, sources);
  double fill_s = wiretag::bench::seconds_since(t0);
  Scrapes large = scrape(metrics, scrapes, agent.pid);
  const long rules = static_cast<long>(endpoints) * sources;

  std::printf("\nGET /metrics of the agent, %d scrapes per case (filled in %.1f s through the Plugin API)\n",
              scrapes, fill_s);
  std::printf("%-34s %10s %10s %10s %10s %12s\n", "case", "median ms", "p99 ms", "max ms", "body KiB",
              "agent RSS MiB");
  auto row = [](const char* name, const Scrapes& s) {
    std::printf("%-34s %10.2f %10.2f %10.2f %10.1f %12.1f\n", name, s.median_ms, s.p99_ms, s.max_ms,
                s.bytes / 1024.0, s.agent_rss_kb / 1024.0);
  };
  row("1 endpoint, 10 rules", small);
  char name[64];
  std::snprintf(name, sizeof name, "%d endpoints, %ld rules", endpoints, rules);
  row(name, large);
  std::printf("target: p99 under 100 ms at 1,000 endpoints and 1M rules (Prometheus' default "
              "scrape timeout is 10 s): %s\n",
              large.p99_ms < 100 ? "met" : "NOT met");
  return 0;
}
