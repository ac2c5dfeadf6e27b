#include "program_profile.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

namespace wiretag::bench {

namespace {
constexpr uint64_t kCacheLine = 64;
}  // namespace

bool ProgramCode::holds(uint64_t addr) const {
  return std::any_of(functions.begin(), functions.end(),
                     [&](const Range& r) { return addr >= r.start && addr < r.end; });
}

uint64_t ProgramCode::cache_lines() const {
  uint64_t n = 0;
  for (const Range& f : functions) n += (f.end - 1) / kCacheLine - f.start / kCacheLine + 1;
  return n;
}

const ProgramCode::Line* ProgramCode::line_at(uint64_t addr) const {
  auto it = std::upper_bound(lines.begin(), lines.end(), addr,
                             [](uint64_t a, const Line& l) { return a < l.addr; });
  return it == lines.begin() ? nullptr : &*std::prev(it);
}

namespace {

std::string trimmed(const char* s) {
  std::string t = s ? s : "";
  size_t b = t.find_first_not_of(" \t"), e = t.find_last_not_of(" \t");
  return b == std::string::npos ? "" : t.substr(b, e - b + 1);
}

// One program's code and line info; false when the kernel gives no line info.
bool read_program(int fd, ProgramCode& out) {
  bpf_prog_info info{};
  uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return false;
  const uint32_t nlines = info.nr_line_info, njited = info.nr_jited_line_info;
  const uint32_t nfuncs = info.nr_jited_ksyms, line_rec = info.line_info_rec_size;
  const uint32_t btf_id = info.btf_id;
  if (nlines == 0 || njited != nlines || nfuncs == 0 || btf_id == 0) return false;
  std::vector<uint8_t> line_info(size_t{nlines} * line_rec);
  std::vector<uint64_t> jited(njited), ksyms(nfuncs);
  std::vector<uint32_t> func_lens(nfuncs);
  bpf_prog_info more{};
  more.nr_line_info = nlines;
  more.line_info_rec_size = line_rec;
  more.line_info = reinterpret_cast<uintptr_t>(line_info.data());
  more.nr_jited_line_info = njited;
  more.jited_line_info_rec_size = sizeof(uint64_t);
  more.jited_line_info = reinterpret_cast<uintptr_t>(jited.data());
  more.nr_jited_ksyms = nfuncs;
  more.jited_ksyms = reinterpret_cast<uintptr_t>(ksyms.data());
  more.nr_jited_func_lens = nfuncs;
  more.jited_func_lens = reinterpret_cast<uintptr_t>(func_lens.data());
  len = sizeof more;
  if (bpf_obj_get_info_by_fd(fd, &more, &len) != 0) return false;
  std::unique_ptr<btf, decltype(&btf__free)> types(btf__load_from_kernel_by_id(btf_id),
                                                     btf__free);
  if (!types) return false;
  out.name = info.name;
  for (uint32_t i = 0; i < nfuncs; ++i) out.functions.push_back({ksyms[i], ksyms[i] + func_lens[i]});
  for (uint32_t i = 0; i < nlines; ++i) {
    bpf_line_info rec;
    std::memcpy(&rec, line_info.data() + size_t{i} * line_rec, sizeof rec);
    const char* file = btf__name_by_offset(types.get(), rec.file_name_off);
    const char* base = file ? std::strrchr(file, '/') : nullptr;
    std::string where = base ? base + 1 : (file ? file : "?");
    where += ":" + std::to_string(BPF_LINE_INFO_LINE_NUM(rec.line_col));
    out.lines.push_back({jited[i], where, trimmed(btf__name_by_offset(types.get(), rec.line_off))});
  }
  std::stable_sort(out.lines.begin(), out.lines.end(),
                   [](const auto& a, const auto& b) { return a.addr < b.addr; });
  return true;
}

}  // namespace

void for_each_packet_program(const std::function<void(uint32_t, int, const bpf_prog_info&)>& fn) {
  uint32_t id = 0;
  while (bpf_prog_get_next_id(id, &id) == 0) {
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) continue;
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
        (info.type == BPF_PROG_TYPE_SCHED_CLS || info.type == BPF_PROG_TYPE_XDP))
      fn(id, fd, info);
    ::close(fd);
  }
}

