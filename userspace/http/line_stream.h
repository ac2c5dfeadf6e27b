// A response body sent as lines while they come: NDJSON over Transfer-Encoding: chunked, one
// line per chunk. The route keeps one end and pushes from any thread; the session that sends
// the response takes the lines and writes them in order.
//
// Bounded: lines pushed and not yet written count against max_queued_bytes, and a push past
// it ends the stream (the connection is closed, the client reconnects from what it has), so a
// client that stops reading cannot grow the server's memory. A line is a shared buffer: one
// serialized batch pushed to many streams is held once.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace wiretag::http {

class LineStream {
 public:
  enum class End {
    Finished,    // the route ended it: the last chunk follows the queued lines
    Shutdown,    // the server is stopping: the same, then the connection closes
    ClientGone,  // the connection failed, timed out writing or was closed by the client
    OverLimit,   // a push passed max_queued_bytes: the connection is closed at once
  };

  explicit LineStream(size_t max_queued_bytes);
  LineStream(const LineStream&) = delete;
  LineStream& operator=(const LineStream&) = delete;

  // Queues a line, sent followed by "\n". False when the stream has ended, including when
  // this line would pass the limit (a line always fits an empty queue: a batch larger than
  // the limit still reaches a client that keeps up).
  bool push(std::shared_ptr<const std::string> line);
  // Ends the stream after the queued lines: Finished or Shutdown.
  void finish(End why = End::Finished);
  // fn(why), once, when the stream ends for any reason (at once if it has); no push is
  // accepted afterwards. Runs on the thread that ended it.
  void on_end(std::function<void(End)> fn);
  // fn(), once, when every queued line has been written (at once if none is queued): paces a
  // producer that has more to send. Dropped when the stream ends first.
  void on_drained(std::function<void()> fn);
  size_t queued_bytes() const;
  bool ended() const;

  // The session's side.
  struct Batch {
    std::vector<std::shared_ptr<const std::string>> lines;
    bool last = false;   // then send the last chunk: the stream is complete
    bool abort = false;  // close the connection without the last chunk
  };
  // wake() is called, on any thread, whenever take() has something new or the stream ended.
  void attach(std::function<void()> wake);
  // Ended without its last chunk (OverLimit, ClientGone): close the connection now, even
  // with a write pending (a client that stopped reading would hold it until the deadline).
  bool aborted() const;
  // Up to max_lines queued lines; their bytes stay counted until written() is called.
  Batch take(size_t max_lines);
  // `bytes` (lines plus their "\n") handed out by take() have been written.
  void written(size_t bytes);
  // The connection ended the stream (ClientGone, or Shutdown when the server closes it).
  void close(End why);

 private:
  // Marks the stream ended; returns the on_end callback to run outside the lock.
  std::function<void(End)> end_locked(End why);

  mutable std::mutex mutex_;
  const size_t max_queued_bytes_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  size_t queued_bytes_ = 0;  // queue_ plus lines taken and not yet written
  bool ended_ = false;
  bool last_taken_ = false;
  End why_ = End::Finished;
  std::function<void()> wake_;
  std::function<void(End)> on_end_;
  std::function<void()> on_drained_;
};

}  // namespace wiretag::http
