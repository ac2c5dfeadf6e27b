// The programs' load-time settings (abi.h struct wt_config, bpf/lib/config.h wt_cfg): built
// once from the datapath's options, taken by the verifier as constants, and the same in every
// object loaded from bpf/lib, read back from each loaded program's .rodata.
#include "datapath/program_config.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "datapath/flow_cache.h"
#include "datapath/trace.h"
#include "prog_runner.h"

namespace wiretag::test {
namespace {

// The instructions the kernel kept of a loaded program (after the verifier's dead-code removal).
uint32_t xlated_length(int prog_fd) {
  bpf_prog_info info{};
  __u32 len = sizeof info;
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0) return 0;
  return info.xlated_prog_len;
}

std::string describe(const wt_config& c) {
  char buf[512];
  std::snprintf(
      buf, sizeof buf,
      "ns tcp %llu udp %llu other %llu refresh %llu fragment %llu; jiffies tcp %llu "
      "udp %llu other %llu refresh %llu; tag_mask %#x flow_cache_shift %u "
      "events_per_sec %u endpoint_index_mask %#x vxlan_port %u verdict_cache_on %u",
      (unsigned long long)c.flow_timeout_tcp_ns, (unsigned long long)c.flow_timeout_udp_ns,
      (unsigned long long)c.flow_timeout_other_ns, (unsigned long long)c.flow_refresh_ns,
      (unsigned long long)c.fragment_timeout_ns, (unsigned long long)c.flow_timeout_tcp_jiffies,
      (unsigned long long)c.flow_timeout_udp_jiffies,
      (unsigned long long)c.flow_timeout_other_jiffies, (unsigned long long)c.flow_refresh_jiffies,
      c.tag_mask, c.flow_cache_shift, c.events_per_sec, c.endpoint_index_mask, c.vxlan_port,
      c.verdict_cache_on);
  return buf;
}

bool same_bytes(const wt_config& a, const wt_config& b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// Settings none of which is the compiled-in default, so that any field an object was not
// given shows.
datapath::Options unusual_options() {
  auto o = test_options();
  o.tag_length = 3;
  o.events_per_sec = 777;
  o.endpoint_index_size = 1024;
  o.flow_cache_sets = 2 * WT_FLOW_CACHE_MIN_SETS;
  o.vxlan_port = 4790;
  return o;
}

TEST(ProgramConfig, IsBuiltFromTheDatapathOptions) {
  const wt_config c = datapath::program_config(unusual_options(), 250);
  EXPECT_EQ(c.tag_mask, 0xffffffu);
  EXPECT_EQ(c.verdict_cache_on, 0) << "tags over 16 bits: no verdict cache";
  EXPECT_EQ(c.events_per_sec, 777u);
  EXPECT_EQ(c.endpoint_index_mask, 1023u);
  EXPECT_EQ(c.flow_cache_shift, 64u - 13);
  EXPECT_EQ(c.vxlan_port, 4790);
  EXPECT_EQ(c.flow_timeout_tcp_ns, WT_FLOW_TIMEOUT_TCP_NS);
  EXPECT_EQ(c.flow_timeout_tcp_jiffies, 7200u * 250);
  EXPECT_EQ(c.flow_refresh_jiffies, 250u);
  EXPECT_EQ(datapath::program_config(test_options(), 250).verdict_cache_on, 1);
}

// Every object loaded from bpf/lib runs with the TC programs' settings (the trace programs
// with their own flow cache's shift): read back from each loaded program's .rodata.
TEST(ProgramConfig, EveryObjectRunsTheTcProgramsSettings) {
  auto runner = open_runner(unusual_options());
  ASSERT_TRUE(runner);
  auto& dp = runner->datapath();
  auto enforce = datapath::loaded_program_config(dp.enforce_prog_fd());
  ASSERT_TRUE(enforce) << enforce.error().message;
  const wt_config want = datapath::program_config(unusual_options(), dp.kernel_hz());
  EXPECT_TRUE(same_bytes(*enforce, want))
      << "enforce: " << describe(*enforce) << "\nwanted:  " << describe(want);
  EXPECT_TRUE(same_bytes(dp.program_config(), want));

  auto stamp = datapath::loaded_program_config(dp.stamp_prog_fd());
  ASSERT_TRUE(stamp) << stamp.error().message;
  EXPECT_TRUE(same_bytes(*stamp, *enforce))
      << "stamp:   " << describe(*stamp) << "\nenforce: " << describe(*enforce);

  auto gate_fd = dp.gate_prog_fd();
  ASSERT_TRUE(gate_fd) << gate_fd.error().message;
  auto gate = datapath::loaded_program_config(*gate_fd);
  ASSERT_TRUE(gate) << gate.error().message;
  EXPECT_TRUE(same_bytes(*gate, *enforce))
      << "gate:    " << describe(*gate) << "\nenforce: " << describe(*enforce);

  auto trace = datapath::trace_program_config(datapath::LiveMaps::of(dp));
  ASSERT_TRUE(trace) << trace.error().message;
  wt_config trace_want = *enforce;
  trace_want.flow_cache_shift = datapath::flow_cache_shift_of(WT_FLOW_CACHE_MIN_SETS);
  EXPECT_TRUE(same_bytes(*trace, trace_want))
      << "trace:   " << describe(*trace) << "\nwanted:  " << describe(trace_want);
}

// Tags over 16 bits turn the verdict cache off (wt_cfg.verdict_cache_on = 0): the verifier,
// reading the frozen .rodata as constants, removes the cache's code from the programs.
TEST(ProgramConfig, VerdictCacheOffIsCompiledOut) {
  auto cached = test_options();
  cached.tag_length = 2;
  auto uncached = test_options();
  uncached.tag_length = 4;
  auto with = open_runner(cached);
  auto without = open_runner(uncached);
  ASSERT_TRUE(with && without);
  const uint32_t enforce_with = xlated_length(with->datapath().enforce_prog_fd());
  const uint32_t enforce_without = xlated_length(without->datapath().enforce_prog_fd());
  const uint32_t stamp_with = xlated_length(with->datapath().stamp_prog_fd());
  const uint32_t stamp_without = xlated_length(without->datapath().stamp_prog_fd());
  std::printf("xlated bytes: enforce %u (cache on) %u (off); stamp %u (on) %u (off)\n",
              enforce_with, enforce_without, stamp_with, stamp_without);
  ASSERT_GT(enforce_without, 0u);
  EXPECT_LT(enforce_without, enforce_with);
}

}  // namespace
}  // namespace wiretag::test
