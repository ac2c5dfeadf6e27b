#include "agent/server_link.h"

#include <algorithm>

#include "agent/server_messages.h"
#include "common/log.h"
#include "http/json_input.h"
#include "wiretag/error_kind.h"
#include "wiretag/version.h"

namespace wiretag::agent {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr size_t kQueryBatch = 10000;  // the server's limit per query

Error bad(const std::string& what) { return Error{"INVALID_RESPONSE", "server sent " + what}; }

}  // namespace

ServerLink::ServerLink(LinkOptions options, PolicySink& sink)
    : options_(std::move(options)),
      sink_(sink),
      pool_(options_.servers
                ? options_.servers
                : ServerPool::single(options_.server, options_.backoff_min, options_.backoff_max)),
      watch_client_(pool_, options_.token, options_.tls),
      query_client_(pool_, options_.token, options_.tls),
      status_client_(pool_, options_.token, options_.tls) {}

ServerLink::~ServerLink() { stop(); }

Result<ServerSnapshot> ServerLink::query(const std::vector<std::string>& apps) {
  auto snapshot = query_once(apps);
  // The server answers for the group the cell last reported: another one after a restart
  // with another --group. Never apply the rules of a group the cell is not in.
  const bool stale = snapshot && snapshot->assignment &&
                     (snapshot->assignment->group != options_.group ||
                      snapshot->assignment->subgroup != options_.pdp_type);
  if (stale || (!snapshot && is(snapshot.error(), ErrorKind::CellUnavailable))) {
    // The server has not heard of this cell (as it is now) since it started: introduce it,
    // then ask again.
    if (auto a = post_status(); !a) return a.error();
    snapshot = query_once(apps);
  }
  return snapshot;
}

Result<ServerSnapshot> ServerLink::query_once(const std::vector<std::string>& apps) {
  ServerSnapshot out;
  out.revision = -1;
  std::lock_guard lock(query_mu_);
  for (size_t at = 0; at < apps.size() || at == 0; at += kQueryBatch) {
    json body = {{"apps", json::array()}, {"cell", options_.cell}};
    for (size_t i = at; i < std::min(apps.size(), at + kQueryBatch); ++i)
      body["apps"].push_back(apps[i]);
    if (body["apps"].empty()) {
      // Nothing followed: still learn the store id and revision (for the watch's start).
      auto res = query_client_.get().request("GET", "/internal/v1/status", "", 10s);
      if (!res) return res.error();
      if (res->status != 200)
        return Error{"SERVER_ERROR",
                     "status: HTTP " + std::to_string(res->status) + " " + res->body};
      WT_TRY(j, res->json());
      return parse_server_status(*j);
    }
    auto res =
        query_client_.get().request("POST", "/internal/v1/endpoints/query", body.dump(), 30s);
    if (!res) return res.error();
    if (res->status == 404 && error_kind(res->error_code()) == ErrorKind::CellUnavailable)
      return Error{"CELL_NOT_FOUND", "the server has no PDP_STATUS from this cell yet"};
    if (res->status != 200)
      return Error{"SERVER_ERROR",
                   "endpoints query: HTTP " + std::to_string(res->status) + " " + res->body};
    WT_TRY(j, res->json());
    WT_TRY(part, parse_snapshot(*j));
    if (!out.store_id.empty() && out.store_id != part->store_id)
      return Error{"STORE_CHANGED", "the server's store changed during a query"};
    out.store_id = part->store_id;
    if (out.assignment && part->assignment &&
        !same_policies(out.assignment->policies, part->assignment->policies))
      return Error{"ASSIGNMENT_CHANGED", "the cell's deployed policies changed during a query"};
    if (!out.assignment) out.assignment = part->assignment;
    out.revision = out.revision < 0 ? part->revision : std::min(out.revision, part->revision);
    for (auto& a : part->apps) out.apps.push_back(std::move(a));
    for (auto& m : part->missing) out.missing.push_back(std::move(m));
    if (apps.size() <= at + kQueryBatch) break;
  }
  for (auto& a : out.apps) a.revision = out.revision;
  return out;
}

void ServerLink::start(std::function<json()> extra) {
  extra_status_ = std::move(extra);
  stopping_ = false;
  heartbeat_thread_ = std::thread([this] { heartbeat_loop(); });
  watch_thread_ = std::thread([this] { watch_loop(); });
}

