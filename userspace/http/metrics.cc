#include "http/metrics.h"

#include <prometheus/gauge.h>
#include <prometheus/text_serializer.h>

#include <sstream>

#include "wiretag/version.h"

namespace wiretag::http {

const std::vector<double>& latency_buckets() {
  static const std::vector<double> buckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                              0.5,   1,      2.5,   5,    10,    30,   60};
  return buckets;
}

prometheus::MetricFamily gauge_family(std::string name, std::string help) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = prometheus::MetricType::Gauge;
  return f;
}

void add_sample(prometheus::MetricFamily& family, const MetricLabels& labels, double value) {
  prometheus::ClientMetric m;
  for (const auto& [name, v] : labels) m.label.push_back({name, v});
  m.gauge.value = value;
  family.metric.push_back(std::move(m));
}

struct Metrics::RouteSeries {
  MetricLabels labels;
  prometheus::Histogram* duration = nullptr;
  std::map<unsigned, prometheus::Counter*> by_status;  // under Metrics::mu_
};

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(prometheus::BuildCounter()
                    .Name("wiretag_http_requests_total")
                    .Help("HTTP requests answered, by API, route pattern, method and status code")
                    .Register(*registry_)),
      durations_(prometheus::BuildHistogram()
                     .Name("wiretag_http_request_duration_seconds")
                     .Help("Time from routing a request to its answer (a stream: to its head), "
                           "by API, route pattern and method")
                     .Register(*registry_)) {
  // Constant 1, labelled with this build: joins any series to the version that produced it.
  prometheus::BuildGauge()
      .Name("wiretag_build_info")
      .Help("Always 1; the labels name this build (version as --version prints it)")
      .Register(*registry_)
      .Add({{"version", WIRETAG_VERSION}, {"revision", WIRETAG_GIT_DESCRIBE}})
      .Set(1);
}

Metrics::~Metrics() = default;

Metrics::RouteSeries& Metrics::series(const Outcome& o) {
  std::string key;
  key.append(o.api).append(1, '\0').append(o.route).append(1, '\0').append(method_name(o.method));
  auto it = series_.find(key);
  if (it != series_.end()) return *it->second;
  auto s = std::make_unique<RouteSeries>();
  s->labels = {{"api", std::string(o.api)},
               {"route", std::string(o.route)},
               {"method", std::string(method_name(o.method))}};
  s->duration = &durations_.Add(s->labels, latency_buckets());
  return *series_.emplace(std::move(key), std::move(s)).first->second;
}

void Metrics::observe(Router& router) {
  router.observe([this](const Outcome& o) {
    const double seconds = std::chrono::duration<double>(o.elapsed).count();
    prometheus::Counter* counter;
    prometheus::Histogram* duration;
    {
      std::lock_guard lock(mu_);
      RouteSeries& s = series(o);
      duration = s.duration;
      auto& c = s.by_status[o.status];
      if (!c) {
        MetricLabels labels = s.labels;
        labels["code"] = std::to_string(o.status);
        c = &requests_.Add(labels);
      }
      counter = c;
    }
    counter->Increment();
    duration->Observe(seconds);
  });
}

std::string Metrics::scrape() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  for (const ScrapeHook& hook : hooks_) hook(families);
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

void add_metrics_route(Router& router, const Metrics& m,
                       std::function<Result<void>(const Request&)> authorize) {
  router.get(
      "/metrics", [&m, authorize = std::move(authorize)](const Request& req) -> Result<Reply> {
        if (authorize)
          if (auto r = authorize(req); !r) return r.error();
        Reply reply{200, nullptr};
        reply.headers.emplace_back("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        reply.serialized = std::make_shared<const std::string>(m.scrape());
        return reply;
      });
}

}  // namespace wiretag::http
