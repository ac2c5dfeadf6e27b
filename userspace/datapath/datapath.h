// The datapath library: owns the BPF skeleton (open → configure → load), pins and adopts
// maps and programs, attaches to endpoint devices and replaces their policy atomically.
// See docs/datapath.md.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/policy_compiler.h"
#include "datapath/counter_rows.h"
#include "datapath/flow_cache.h"
#include "datapath/mapped_words.h"
#include "datapath/stamp_config.h"
#include "datapath/tc_attach.h"
#include "datapath/typed_map.h"
#include "wiretag/abi.h"
#include "wiretag/result.h"

struct wiretag_bpf;
struct wiretag_gate_bpf;
struct ring_buffer;

namespace wiretag::datapath {

class PinUpgrade;

struct Options {
  std::string pin_dir = "/sys/fs/bpf/wiretag";  // empty: nothing pinned or adopted (tests, trace)
  unsigned tag_length = 2;                      // bytes, 1..4
  // Slots in the per-endpoint arrays: each endpoint costs 8 KiB of reply_ports, 512 B of
  // flow_spill, 4 KiB of verdict_cache and 1184 B of slot_counters per CPU, whether used or
  // not, and adds 64 sets (6 KiB) to the shared flow cache. At most WT_MAX_SLOTS.
  uint32_t max_endpoints = 1024;
  // Sets of the cell's flow cache (two flows each), shared by its endpoints: 0 = 64 per
  // endpoint; a power of two from 4096 to 65536 either way (flow_cache.h).
  uint32_t flow_cache_sets = 0;
  uint32_t max_policy_entries = 1u << 21;  // per policy map, both generations together
  uint32_t max_flows = 1u << 18;
  uint32_t events_per_sec = 1000;  // per CPU
  // Entries of endpoint_index, a power of two: an endpoint whose ifindex shares an entry with
  // another's is read from the endpoints hash instead (tests make them share with 1).
  uint32_t endpoint_index_size = WT_ENDPOINT_INDEX_SIZE;
  // Inspect only: no owner lock, no re-attach, no clean-up, no writes (list, counters, monitor).
  bool read_only = false;
  // Erase the rules a replace_policy left behind in a background thread as soon as it
  // returns; false: only when the policy maps are next written, on settle() or on close (tests).
  bool stale_reaper = true;
  // How programs attach to a device. Auto: TCX links (Linux >= 6.6) pinned in
  // <pin_dir>/links, else clsact filters; without a pin_dir always clsact (an unpinned link
  // would stop enforcing when the process exits). tc_attach.h.
  enum class Hook { Auto, Clsact } hook = Hook::Auto;
  uint16_t vxlan_port = WT_VXLAN_PORT;  // the UDP port the XDP gate inspects
};

enum class Mode : uint8_t { Enforce = WT_MODE_ENFORCE, Audit = WT_MODE_AUDIT, Bypass = WT_MODE_BYPASS };

struct Device {
  std::string netns;   // path of a netns file; empty = our own namespace
  std::string ifname;  // the host-side end of the container's veth
  friend bool operator==(const Device&, const Device&) = default;
};

struct EndpointSettings {
  uint32_t tag = 0;  // the endpoint's own tag
  Mode mode = Mode::Enforce;
  bool allow_untagged = true;
  std::optional<std::array<uint8_t, 4>> antispoof_ipv4;
  std::optional<std::array<uint8_t, 16>> antispoof_ipv6;
};

struct Endpoint {
  uint32_t ifindex = 0;
  Device device;
  wt_endpoint config{};
  size_t rules_src_entries = 0;
  size_t rules_port_entries = 0;
};

// The device a devices entry records.
Device device_of(const wt_device& d);

// The settings an endpoint config was written from (inverse of what attach/configure write).
EndpointSettings settings_of(const wt_endpoint& config);

const char* reason_name(uint32_t reason);
const char* mode_name(uint8_t mode);
const char* direction_name(uint8_t direction);  // stamp, enforce, gate

class Datapath {
 public:
  // Takes the pin dir's owner lock (one owning process per pin dir: DATAPATH_BUSY otherwise),
  // mounts bpffs if needed, loads the programs, reuses maps pinned in pin_dir (adopting a
  // previous process's state), re-attaches every recorded device with the new programs
  // and drops half-written rule generations left by a crash.
  static Result<std::unique_ptr<Datapath>> open(const Options& options);
  ~Datapath();
  Datapath(const Datapath&) = delete;
  Datapath& operator=(const Datapath&) = delete;

