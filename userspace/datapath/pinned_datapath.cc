#include "datapath/pinned_datapath.h"

#include <bpf/libbpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>

#include "datapath/event_record.h"
#include "datapath/pin_upgrade.h"

namespace wiretag::datapath {
namespace {

struct Expected {
  std::string_view name;
  uint32_t key_size;
  uint32_t value_size;  // 0: not checked (the ring buffer)
};

// Every pinned map and the abi.h sizes this build decodes it with.
const std::vector<Expected>& expected_maps() {
  static const std::vector<Expected> maps = {
      {WT_MAP_ENDPOINTS, sizeof(uint32_t), sizeof(wt_endpoint)},
      {WT_MAP_DEVICES, sizeof(uint32_t), sizeof(wt_device)},
      {WT_MAP_ENDPOINT_INDEX, sizeof(uint32_t), sizeof(uint64_t)},
      {WT_MAP_SRC_POLICY, sizeof(wt_src_key), sizeof(wt_src_policy)},
      {WT_MAP_PORT_POLICY, sizeof(wt_port_key), sizeof(wt_port_rule)},
      {WT_MAP_FLOWS, sizeof(wt_flow_key), sizeof(wt_flow)},
      {WT_MAP_FRAGMENTS, sizeof(wt_frag_key), sizeof(wt_frag)},
      {WT_MAP_COUNTERS, sizeof(wt_counter_key), sizeof(wt_counter)},
      {WT_MAP_SLOT_COUNTERS, sizeof(uint32_t), sizeof(wt_counter)},
      {WT_MAP_EVENTS, 0, 0},
      {WT_MAP_EVENT_RATELIMIT, sizeof(uint32_t), sizeof(wt_ratelimit)},
      {WT_MAP_REPLY_PORTS, sizeof(uint32_t), sizeof(uint64_t)},
      {WT_MAP_FLOW_CACHE, sizeof(uint32_t), sizeof(wt_flow_cache_entry)},
      {WT_MAP_FLOW_SPILL, sizeof(uint32_t), sizeof(uint64_t)},
      {WT_MAP_VERDICT_CACHE, sizeof(uint32_t), sizeof(uint64_t)},
      {WT_MAP_RULE_EPOCHS, sizeof(uint32_t), sizeof(uint64_t)},
      {WT_MAP_STAMP_CONFIG, sizeof(uint32_t), sizeof(wt_stamp_config)},
      {WT_MAP_VTEPS, sizeof(wt_vtep_key), sizeof(wt_vtep)},
      {WT_MAP_ENDPOINT_ADDRS, sizeof(wt_addr_key), sizeof(uint32_t)},
  };
  return maps;
}

Error not_found(const std::string& pin_dir) {
  return Error{"DATAPATH_NOT_FOUND",
               "no wiretag datapath pinned at " + pin_dir + " (is the agent running? --pin-dir)"};
}

}  // namespace

const std::vector<std::string_view>& datapath_map_names() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> out;
    for (const Expected& e : expected_maps()) out.push_back(e.name);
    return out;
  }();
  return names;
}

