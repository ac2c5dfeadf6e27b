// Runs the calling thread inside another network namespace for the scope's lifetime.
#pragma once

#include <string>

#include "wiretag/result.h"

namespace wiretag::datapath {

class NetnsScope {
 public:
  // An empty path stays in the current namespace.
  static Result<NetnsScope> enter(const std::string& netns_path);
  NetnsScope(NetnsScope&& o) noexcept : original_fd_(o.original_fd_) { o.original_fd_ = -1; }
  NetnsScope(const NetnsScope&) = delete;
  NetnsScope& operator=(const NetnsScope&) = delete;
  NetnsScope& operator=(NetnsScope&&) = delete;
  ~NetnsScope();

 private:
  explicit NetnsScope(int original_fd) : original_fd_(original_fd) {}
  int original_fd_ = -1;  // -1: nothing to restore
};

}  // namespace wiretag::datapath
