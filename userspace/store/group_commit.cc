#include "store/group_commit.h"

#include <exception>
#include <iterator>
#include <utility>

#include "common/acting_principal.h"

namespace wiretag {

Result<void> GroupCommit::QueuedWrite::run(StoreTx& tx) const {
  try {
    return fn(tx);
  } catch (const std::exception& e) {
    return Error{"INTERNAL", std::string("write failed: ") + e.what()};
  } catch (...) {
    return Error{"INTERNAL", "write failed: unknown exception"};
  }
}

GroupCommit::GroupCommit(CommitBatch commit_batch, std::function<void(int64_t)> committed)
    : commit_batch_(std::move(commit_batch)), committed_(std::move(committed)) {
  committer_ = std::thread([this] { commit_loop(); });
}

GroupCommit::~GroupCommit() { close(); }

void GroupCommit::close() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  queued_.notify_all();
  std::call_once(joined_, [this] {
    if (committer_.joinable()) committer_.join();
  });
}

void GroupCommit::queue(Store::WriteFn fn, Store::WriteDone done) {
  {
    std::lock_guard lock(mutex_);
    if (!closing_) {
      queue_.push_back(QueuedWrite{std::move(fn), std::move(done), ActingPrincipal::current()});
      queued_.notify_one();
      return;
    }
  }
  done(Error{"STORE_ERROR", "the store is closing"});
}

Result<void> GroupCommit::run(const Store::WriteFn& fn) {
  // Queued like any write; this thread waits for its batch's commit.
  struct Outcome {
    std::mutex mutex;
    std::condition_variable cv;
    std::optional<Result<void>> result;
  } outcome;
  queue([&fn](StoreTx& tx) { return fn(tx); },
        [&outcome](Result<void> r) {
          std::lock_guard lock(outcome.mutex);
          outcome.result.emplace(std::move(r));
          outcome.cv.notify_one();
        });
  std::unique_lock lock(outcome.mutex);
  outcome.cv.wait(lock, [&] { return outcome.result.has_value(); });
  return std::move(*outcome.result);
}

void GroupCommit::commit_loop() {
  std::vector<QueuedWrite> batch;
  Outcomes outcomes;
  for (;;) {
    batch.clear();
    {
      std::unique_lock lock(mutex_);
      queued_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty()) return;  // closing, and every write answered
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    outcomes.assign(batch.size(), std::nullopt);
    const int64_t revision = commit_batch_(batch, outcomes);
    // What did not commit runs again, before anything queued since.
    std::vector<QueuedWrite> again;
    for (size_t i = 0; i < batch.size(); ++i)
      if (!outcomes[i]) again.push_back(std::move(batch[i]));
    if (!again.empty()) {
      std::lock_guard lock(mutex_);
      queue_.insert(queue_.begin(), std::make_move_iterator(again.begin()),
                    std::make_move_iterator(again.end()));
    }
    if (revision > 0) committed_(revision);
    for (size_t i = 0; i < batch.size(); ++i)
      if (outcomes[i]) batch[i].done(std::move(*outcomes[i]));
  }
}

}  // namespace wiretag
