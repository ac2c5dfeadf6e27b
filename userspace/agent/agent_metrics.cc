#include "agent/agent_metrics.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <tuple>

namespace wiretag::agent {
namespace {

const char* direction_name(uint8_t d) {
  switch (d) {
    case WT_DIR_STAMP:
      return "stamp";
    case WT_DIR_ENFORCE:
      return "enforce";
    case WT_DIR_GATE:
      return "gate";
    default:
      return "unknown";
  }
}

// Every counter row of every endpoint, summed by (direction, reason, verdict).
void packets(std::vector<prometheus::MetricFamily>& out, const datapath::Datapath& dp) {
  using Key = std::tuple<uint8_t, uint8_t, uint8_t>;
  std::map<Key, wt_counter> sums;
  for (const datapath::CounterRow& row : dp.counters()) {
    wt_counter& sum = sums[Key{row.key.direction, row.key.reason, row.key.verdict}];
    sum.packets += row.total.packets;
    sum.bytes += row.total.bytes;
  }
  auto family = [](const char* name, const char* help) {
    prometheus::MetricFamily f;
    f.name = name;
    f.help = help;
    f.type = prometheus::MetricType::Counter;
    return f;
  };
  auto packets = family("wiretag_datapath_packets_total",
                        "Packets the datapath programs handled, by direction (stamp: leaving a "
                        "container, enforce: entering one), reason and verdict");
  auto bytes = family("wiretag_datapath_bytes_total",
                      "Bytes of those packets, by direction, reason and verdict");
  for (const auto& [key, sum] : sums) {
    const char* reason = datapath::reason_name(std::get<1>(key));
    prometheus::ClientMetric m;
    m.label = {{"direction", direction_name(std::get<0>(key))},
               {"reason", reason ? reason : "unknown"},
               {"verdict", std::get<2>(key) == WT_VERDICT_DROP ? "drop" : "pass"}};
    m.counter.value = static_cast<double>(sum.packets);
    packets.metric.push_back(m);
    m.counter.value = static_cast<double>(sum.bytes);
    bytes.metric.push_back(std::move(m));
  }
  out.push_back(std::move(packets));
  out.push_back(std::move(bytes));
}

void maps(std::vector<prometheus::MetricFamily>& out, const datapath::Datapath& dp) {
  size_t src = 0, port = 0;
  const std::vector<datapath::Endpoint> endpoints = dp.endpoints();
  for (const datapath::Endpoint& e : endpoints) {
    src += e.rules_src_entries;
    port += e.rules_port_entries;
  }
  auto entries = http::gauge_family(
      "wiretag_policy_map_entries",
      "Entries of the rules in force in each policy map (src: by source tag, port: port rules)");
  http::add_sample(entries, {{"map", "src"}}, static_cast<double>(src));
  http::add_sample(entries, {{"map", "port"}}, static_cast<double>(port));
  out.push_back(std::move(entries));
  auto capacity = http::gauge_family(
      "wiretag_policy_map_capacity",
      "Entries each policy map can hold, both rule generations together (--max-policy-entries)");
  const double max = dp.options().max_policy_entries;
  http::add_sample(capacity, {{"map", "src"}}, max);
  http::add_sample(capacity, {{"map", "port"}}, max);
  out.push_back(std::move(capacity));
  auto count =
      http::gauge_family("wiretag_endpoints", "Devices (container veths) the datapath enforces on");
  http::add_sample(count, {}, static_cast<double>(endpoints.size()));
  out.push_back(std::move(count));
  auto slots = http::gauge_family("wiretag_endpoints_capacity",
                                  "Endpoints the maps can hold (--max-endpoints)");
  http::add_sample(slots, {}, dp.options().max_endpoints);
  out.push_back(std::move(slots));
}

void lag(std::vector<prometheus::MetricFamily>& out, const ServerLink& link) {
  auto family = http::gauge_family(
      "wiretag_watch_lag_revisions",
      "Revisions the server's change log is ahead of what this cell has applied (the newest "
      "revision the watch named minus the applied one)");
  http::add_sample(
      family, {},
      static_cast<double>(std::max<int64_t>(0, link.server_revision() - link.revision())));
  out.push_back(std::move(family));
}

prometheus::MetricFamily counter(std::string name, std::string help, double value) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = prometheus::MetricType::Counter;
  prometheus::ClientMetric m;
  m.counter.value = value;
  f.metric.push_back(std::move(m));
  return f;
}

// Which server the link holds (--server lists several), how often it moved, how often it
// fetched everything again.
void servers(std::vector<prometheus::MetricFamily>& out, const ServerLink& link) {
  auto held = http::gauge_family("wiretag_server_held",
                                 "1 for the policy server this agent follows now, 0 for the "
                                 "other --server URLs");
  const size_t index = link.servers().held().index;
  for (size_t i = 0; i < link.servers().size(); ++i)
    http::add_sample(held, {{"server", server_name(link.servers().servers()[i])}},
                     i == index ? 1 : 0);
  out.push_back(std::move(held));
  out.push_back(counter("wiretag_server_failovers_total",
                        "Moves from a failed policy server to the next --server URL",
                        static_cast<double>(link.servers().moves())));
  out.push_back(counter("wiretag_resyncs_total",
                        "Full resyncs: every followed app's rules fetched again (start, store "
                        "change, revision gap, periodic, asked for)",
                        static_cast<double>(link.resyncs())));
}

}  // namespace

AgentMetrics::AgentMetrics(http::Metrics& metrics, const datapath::Datapath& dp,
                           const ServerLink& link)
    : propagation_(prometheus::BuildHistogram()
                       .Name("wiretag_policy_propagation_seconds")
                       .Help("Time from the server committing a change to its rules being in "
                             "force on this cell (server and cell wall clocks)")
                       .Register(metrics.registry())
                       .Add({}, http::latency_buckets())) {
  metrics.add_scrape_hook([&dp, &link](auto& out) {
    packets(out, dp);
    maps(out, dp);
    lag(out, link);
    servers(out, link);
  });
}

void AgentMetrics::in_force(int64_t committed_at_ms) {
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  propagation_.Observe(static_cast<double>(std::max<int64_t>(0, now_ms - committed_at_ms)) / 1000);
}

}  // namespace wiretag::agent
