#include "agent/event_hub.h"

#include "common/log.h"

namespace wiretag::agent {

EventHub::EventHub(datapath::Datapath& dp, EventNamer& namer, std::string cell,
                   EventHubOptions options)
    : dp_(dp), namer_(namer), cell_(std::move(cell)), options_(options) {}

EventHub::~EventHub() { stop(); }

Result<void> EventHub::start() {
  auto r = dp_.on_event([this](const wt_event& ev) {
    ++events_;
    fanout_.publish(namer_.name(ev));
  });
  if (!r) return r.error();
  losses_.emplace(dp_.map_fd(WT_MAP_EVENT_RATELIMIT));
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
  return Ok();
}

void EventHub::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void EventHub::run() {
  auto next_heartbeat = std::chrono::steady_clock::now() + options_.heartbeat;
  bool warned = false;
  while (!stopping_) {
    if (auto n = dp_.poll_events(static_cast<int>(options_.poll.count())); !n) {
      if (!warned) spdlog::warn("events: {}: {}", n.error().code, n.error().message);
      warned = true;
      std::this_thread::sleep_for(options_.poll);
    }
    if (const uint64_t lost = losses_->take()) {
      lost_ += lost;
      fanout_.publish_lost(lost, "rate_limit", cell_);
    }
    if (const auto now = std::chrono::steady_clock::now(); now >= next_heartbeat) {
      fanout_.heartbeat();
      next_heartbeat = now + options_.heartbeat;
    }
  }
}

void add_events_route(http::Router& router, EventHub& hub) {
  router.get("/v1/events", [&hub](const http::Request& req) -> Result<http::Reply> {
    WT_TRY(filter, events::parse_event_filter(req.query, false));
    const size_t budget = hub.options().reader_budget;
    auto lines = std::make_shared<http::LineStream>(budget * 2);
    // A heartbeat first: the reader knows the stream is live before any event comes.
    lines->push(
        std::make_shared<const std::string>(events::heartbeat_json(events::unix_now_ns()).dump()));
    hub.fanout().subscribe(std::move(*filter), std::make_shared<events::StreamSink>(lines, budget));
    http::Reply reply{200, nullptr};
    reply.headers.emplace_back("Content-Type", "application/x-ndjson");
    reply.lines = std::move(lines);
    return reply;
  });
}

}  // namespace wiretag::agent