  // Idempotent. Writes the endpoint's config before the programs can see its packets.
  Result<uint32_t> attach(const Device& device, const EndpointSettings& settings);
  // The config half of attach, for an ifindex without a device of ours: BPF_PROG_TEST_RUN
  // (tests, benchmarks) runs the programs as if on that ifindex. Creates or updates.
  Result<void> define(uint32_t ifindex, const EndpointSettings& settings);
  // Idempotent: detaching an unknown or vanished device succeeds.
  Result<void> detach(const Device& device);
  // Removes the map state of an endpoint whose device is gone.
  Result<void> forget(uint32_t ifindex);
  // Changes tag, mode, untagged or anti-spoof settings; keeps the rules.
  Result<void> configure(uint32_t ifindex, const EndpointSettings& settings);
  // Atomically replaces the endpoint's rules: packets see all old or all new rules. Returns
  // once the new rules are in force and no program run still reads the old ones; the old
  // generation's entries are then erased by a background thread (the stale reaper), and
  // before anything else writes the policy maps, so they never crowd out new rules.
  Result<void> replace_policy(uint32_t ifindex, const std::vector<Rule>& rules);
  // Erases what the stale reaper has not erased yet: afterwards the policy maps hold only
  // the rules in force (tests, benchmarks).
  void settle();

  // Adds rules to the rules in force, without a generation flip: each entry is written in
  // place (port prefixes before the source entries that point at them), so a packet sees the
  // old rules plus some or all of the added ones — never less than before, never more than
  // after. For pure additions; anything that removes a rule goes through replace_policy.
  Result<void> add_rules(uint32_t ifindex, const std::vector<Rule>& rules);

  // Forgets the flows endpoints originated (of one endpoint, or all): their `flows` entries
  // and flow_cache entries, so a packet of one is no reply any more until the endpoint sends
  // on it again. Returns how many `flows` entries it erased (flow_flush.cc).
  Result<size_t> flush_flows(std::optional<uint32_t> ifindex = std::nullopt);

  std::vector<Endpoint> endpoints() const;
  std::optional<uint32_t> ifindex_of(const Device& device) const;
  std::optional<Device> device(uint32_t ifindex) const;  // from the devices map
  std::vector<CounterRow> counters(std::optional<uint32_t> ifindex = std::nullopt) const;

  // Drop and audit events; poll returns the number handled or an error.
  Result<void> on_event(std::function<void(const wt_event&)> handler);
  Result<int> poll_events(int timeout_ms);

  // How this owner attaches its programs (Options::hook, the kernel, the pin dir).
  TcHook tc_hook() const { return tc_hook_; }
  int stamp_prog_fd() const;
  int enforce_prog_fd() const;

  // The XDP gate on the cell's underlay device (gate.cc, docs/datapath.md "The XDP gate").
  // Loads the gate over this datapath's maps (once), pins it as <pin_dir>/wt_gate_prog and
  // attaches it to the device, replacing whatever XDP program is there with no gap. The
  // attachment outlives the process, as the TC programs do; a new owner attaches its own.
  Result<uint32_t> attach_gate(const Device& underlay);
  // Idempotent: a device without our gate, or gone, is fine.
  Result<void> detach_gate(const Device& underlay);
  // Replaces the outer sources the gate believes (the cells' VTEPs, IPv4 or IPv6 text)
  // and puts the set in force (an empty one: none, every source passes); INVALID_VTEP for an
  // address that is not one (nothing changes).
  Result<void> set_vteps(const std::vector<std::string>& addresses);
  std::vector<std::string> vteps() const;
  // The gate program, loaded on first use (tests run it with BPF_PROG_TEST_RUN).
  Result<int> gate_prog_fd();
  const Options& options() const { return options_; }
  uint32_t tag_mask() const;
  uint32_t kernel_hz() const { return hz_; }  // the flow cache's clock ticks per second
  uint32_t flow_cache_shift() const { return flow_cache_.shift(); }  // wt_flow_cache_set_entry
  // The settings every program of this datapath is loaded with (program_config.h).
  const wt_config& program_config() const { return config_; }

