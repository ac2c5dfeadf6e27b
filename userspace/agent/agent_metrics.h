// The agent's own series (docs/metrics.md): datapath packet counters (the per-CPU counters
// summed, read at scrape time), policy map fill, endpoints, watch lag, and the histogram of
// policy propagation (server commit → rule in force on this cell).
#pragma once

#include <prometheus/histogram.h>

#include <cstdint>

#include "agent/server_link.h"
#include "datapath/datapath.h"
#include "http/metrics.h"

namespace wiretag::agent {

class AgentMetrics {
 public:
  AgentMetrics(http::Metrics& metrics, const datapath::Datapath& dp, const ServerLink& link);

  // A change the server committed at `committed_at_ms` (its wall clock, unix ms) is in force
  // now (LinkOptions::in_force). A negative difference (clocks apart) counts as 0.
  void in_force(int64_t committed_at_ms);

 private:
  prometheus::Histogram& propagation_;
};

}  // namespace wiretag::agent