std::vector<ProgramCode> loaded_programs(const std::vector<std::string>& names) {
  std::vector<ProgramCode> out;
  for_each_packet_program([&](uint32_t, int fd, const bpf_prog_info& info) {
    ProgramCode code;
    if ((names.empty() || std::find(names.begin(), names.end(), info.name) != names.end()) &&
        read_program(fd, code))
      out.push_back(std::move(code));
  });
  return out;
}

PerfRecord::~PerfRecord() { stop(); }

bool PerfRecord::start() {
  std::string hz = std::to_string(hz_);
  pid_ = ::fork();
  if (pid_ < 0) return false;
  if (pid_ == 0) {
    // The bench blocks SIGINT and SIGTERM for its cleanup thread; perf must get them.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // A bench killed without its destructors must not leave a perf sampling every CPU.
    ::prctl(PR_SET_PDEATHSIG, SIGINT);
    // Its summary lines on stderr would interleave with the bench's table.
    if (FILE* null = std::fopen("/dev/null", "w")) ::dup2(fileno(null), STDERR_FILENO);
    ::execlp("perf", "perf", "record", "-q", "-e", "cpu-clock", "-F", hz.c_str(), "-a", "-o",
             path_.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // perf needs a moment to open its events on every CPU; a flood before that goes unseen.
  for (int i = 0; i < 50; ++i) {
    ::usleep(20000);
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      std::fprintf(stderr, "--profile: perf did not start (exit %d): is linux-perf installed? "
                           "scripts/install-deps.sh installs it\n",
                   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
      pid_ = -1;
      return false;
    }
    if (::access(path_.c_str(), F_OK) == 0 && i >= 10) return true;
  }
  return true;
}

void PerfRecord::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGINT);
  int status;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::vector<PerfRecord::Sample> PerfRecord::samples() const {
  std::vector<Sample> out;
  std::string cmd = "perf script -i '" + path_ + "' -F cpu,ip 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p)) {
    Sample s;  // "[001]     ffffffffc0123456"
    const char* open = std::strchr(buf, '[');
    char* end = nullptr;
    if (open) s.cpu = static_cast<int>(std::strtol(open + 1, &end, 10));
    const char* close = std::strchr(buf, ']');
    s.ip = std::strtoull(close ? close + 1 : buf, nullptr, 16);
    if (s.ip) out.push_back(s);
  }
  ::pclose(p);
  return out;
}

void attribute(const std::vector<PerfRecord::Sample>& samples,
               const std::vector<ProgramCode>& programs, int cpu,
               std::map<std::string, ProgramProfile>& into, uint64_t* cpu_samples) {
  for (const auto& sample : samples) {
    if (sample.cpu == cpu) ++*cpu_samples;
    const uint64_t at = sample.ip - 1;  // the instruction the sample interrupted after
    for (const ProgramCode& prog : programs) {
      if (!prog.holds(at)) continue;
      ProgramProfile& p = into[prog.name];
      ++p.samples;
      p.code_lines_total = prog.cache_lines();
      if (prog.holds(sample.ip))
        p.code_lines.insert(sample.ip / kCacheLine - prog.functions.front().start / kCacheLine);
      if (sample.cpu == cpu) ++p.on_cpu;
      const ProgramCode::Line* line = prog.line_at(at);
      std::string where = line ? line->where : "?";
      ++p.by_file[where.substr(0, where.find(':'))];
      ++p.by_line[line ? where + "  " + line->text : "?"];
      break;
    }
  }
}

