// The agent's intent, persisted in <state-dir>/devices.json: which devices it manages, and
// for each either a static whitelist (Plugin API with allowed_source_wire_bytes) or the app
// it follows on the server (plus, optionally, static extra sources). The pinned BPF maps hold what
// is enforced; this file says what should be, so a restarted agent can reconcile the two
// (docs/agent.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "datapath/datapath.h"
#include "wiretag/result.h"

namespace wiretag::agent {

struct DeviceRecord {
  datapath::Device device;
  std::optional<std::string> app_guid;  // followed on the server; else static
  uint32_t tag = 0;                     // static: the device's own tag (0 = untagged)
  // Allowed source tags, sorted, unique: static, or with app_guid extra sources admitted
  // besides the server's rules (any protocol, all ports).
  std::vector<uint32_t> static_sources;
  friend bool operator==(const DeviceRecord&, const DeviceRecord&) = default;
};

class DeviceTable {
 public:
  // Reads <dir>/devices.json (absent = empty); creates dir. STATE_CORRUPT on a bad file.
  static Result<DeviceTable> open(const std::filesystem::path& dir);

  const std::vector<DeviceRecord>& records() const { return records_; }
  const DeviceRecord* find(const datapath::Device& device) const;

  // Each writes the whole table durably (temp file, fsync, rename, fsync dir) before it
  // returns; on error the table in memory and on disk is unchanged.
  Result<void> put(const DeviceRecord& record);
  Result<void> remove(const datapath::Device& device);

 private:
  Result<void> save(const std::vector<DeviceRecord>& records) const;
  std::filesystem::path path_;
  std::vector<DeviceRecord> records_;
};

}  // namespace wiretag::agent
