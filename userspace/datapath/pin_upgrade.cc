#include "datapath/pin_upgrade.h"

#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>

#include "common/log.h"
#include "datapath/datapath.h"
#include "datapath/mapped_words.h"
#include "wiretag_bpf.skel.h"

namespace wiretag::datapath {
namespace {

// How the programs and the owner use a map, which says how its entries move to a new one.
enum class Kind {
  Config,    // written by the owner only (and maps this file does not know): copied before
  Recorded,  // written by the programs (flows, fragments): copied before, and after the switch
             // what the old programs recorded meanwhile, never over a newer entry
  Counts,    // counters: the old map's counts added to the new one's once the old is frozen
  Slots,     // per-slot bitmaps and flow_cache: copied before; the owner's record_reply_ports
             // sets the bits of every flow again after the switch
  Cache,     // a miss is correct (verdict_cache, endpoint_index: the hash; events): new, empty
  State,     // event_ratelimit: copied, or new when its layout changed
};

// stamp_config and endpoint_addrs are the owner's copies of endpoints (rewritten from it on
// adopt too); vteps is the server's set the gate believes, carried over so the gate keeps
// checking across an upgrade until the server's next answer.
Kind kind_of(const std::string& name) {
  static const std::map<std::string, Kind> kinds = {
      {WT_MAP_ENDPOINTS, Kind::Config},     {WT_MAP_DEVICES, Kind::Config},
      {WT_MAP_SRC_POLICY, Kind::Config},    {WT_MAP_PORT_POLICY, Kind::Config},
      {WT_MAP_FLOWS, Kind::Recorded},       {WT_MAP_FRAGMENTS, Kind::Recorded},
      {WT_MAP_COUNTERS, Kind::Counts},      {WT_MAP_SLOT_COUNTERS, Kind::Counts},
      {WT_MAP_REPLY_PORTS, Kind::Slots},    {WT_MAP_FLOW_SPILL, Kind::Slots},
      {WT_MAP_FLOW_CACHE, Kind::Slots},     {WT_MAP_VERDICT_CACHE, Kind::Cache},
      {WT_MAP_ENDPOINT_INDEX, Kind::Cache}, {WT_MAP_RULE_EPOCHS, Kind::Cache},
      {WT_MAP_EVENTS, Kind::Cache},         {WT_MAP_EVENT_RATELIMIT, Kind::State},
      {WT_MAP_STAMP_CONFIG, Kind::Config},  {WT_MAP_ENDPOINT_ADDRS, Kind::Config},
      {WT_MAP_VTEPS, Kind::Config},
  };
  auto it = kinds.find(name);
  return it == kinds.end() ? Kind::Config : it->second;
}

// May a map of another layout be replaced by an empty one? Caches whose miss the programs
// answer from the truth (flow_cache: flows, through the spill bits the owner sets for every
// flow it does not hold; rule_epochs: verdict_cache is then recreated too), and the ring.
bool recreatable(const std::string& name) {
  const Kind k = kind_of(name);
  return k == Kind::Cache || k == Kind::State || name == WT_MAP_FLOW_CACHE;
}

// Maps whose entries changed meaning at a pinned ABI version, with the same shape or not: a
// pin dir of an older version has them recreated (only caches may be listed here).
//   2: flow_cache became one set-associative cache for the cell, the slot in each entry's
//      tuple, instead of direct-mapped entries per endpoint.
//   3: flow_cache's set of a flow lies in its endpoint's region (wt_flow_cache_set_entry).
uint32_t recreated_since(const std::string& name) {
  if (name == WT_MAP_FLOW_CACHE) return 3;
  return 0;
}

// The size option a map's max_entries comes from, for messages.
const char* size_option(const std::string& name) {
  if (name == WT_MAP_FLOWS) return "--max-flows";
  if (name == WT_MAP_SRC_POLICY || name == WT_MAP_PORT_POLICY) return "--max-policy-entries";
  return "--max-endpoints";
}

struct ConverterKey {
  uint32_t from;
  std::string map;
  auto operator<=>(const ConverterKey&) const = default;
};
struct Registered {
  uint32_t key_size, value_size;
  EntryConverter convert;
};

std::mutex g_converters_mu;
std::map<ConverterKey, Registered>& converters() {
  // Converters of this build: none yet. Version 1 (the first marked) has the layouts of the
  // last unmarked build (version 0), so version 0 adopts, copies or recreates map by map.
  static std::map<ConverterKey, Registered> table;
  return table;
}

bool is_percpu(uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}
bool is_array(uint32_t type) {
  return type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY;
}
bool is_hash(uint32_t type) { return !is_array(type) && type != BPF_MAP_TYPE_RINGBUF; }

size_t cpus() {
  static const size_t n = static_cast<size_t>(std::max(1, libbpf_num_possible_cpus()));
  return n;
}
size_t per_cpu_size(uint32_t value_size) { return (value_size + 7) / 8 * 8; }
size_t value_bytes(const MapShape& s) {
  return is_percpu(s.type) ? per_cpu_size(s.value_size) * cpus() : s.value_size;
}

MapShape shape_of(const bpf_map_info& info) {
  return {info.type, info.key_size, info.value_size, info.max_entries, info.map_flags};
}

MapShape shape_of(const bpf_map* map) {
  return {static_cast<uint32_t>(bpf_map__type(map)), bpf_map__key_size(map),
          bpf_map__value_size(map), bpf_map__max_entries(map), bpf_map__map_flags(map)};
}

Result<size_t> count_keys(int fd, uint32_t key_size) {
  std::vector<uint8_t> key(key_size), next(key_size);
  size_t n = 0;
  const void* cur = nullptr;
  while (bpf_map_get_next_key(fd, cur, next.data()) == 0) {
    key.swap(next);
    cur = key.data();
    ++n;
  }
  return n;
}

enum class Merge { Overwrite, Keep, Add };

Error copy_error(const MapPlan& m, const char* what, int err) {
  if (err == E2BIG || err == ENOSPC || err == ENOMEM)
    return Error::from_errno("PINNED_ENTRIES_DO_NOT_FIT",
                             m.name + ": the pinned entries do not fit " +
                                 std::to_string(m.wanted.max_entries) + " (" + size_option(m.name) +
                                 ")",
                             err);
  return Error::from_errno("PIN_UPGRADE_FAILED", std::string(what) + " " + m.name, err);
}

// Both mmappable arrays of the same value size: word copies, no syscall per entry.
Result<void> copy_mapped(const MapPlan& m, int to_fd) {
  const size_t words_from = size_t{m.pinned.max_entries} * m.pinned.value_size / 8;
  const size_t words_to = size_t{m.wanted.max_entries} * m.wanted.value_size / 8;
  auto from = MappedWords::map(m.pinned_fd, words_from, m.name);
  if (!from) return from.error();
  auto to = MappedWords::map(to_fd, words_to, m.name);
  if (!to) return to.error();
  for (size_t i = 0, n = std::min(words_from, words_to); i < n; ++i)
    if (uint64_t w = from->load(i)) to->store(i, w);
  return Ok();
}

// Moves the pinned map's entries into to_fd, converted when the plan has a converter.
// Arrays: the indexes both have; zero values are skipped (a new array is zero).
Result<void> copy_entries(const MapPlan& m, int to_fd, Merge merge,
                          const std::function<bool(uint32_t)>& live_ifindex = nullptr) {
  const bool mmapped = (m.pinned.flags & BPF_F_MMAPABLE) && (m.wanted.flags & BPF_F_MMAPABLE);
  if (!m.convert && merge == Merge::Overwrite && mmapped && m.pinned.value_size % 8 == 0 &&
      m.pinned.value_size == m.wanted.value_size)
    return copy_mapped(m, to_fd);
  const bool percpu = is_percpu(m.pinned.type);
  const size_t ncpu = percpu ? cpus() : 1;
  const size_t from_stride = percpu ? per_cpu_size(m.pinned.value_size) : m.pinned.value_size;
  const size_t to_stride = percpu ? per_cpu_size(m.wanted.value_size) : m.wanted.value_size;
  std::vector<uint8_t> key(m.pinned.key_size), next(m.pinned.key_size);
  std::vector<uint8_t> value(value_bytes(m.pinned)), out(value_bytes(m.wanted)),
      cur(value_bytes(m.wanted));
  std::vector<uint8_t> new_key, one;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(m.pinned_fd, prev, next.data()) == 0) {
    key.swap(next);
    prev = key.data();
    if (bpf_map_lookup_elem(m.pinned_fd, key.data(), value.data()) != 0) continue;  // gone
    uint32_t ifindex = 0;  // flows and fragments keys start with the endpoint's ifindex
    std::memcpy(&ifindex, key.data(), std::min<size_t>(key.size(), sizeof ifindex));
    if (live_ifindex && !live_ifindex(ifindex)) continue;
    if (is_array(m.pinned.type) &&
        std::all_of(value.begin(), value.end(), [](uint8_t b) { return b == 0; }))
      continue;
    std::fill(out.begin(), out.end(), 0);
    new_key.assign(key.begin(), key.end());
    bool keep = true;
    for (size_t c = 0; c < ncpu && keep; ++c) {
      std::span<const uint8_t> v(value.data() + c * from_stride, m.pinned.value_size);
      if (m.convert) {
        std::vector<uint8_t> k;
        keep = (*m.convert)(key, v, k, one);
        if (!keep) break;
        if (k.size() != m.wanted.key_size || one.size() != m.wanted.value_size)
          return Error{"PIN_UPGRADE_FAILED", m.name + ": a converter returned the wrong sizes"};
        new_key = std::move(k);
        std::memcpy(out.data() + c * to_stride, one.data(), one.size());
      } else {
        std::memcpy(out.data() + c * to_stride, v.data(), v.size());
      }
    }
    if (!keep) continue;
    if (is_array(m.wanted.type)) {
      uint32_t index = 0;
      std::memcpy(&index, new_key.data(), sizeof index);
      if (index >= m.wanted.max_entries) continue;  // a smaller array: the owner re-slots
    }
    uint64_t flags = merge == Merge::Keep ? BPF_NOEXIST : BPF_ANY;
    if (merge == Merge::Add && bpf_map_lookup_elem(to_fd, new_key.data(), cur.data()) == 0) {
      // Counters are all 64-bit words: packets, bytes.
      for (size_t w = 0; w + 8 <= out.size(); w += 8) {
        uint64_t a, b;
        std::memcpy(&a, out.data() + w, 8);
        std::memcpy(&b, cur.data() + w, 8);
        a += b;
        std::memcpy(out.data() + w, &a, 8);
      }
    }
    if (bpf_map_update_elem(to_fd, new_key.data(), out.data(), flags) != 0) {
      if (errno == EEXIST && merge == Merge::Keep) continue;  // the new programs' is newer
      return copy_error(m, "fill", errno);
    }
  }
  return Ok();
}

Result<int> marker_fd(uint32_t version) {
  LIBBPF_OPTS(bpf_map_create_opts, opts);
  int fd =
      bpf_map_create(BPF_MAP_TYPE_ARRAY, "pin_abi", sizeof(uint32_t), sizeof(uint32_t), 1, &opts);
  if (fd < 0) return Error::from_errno("BPF_PIN_FAILED", "create the pin_abi marker", fd);
  uint32_t key = 0;
  if (bpf_map_update_elem(fd, &key, &version, BPF_ANY) != 0) {
    int err = errno;
    ::close(fd);
    return Error::from_errno("BPF_PIN_FAILED", "write the pin_abi marker", err);
  }
  return fd;
}

// Pins fd at path in one step for readers: pinned beside it, then renamed over it.
Result<void> pin_over(int fd, const std::string& dir, const std::string& name) {
  // bpffs takes no dot in a name.
  const std::string path = dir + "/" + name, tmp = dir + "/" + name + "_pinning";
  ::unlink(tmp.c_str());
  if (int rc = bpf_obj_pin(fd, tmp.c_str()); rc != 0)
    return Error::from_errno("BPF_PIN_FAILED", "pin " + tmp, rc);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Error::from_errno("BPF_PIN_FAILED", "rename " + tmp + " to " + path, err);
  }
  return Ok();
}

