// wiretag gate: the XDP gate on a cell's underlay device, as the datapath's owner (the agent
// does the same with --underlay; these are for a host without one, and the lab).
#include <cstdio>

#include "cli/commands.h"

namespace wiretag::cli {
namespace {

[[noreturn]] void fail(const Error& e) {
  std::fprintf(stderr, "wiretag: %s: %s\n", e.code.c_str(), e.message.c_str());
  std::exit(1);
}

}  // namespace

void add_gate_commands(CLI::App& app, datapath::Options& options) {
  auto* gate = app.add_subcommand("gate", "the XDP gate on this cell's underlay device");
  gate->require_subcommand(1);
  static datapath::Device dev;
  static std::vector<std::string> vteps;
  static bool keep_vteps = false;
  auto* attach = gate->add_subcommand(
      "attach",
      "attach the gate to the underlay device (replacing the one there) and set the VTEP "
      "addresses it believes: VXLAN from any other outer source is dropped (drop_unknown_vtep)");
  attach->add_option("--netns", dev.netns, "path of the device's network namespace file");
  attach->add_option("--dev", dev.ifname, "the underlay device")->required();
  attach->add_option("--vtep", vteps,
                     "a cell's VTEP address (repeatable): the set, replaced whole");
  attach->add_flag("--keep-vteps", keep_vteps, "leave the set as it is");
  attach->callback([&options] {
    auto dp = datapath::Datapath::open(options);
    if (!dp) fail(dp.error());
    if (!keep_vteps)
      if (auto r = (*dp)->set_vteps(vteps); !r) fail(r.error());
    auto ifindex = (*dp)->attach_gate(dev);
    if (!ifindex) fail(ifindex.error());
    std::printf("gate attached to %s (ifindex %u), %zu VTEP(s) believed\n", dev.ifname.c_str(),
                *ifindex, (*dp)->vteps().size());
  });
  static datapath::Device detach_dev;
  auto* detach = gate->add_subcommand("detach", "remove the gate from the device (idempotent)");
  detach->add_option("--netns", detach_dev.netns, "path of the device's network namespace file");
  detach->add_option("--dev", detach_dev.ifname, "the underlay device")->required();
  detach->callback([&options] {
    auto dp = datapath::Datapath::open(options);
    if (!dp) fail(dp.error());
    if (auto r = (*dp)->detach_gate(detach_dev); !r) fail(r.error());
    std::printf("gate detached from %s\n", detach_dev.ifname.c_str());
  });
}

}  // namespace wiretag::cli
