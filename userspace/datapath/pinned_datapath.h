// The datapath as an inspector sees it: the maps another process (the agent, or `wiretag
// endpoint attach`) pinned under the pin dir, opened by path. Opening creates, pins, loads
// and mounts nothing, takes no owner lock and writes no map: `endpoint list`, `endpoint
// counters`, `monitor` and `maps` are safe on a live cell and on a host without wiretag.
#pragma once

#include <bpf/bpf.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "datapath/counter_rows.h"
#include "datapath/datapath.h"
#include "wiretag/abi.h"
#include "wiretag/result.h"

struct ring_buffer;

namespace wiretag::datapath {

// The maps of the datapath, in the order docs/datapath.md lists them.
const std::vector<std::string_view>& datapath_map_names();

struct PinnedMap {
  std::string name;
  int fd = -1;
  bpf_map_info info{};  // type, key/value sizes, max_entries, flags
};

class PinnedDatapath {
 public:
  // DATAPATH_NOT_FOUND when pin_dir holds no datapath (no endpoints map pinned there),
  // DATAPATH_ACCESS when it cannot be opened (not root), DATAPATH_ABI_MISMATCH when the pin
  // dir's pin_abi marker holds another version than this build's WT_PIN_ABI_VERSION (none:
  // a build before the marker) or a map's key or value size is not this build's abi.h. Maps of a newer build that an older owner
  // never pinned are simply absent.
  static Result<std::unique_ptr<PinnedDatapath>> open(const std::string& pin_dir);
  ~PinnedDatapath();
  PinnedDatapath(const PinnedDatapath&) = delete;
  PinnedDatapath& operator=(const PinnedDatapath&) = delete;

  const std::string& pin_dir() const { return pin_dir_; }
  const std::vector<PinnedMap>& maps() const { return maps_; }
  const PinnedMap* find(std::string_view name) const;  // nullptr when not pinned
  int map_fd(std::string_view name) const;             // -1 when not pinned

  std::vector<Endpoint> endpoints() const;
  std::optional<uint32_t> ifindex_of(const Device& device) const;
  std::optional<Device> device(uint32_t ifindex) const;  // from the devices map
  std::vector<CounterRow> counters(std::optional<uint32_t> ifindex = std::nullopt) const;

  // Drop and audit events from the events ring buffer; poll returns the number handled.
  Result<void> on_event(std::function<void(const wt_event&)> handler);
  Result<int> poll_events(int timeout_ms);

 private:
  PinnedDatapath() = default;
  std::string pin_dir_;
  std::vector<PinnedMap> maps_;
  ring_buffer* ringbuf_ = nullptr;
  std::function<void(const wt_event&)> event_handler_;
};

}  // namespace wiretag::datapath