std::string remedy(const std::string& pin_dir) {
  return " Nothing was changed: the programs attached keep enforcing with the pinned maps. "
         "Run the wiretag that pinned them, or one that converts them; or stop the agent and "
         "remove " +
         pin_dir +
         " to start over (that drops every endpoint's rules, flows and counters: devices pass "
         "packets unchecked until the agent attaches them again). docs/ops.md, \"Upgrade\".";
}

}  // namespace

std::optional<uint32_t> read_pin_abi(const std::string& pin_dir) {
  const std::string path = pin_dir + "/" + WT_MAP_PIN_ABI;
  LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = BPF_F_RDONLY);
  int fd = bpf_obj_get_opts(path.c_str(), &opts);
  if (fd < 0) return std::nullopt;
  uint32_t key = 0, version = 0;
  bool ok = bpf_map_lookup_elem(fd, &key, &version) == 0;
  ::close(fd);
  // A marker that cannot be read is not this build's: say so rather than adopt.
  return ok ? version : UINT32_MAX;
}

Result<void> write_pin_abi(const std::string& pin_dir, uint32_t version) {
  auto fd = marker_fd(version);
  if (!fd) return fd.error();
  auto r = pin_over(*fd, pin_dir, WT_MAP_PIN_ABI);
  ::close(*fd);
  return r;
}

