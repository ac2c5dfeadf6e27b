#include "prog_runner.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <tuple>

namespace wiretag::test {
namespace {

using CounterId = std::tuple<uint32_t, uint8_t, uint8_t, uint8_t>;  // ifindex, dir, reason, verdict

std::map<CounterId, uint64_t> snapshot(const datapath::Datapath& dp) {
  std::map<CounterId, uint64_t> out;
  for (const auto& row : dp.counters())
    out[{row.key.ifindex, row.key.direction, row.key.reason, row.key.verdict}] = row.total.packets;
  return out;
}

}  // namespace

std::string reason_text(uint32_t reason) {
  const char* name = datapath::reason_name(reason);
  return name ? name : "reason#" + std::to_string(reason);
}

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  if (!o.error.empty()) return os << "{error: " << o.error << "}";
  return os << "{retval " << o.retval << ", reason " << reason_text(o.reason) << ", verdict "
            << (o.verdict == WT_VERDICT_PASS   ? "pass"
                : o.verdict == WT_VERDICT_DROP ? "drop"
                                               : "?")
            << ", direction " << int(o.direction) << ", mark 0x" << std::hex << o.mark << std::dec
            << ", counter rows changed " << o.counter_rows_changed << "}";
}

datapath::Options test_options() {
  datapath::Options o;
  o.pin_dir = "";
  o.max_policy_entries = 1u << 16;
  o.max_flows = 4096;
  return o;
}

std::unique_ptr<ProgRunner> ProgRunner::open(const datapath::Options& options, std::string* error) {
  auto dp = datapath::Datapath::open(options);
  if (!dp) {
    if (error) *error = dp.error().code + ": " + dp.error().message;
    return nullptr;
  }
  return std::unique_ptr<ProgRunner>(new ProgRunner(std::move(dp.value())));
}

std::unique_ptr<ProgRunner> open_runner(const datapath::Options& options) {
  std::string error;
  auto r = ProgRunner::open(options, &error);
  EXPECT_TRUE(r) << error;
  return r;
}

std::string ProgRunner::configure(const EndpointSetup& endpoint, const std::vector<Rule>& rules,
                                  uint32_t ifindex) {
  if (!endpoint.present) return "";
  datapath::EndpointSettings settings;
  settings.tag = endpoint.tag;
  settings.mode = static_cast<datapath::Mode>(endpoint.mode);
  settings.allow_untagged = endpoint.untagged == WT_UNTAGGED_ALLOW;
  if (endpoint.flags & WT_EP_ANTISPOOF_V4) {
    settings.antispoof_ipv4.emplace();
    if (inet_pton(AF_INET, endpoint.ipv4.c_str(), settings.antispoof_ipv4->data()) != 1)
      return "bad ipv4 " + endpoint.ipv4;
  }
  if (endpoint.flags & WT_EP_ANTISPOOF_V6) {
    settings.antispoof_ipv6.emplace();
    if (inet_pton(AF_INET6, endpoint.ipv6.c_str(), settings.antispoof_ipv6->data()) != 1)
      return "bad ipv6 " + endpoint.ipv6;
  }
  if (auto r = dp_->define(ifindex, settings); !r) return r.error().message;
  if (auto r = dp_->replace_policy(ifindex, rules); !r) return r.error().message;
  dp_->settle();  // the maps hold only the rules in force: tests count and erase entries
  return "";
}

int ProgRunner::run_action(Program prog, const std::vector<uint8_t>& frame, uint32_t mark,
                           uint32_t* mark_out, uint32_t ifindex, uint32_t gso_size) const {
  std::vector<uint8_t> out(frame.size() + 512);
  __sk_buff ctx{};
  ctx.mark = mark;
  ctx.ifindex = ifindex;
  ctx.gso_size = gso_size;
  ctx.gso_segs = gso_size ? 2 : 0;
  __sk_buff ctx_out{};
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
              .data_size_in = static_cast<__u32>(frame.size()),
              .data_size_out = static_cast<__u32>(out.size()), .ctx_in = &ctx, .ctx_out = &ctx_out,
              .ctx_size_in = sizeof ctx, .ctx_size_out = sizeof ctx_out, .repeat = 1);
  int fd = prog == Program::Stamp ? dp_->stamp_prog_fd() : dp_->enforce_prog_fd();
  if (bpf_prog_test_run_opts(fd, &opts) != 0) return -errno;
  if (mark_out) *mark_out = ctx_out.mark;
  return static_cast<int>(opts.retval);
}

Outcome ProgRunner::run(Program prog, const std::vector<uint8_t>& frame, uint32_t mark,
                        uint32_t ifindex, uint32_t gso_size) {
  Outcome o;
  auto before = snapshot(*dp_);
  int rc = run_action(prog, frame, mark, &o.mark, ifindex, gso_size);
  if (rc < 0) {
    o.error = std::string("BPF_PROG_TEST_RUN: ") + std::strerror(-rc);
    return o;
  }
  o.retval = rc;
  for (const auto& [id, packets] : snapshot(*dp_)) {
    auto it = before.find(id);
    if (packets == (it == before.end() ? 0 : it->second)) continue;
    ++o.counter_rows_changed;
    o.ifindex = std::get<0>(id);
    o.direction = std::get<1>(id);
    o.reason = std::get<2>(id);
    o.verdict = std::get<3>(id);
  }
  return o;
}

}  // namespace wiretag::test