void ServerLink::stop() {
  {
    std::lock_guard lock(sleep_mu_);
    if (stopping_.exchange(true)) {
      // already stopping or stopped
    }
  }
  sleep_cv_.notify_all();
  watch_client_.cancel();
  query_client_.cancel();
  status_client_.cancel();
  if (watch_thread_.joinable()) watch_thread_.join();
  if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
}

bool ServerLink::sleep_for(std::chrono::milliseconds d) {
  std::unique_lock lock(sleep_mu_);
  sleep_cv_.wait_for(lock, d, [this] { return stopping_.load(); });
  return !stopping_;
}

bool ServerLink::fail_over(uint64_t generation, const Error& why, const char* what) {
  connected_ = false;
  auto wait = pool_->failed(generation, why.code);
  spdlog::warn("{}: {}: {} (enforcement unchanged; retry in {} ms on {})", what, why.code,
               why.message, wait.count(), server_name(pool_->held().url));
  return sleep_for(wait);
}

Result<void> ServerLink::full_resync() {
  std::lock_guard lock(resync_mu_);
  auto snapshot = query(sink_.followed_apps());
  if (!snapshot) return snapshot.error();
  std::optional<Assignment> assignment = snapshot->assignment;
  if (!assignment) {  // following no app: the assignment comes with a PDP_STATUS
    auto a = post_status();
    if (!a) return a.error();
    assignment = *a;
  }
  if (frozen(*assignment))
    hold(*assignment);
  else
    record_apply(*assignment, sink_.apply(*snapshot), true);
  if (!store_id_.empty() && store_id_ != snapshot->store_id)
    spdlog::warn("the server's store changed ({} → {}): resynced from it", store_id_,
                 snapshot->store_id);
  store_id_ = snapshot->store_id;
  revision_ = snapshot->revision;
  ++resyncs_;
  synced_ = true;
  std::uniform_int_distribution<int64_t> jitter(800, 1200);
  next_periodic_resync_ =
      (std::chrono::steady_clock::now() +
       std::chrono::milliseconds(options_.resync_interval.count() * jitter(resync_rng_)))
          .time_since_epoch()
          .count();
  spdlog::info("resynced {} app(s) at revision {}",
               snapshot->apps.size() + snapshot->missing.size(), snapshot->revision);
  return Ok();
}

Result<void> ServerLink::handle_watch_reply(const json& body) {
  std::lock_guard resync_lock(resync_mu_);
  if (!body.is_object() || !body.contains("revision") || !body["revision"].is_number_integer() ||
      !body.contains("store_id") || !body["store_id"].is_string())
    return bad("a watch reply without revision or store_id");
  if (int64_t rev = body["revision"].get<int64_t>(); rev > server_revision_) server_revision_ = rev;
  if (body.contains("tag_length") && body["tag_length"].is_number_integer() &&
      body["tag_length"].get<int>() != options_.tag_length)
    return Error{"TAG_LENGTH_MISMATCH", "the server uses tag length " +
                                            std::to_string(body["tag_length"].get<int>()) +
                                            ", this agent " + std::to_string(options_.tag_length)};
  if (body["store_id"].get<std::string>() != store_id_ ||
      (body.contains("resync") && body["resync"].is_boolean() && body["resync"].get<bool>())) {
    resync_requested_ = true;
    return Ok();
  }
  std::set<std::string> affected;
  std::vector<int64_t> committed;  // commit times of the events put in force below
  bool all = false;
  if (body.contains("events") && body["events"].is_array()) {
    for (const json& ej : body["events"]) {
      WT_TRY(e, parse_event(ej));
      if (!relevant(*e)) continue;
      auto apps = sink_.affected_apps(*e);
      if (!apps) {
        all = true;
        break;
      }
      // An added edge is applied from the event itself; anything else is asked for.
      if (!apps->empty()) {
        if (auto done = sink_.apply_change(*e)) {
          if (!done->ok()) {
            if (auto a = pdp().assignment) record_apply(*a, *done, false);
          } else if (e->committed_at_ms && options_.in_force) {
            options_.in_force(*e->committed_at_ms);
          }
          continue;
        }
      }
      affected.insert(apps->begin(), apps->end());
      if (!apps->empty() && e->committed_at_ms) committed.push_back(*e->committed_at_ms);
    }
  }
  if (all) {
    resync_requested_ = true;
    return Ok();
  }
  if (!affected.empty()) {
    auto t0 = std::chrono::steady_clock::now();
    auto snapshot = query({affected.begin(), affected.end()});
    if (!snapshot) return snapshot.error();
    if (snapshot->store_id != store_id_) {
      resync_requested_ = true;
      return Ok();
    }
    if (snapshot->assignment && frozen(*snapshot->assignment)) {
      resync_requested_ = true;  // frozen meanwhile: the resync holds what the cell enforces
      return Ok();
    }
    auto t1 = std::chrono::steady_clock::now();
    ApplyReport report = sink_.apply(*snapshot);
    auto t2 = std::chrono::steady_clock::now();
    if (snapshot->assignment) {
      std::optional<Assignment> known = pdp().assignment;
      if (!known || !same_policies(known->policies, snapshot->assignment->policies) ||
          known->locked != snapshot->assignment->locked)
        resync_requested_ = true;  // deployed meanwhile: the other apps need the new rules too
      else
        record_apply(*snapshot->assignment, report, false);
    }
    if (report.ok() && options_.in_force)
      for (int64_t at : committed) options_.in_force(at);
    spdlog::debug("revision {}: {} app(s) changed; query {} us, apply {} us",
                  body["revision"].get<int64_t>(), affected.size(),
                  std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count(),
                  std::chrono::duration_cast<std::chrono::microseconds>(t2 - t1).count());
  }
  // A resync from the heartbeat thread may already be further on.
  if (int64_t rev = body["revision"].get<int64_t>(); rev > revision_) revision_ = rev;
  return Ok();
}