Result<void> check_pin_abi_readable(const std::string& pin_dir) {
  auto version = read_pin_abi(pin_dir);
  if (!version || *version == WT_PIN_ABI_VERSION) return Ok();
  return Error{"DATAPATH_ABI_MISMATCH",
               pin_dir + " holds maps of pinned ABI version " + std::to_string(*version) +
                   "; this wiretag reads version " + std::to_string(WT_PIN_ABI_VERSION) +
                   ": use the wiretag of the agent that pinned them"};
}

Result<void> set_inspector_pin_paths(const std::string& pin_dir, bpf_object* obj) {
  if (auto r = check_pin_abi_readable(pin_dir); !r) return r;
  bpf_map* map;
  bpf_object__for_each_map(map, obj) {
    if (bpf_map__is_internal(map)) continue;  // .rodata belongs to this load only
    std::string path = pin_dir + "/" + bpf_map__name(map);
    if (bpf_map__set_pin_path(map, path.c_str()) != 0)
      return Error::from_errno("BPF_PIN_FAILED", "set pin path " + path, errno);
    // An inspector takes the sizes the owner chose, whatever its own options say.
    if (int fd = bpf_obj_get(path.c_str()); fd >= 0) {
      bpf_map_info info{};
      __u32 len = sizeof info;
      if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
        bpf_map__set_max_entries(map, info.max_entries);
      ::close(fd);
    }
  }
  return Ok();
}

