// One producer's events to any number of readers, each with its own filter and a bounded
// queue. A reader that does not keep up loses events, never slows the producer or the other
// readers, and is told how many it lost ({"type":"lost","cause":"slow_reader"}) before its
// next line. Every line is serialized once, however many readers take it. The agent's event
// hub and the server's aggregated stream both fan out through this.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "events/drop_event.h"
#include "http/line_stream.h"

namespace wiretag::events {

class EventSink {
 public:
  enum class Offer {
    Taken,
    Full,  // no room now: the line is lost for this reader
    Gone,  // the reader went away: it is unsubscribed
  };
  virtual ~EventSink() = default;
  virtual Offer offer(const std::shared_ptr<const std::string>& line) = 0;
};

// A streamed answer (NDJSON) as a sink: full while `budget` bytes are queued for the client.
class StreamSink : public EventSink {
 public:
  StreamSink(std::shared_ptr<http::LineStream> lines, size_t budget)
      : lines_(std::move(lines)), budget_(budget) {}
  Offer offer(const std::shared_ptr<const std::string>& line) override;

 private:
  std::shared_ptr<http::LineStream> lines_;
  size_t budget_;
};

// Bytes queued for one streamed reader before it loses events; its LineStream gets twice as
// much, so the stream is never cut for the lost lines.
constexpr size_t kReaderBudgetBytes = 1u << 20;

class EventFanout {
 public:
  // `heartbeats`: the reader also gets the heartbeat lines (a stream; not a forwarder).
  uint64_t subscribe(EventFilter filter, std::shared_ptr<EventSink> sink, bool heartbeats = true);
  void unsubscribe(uint64_t id);

  void publish(const DropEvent& e);
  // Events lost before they could be named (to every reader of that cell, whatever its filter).
  void publish_lost(uint64_t count, std::string_view cause, std::string_view cell = {});
  void heartbeat();

  size_t readers() const;
  uint64_t published() const { return published_; }

 private:
  struct Reader {
    EventFilter filter;
    std::shared_ptr<EventSink> sink;
    bool heartbeats = true;
    std::map<std::pair<std::string, std::string>, uint64_t> lost;  // by cause and cell, unreported
  };
  // Reports what the reader lost, then offers the line; false when the reader is gone.
  bool deliver(Reader& r, const std::shared_ptr<const std::string>& line);

  mutable std::mutex mu_;
  std::map<uint64_t, Reader> readers_;
  uint64_t next_id_ = 1;
  std::atomic<uint64_t> published_{0};
};

}  // namespace wiretag::events
