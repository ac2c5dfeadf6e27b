// The cell's drop and audit events: the one reader of the datapath's ring buffer. A thread
// polls it, names each event (event_naming.h) and fans it out to every subscriber — streamed
// readers of GET /v1/events and the forwarder to the server — each with its own filter and
// bounded queue (events/event_fanout.h). It also reports the events the datapath lost to its
// rate limit ({"type":"lost","cause":"rate_limit"}) and sends heartbeat lines.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "agent/event_naming.h"
#include "datapath/datapath.h"
#include "datapath/event_losses.h"
#include "events/event_fanout.h"
#include "http/router.h"

namespace wiretag::agent {

struct EventHubOptions {
  std::chrono::milliseconds poll{100};                // also how often losses are looked at
  std::chrono::seconds heartbeat{15};                 // a line to every idle stream
  size_t reader_budget = events::kReaderBudgetBytes;  // bytes queued per streamed reader
};

class EventHub {
 public:
  EventHub(datapath::Datapath& dp, EventNamer& namer, std::string cell, EventHubOptions options);
  ~EventHub();
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  Result<void> start();
  void stop();

  events::EventFanout& fanout() { return fanout_; }
  const EventHubOptions& options() const { return options_; }
  uint64_t events() const { return events_; }
  uint64_t lost() const { return lost_; }

 private:
  void run();

  datapath::Datapath& dp_;
  EventNamer& namer_;
  std::string cell_;
  EventHubOptions options_;
  events::EventFanout fanout_;
  std::optional<datapath::EventLossCounter> losses_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> events_{0}, lost_{0};
};

// GET /v1/events?app=&reason=&verdict=: the hub's events as NDJSON lines, streamed.
void add_events_route(http::Router& router, EventHub& hub);

}  // namespace wiretag::agent
