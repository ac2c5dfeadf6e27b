// Files only the service's own user may read: its data and state directories (0700) and
// the database and state files in them (0600), whatever the umask, also when they already
// exist with a wider mode (tightened at start, and logged).
#pragma once

#include <filesystem>

#include "wiretag/result.h"

namespace wiretag {

// Creates dir (and its parents) if needed and sets dir itself to 0700.
Result<void> ensure_private_dir(const std::filesystem::path& dir);

// Creates the file empty with mode 0600 unless it exists (then it is left as it is).
Result<void> create_private_file(const std::filesystem::path& file);

// Sets an existing file to 0600 (nothing to do when it is absent).
Result<void> tighten_private_file(const std::filesystem::path& file);

}  // namespace wiretag
