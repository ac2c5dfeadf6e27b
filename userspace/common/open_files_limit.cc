#include "common/open_files_limit.h"

#include <sys/resource.h>

#include <cerrno>

namespace wiretag {

Result<OpenFilesLimit> raise_open_files_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return Error::from_errno("RLIMIT_FAILED", "getrlimit(RLIMIT_NOFILE)", errno);
  OpenFilesLimit out{lim.rlim_cur, lim.rlim_cur};
  if (lim.rlim_cur == lim.rlim_max) return out;
  lim.rlim_cur = lim.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0)
    return Error::from_errno("RLIMIT_FAILED", "setrlimit(RLIMIT_NOFILE)", errno);
  out.now = lim.rlim_cur;
  return out;
}

}  // namespace wiretag
