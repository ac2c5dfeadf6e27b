// Prometheus metrics of a wiretag process (docs/metrics.md), served as text at GET /metrics by
// the process's own Beast listener: prometheus-cpp's registry and text serializer only, no
// second web server. Counters and histograms live in the registry and move as things happen;
// gauges are read at scrape time by scrape hooks, so nothing on a hot path keeps them.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "http/router.h"

namespace wiretag::http {

// Labels of one sample, name → value.
using MetricLabels = std::map<std::string, std::string>;

// A family read at scrape time: gauge(...) then add(...) for each sample.
prometheus::MetricFamily gauge_family(std::string name, std::string help);
void add_sample(prometheus::MetricFamily& family, const MetricLabels& labels, double value);

class Metrics {
 public:
  // Appends the families it reads now; called on the scraping thread, concurrently with
  // anything else the process does.
  using ScrapeHook = std::function<void(std::vector<prometheus::MetricFamily>&)>;

  Metrics();
  ~Metrics();

  prometheus::Registry& registry() { return *registry_; }
  // Before serving.
  void add_scrape_hook(ScrapeHook hook) { hooks_.push_back(std::move(hook)); }

  // Counts every request the router answers (wiretag_http_requests_total) and times it
  // (wiretag_http_request_duration_seconds), by the API and route pattern it matched.
  void observe(Router& router);

  // The text exposition format (version 0.0.4) of everything now.
  std::string scrape() const;

 private:
  struct RouteSeries;
  RouteSeries& series(const Outcome& outcome);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& durations_;
  std::vector<ScrapeHook> hooks_;
  // (api, route, method) → its histogram and its counters by status: found without building
  // label maps on every request.
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<RouteSeries>, std::less<>> series_;
};

// GET /metrics on `router`, answered with m.scrape(). `authorize` (may be empty) refuses a
// request by returning an error.
void add_metrics_route(Router& router, const Metrics& m,
                       std::function<Result<void>(const Request&)> authorize = {});

// Seconds buckets from 1 ms to 60 s: request durations and policy propagation.
const std::vector<double>& latency_buckets();

}  // namespace wiretag::http