bool ServerLink::resync_due() const {
  return resync_requested_ ||
         (synced_ &&
          std::chrono::steady_clock::now().time_since_epoch().count() >= next_periodic_resync_);
}

Result<void> ServerLink::watch_once() {
  std::string target = "/internal/v1/watch?since=" + std::to_string(revision_.load()) +
                       "&timeout=" + std::to_string(options_.watch_timeout.count());
  if (!options_.stream) {
    auto res = watch_client_.get().request("GET", target, "", options_.watch_timeout + 15s);
    if (!res) return res.error();
    if (res->status != 200)
      return Error{"SERVER_ERROR", "watch: HTTP " + std::to_string(res->status) + " " + res->body};
    WT_TRY(j, res->json());
    ++watch_replies_;
    return handle_watch_reply(*j);
  }
  // One answer, a line per batch of events and a heartbeat line every watch_timeout: no
  // byte for longer (plus slack) means the server or the path is gone.
  Result<void> handled = Ok();
  // Named, the stream also carries the server's requests to this cell (cell_requests.h).
  if (options_.take_request) target += "&cell=" + options_.cell;
  auto res = watch_client_.get().stream(
      target + "&stream=1",
      [&](std::string_view line) {
        auto j = http::parse_json(line, http::kReceivedJsonLimits);
        if (!j) {
          handled = bad("a watch line that is not JSON (" + j.error().message + ")");
          return false;
        }
        if (options_.take_request && options_.take_request(*j)) return !resync_due() && !stopping_;
        ++watch_replies_;
        handled = handle_watch_reply(*j);
        if (!handled) return false;
        heard_from_server();
        return !resync_due() && !stopping_;  // leave the stream to resync; reopen after
      },
      options_.watch_timeout + 15s);
  if (!handled) return handled;
  if (!res) return res.error();
  if (res->status != 200)
    return Error{"SERVER_ERROR", "watch: HTTP " + std::to_string(res->status) + " " + res->body};
  if (!res->body.empty()) {  // a server without streams answered a long poll
    WT_TRY(j, res->json());
    ++watch_replies_;
    return handle_watch_reply(*j);
  }
  return Ok();  // the stream ended (resync line, server shutdown): reopen
}

void ServerLink::watch_loop() {
  while (!stopping_) {
    uint64_t generation = 0;
    watch_client_.get(&generation);  // the server held now: a failure below moves from it
    if (resync_requested_.exchange(false) ||
        (synced_ &&
         std::chrono::steady_clock::now().time_since_epoch().count() >= next_periodic_resync_)) {
      if (auto r = full_resync(); !r) {
        resync_requested_ = true;
        if (is(r.error(), ErrorKind::Cancelled) || !fail_over(generation, r.error(), "resync"))
          break;
        continue;
      }
      heard_from_server();
    }
    Result<void> handled = watch_once();
    if (!handled) {
      if (is(handled.error(), ErrorKind::Cancelled) ||
          !fail_over(generation, handled.error(), "watch"))
        break;
      continue;
    }
    heard_from_server();
  }
}

