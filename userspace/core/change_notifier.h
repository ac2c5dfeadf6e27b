// Wakes whoever waits for the change log to pass a revision: fed by the store after each
// commit that appended changes, so a watcher learns of a write without polling the database.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace wiretag {

class ChangeNotifier {
 public:
  using Wake = std::function<void()>;
  using WaiterId = uint64_t;

  // The revision of the store when serving starts; later ones come through publish().
  explicit ChangeNotifier(int64_t revision = 0) : revision_(revision), known_after_(revision) {}
  ChangeNotifier(const ChangeNotifier&) = delete;
  ChangeNotifier& operator=(const ChangeNotifier&) = delete;

  // The change log reached `revision` (a lower or equal one than already seen is ignored):
  // wakes every waiter whose `since` it passes. Callbacks run on the caller's thread, outside
  // the notifier's lock, so they should only hand the work on (post it).
  // Also remembers when: the wall clock (unix ms) at which revisions up to it committed.
  void publish(int64_t revision);

  // When `revision` committed in this process (unix ms), for the watch events' committed_at
  // (agents measure propagation from it); nullopt for a revision from before this process or
  // older than the last kCommitTimes commits.
  std::optional<int64_t> committed_at_ms(int64_t revision) const;
  static constexpr size_t kCommitTimes = 4096;

  // Calls wake once, when the revision passes `since` or the notifier is closed; at once
  // (on this thread) if either already holds. Returns an id for cancel().
  WaiterId wait(int64_t since, Wake wake);
  // Forgets a waiter that has not been woken; false if it was woken already (or unknown).
  bool cancel(WaiterId id);

  // Wakes every waiter now and every later one at once (server shutdown).
  void close();

  int64_t revision() const;
  size_t waiting() const;
  // True once close() was called: a waiter asking again is woken at once, so it must stop.
  bool closed() const;

 private:
  struct Waiter {
    int64_t since;
    Wake wake;
  };
  mutable std::mutex mutex_;
  int64_t revision_;
  // (highest revision of a commit, its unix ms), oldest first; revisions at or below
  // known_after_ have no time.
  std::deque<std::pair<int64_t, int64_t>> commits_;
  int64_t known_after_;
  bool closed_ = false;
  WaiterId next_id_ = 1;
  std::unordered_map<WaiterId, Waiter> waiters_;
};

}  // namespace wiretag
