// The cell: the devices this agent manages and what each may receive, kept equal in three
// places — the intent (DeviceTable, on disk), the datapath (pinned BPF maps) and, for
// followed apps, the server's effective rules. Thread-safe; every datapath change goes
// through the datapath library's atomic replace.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/assignment.h"
#include "agent/device_table.h"
#include "core/policy_compiler.h"
#include "core/tag_space.h"
#include "datapath/datapath.h"
#include "protocol/change_events.h"
#include "wiretag/result.h"

namespace wiretag::agent {

// A rule into an app as the server sent it: its source app and the deployed policies holding
// it, which a drop's explanation quotes.
struct RuleOrigin {
  std::string source;  // a guid or "*"
  Rule rule;
  std::vector<std::string> policies;
};

// An app's tag and effective inbound rules as the server computed them at `revision`.
struct AppPolicy {
  std::string guid;
  uint32_t tag = 0;
  std::vector<Rule> rules;
  std::set<std::string> sources;  // source guids of the rules ("*" included)
  int64_t revision = 0;
  std::map<std::string, uint32_t> source_tags{};  // the tag of each source guid (trace)
  std::string account{};
  std::vector<RuleOrigin> origins{};  // the rules as sent (unsorted, with their sources)
};

// The answer to one endpoints query: consistent at `revision`.
struct ServerSnapshot {
  std::string store_id;
  int64_t revision = 0;
  std::vector<AppPolicy> apps;
  std::vector<std::string> missing;  // guids the server does not know (deleted apps)
  // With a query that named the cell: its assignment, read in the same transaction.
  std::optional<Assignment> assignment;
};

// An edge of the server's default-whitelist, as its watch event carries it.
struct EdgeChange {
  std::string source;
  std::string destination;
  Rule rule;
};

// pdp.update / pdp.state_change: which group (and subgroup) the PAP changed, and how.
struct PdpChange {
  std::string group;
  std::string subgroup;  // pdp.update
  std::string state;     // pdp.state_change
  std::string mode;      // pdp.state_change: enforce | audit | bypass
  bool deleted = false;  // pdp.state_change of a deleted group
};

// One change from the server's watch, reduced to what decides which apps it touches.
struct ChangeEvent {
  int64_t revision = 0;
  // nullopt: a kind this agent does not know (a newer server's) or a body it cannot read:
  // the cell resyncs.
  std::optional<protocol::EventKind> kind;
  std::string subject;
  std::vector<std::string> destinations;     // protocol::touched_destinations() of the body
  std::optional<EdgeChange> edge{};          // edge.* events with the source's tag
  std::optional<PdpChange> pdp{};            // pdp.* events
  std::optional<int64_t> committed_at_ms{};  // the server's commit time (unix ms), when it says
};

// The canonical order of an app's rules (sorted, unique), so equal sets compare equal.
void canonicalize(std::vector<Rule>& rules);

// How applying rules went: apps whose rules could not be put in the maps (their devices keep
// the rules they had: the replace is atomic) and the first error, "MAP_FULL: …".
struct ApplyReport {
  size_t failed = 0;
  std::string error;
  bool ok() const { return failed == 0; }
  void fail(const Error& e) {
    if (failed++ == 0) error = e.code + ": " + e.message;
  }
  void merge(const ApplyReport& o) {
    if (o.failed && !failed) error = o.error;
    failed += o.failed;
  }
};

// Who receives what the link learns. The agent's Cell; the propagation bench's simulated
// agents implement it without a datapath.
class PolicySink {
 public:
  virtual ~PolicySink() = default;
  virtual std::vector<std::string> followed_apps() const = 0;
  virtual std::optional<std::set<std::string>> affected_apps(const ChangeEvent& e) const = 0;
  virtual ApplyReport apply(const ServerSnapshot& snapshot) = 0;
  // Applies an event by itself when it can (an added edge into an app whose rules it holds);
  // nullopt: the caller must query the server for the app.
  virtual std::optional<ApplyReport> apply_change(const ChangeEvent&) { return std::nullopt; }
  // The datapath mode the cell's PDP group state asks for, for every endpoint of the cell.
  virtual void set_mode(datapath::Mode) {}
};

struct DeviceView {
  DeviceRecord record;
  uint32_t ifindex = 0;
  uint32_t tag = 0;                  // as enforced
  std::optional<datapath::Mode> mode;  // as enforced (unset: not attached)
  std::vector<uint32_t> sources;     // allowed source tags as enforced (0 = "*")
  size_t rules = 0;
  int64_t revision = 0;              // followed: server revision of the applied rules
  bool synced = false;               // followed: rules from the server applied
  bool app_missing = false;          // followed: the server no longer knows the app
  std::string last_error;
};

// What naming a drop needs of the endpoint it happened on (Cell::endpoint_facts).
struct EndpointFacts {
  DeviceRecord record;
  uint32_t tag = 0;                     // the device's own tag as enforced
  std::string account;                  // of a followed app, when the server said
  bool synced = false;                  // followed: the server's rules are applied
  std::vector<RuleOrigin> from_source;  // followed: rules in force from the asked source tag
  std::vector<RuleOrigin> from_any;     // followed: rules in force from "*"
};

struct CellStats {
  size_t endpoints = 0;
  uint64_t allowed = 0;  // enforce: passed packets
  uint64_t dropped = 0;
  uint64_t audited = 0;  // would-drops passed in audit mode
  uint64_t applies = 0, apply_failures = 0;
};

class Cell : public PolicySink {
 public:
  Cell(datapath::Datapath& datapath, DeviceTable table, TagSpace tags);

