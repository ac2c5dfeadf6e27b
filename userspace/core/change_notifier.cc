#include "core/change_notifier.h"

#include <vector>

namespace wiretag {

void ChangeNotifier::publish(int64_t revision) {
  std::vector<Wake> woken;
  {
    std::lock_guard lock(mutex_);
    if (revision <= revision_) return;
    revision_ = revision;
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
