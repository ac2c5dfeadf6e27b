// One process per directory: an exclusive flock(2) on DIR/NAME, held while the DirLock
// lives (the kernel drops it when the process dies, kill -9 included: no stale lock to
// clean up). The holder writes its pid in the file, so a refusal names it.
#pragma once

#include <filesystem>
#include <string>

#include "wiretag/result.h"

namespace wiretag {

class DirLock {
 public:
  // Creates dir (0700) and the lock file (0600) if needed. DIR_IN_USE, naming the holder's
  // pid, when another process holds it; STORE_ERROR when it cannot be made.
  static Result<DirLock> acquire(const std::filesystem::path& dir, const std::string& name);
  DirLock(DirLock&& other) noexcept;
  DirLock& operator=(DirLock&&) = delete;
  DirLock(const DirLock&) = delete;
  ~DirLock();

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace wiretag
