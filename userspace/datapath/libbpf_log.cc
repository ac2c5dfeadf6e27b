#include "datapath/libbpf_log.h"

#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <string>

namespace wiretag {
namespace {

int libbpf_to_spdlog(enum libbpf_print_level level, const char* fmt, va_list args) {
  char buf[1024];
  int n = std::vsnprintf(buf, sizeof buf, fmt, args);
  std::string msg(buf, n > 0 ? std::min<size_t>(n, sizeof buf - 1) : 0);
  while (!msg.empty() && msg.back() == '\n') msg.pop_back();
  // bpf_tc_hook_create on an existing clsact: expected, and we treat -EEXIST as success.
  // Idempotent detach of a filter that is not there (or of a clsact qdisc that is not there,
  // as on a device a TCX owner attached first): expected too.
  if (msg.find("Exclusivity flag on") != std::string::npos ||
      msg.find("Cannot find specified filter chain") != std::string::npos ||
      msg.find("Parent Qdisc doesn't exists") != std::string::npos)
    level = LIBBPF_DEBUG;
  switch (level) {
    case LIBBPF_WARN:
      spdlog::warn("libbpf: {}", msg);
      break;
    case LIBBPF_INFO:
      spdlog::debug("libbpf: {}", msg);
      break;
    default:
      spdlog::trace("libbpf: {}", msg);
      break;
  }
  return n;
}

}  // namespace

void route_libbpf_logs() { libbpf_set_print(libbpf_to_spdlog); }

}  // namespace wiretag
