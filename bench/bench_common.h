// What the process-level benches share: the machine they ran on, a process's /proc/PID/status
// figures, and just enough HTTP/1.1 response parsing for pre-formatted requests.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace wiretag::bench {

inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The median of `v` with a distribution-free 95% confidence interval: the order statistics
// k-th from each end, k the largest with P(Binomial(n, 1/2) < k) <= 2.5% (a sign test's
// interval, exact for any distribution). Below 9 values it is the whole range.
struct MedianInterval {
  double median = 0, low = 0, high = 0;
};
inline MedianInterval median_interval(std::vector<double> v) {
  MedianInterval out;
  if (v.empty()) return out;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  out.median = median(v);
  // P(B < k) for B ~ Binomial(n, 1/2), k = 1, 2, ...: the largest k with P <= 0.025.
  size_t k = 0;
  double below = 0, term = std::pow(0.5, static_cast<double>(n));  // P(B = 0)
  for (size_t j = 0; j < n; ++j) {
    below += term;  // P(B <= j) = P(B < j + 1)
    if (below > 0.025) break;
    k = j + 1;
    term *= static_cast<double>(n - j) / static_cast<double>(j + 1);
  }
  out.low = k ? v[k - 1] : v.front();
  out.high = k ? v[n - k] : v.back();
  return out;
}

inline double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// CPUs, model, kernel and load average: the line every result starts with.
inline std::string machine_line() {
  utsname u{};
  ::uname(&u);
  std::string model = "?";
  std::ifstream cpu("/proc/cpuinfo");
  for (std::string line; std::getline(cpu, line);)
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  double load[3] = {0, 0, 0};
  ::getloadavg(load, 3);
  char out[512];
  std::snprintf(out, sizeof out, "%ld CPUs, %s, kernel %s, loadavg %.2f %.2f %.2f",
                ::sysconf(_SC_NPROCESSORS_ONLN), model.c_str(), u.release, load[0], load[1],
                load[2]);
  return out;
}

// "VmRSS" → kB, from /proc/PID/status; -1 when the process is gone.
inline long status_kb(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  return -1;
}

// A complete response at the front of buf: its status, and how many bytes it took; 0 bytes
// when more is needed.
struct Parsed {
  int status = 0;
  size_t size = 0;
  std::string_view body;
};

inline Parsed parse_response(std::string_view buf) {
  size_t end = buf.find("\r\n\r\n");
  if (end == std::string_view::npos || buf.size() < 12) return {};
  int status = std::atoi(std::string(buf.substr(9, 3)).c_str());
  size_t length = 0;
  std::string_view head = buf.substr(0, end);
  for (size_t pos = 0; pos < head.size();) {
    size_t eol = head.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = head.size();
    std::string_view line = head.substr(pos, eol - pos);
    constexpr std::string_view kLen = "content-length:";
    if (line.size() > kLen.size() &&
        std::equal(kLen.begin(), kLen.end(), line.begin(),
                   [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); }))
      length = std::strtoull(std::string(line.substr(kLen.size())).c_str(), nullptr, 10);
    pos = eol + 2;
  }
  if (buf.size() < end + 4 + length) return {};
  return Parsed{status, end + 4 + length, buf.substr(end + 4, length)};
}

// A child process (the real server or agent) stopped on destruction.
struct Child {
  pid_t pid = -1;
  unsigned short port = 0;
  ~Child() { stop(); }
  void stop() {
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    int st;
    for (int i = 0; i < 500 && ::waitpid(pid, &st, WNOHANG) != pid; ++i) ::usleep(10000);
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &st, 0);
    pid = -1;
  }
};

// Runs bin with args, output to log; waits for "listening on 127.0.0.1:PORT".
inline bool spawn(Child& c, const std::string& bin, std::vector<std::string> args,
                  const std::filesystem::path& log) {
  c.pid = ::fork();
  if (c.pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv{const_cast<char*>(bin.c_str())};
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  for (int i = 0; i < 3000; ++i) {
    std::ifstream in(log);
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("listening on 127.0.0.1:", 0) == 0) {
        c.port = static_cast<unsigned short>(std::stoi(line.substr(23)));
        return true;
      }
    int st;
    if (::waitpid(c.pid, &st, WNOHANG) == c.pid) {
      c.pid = -1;
      return false;
    }
    ::usleep(10000);
  }
  return false;
}

inline int sh(const std::string& cmd) { return std::system(cmd.c_str()); }

[[noreturn]] inline void die(const std::string& what) {
  std::fprintf(stderr, "bench: %s\n", what.c_str());
  std::exit(1);
}

}  // namespace wiretag::bench
