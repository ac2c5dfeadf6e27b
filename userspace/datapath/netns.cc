#include "datapath/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>

#include "common/log.h"

namespace wiretag::datapath {

Result<NetnsScope> NetnsScope::enter(const std::string& netns_path) {
  if (netns_path.empty()) return NetnsScope(-1);
  int original = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (original < 0) return Error::from_errno("NETNS_FAILED", "open own netns", errno);
  int target = ::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int err = errno;
    ::close(original);
    return Error::from_errno("NETNS_NOT_FOUND", "open netns " + netns_path, err);
  }
  int rc = ::setns(target, CLONE_NEWNET);
  int err = errno;
  ::close(target);
  if (rc != 0) {
    ::close(original);
    // A file that is not a network namespace (a regular file, a directory, another ns type).
    if (err == EINVAL)
      return Error::from_errno("INVALID_NAMESPACE", netns_path + " is not a network namespace file",
                               err);
    return Error::from_errno("NETNS_FAILED", "enter netns " + netns_path, err);
  }
  return NetnsScope(original);
}

NetnsScope::~NetnsScope() {
  if (original_fd_ < 0) return;
  if (::setns(original_fd_, CLONE_NEWNET) != 0) {
    // A thread left in the wrong namespace would attach programs to the wrong devices.
    spdlog::critical("cannot return to the original network namespace: {}", strerror(errno));
    std::abort();
  }
  ::close(original_fd_);
}

}  // namespace wiretag::datapath