KernelSymbols KernelSymbols::load() {
  KernelSymbols out;
  FILE* f = std::fopen("/proc/kallsyms", "r");
  if (!f) return out;
  std::vector<std::pair<uint64_t, std::string>> syms;
  char line[512];
  while (std::fgets(line, sizeof line, f)) {
    char type = 0;
    char name[256] = {};
    unsigned long long addr = 0;  // "ffffffff81000000 T _text" or "... t nft_do_chain\t[nf_tables]"
    if (std::sscanf(line, "%llx %c %255s", &addr, &type, name) != 3 || addr == 0) continue;
    if (type != 't' && type != 'T') continue;
    syms.emplace_back(addr, name);
  }
  std::fclose(f);
  std::sort(syms.begin(), syms.end());
  for (auto& [addr, name] : syms) {
    out.starts_.push_back(addr);
    out.names_.push_back(std::move(name));
  }
  return out;
}

const std::string* KernelSymbols::at(uint64_t addr) const {
  auto it = std::upper_bound(starts_.begin(), starts_.end(), addr);
  if (it == starts_.begin()) return nullptr;
  return &names_[static_cast<size_t>(it - starts_.begin()) - 1];
}

bool is_netfilter_symbol(const std::string& name) {
  static const char* const prefixes[] = {"nf_", "__nf_", "nft_", "__nft_", "nf_tables", "xt_",
                                         "ipt_", "iptable_", "ipv4_conntrack", "ipv4_confirm",
                                         "ipv6_conntrack", "ipv6_confirm", "hash_conntrack",
                                         "tcp_mt", "udp_mt", "conntrack_mt", "state_mt"};
  return std::any_of(std::begin(prefixes), std::end(prefixes),
                     [&](const char* p) { return name.rfind(p, 0) == 0; });
}

void attribute_kernel(const std::vector<PerfRecord::Sample>& samples,
                      const std::vector<ProgramCode>& programs, const KernelSymbols& symbols,
                      int cpu, const std::function<bool(const std::string&)>& charge,
                      ProgramProfile& into) {
  for (const auto& sample : samples) {
    if (sample.cpu != cpu) continue;
    const uint64_t at = sample.ip - 1;
    if (std::any_of(programs.begin(), programs.end(),
                    [&](const ProgramCode& p) { return p.holds(at); }))
      continue;
    const std::string* fn = symbols.at(at);
    if (!fn || !charge(*fn)) continue;
    ++into.samples;
    ++into.on_cpu;
    ++into.by_line[*fn];
  }
}

void print_profile(const std::string& title, const std::map<std::string, ProgramProfile>& profiles,
                   double packets, uint64_t cpu_samples, int hz, size_t top) {
  for (const auto& [name, p] : profiles) {
    if (p.samples == 0) continue;
    std::printf("  %s, %s: %.1f ns per packet, %.2f%% of the path's CPU (%lu samples)\n",
                title.c_str(), name.c_str(),
                packets > 0 ? 1e9 * static_cast<double>(p.samples) / hz / packets : 0.0,
                cpu_samples ? 100.0 * static_cast<double>(p.on_cpu) / cpu_samples : 0.0,
                static_cast<unsigned long>(p.samples));
    if (p.code_lines_total)
      std::printf("    code: samples at %zu of its %lu 64-byte lines\n", p.code_lines.size(),
                  static_cast<unsigned long>(p.code_lines_total));
    std::vector<std::pair<uint64_t, std::string>> files, lines;
    for (const auto& [f, n] : p.by_file) files.emplace_back(n, f);
    for (const auto& [l, n] : p.by_line) lines.emplace_back(n, l);
    std::sort(files.rbegin(), files.rend());
    std::sort(lines.rbegin(), lines.rend());
    if (!files.empty()) {
      std::printf("    by file:");
      for (const auto& [n, f] : files)
        std::printf(" %s %.0f%%", f.c_str(), 100.0 * static_cast<double>(n) / p.samples);
      std::printf("\n");
    }
    for (size_t i = 0; i < lines.size() && i < top; ++i)
      std::printf("    %5.1f%%  %.100s\n", 100.0 * static_cast<double>(lines[i].first) / p.samples,
                  lines[i].second.c_str());
  }
}

}  // namespace wiretag::bench
