// Group commit, as both stores write: write transactions queued by any thread, committed by one
// committer thread in batches of whatever queued meanwhile (each write in its own savepoint of
// one transaction, so one durable commit answers many), every write answered with its own
// outcome. How a batch is committed (BEGIN … COMMIT, savepoints, locks) is the store's.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"

namespace wiretag {

class GroupCommit {
 public:
  static constexpr size_t kMaxBatch = 512;

  // One write as queued.
  struct QueuedWrite {
    Store::WriteFn fn;
    Store::WriteDone done;
    std::string principal;  // whom the queuing thread acted for (ActingPrincipal)

    // Runs fn on tx; an exception escaping it fails this write alone (it runs on the
    // committer's thread).
    Result<void> run(StoreTx& tx) const;
  };

  // Each write's outcome, in the batch's order; none: the write did not commit and runs again
  // (the transaction was lost under it).
  using Outcomes = std::vector<std::optional<Result<void>>>;
  // Commits a batch in one transaction, filling one outcome per write; returns the highest
  // revision the commit appended, or 0.
  using CommitBatch = std::function<int64_t(const std::vector<QueuedWrite>& batch, Outcomes& out)>;

  // Starts the committer thread. `committed` is called with a batch's revision (if it
  // appended) before its writes are answered: whoever is answered next finds it published.
  GroupCommit(CommitBatch commit_batch, std::function<void(int64_t revision)> committed);
  ~GroupCommit();  // close()
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Queues a write; done gets its outcome once, on the committer's thread, after its batch's
  // commit. Once closing: done gets STORE_ERROR at once, on this thread.
  void queue(Store::WriteFn fn, Store::WriteDone done);
  // Queues a write and waits for its outcome.
  Result<void> run(const Store::WriteFn& fn);
  // Answers every write queued before, then stops the committer thread. Idempotent.
  void close();

 private:
  void commit_loop();

  CommitBatch commit_batch_;
  std::function<void(int64_t)> committed_;
  std::mutex mutex_;
  std::condition_variable queued_;
  std::deque<QueuedWrite> queue_;
  bool closing_ = false;
  std::once_flag joined_;
  std::thread committer_;
};

}  // namespace wiretag
