#include <arpa/inet.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

#include "cli/commands.h"
#include "cli/rule_syntax.h"
#include "common/log.h"

namespace wiretag::cli {
namespace {

struct DeviceArgs {
  std::string netns;
  std::string ifname;
  datapath::Device device() const { return {netns, ifname}; }
};

void add_device_flags(CLI::App* cmd, DeviceArgs& args) {
  cmd->add_option("--netns", args.netns,
                  "path of the device's network namespace file "
                  "(e.g. /var/run/netns/cell1); default: this one");
  cmd->add_option("--dev", args.ifname, "host-side veth of the container")->required();
}

[[noreturn]] void fail(const Error& e) {
  std::fprintf(stderr, "wiretag: %s: %s\n", e.code.c_str(), e.message.c_str());
  std::exit(1);
}

// Loads the programs and owns the pin dir: for the commands that change something.
std::unique_ptr<datapath::Datapath> open_datapath(const datapath::Options& options) {
  auto dp = datapath::Datapath::open(options);
  if (!dp) fail(dp.error());
  return std::move(dp.value());
}

template <class Dp>
uint32_t require_ifindex(const Dp& dp, const datapath::Device& d) {
  auto ifindex = dp.ifindex_of(d);
  if (!ifindex) fail(Error{"ENDPOINT_NOT_FOUND", "no endpoint on " + d.ifname + " (attach first)"});
  return *ifindex;
}

std::vector<Rule> parse_rules(const std::vector<std::string>& texts) {
  std::vector<Rule> rules;
  for (const auto& t : texts) {
    auto r = parse_rule(t);
    if (!r) fail(r.error());
    rules.push_back(*r);
  }
  return rules;
}

std::atomic<bool> g_stop{false};

}  // namespace

std::unique_ptr<datapath::PinnedDatapath> open_pinned(const datapath::Options& options) {
  auto dp = datapath::PinnedDatapath::open(options.pin_dir);
  if (!dp) fail(dp.error());
  return std::move(dp.value());
}

void add_endpoint_commands(CLI::App& app, datapath::Options& options) {
  auto* ep = app.add_subcommand("endpoint", "attach, configure and inspect endpoints on this host");
  ep->require_subcommand(1);

  {
    static DeviceArgs dev;
    static uint32_t tag = 0;
    static std::string mode = "enforce", ipv4, ipv6;
    static bool deny_untagged = false;
    auto* c = ep->add_subcommand("attach",
                                 "install stamp and enforce programs on a device "
                                 "(idempotent; updates settings if attached)");
    add_device_flags(c, dev);
    c->add_option("--tag", tag, "the endpoint's own wire tag, stamped on what it sends")
        ->required();
    c->add_option("--mode", mode, "enforce | audit | bypass")
        ->check(CLI::IsMember({"enforce", "audit", "bypass"}));
    c->add_flag("--deny-untagged", deny_untagged, "drop untagged (tag 0) packets");
    c->add_option("--ipv4", ipv4, "anti-spoofing: the only IPv4 source the container may use");
    c->add_option("--ipv6", ipv6, "anti-spoofing: the only IPv6 source the container may use");
    c->callback([&options] {
      datapath::EndpointSettings s;
      s.tag = tag;
      s.mode = mode == "audit"    ? datapath::Mode::Audit
               : mode == "bypass" ? datapath::Mode::Bypass
                                  : datapath::Mode::Enforce;
      s.allow_untagged = !deny_untagged;
      if (!ipv4.empty()) {
        std::array<uint8_t, 4> a;
        if (inet_pton(AF_INET, ipv4.c_str(), a.data()) != 1)
          fail(Error{"INVALID_ADDRESS", "--ipv4 " + ipv4});
        s.antispoof_ipv4 = a;
      }
      if (!ipv6.empty()) {
        std::array<uint8_t, 16> a;
        if (inet_pton(AF_INET6, ipv6.c_str(), a.data()) != 1)
          fail(Error{"INVALID_ADDRESS", "--ipv6 " + ipv6});
        s.antispoof_ipv6 = a;
      }
      auto dp = open_datapath(options);
      auto r = dp->attach(dev.device(), s);
      if (!r) fail(r.error());
      std::printf("attached %s (ifindex %u) tag %u mode %s\n", dev.ifname.c_str(), *r, tag,
                  mode.c_str());
    });
  }
  {
    static DeviceArgs dev;
    auto* c = ep->add_subcommand("detach",
                                 "remove the programs and all state of a device "
                                 "(idempotent)");
    add_device_flags(c, dev);
    c->callback([&options] {
      auto dp = open_datapath(options);
      if (auto r = dp->detach(dev.device()); !r) fail(r.error());
      std::printf("detached %s\n", dev.ifname.c_str());
    });
  }
  {
    static DeviceArgs dev;
    static std::vector<std::string> rules;
    auto* c = ep->add_subcommand("policy",
                                 "atomically replace the sources allowed into a "
                                 "device; no --rule allows no tagged source");
    add_device_flags(c, dev);
    c->add_option("--rule", rules,
                  "SOURCE_TAG/PROTO[/PORT[-PORT]]; SOURCE_TAG * = any tagged source; PROTO "
                  "tcp|udp|icmp|any (repeatable)");
    c->callback([&options] {
      auto parsed = parse_rules(rules);
      auto dp = open_datapath(options);
      uint32_t ifindex = require_ifindex(*dp, dev.device());
      if (auto r = dp->replace_policy(ifindex, parsed); !r) fail(r.error());
      std::printf("%s: %zu rule(s) in force\n", dev.ifname.c_str(), parsed.size());
    });
  }
  {
    auto* c = ep->add_subcommand("list", "endpoints of this host's datapath");
    c->callback([&options] {
      auto dp = open_pinned(options);
      std::printf("%-8s %-16s %-28s %-10s %-8s %-6s %s\n", "IFINDEX", "DEVICE", "NETNS", "TAG",
                  "MODE", "GEN", "ENTRIES(src/port)");
      for (const auto& e : dp->endpoints())
        std::printf("%-8u %-16s %-28s %-10u %-8s %-6u %zu/%zu\n", e.ifindex,
                    e.device.ifname.c_str(), e.device.netns.empty() ? "-" : e.device.netns.c_str(),
                    e.config.tag, datapath::mode_name(e.config.mode), e.config.generation,
                    e.rules_src_entries, e.rules_port_entries);
    });
  }
  {
    static DeviceArgs dev;
    auto* c = ep->add_subcommand("counters",
                                 "packets and bytes per endpoint, direction, reason "
                                 "and verdict");
    c->add_option("--netns", dev.netns, "network namespace of --dev");
    c->add_option("--dev", dev.ifname, "only this device");
    c->callback([&options] {
      auto dp = open_pinned(options);
      std::optional<uint32_t> only;
      if (!dev.ifname.empty()) only = require_ifindex(*dp, dev.device());
      std::printf("%-8s %-8s %-20s %-8s %12s %14s\n", "IFINDEX", "DIR", "REASON", "VERDICT",
                  "PACKETS", "BYTES");
      for (const auto& row : dp->counters(only)) {
        const char* reason = datapath::reason_name(row.key.reason);
        std::printf("%-8u %-8s %-20s %-8s %12llu %14llu\n", row.key.ifindex,
                    datapath::direction_name(row.key.direction), reason ? reason : "?",
                    row.key.verdict == WT_VERDICT_DROP ? "drop" : "pass",
                    static_cast<unsigned long long>(row.total.packets),
                    static_cast<unsigned long long>(row.total.bytes));
      }
    });
  }

  {
    auto* dpc = app.add_subcommand("datapath", "the datapath process itself");
    dpc->require_subcommand(1);
    static DeviceArgs dev;
    static std::vector<std::string> rules_a, rules_b;
    auto* c = dpc->add_subcommand(
        "hold",
        "load and adopt the datapath and keep it open until SIGTERM; with --churn-dev, "
        "replace that endpoint's policy in a loop alternating --rule-a and --rule-b "
        "(restart-safety tests)");
    c->add_option("--netns", dev.netns, "network namespace of --churn-dev");
    c->add_option("--churn-dev", dev.ifname, "endpoint whose policy is replaced in a loop");
    c->add_option("--rule-a", rules_a, "first rule set (repeatable)");
    c->add_option("--rule-b", rules_b, "second rule set (repeatable)");
    c->callback([&options] {
      auto a = parse_rules(rules_a), b = parse_rules(rules_b);
      auto dp = open_datapath(options);
      std::signal(SIGINT, [](int) { g_stop = true; });
      std::signal(SIGTERM, [](int) { g_stop = true; });
      std::optional<uint32_t> ifindex;
      if (!dev.ifname.empty()) ifindex = require_ifindex(*dp, dev.device());
      std::printf("holding datapath (pid %d)\n", getpid());
      std::fflush(stdout);
      uint64_t replaces = 0;
      while (!g_stop) {
        if (!ifindex) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          continue;
        }
        if (auto r = dp->replace_policy(*ifindex, replaces % 2 ? b : a); !r) fail(r.error());
        ++replaces;
      }
      std::printf("stopped after %llu policy replaces\n",
                  static_cast<unsigned long long>(replaces));
    });
  }
}

}  // namespace wiretag::cli
