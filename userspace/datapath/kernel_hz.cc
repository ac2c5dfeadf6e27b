#include "datapath/kernel_hz.h"

#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <fstream>
#include <mutex>
#include <sstream>

namespace wiretag::datapath {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string read_gzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return "";
  std::string out;
  char buf[16384];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  gzclose(f);
  return out;
}

// The first "jiffies: N" of /proc/timer_list, or -1.
long long timer_list_jiffies() {
  std::ifstream in("/proc/timer_list");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("jiffies: ", 0) == 0) return std::stoll(line.substr(9));
  return -1;
}

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// The rates kernels are built with; a measurement must be within 5% of one of them.
uint32_t measured_hz() {
  long long j0 = timer_list_jiffies();
  uint64_t t0 = monotonic_ns();
  if (j0 < 0) return 0;
  usleep(100000);
  long long j1 = timer_list_jiffies();
  uint64_t t1 = monotonic_ns();
  if (j1 <= j0 || t1 <= t0) return 0;
  double hz = double(j1 - j0) * 1e9 / double(t1 - t0);
  for (uint32_t known : {100u, 250u, 300u, 1000u})
    if (std::fabs(hz - known) <= 0.05 * known) return known;
  return 0;
}

}  // namespace

uint32_t parse_config_hz(const std::string& config) {
  std::istringstream in(config);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("CONFIG_HZ=", 0) != 0) continue;
    try {
      long v = std::stol(line.substr(10));
      return v > 0 && v <= 10000 ? static_cast<uint32_t>(v) : 0;
    } catch (const std::exception&) {
      return 0;
    }
  }
  return 0;
}

Result<uint32_t> kernel_hz() {
  static std::once_flag once;
  static uint32_t hz = 0;
  std::call_once(once, [] {
    utsname u{};
    if (uname(&u) == 0) hz = parse_config_hz(read_file(std::string("/boot/config-") + u.release));
    if (!hz) hz = parse_config_hz(read_gzip("/proc/config.gz"));
    if (!hz) hz = measured_hz();
  });
  if (!hz)
    return Error{"KERNEL_HZ_UNKNOWN",
                 "cannot tell the kernel's CONFIG_HZ: no /boot/config-$(uname -r), no "
                 "/proc/config.gz, and /proc/timer_list gave no usable jiffies"};
  return hz;
}

}  // namespace wiretag::datapath
