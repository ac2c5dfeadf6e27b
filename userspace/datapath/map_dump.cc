#include "datapath/map_dump.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>

#include "core/reasons.h"

namespace wiretag::datapath {
namespace {

using nlohmann::ordered_json;
using Row = ordered_json;

size_t possible_cpus() {
  int n = libbpf_num_possible_cpus();
  return n > 0 ? static_cast<size_t>(n) : 1;
}

bool is_per_cpu(uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

bool is_array(uint32_t type) {
  return type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY;
}

// A value as the lookup syscall returns it: per CPU, each rounded up to 8 bytes.
size_t value_stride(const PinnedMap& m) { return (m.info.value_size + 7) / 8 * 8; }
size_t value_bytes(const PinnedMap& m) {
  return is_per_cpu(m.info.type) ? value_stride(m) * possible_cpus() : m.info.value_size;
}

using EntryFn = std::function<void(const uint8_t* key, const uint8_t* value)>;

// Every entry: arrays in batches of indexes (one syscall per chunk), hashes key by key.
void for_each_entry(const PinnedMap& m, const EntryFn& fn) {
  const size_t vbytes = value_bytes(m);
  if (is_array(m.info.type)) {
    constexpr uint32_t kChunk = 4096;
    std::vector<uint32_t> keys(kChunk);
    std::vector<uint8_t> values(kChunk * vbytes);
    uint32_t in = 0, out = 0;
    bool first = true, batched = true;
    while (batched) {
      uint32_t count = kChunk;
      int rc = bpf_map_lookup_batch(m.fd, first ? nullptr : &in, &out, keys.data(), values.data(),
                                    &count, nullptr);
      if (rc != 0 && errno != ENOENT) {
        if (first) batched = false;  // no batch ops: one index at a time below
        break;
      }
      for (uint32_t i = 0; i < count; ++i)
        fn(reinterpret_cast<uint8_t*>(&keys[i]), &values[i * vbytes]);
      if (rc != 0) return;  // ENOENT: past the last index
      in = out;
      first = false;
    }
    if (batched) return;
    std::vector<uint8_t> value(vbytes);
    for (uint32_t i = 0; i < m.info.max_entries; ++i)
      if (bpf_map_lookup_elem(m.fd, &i, value.data()) == 0)
        fn(reinterpret_cast<uint8_t*>(&i), value.data());
    return;
  }
  std::vector<uint8_t> key(m.info.key_size), next(m.info.key_size), value(vbytes);
  const void* cur = nullptr;
  while (bpf_map_get_next_key(m.fd, cur, next.data()) == 0) {
    key = next;
    cur = key.data();
    if (bpf_map_lookup_elem(m.fd, key.data(), value.data()) == 0) fn(key.data(), value.data());
  }
}

template <class T>
T as(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// What the datapath knows about ifindexes and slots, to name them in every row.
class Names {
 public:
  Names(const PinnedDatapath& dp, unsigned tag_length) : tag_digits_(2 * tag_length) {
    TypedMap<uint32_t, wt_device> devices(dp.map_fd(WT_MAP_DEVICES), WT_MAP_DEVICES);
    devices.for_each_key([&](const uint32_t& ifindex) {
      if (auto d = devices.lookup(ifindex)) devices_[ifindex] = device_of(*d);
    });
    TypedMap<uint32_t, wt_endpoint> eps(dp.map_fd(WT_MAP_ENDPOINTS), WT_MAP_ENDPOINTS);
    eps.for_each_key([&](const uint32_t& ifindex) {
      if (auto ep = eps.lookup(ifindex)) {
        endpoints_[ifindex] = *ep;
        slots_[ep->slot] = ifindex;
      }
    });
  }

  // "ifindex", "device", "netns": the device the devices map records (netns "" = the
  // owner's own), else the name of that ifindex in this namespace, if any.
  void device(Row& row, uint32_t ifindex) const {
    row["ifindex"] = ifindex;
    if (auto it = devices_.find(ifindex); it != devices_.end()) {
      row["device"] = it->second.ifname;
      row["netns"] = it->second.netns;
      return;
    }
    char name[IF_NAMESIZE] = {};
    row["device"] = ifindex && if_indextoname(ifindex, name) ? ordered_json(name) : nullptr;
    row["netns"] = nullptr;
  }

  // "slot" and the device of the endpoint that has it (null: a free slot).
  void slot(Row& row, uint32_t slot) const {
    row["slot"] = slot;
    auto it = slots_.find(slot);
    if (it == slots_.end()) {
      row["ifindex"] = nullptr;
      row["device"] = nullptr;
      row["netns"] = nullptr;
      return;
    }
    device(row, it->second);
  }

  std::string tag(uint32_t tag) const {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%0*x", static_cast<int>(tag_digits_), tag);
    return buf;
  }
  std::string source(uint32_t tag) const { return tag == 0 ? "*" : this->tag(tag); }

  const wt_endpoint* endpoint(uint32_t ifindex) const {
    auto it = endpoints_.find(ifindex);
    return it == endpoints_.end() ? nullptr : &it->second;
  }
  bool in_force(uint32_t ifindex, uint8_t generation) const {
    const wt_endpoint* ep = endpoint(ifindex);
    return ep && (ep->generation & 1) == (generation & 1);
  }

 private:
  size_t tag_digits_;
  std::map<uint32_t, Device> devices_;
  std::map<uint32_t, wt_endpoint> endpoints_;
  std::map<uint32_t, uint32_t> slots_;  // slot -> ifindex
};

// Rules and flow-cache words of no protocol print "-".
std::string proto_name(uint8_t proto) { return proto == 0 ? "-" : ip_protocol_name(proto); }

ordered_json address(uint8_t family, const uint8_t* addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == 4 && inet_ntop(AF_INET, addr, buf, sizeof buf)) return buf;
  if (family == 6 && inet_ntop(AF_INET6, addr, buf, sizeof buf)) return buf;
  return nullptr;
}

std::string reason(uint32_t r) {
  const char* name = reason_name(r);
  return name ? name : std::to_string(r);
}
const char* direction(uint8_t d) { return direction_name(d); }
const char* verdict(uint8_t v) { return v == WT_VERDICT_DROP ? "drop" : "pass"; }
const char* untagged(uint8_t u) { return u == WT_UNTAGGED_DENY ? "deny" : "allow"; }

ordered_json endpoint_flags(uint8_t flags) {
  ordered_json out = ordered_json::array();
  for (auto [bit, name] : {std::pair{WT_EP_ANTISPOOF_V4, "antispoof_v4"},
                           std::pair{WT_EP_ANTISPOOF_V6, "antispoof_v6"},
                           std::pair{WT_EP_HAS_SRC_POLICY, "has_src_policy"},
                           std::pair{WT_EP_HAS_WILDCARD_PORTS, "has_wildcard_ports"},
                           std::pair{WT_EP_HAS_WILDCARD_SRC, "has_wildcard_src"}})
    if (flags & bit) out.push_back(name);
  return out;
}

ordered_json bit_list(uint32_t bits) {
  ordered_json out = ordered_json::array();
  for (uint32_t b = 0; b < 32; ++b)
    if (bits & (1u << b)) out.push_back(b);
  return out;
}

// Per-CPU counters summed.
wt_counter sum_counters(const PinnedMap& m, const uint8_t* values) {
  wt_counter total{};
  for (size_t cpu = 0; cpu < possible_cpus(); ++cpu) {
    auto c = as<wt_counter>(values + cpu * value_stride(m));
    total.packets += c.packets;
    total.bytes += c.bytes;
  }
  return total;
}

// The words of a per-slot array map, slot by slot: fn(slot, words of the slot).
void for_each_slot(const PinnedMap& m, uint32_t words_per_slot,
                   const std::function<void(uint32_t, const std::vector<uint64_t>&)>& fn) {
  std::vector<uint64_t> words(m.info.max_entries);
  for_each_entry(m, [&](const uint8_t* k, const uint8_t* v) {
    auto i = as<uint32_t>(k);
    if (i < words.size()) words[i] = as<uint64_t>(v);
  });
  for (uint32_t slot = 0; size_t{slot + 1} * words_per_slot <= words.size(); ++slot) {
    std::vector<uint64_t> slot_words(words.begin() + size_t{slot} * words_per_slot,
                                     words.begin() + size_t{slot + 1} * words_per_slot);
    bool any = false;
    for (uint64_t w : slot_words) any = any || w != 0;
    if (any) fn(slot, slot_words);
  }
}

ordered_json set_bits(const std::vector<uint64_t>& words) {
  ordered_json out = ordered_json::array();
  for (size_t w = 0; w < words.size(); ++w)
    for (unsigned b = 0; b < 64; ++b)
      if (words[w] & (1ull << b)) out.push_back(w * 64 + b);
  return out;
}

// An address of the flow cache's two words (abi.h): IPv4 in the low 32 bits of the second.
ordered_json cache_address(uint8_t family, uint64_t hi, uint64_t lo) {
  uint8_t bytes[16] = {};
  if (family == 4) {
    auto v4 = static_cast<uint32_t>(lo);
    std::memcpy(bytes, &v4, 4);
  } else {
    std::memcpy(bytes, &hi, 8);
    std::memcpy(bytes + 8, &lo, 8);
  }
  return address(family, bytes);
}

using Decoder = std::function<void(const PinnedMap&, const Names&, ordered_json&)>;

void endpoints(const PinnedMap& m, const Names& n, ordered_json& rows) {
  for_each_entry(m, [&](const uint8_t* k, const uint8_t* v) {
    auto ep = as<wt_endpoint>(v);
    Row r;
    n.device(r, as<uint32_t>(k));
    r["tag"] = n.tag(ep.tag);
    r["mode"] = mode_name(ep.mode);
    r["untagged"] = untagged(ep.untagged);
    r["generation"] = ep.generation;
    r["flags"] = endpoint_flags(ep.flags);
    r["ipv4"] = ep.flags & WT_EP_ANTISPOOF_V4
                    ? address(4, reinterpret_cast<const uint8_t*>(&ep.ipv4))
                    : nullptr;
    r["ipv6"] = ep.flags & WT_EP_ANTISPOOF_V6 ? address(6, ep.ipv6) : nullptr;
    r["slot"] = ep.slot;
    rows.push_back(std::move(r));
  });
}

void devices(const PinnedMap& m, const Names&, ordered_json& rows) {
  for_each_entry(m, [&](const uint8_t* k, const uint8_t* v) {
    auto d = as<wt_device>(v);
    Device dev = device_of(d);
    Row r;
    r["ifindex"] = as<uint32_t>(k);
    r["device"] = dev.ifname;
    r["netns"] = dev.netns;
    ordered_json attached = ordered_json::array();
    if (d.attached & 1) attached.push_back("stamp");
    if (d.attached & 2) attached.push_back("enforce");
    r["attached"] = attached;
    rows.push_back(std::move(r));
  });
}

void endpoint_word(Row& r, const Names& n, uint64_t w) {
  n.device(r, WT_EPW_IFINDEX(w));
  r["slot"] = WT_EPW_SLOT(w);
  r["generation"] = WT_EPW_GENERATION(w);
  r["mode"] = mode_name(WT_EPW_MODE(w));
  r["untagged"] = untagged(WT_EPW_UNTAGGED(w));
  r["flags"] = endpoint_flags(WT_EPW_FLAGS(w));
}

void endpoint_index(const PinnedMap& m, const Names& n, ordered_json& rows) {
  for_each_entry(m, [&](const uint8_t* k, const uint8_t* v) {
    auto w = as<uint64_t>(v);
    if (w == 0) return;
    Row r;
    r["index"] = as<uint32_t>(k);
    endpoint_word(r, n, w);
    rows.push_back(std::move(r));
  });
}

void src_policy(const PinnedMap& m, const Names& n, ordered_json& rows) {
  for_each_entry(m, [&](const uint8_t* k, const uint8_t* v) {
    auto key = as<wt_src_key>(k);
    auto p = as<wt_src_policy>(v);
    Row r;
    n.device(r, key.ifindex);
    r["src_tag"] = n.source(key.src_tag);
    r["generation"] = key.generation;
    r["in_force"] = n.in_force(key.ifindex, key.generation);
    r["any_proto"] = p.any_proto != 0;
    r["icmp"] = p.icmp != 0;
    r["tcp_port_plens"] = bit_list(p.port_plens[WT_PROTO_SLOT_TCP]);
    r["udp_port_plens"] = bit_list(p.port_plens[WT_PROTO_SLOT_UDP]);
    rows.push_back(std::move(r));
  });
}

void port_policy(const PinnedMap& m, const Names& n, ordered_json& rows) {
  for_each_entry(m, [&](const uint8_t* k, const uint8_t* v) {
    auto key = as<wt_port_key>(k);
    const unsigned plen = key.plen_gen >> 1;
    const uint32_t span = plen >= 16 ? 1 : 1u << (16 - plen);
    Row r;
    n.device(r, key.ifindex);
    r["src_tag"] = n.source(key.src_tag);
    r["proto"] = proto_name(key.proto);
    r["port"] = key.port;
    r["plen"] = plen;
    r["ports"] = std::to_string(key.port) + "-" + std::to_string(key.port + span - 1);
    r["generation"] = key.plen_gen & 1;
    r["in_force"] = n.in_force(key.ifindex, key.plen_gen & 1);
    r["flags"] = as<wt_port_rule>(v).flags;
    rows.push_back(std::move(r));
  });
}

void flows(const PinnedMap& m, const Names& n, ordered_json& rows) {
  for_each_entry(m, [&](const uint8_t* k, const uint8_t* v) {
    auto key = as<wt_flow_key>(k);
    Row r;
    n.device(r, key.ifindex);
    r["family"] = key.family;
    r["proto"] = proto_name(key.proto);
    r["saddr"] = address(key.family, key.saddr);
    r["sport"] = ntohs(key.sport);
    r["daddr"] = address(key.family, key.daddr);
    r["dport"] = ntohs(key.dport);
    r["last_seen_ns"] = as<wt_flow>(v).last_seen_ns;
    rows.push_back(std::move(r));
  });
}

void fragments(const PinnedMap& m, const Names& n, ordered_json& rows) {
  for_each_entry(m, [&](const uint8_t* k, const uint8_t* v) {
    auto key = as<wt_frag_key>(k);
    Row r;
    n.device(r, key.ifindex);
    r["family"] = key.family;
    r["proto"] = proto_name(key.proto);
    r["id"] = key.id;
    r["saddr"] = address(key.family, key.saddr);
    r["daddr"] = address(key.family, key.daddr);
    r["first_seen_ns"] = as<wt_frag>(v).first_seen_ns;
    rows.push_back(std::move(r));
  });
}

void counters(const PinnedMap& m, const Names& n, ordered_json& rows) {
  for_each_entry(m, [&](const uint8_t* k, const uint8_t* v) {
    auto key = as<wt_counter_key>(k);
    wt_counter total = sum_counters(m, v);
    Row r;
    n.device(r, key.ifindex);
    r["direction"] = direction(key.direction);
    r["reason"] = reason(key.reason);
    r["verdict"] = verdict(key.verdict);
    r["packets"] = total.packets;
    r["bytes"] = total.bytes;
    rows.push_back(std::move(r));
  });
}

// The gate's believed outer sources; the marker (family 0) is the row "in_force".
void vteps(const PinnedMap& m, const Names&, ordered_json& rows) {
  for_each_entry(m, [&](const uint8_t* k, const uint8_t*) {
    auto key = as<wt_vtep_key>(k);
    Row r;
    r["family"] = key.family;
    r["address"] = key.family ? ordered_json(address(key.family, key.addr)) : "in_force";
    rows.push_back(std::move(r));
  });
}

void endpoint_addrs(const PinnedMap& m, const Names& n, ordered_json& rows) {
  for_each_entry(m, [&](const uint8_t* k, const uint8_t* v) {
    auto key = as<wt_addr_key>(k);
    Row r;
    r["family"] = key.family;
    r["address"] = address(key.family, key.addr);
    n.device(r, as<uint32_t>(v));
    rows.push_back(std::move(r));
  });
}

void slot_counters(const PinnedMap& m, const Names& n, ordered_json& rows) {
  // Column -> (reason, verdict): the inverse of wt_slot_column().
  std::vector<std::pair<uint8_t, uint8_t>> columns(WT_SLOT_COLUMNS);
  for (uint8_t rsn = 0; rsn < WT_SLOT_REASONS; ++rsn)
    for (uint8_t v : {uint8_t{WT_VERDICT_PASS}, uint8_t{WT_VERDICT_DROP}})
      if (rsn >= WT_PASS_REASONS || v == WT_VERDICT_PASS)
        columns[wt_slot_column(rsn, v)] = {rsn, v};
  for_each_entry(m, [&](const uint8_t* k, const uint8_t* v) {
    wt_counter total = sum_counters(m, v);
    if (total.packets == 0 && total.bytes == 0) return;
    const uint32_t index = as<uint32_t>(k);
    const uint32_t column = index % WT_SLOT_COLUMNS, dir = index / WT_SLOT_COLUMNS % WT_DIR_MAX;
    Row r;
    r["index"] = index;
    n.slot(r, index / WT_SLOT_COLUMNS / WT_DIR_MAX);
    r["direction"] = direction(static_cast<uint8_t>(dir));
    r["reason"] = reason(columns[column].first);
    r["verdict"] = verdict(columns[column].second);
    r["packets"] = total.packets;
    r["bytes"] = total.bytes;
    rows.push_back(std::move(r));
  });
}

void event_ratelimit(const PinnedMap& m, const Names&, ordered_json& rows) {
  for_each_entry(m, [&](const uint8_t*, const uint8_t* v) {
    for (size_t cpu = 0; cpu < possible_cpus(); ++cpu) {
      auto rl = as<wt_ratelimit>(v + cpu * value_stride(m));
      if (rl.window_start_ns == 0 && rl.sent == 0 && rl.suppressed == 0) continue;
      Row r;
      r["cpu"] = cpu;
      r["window_start_ns"] = rl.window_start_ns;
      r["sent"] = rl.sent;
      r["suppressed"] = rl.suppressed;
      rows.push_back(std::move(r));
    }
  });
}

void reply_ports(const PinnedMap& m, const Names& n, ordered_json& rows) {
  for_each_slot(m, WT_REPLY_PORT_WORDS, [&](uint32_t slot, const std::vector<uint64_t>& words) {
    Row r;
    n.slot(r, slot);
    r["ports"] = set_bits(words);
    rows.push_back(std::move(r));
  });
}

void flow_spill(const PinnedMap& m, const Names& n, ordered_json& rows) {
  for_each_slot(m, WT_FLOW_SPILL_WORDS, [&](uint32_t slot, const std::vector<uint64_t>& words) {
    Row r;
    n.slot(r, slot);
    r["local_ports_mod_4096"] = set_bits(words);
    rows.push_back(std::move(r));
  });
}

void flow_cache(const PinnedMap& m, const Names& n, ordered_json& rows) {
  for_each_entry(m, [&](const uint8_t* k, const uint8_t* v) {
    auto e = as<wt_flow_cache_entry>(v);
    if (e.stamp == 0) return;
    const uint32_t index = as<uint32_t>(k);
    const auto family = static_cast<uint8_t>(e.ports >> 32);
    Row r;
    n.slot(r, wt_flow_cache_slot(e.ports));
    r["entry"] = index;
    r["family"] = family;
    r["proto"] = proto_name(static_cast<uint8_t>(e.stamp >> 40));
    r["local"] = cache_address(family, e.local_hi, e.local_lo);
    r["local_port"] = ntohs(static_cast<uint16_t>(e.ports >> 16));
    r["remote"] = cache_address(family, e.remote_hi, e.remote_lo);
    r["remote_port"] = ntohs(static_cast<uint16_t>(e.ports));
    r["last_seen_jiffies"] = e.stamp & WT_FLOW_CACHE_TIME_MASK;
    rows.push_back(std::move(r));
  });
}

void verdict_cache(const PinnedDatapath& dp, const PinnedMap& m, const Names& n,
                   ordered_json& rows) {
  // An entry is in use only under the epoch of its endpoint's index entry.
  std::map<uint32_t, uint64_t> epochs;
  if (const PinnedMap* e = dp.find(WT_MAP_RULE_EPOCHS))
    for_each_entry(*e, [&](const uint8_t* k, const uint8_t* v) {
      if (auto w = as<uint64_t>(v)) epochs[as<uint32_t>(k)] = w;
    });
  const PinnedMap* index_map = dp.find(WT_MAP_ENDPOINT_INDEX);
  const uint32_t index_mask = index_map ? index_map->info.max_entries - 1 : 0;
  for_each_entry(m, [&](const uint8_t* k, const uint8_t* v) {
    auto w = as<uint64_t>(v);
    if (w == 0) return;
    const uint32_t index = as<uint32_t>(k);
    static constexpr const char* kClass[] = {"tcp", "udp", "icmp", "other"};
    static constexpr const char* kVerdict[] = {"?", "allow_rule", "allow_wildcard", "drop_policy"};
    const uint64_t epoch = w >> 36;
    Row r;
    n.slot(r, index / WT_VERDICT_CACHE_ENTRIES);
    r["entry"] = index % WT_VERDICT_CACHE_ENTRIES;
    r["src_tag"] = n.source(static_cast<uint32_t>(w & 0xffff));
    r["class"] = kClass[(w >> 32) & 3];
    r["port"] = (w >> 16) & 0xffff;
    r["verdict"] = kVerdict[(w >> 34) & 3];
    r["epoch"] = epoch;
    bool current = false;
    if (r["ifindex"].is_number()) {
      auto it = epochs.find(r["ifindex"].get<uint32_t>() & index_mask);
      current = it != epochs.end() && (it->second & WT_VERDICT_EPOCH_MASK) == epoch;
    }
    r["current"] = current;
    rows.push_back(std::move(r));
  });
}

void rule_epochs(const PinnedMap& m, const Names&, ordered_json& rows) {
  for_each_entry(m, [&](const uint8_t* k, const uint8_t* v) {
    if (auto w = as<uint64_t>(v)) {
      Row r;
      r["index"] = as<uint32_t>(k);
      r["epoch"] = w;
      rows.push_back(std::move(r));
    }
  });
}

void stamp_config(const PinnedMap& m, const Names& n, ordered_json& rows) {
  for_each_entry(m, [&](const uint8_t* k, const uint8_t* v) {
    auto c = as<wt_stamp_config>(v);
    if (static_cast<uint32_t>(c.id) == 0) return;
    const auto flags = static_cast<uint8_t>(c.config >> 8);
    const auto ipv4 = static_cast<uint32_t>(c.config >> 32);
    uint8_t ipv6[16];
    std::memcpy(ipv6, &c.ipv6_hi, 8);
    std::memcpy(ipv6 + 8, &c.ipv6_lo, 8);
    Row r;
    n.slot(r, as<uint32_t>(k));
    n.device(r, static_cast<uint32_t>(c.id));
    r["tag"] = n.tag(static_cast<uint32_t>(c.id >> 32));
    r["mode"] = mode_name(static_cast<uint8_t>(c.config));
    r["flags"] = endpoint_flags(flags);
    r["ipv4"] = flags & WT_EP_ANTISPOOF_V4 ? address(4, reinterpret_cast<const uint8_t*>(&ipv4))
                                          : nullptr;
    r["ipv6"] = flags & WT_EP_ANTISPOOF_V6 ? address(6, ipv6) : nullptr;
    r["seq"] = c.seq;
    rows.push_back(std::move(r));
  });
}

const char* type_name(uint32_t type) {
  switch (type) {
    case BPF_MAP_TYPE_HASH:
      return "hash";
    case BPF_MAP_TYPE_ARRAY:
      return "array";
    case BPF_MAP_TYPE_PERCPU_HASH:
      return "percpu_hash";
    case BPF_MAP_TYPE_PERCPU_ARRAY:
      return "percpu_array";
    case BPF_MAP_TYPE_LRU_HASH:
      return "lru_hash";
    case BPF_MAP_TYPE_LRU_PERCPU_HASH:
      return "lru_percpu_hash";
    case BPF_MAP_TYPE_RINGBUF:
      return "ringbuf";
    default:
      return "other";
  }
}

// A non-empty entry: a hash's every key, an array's entries not all zero.
int64_t count_entries(const PinnedMap& m) {
  if (m.info.type == BPF_MAP_TYPE_RINGBUF) return -1;
  int64_t n = 0;
  const size_t bytes = value_bytes(m);
  const bool array = is_array(m.info.type);
  for_each_entry(m, [&](const uint8_t*, const uint8_t* v) {
    if (!array) {
      ++n;
      return;
    }
    for (size_t i = 0; i < bytes; ++i)
      if (v[i]) {
        ++n;
        return;
      }
  });
  return n;
}

}  // namespace

std::vector<MapSummary> list_maps(const PinnedDatapath& dp) {
  std::vector<MapSummary> out;
  for (const PinnedMap& m : dp.maps())
    out.push_back({m.name, type_name(m.info.type), m.info.key_size, m.info.value_size,
                   count_entries(m), m.info.max_entries});
  return out;
}

Result<ordered_json> dump_map(const PinnedDatapath& dp, std::string_view name,
                              unsigned tag_length) {
  const PinnedMap* m = dp.find(name);
  if (!m) {
    std::string known;
    for (const PinnedMap& p : dp.maps()) known += (known.empty() ? "" : ", ") + p.name;
    return Error{"MAP_NOT_FOUND", "no map \"" + std::string(name) + "\" pinned at " + dp.pin_dir() +
                                      "; the maps are: " + known};
  }
  static const std::map<std::string_view, Decoder, std::less<>> decoders = {
      {WT_MAP_ENDPOINTS, endpoints},           {WT_MAP_DEVICES, devices},
      {WT_MAP_ENDPOINT_INDEX, endpoint_index}, {WT_MAP_SRC_POLICY, src_policy},
      {WT_MAP_PORT_POLICY, port_policy},       {WT_MAP_FLOWS, flows},
      {WT_MAP_FRAGMENTS, fragments},           {WT_MAP_COUNTERS, counters},
      {WT_MAP_SLOT_COUNTERS, slot_counters},   {WT_MAP_EVENT_RATELIMIT, event_ratelimit},
      {WT_MAP_REPLY_PORTS, reply_ports},       {WT_MAP_FLOW_CACHE, flow_cache},
      {WT_MAP_FLOW_SPILL, flow_spill},         {WT_MAP_RULE_EPOCHS, rule_epochs},
      {WT_MAP_STAMP_CONFIG, stamp_config},     {WT_MAP_VTEPS, vteps},
      {WT_MAP_ENDPOINT_ADDRS, endpoint_addrs},
  };
  Names names(dp, tag_length);
  ordered_json rows = ordered_json::array();
  if (name == WT_MAP_VERDICT_CACHE) {
    verdict_cache(dp, *m, names, rows);
  } else if (auto it = decoders.find(name); it != decoders.end()) {
    it->second(*m, names, rows);
  }  // events: a ring buffer has no entries to dump (`wiretag monitor` reads it)
  return rows;
}

}  // namespace wiretag::datapath
