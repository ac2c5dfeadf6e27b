// Every cell's drop and audit events in one stream (api/events.yaml): agents push what their
// event hub names (POST /internal/v1/cells/:name/events, as that cell), and readers follow
//   GET /v1/events?cell=&app=&reason=&verdict=
// as NDJSON. Nothing is stored: a reader sees the events that arrive while it is connected.
// An account-scoped token sees only events whose endpoint app (the destination of a packet
// dropped into a container, the source of one dropped on its way out) is in its accounts,
// and not the names of the other side's app when that is another account's.
// Also POST /internal/v1/tags/query, which the agents name source tags with.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/policy_graph.h"
#include "events/event_fanout.h"
#include "http/router.h"
#include "server/auth.h"
#include "core/ports/store.h"

namespace wiretag {

// The server's fan-out of the cells' events, and its heartbeat lines.
class ServerEvents {
 public:
  explicit ServerEvents(std::chrono::seconds heartbeat = std::chrono::seconds(15));
  ~ServerEvents();
  ServerEvents(const ServerEvents&) = delete;
  ServerEvents& operator=(const ServerEvents&) = delete;

  events::EventFanout& fanout() { return fanout_; }
  void stop();

 private:
  events::EventFanout fanout_;
  std::chrono::seconds heartbeat_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

// POST /internal/v1/cells/:name/events and POST /internal/v1/tags/query.
void add_event_internal_routes(http::Router& router, ServerEvents& events, Store& store,
                               const PolicyGraph& graph, Authenticator& auth);
// GET /v1/events.
void add_event_routes(http::Router& router, ServerEvents& events, Authenticator& auth);

}  // namespace wiretag