const char* pin_action_name(PinAction action) {
  switch (action) {
    case PinAction::Create:
      return "create";
    case PinAction::Adopt:
      return "adopt";
    case PinAction::Copy:
      return "copy";
    case PinAction::Convert:
      return "convert";
    case PinAction::Recreate:
      return "recreate";
  }
  return "?";
}

std::string describe(const MapShape& s) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "type %u, %u-byte keys, %u-byte values, %u entries, flags 0x%x",
                s.type, s.key_size, s.value_size, s.max_entries, s.flags);
  return buf;
}

void register_pin_converter(uint32_t from_version, const std::string& map, uint32_t key_size,
                            uint32_t value_size, EntryConverter convert) {
  std::lock_guard lock(g_converters_mu);
  converters()[ConverterKey{from_version, map}] = {key_size, value_size, std::move(convert)};
}

Result<std::unique_ptr<PinUpgrade>> PinUpgrade::plan(const std::string& pin_dir, bpf_object* obj) {
  std::unique_ptr<PinUpgrade> up(new PinUpgrade());
  up->pin_dir_ = pin_dir;
  const auto marker = read_pin_abi(pin_dir);
  up->pinned_version_ = marker.value_or(0);
  if (up->pinned_version_ > WT_PIN_ABI_VERSION)
    return Error{"PINNED_ABI_NEWER", pin_dir + " holds maps of pinned ABI version " +
                                         std::to_string(up->pinned_version_) +
                                         ", newer than this wiretag's (" +
                                         std::to_string(WT_PIN_ABI_VERSION) +
                                         "): it cannot read them." + remedy(pin_dir)};
  std::lock_guard lock(g_converters_mu);
  bpf_map* map;
  bpf_object__for_each_map(map, obj) {
    if (bpf_map__is_internal(map)) continue;
    MapPlan m;
    m.name = bpf_map__name(map);
    m.wanted = shape_of(map);
    const std::string path = pin_dir + "/" + m.name;
    if (::access(path.c_str(), F_OK) != 0) {
      up->maps_.push_back(std::move(m));  // Create: a map older builds did not have
      continue;
    }
    m.pinned_fd = bpf_obj_get(path.c_str());
    if (m.pinned_fd < 0)
      return Error::from_errno("PIN_DIR_FAILED", "open " + path + " (not a pinned map?)", errno);
    bpf_map_info info{};
    __u32 len = sizeof info;
    if (bpf_obj_get_info_by_fd(m.pinned_fd, &info, &len) != 0)
      return Error::from_errno("PIN_DIR_FAILED", "inspect " + path, errno);
    m.pinned = shape_of(info);
    const bool same_entries = m.pinned.type == m.wanted.type &&
                              m.pinned.key_size == m.wanted.key_size &&
                              m.pinned.value_size == m.wanted.value_size;
    auto conv = converters().find({up->pinned_version_, m.name});
    if (up->pinned_version_ < recreated_since(m.name) && recreatable(m.name)) {
      m.action = PinAction::Recreate;
    } else if (up->pinned_version_ < WT_PIN_ABI_VERSION && conv != converters().end() &&
               conv->second.key_size == m.pinned.key_size &&
               conv->second.value_size == m.pinned.value_size) {
      m.action = PinAction::Convert;
      m.convert = &conv->second.convert;
    } else if (m.pinned == m.wanted) {
      m.action = PinAction::Adopt;
    } else if (same_entries && kind_of(m.name) != Kind::Cache) {
      m.action = PinAction::Copy;
    } else if (recreatable(m.name)) {
      m.action = PinAction::Recreate;
    } else {
      return Error{"PINNED_LAYOUT_INCOMPATIBLE",
                   path + " is " + describe(m.pinned) + " (pinned ABI version " +
                       std::to_string(up->pinned_version_) + "); this wiretag (pinned ABI " +
                       std::to_string(WT_PIN_ABI_VERSION) + ") needs " + describe(m.wanted) +
                       " and has no converter for it." + remedy(pin_dir)};
    }
    if ((m.action == PinAction::Copy || m.action == PinAction::Convert) && is_hash(m.pinned.type)) {
      auto n = count_keys(m.pinned_fd, m.pinned.key_size);
      if (*n > m.wanted.max_entries)
        return Error{"PINNED_ENTRIES_DO_NOT_FIT",
                     path + " holds " + std::to_string(*n) + " entries; this agent's " +
                         size_option(m.name) + " gives it " + std::to_string(m.wanted.max_entries) +
                         "." + remedy(pin_dir)};
    }
    up->maps_.push_back(std::move(m));
  }
  // Cached verdicts are valid under the epochs of rule_epochs: new epochs, no old verdicts.
  const MapPlan* epochs = up->find(WT_MAP_RULE_EPOCHS);
  for (MapPlan& m : up->maps_)
    if (m.name == WT_MAP_VERDICT_CACHE && epochs && epochs->action != PinAction::Adopt &&
        m.action == PinAction::Adopt)
      m.action = PinAction::Recreate;
  return up;
}

