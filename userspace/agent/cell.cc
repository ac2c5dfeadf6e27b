#include "agent/cell.h"

#include <net/if.h>

#include <algorithm>
#include <filesystem>
#include <tuple>

#include "common/log.h"
#include "datapath/netns.h"
#include "wiretag/error_kind.h"

namespace wiretag::agent {

using datapath::Device;

namespace {

// The device went away (its container was deleted): not a failure of the policy; the sweeper
// forgets the device.
bool device_gone(const Error& e) { return is(e, ErrorKind::Gone); }

std::string label(const Device& d) {
  return d.ifname + "@" + (d.netns.empty() ? std::string("(own netns)") : d.netns);
}

// The device's ifindex in the kernel now; 0 when the interface or its namespace is gone.
uint32_t live_ifindex(const Device& d) {
  if (!d.netns.empty()) {
    std::error_code ec;
    if (!std::filesystem::exists(d.netns, ec)) return 0;
  }
  auto scope = datapath::NetnsScope::enter(d.netns);
  if (!scope) return 0;
  return if_nametoindex(d.ifname.c_str());
}

// Whether the recorded device is gone: its interface or namespace is (live == 0), or its
// name belongs to a new interface — another ifindex than the one attached (known) or, not
// attached yet, the one recorded when the intent was written. The datapath may have dropped a
// vanished device's state already when it opened, so the record's own ifindex counts too. A
// new interface under the name is nobody's endpoint until it is attached: it must not stamp
// the old one's tag nor take its rules.
bool vanished(const DeviceRecord& rec, std::optional<uint32_t> known, uint32_t live) {
  if (live == 0) return true;
  const uint32_t was = known ? *known : rec.ifindex;
  return was != 0 && was != live;
}

}  // namespace

void canonicalize(std::vector<Rule>& rules) {
  auto key = [](const Rule& r) {
    return std::tuple(r.source_tag, static_cast<int>(r.protocol), r.ports.has_value(),
                      r.ports ? r.ports->start : 0, r.ports ? r.ports->end : 0);
  };
  std::sort(rules.begin(), rules.end(),
            [&](const Rule& x, const Rule& y) { return key(x) < key(y); });
  rules.erase(std::unique(rules.begin(), rules.end()), rules.end());
}

std::vector<Rule> static_rules(const std::vector<uint32_t>& sources) {
  std::vector<Rule> rules;
  rules.reserve(sources.size());
  for (uint32_t tag : sources) rules.push_back(Rule{tag, Protocol::Any, std::nullopt});
  return rules;
}

std::vector<Rule> device_rules(const DeviceRecord& rec, const std::vector<Rule>& app_rules) {
  if (rec.static_sources.empty()) return app_rules;
  std::vector<Rule> all = app_rules;
  for (const Rule& r : static_rules(rec.static_sources)) all.push_back(r);
  canonicalize(all);
  return all;
}

Cell::Cell(datapath::Datapath& datapath, DeviceTable table, TagSpace tags)
    : dp_(datapath), table_(std::move(table)), tags_(tags) {}

Result<void> Cell::reconcile() {
  std::lock_guard lock(mu_);
  // Devices enforced but not in the intent: a crash after the table dropped them.
  for (const datapath::Endpoint& ep : dp_.endpoints()) {
    if (table_.find(ep.device)) continue;
    spdlog::info("reconcile: {} is not in the device table any more: detaching", label(ep.device));
    if (auto r = dp_.detach(ep.device); !r) {
      spdlog::warn("reconcile: detach {}: {}", label(ep.device), r.error().message);
      (void)dp_.forget(ep.ifindex);
    }
  }
  std::vector<DeviceRecord> records = table_.records();
  for (const DeviceRecord& rec : records) {
    uint32_t live = live_ifindex(rec.device);
    std::optional<uint32_t> known = dp_.ifindex_of(rec.device);
    if (vanished(rec, known, live)) {
      spdlog::info("reconcile: {} is gone (or its name is a new interface's now): forgetting it",
                   label(rec.device));
      if (known) (void)dp_.forget(*known);
      if (auto r = table_.remove(rec.device); !r) return r;
      continue;
    }
    if (!rec.app_guid) {
      if (auto r = apply_locked(rec, rec.tag, static_rules(rec.static_sources)); !r)
        spdlog::warn("reconcile: {}: {}", label(rec.device), r.error().message);
    } else if (!known) {
      // Recorded but never attached (crash in between): attach with only its static extra
      // sources until resync.
      if (auto r = apply_locked(rec, 0, static_rules(rec.static_sources)); !r)
        spdlog::warn("reconcile: {}: {}", label(rec.device), r.error().message);
    }
  }
  return Ok();
}

Result<uint32_t> Cell::attach_locked(const DeviceRecord& rec, uint32_t tag) {
  datapath::EndpointSettings settings;
  if (auto known = dp_.ifindex_of(rec.device))
    if (auto config = dp_.endpoint_map().lookup(*known)) settings = datapath::settings_of(*config);
  settings.tag = tag;
  if (mode_) settings.mode = *mode_;
  return dp_.attach(rec.device, settings);
}

Result<void> Cell::apply_locked(const DeviceRecord& rec, uint32_t tag,
                                const std::vector<Rule>& rules) {
  ++applies_;
  std::optional<uint32_t> ifindex = dp_.ifindex_of(rec.device);
  std::optional<wt_endpoint> config;
  if (ifindex) config = dp_.endpoint_map().lookup(*ifindex);
  Result<void> r = Ok();
  if (!ifindex || !config) {
    // Not attached yet (or its config is gone): attach, which writes the config first.
    auto attached = attach_locked(rec, tag);
    if (!attached)
      r = attached.error();
    else
      ifindex = *attached;
  } else if (config->tag != tag) {
    datapath::EndpointSettings settings = datapath::settings_of(*config);
    settings.tag = tag;
    r = dp_.configure(*ifindex, settings);
  }
  if (r) r = dp_.replace_policy(*ifindex, rules);
  if (!r) {
    ++apply_failures_;
    errors_[label(rec.device)] = r.error().code + ": " + r.error().message;
    return r;
  }
  errors_.erase(label(rec.device));
  return Ok();
}

Result<DeviceView> Cell::put_static(const Device& device, uint32_t tag,
                                    std::vector<uint32_t> sources) {
  std::sort(sources.begin(), sources.end());
  sources.erase(std::unique(sources.begin(), sources.end()), sources.end());
  DeviceRecord rec{device, std::nullopt, tag, std::move(sources), live_ifindex(device)};
  std::lock_guard lock(mu_);
  std::optional<DeviceRecord> before;
  if (const DeviceRecord* cur = table_.find(device)) before = *cur;
  const bool was_attached = dp_.ifindex_of(device).has_value();
  // Intent first: a crash after this line is repaired by reconcile() on restart.
  if (auto r = table_.put(rec); !r) return r.error();
  if (auto r = apply_locked(rec, tag, static_rules(rec.static_sources)); !r) {
    undo_put_locked(device, before, was_attached);
    return r.error();
  }
  return view_locked(rec);
}

void Cell::undo_put_locked(const Device& device, const std::optional<DeviceRecord>& before,
                           bool was_attached) {
  if (before)
    (void)table_.put(*before);
  else
    (void)table_.remove(device);
  // A refused request leaves nothing behind: not even the slot of a device it attached.
  if (!was_attached) {
    (void)dp_.detach(device);
    errors_.erase(label(device));
  }
}

Result<DeviceView> Cell::put_followed(const Device& device, const AppPolicy& policy,
                                      std::vector<uint32_t> extra_sources, bool frozen) {
  std::sort(extra_sources.begin(), extra_sources.end());
  extra_sources.erase(std::unique(extra_sources.begin(), extra_sources.end()), extra_sources.end());
  DeviceRecord rec{device, policy.guid, 0, std::move(extra_sources), live_ifindex(device)};
  std::lock_guard lock(mu_);
  std::optional<DeviceRecord> before;
  if (const DeviceRecord* cur = table_.find(device)) before = *cur;
  const bool was_attached = dp_.ifindex_of(device).has_value();
  const AppPolicy* use = &policy;
  AppPolicy none;  // frozen, an app the cell holds no rules for: its tag and no rule
  auto held = apps_.find(policy.guid);
  if (frozen) {
    if (held == apps_.end() && before && before->app_guid == policy.guid && was_attached) {
      // Its pinned rules are all the cell knows of the app (it has not taken the server's
      // since it started frozen): they stay; new extra sources apply at the next resync.
      if (auto r = table_.put(rec); !r) return r.error();
      return view_locked(rec);
    }
    if (held != apps_.end()) {
      use = &held->second;
    } else {
      none.guid = policy.guid;
      none.tag = policy.tag;
      use = &none;
    }
  } else if (held != apps_.end() && held->second.revision > policy.revision) {
    use = &held->second;  // a change applied meanwhile by the watch is newer
  }
  if (auto r = table_.put(rec); !r) return r.error();
  if (auto r = apply_locked(rec, use->tag, device_rules(rec, use->rules)); !r) {
    undo_put_locked(device, before, was_attached);
    return r.error();
  }
  if (use == &policy) {
    apps_[policy.guid] = policy;
    missing_apps_.erase(policy.guid);
  }
  return view_locked(rec);
}

Result<void> Cell::remove(const Device& device) {
  std::lock_guard lock(mu_);
  if (!table_.find(device))
    return Error{"DEVICE_NOT_FOUND", "the agent does not manage " + label(device)};
  // Intent first: after a crash here, reconcile() detaches what the table no longer has.
  if (auto r = table_.remove(device); !r) return r;
  errors_.erase(label(device));
  return dp_.detach(device);
}

std::vector<DeviceView> Cell::list() const {
  std::lock_guard lock(mu_);
  std::vector<DeviceView> out;
  for (const DeviceRecord& rec : table_.records()) out.push_back(view_locked(rec));
  return out;
}

Result<DeviceView> Cell::reattach(const Device& device) {
  std::lock_guard lock(mu_);
  const DeviceRecord* rec = table_.find(device);
  if (!rec) return Error{"DEVICE_NOT_FOUND", "the agent does not manage " + label(device)};
  std::optional<uint32_t> ifindex = dp_.ifindex_of(rec->device);
  std::optional<wt_endpoint> config;
  if (ifindex) config = dp_.endpoint_map().lookup(*ifindex);
  if (config) {
    if (auto r = attach_locked(*rec, config->tag); !r) return r.error();
  } else if (!rec->app_guid) {
    if (auto r = apply_locked(*rec, rec->tag, static_rules(rec->static_sources)); !r)
      return r.error();
  } else {
    auto it = apps_.find(*rec->app_guid);
    const uint32_t tag = it == apps_.end() ? 0 : it->second.tag;
    const std::vector<Rule> rules = it == apps_.end() ? std::vector<Rule>{} : it->second.rules;
    if (auto r = apply_locked(*rec, tag, device_rules(*rec, rules)); !r) return r.error();
  }
  return view_locked(*rec);
}

void Cell::forget_applied() {
  std::lock_guard lock(mu_);
  for (auto& [guid, policy] : apps_) policy.revision = -1;
}

std::optional<uint32_t> Cell::app_tag(const std::string& guid) const {
  std::lock_guard lock(mu_);
  if (auto it = apps_.find(guid); it != apps_.end()) return it->second.tag;
  for (const auto& [followed, policy] : apps_)
    if (auto it = policy.source_tags.find(guid); it != policy.source_tags.end()) return it->second;
  return std::nullopt;
}

std::optional<EndpointFacts> Cell::endpoint_facts(uint32_t ifindex, uint32_t source_tag) const {
  std::optional<Device> device = dp_.device(ifindex);
  if (!device) return std::nullopt;
  std::lock_guard lock(mu_);
  const DeviceRecord* rec = table_.find(*device);
  if (!rec) return std::nullopt;
  EndpointFacts f;
  f.record = *rec;
  f.tag = rec->tag;
  if (auto config = dp_.endpoint_map().lookup(ifindex)) f.tag = config->tag;
  if (!rec->app_guid) return f;
  auto it = apps_.find(*rec->app_guid);
  if (it == apps_.end()) return f;
  f.synced = true;
  f.account = it->second.account;
  for (const RuleOrigin& o : it->second.origins) {
    if (o.rule.source_tag == 0)
      f.from_any.push_back(o);
    else if (o.rule.source_tag == source_tag)
      f.from_source.push_back(o);
  }
  return f;
}

std::optional<std::pair<std::string, std::string>> Cell::app_of_tag(uint32_t tag) const {
  if (tag == 0) return std::nullopt;
  std::lock_guard lock(mu_);
  for (const auto& [guid, policy] : apps_)
    if (policy.tag == tag) return std::pair{guid, policy.account};
  return std::nullopt;
}

std::vector<Rule> Cell::rules_of(const Device& device) const {
  std::lock_guard lock(mu_);
  const DeviceRecord* rec = table_.find(device);
  if (!rec) return {};
  if (!rec->app_guid) return static_rules(rec->static_sources);
  auto it = apps_.find(*rec->app_guid);
  return device_rules(*rec, it == apps_.end() ? std::vector<Rule>{} : it->second.rules);
}

DeviceView Cell::view_locked(const DeviceRecord& rec) const {
  DeviceView v;
  v.record = rec;
  if (auto ifindex = dp_.ifindex_of(rec.device)) {
    v.ifindex = *ifindex;
    if (auto config = dp_.endpoint_map().lookup(*ifindex)) {
      v.tag = config->tag;
      v.mode = datapath::settings_of(*config).mode;
    }
  }
  if (rec.app_guid) {
    if (auto it = apps_.find(*rec.app_guid); it != apps_.end()) {
      v.synced = true;
      v.revision = it->second.revision;
      v.rules = device_rules(rec, it->second.rules).size();
      for (const Rule& r : it->second.rules) v.sources.push_back(r.source_tag);
    } else {
      v.rules = rec.static_sources.size();
    }
    v.sources.insert(v.sources.end(), rec.static_sources.begin(), rec.static_sources.end());
    v.app_missing = missing_apps_.count(*rec.app_guid) > 0;
  } else {
    v.sources = rec.static_sources;
    v.rules = rec.static_sources.size();
  }
  std::sort(v.sources.begin(), v.sources.end());
  v.sources.erase(std::unique(v.sources.begin(), v.sources.end()), v.sources.end());
  if (auto it = errors_.find(label(rec.device)); it != errors_.end()) v.last_error = it->second;
  return v;
}

void Cell::begin_follow(const std::string& guid) {
  std::lock_guard lock(mu_);
  ++pending_[guid];
}

void Cell::end_follow(const std::string& guid) {
  std::lock_guard lock(mu_);
  if (--pending_[guid] <= 0) pending_.erase(guid);
}

std::vector<std::string> Cell::followed_apps() const {
  std::lock_guard lock(mu_);
  std::set<std::string> apps;
  for (const DeviceRecord& rec : table_.records())
    if (rec.app_guid) apps.insert(*rec.app_guid);
  for (const auto& [guid, n] : pending_) apps.insert(guid);
  return {apps.begin(), apps.end()};
}

std::optional<std::set<std::string>> Cell::affected_apps(const ChangeEvent& e) const {
  const std::vector<std::string> followed = followed_apps();
  const std::set<std::string> hosted(followed.begin(), followed.end());
  std::set<std::string> out;
  auto consider = [&](const std::string& guid) {
    if (hosted.count(guid)) out.insert(guid);
  };
  using protocol::EventKind;
  if (!e.kind) return std::nullopt;
  if (*e.kind == EventKind::AppCreated || *e.kind == EventKind::AppDeleted) {
    consider(e.subject);
    if (*e.kind == EventKind::AppDeleted) {  // its edges go with it: apps it could reach change too
      std::lock_guard lock(mu_);
      for (const auto& [guid, policy] : apps_)
        if (policy.sources.count(e.subject)) out.insert(guid);
    }
    return out;
  }
  if (protocol::is_edge(*e.kind) || protocol::is_policy(*e.kind)) {
    for (const std::string& d : e.destinations) consider(d);
    return out;
  }
  // pdp.*: the server link's business (mode, resync), not one app's.
  return out;
}

void Cell::apply_app_locked(const AppPolicy& policy, bool missing, ApplyReport& report) {
  if (auto it = apps_.find(policy.guid); it != apps_.end()) {
    if (it->second.revision > policy.revision) return;  // we already hold newer rules
    if (!missing && it->second.revision >= 0 && it->second.tag == policy.tag &&
        it->second.rules == policy.rules && !missing_apps_.count(policy.guid)) {
      it->second.revision = policy.revision;
      return;
    }
  }
  bool failed = false;
  for (const DeviceRecord& rec : table_.records()) {
    if (rec.app_guid != policy.guid) continue;
    if (auto r = apply_locked(rec, policy.tag, device_rules(rec, policy.rules)); !r) {
      spdlog::warn("apply {} to {}: {}: {}", policy.guid, label(rec.device), r.error().code,
                   r.error().message);
      if (device_gone(r.error())) continue;
      if (!failed) report.fail(r.error());
      failed = true;
    }
  }
  // A device that could not take the rules keeps its old ones (atomic replace): remember the
  // app as not holding these rules, so the next snapshot tries again instead of "no change".
  if (failed) {
    if (auto it = apps_.find(policy.guid); it != apps_.end()) it->second.revision = -1;
    return;
  }
  apps_[policy.guid] = policy;
  if (missing)
    missing_apps_.insert(policy.guid);
  else
    missing_apps_.erase(policy.guid);
}

ApplyReport Cell::apply(const ServerSnapshot& snapshot) {
  ApplyReport report;
  std::lock_guard lock(mu_);
  for (const AppPolicy& p : snapshot.apps) apply_app_locked(p, false, report);
  for (const std::string& guid : snapshot.missing) {
    // Deleted on the server: nothing may reach it any more; it keeps its (quarantined) tag.
    AppPolicy gone;
    gone.guid = guid;
    gone.revision = snapshot.revision;
    if (auto it = apps_.find(guid); it != apps_.end()) gone.tag = it->second.tag;
    if (missing_apps_.count(guid) && apps_.count(guid) && apps_[guid].rules.empty()) continue;
    spdlog::info("app {} is gone from the server: its devices now admit no tagged source", guid);
    apply_app_locked(gone, true, report);
  }
  return report;
}

std::optional<ApplyReport> Cell::apply_change(const ChangeEvent& e) {
  if (e.kind != protocol::EventKind::EdgeCreated || !e.edge) return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = apps_.find(e.edge->destination);
  if (it == apps_.end() || missing_apps_.count(e.edge->destination)) return std::nullopt;
  AppPolicy& policy = it->second;
  if (policy.revision < 0) return std::nullopt;  // its last apply failed: ask for all of it
  ApplyReport report;
  if (policy.revision >= e.revision) return report;  // a query already brought it
  const bool is_new =
      std::find(policy.rules.begin(), policy.rules.end(), e.edge->rule) == policy.rules.end();
  if (is_new) {
    for (const DeviceRecord& rec : table_.records()) {
      if (rec.app_guid != policy.guid) continue;
      ++applies_;
      std::optional<uint32_t> ifindex = dp_.ifindex_of(rec.device);
      Result<void> r = ifindex ? dp_.add_rules(*ifindex, {e.edge->rule})
                               : Result<void>(Error{"ENDPOINT_NOT_FOUND", "not attached"});
      if (!r) {
        // Fall back to the whole set through the atomic replace (attaching if needed).
        std::vector<Rule> all = policy.rules;
        all.push_back(e.edge->rule);
        canonicalize(all);
        --applies_;
        if (auto full = apply_locked(rec, policy.tag, device_rules(rec, all)); !full) {
          spdlog::warn("apply {} to {}: {}: {}", policy.guid, label(rec.device), full.error().code,
                       full.error().message);
          if (!device_gone(full.error())) report.fail(full.error());
        }
      }
    }
    if (!report.ok()) {
      // add_rules is monotonic and the fallback replace atomic: no device holds less than
      // before, but some may lack the new rule. The next query or resync sets them all.
      policy.revision = -1;
      return report;
    }
    policy.rules.push_back(e.edge->rule);
    canonicalize(policy.rules);
    policy.sources.insert(e.edge->source);
    if (e.edge->rule.source_tag) policy.source_tags[e.edge->source] = e.edge->rule.source_tag;
    policy.origins.push_back({e.edge->source, e.edge->rule, {"default-whitelist"}});
  }
  policy.revision = e.revision;
  return report;
}

void Cell::set_mode(datapath::Mode mode) {
  std::lock_guard lock(mu_);
  // Every heartbeat and query reply carries the mode: only a change touches the endpoints
  // (devices attached meanwhile got mode_ at attach).
  if (mode_ == mode) return;
  spdlog::info("datapath mode of every endpoint: {}",
               datapath::mode_name(static_cast<uint8_t>(mode)));
  mode_ = mode;
  for (const datapath::Endpoint& ep : dp_.endpoints()) {
    if (!table_.find(ep.device)) continue;  // not this agent's intent (reconcile detaches it)
    datapath::EndpointSettings settings = datapath::settings_of(ep.config);
    if (settings.mode == mode) continue;
    settings.mode = mode;
    if (auto r = dp_.configure(ep.ifindex, settings); !r)
      spdlog::warn("mode of {}: {}: {}", label(ep.device), r.error().code, r.error().message);
  }
}

std::optional<datapath::Mode> Cell::mode() const {
  std::lock_guard lock(mu_);
  return mode_;
}

size_t Cell::sweep_vanished() {
  std::lock_guard lock(mu_);
  size_t n = 0;
  std::vector<DeviceRecord> records = table_.records();
  for (const DeviceRecord& rec : records) {
    std::optional<uint32_t> known = dp_.ifindex_of(rec.device);
    uint32_t live = live_ifindex(rec.device);
    if (!vanished(rec, known, live)) continue;
    spdlog::info("{} is gone (container deleted?): forgetting its state", label(rec.device));
    if (known) (void)dp_.forget(*known);
    if (auto r = table_.remove(rec.device); !r) {
      spdlog::warn("device table: {}", r.error().message);
      continue;
    }
    errors_.erase(label(rec.device));
    ++n;
  }
  return n;
}

CellStats Cell::stats() const {
  CellStats s;
  {
    std::lock_guard lock(mu_);
    s.endpoints = table_.records().size();
    s.applies = applies_;
    s.apply_failures = apply_failures_;
  }
  for (const datapath::CounterRow& row : dp_.counters()) {
    if (row.key.direction != WT_DIR_ENFORCE) continue;
    if (row.key.verdict == WT_VERDICT_DROP)
      s.dropped += row.total.packets;
    else if (row.key.reason >= WT_REASON_DROP_POLICY)
      s.audited += row.total.packets;
    else
      s.allowed += row.total.packets;
  }
  return s;
}

}  // namespace wiretag::agent
