#include "common/private_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/log.h"

namespace wiretag {
namespace {

// chmod to `mode` when the mode differs; ENOENT is fine when `may_be_absent`.
Result<void> tighten(const std::filesystem::path& path, mode_t mode, bool may_be_absent) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT && may_be_absent) return Ok();
    return Error::from_errno("FILE_MODE", "stat " + path.string(), errno);
  }
  const mode_t now = st.st_mode & 07777;
  if (now == mode) return Ok();
  if (::chmod(path.c_str(), mode) != 0)
    return Error::from_errno("FILE_MODE", "chmod " + path.string(), errno);
  spdlog::info("{}: mode {:04o} tightened to {:04o}", path.string(), now, mode);
  return Ok();
}

}  // namespace

Result<void> ensure_private_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error{"FILE_MODE", "cannot create " + dir.string() + ": " + ec.message()};
  return tighten(dir, 0700, false);
}

Result<void> create_private_file(const std::filesystem::path& file) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Error::from_errno("FILE_MODE", "create " + file.string(), errno);
  ::close(fd);
  return Ok();
}

Result<void> tighten_private_file(const std::filesystem::path& file) {
  return tighten(file, 0600, true);
}

}  // namespace wiretag
