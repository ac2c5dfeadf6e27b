// The cells (PDPs) that report with PDP_STATUS heartbeats (SPEC §2, §4.4). With a CellsPort
// (core/ports/cells.h; the server's is its database's cells table), kept there, so that every
// server on the database knows every cell and answers alike (cell_registry_store.cc); without
// one (tests), in memory only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/policy_version.h"
#include "wiretag/result.h"

namespace wiretag {

class CellsPort;  // core/ports/cells.h

inline constexpr std::string_view kDefaultGroup = "defaultGroup";

// A policy version a cell reports it holds (PDP_STATUS policies).
using DeployedPolicy = protocol::PolicyVersion;

// Packet counters of a cell's datapath, as the agent last reported them.
struct DatapathCounters {
  int64_t endpoints = 0;
  int64_t allowed = 0;
  int64_t dropped = 0;
  int64_t audited = 0;
  friend bool operator==(const DatapathCounters&, const DatapathCounters&) = default;
};

// A policy version the cell could not apply (wiretag's PDP_STATUS extension), and why:
// "MAP_FULL: …", "VERIFIER: …", "DEVICE_GONE: …".
struct FailedPolicy {
  std::string name;
  std::string version;
  std::string reason;
  friend bool operator==(const FailedPolicy&, const FailedPolicy&) = default;
};

// ONAP's PdpResponseDetails: the cell's answer to the last PDP_UPDATE / PDP_STATE_CHANGE.
struct PdpResponse {
  std::string response_to;  // the request id it answers
  std::string status;       // SUCCESS | FAIL
  std::string message;
};

// One PDP_STATUS message, checked for shape by the API that received it.
struct CellReport {
  std::string name;
  std::string pdp_type;
  std::string pdp_group;     // defaultGroup when the cell did not say
  std::string pdp_subgroup;  // its pdpType when the cell did not say
  std::string state;         // ACTIVE | PASSIVE | SAFE | TEST | TERMINATED (it stopped)
  std::string healthy;       // HEALTHY | NOT_HEALTHY | TEST_IN_PROGRESS | UNKNOWN
  std::string description;
  // ONAP's free-text field for what is deployed: the agent sends its build, "wiretag-agent
  // 0.1.0 (g86c317c)". Empty when the cell did not say.
  std::string deployment_instance_info;
  std::optional<nlohmann::json> properties;  // ONAP's free text (or an object), as sent
  std::vector<DeployedPolicy> policies;
  std::optional<nlohmann::json> statistics;  // ONAP PdpStatistics, as sent
  // What it said (wiretag's extension), else the server's --pdp-heartbeat-interval.
  int64_t heartbeat_interval_ms = 0;
  std::optional<int64_t> revision;  // the change-log revision the cell has applied
  std::optional<DatapathCounters> datapath;
  std::vector<FailedPolicy> failed_policies;
  std::optional<PdpResponse> response;
  // wiretag's extension: the apps (guids) this cell has endpoints of, so the server knows
  // where to send a trace into an app.
  std::vector<std::string> hosted_apps;
  // wiretag's extension: the cell's VTEP addresses (the outer sources of its VXLAN packets),
  // normalized text; what every cell's XDP gate believes (docs/datapath.md "The XDP gate").
  std::vector<std::string> vtep_addresses;
};

// A cell as the server sees it now.
struct Cell {
  CellReport report;
  int64_t last_heartbeat_ms = 0;  // server clock, unix ms
  bool expired = false;           // no heartbeat for more than 3 intervals, or it said TERMINATED
  bool healthy = false;           // reported HEALTHY and not expired
};

class CellRegistry {
 public:
  static constexpr int64_t kDefaultRetentionMs = 3600 * 1000;

  // clock: unix milliseconds; the system clock when empty. An expired cell is forgotten
  // retention_ms after it expired (its last heartbeat + 3 intervals), so one-off names do
  // not pile up: it is in no list and no count from then on.
  explicit CellRegistry(std::function<int64_t()> clock_ms = {},
                        int64_t retention_ms = kDefaultRetentionMs);
  // The cells in `shared`: each heartbeat written through (one upsert, nothing in the change
  // log), the other servers' read back when a list or find comes more than refresh_ms after
  // the last read (a negative refresh_ms: read once, for a store no other server writes).
  // Expiry and retention are computed from the stored heartbeat time and interval, so every
  // server that reads the same rows gives the same answer.
  static constexpr int64_t kDefaultRefreshMs = 100;
  CellRegistry(std::function<int64_t()> clock_ms, int64_t retention_ms, CellsPort& shared,
               int64_t refresh_ms = kDefaultRefreshMs);

  // A heartbeat: registers the cell or replaces what it reported before. STORE_ERROR when it
  // could not be written to the shared store (then this server does not know it either).
  Result<void> report(CellReport report);
  std::vector<Cell> list() const;  // by name
  std::optional<Cell> find(std::string_view name) const;
  // Every VTEP address the cells in list() reported, sorted, once each: the set the
  // cells' gates believe. An expired cell's stay until it is forgotten (it may still send).
  std::vector<std::string> vteps() const;
  // Forgets the cells past their retention now (also in the shared store); how many. report()
  // also does in memory, at most once a second, so memory stays bounded by the cells heard
  // from within the retention.
  size_t evict_expired();

 private:
  struct Entry {
    CellReport report;
    int64_t last_heartbeat_ms;
    std::string stored;  // the report as the shared store holds it (cell_report_codec.h)
  };
  Cell view(const Entry& entry, int64_t now) const;
  bool evicted(const Entry& entry, int64_t now) const;
  size_t evict_locked(int64_t now);
  int64_t now() const;
  // cell_registry_store.cc: the shared store's side.
  Result<void> write_through(const CellReport& report, int64_t at, std::string& stored);
  void refresh_locked(int64_t now) const;
  size_t forget_in_store(int64_t now);

  std::function<int64_t()> clock_ms_;
  int64_t retention_ms_;
  CellsPort* shared_ = nullptr;
  int64_t refresh_ms_ = kDefaultRefreshMs;
  mutable std::mutex mutex_;
  // With a shared store: what it held at refreshed_at_ms_, plus this server's heartbeats since.
  mutable std::map<std::string, Entry, std::less<>> cells_;
  mutable std::optional<int64_t> refreshed_at_ms_;
  mutable bool read_once_ = false;
  int64_t next_sweep_ms_ = 0;
};

}  // namespace wiretag
