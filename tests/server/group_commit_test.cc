// The stores' group commit (store/group_commit.h) on its own: writes from many threads, batched
// by one committer, each answered with its own outcome, in the order they were queued.
#include "store/group_commit.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/acting_principal.h"
#include "core/testing/memory_store.h"

namespace wiretag {
namespace {

// What the writes and batches did, as the committer saw it.
struct Log {
  std::mutex mutex;
  std::vector<int> queued;  // ids in the order queue() took them
  std::vector<int> ran;     // ids in the order their transactions ran
  std::vector<size_t> batch_sizes;
  std::map<int, std::string> principal;  // whom each write acted for
  std::map<int, int64_t> revision;       // the revision of the batch each write ran in
  std::map<int, int> answers;            // how often each write was answered
  std::map<int, Result<void>> outcome;   // each write's answer
  std::atomic<int64_t> published{0};     // the last revision handed to `committed`
  int64_t batch_revision = 0;
  std::string running_principal;

  std::vector<int> ran_copy() {
    std::lock_guard lock(mutex);
    return ran;
  }
};

// A write that fails when its id is a multiple of 5 and names itself in its error.
bool fails(int id) { return id % 5 == 0; }

Store::WriteFn write_of(int id, Log& log) {
  return [id, &log](StoreTx&) -> Result<void> {
    std::lock_guard lock(log.mutex);
    log.ran.push_back(id);
    log.principal[id] = log.running_principal;
    log.revision[id] = log.batch_revision;
    if (fails(id)) return Error{"WRITE_FAILED", "write " + std::to_string(id)};
    return Ok();
  };
}

Store::WriteDone done_of(int id, Log& log) {
  return [id, &log](Result<void> r) {
    std::lock_guard lock(log.mutex);
    // A committed batch was published before any of its writes is answered.
    if (r && log.revision.count(id)) {
      EXPECT_GE(log.published.load(), log.revision[id]) << id;
    }
    ++log.answers[id];
    log.outcome.insert_or_assign(id, std::move(r));
  };
}

// Commits a batch as the stores do, each write on the StoreTx of one MemoryStore transaction,
// and appends one revision per batch.
struct Committer {
  explicit Committer(Log& log) : log(log) {}
  MemoryStore memory;
  Log& log;

  GroupCommit::CommitBatch commit_batch() {
    return [this](const std::vector<GroupCommit::QueuedWrite>& batch, GroupCommit::Outcomes& out) {
      int64_t revision;
      {
        std::lock_guard lock(log.mutex);
        log.batch_sizes.push_back(batch.size());
        revision = ++log.batch_revision;
      }
      (void)memory.transact(true, [&](StoreTx& tx) -> Result<void> {
        for (size_t i = 0; i < batch.size(); ++i) {
          {
            std::lock_guard lock(log.mutex);
            log.running_principal = batch[i].principal;
          }
          out[i] = batch[i].run(tx);
        }
        return Ok();
      });
      return revision;
    };
  }
  std::function<void(int64_t)> committed() {
    return [this](int64_t revision) { log.published = revision; };
  }
};

// A write that holds the committer, in a batch of its own, until released: what queues
// meanwhile forms the next batches.
struct Gate {
  std::promise<void> holding, release;
  std::shared_future<void> released = release.get_future().share();
  void hold(GroupCommit& commits) {
    commits.queue(
        [this](StoreTx&) {
          holding.set_value();
          released.wait();
          return Ok();
        },
        [](Result<void>) {});
    holding.get_future().wait();
  }
};

void expect_own_outcome(Log& log, int id) {
  ASSERT_EQ(log.answers[id], 1) << "write " << id << " answered once";
  const Result<void>& r = log.outcome.at(id);
  if (fails(id)) {
    ASSERT_FALSE(r) << "write " << id;
    EXPECT_EQ(r.error().message, "write " + std::to_string(id));
  } else {
    EXPECT_TRUE(r) << "write " << id << ": " << r.error().message;
  }
}

TEST(GroupCommit, WritesFromManyThreadsGetTheirOwnOutcomesInQueueOrder) {
  Log log;
  Committer committer(log);
  GroupCommit commits(committer.commit_batch(), committer.committed());
  Gate gate;
  gate.hold(commits);
  constexpr int kThreads = 8, kPerThread = 100;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      ActingPrincipal as(std::make_shared<const std::string>("caller-" + std::to_string(t)));
      for (int k = 0; k < kPerThread; ++k) {
        const int id = t * kPerThread + k;
        std::lock_guard lock(log.mutex);  // queue() takes them in this order
        log.queued.push_back(id);
        commits.queue(write_of(id, log), done_of(id, log));
      }
    });
  for (auto& t : threads) t.join();
  gate.release.set_value();
  commits.close();  // answers every queued write first

