// Streamed watches at rest, and one pass per commit that sends them its line (issue 20: the
// per-watcher cost of a change).
//
// A streamed watch that has sent everything up to the notifier's revision parks here. When the
// change log moves on, one job on the io_context reads the answer for each distinct `since`
// once (usually one: every parked stream is at the last revision) and pushes the same shared
// line into every parked stream's queue, where its session writes it. A stream stays parked
// across changes: per change and watcher that is a queue push and the session's write, with no
// strand hop, no notifier waiter, no allocation of its own.
//
// What the pass cannot finish (a resync or a failed read, a backlog beyond one batch, the
// notifier closed) it hands back: the stream leaves the parking and `back` gets its state, to
// run on the stream's own strand. The owner takes a stream back itself with take() (heartbeat,
// end) before touching its state.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "core/change_notifier.h"
#include "http/line_stream.h"
#include "wiretag/result.h"

namespace wiretag {

// What a watch answers for a `since` now, serialized once: every long poll and stream asking
// for the same range gets the same buffer.
struct WatchAnswer {
  int64_t revision = 0;  // the next since
  bool resync = false;
  bool wait = false;  // no events: the log has nothing after since yet
  std::shared_ptr<const std::string> json;
};

class WatchFanout : public std::enable_shared_from_this<WatchFanout> {
 public:
  using Clock = std::chrono::steady_clock;
  // The part of a stream's state the pass updates while it is parked.
  struct Slot {
    std::shared_ptr<http::LineStream> lines;
    int64_t since = 0;  // the revision of the last line sent
    Clock::time_point last_line;
  };
  using Answer = std::function<Result<WatchAnswer>(int64_t since)>;
  using Back = std::function<void(const Slot&)>;

  WatchFanout(ChangeNotifier& notifier, boost::asio::io_context& ioc, Answer answer);

  // Parks stream `id` (its state in `slot`); false, and nothing parked, when the notifier is
  // past slot.since already or closed: the caller goes on itself.
  bool park(uintptr_t id, Slot slot, Back back);
  // Takes stream `id` out of the parking: its state, or nothing when it is not parked (never
  // was, or was handed back: then `back` is on its way).
  std::optional<Slot> take(uintptr_t id);
  size_t parked() const;
  // 1 while the fan-out's one notifier waiter is registered, else 0.
  size_t armed() const;

 private:
  struct Parked {
    Slot slot;
    Back back;
  };
  void arm_locked(int64_t since);
  void deliver();

  ChangeNotifier& notifier_;
  boost::asio::io_context& ioc_;
  Answer answer_;
  mutable std::mutex mu_;
  std::unordered_map<uintptr_t, Parked> parked_;
  bool armed_ = false;
};

}  // namespace wiretag
