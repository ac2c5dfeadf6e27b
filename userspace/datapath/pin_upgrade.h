// Upgrading a pin dir: what each map a previous owner pinned (perhaps of another build, or
// other size options) is to this build — adopted, copied into a new map, converted, recreated
// empty or refused — and moving its state into this build's maps. The pinned ABI version is
// a marker map, <pin_dir>/pin_abi. docs/datapath.md, "Upgrades", says the order and why.
#pragma once

#include <bpf/bpf.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "wiretag/abi.h"
#include "wiretag/result.h"

struct bpf_object;

namespace wiretag::datapath {

// The version a pin dir's marker holds; nullopt when it has none (a build before the marker:
// version 0, whose maps are judged by their layout alone).
std::optional<uint32_t> read_pin_abi(const std::string& pin_dir);
// Pins a marker holding `version` (replacing the old one in one rename).
Result<void> write_pin_abi(const std::string& pin_dir, uint32_t version);
// For inspectors: ok when the pin dir has no marker or this build's; DATAPATH_ABI_MISMATCH
// naming both versions otherwise.
Result<void> check_pin_abi_readable(const std::string& pin_dir);

// For a read-only owner: pin paths and the pinned sizes, after check_pin_abi_readable.
Result<void> set_inspector_pin_paths(const std::string& pin_dir, bpf_object* obj);

// What becomes of one map at start.
enum class PinAction {
  Create,    // not pinned: libbpf creates and pins it
  Adopt,     // pinned with this build's type, sizes and flags: reused as it is
  Copy,      // same type and key/value sizes, other max_entries or flags: a new map, same entries
  Convert,   // another layout, with a converter from the pinned version: a new map, converted
  Recreate,  // a cache or the event ring, whose loss the programs handle: a new empty map
};
const char* pin_action_name(PinAction action);

struct MapShape {
  uint32_t type = 0, key_size = 0, value_size = 0, max_entries = 0, flags = 0;
  friend bool operator==(const MapShape&, const MapShape&) = default;
};
std::string describe(const MapShape& shape);

// Turns one entry of a map pinned by an older ABI into this build's (per-CPU maps: one
// CPU's value). Returns false to drop the entry.
using EntryConverter =
    std::function<bool(std::span<const uint8_t> key, std::span<const uint8_t> value,
                       std::vector<uint8_t>& new_key, std::vector<uint8_t>& new_value)>;

// How entries of `map` pinned by pin ABI `from_version`, with these key and value sizes,
// become this build's. Every bump of WT_PIN_ABI_VERSION that changes a map registers one
// here (pin_upgrade.cc) or makes that map a recreated cache; tests register their own.
void register_pin_converter(uint32_t from_version, const std::string& map, uint32_t key_size,
                            uint32_t value_size, EntryConverter convert);

struct MapPlan {
  std::string name;
  PinAction action = PinAction::Create;
  MapShape pinned, wanted;
  int pinned_fd = -1;
  const EntryConverter* convert = nullptr;
};

class PinUpgrade {
 public:
  // Compares every map of `obj` (opened, sized, not loaded) with what pin_dir holds. Touches
  // nothing. PINNED_ABI_NEWER (the marker is above WT_PIN_ABI_VERSION),
  // PINNED_LAYOUT_INCOMPATIBLE (another layout without a converter), PINNED_ENTRIES_DO_NOT_FIT
  // (a smaller map than the entries pinned).
  static Result<std::unique_ptr<PinUpgrade>> plan(const std::string& pin_dir, bpf_object* obj);
  ~PinUpgrade();
  PinUpgrade(const PinUpgrade&) = delete;
  PinUpgrade& operator=(const PinUpgrade&) = delete;

  // Adopted and created maps get their pin path (libbpf reuses or pins them); the others load
  // as new, unpinned maps until commit().
  Result<void> set_pin_paths(bpf_object* obj) const;
  bool migrates() const;
  // After load, before any device runs the new programs: the new maps get the pinned entries.
  Result<void> fill(bpf_object* obj);
  // Once every device runs the new programs and no run of the old ones is left (the old maps
  // no longer change): what the old programs wrote since fill() — flows and fragments, never
  // over a newer entry, nor of an endpoint no longer live; counts, added.
  Result<void> catch_up(bpf_object* obj, const std::function<bool(uint32_t)>& live_ifindex);
  // Last: each new map renamed over its pin, then the marker (written when missing or older
  // even when every map was adopted).
  Result<void> commit(bpf_object* obj);

  uint32_t pinned_version() const { return pinned_version_; }
  const std::vector<MapPlan>& maps() const { return maps_; }
  const MapPlan* find(const std::string& name) const;
  std::string summary() const;  // "flows copy 1024→4096, verdict_cache recreate, …"

 private:
  PinUpgrade() = default;
  std::string pin_dir_;
  uint32_t pinned_version_ = 0;
  std::vector<MapPlan> maps_;
};

}  // namespace wiretag::datapath