PinUpgrade::~PinUpgrade() {
  for (MapPlan& m : maps_)
    if (m.pinned_fd >= 0) ::close(m.pinned_fd);
}

const MapPlan* PinUpgrade::find(const std::string& name) const {
  for (const MapPlan& m : maps_)
    if (m.name == name) return &m;
  return nullptr;
}

bool PinUpgrade::migrates() const {
  return std::any_of(maps_.begin(), maps_.end(), [](const MapPlan& m) {
    return m.action != PinAction::Adopt && m.action != PinAction::Create;
  });
}

Result<void> PinUpgrade::set_pin_paths(bpf_object* obj) const {
  for (const MapPlan& m : maps_) {
    if (m.action != PinAction::Adopt && m.action != PinAction::Create) continue;
    bpf_map* map = bpf_object__find_map_by_name(obj, m.name.c_str());
    const std::string path = pin_dir_ + "/" + m.name;
    if (!map || bpf_map__set_pin_path(map, path.c_str()) != 0)
      return Error::from_errno("BPF_PIN_FAILED", "set pin path " + path, errno);
  }
  return Ok();
}

Result<void> PinUpgrade::fill(bpf_object* obj) {
  for (const MapPlan& m : maps_) {
    if (m.action != PinAction::Copy && m.action != PinAction::Convert) continue;
    const Kind k = kind_of(m.name);
    if (k == Kind::Counts) continue;  // added once the old programs stopped counting
    const int fd = bpf_map__fd(bpf_object__find_map_by_name(obj, m.name.c_str()));
    if (auto r = copy_entries(m, fd, Merge::Overwrite); !r) return r;
  }
  return Ok();
}