bool ServerLink::relevant(const ChangeEvent& e) {
  if (e.pdp) {
    const std::string subgroup = options_.pdp_type;
    if (e.pdp->group != options_.group) return false;
    if (e.kind == protocol::EventKind::PdpUpdate) {
      if (e.pdp->subgroup == subgroup) resync_requested_ = true;  // new rules, one consistent read
    } else if (e.kind == protocol::EventKind::PdpStateChange) {
      bool locked = false, was_frozen = false;
      {
        std::lock_guard lock(pdp_mu_);
        if (pdp_.assignment) {
          locked = pdp_.assignment->locked;
          was_frozen = frozen(*pdp_.assignment);
          if (!locked && !e.pdp->state.empty()) pdp_.assignment->state = e.pdp->state;
        }
      }
      // A locked cell's group may exist now: one consistent read decides mode and rules.
      if (locked) resync_requested_ = true;
      if (auto mode = parse_mode(e.pdp->mode); mode && !e.pdp->deleted && !locked)
        use_mode(*mode, e.revision);
      if (!locked && !was_frozen && e.pdp->state == "SAFE")
        spdlog::info("group {} is SAFE: this cell's rules are frozen until it leaves SAFE",
                     e.pdp->group);
      // Out of SAFE: the edges added meanwhile, and whatever else changed, in one resync.
      if (was_frozen && !locked && e.pdp->state != "SAFE") resync_requested_ = true;
      // A deleted group locks its cells: the resync finds that and holds what they enforce.
      if (e.pdp->deleted) resync_requested_ = true;
      status_changed();  // the PDP reports its new state
    }
    return false;
  }
  std::lock_guard lock(pdp_mu_);
  if (pdp_.assignment && frozen(*pdp_.assignment)) return false;  // fail closed: nothing new
  if (e.kind && protocol::is_edge(*e.kind)) {
    // Edges are the default-whitelist: they matter only when it is deployed to this cell.
    if (pdp_.assignment) {
      const auto& ps = pdp_.assignment->policies;
      return std::any_of(ps.begin(), ps.end(),
                         [](const PolicyVersion& p) { return p.name == kDefaultWhitelist; });
    }
  }
  return true;
}

void ServerLink::use_mode(datapath::Mode mode, int64_t revision) {
  std::lock_guard lock(mode_mu_);
  if (revision < mode_revision_) return;  // a newer state change was applied already
  mode_revision_ = revision;
  sink_.set_mode(mode);
}

void ServerLink::hold(const Assignment& a) {
  bool changed = false;
  {
    std::lock_guard lock(pdp_mu_);
    const std::optional<Assignment>& was = pdp_.assignment;
    changed = !was || was->locked != a.locked || was->state != a.state;
    if (a.locked && (!was || !was->locked))
      spdlog::warn("{}; reporting NOT_HEALTHY (SPEC §3 fail closed)", lock_reason(a));
    pdp_.assignment = a;  // `held` and `failed` stay: they are what the cell still enforces
  }
  if (!a.locked) use_mode(a.mode, a.revision);
  if (changed) status_changed();
}

void ServerLink::record_apply(const Assignment& a, const ApplyReport& report, bool full) {
  bool changed = false;
  {
    std::lock_guard lock(pdp_mu_);
    if (pdp_.assignment && pdp_.assignment->locked)
      spdlog::info("the PAP knows group {} (subgroup {}) now: taking its rules", a.group,
                   a.subgroup);
    std::vector<PolicyVersion> held_before = pdp_.held;
    size_t failed_before = pdp_.failed.size();
    pdp_.assignment = a;
    std::vector<PolicyVersion> failing;
    if (full && report.ok()) {
      pdp_.held = a.policies;
      pdp_.failed.clear();
      failed_for_.clear();
    } else if (full) {
      // The versions newly deployed did not fit (or, when none is new, all of them).
      failing = without(a.policies, pdp_.held);
      if (failing.empty()) failing = a.policies;
    } else if (!report.ok()) {
      // A delta: only default-whitelist changes in place (named versions are immutable).
      for (const PolicyVersion& p : a.policies)
        if (p.name == kDefaultWhitelist) failing.push_back(p);
      if (failing.empty()) failing = a.policies;
    }
    if (!report.ok()) {
      std::string reason = report.error.substr(0, 1000);
      pdp_.held = without(full ? a.policies : pdp_.held, failing);
      pdp_.failed.clear();
      for (const PolicyVersion& p : failing) pdp_.failed.push_back({p, reason});
      failed_for_ = a.policies;
      spdlog::warn("{} polic{} could not be applied: {}", failing.size(),
                   failing.size() == 1 ? "y" : "ies", reason);
    }
    changed = !same_policies(held_before, pdp_.held) || failed_before != pdp_.failed.size();
  }
  use_mode(a.mode, a.revision);
  if (changed) status_changed();
}

