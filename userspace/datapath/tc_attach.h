// Attaching a pair of TC programs (ingress, egress) to a device: clsact filters (bpf_tc_attach,
// kept by the qdisc after the process exits) or, where the kernel has it (>= 6.6), TCX links,
// which skip cls_bpf. The calling thread must be in the device's network namespace.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "wiretag/result.h"

namespace wiretag::datapath {

enum class TcHook { Clsact, Tcx };

// TCX links: they detach when their last reference (fd or pin) goes.
struct TcxLinks {
  int ingress = -1;
  int egress = -1;
};

// Whether this kernel accepts TCX links (probed once, on loopback of the calling thread's
// namespace, with a throwaway program).
bool tcx_supported();
const char* tc_hook_name(TcHook hook);

// clsact + one filter per direction (handle 0x7774, priority 1), replacing ours atomically.
Result<void> attach_clsact(uint32_t ifindex, int ingress_prog, int egress_prog);
// Removes our clsact filters (absent ones are fine).
Result<void> detach_clsact(uint32_t ifindex);
// New TCX links for both directions.
Result<TcxLinks> attach_tcx(uint32_t ifindex, int ingress_prog, int egress_prog);

}  // namespace wiretag::datapath

namespace wiretag::datapath {

// An owner's TCX links by ifindex, pinned as <dir>/<ifindex>_ingress|_egress so they keep
// enforcing after the owner exits; a later owner replaces their programs in place
// (bpf_link_update: atomic, no packet unchecked).
class TcxLinkTable {
 public:
  explicit TcxLinkTable(std::string dir) : dir_(std::move(dir)) {}
  // Replaces the programs of ifindex's pinned links, or creates and pins new links (none
  // pinned, or the pinned one's device is gone).
  Result<void> attach(uint32_t ifindex, int ingress_prog, int egress_prog);
  // Detaches and unpins ifindex's links; absent ones are fine.
  void detach(uint32_t ifindex);
  // Unpins ifindex's links whose device is gone (the kernel detached them); live ones stay.
  void unpin_defunct(uint32_t ifindex);
  bool pinned(uint32_t ifindex) const;
  std::string path(uint32_t ifindex, bool ingress) const;

 private:
  std::string dir_;
};

}  // namespace wiretag::datapath