Result<void> PinUpgrade::catch_up(bpf_object* obj,
                                  const std::function<bool(uint32_t)>& live_ifindex) {
  for (const MapPlan& m : maps_) {
    if (m.action != PinAction::Copy && m.action != PinAction::Convert) continue;
    const int fd = bpf_map__fd(bpf_object__find_map_by_name(obj, m.name.c_str()));
    const Kind k = kind_of(m.name);
    Result<void> r = Ok();
    if (k == Kind::Recorded) r = copy_entries(m, fd, Merge::Keep, live_ifindex);
    if (k == Kind::Counts) r = copy_entries(m, fd, Merge::Add);
    if (!r) return r;
  }
  return Ok();
}

Result<void> PinUpgrade::commit(bpf_object* obj) {
  for (const MapPlan& m : maps_) {
    if (m.action == PinAction::Adopt || m.action == PinAction::Create) continue;
    const int fd = bpf_map__fd(bpf_object__find_map_by_name(obj, m.name.c_str()));
    if (auto r = pin_over(fd, pin_dir_, m.name); !r) return r;
  }
  if (pinned_version_ == WT_PIN_ABI_VERSION && read_pin_abi(pin_dir_)) return Ok();
  return write_pin_abi(pin_dir_, WT_PIN_ABI_VERSION);
}

std::string PinUpgrade::summary() const {
  std::string out;
  for (const MapPlan& m : maps_) {
    if (m.action == PinAction::Adopt) continue;
    if (!out.empty()) out += ", ";
    out += m.name + " " + pin_action_name(m.action);
    if (m.action == PinAction::Copy && m.pinned.max_entries != m.wanted.max_entries)
      out +=
          " " + std::to_string(m.pinned.max_entries) + "→" + std::to_string(m.wanted.max_entries);
  }
  return out.empty() ? "every map adopted" : out;
}

// Here rather than in datapath.cc: the upgrade's last steps, in the order docs/datapath.md
// gives (every device already runs this owner's programs: adopt() switched them).
Result<void> Datapath::finish_upgrade() {
  if (!upgrade_) return Ok();
  if (upgrade_->migrates()) {
    wait_for_readers();  // no run of the old programs is left: the old maps are frozen
    // Not the flows of an endpoint adopt() forgot: they must not admit a later one.
    auto live = [&](uint32_t ifindex) { return endpoints_.lookup(ifindex).has_value(); };
    if (auto r = upgrade_->catch_up(skel_->obj, live); !r) return r;
    {
      std::lock_guard lock(mu_);
      record_reply_ports();  // the bits of flows the old programs recorded since fill()
    }
    spdlog::info("upgraded the maps pinned in {} (pinned ABI {} → {}): {}", options_.pin_dir,
                 upgrade_->pinned_version(), WT_PIN_ABI_VERSION, upgrade_->summary());
  }
  if (auto r = upgrade_->commit(skel_->obj); !r) return r;
  upgrade_.reset();  // closes the old maps: unpinned, they go with the last old program
  return Ok();
}

}  // namespace wiretag::datapath
