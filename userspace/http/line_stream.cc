#include "http/line_stream.h"

#include <algorithm>

namespace wiretag::http {

LineStream::LineStream(size_t max_queued_bytes) : max_queued_bytes_(max_queued_bytes) {}

std::function<void(LineStream::End)> LineStream::end_locked(End why) {
  ended_ = true;
  why_ = why;
  on_drained_ = nullptr;
  // The callbacks hold the producer, which holds this stream: drop them once ended.
  std::function<void(End)> fn = std::move(on_end_);
  on_end_ = nullptr;
  return fn;
}

bool LineStream::push(std::shared_ptr<const std::string> line) {
  std::function<void()> wake;
  std::function<void(End)> ended;
  bool accepted = false;
  {
    std::lock_guard lock(mutex_);
    if (ended_) return false;
    const size_t bytes = line->size() + 1;
    if (queued_bytes_ > 0 && queued_bytes_ + bytes > max_queued_bytes_) {
      queue_.clear();
      ended = end_locked(End::OverLimit);
    } else {
      queue_.push_back(std::move(line));
      queued_bytes_ += bytes;
      accepted = true;
    }
    wake = wake_;
  }
  if (wake) wake();
  if (ended) ended(End::OverLimit);
  return accepted;
}

void LineStream::finish(End why) {
  std::function<void()> wake;
  std::function<void(End)> ended;
  {
    std::lock_guard lock(mutex_);
    if (ended_) return;
    ended = end_locked(why);
    wake = wake_;
  }
  if (wake) wake();
  if (ended) ended(why);
}

void LineStream::close(End why) {
  std::function<void(End)> ended;
  {
    std::lock_guard lock(mutex_);
    queue_.clear();
    last_taken_ = true;  // nothing more goes out on this connection
    if (ended_) return;
    ended = end_locked(why);
  }
  if (ended) ended(why);
}

void LineStream::on_end(std::function<void(End)> fn) {
  End why;
  {
    std::lock_guard lock(mutex_);
    if (!ended_) {
      on_end_ = std::move(fn);
      return;
    }
    why = why_;
  }
  fn(why);
}

void LineStream::on_drained(std::function<void()> fn) {
  {
    std::lock_guard lock(mutex_);
    if (ended_) return;
    if (queued_bytes_ > 0) {
      on_drained_ = std::move(fn);
      return;
    }
  }
  fn();
}

size_t LineStream::queued_bytes() const {
  std::lock_guard lock(mutex_);
  return queued_bytes_;
}

bool LineStream::ended() const {
  std::lock_guard lock(mutex_);
  return ended_;
}

bool LineStream::aborted() const {
  std::lock_guard lock(mutex_);
  return ended_ && why_ != End::Finished && why_ != End::Shutdown;
}

void LineStream::attach(std::function<void()> wake) {
  {
    std::lock_guard lock(mutex_);
    wake_ = wake;
  }
  wake();  // what was pushed before the session took over
}

LineStream::Batch LineStream::take(size_t max_lines) {
  std::lock_guard lock(mutex_);
  Batch out;
  const size_t n = std::min(max_lines, queue_.size());
  out.lines.assign(std::make_move_iterator(queue_.begin()),
                   std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(n)));
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
  if (ended_ && queue_.empty() && !last_taken_) {
    last_taken_ = true;
    if (why_ == End::Finished || why_ == End::Shutdown)
      out.last = true;
    else
      out.abort = true;
  }
  return out;
}

void LineStream::written(size_t bytes) {
  std::function<void()> drained;
  {
    std::lock_guard lock(mutex_);
    queued_bytes_ -= std::min(bytes, queued_bytes_);
    if (queued_bytes_ == 0 && queue_.empty()) {
      drained = std::move(on_drained_);
      on_drained_ = nullptr;
    }
  }
  if (drained) drained();
}

}  // namespace wiretag::http
