#include "datapath/tc_attach.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
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
constexpr uint32_t kLinkTypeTcx = 11;   // BPF_LINK_TYPE_TCX
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
                                   (point == BPF_TC_INGRESS ? "ingress" : "egress") +
                                   " of ifindex " + std::to_string(ifindex),
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
    return Error::from_errno(
        "ATTACH_FAILED", "tcx ingress link on ifindex " + std::to_string(ifindex), links.ingress);
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

std::string TcxLinkTable::path(uint32_t ifindex, bool ingress) const {
  return dir_ + "/" + std::to_string(ifindex) + (ingress ? "_ingress" : "_egress");
}

bool TcxLinkTable::pinned(uint32_t ifindex) const {
  return ::access(path(ifindex, true).c_str(), F_OK) == 0 ||
         ::access(path(ifindex, false).c_str(), F_OK) == 0;
}

Result<void> TcxLinkTable::attach(uint32_t ifindex, int ingress_prog, int egress_prog) {
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST)
    return Error::from_errno("PIN_DIR_FAILED", "create " + dir_, errno);
  for (bool ingress : {true, false}) {
    const std::string pin = path(ifindex, ingress);
    const int prog = ingress ? ingress_prog : egress_prog;
    if (int fd = bpf_obj_get(pin.c_str()); fd >= 0) {
      int rc = bpf_link_update(fd, prog, nullptr);  // -ENOLINK: its device is gone
      ::close(fd);
      if (rc == 0) continue;
    }
    ::unlink(pin.c_str());
    int fd =
        bpf_link_create(prog, static_cast<int>(ifindex),
                        static_cast<bpf_attach_type>(ingress ? kTcxIngress : kTcxEgress), nullptr);
    if (fd < 0)
      return Error::from_errno("ATTACH_FAILED",
                               std::string("tcx ") + (ingress ? "ingress" : "egress") +
                                   " link on ifindex " + std::to_string(ifindex),
                               fd);
    int rc = bpf_obj_pin(fd, pin.c_str());
    ::close(fd);  // on failure the link detaches here
    if (rc != 0) return Error::from_errno("BPF_PIN_FAILED", "pin " + pin, rc);
  }
  return Ok();
}

void TcxLinkTable::unpin_defunct(uint32_t ifindex) {
  for (bool ingress : {true, false}) {
    const std::string pin = path(ifindex, ingress);
    int fd = bpf_obj_get(pin.c_str());
    if (fd < 0) continue;
    // struct bpf_link_info of Linux >= 6.6: type, id, prog_id, then (8-aligned) the union,
    // whose tcx member starts with the ifindex, 0 once the device is gone.
    alignas(8) uint8_t info[64] = {};
    uint32_t len = sizeof info;
    bool defunct = false;
    if (bpf_obj_get_info_by_fd(fd, info, &len) == 0) {
      uint32_t type = 0, link_ifindex = 0;
      std::memcpy(&type, info, 4);
      std::memcpy(&link_ifindex, info + 16, 4);
      defunct = type == kLinkTypeTcx && link_ifindex == 0;
    }
    ::close(fd);
    if (defunct) ::unlink(pin.c_str());
  }
}

void TcxLinkTable::detach(uint32_t ifindex) {
  for (bool ingress : {true, false}) {
    const std::string pin = path(ifindex, ingress);
    if (int fd = bpf_obj_get(pin.c_str()); fd >= 0) {
      (void)bpf_link_detach(fd);  // even if someone else holds the link open
      ::close(fd);
    }
    ::unlink(pin.c_str());
  }
}

}  // namespace wiretag::datapath
