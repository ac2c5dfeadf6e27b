// The XDP gate on the cell's underlay device (bpf/wiretag_gate.bpf.c, bpf/lib/gate.h): its
// object loaded over the live datapath's maps, its attachment, the VTEP set it believes and
// the inner destination addresses it asks endpoints' rules about. docs/datapath.md.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include "datapath/datapath.h"
#include "datapath/netns.h"
#include "wiretag_bpf.skel.h"
#include "wiretag_gate_bpf.skel.h"

namespace wiretag::datapath {
namespace {

constexpr const char* kGateProg = "wt_gate_prog";

// family 0, all zero: the marker that a set is in force (abi.h).
constexpr wt_vtep_key kVtepMarker{};

std::optional<wt_vtep_key> vtep_key(const std::string& text) {
  wt_vtep_key k{};
  if (inet_pton(AF_INET, text.c_str(), k.addr) == 1) {
    k.family = 4;
    return k;
  }
  if (inet_pton(AF_INET6, text.c_str(), k.addr) == 1) {
    k.family = 6;
    return k;
  }
  return std::nullopt;
}

std::string address_text(uint8_t family, const uint8_t* addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, buf, sizeof buf);
  return buf;
}

// The inner destinations the gate maps to an endpoint: its anti-spoof addresses.
std::vector<wt_addr_key> addr_keys(const wt_endpoint* config) {
  std::vector<wt_addr_key> keys;
  if (!config) return keys;
  if ((config->flags & WT_EP_ANTISPOOF_V4) && config->ipv4 != 0) {
    wt_addr_key k{};
    k.family = 4;
    std::memcpy(k.addr, &config->ipv4, 4);
    keys.push_back(k);
  }
  static const uint8_t kZero[16] = {};
  if ((config->flags & WT_EP_ANTISPOOF_V6) && std::memcmp(config->ipv6, kZero, 16) != 0) {
    wt_addr_key k{};
    k.family = 6;
    std::memcpy(k.addr, config->ipv6, 16);
    keys.push_back(k);
  }
  return keys;
}

bool same_key(const wt_addr_key& a, const wt_addr_key& b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

}  // namespace

void Datapath::write_endpoint_addrs(uint32_t ifindex, const wt_endpoint* old_config,
                                    const wt_endpoint* new_config) {
  const int fd = map_fd(WT_MAP_ENDPOINT_ADDRS);
  if (fd < 0 || options_.read_only) return;
  const auto now = addr_keys(new_config);
  for (const auto& k : addr_keys(old_config)) {
    bool kept = false;
    for (const auto& n : now) kept = kept || same_key(k, n);
    uint32_t owner = 0;
    // Only our own entry: another endpoint may have taken the address since.
    if (!kept && bpf_map_lookup_elem(fd, &k, &owner) == 0 && owner == ifindex)
      (void)bpf_map_delete_elem(fd, &k);
  }
  for (const auto& k : now) {
    if (bpf_map_update_elem(fd, &k, &ifindex, BPF_ANY) != 0)
      spdlog::warn("gate: cannot map address {} to endpoint {}: {}", address_text(k.family, k.addr),
                   ifindex, std::strerror(errno));
  }
}

Result<void> Datapath::load_gate() {
  if (gate_) return Ok();
  std::shared_ptr<wiretag_gate_bpf> gate(wiretag_gate_bpf__open(), wiretag_gate_bpf__destroy);
  if (!gate) return Error::from_errno("BPF_OPEN_FAILED", "open the gate program", errno);
  // The decisions' settings, as the TC programs have them (the VXLAN port is the gate's).
  gate->rodata->wt_cfg = config_;
  // Every map is the live datapath's: the gate counts, reports and caches where enforce does.
  bpf_map* map;
  bpf_object__for_each_map(map, gate->obj) {
    if (bpf_map__is_internal(map)) continue;
    const std::string name = bpf_map__name(map);
    const int fd = map_fd(name);
    if (fd < 0)
      return Error{"BPF_LOAD_FAILED", "the gate's map " + name + " is not the datapath's"};
    if (int rc = bpf_map__reuse_fd(map, fd); rc != 0)
      return Error::from_errno("BPF_LOAD_FAILED", "reuse the " + name + " map for the gate", rc);
  }
  if (int rc = wiretag_gate_bpf__load(gate.get()); rc != 0)
    return Error::from_errno("BPF_LOAD_FAILED", "load the gate program", rc);
  if (!options_.pin_dir.empty() && !options_.read_only) {
    const std::string path = options_.pin_dir + "/" + kGateProg;
    ::unlink(path.c_str());  // the previous owner's: its attachment keeps it alive until replaced
    if (int rc = bpf_program__pin(gate->progs.wt_gate_prog, path.c_str()); rc != 0)
      return Error::from_errno("BPF_PIN_FAILED", "pin " + path, rc);
  }
  gate_ = std::move(gate);
  return Ok();
}

Result<int> Datapath::gate_prog_fd() {
  std::lock_guard lock(mu_);
  if (auto r = load_gate(); !r) return r.error();
  return bpf_program__fd(gate_->progs.wt_gate_prog);
}

Result<uint32_t> Datapath::attach_gate(const Device& underlay) {
  if (options_.read_only) return Error{"READ_ONLY", "datapath opened read-only"};
  if (underlay.ifname.empty() || underlay.ifname.size() >= IF_NAMESIZE)
    return Error{"INVALID_DEVICE", "interface name must be 1..15 characters"};
  std::lock_guard lock(mu_);
  if (auto r = load_gate(); !r) return r.error();
  auto scope = NetnsScope::enter(underlay.netns);
  if (!scope) return scope.error();
  const unsigned ifindex = if_nametoindex(underlay.ifname.c_str());
  if (ifindex == 0)
    return Error{"DEVICE_NOT_FOUND", "no underlay device " + underlay.ifname + " in netns " +
                                         (underlay.netns.empty() ? "(own)" : underlay.netns)};
  // No flags: the driver's mode where it has XDP, else generic; an attached program (ours,
  // from a previous owner) is replaced in one step.
  const int fd = bpf_program__fd(gate_->progs.wt_gate_prog);
  if (int rc = bpf_xdp_attach(static_cast<int>(ifindex), fd, 0, nullptr); rc != 0)
    return Error::from_errno("ATTACH_FAILED", "attach the gate to " + underlay.ifname, rc);
  spdlog::info("gate: attached to {} (ifindex {}), VXLAN port {}", underlay.ifname, ifindex,
               options_.vxlan_port);
  return uint32_t{ifindex};
}

Result<void> Datapath::detach_gate(const Device& underlay) {
  if (options_.read_only) return Error{"READ_ONLY", "datapath opened read-only"};
  std::lock_guard lock(mu_);
  auto scope = NetnsScope::enter(underlay.netns);
  if (!scope) return scope.error();
  const unsigned ifindex = if_nametoindex(underlay.ifname.c_str());
  if (ifindex == 0) return Ok();
  __u32 prog_id = 0;
  if (bpf_xdp_query_id(static_cast<int>(ifindex), 0, &prog_id) != 0 || prog_id == 0) return Ok();
  bpf_prog_info info{};
  __u32 len = sizeof info;
  const int fd = bpf_prog_get_fd_by_id(prog_id);
  if (fd < 0) return Ok();
  const bool ours = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
                    std::strncmp(info.name, kGateProg, sizeof info.name - 1) == 0;
  ::close(fd);
  if (!ours) return Ok();  // somebody else's XDP program: not ours to remove
  if (int rc = bpf_xdp_detach(static_cast<int>(ifindex), 0, nullptr); rc != 0)
    return Error::from_errno("DETACH_FAILED", "detach the gate from " + underlay.ifname, rc);
  return Ok();
}

Result<void> Datapath::set_vteps(const std::vector<std::string>& addresses) {
  if (options_.read_only) return Error{"READ_ONLY", "datapath opened read-only"};
  std::vector<wt_vtep_key> want;
  for (const auto& a : addresses) {
    auto k = vtep_key(a);
    if (!k) return Error{"INVALID_VTEP", "not an IPv4 or IPv6 address: \"" + a + "\""};
    want.push_back(*k);
  }
  std::lock_guard lock(mu_);
  const int fd = map_fd(WT_MAP_VTEPS);
  if (fd < 0) return Error{"BPF_LOAD_FAILED", "no vteps map"};
  // New members first, then the marker, then the departed: a cell in both sets is never
  // refused on the way. An empty set puts none in force: the gate then checks no source
  // (a server whose cells report no VTEP must not cut the overlay).
  const wt_vtep value{};
  for (const auto& k : want) {
    if (bpf_map_update_elem(fd, &k, &value, BPF_ANY) != 0)
      return Error::from_errno("MAP_FULL", "vteps: add " + address_text(k.family, k.addr), errno);
  }
  if (want.empty()) {
    (void)bpf_map_delete_elem(fd, &kVtepMarker);
  } else if (bpf_map_update_elem(fd, &kVtepMarker, &value, BPF_ANY) != 0) {
    return Error::from_errno("MAP_FULL", "vteps: the marker", errno);
  }
  std::vector<wt_vtep_key> gone;
  wt_vtep_key cur{}, next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    cur = next;
    prev = &cur;
    if (cur.family == 0) continue;
    bool wanted = false;
    for (const auto& k : want) wanted = wanted || std::memcmp(&k, &cur, sizeof k) == 0;
    if (!wanted) gone.push_back(cur);
  }
  for (const auto& k : gone) (void)bpf_map_delete_elem(fd, &k);
  return Ok();
}

std::vector<std::string> Datapath::vteps() const {
  std::vector<std::string> out;
  const int fd = map_fd(WT_MAP_VTEPS);
  if (fd < 0) return out;
  wt_vtep_key cur{}, next{};
  const void* prev = nullptr;
  std::set<std::string> sorted;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    cur = next;
    prev = &cur;
    if (cur.family != 0) sorted.insert(address_text(cur.family, cur.addr));
  }
  out.assign(sorted.begin(), sorted.end());
  return out;
}

}  // namespace wiretag::datapath
