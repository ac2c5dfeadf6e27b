#include "datapath/program_config.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "datapath/flow_cache.h"
#include "datapath/kernel_hz.h"

namespace wiretag::datapath {

uint32_t tag_mask_of(unsigned tag_length) {
  return tag_length >= 4 ? 0xffffffffu : (1u << (8 * tag_length)) - 1;
}

wt_config program_config(const Options& options, uint32_t hz) {
  wt_config c{};
  c.flow_timeout_tcp_ns = WT_FLOW_TIMEOUT_TCP_NS;
  c.flow_timeout_udp_ns = WT_FLOW_TIMEOUT_UDP_NS;
  c.flow_timeout_other_ns = WT_FLOW_TIMEOUT_OTHER_NS;
  c.flow_refresh_ns = WT_FLOW_REFRESH_NS;
  c.fragment_timeout_ns = WT_FRAGMENT_TIMEOUT_NS;
  c.flow_timeout_tcp_jiffies = ns_to_jiffies(c.flow_timeout_tcp_ns, hz);
  c.flow_timeout_udp_jiffies = ns_to_jiffies(c.flow_timeout_udp_ns, hz);
  c.flow_timeout_other_jiffies = ns_to_jiffies(c.flow_timeout_other_ns, hz);
  c.flow_refresh_jiffies = ns_to_jiffies(c.flow_refresh_ns, hz);
  c.tag_mask = tag_mask_of(options.tag_length);
  c.flow_cache_shift =
      flow_cache_shift_of(flow_cache_sets(options.max_endpoints, options.flow_cache_sets));
  c.events_per_sec = options.events_per_sec;
  c.endpoint_index_mask = options.endpoint_index_size - 1;
  c.vxlan_port = options.vxlan_port;
  c.verdict_cache_on = c.tag_mask <= 0xffff;  // the cache's words hold 16-bit tags
  return c;
}

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

struct BtfFree {
  void operator()(btf* b) const { btf__free(b); }
};

// Where wt_cfg lies in an internal map's value, if the map is a .rodata holding it.
std::optional<uint32_t> wt_cfg_offset(const bpf_map_info& info) {
  if (info.btf_id == 0 || info.btf_value_type_id == 0) return std::nullopt;
  std::unique_ptr<btf, BtfFree> b(btf__load_from_kernel_by_id(info.btf_id));
  if (!b) return std::nullopt;
  const btf_type* sec = btf__type_by_id(b.get(), info.btf_value_type_id);
  if (!sec || !btf_is_datasec(sec)) return std::nullopt;
  const btf_var_secinfo* var = btf_var_secinfos(sec);
  for (uint16_t i = 0; i < btf_vlen(sec); ++i, ++var) {
    const btf_type* t = btf__type_by_id(b.get(), var->type);
    if (t && std::string_view(btf__name_by_offset(b.get(), t->name_off)) == "wt_cfg" &&
        var->size == sizeof(wt_config))
      return var->offset;
  }
  return std::nullopt;
}

}  // namespace

Result<wt_config> loaded_program_config(int prog_fd) {
  bpf_prog_info info{};
  __u32 len = sizeof info;
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0)
    return Error::from_errno("BPF_INFO_FAILED", "read the program's info", errno);
  std::vector<__u32> map_ids(info.nr_map_ids);
  info = bpf_prog_info{};
  info.nr_map_ids = static_cast<__u32>(map_ids.size());
  info.map_ids = reinterpret_cast<__u64>(map_ids.data());
  len = sizeof info;
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0)
    return Error::from_errno("BPF_INFO_FAILED", "read the program's maps", errno);
  for (__u32 id : map_ids) {
    Fd map{bpf_map_get_fd_by_id(id)};
    if (map.fd < 0) continue;
    bpf_map_info m{};
    __u32 mlen = sizeof m;
    if (bpf_obj_get_info_by_fd(map.fd, &m, &mlen) != 0 || m.max_entries != 1) continue;
    auto offset = wt_cfg_offset(m);
    if (!offset || *offset + sizeof(wt_config) > m.value_size) continue;
    std::vector<uint8_t> value(m.value_size);
    const __u32 key = 0;
    if (bpf_map_lookup_elem(map.fd, &key, value.data()) != 0)
      return Error::from_errno("BPF_INFO_FAILED", "read the program's .rodata", errno);
    wt_config c;
    std::memcpy(&c, value.data() + *offset, sizeof c);
    return c;
  }
  return Error{"CONFIG_NOT_FOUND", "the program reads no wt_cfg"};
}

}  // namespace wiretag::datapath
