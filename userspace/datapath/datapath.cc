#include "datapath/datapath.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/membarrier.h>
#include <net/if.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <algorithm>
#include <cstring>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "core/reasons.h"

#include "common/log.h"
#include "datapath/event_record.h"
#include "datapath/kernel_hz.h"
#include "datapath/netns.h"
#include "datapath/pin_upgrade.h"
#include "datapath/program_config.h"
#include "wiretag_bpf.skel.h"

namespace wiretag::datapath {
namespace {

constexpr long kBpfFsMagic = 0xcafe4a11;
constexpr const char* kBpfFsRoot = "/sys/fs/bpf";

bool is_bpffs(const std::string& path) {
  struct statfs st{};
  return ::statfs(path.c_str(), &st) == 0 && st.f_type == kBpfFsMagic;
}

// Like Cilium: mount bpffs at /sys/fs/bpf when nothing is mounted there.
Result<void> ensure_pin_dir(const std::string& pin_dir) {
  namespace fs = std::filesystem;
  if (pin_dir.rfind(kBpfFsRoot, 0) == 0 && !is_bpffs(kBpfFsRoot)) {
    std::error_code ec;
    fs::create_directories(kBpfFsRoot, ec);
    if (::mount("bpf", kBpfFsRoot, "bpf", 0, "mode=0700") != 0)
      return Error::from_errno("BPFFS_MOUNT_FAILED", "mount bpffs at /sys/fs/bpf", errno);
    spdlog::info("mounted bpffs at {}", kBpfFsRoot);
  }
  std::error_code ec;
  fs::create_directories(pin_dir, ec);
  if (ec) return Error{"PIN_DIR_FAILED", "create " + pin_dir + ": " + ec.message()};
  if (!is_bpffs(pin_dir))
    return Error{"PIN_DIR_NOT_BPFFS", pin_dir + " is not on a bpf filesystem"};
  return Ok();
}

bool copy_name(char* dst, size_t cap, const std::string& src) {
  if (src.size() >= cap) return false;
  std::memset(dst, 0, cap);
  std::memcpy(dst, src.data(), src.size());
  return true;
}

wt_endpoint endpoint_config(const EndpointSettings& s, uint8_t generation) {
  wt_endpoint ep{};
  ep.tag = s.tag;
  ep.mode = static_cast<uint8_t>(s.mode);
  ep.untagged = s.allow_untagged ? WT_UNTAGGED_ALLOW : WT_UNTAGGED_DENY;
  ep.generation = generation;
  if (s.antispoof_ipv4) {
    ep.flags |= WT_EP_ANTISPOOF_V4;
    std::memcpy(&ep.ipv4, s.antispoof_ipv4->data(), 4);
  }
  if (s.antispoof_ipv6) {
    ep.flags |= WT_EP_ANTISPOOF_V6;
    std::memcpy(ep.ipv6, s.antispoof_ipv6->data(), 16);
  }
  return ep;
}

// What the rules of one generation hold, for enforce to skip lookups that cannot hit.
// Threads writing one large policy: more than the CPUs would only queue.
unsigned writer_threads() { return std::clamp(std::thread::hardware_concurrency(), 1u, 4u); }

uint8_t rule_flags(const std::vector<wt_src_key>& src, const std::vector<wt_port_key>& port) {
  uint8_t flags = 0;
  for (const auto& k : src) flags |= k.src_tag ? WT_EP_HAS_SRC_POLICY : WT_EP_HAS_WILDCARD_SRC;
  for (const auto& k : port)
    if (k.src_tag == 0 && (k.plen_gen >> 1) == WT_PORT_PLEN_MAX) flags |= WT_EP_HAS_WILDCARD_PORTS;
  return flags;
}

// Settings change what the operator set; the slot and the rule flags stay the datapath's.
wt_endpoint with_datapath_fields(wt_endpoint next, const wt_endpoint& cur) {
  next.slot = cur.slot;
  next.flags = static_cast<uint8_t>((next.flags & ~WT_EP_RULE_FLAGS) | (cur.flags & WT_EP_RULE_FLAGS));
  return next;
}

}  // namespace

Device device_of(const wt_device& d) {
  return Device{std::string(d.netns, strnlen(d.netns, sizeof d.netns)),
                std::string(d.ifname, strnlen(d.ifname, sizeof d.ifname))};
}

EndpointSettings settings_of(const wt_endpoint& ep) {
  EndpointSettings s;
  s.tag = ep.tag;
  s.mode = static_cast<Mode>(ep.mode);
  s.allow_untagged = ep.untagged != WT_UNTAGGED_DENY;
  if (ep.flags & WT_EP_ANTISPOOF_V4) {
    std::array<uint8_t, 4> a;
    std::memcpy(a.data(), &ep.ipv4, 4);
    s.antispoof_ipv4 = a;
  }
  if (ep.flags & WT_EP_ANTISPOOF_V6) {
    std::array<uint8_t, 16> a;
    std::memcpy(a.data(), ep.ipv6, 16);
    s.antispoof_ipv6 = a;
  }
  return s;
}

const char* reason_name(uint32_t reason) { return wiretag::reason_name(reason); }

const char* direction_name(uint8_t direction) {
  switch (direction) {
    case WT_DIR_STAMP: return "stamp";
    case WT_DIR_ENFORCE: return "enforce";
    case WT_DIR_GATE: return "gate";
    default: return "unknown";
  }
}

const char* mode_name(uint8_t mode) {
  switch (mode) {
    case WT_MODE_ENFORCE: return "enforce";
    case WT_MODE_AUDIT: return "audit";
    case WT_MODE_BYPASS: return "bypass";
    default: return "unknown";
  }
}

Result<std::unique_ptr<Datapath>> Datapath::open(const Options& options) {
  if (options.tag_length < 1 || options.tag_length > 4)
    return Error{"INVALID_OPTION", "tag_length must be 1..4 bytes"};
  if (options.max_endpoints < 1 || options.max_endpoints > WT_MAX_SLOTS)
    return Error{"INVALID_OPTION", "max_endpoints must be 1.." + std::to_string(WT_MAX_SLOTS)};
  const uint32_t index_size = options.endpoint_index_size;
  if (index_size < 1 || index_size > (1u << 20) || (index_size & (index_size - 1)) != 0)
    return Error{"INVALID_OPTION", "endpoint_index_size must be a power of two up to 2^20"};
  std::unique_ptr<Datapath> dp(new Datapath(options));
  if (!options.pin_dir.empty()) {
    if (auto r = ensure_pin_dir(options.pin_dir); !r) return r.error();
    if (!options.read_only) {
      // Two owners would each flip generations from their own bookkeeping and corrupt it.
      dp->owner_lock_fd_ = ::open(options.pin_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dp->owner_lock_fd_ < 0)
        return Error::from_errno("PIN_DIR_FAILED", "open " + options.pin_dir, errno);
      if (::flock(dp->owner_lock_fd_, LOCK_EX | LOCK_NB) != 0)
        return Error{"DATAPATH_BUSY", "another process owns the datapath in " + options.pin_dir +
                                          " (the agent?); change it through that process"};
    }
  }
  if (auto r = dp->load(); !r) return r.error();
  if (!options.pin_dir.empty() && !options.read_only) {
    dp->tcx_links_ = std::make_unique<TcxLinkTable>(options.pin_dir + "/links");
    if (options.hook == Options::Hook::Auto && tcx_supported()) dp->tc_hook_ = TcHook::Tcx;
    if (auto r = dp->pin_programs(); !r) return r.error();
  }
  if (auto r = dp->adopt(); !r) return r.error();
  if (auto r = dp->finish_upgrade(); !r) return r.error();
  if (!options.read_only && options.stale_reaper)
    dp->stale_reaper_ = std::thread([d = dp.get()] { d->run_stale_reaper(); });
  return dp;
}

Datapath::Datapath(const Options& options) : options_(options) {}

Datapath::~Datapath() {
  if (stale_reaper_.joinable()) {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    stale_cv_.notify_one();
    stale_reaper_.join();
  }
  settle();  // what the reaper (if any) has not erased: closing leaves only rules in force
  if (ringbuf_) ring_buffer__free(ringbuf_);
  // Destroying the skeleton closes our fds only: tc filters and pins keep enforcing.
  if (skel_) wiretag_bpf__destroy(skel_);
  if (owner_lock_fd_ >= 0) ::close(owner_lock_fd_);
}

uint32_t Datapath::tag_mask() const { return tag_mask_of(options_.tag_length); }

Result<void> Datapath::load() {
  skel_ = wiretag_bpf__open();
  if (!skel_) return Error::from_errno("BPF_OPEN_FAILED", "open BPF skeleton", errno);
  auto hz = datapath::kernel_hz();  // the free function, not the accessor
  if (!hz) return hz.error();
  hz_ = *hz;
  config_ = datapath::program_config(options_, hz_);  // the free function, not the accessor
  skel_->rodata->wt_cfg = config_;
  bpf_map__set_max_entries(skel_->maps.endpoint_index, options_.endpoint_index_size);

  bpf_map__set_max_entries(skel_->maps.endpoints, options_.max_endpoints);
  bpf_map__set_max_entries(skel_->maps.devices, options_.max_endpoints);
  bpf_map__set_max_entries(skel_->maps.src_policy, options_.max_policy_entries);
  bpf_map__set_max_entries(skel_->maps.port_policy, options_.max_policy_entries);
  bpf_map__set_max_entries(skel_->maps.flows, options_.max_flows);
  // Sized as when it held every endpoint's rows, so that a pinned one of an older build is
  // adopted (libbpf reuses a map of the same max_entries only); no prealloc: costs nothing.
  bpf_map__set_max_entries(skel_->maps.counters,
                           options_.max_endpoints * WT_DIR_MAX * WT_SLOT_REASONS * 2);
  bpf_map__set_max_entries(skel_->maps.slot_counters,
                           options_.max_endpoints * uint32_t{WT_DIR_MAX} * WT_SLOT_COLUMNS);
  bpf_map__set_max_entries(skel_->maps.reply_ports, options_.max_endpoints * WT_REPLY_PORT_WORDS);
  const uint32_t cache_sets = flow_cache_sets(options_.max_endpoints, options_.flow_cache_sets);
  bpf_map__set_max_entries(skel_->maps.flow_cache, cache_sets * WT_FLOW_CACHE_WAYS);
  bpf_map__set_max_entries(skel_->maps.flow_spill, options_.max_endpoints * WT_FLOW_SPILL_WORDS);
  bpf_map__set_max_entries(skel_->maps.verdict_cache,
                           options_.max_endpoints * WT_VERDICT_CACHE_ENTRIES);
  bpf_map__set_max_entries(skel_->maps.rule_epochs, options_.endpoint_index_size);
  bpf_map__set_max_entries(skel_->maps.stamp_config, options_.max_endpoints);

  if (!options_.pin_dir.empty() && options_.read_only) {
    if (auto r = set_inspector_pin_paths(options_.pin_dir, skel_->obj); !r) return r;
  } else if (!options_.pin_dir.empty()) {
    auto plan = PinUpgrade::plan(options_.pin_dir, skel_->obj);  // refusals touch nothing
    if (!plan) return plan.error();
    upgrade_ = std::move(*plan);
    if (auto r = upgrade_->set_pin_paths(skel_->obj); !r) return r;
  }
  if (int rc = wiretag_bpf__load(skel_); rc != 0)
    return Error::from_errno("BPF_LOAD_FAILED", "load BPF programs", rc);
  endpoints_ = {bpf_map__fd(skel_->maps.endpoints), WT_MAP_ENDPOINTS};
  const std::string policy_limit = "it holds " + std::to_string(options_.max_policy_entries) +
                                   " entries, both rule generations together: --max-policy-entries";
  src_policy_ = {bpf_map__fd(skel_->maps.src_policy), WT_MAP_SRC_POLICY, policy_limit};
  port_policy_ = {bpf_map__fd(skel_->maps.port_policy), WT_MAP_PORT_POLICY, policy_limit};
  flows_ = {bpf_map__fd(skel_->maps.flows), WT_MAP_FLOWS};
  fragments_ = {bpf_map__fd(skel_->maps.fragments), WT_MAP_FRAGMENTS};
  counters_ = {bpf_map__fd(skel_->maps.counters), WT_MAP_COUNTERS};
  devices_ = {bpf_map__fd(skel_->maps.devices), WT_MAP_DEVICES};
  if (!options_.read_only) {
    const size_t slots = options_.max_endpoints;
    struct {
      MappedWords* into;
      bpf_map* map;
      size_t words;
      const char* name;
    } mapped[] = {
        {&endpoint_index_, skel_->maps.endpoint_index, options_.endpoint_index_size,
         WT_MAP_ENDPOINT_INDEX},
        {&reply_ports_, skel_->maps.reply_ports, slots * WT_REPLY_PORT_WORDS, WT_MAP_REPLY_PORTS},
        {&flow_spill_, skel_->maps.flow_spill, slots * WT_FLOW_SPILL_WORDS, WT_MAP_FLOW_SPILL},
        {&verdict_cache_, skel_->maps.verdict_cache, slots * WT_VERDICT_CACHE_ENTRIES,
         WT_MAP_VERDICT_CACHE},
        {&rule_epochs_, skel_->maps.rule_epochs, options_.endpoint_index_size, WT_MAP_RULE_EPOCHS},
        {&stamp_config_, skel_->maps.stamp_config, slots * kStampConfigWords, WT_MAP_STAMP_CONFIG},
    };
    for (auto& m : mapped) {
      auto words = MappedWords::map(bpf_map__fd(m.map), m.words, m.name);
      if (!words) return words.error();
      *m.into = std::move(*words);
    }
    // An array's values lie back to back: FlowCache::kWords words per entry.
    auto cache = MappedWords::map(bpf_map__fd(skel_->maps.flow_cache),
                                  size_t{cache_sets} * WT_FLOW_CACHE_WAYS * FlowCache::kWords,
                                  WT_MAP_FLOW_CACHE);
    if (!cache) return cache.error();
    flow_cache_ = FlowCache(std::move(*cache), cache_sets);
  }
  // Before adopt() re-slots and indexes the endpoints and any device runs these programs.
  if (upgrade_ && upgrade_->migrates()) return upgrade_->fill(skel_->obj);
  return Ok();
}

int Datapath::map_fd(const std::string& name) const {
  bpf_map* map = bpf_object__find_map_by_name(skel_->obj, name.c_str());
  return map ? bpf_map__fd(map) : -1;
}

Result<uint16_t> Datapath::allocate_slot() {
  std::vector<bool> used(options_.max_endpoints);
  endpoints_.for_each_key([&](const uint32_t& ifindex) {
    if (auto ep = endpoints_.lookup(ifindex); ep && ep->slot < used.size()) used[ep->slot] = true;
  });
  auto free = std::find(used.begin(), used.end(), false);
  if (free == used.end())
    return Error{"ENDPOINTS_FULL", "all " + std::to_string(options_.max_endpoints) +
                                       " endpoint slots are in use (--max-endpoints)"};
  auto slot = static_cast<uint16_t>(free - used.begin());
  // A slot starts clean: no counts and no reply ports of the endpoint that had it before.
  int ncpu = libbpf_num_possible_cpus();
  std::vector<wt_counter> zero(ncpu > 0 ? ncpu : 1);
  constexpr uint32_t kPerSlot = uint32_t{WT_DIR_MAX} * WT_SLOT_COLUMNS;
  for (uint32_t i = 0; i < kPerSlot; ++i) {
    uint32_t index = slot * kPerSlot + i;
    if (bpf_map_update_elem(map_fd(WT_MAP_SLOT_COUNTERS), &index, zero.data(), BPF_ANY) != 0)
      return Error::from_errno("BPF_MAP_FAILED", "clear slot_counters", errno);
  }
  reply_ports_.clear(size_t{slot} * WT_REPLY_PORT_WORDS, WT_REPLY_PORT_WORDS);
  // Its last owner's flows are over: nothing to spill (its spill words are cleared below).
  flow_cache_.evict([slot](uint32_t s) { return s == slot; }, [](uint32_t, uint16_t) {});
  flow_spill_.clear(size_t{slot} * WT_FLOW_SPILL_WORDS, WT_FLOW_SPILL_WORDS);
  verdict_cache_.clear(size_t{slot} * WT_VERDICT_CACHE_ENTRIES, WT_VERDICT_CACHE_ENTRIES);
  clear_stamp_config(stamp_config_, slot);
  return slot;
}

Result<void> Datapath::write_config(uint32_t ifindex, const wt_endpoint& config, uint64_t flags) {
  const auto old = endpoints_.lookup(ifindex);
  if (auto r = endpoints_.update(ifindex, config, flags); !r) return r;
  write_stamp_config(stamp_config_, ifindex, config);
  write_endpoint_addrs(ifindex, old ? &*old : nullptr, &config);
  publish_index_word(ifindex, config);
  bump_rule_epoch(ifindex);
  return Ok();
}

// After the config and rules it covers are written: every verdict enforce cached for the
// endpoints on this index entry was cached under an older epoch, and is never read again.
// Epochs come from one counter, so no value is used twice, even by another endpoint that
// later gets the same slot. Cached words keep the low WT_VERDICT_EPOCH_BITS bits: the whole
// cache is cleared each time the counter passes half of that range, so a word that
// survives can never meet its epoch value again.
void Datapath::bump_rule_epoch(uint32_t ifindex) {
  if (rule_epochs_.size() == 0) return;
  const uint64_t next = ++rule_epoch_;
  if ((next & (WT_VERDICT_EPOCH_MASK >> 1)) == 0) verdict_cache_.clear(0, verdict_cache_.size());
  rule_epochs_.store(ifindex & (options_.endpoint_index_size - 1), next);
}

// The entry goes to the first endpoint that needs it; a second endpoint on the same entry
// is read from the hash (a few ns more per packet), until the entry is free again.
void Datapath::publish_index_word(uint32_t ifindex, const wt_endpoint& config) {
  uint32_t i = ifindex & (options_.endpoint_index_size - 1);
  uint64_t cur = endpoint_index_.load(i);
  if (cur != 0 && WT_EPW_IFINDEX(cur) != ifindex) return;
  endpoint_index_.store(i, wt_endpoint_word(ifindex, &config));
}

void Datapath::unpublish_index_word(uint32_t ifindex) {
  uint32_t i = ifindex & (options_.endpoint_index_size - 1);
  if (WT_EPW_IFINDEX(endpoint_index_.load(i)) == ifindex) endpoint_index_.store(i, 0);
}

// After a restart or a crash: every endpoint has its own slot and the rule flags of its
// rules, and the index holds exactly the words of the endpoints' configs. The hash is the
// truth (a word is written after it); while an entry is cleared here, packets read the
// same config from the hash.
Result<void> Datapath::reindex() {
  std::map<uint32_t, wt_endpoint> eps;
  endpoints_.for_each_key([&](const uint32_t& ifindex) {
    if (auto ep = endpoints_.lookup(ifindex)) eps[ifindex] = *ep;
  });
  std::vector<bool> used(options_.max_endpoints);
  std::vector<uint32_t> without_slot;
  for (const auto& [ifindex, ep] : eps) {
    if (ep.slot < used.size() && !used[ep.slot])
      used[ep.slot] = true;
    else
      without_slot.push_back(ifindex);  // maps of an older build, or a smaller max_endpoints
  }
  for (uint32_t ifindex : without_slot) {
    auto slot = allocate_slot();
    if (!slot) return slot.error();
    eps[ifindex].slot = *slot;
    if (auto r = endpoints_.update(ifindex, eps[ifindex], BPF_EXIST); !r) return r;
  }
  // The rule flags of the generation in force, from the rules themselves: maps of an older
  // build have none, and without them enforce would skip range and wildcard rules.
  for (auto& [ifindex, ep] : eps) {
    const int gen = ep.generation & 1;
    auto it = rule_keys_.find(ifindex);
    uint8_t want = it == rule_keys_.end() ? 0 : rule_flags(it->second.src[gen], it->second.port[gen]);
    if ((ep.flags & WT_EP_RULE_FLAGS) == want) continue;
    ep.flags = static_cast<uint8_t>((ep.flags & ~WT_EP_RULE_FLAGS) | want);
    if (auto r = endpoints_.update(ifindex, ep, BPF_EXIST); !r) return r;
  }
  for (uint32_t i = 0; i < endpoint_index_.size(); ++i) endpoint_index_.store(i, 0);
  // Stamp's copies (absent in maps of an older build), then the words that lead to them.
  for (uint32_t slot = 0; slot < used.size(); ++slot) clear_stamp_config(stamp_config_, slot);
  for (const auto& [ifindex, ep] : eps) write_stamp_config(stamp_config_, ifindex, ep);
  for (const auto& [ifindex, ep] : eps) publish_index_word(ifindex, ep);
  // A previous owner may have died between a config write and its epoch store: every
  // entry gets a new epoch, above every one handed out before.
  for (uint32_t i = 0; i < rule_epochs_.size(); ++i)
    rule_epoch_ = std::max(rule_epoch_, rule_epochs_.load(i));
  for (uint32_t i = 0; i < rule_epochs_.size(); ++i) bump_rule_epoch(i);
  return Ok();
}

// Every live TCP/UDP flow's port bit, set with atomic ORs beside the programs' own, and the
// spill bit of every such flow the flow cache does not hold: a no-op after our own
// restart, needed when the pinned flows were recorded by an older build (no cache, or none
// of these bits).
void Datapath::record_reply_ports() {
  std::map<uint32_t, uint16_t> slots;
  endpoints_.for_each_key([&](const uint32_t& ifindex) {
    if (auto ep = endpoints_.lookup(ifindex)) slots[ifindex] = ep->slot;
  });
  flows_.for_each_key([&](const wt_flow_key& k) {
    auto it = slots.find(k.ifindex);
    if (it == slots.end() || (k.proto != IPPROTO_TCP && k.proto != IPPROTO_UDP)) return;
    const uint32_t slot = it->second;
    uint16_t port = ntohs(k.sport);
    size_t word = size_t{slot} * WT_REPLY_PORT_WORDS + (port >> 6);
    if (word < reply_ports_.size()) reply_ports_.fetch_or(word, 1ull << (port & 63));
    if (flow_cache_.holds(k, slot)) return;  // cached: enforce finds it without flows
    size_t spill = size_t{slot} * WT_FLOW_SPILL_WORDS + ((port & 4095) >> 6);
    if (spill < flow_spill_.size()) flow_spill_.fetch_or(spill, 1ull << (port & 63));
  });
}

Result<void> Datapath::pin_programs() {
  for (bpf_program* prog : {skel_->progs.wt_stamp_prog, skel_->progs.wt_enforce_prog}) {
    std::string path = options_.pin_dir + "/" + bpf_program__name(prog);
    ::unlink(path.c_str());  // the previous process's program; tc keeps it alive until replaced
    if (int rc = bpf_program__pin(prog, path.c_str()); rc != 0)
      return Error::from_errno("BPF_PIN_FAILED", "pin " + path, rc);
  }
  return Ok();
}

Result<void> Datapath::adopt() {
  std::lock_guard lock(mu_);
  src_policy_.for_each_key([&](const wt_src_key& k) {
    rule_keys_[k.ifindex].src[k.generation & 1].push_back(k);
  });
  port_policy_.for_each_key([&](const wt_port_key& k) {
    rule_keys_[k.ifindex].port[k.plen_gen & 1].push_back(k);
  });
  if (options_.read_only) return Ok();
  // First: the index words name the generation packets use, which must not be erased below.
  if (auto r = reindex(); !r) return r;
  // The gate's address map: maps of a build without it start empty.
  endpoints_.for_each_key([&](const uint32_t& i) {
    if (auto ep = endpoints_.lookup(i)) write_endpoint_addrs(i, nullptr, &*ep);
  });

  // A crash between writing a new generation and deleting the old one leaves the inactive
  // generation populated: it is garbage either way.
  std::vector<uint32_t> orphans;
  for (auto& [ifindex, keys] : rule_keys_) {
    auto ep = endpoints_.lookup(ifindex);
    if (!ep) {
      orphans.push_back(ifindex);
      continue;
    }
    if (auto r = erase_generation(ifindex, ep->generation ^ 1); !r) return r;
  }
  for (uint32_t ifindex : orphans) {
    if (auto r = erase_generation(ifindex, 0); !r) return r;
    if (auto r = erase_generation(ifindex, 1); !r) return r;
    rule_keys_.erase(ifindex);
  }

  std::vector<std::pair<uint32_t, Device>> recorded;
  devices_.for_each_key([&](const uint32_t& ifindex) {
    if (auto d = devices_.lookup(ifindex)) recorded.push_back({ifindex, device_of(*d)});
  });
  size_t adopted = 0;
  record_reply_ports();  // before our programs run, and again after (flows of the old ones)
  for (const auto& [ifindex, device] : recorded) {
    auto scope = NetnsScope::enter(device.netns);
    unsigned now = scope ? if_nametoindex(device.ifname.c_str()) : 0;
    if (now != ifindex) {
      spdlog::warn("endpoint {} ({}:{}) is gone; removing its state", ifindex, device.netns,
                   device.ifname);
      if (tcx_links_) tcx_links_->detach(ifindex);  // its links are defunct: unpin them
      if (auto r = forget_locked(ifindex); !r) return r;
      continue;
    }
    if (auto r = attach_programs(device, ifindex); !r) return r;
    ++adopted;
  }
  record_reply_ports();
  if (!options_.pin_dir.empty())
    spdlog::info("datapath ready in {}: adopted {} endpoint(s)", options_.pin_dir, adopted);
  return Ok();
}

Result<void> Datapath::attach_programs(const Device& device, uint32_t ifindex) {
  const int stamp = bpf_program__fd(skel_->progs.wt_stamp_prog);
  const int enforce = bpf_program__fd(skel_->progs.wt_enforce_prog);
  if (tc_hook_ == TcHook::Tcx) {
    if (auto r = tcx_links_->attach(ifindex, stamp, enforce); !r)
      return Error{r.error().code, device.ifname + ": " + r.error().message};
    // A clsact filter of an earlier owner no longer runs (ours pass with TCX_PASS): remove it.
    return detach_clsact(ifindex);
  }
  if (auto r = attach_clsact(ifindex, stamp, enforce); !r)
    return Error{r.error().code, device.ifname + ": " + r.error().message};
  if (tcx_links_ && tcx_links_->pinned(ifindex)) tcx_links_->detach(ifindex);  // an earlier TCX owner
  return Ok();
}

Result<uint32_t> Datapath::attach(const Device& device, const EndpointSettings& settings) {
  if (options_.read_only) return Error{"READ_ONLY", "datapath opened read-only"};
  wt_device rec{};
  if (device.ifname.empty() || !copy_name(rec.ifname, sizeof rec.ifname, device.ifname))
    return Error{"INVALID_DEVICE", "interface name must be 1..15 characters"};
  if (!copy_name(rec.netns, sizeof rec.netns, device.netns))
    return Error{"INVALID_DEVICE", "netns path must be shorter than 104 characters"};
  if (settings.tag > tag_mask())
    return Error{"INVALID_TAG", "tag does not fit tag_length " + std::to_string(options_.tag_length)};
  rec.attached = 3;

  std::lock_guard lock(mu_);
  auto scope = NetnsScope::enter(device.netns);
  if (!scope) return scope.error();
  uint32_t ifindex = if_nametoindex(device.ifname.c_str());
  if (ifindex == 0)
    return Error{"DEVICE_NOT_FOUND", "no device " + device.ifname + " in netns " +
                                         (device.netns.empty() ? "(own)" : device.netns)};
  if (auto known = devices_.lookup(ifindex); known && !(device_of(*known) == device))
    return Error{"IFINDEX_CONFLICT", "ifindex " + std::to_string(ifindex) + " is already " +
                                         device_of(*known).netns + ":" +
                                         device_of(*known).ifname};

  bool created = false;
  if (auto r = define_locked(ifindex, settings, &created); !r) return r.error();
  auto undo = [&] {
    if (!created) return;
    unpublish_index_word(ifindex);
    (void)endpoints_.erase(ifindex);
    (void)devices_.erase(ifindex);
  };
  if (auto r = devices_.update(ifindex, rec); !r) {
    undo();
    return r.error();
  }
  if (auto r = attach_programs(device, ifindex); !r) {
    undo();
    return r.error();
  }
  return ifindex;
}

Result<void> Datapath::define(uint32_t ifindex, const EndpointSettings& settings) {
  if (options_.read_only) return Error{"READ_ONLY", "datapath opened read-only"};
  if (settings.tag > tag_mask()) return Error{"INVALID_TAG", "tag does not fit tag_length"};
  std::lock_guard lock(mu_);
  return define_locked(ifindex, settings, nullptr);
}

// A new endpoint gets a clean slot and generation 0; an existing one keeps its slot, its
// generation and its rules.
Result<void> Datapath::define_locked(uint32_t ifindex, const EndpointSettings& settings,
                                     bool* created) {
  auto existing = endpoints_.lookup(ifindex);
  wt_endpoint ep = endpoint_config(settings, existing ? existing->generation : 0);
  if (existing) {
    ep = with_datapath_fields(ep, *existing);
  } else {
    auto slot = allocate_slot();
    if (!slot) return slot.error();
    ep.slot = *slot;
  }
  if (created) *created = !existing;
  return write_config(ifindex, ep, BPF_ANY);
}

Result<void> Datapath::detach(const Device& device) {
  if (options_.read_only) return Error{"READ_ONLY", "datapath opened read-only"};
  std::optional<uint32_t> ifindex = ifindex_of(device);
  {
    std::lock_guard lock(mu_);
    auto scope = NetnsScope::enter(device.netns);
    unsigned live = scope ? if_nametoindex(device.ifname.c_str()) : 0;
    // A name this datapath does not know may still reach a device it manages under another
    // name (its netns through another path, or another netns where the ifindex repeats):
    // that device's programs (pinned by ifindex) are not this caller's to remove.
    const bool managed_as_another = !ifindex && live != 0 && devices_.lookup(live).has_value();
    if (live != 0 && (!ifindex || *ifindex == live) && !managed_as_another) {
      if (tcx_links_) tcx_links_->detach(live);
      if (auto r = detach_clsact(live); !r)
        return Error{r.error().code, device.ifname + ": " + r.error().message};
    }
  }
  if (!ifindex) return Ok();
  return forget(*ifindex);
}

Result<void> Datapath::forget(uint32_t ifindex) {
  if (options_.read_only) return Error{"READ_ONLY", "datapath opened read-only"};
  std::lock_guard lock(mu_);
  return forget_locked(ifindex);
}

Result<void> Datapath::forget_locked(uint32_t ifindex) {
  if (tcx_links_) tcx_links_->unpin_defunct(ifindex);  // a device still there keeps enforcing
  if (auto r = erase_generation(ifindex, 0); !r) return r;
  if (auto r = erase_generation(ifindex, 1); !r) return r;
  bump_rule_epoch(ifindex);  // no cached verdict outlives the rules
  rule_keys_.erase(ifindex);
  unpublish_index_word(ifindex);  // packets fall back to the hash until it is gone too
  if (auto old = endpoints_.lookup(ifindex)) {
    clear_stamp_config(stamp_config_, old->slot);
    write_endpoint_addrs(ifindex, &*old, nullptr);
  }
  if (auto r = endpoints_.erase(ifindex); !r) return r;
  if (auto r = devices_.erase(ifindex); !r) return r;

  std::vector<wt_counter_key> counter_keys;
  counters_.for_each_key([&](const wt_counter_key& k) {
    if (k.ifindex == ifindex) counter_keys.push_back(k);
  });
  for (const auto& k : counter_keys) (void)bpf_map_delete_elem(counters_.fd(), &k);
  // Flows and fragment admissions keyed by this ifindex must not admit packets to a future
  // endpoint reusing it.
  std::vector<wt_flow_key> flow_keys;
  flows_.for_each_key([&](const wt_flow_key& k) {
    if (k.ifindex == ifindex) flow_keys.push_back(k);
  });
  for (const auto& k : flow_keys) (void)flows_.erase(k);
  std::vector<wt_frag_key> frag_keys;
  fragments_.for_each_key([&](const wt_frag_key& k) {
    if (k.ifindex == ifindex) frag_keys.push_back(k);
  });
  for (const auto& k : frag_keys) (void)fragments_.erase(k);
  return Ok();
}

Result<void> Datapath::configure(uint32_t ifindex, const EndpointSettings& settings) {
  if (options_.read_only) return Error{"READ_ONLY", "datapath opened read-only"};
  if (settings.tag > tag_mask()) return Error{"INVALID_TAG", "tag does not fit tag_length"};
  std::lock_guard lock(mu_);
  auto cur = endpoints_.lookup(ifindex);
  if (!cur) return Error{"ENDPOINT_NOT_FOUND", "no endpoint " + std::to_string(ifindex)};
  return write_config(ifindex, with_datapath_fields(endpoint_config(settings, cur->generation), *cur),
                      BPF_EXIST);
}

Result<void> Datapath::erase_generation(uint32_t ifindex, int generation) {
  auto it = rule_keys_.find(ifindex);
  if (it == rule_keys_.end()) return Ok();
  auto& src = it->second.src[generation];
  auto& port = it->second.port[generation];
  if (auto r = port_policy_.erase_batch_parallel(port, writer_threads()); !r) return r;
  if (auto r = src_policy_.erase_batch_parallel(src, writer_threads()); !r) return r;
  src.clear();
  port.clear();
  return Ok();
}

void Datapath::erase_stale_locked() {
  for (auto [ifindex, generation] : stale_) {
    // Everything that writes the policy maps empties the queue first, so a queued generation
    // is in force only for an endpoint forgotten and defined again since (its rules already
    // erased): leave that one alone.
    auto ep = endpoints_.lookup(ifindex);
    if (ep && (ep->generation & 1) == generation) continue;
    if (auto r = erase_generation(ifindex, generation); !r)  // its keys stay in rule_keys_:
      spdlog::warn("erasing the old rules of endpoint {}: {} (retried by its next replace)",
                   ifindex, r.error().message);
  }
  stale_.clear();
}

void Datapath::run_stale_reaper() {
  std::unique_lock lock(mu_);
  for (;;) {
    stale_cv_.wait(lock, [&] { return stopping_ || !stale_.empty(); });
    if (stopping_) return;  // ~Datapath erases the rest
    erase_stale_locked();
  }
}

void Datapath::settle() {
  std::lock_guard lock(mu_);
  erase_stale_locked();
}

void Datapath::wait_for_readers() const {
  // MEMBARRIER_CMD_GLOBAL is synchronize_rcu(): every program run that read the old
  // generation has finished when it returns.
  if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0) return;
  static bool warned = false;
  if (!warned) {
    spdlog::warn("membarrier(GLOBAL) unavailable ({}); waiting 50 ms per policy replace",
                 strerror(errno));
    warned = true;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

Result<void> Datapath::add_rules(uint32_t ifindex, const std::vector<Rule>& rules) {
  if (options_.read_only) return Error{"READ_ONLY", "datapath opened read-only"};
  std::lock_guard lock(mu_);
  auto cur = endpoints_.lookup(ifindex);
  if (!cur) return Error{"ENDPOINT_NOT_FOUND", "no endpoint " + std::to_string(ifindex)};
  const int gen = cur->generation & 1;
  auto compiled = PolicyCompiler::compile(ifindex, static_cast<uint8_t>(gen), rules);
  if (!compiled) return compiled.error();
  erase_stale_locked();
  RuleKeys& keys = rule_keys_[ifindex];
  auto remember = [](auto& list, const auto& key) {
    if (std::find_if(list.begin(), list.end(), [&](const auto& k) {
          return std::memcmp(&k, &key, sizeof key) == 0;
        }) == list.end())
      list.push_back(key);
  };
  // Port prefixes first: a source entry only advertises prefix lengths whose entries exist.
  std::vector<wt_port_rule> port_values(compiled->port_keys.size());
  if (auto r = port_policy_.update_batch(compiled->port_keys, port_values); !r) return r;
  for (const wt_port_key& k : compiled->port_keys) remember(keys.port[gen], k);
  for (size_t i = 0; i < compiled->src_keys.size(); ++i) {
    wt_src_policy merged = compiled->src_values[i];
    if (auto old = src_policy_.lookup(compiled->src_keys[i])) {
      merged.any_proto |= old->any_proto;
      merged.icmp |= old->icmp;
      for (int slot = 0; slot < 2; ++slot) merged.port_plens[slot] |= old->port_plens[slot];
    }
    if (auto r = src_policy_.update(compiled->src_keys[i], merged); !r) return r;
    remember(keys.src[gen], compiled->src_keys[i]);
  }
  // Last: the flags let enforce look at the kinds of entries just written.
  uint8_t added = rule_flags(compiled->src_keys, compiled->port_keys);
  if ((cur->flags & added) == added) {
    bump_rule_epoch(ifindex);  // cached denials of what was just allowed
    return Ok();
  }
  wt_endpoint next = *cur;
  next.flags |= added;
  return write_config(ifindex, next, BPF_EXIST);
}

Result<void> Datapath::replace_policy(uint32_t ifindex, const std::vector<Rule>& rules) {
  if (options_.read_only) return Error{"READ_ONLY", "datapath opened read-only"};
  std::lock_guard lock(mu_);
  auto cur = endpoints_.lookup(ifindex);
  if (!cur) return Error{"ENDPOINT_NOT_FOUND", "no endpoint " + std::to_string(ifindex)};
  const int old_gen = cur->generation & 1, new_gen = old_gen ^ 1;

  auto compiled = PolicyCompiler::compile(ifindex, static_cast<uint8_t>(new_gen), rules);
  if (!compiled) return compiled.error();
  erase_stale_locked();  // a previous replace's old rules: room for the new ones
  if (auto r = erase_generation(ifindex, new_gen); !r) return r;

  RuleKeys& keys = rule_keys_[ifindex];
  keys.src[new_gen] = compiled->src_keys;
  keys.port[new_gen] = compiled->port_keys;
  std::vector<wt_port_rule> port_values(compiled->port_keys.size());
  auto written =
      src_policy_.update_batch_parallel(compiled->src_keys, compiled->src_values, writer_threads());
  if (written)
    written = port_policy_.update_batch_parallel(compiled->port_keys, port_values, writer_threads());
  if (!written) {
    (void)erase_generation(ifindex, new_gen);  // the old generation stays in force
    return written.error();
  }

  wt_endpoint next = *cur;
  next.generation = static_cast<uint8_t>(new_gen);
  next.flags = static_cast<uint8_t>((next.flags & ~WT_EP_RULE_FLAGS) |
                                    rule_flags(compiled->src_keys, compiled->port_keys));
  if (auto r = write_config(ifindex, next, BPF_EXIST); !r) {
    (void)erase_generation(ifindex, new_gen);
    return r;
  }
  wait_for_readers();
  stale_.emplace_back(ifindex, old_gen);
  stale_cv_.notify_one();
  return Ok();
}

std::optional<Device> Datapath::device(uint32_t ifindex) const {
  if (auto d = devices_.lookup(ifindex)) return device_of(*d);
  return std::nullopt;
}

std::optional<uint32_t> Datapath::ifindex_of(const Device& device) const {
  std::optional<uint32_t> found;
  devices_.for_each_key([&](const uint32_t& ifindex) {
    if (auto d = devices_.lookup(ifindex); d && device_of(*d) == device) found = ifindex;
  });
  return found;
}

std::vector<Endpoint> Datapath::endpoints() const {
  std::lock_guard lock(mu_);
  std::vector<Endpoint> out;
  devices_.for_each_key([&](const uint32_t& ifindex) {
    auto d = devices_.lookup(ifindex);
    auto ep = endpoints_.lookup(ifindex);
    if (!d || !ep) return;
    Endpoint e{ifindex, device_of(*d), *ep, 0, 0};
    if (auto it = rule_keys_.find(ifindex); it != rule_keys_.end()) {
      e.rules_src_entries = it->second.src[ep->generation & 1].size();
      e.rules_port_entries = it->second.port[ep->generation & 1].size();
    }
    out.push_back(std::move(e));
  });
  return out;
}

std::vector<CounterRow> Datapath::counters(std::optional<uint32_t> ifindex) const {
  return read_counter_rows(counters_.fd(), map_fd(WT_MAP_SLOT_COUNTERS), endpoints_.fd(), ifindex);
}

Result<void> Datapath::on_event(std::function<void(const wt_event&)> handler) {
  event_handler_ = std::move(handler);
  if (ringbuf_) return Ok();
  auto cb = [](void* ctx, void* data, size_t size) -> int {
    auto* self = static_cast<Datapath*>(ctx);
    if (auto ev = event_of_record(data, size); ev && self->event_handler_) self->event_handler_(*ev);
    return 0;
  };
  ringbuf_ = ring_buffer__new(bpf_map__fd(skel_->maps.events), cb, this, nullptr);
  if (!ringbuf_) return Error::from_errno("RINGBUF_FAILED", "open event ring buffer", errno);
  return Ok();
}

Result<int> Datapath::poll_events(int timeout_ms) {
  if (!ringbuf_) return Error{"RINGBUF_FAILED", "on_event() first"};
  int n = ring_buffer__poll(ringbuf_, timeout_ms);
  if (n < 0 && n != -EINTR) return Error::from_errno("RINGBUF_FAILED", "poll events", n);
  return n < 0 ? 0 : n;
}

int Datapath::stamp_prog_fd() const { return bpf_program__fd(skel_->progs.wt_stamp_prog); }
int Datapath::enforce_prog_fd() const { return bpf_program__fd(skel_->progs.wt_enforce_prog); }

}  // namespace wiretag::datapath
