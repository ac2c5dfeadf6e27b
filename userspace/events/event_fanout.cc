#include "events/event_fanout.h"

#include <vector>

namespace wiretag::events {

using nlohmann::json;

namespace {

std::shared_ptr<const std::string> line_of(const json& j) {
  return std::make_shared<const std::string>(
      j.dump(-1, ' ', false, json::error_handler_t::replace));
}

// The event without the names of its other side (an account-scoped reader of the server).
json redacted(json j, const DropEvent& e) {
  json& other = j[&e.endpoint() == &e.source ? "destination" : "source"];
  other.erase("app");
  other.erase("account");
  return j;
}

}  // namespace

EventSink::Offer StreamSink::offer(const std::shared_ptr<const std::string>& line) {
  if (lines_->ended()) return Offer::Gone;
  const size_t queued = lines_->queued_bytes();
  if (queued > 0 && queued + line->size() + 1 > budget_) return Offer::Full;
  return lines_->push(line) ? Offer::Taken : Offer::Gone;
}

uint64_t EventFanout::subscribe(EventFilter filter, std::shared_ptr<EventSink> sink,
                                bool heartbeats) {
  std::lock_guard lock(mu_);
  const uint64_t id = next_id_++;
  readers_[id] = Reader{std::move(filter), std::move(sink), heartbeats, {}};
  return id;
}

void EventFanout::unsubscribe(uint64_t id) {
  std::lock_guard lock(mu_);
  readers_.erase(id);
}

size_t EventFanout::readers() const {
  std::lock_guard lock(mu_);
  return readers_.size();
}

bool EventFanout::deliver(Reader& r, const std::shared_ptr<const std::string>& line) {
  while (!r.lost.empty()) {
    auto it = r.lost.begin();
    auto report = line_of(lost_json(it->second, it->first.first, unix_now_ns(), it->first.second));
    const EventSink::Offer o = r.sink->offer(report);
    if (o == EventSink::Offer::Gone) return false;
    if (o == EventSink::Offer::Full) {
      r.lost[{"slow_reader", ""}]++;
      return true;
    }
    r.lost.erase(it);
  }
  if (!line) return true;
  const EventSink::Offer o = r.sink->offer(line);
  if (o == EventSink::Offer::Full) r.lost[{"slow_reader", ""}]++;
  return o != EventSink::Offer::Gone;
}

void EventFanout::publish(const DropEvent& e) {
  ++published_;
  std::shared_ptr<const std::string> line;  // made once, for the first reader that wants it
  std::optional<json> doc;
  std::lock_guard lock(mu_);
  for (auto it = readers_.begin(); it != readers_.end();) {
    Reader& r = it->second;
    bool keep = true;
    if (r.filter.matches(e)) {
      if (!doc) doc = to_json(e);
      if (r.filter.redacts(e)) {
        keep = deliver(r, line_of(redacted(*doc, e)));
      } else {
        if (!line) line = line_of(*doc);
        keep = deliver(r, line);
      }
    }
    it = keep ? std::next(it) : readers_.erase(it);
  }
}

void EventFanout::publish_lost(uint64_t count, std::string_view cause, std::string_view cell) {
  if (count == 0) return;
  std::lock_guard lock(mu_);
  for (auto it = readers_.begin(); it != readers_.end();) {
    Reader& r = it->second;
    bool keep = true;
    if (r.filter.matches_cell(cell)) {
      r.lost[{std::string(cause), std::string(cell)}] += count;
      keep = deliver(r, nullptr);
    }
    it = keep ? std::next(it) : readers_.erase(it);
  }
}

void EventFanout::heartbeat() {
  auto line = line_of(heartbeat_json(unix_now_ns()));
  std::lock_guard lock(mu_);
  for (auto it = readers_.begin(); it != readers_.end();) {
    Reader& r = it->second;
    bool keep = r.heartbeats ? deliver(r, line) : deliver(r, nullptr);
    it = keep ? std::next(it) : readers_.erase(it);
  }
}

}  // namespace wiretag::events
