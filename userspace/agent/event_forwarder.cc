#include "agent/event_forwarder.h"

#include "common/log.h"
#include "events/drop_event.h"
#include "wiretag/error_kind.h"

namespace wiretag::agent {

EventForwarder::EventForwarder(EventForwarderOptions options)
    : options_(std::move(options)),
      client_(options_.servers ? options_.servers : ServerPool::single(options_.server),
              options_.token, options_.tls) {}

EventForwarder::~EventForwarder() { stop(); }

events::EventSink::Offer EventForwarder::offer(const std::shared_ptr<const std::string>& line) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Offer::Gone;
    if (queue_.size() >= options_.max_queued) return Offer::Full;
    queue_.push_back(line);
  }
  cv_.notify_one();
  return Offer::Taken;
}

void EventForwarder::start() {
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void EventForwarder::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  client_.cancel();
  if (thread_.joinable()) thread_.join();
}

void EventForwarder::run() {
  const std::string target = "/internal/v1/cells/" + options_.cell + "/events";
  bool warned = false;
  for (;;) {
    std::string body = "{\"events\":[";
    size_t n = 0, events = 0;  // lines in the batch; of them, the queue's
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      // Let a burst gather into one request.
      cv_.wait_for(lock, options_.interval, [this] { return stopping_; });
      if (stopping_) return;
      if (unsent_) {
        body += events::lost_json(unsent_, "server_unreachable", events::unix_now_ns()).dump();
        n = 1;
      }
      while (!queue_.empty() && n < options_.max_batch) {
        if (n++) body += ',';
        ++events;
        body += *queue_.front();
        queue_.pop_front();
      }
    }
    body += "]}";
    auto res = client_.get().request("POST", target, body, std::chrono::seconds(5));
    const bool taken = res && res->status == 200;
    {
      std::lock_guard lock(mu_);
      if (taken) {
        unsent_ = 0;
      } else {
        unsent_ += events;
      }
    }
    if (taken) {
      sent_ += events;
      warned = false;
      continue;
    }
    if (res && res->status != 200) {
      if (!warned) spdlog::warn("events to the server: HTTP {} {}", res->status, res->error_code());
    } else if (!res && !is(res.error(), ErrorKind::Cancelled) && !warned) {
      spdlog::warn("events to the server: {}: {}", res.error().code, res.error().message);
    }
    warned = true;
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; })) return;
  }
}

}  // namespace wiretag::agent
