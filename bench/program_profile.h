// Where a BPF program's time goes in situ, by source line (wiretag-bench-peers --profile).
//
// perf samples every CPU on its cpu-clock (a timer: it needs no PMU, so it works in the VMs
// these benches run on); each sample's kernel address is found in the jited code of the
// programs loaded at the time, and charged to the BPF source line the kernel's line info
// gives for it. A timer sample interrupts after the instruction that stalled, so it is
// charged to the instruction before its address. The first lines of a program (its prologue)
// carry the cost of entering it, which an empty program pays too.
#pragma once

#include <linux/bpf.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace wiretag::bench {

// One loaded program's jited code: its functions' address ranges and each line-info record's
// first address, with the source line it came from.
struct ProgramCode {
  std::string name;  // the program's own name (e.g. "wt_stamp_prog")
  struct Range {
    uint64_t start = 0, end = 0;
  };
  std::vector<Range> functions;  // the main program and its BPF-to-BPF callees
  struct Line {
    uint64_t addr = 0;
    std::string where;  // "endpoint.h:37"
    std::string text;   // the source line, trimmed
  };
  std::vector<Line> lines;  // by address

  bool holds(uint64_t addr) const;
  // How many 64-byte lines its functions span.
  uint64_t cache_lines() const;
  // The line whose code holds `addr` (holds() first); nullptr before the first record.
  const Line* line_at(uint64_t addr) const;
};

// Calls fn(id, fd, info) for every loaded TC and XDP program; the fd is closed after.
void for_each_packet_program(const std::function<void(uint32_t, int, const bpf_prog_info&)>& fn);

// Every loaded TC and XDP program whose name is in `names` (all of them when empty), read
// through bpf_obj_get_info_by_fd and the program's BTF.
std::vector<ProgramCode> loaded_programs(const std::vector<std::string>& names = {});

// `perf record -e cpu-clock -a` into a file, from start() until stop().
class PerfRecord {
 public:
  PerfRecord(std::string path, int hz) : path_(std::move(path)), hz_(hz) {}
  ~PerfRecord();
  PerfRecord(const PerfRecord&) = delete;
  PerfRecord& operator=(const PerfRecord&) = delete;
  // False (and a message on stderr) when perf is missing or did not start.
  bool start();
  void stop();
  struct Sample {
    int cpu = -1;
    uint64_t ip = 0;
  };
  // Every sample, in the order taken.
  std::vector<Sample> samples() const;
  int hz() const { return hz_; }

 private:
  std::string path_;
  int hz_;
  pid_t pid_ = -1;
};

// Samples per program and per source line, accumulated over any number of recordings.
struct ProgramProfile {
  uint64_t samples = 0;
  uint64_t on_cpu = 0;  // of them, those taken on the CPU the path runs on
  std::map<std::string, uint64_t> by_line;  // "endpoint.h:37  word = *(volatile ...)"
  std::map<std::string, uint64_t> by_file;  // "endpoint.h"
  // The 64-byte lines of its jited code that samples were taken at (each sample's own address:
  // code the CPU was about to run), numbered from the main function's first line; and how
  // many lines its functions span. The packet's path fetches at least those lines.
  std::set<uint64_t> code_lines;
  uint64_t code_lines_total = 0;
};
// program name -> its profile; samples outside every program are ignored. `cpu`: the CPU
// whose whole time is the measured path (the flood sender's: its softirq runs the path); its
// samples, in any code, are added to *cpu_samples.
void attribute(const std::vector<PerfRecord::Sample>& samples,
               const std::vector<ProgramCode>& programs, int cpu,
               std::map<std::string, ProgramProfile>& into, uint64_t* cpu_samples);

// The kernel's text symbols (/proc/kallsyms, modules included), to charge samples outside BPF
// programs to the function they fell in.
class KernelSymbols {
 public:
  // Empty (and at() finds nothing) when kallsyms gives no addresses (not root, kptr_restrict).
  static KernelSymbols load();
  // The function holding addr, or nullptr.
  const std::string* at(uint64_t addr) const;
  bool empty() const { return starts_.empty(); }

 private:
  std::vector<uint64_t> starts_;  // sorted
  std::vector<std::string> names_;
};

// Netfilter's own functions: the hook walk (nf_hook_slow), nf_tables' chains, expressions and
// sets, iptables' matches, conntrack. A filter in nftables or iptables costs the path these.
bool is_netfilter_symbol(const std::string& name);

// Samples taken on `cpu` in a kernel function `charge` accepts (and in no BPF program), by
// function, into `into` (by_line keyed by the function's name).
void attribute_kernel(const std::vector<PerfRecord::Sample>& samples,
                      const std::vector<ProgramCode>& programs, const KernelSymbols& symbols,
                      int cpu, const std::function<bool(const std::string&)>& charge,
                      ProgramProfile& into);

// The report: per program, ns per packet (samples / hz / packets) and its share of the path's
// CPU (on_cpu / cpu_samples: unlike ns, a share does not move with the machine's speed), how
// many of its code lines the samples touched, its files' shares and its `top` lines.
void print_profile(const std::string& title, const std::map<std::string, ProgramProfile>& profiles,
                   double packets, uint64_t cpu_samples, int hz, size_t top);

}  // namespace wiretag::bench