  const TagSpace& tags() const { return tags_; }

  // On start: forgets devices the datapath holds but the table does not (a crash between
  // the two), re-attaches recorded devices, re-applies static whitelists, drops records of
  // devices that are gone. Followed apps keep their pinned rules until the first resync.
  Result<void> reconcile();

  // Plugin API. Static: the device's own tag and allowed sources (any protocol, all ports).
  Result<DeviceView> put_static(const datapath::Device& device, uint32_t tag,
                                std::vector<uint32_t> sources);
  // Followed: `policy` comes from the server (it may be newer than what apply() saw);
  // `extra_sources` are admitted besides its rules (any protocol, all ports), across every
  // update from the server. `frozen` (assignment.h): the device gets the rules the cell
  // already enforces for the app, none if it holds none — not the server's.
  Result<DeviceView> put_followed(const datapath::Device& device, const AppPolicy& policy,
                                  std::vector<uint32_t> extra_sources = {}, bool frozen = false);
  // DEVICE_NOT_FOUND when the agent does not manage the device.
  Result<void> remove(const datapath::Device& device);
  std::vector<DeviceView> list() const;
  // Attaches the programs to a managed device again (after someone detached them), keeping
  // its endpoint config and rules; a device whose config is gone gets them back as well.
  // DEVICE_NOT_FOUND when the agent does not manage the device.
  Result<DeviceView> reattach(const datapath::Device& device);
  // The next apply() writes every followed app's rules into the maps, changed or not: an
  // operator's resync restores rules changed behind the agent's back.
  void forget_applied();

  // Marks an app as about to be followed, so changes seen meanwhile are not skipped.
  void begin_follow(const std::string& guid);
  void end_follow(const std::string& guid);
  std::vector<std::string> followed_apps() const override;

  // Which followed apps an event may change; nullopt = cannot tell, resync them all.
  std::optional<std::set<std::string>> affected_apps(const ChangeEvent& event) const override;

  // Applies a snapshot to every device following one of its apps; newer-first wins. An app
  // whose rules do not fit keeps the rules it had (on every device) and is reported.
  ApplyReport apply(const ServerSnapshot& snapshot) override;
  // edge.created into a followed app: the rule is added in place (Datapath::add_rules), no
  // query and no generation flip. Removals always take the query + atomic replace path: the
  // same rule may also come from a named policy, which only the server can tell.
  std::optional<ApplyReport> apply_change(const ChangeEvent& event) override;
  // Every endpoint (followed and static) to this mode, and devices attached from now on.
  void set_mode(datapath::Mode mode) override;
  std::optional<datapath::Mode> mode() const;

  // For a trace: the tag of an app this cell knows — one of its devices follows it, or a
  // rule of an app it follows comes from it; and the rules a device enforces.
  std::optional<uint32_t> app_tag(const std::string& guid) const;
  std::vector<Rule> rules_of(const datapath::Device& device) const;

  // The device on `ifindex` and the rules it enforces from `source_tag`; nullopt when this
  // cell manages no device there.
  std::optional<EndpointFacts> endpoint_facts(uint32_t ifindex, uint32_t source_tag) const;
  // A followed app's guid and account by tag, as the server last sent them (its own tag, or
  // a rule's source); nullopt when no followed app tells.
  std::optional<std::pair<std::string, std::string>> app_of_tag(uint32_t tag) const;

  // Forgets devices whose interface or namespace is gone; returns how many.
  size_t sweep_vanished();

  CellStats stats() const;

 private:
  Result<void> apply_locked(const DeviceRecord& record, uint32_t tag,
                            const std::vector<Rule>& rules);
  Result<uint32_t> attach_locked(const DeviceRecord& record, uint32_t tag);
  DeviceView view_locked(const DeviceRecord& record) const;
  // After a put that failed: the record as it was, and no attachment it made.
  void undo_put_locked(const datapath::Device& device, const std::optional<DeviceRecord>& before,
                       bool was_attached);
  void apply_app_locked(const AppPolicy& policy, bool missing, ApplyReport& report);

  datapath::Datapath& dp_;
  DeviceTable table_;
  TagSpace tags_;
  mutable std::mutex mu_;
  std::map<std::string, AppPolicy> apps_;  // last applied server policy per followed app
  std::set<std::string> missing_apps_;
  std::map<std::string, int> pending_;     // begin_follow counts
  std::map<std::string, std::string> errors_;  // ifname@netns → last apply error
  uint64_t applies_ = 0, apply_failures_ = 0;
  std::optional<datapath::Mode> mode_;  // from the PAP; unset: endpoints keep theirs
};

// Static whitelists: each allowed source tag may reach the device on any protocol and port.
std::vector<Rule> static_rules(const std::vector<uint32_t>& sources);
// What a followed device enforces: its app's rules plus its static extra sources.
std::vector<Rule> device_rules(const DeviceRecord& record, const std::vector<Rule>& app_rules);

}  // namespace wiretag::agent
