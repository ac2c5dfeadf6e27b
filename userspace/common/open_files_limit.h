// The process's limit on open descriptors. A server holds one per connection (every agent's
// watch is one), so the usual soft limit of 1024 would refuse connections well before
// --max-connections; a process may raise its soft limit up to its hard one without privilege.
#pragma once

#include <cstdint>

#include "wiretag/result.h"

namespace wiretag {

struct OpenFilesLimit {
  std::uint64_t before = 0;  // the soft limit the process started with
  std::uint64_t now = 0;     // the soft limit in force (the hard limit when raising worked)
};

// Raises the soft RLIMIT_NOFILE to the hard one (as Go's runtime and nginx do);
// RLIMIT_FAILED with errno when the kernel refuses.
Result<OpenFilesLimit> raise_open_files_limit();

}  // namespace wiretag