PdpView ServerLink::pdp() const {
  std::lock_guard lock(pdp_mu_);
  return pdp_;
}

void ServerLink::status_changed() {
  {
    std::lock_guard lock(sleep_mu_);
    status_dirty_ = true;
  }
  sleep_cv_.notify_all();
}

json ServerLink::status_body() {
  json s = extra_status_ ? extra_status_() : json::object();
  PdpView v = pdp();
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  s["messageName"] = "PDP_STATUS";
  s["requestId"] = options_.cell + "-" + std::to_string(now) + "-" + std::to_string(++status_seq_);
  s["timestampMs"] = now;
  s["name"] = options_.cell;
  s["pdpType"] = options_.pdp_type;
  s["pdpGroup"] = options_.group;
  s["pdpSubgroup"] = options_.pdp_type;
  // Locked, the cell does what SAFE means (keeps what it has, takes nothing new), and says why.
  const bool locked = v.assignment && v.assignment->locked;
  s["state"] = !v.assignment ? "PASSIVE" : locked ? "SAFE" : v.assignment->state;
  s["healthy"] = synced_ && !locked ? "HEALTHY" : "NOT_HEALTHY";
  if (locked) s["description"] = lock_reason(*v.assignment);
  s["deploymentInstanceInfo"] = version_line("wiretag-agent");
  s["policies"] = to_json(v.held);
  s["failedPolicies"] = to_json(v.failed);
  s["heartbeatIntervalMs"] = options_.heartbeat_interval.count();
  s["revision"] = revision_.load();
  return s;
}

Result<Assignment> ServerLink::post_status() {
  json body = status_body();
  std::lock_guard lock(status_mu_);
  auto res = status_client_.get().request("POST", "/internal/v1/cells/" + options_.cell + "/status",
                                          body.dump(), 10s);
  if (!res) return res.error();
  if (res->status != 200)
    return Error{"SERVER_ERROR",
                 "PDP_STATUS: HTTP " + std::to_string(res->status) + " " + res->body};
  WT_TRY(j, res->json());
  if (options_.vteps && j->is_object() && j->contains("vteps") && (*j)["vteps"].is_array()) {
    std::vector<std::string> vteps;
    for (const json& v : (*j)["vteps"])
      if (v.is_string()) vteps.push_back(v.get<std::string>());
    options_.vteps(vteps);
  }
  return parse_assignment(*j);
}

Result<void> ServerLink::send_status() {
  WT_TRY(a, post_status());
  if (!a->locked) use_mode(a->mode, a->revision);
  bool resync = false;
  {
    std::lock_guard lock(pdp_mu_);
    const bool was_frozen = pdp_.assignment && frozen(*pdp_.assignment);
    if (pdp_.assignment && !pdp_.assignment->locked && !a->locked)
      pdp_.assignment->state = a->state;
    // The re-send: the server's deployment differs from what this cell holds (a frozen cell
    // holds what it has), or the cell leaves a lock or SAFE.
    resync = synced_ && (!pdp_.assignment || pdp_.assignment->locked != a->locked ||
                         (was_frozen && !frozen(*a)) ||
                         (!frozen(*a) && !same_policies(a->policies, pdp_.held) &&
                          !same_policies(a->policies, failed_for_)));
  }
  if (resync) {
    spdlog::info("PDP_STATUS reply: policies deployed to {}/{} differ from those held: resyncing",
                 a->group, a->subgroup);
    if (auto r = full_resync(); !r) {
      resync_requested_ = true;  // the watch loop retries with backoff
      return r;
    }
  }
  return Ok();
}

void ServerLink::heartbeat_loop() {
  bool failing = false;
  while (!stopping_) {
    auto r = send_status();
    if (!r && is(r.error(), ErrorKind::Cancelled)) break;
    if (!r && !failing) spdlog::warn("heartbeat: {}: {}", r.error().code, r.error().message);
    if (r && failing) spdlog::info("heartbeat: the server answers again");
    failing = !r;
    std::unique_lock lock(sleep_mu_);
    sleep_cv_.wait_for(lock, options_.heartbeat_interval,
                       [this] { return stopping_.load() || status_dirty_; });
    status_dirty_ = false;
  }
}

}  // namespace wiretag::agent
