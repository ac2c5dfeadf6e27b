// The statistics and the sample attribution the peers bench judges its targets and its profile
// with (bench/bench_common.h, bench/program_profile.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <vector>

#include "bench_common.h"
#include "program_profile.h"

namespace {

using wiretag::bench::median_interval;

std::vector<double> one_to(int n) {
  std::vector<double> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 1.0);
  return v;
}

TEST(MedianInterval, TwentyFiveRoundsGiveTheEighthAndEighteenth) {
  auto v = one_to(25);
  std::reverse(v.begin(), v.end());  // the order of the rounds does not matter
  auto m = median_interval(v);
  EXPECT_EQ(m.median, 13);
  EXPECT_EQ(m.low, 8);
  EXPECT_EQ(m.high, 18);
}

TEST(MedianInterval, AHundredRoundsGiveTheFortiethAndSixtyFirst) {
  auto m = median_interval(one_to(100));
  EXPECT_EQ(m.median, 50.5);
  EXPECT_EQ(m.low, 40);
  EXPECT_EQ(m.high, 61);
}

TEST(MedianInterval, BelowNineValuesItIsTheWholeRange) {
  auto eight = median_interval(one_to(8));
  EXPECT_EQ(eight.low, 1);
  EXPECT_EQ(eight.high, 8);
  auto nine = median_interval(one_to(9));
  EXPECT_EQ(nine.low, 2);
  EXPECT_EQ(nine.high, 8);
}

TEST(MedianInterval, NoValuesGiveZeros) {
  auto m = median_interval({});
  EXPECT_EQ(m.median, 0);
  EXPECT_EQ(m.low, 0);
  EXPECT_EQ(m.high, 0);
}

// Two functions: the program at 0x1000 (lines at 0x1000, 0x1010, 0x1020) and a callee at
// 0x2000 (one line); nothing between them.
wiretag::bench::ProgramCode program() {
  wiretag::bench::ProgramCode p;
  p.name = "wt_stamp_prog";
  p.functions = {{0x1000, 0x1030}, {0x2000, 0x2010}};
  p.lines = {{0x1000, "wiretag.bpf.c:9", "int wt_stamp_prog(struct __sk_buff *skb)"},
             {0x1010, "endpoint.h:37", "word = *(volatile __u64 *)entry;"},
             {0x1020, "observe.h:45", "c = bpf_map_lookup_elem(&slot_counters, &index);"},
             {0x2000, "related.h:80", "return wt_flow_is_reply(ifindex, slot, &q);"}};
  return p;
}

TEST(ProfileAttribution, ASampleIsChargedToTheInstructionBeforeIt) {
  std::map<std::string, wiretag::bench::ProgramProfile> got;
  uint64_t on_cpu = 0;
  // 0x1010 is where endpoint.h:37 starts: the sample interrupted after the instruction before,
  // the entry's last. 0x1011 is inside endpoint.h:37.
  wiretag::bench::attribute({{1, 0x1010}, {1, 0x1011}, {1, 0x2005}}, {program()}, 1, got,
                            &on_cpu);
  const auto& p = got["wt_stamp_prog"];
  EXPECT_EQ(p.samples, 3u);
  EXPECT_EQ(p.by_line.at("wiretag.bpf.c:9  int wt_stamp_prog(struct __sk_buff *skb)"), 1u);
  EXPECT_EQ(p.by_line.at("endpoint.h:37  word = *(volatile __u64 *)entry;"), 1u);
  EXPECT_EQ(p.by_file.at("related.h"), 1u);  // a BPF-to-BPF callee is the program's too
}

TEST(ProfileAttribution, SamplesOutsideTheProgramsCountOnlyForTheirCpu) {
  std::map<std::string, wiretag::bench::ProgramProfile> got;
  uint64_t on_cpu = 0;
  // 0x1031: just past the program's end (0x1030 is charged to 0x102f, its last line); 0x1800:
  // between the functions; 0x1025 on another CPU.
  wiretag::bench::attribute({{1, 0x1031}, {1, 0x1800}, {1, 0x1030}, {0, 0x1025}}, {program()},
                            1, got, &on_cpu);
  EXPECT_EQ(on_cpu, 3u);
  const auto& p = got["wt_stamp_prog"];
  EXPECT_EQ(p.samples, 2u);
  EXPECT_EQ(p.on_cpu, 1u);
  EXPECT_EQ(p.by_file.at("observe.h"), 2u);
}

TEST(ProfileAttribution, CodeLinesAreTheSamplesOwnAddressesByLine) {
  std::map<std::string, wiretag::bench::ProgramProfile> got;
  uint64_t on_cpu = 0;
  // 0x1040 opens the main function's second 64-byte line (the sample is charged to 0x103f,
  // in the first, but the CPU was about to run the second); 0x2005 is the callee's, 64 lines
  // further; 0x1080 is charged to the program (0x107f) but is no code of it.
  auto prog = program();
  prog.functions[0].end = 0x1080;
  wiretag::bench::attribute({{1, 0x1040}, {1, 0x2005}, {1, 0x1080}}, {prog}, 1, got, &on_cpu);
  const auto& p = got["wt_stamp_prog"];
  EXPECT_EQ(p.samples, 3u);
  EXPECT_EQ(p.code_lines, (std::set<uint64_t>{1, 64}));
  EXPECT_EQ(p.code_lines_total, 3u);  // two lines, and the callee's one
}

}  // namespace