Result<std::unique_ptr<PinnedDatapath>> PinnedDatapath::open(const std::string& pin_dir) {
  struct stat st {};
  if (pin_dir.empty() || ::stat(pin_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return not_found(pin_dir);
  if (auto r = check_pin_abi_readable(pin_dir); !r) return r.error();
  std::unique_ptr<PinnedDatapath> dp(new PinnedDatapath());
  dp->pin_dir_ = pin_dir;
  for (const Expected& e : expected_maps()) {
    const std::string path = pin_dir + "/" + std::string(e.name);
    if (::access(path.c_str(), F_OK) != 0) continue;  // not pinned (an older owner's build)
    PinnedMap m;
    m.name = std::string(e.name);
    // Read-only fds, but the ring buffer's: its reader writes its consumer position.
    LIBBPF_OPTS(bpf_obj_get_opts, opts,
                .file_flags = e.name == WT_MAP_EVENTS ? 0u : uint32_t{BPF_F_RDONLY});
    m.fd = bpf_obj_get_opts(path.c_str(), &opts);
    if (m.fd < 0) {
      const int err = errno;
      if (err == EACCES || err == EPERM)
        return Error::from_errno("DATAPATH_ACCESS", "open " + path + " (run as root)", err);
      return Error::from_errno("DATAPATH_NOT_FOUND", "open " + path + " (not a pinned BPF map?)",
                               err);
    }
    __u32 len = sizeof m.info;
    if (bpf_obj_get_info_by_fd(m.fd, &m.info, &len) != 0) {
      const int err = errno;
      ::close(m.fd);
      return Error::from_errno("DATAPATH_ACCESS", "inspect " + path, err);
    }
    if (e.key_size && (m.info.key_size != e.key_size || m.info.value_size != e.value_size)) {
      ::close(m.fd);
      return Error{"DATAPATH_ABI_MISMATCH",
                   path + " has " + std::to_string(m.info.key_size) + "-byte keys and " +
                       std::to_string(m.info.value_size) + "-byte values; this wiretag (ABI " +
                       std::to_string(WT_ABI_VERSION) + ") expects " + std::to_string(e.key_size) +
                       " and " + std::to_string(e.value_size)};
    }
    dp->maps_.push_back(std::move(m));
  }
  if (!dp->find(WT_MAP_ENDPOINTS) || !dp->find(WT_MAP_DEVICES)) return not_found(pin_dir);
  return dp;
}

PinnedDatapath::~PinnedDatapath() {
  if (ringbuf_) ring_buffer__free(ringbuf_);
  for (const PinnedMap& m : maps_) ::close(m.fd);
}

const PinnedMap* PinnedDatapath::find(std::string_view name) const {
  for (const PinnedMap& m : maps_)
    if (m.name == name) return &m;
  return nullptr;
}

int PinnedDatapath::map_fd(std::string_view name) const {
  const PinnedMap* m = find(name);
  return m ? m->fd : -1;
}

std::optional<Device> PinnedDatapath::device(uint32_t ifindex) const {
  wt_device d{};
  if (bpf_map_lookup_elem(map_fd(WT_MAP_DEVICES), &ifindex, &d) != 0) return std::nullopt;
  return device_of(d);
}

std::vector<Endpoint> PinnedDatapath::endpoints() const {
  // Entries of the generation in force, per endpoint, counted from the policy maps.
  std::map<uint32_t, wt_endpoint> configs;
  TypedMap<uint32_t, wt_endpoint> eps(map_fd(WT_MAP_ENDPOINTS), WT_MAP_ENDPOINTS);
  eps.for_each_key([&](const uint32_t& ifindex) {
    if (auto ep = eps.lookup(ifindex)) configs[ifindex] = *ep;
  });
  auto in_force = [&](uint32_t ifindex, int generation) {
    auto it = configs.find(ifindex);
    return it != configs.end() && (it->second.generation & 1) == generation;
  };
  std::map<uint32_t, size_t> src_entries, port_entries;
  if (int fd = map_fd(WT_MAP_SRC_POLICY); fd >= 0)
    TypedMap<wt_src_key, wt_src_policy>(fd, WT_MAP_SRC_POLICY)
        .for_each_key([&](const wt_src_key& k) {
          if (in_force(k.ifindex, k.generation & 1)) ++src_entries[k.ifindex];
        });
  if (int fd = map_fd(WT_MAP_PORT_POLICY); fd >= 0)
    TypedMap<wt_port_key, wt_port_rule>(fd, WT_MAP_PORT_POLICY)
        .for_each_key([&](const wt_port_key& k) {
          if (in_force(k.ifindex, k.plen_gen & 1)) ++port_entries[k.ifindex];
        });
  std::vector<Endpoint> out;
  TypedMap<uint32_t, wt_device> devices(map_fd(WT_MAP_DEVICES), WT_MAP_DEVICES);
  devices.for_each_key([&](const uint32_t& ifindex) {
    auto d = devices.lookup(ifindex);
    auto it = configs.find(ifindex);
    if (!d || it == configs.end()) return;
    out.push_back(
        Endpoint{ifindex, device_of(*d), it->second, src_entries[ifindex], port_entries[ifindex]});
  });
  return out;
}

std::optional<uint32_t> PinnedDatapath::ifindex_of(const Device& device) const {
  std::optional<uint32_t> found;
  TypedMap<uint32_t, wt_device> devices(map_fd(WT_MAP_DEVICES), WT_MAP_DEVICES);
  devices.for_each_key([&](const uint32_t& ifindex) {
    if (auto d = devices.lookup(ifindex); d && device_of(*d) == device) found = ifindex;
  });
  return found;
}

std::vector<CounterRow> PinnedDatapath::counters(std::optional<uint32_t> ifindex) const {
  return read_counter_rows(map_fd(WT_MAP_COUNTERS), map_fd(WT_MAP_SLOT_COUNTERS),
                           map_fd(WT_MAP_ENDPOINTS), ifindex);
}

Result<void> PinnedDatapath::on_event(std::function<void(const wt_event&)> handler) {
  event_handler_ = std::move(handler);
  if (ringbuf_) return Ok();
  int fd = map_fd(WT_MAP_EVENTS);
  if (fd < 0) return Error{"RINGBUF_FAILED", "no events map pinned in " + pin_dir_};
  auto cb = [](void* ctx, void* data, size_t size) -> int {
    auto* self = static_cast<PinnedDatapath*>(ctx);
    if (auto ev = event_of_record(data, size); ev && self->event_handler_) self->event_handler_(*ev);
    return 0;
  };
  ringbuf_ = ring_buffer__new(fd, cb, this, nullptr);
  if (!ringbuf_) return Error::from_errno("RINGBUF_FAILED", "open event ring buffer", errno);
  return Ok();
}

Result<int> PinnedDatapath::poll_events(int timeout_ms) {
  if (!ringbuf_) return Error{"RINGBUF_FAILED", "on_event() first"};
  int n = ring_buffer__poll(ringbuf_, timeout_ms);
  if (n < 0 && n != -EINTR) return Error::from_errno("RINGBUF_FAILED", "poll events", n);
  return n < 0 ? 0 : n;
}

}  // namespace wiretag::datapath
