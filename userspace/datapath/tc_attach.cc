#include "datapath/tc_attach.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

namespace wiretag::datapath {

namespace {
// The 6.1 uapi headers predate TCX (Linux 6.6): its values of enum bpf_attach_type.
#ifdef BPF_TCX_INGRESS
constexpr int kTcxIngress = BPF_TCX_INGRESS;
constexpr int kTcxEgress = BPF_TCX_EGRESS;
#else
constexpr int kTcxIngress = 46;  // BPF_TCX_INGRESS
constexpr int kTcxEgress = 47;   // BPF_TCX_EGRESS
#endif
constexpr uint32_t kTcHandle = 0x7774;  // "wt"
constexpr uint32_t kTcPriority = 1;     // run before other classifiers
}  // namespace

const char* tc_hook_name(TcHook hook) { return hook == TcHook::Tcx ? "tcx" : "clsact"; }

bool tcx_supported() {
  static const bool supported = [] {
    struct bpf_insn prog[] = {
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, TC_ACT_OK},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "wt_tcx_probe", "GPL", prog, 2, nullptr);
    if (fd < 0) return false;
    // Loopback is ifindex 1 in every namespace; the link is closed at once.
    int link = bpf_link_create(fd, 1, static_cast<bpf_attach_type>(kTcxIngress), nullptr);
    ::close(fd);
    if (link < 0) return false;
    ::close(link);
    return true;
  }();
  return supported;
}

Result<void> attach_clsact(uint32_t ifindex, int ingress_prog, int egress_prog) {
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex),
              .attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
  int rc = bpf_tc_hook_create(&hook);
  if (rc != 0 && rc != -EEXIST)
    return Error::from_errno("ATTACH_FAILED", "create clsact on ifindex " + std::to_string(ifindex),
                             rc);
  for (auto [point, fd] :
       {std::pair{BPF_TC_INGRESS, ingress_prog}, std::pair{BPF_TC_EGRESS, egress_prog}}) {
    hook.attach_point = point;
    // REPLACE swaps the program of an existing filter atomically: no packet goes unchecked.
    LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = fd, .flags = BPF_TC_F_REPLACE, .handle = kTcHandle,
                .priority = kTcPriority);
    if (rc = bpf_tc_attach(&hook, &opts); rc != 0)
      return Error::from_errno("ATTACH_FAILED",
                               std::string("attach to ") +
                                   (point == BPF_TC_INGRESS ? "ingress" : "egress") + " of ifindex " +
                                   std::to_string(ifindex),
                               rc);
  }
  return Ok();
}

Result<void> detach_clsact(uint32_t ifindex) {
  for (auto point : {BPF_TC_INGRESS, BPF_TC_EGRESS}) {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex), .attach_point = point);
    LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kTcHandle, .priority = kTcPriority);
    int rc = bpf_tc_detach(&hook, &opts);
    if (rc != 0 && rc != -ENOENT && rc != -EINVAL)
      return Error::from_errno("DETACH_FAILED", "detach from ifindex " + std::to_string(ifindex),
                               rc);
  }
  return Ok();
}

Result<TcxLinks> attach_tcx(uint32_t ifindex, int ingress_prog, int egress_prog) {
  TcxLinks links;
  links.ingress = bpf_link_create(ingress_prog, static_cast<int>(ifindex),
                                  static_cast<bpf_attach_type>(kTcxIngress), nullptr);
  if (links.ingress < 0)
    return Error::from_errno("ATTACH_FAILED",
                             "tcx ingress link on ifindex " + std::to_string(ifindex),
                             links.ingress);
  links.egress = bpf_link_create(egress_prog, static_cast<int>(ifindex),
                                 static_cast<bpf_attach_type>(kTcxEgress), nullptr);
  if (links.egress < 0) {
    int rc = links.egress;
    ::close(links.ingress);
    return Error::from_errno("ATTACH_FAILED",
                             "tcx egress link on ifindex " + std::to_string(ifindex), rc);
  }
  return links;
}

}  // namespace wiretag::datapath