  TypedMap<uint32_t, wt_endpoint> endpoint_map() const { return endpoints_; }
  TypedMap<wt_src_key, wt_src_policy> src_policy_map() const { return src_policy_; }
  TypedMap<wt_port_key, wt_port_rule> port_policy_map() const { return port_policy_; }
  TypedMap<wt_flow_key, wt_flow> flow_map() const { return flows_; }
  int counters_fd() const { return counters_.fd(); }
  // Any of the skeleton's maps by its name (WT_MAP_*), or -1.
  int map_fd(const std::string& name) const;

 private:
  struct RuleKeys {  // what each generation of an endpoint holds in the policy maps
    std::vector<wt_src_key> src[2];
    std::vector<wt_port_key> port[2];
  };

  explicit Datapath(const Options& options);  // in datapath.cc: PinUpgrade is complete there
  Result<void> load();
  Result<void> pin_programs();
  Result<void> adopt();
  // After adopt() switched every device: the old maps' last entries, new pins, the marker.
  Result<void> finish_upgrade();
  Result<void> attach_programs(const Device& device, uint32_t ifindex);
  Result<void> forget_locked(uint32_t ifindex);
  Result<void> erase_generation(uint32_t ifindex, int generation);
  Result<void> define_locked(uint32_t ifindex, const EndpointSettings& settings, bool* created);
  // The one place an endpoint config is written: the endpoints hash, then its index word.
  Result<void> write_config(uint32_t ifindex, const wt_endpoint& config, uint64_t flags);
  void publish_index_word(uint32_t ifindex, const wt_endpoint& config);
  void unpublish_index_word(uint32_t ifindex);
  void bump_rule_epoch(uint32_t ifindex);
  Result<uint16_t> allocate_slot();
  Result<void> reindex();
  void record_reply_ports();
  void wait_for_readers() const;
  Result<void> load_gate();
  // endpoint_addrs: the gate's inner destination -> endpoint, from the anti-spoof addresses.
  void write_endpoint_addrs(uint32_t ifindex, const wt_endpoint* old_config,
                            const wt_endpoint* new_config);
  // Erases every generation queued in stale_ (mu_ held): no program run reads them.
  void erase_stale_locked();
  void run_stale_reaper();

  Options options_;
  TcHook tc_hook_ = TcHook::Clsact;
  std::unique_ptr<TcxLinkTable> tcx_links_;  // with a pin dir: <pin_dir>/links
  std::unique_ptr<PinUpgrade> upgrade_;      // an owner's, from load() to finish_upgrade()
  uint32_t hz_ = 0;
  wt_config config_{};  // copied whole into each object's .rodata: TC programs, gate, trace
  int owner_lock_fd_ = -1;
  wiretag_bpf* skel_ = nullptr;
  std::shared_ptr<wiretag_gate_bpf> gate_;  // loaded by gate_prog_fd/attach_gate
  ring_buffer* ringbuf_ = nullptr;
  std::function<void(const wt_event&)> event_handler_;
  TypedMap<uint32_t, wt_endpoint> endpoints_;
  TypedMap<wt_src_key, wt_src_policy> src_policy_;
  TypedMap<wt_port_key, wt_port_rule> port_policy_;
  TypedMap<wt_flow_key, wt_flow> flows_;
  TypedMap<wt_frag_key, wt_frag> fragments_;
  TypedMap<wt_counter_key, wt_counter> counters_;
  TypedMap<uint32_t, wt_device> devices_;
  MappedWords endpoint_index_;  // empty when read-only
  MappedWords reply_ports_;
  FlowCache flow_cache_;
  MappedWords flow_spill_;
  MappedWords verdict_cache_;
  MappedWords rule_epochs_;
  MappedWords stamp_config_;  // kStampConfigWords per slot (stamp_config.h)
  uint64_t rule_epoch_ = 0;  // the last epoch handed out (bump_rule_epoch)
  mutable std::mutex mu_;
  std::map<uint32_t, RuleKeys> rule_keys_;
  // (ifindex, generation) left behind by replace_policy for the stale reaper; under mu_.
  std::vector<std::pair<uint32_t, int>> stale_;
  std::condition_variable stale_cv_;
  bool stopping_ = false;
  std::thread stale_reaper_;  // started by open unless read-only or disabled; joined by ~Datapath
};

}  // namespace wiretag::datapath