  ASSERT_EQ(log.ran, log.queued) << "committed in the order queued";
  for (int id = 0; id < kThreads * kPerThread; ++id) {
    expect_own_outcome(log, id);
    EXPECT_EQ(log.principal[id], "caller-" + std::to_string(id / kPerThread));
  }
  // 800 writes queued behind the gate: full batches, then the rest.
  EXPECT_EQ(*std::max_element(log.batch_sizes.begin(), log.batch_sizes.end()),
            GroupCommit::kMaxBatch);
}

TEST(GroupCommit, WaitingCallersGetTheirOwnOutcomes) {
  Log log;
  Committer committer(log);
  GroupCommit commits(committer.commit_batch(), committer.committed());
  constexpr int kThreads = 8, kPerThread = 50;
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int k = 0; k < kPerThread; ++k) {
        const int id = t * kPerThread + k;
        Result<void> r = commits.run(write_of(id, log));
        const bool own =
            fails(id) ? !r && r.error().message == "write " + std::to_string(id) : bool(r);
        if (!own) ++wrong;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  auto ran = log.ran_copy();
  std::sort(ran.begin(), ran.end());
  ASSERT_EQ(ran.size(), size_t{kThreads * kPerThread});
  for (int id = 0; id < kThreads * kPerThread; ++id) EXPECT_EQ(ran[id], id) << "ran once";
}

TEST(GroupCommit, AnExceptionFailsItsWriteAlone) {
  Log log;
  Committer committer(log);
  GroupCommit commits(committer.commit_batch(), committer.committed());
  Gate gate;
  gate.hold(commits);
  commits.queue(write_of(1, log), done_of(1, log));
  commits.queue([](StoreTx&) -> Result<void> { throw std::runtime_error("boom"); },
                done_of(2, log));
  commits.queue(write_of(3, log), done_of(3, log));
  gate.release.set_value();
  commits.close();
  EXPECT_TRUE(log.outcome.at(1));
  ASSERT_FALSE(log.outcome.at(2));
  EXPECT_EQ(log.outcome.at(2).error().code, "INTERNAL");
  EXPECT_EQ(log.outcome.at(2).error().message, "write failed: boom");
  EXPECT_TRUE(log.outcome.at(3));
}

TEST(GroupCommit, WritesHandedBackRunAgainBeforeLaterOnes) {
  Log log;
  GroupCommit* queue_to = nullptr;
  bool lost_once = false;
  std::promise<void> last_answered;
  // The transaction of the first batch (writes 1..9) is lost after write 5 failed: 5 is
  // answered with its error, the others (written but lost, or not run) get no outcome and run
  // again. Write 10 queues meanwhile.
  Committer committer(log);
  auto inner = committer.commit_batch();
  GroupCommit commits(
      [&](const std::vector<GroupCommit::QueuedWrite>& batch, GroupCommit::Outcomes& out) {
        const int64_t revision = inner(batch, out);
        if (!lost_once && batch.size() == 9) {
          lost_once = true;
          for (size_t i = 0; i < batch.size(); ++i)
            if (i != 4) out[i].reset();  // write 5 failed: answered; the others run again
          queue_to->queue(write_of(10, log), [&, done = done_of(10, log)](Result<void> r) {
            done(std::move(r));
            last_answered.set_value();
          });
          return int64_t{0};
        }
        return revision;
      },
      committer.committed());
  queue_to = &commits;
  Gate gate;
  gate.hold(commits);
  for (int id = 1; id <= 9; ++id) commits.queue(write_of(id, log), done_of(id, log));
  gate.release.set_value();
  last_answered.get_future().wait();
  commits.close();

  ASSERT_TRUE(lost_once);
  EXPECT_EQ(log.ran, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4, 6, 7, 8, 9, 10}))
      << "handed back in their order, before the write queued meanwhile";
  for (int id = 1; id <= 10; ++id) expect_own_outcome(log, id);
}

TEST(GroupCommit, ClosingAnswersWhatWasQueuedAndRefusesMore) {
  Log log;
  Committer committer(log);
  GroupCommit commits(committer.commit_batch(), committer.committed());
  Gate gate;
  gate.hold(commits);
  for (int id = 1; id <= 20; ++id) commits.queue(write_of(id, log), done_of(id, log));
  std::thread closer([&] { commits.close(); });
  gate.release.set_value();
  closer.join();
  for (int id = 1; id <= 20; ++id) expect_own_outcome(log, id);

  std::optional<Result<void>> late;
  commits.queue(write_of(21, log), [&](Result<void> r) { late = std::move(r); });
  ASSERT_TRUE(late.has_value()) << "answered at once, on the caller's thread";
  ASSERT_FALSE(*late);
  EXPECT_EQ(late->error().code, "STORE_ERROR");
  EXPECT_EQ(std::count(log.ran.begin(), log.ran.end(), 21), 0);
}

}  // namespace
}  // namespace wiretag
