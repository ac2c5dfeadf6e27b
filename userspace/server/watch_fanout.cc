#include "server/watch_fanout.h"

#include <boost/asio/post.hpp>
#include <map>
#include <optional>
#include <vector>

namespace wiretag {

WatchFanout::WatchFanout(ChangeNotifier& notifier, boost::asio::io_context& ioc, Answer answer)
    : notifier_(notifier), ioc_(ioc), answer_(std::move(answer)) {}

bool WatchFanout::park(uintptr_t id, Slot slot, Back back) {
  std::lock_guard lock(mu_);
  // Checked under mu_: a commit after this check finds the stream parked (its pass takes mu_).
  if (notifier_.closed() || slot.since < notifier_.revision()) return false;
  const int64_t since = slot.since;
  parked_.insert_or_assign(id, Parked{std::move(slot), std::move(back)});
  arm_locked(since);
  return true;
}

std::optional<WatchFanout::Slot> WatchFanout::take(uintptr_t id) {
  std::lock_guard lock(mu_);
  auto it = parked_.find(id);
  if (it == parked_.end()) return std::nullopt;
  Slot out = std::move(it->second.slot);
  parked_.erase(it);
  return out;
}

size_t WatchFanout::parked() const {
  std::lock_guard lock(mu_);
  return parked_.size();
}

size_t WatchFanout::armed() const {
  std::lock_guard lock(mu_);
  return armed_ ? 1 : 0;
}

// One notifier waiter for every parked stream: woken by a commit past `since` (or the close),
// it posts one pass. `since` is at most every parked stream's: armed at a later revision, a
// commit made during the last pass would wake nobody until the next one.
void WatchFanout::arm_locked(int64_t since) {
  if (armed_) return;
  armed_ = true;
  std::weak_ptr<WatchFanout> weak = weak_from_this();
  notifier_.wait(since, [weak, &ioc = ioc_] {
    boost::asio::post(ioc, [weak] {
      if (auto self = weak.lock()) self->deliver();
    });
  });
}

void WatchFanout::deliver() {
  std::vector<std::pair<Back, Slot>> handed_back;
  {
    std::lock_guard lock(mu_);
    armed_ = false;
    const bool closed = notifier_.closed();
    const int64_t revision = notifier_.revision();
    const Clock::time_point now = Clock::now();
    std::map<int64_t, Result<WatchAnswer>> answers;  // by since: one read each
    for (auto it = parked_.begin(); it != parked_.end();) {
      Slot& slot = it->second.slot;
      if (!closed && slot.since >= revision) {
        ++it;
        continue;
      }
      auto hand_back = [&] {
        handed_back.emplace_back(std::move(it->second.back), std::move(slot));
        it = parked_.erase(it);
      };
      if (closed) {
        hand_back();
        continue;
      }
      auto found = answers.find(slot.since);
      if (found == answers.end()) found = answers.emplace(slot.since, answer_(slot.since)).first;
      const Result<WatchAnswer>& a = found->second;
      // The stream's own strand deals with a failed read, a resync, or nothing to send.
      if (!a || a.value().resync || a.value().wait) {
        hand_back();
        continue;
      }
      if (!slot.lines->push(a.value().json)) {  // ended: its strand stops it
        it = parked_.erase(it);
        continue;
      }
      slot.since = a.value().revision;
      slot.last_line = now;
      if (slot.since < revision) {  // more than one batch behind: paced by its strand
        hand_back();
        continue;
      }
      ++it;
    }
    // Every stream left is at `revision` or later.
    if (!parked_.empty() && !closed) arm_locked(revision);
  }
  for (auto& [back, slot] : handed_back) back(slot);
}

}  // namespace wiretag
