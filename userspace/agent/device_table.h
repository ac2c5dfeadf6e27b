// The agent's intent, persisted in <state-dir>/devices/, one file per device: which devices it
// manages, and for each either a static whitelist (Plugin API with allowed_source_wire_bytes) or
// the app it follows on the server (plus, optionally, static extra sources). The pinned BPF maps
// hold what is enforced; these files say what should be, so a restarted agent can reconcile the
// two (docs/agent.md). A change writes only its own device's file, so a POST costs the size of
// its own list, not the sum of every device's (1,000 devices of 1,000 sources each used to mean
// a 15 MB rewrite per POST). The table of older agents, <state-dir>/devices.json, is split into
// the per-device files on open and then removed.
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
  // The interface's ifindex when the record was written (0: unknown, a file written before
  // it was kept): a live interface of that name with another ifindex is a new one, not this.
  uint32_t ifindex = 0;
  friend bool operator==(const DeviceRecord&, const DeviceRecord&) = default;
};

class DeviceTable {
 public:
  // Reads <dir>/devices/*.json (absent = empty), after moving an older <dir>/devices.json into
  // it; creates the dirs (0700; files 0600). STATE_CORRUPT on a bad file.
  static Result<DeviceTable> open(const std::filesystem::path& dir);

  const std::vector<DeviceRecord>& records() const { return records_; }
  const DeviceRecord* find(const datapath::Device& device) const;

  // Each writes its device's file durably (temp file, fsync, rename, fsync dir) or removes it
  // (unlink, fsync dir) before it returns; on error the table in memory and on disk is
  // unchanged.
  Result<void> put(const DeviceRecord& record);
  Result<void> remove(const datapath::Device& device);

 private:
  Result<void> write(const DeviceRecord& record, uint64_t seq) const;
  Result<void> adopt_legacy_table(const std::filesystem::path& legacy);
  std::filesystem::path file_of(const datapath::Device& device) const;
  std::filesystem::path dir_;
  std::vector<DeviceRecord> records_;
  // seqs_[i] is records_[i]'s order of first put: records() keeps it across restarts.
  std::vector<uint64_t> seqs_;
  uint64_t next_seq_ = 1;
};

}  // namespace wiretag::agent
