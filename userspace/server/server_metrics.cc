#include "server/server_metrics.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <utility>

#include "common/log.h"

namespace wiretag {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// A scrape that cannot read the store leaves the store's series out (and says so once in the
// log line); the rest of the scrape still answers.
void tags(std::vector<prometheus::MetricFamily>& out, Store& store, const TagSpace& space) {
  auto apps = store.read<int64_t>([](StoreTx& tx) { return tx.count_apps(); });
  if (!apps) {
    spdlog::warn("metrics: tags: {}", apps.error().message);
  } else {
    auto allocated =
        http::gauge_family("wiretag_tags_allocated", "Wire tags held by a registered app");
    http::add_sample(allocated, {}, static_cast<double>(*apps));
    out.push_back(std::move(allocated));
  }
  auto capacity = http::gauge_family("wiretag_tags_capacity",
                                     "Wire tags the tag length allows (tag 0 is never allocated)");
  http::add_sample(capacity, {}, static_cast<double>(space.max_tag()));
  out.push_back(std::move(capacity));
}

void cell_counts(std::vector<prometheus::MetricFamily>& out, const CellRegistry& registry) {
  std::map<std::pair<std::string, std::string>, int> counts;
  for (const Cell& c : registry.list())
    ++counts[{lower(c.report.state), c.expired ? "expired" : lower(c.report.healthy)}];
  auto cells = http::gauge_family(
      "wiretag_cells",
      "Cells (agents) the server knows, by PDP state and health (expired: no heartbeat for 3 "
      "intervals)");
  for (const auto& [key, n] : counts)
    http::add_sample(cells, {{"state", key.first}, {"health", key.second}}, n);
  out.push_back(std::move(cells));
}

void deployments(std::vector<prometheus::MetricFamily>& out, Pap& pap) {
  auto status = pap.policy_status(std::nullopt, std::nullopt, std::nullopt);
  if (!status) {
    spdlog::warn("metrics: deployments: {}", status.error().message);
    return;
  }
  std::map<std::string, int> counts = {{"success", 0}, {"failure", 0}, {"waiting", 0}};
  for (const PolicyStatus& s : *status) ++counts[lower(to_string(s.state))];
  auto family = http::gauge_family(
      "wiretag_deployments",
      "Deployed policy versions per cell, by status: success (the cell holds it), failure (it "
      "could not apply it), waiting (not reported yet)");
  for (const auto& [name, n] : counts) http::add_sample(family, {{"status", name}}, n);
  out.push_back(std::move(family));
}

}  // namespace

void add_server_metrics(http::Metrics& metrics, Store& store, const PolicyGraph& graph,
                        const CellRegistry& cells, Pap& pap) {
  metrics.add_scrape_hook([&store, &graph, &cells, &pap](auto& out) {
    tags(out, store, graph.tags());
    cell_counts(out, cells);
    deployments(out, pap);
  });
}

void add_server_metrics_route(http::Router& router, const http::Metrics& metrics,
                              const Authenticator& auth) {
  router.api("metrics");
  http::add_metrics_route(router, metrics, [&auth](const http::Request& req) -> Result<void> {
    if (auto who = auth.authenticate_metrics(req); !who) return who.error();
    return Ok();
  });
}

}  // namespace wiretag
