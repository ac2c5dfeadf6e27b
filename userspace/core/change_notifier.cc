#include "core/change_notifier.h"

#include <algorithm>
#include <chrono>
#include <vector>

namespace wiretag {

void ChangeNotifier::publish(int64_t revision) {
  std::vector<Wake> woken;
  {
    std::lock_guard lock(mutex_);
    if (revision <= revision_) return;
    revision_ = revision;
    commits_.emplace_back(revision, std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
    if (commits_.size() > kCommitTimes) {
      known_after_ = commits_.front().first;
      commits_.pop_front();
    }
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->second.since < revision) {
        woken.push_back(std::move(it->second.wake));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (Wake& wake : woken) wake();
}

std::optional<int64_t> ChangeNotifier::committed_at_ms(int64_t revision) const {
  std::lock_guard lock(mutex_);
  if (revision <= known_after_) return std::nullopt;
  // The first commit whose highest revision reaches it committed it.
  auto it = std::lower_bound(commits_.begin(), commits_.end(), revision,
                             [](const auto& c, int64_t r) { return c.first < r; });
  if (it == commits_.end()) return std::nullopt;
  return it->second;
}

ChangeNotifier::WaiterId ChangeNotifier::wait(int64_t since, Wake wake) {
  WaiterId id;
  {
    std::lock_guard lock(mutex_);
    id = next_id_++;
    if (!closed_ && since >= revision_) {
      waiters_.emplace(id, Waiter{since, std::move(wake)});
      return id;
    }
  }
  wake();
  return id;
}

bool ChangeNotifier::cancel(WaiterId id) {
  std::lock_guard lock(mutex_);
  return waiters_.erase(id) > 0;
}

void ChangeNotifier::close() {
  std::unordered_map<WaiterId, Waiter> woken;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    woken.swap(waiters_);
  }
  for (auto& [id, waiter] : woken) waiter.wake();
}

int64_t ChangeNotifier::revision() const {
  std::lock_guard lock(mutex_);
  return revision_;
}

bool ChangeNotifier::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

size_t ChangeNotifier::waiting() const {
  std::lock_guard lock(mutex_);
  return waiters_.size();
}

}  // namespace wiretag
