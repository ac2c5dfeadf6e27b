#include "core/whitelist_index.h"

#include <algorithm>

#include "protocol/change_events.h"

namespace wiretag {
namespace {

constexpr int64_t kChangesPerRead = 10000;

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<std::shared_ptr<WhitelistIndex>> WhitelistIndex::load(Store& store, IndexOptions options) {
  std::shared_ptr<WhitelistIndex> index(new WhitelistIndex(store, options));
  WhitelistIndex& x = *index;
  auto r = store.transact(false, [&](StoreTx& tx) -> Result<void> {
    auto rev = tx.revision();
    if (!rev) return rev.error();
    auto apps = tx.list_apps(std::nullopt);
    if (!apps) return apps.error();
    std::unique_lock lock(x.mutex_);
    x.slots_.reserve(apps->size());
    x.guids_.reserve(apps->size());
    x.app_ids_.reserve(apps->size());
    for (const AppRecord& app : *apps) {
      Slot& slot = x.slots_[x.intern(x.app_ids_, x.guids_, app.guid)];
      slot.registered = true;
      slot.account = x.intern(x.account_ids_, x.accounts_, app.account);
      slot.tag = app.tag;
    }
    if (auto scan = tx.scan_edges([&](const EdgeView& e) { x.add_edge(e); }); !scan) return scan;
    x.applied_ = *rev;
    x.target_ = *rev;
    return Ok();
  });
  if (!r) return r.error();
  x.next_poll_ns_ = steady_ns() + std::chrono::nanoseconds(options.poll_interval).count();
  return index;
}

void WhitelistIndex::committed(int64_t revision) {
  int64_t seen = target_.load();
  while (seen < revision && !target_.compare_exchange_weak(seen, revision)) {
  }
}

uint32_t WhitelistIndex::intern(Ids& ids, std::vector<std::string>& names, std::string_view name) {
  if (auto it = ids.find(name); it != ids.end()) return it->second;
  const auto id = static_cast<uint32_t>(names.size());
  names.emplace_back(name);
  ids.emplace(std::string(name), id);
  if (&ids == &app_ids_) slots_.emplace_back();
  return id;
}

std::optional<uint32_t> WhitelistIndex::find(std::string_view guid) const {
  auto it = app_ids_.find(guid);
  if (it == app_ids_.end()) return std::nullopt;
  return it->second;
}

AppRecord WhitelistIndex::record(uint32_t id) const {
  return AppRecord{guids_[id], accounts_[slots_[id].account], slots_[id].tag};
}

std::optional<WhitelistIndex::Edge> WhitelistIndex::edge_of(std::string_view source,
                                                            std::string_view policy,
                                                            Protocol protocol,
                                                            const std::optional<PortRange>& ports,
                                                            bool create) {
  Edge e{kAnySource, 0, protocol, ports.has_value(), ports ? ports->start : uint16_t{0},
         ports ? ports->end : uint16_t{0}};
  if (source != "*") {
    if (create) {
      e.source = intern(app_ids_, guids_, source);
    } else {
      auto id = find(source);
      if (!id) return std::nullopt;
      e.source = *id;
    }
  }
  if (create) {
    e.policy = static_cast<uint16_t>(intern(policy_ids_, policies_, policy));
  } else {
    auto it = policy_ids_.find(policy);
    if (it == policy_ids_.end()) return std::nullopt;
    e.policy = static_cast<uint16_t>(it->second);
  }
  return e;
}

void WhitelistIndex::add_edge(const EdgeView& v) {
  auto e = edge_of(v.source, v.policy, v.protocol, v.ports, true);
  const uint32_t dst = intern(app_ids_, guids_, v.destination);
  slots_[dst].inbound.push_back(*e);
  ++edges_;
}

void WhitelistIndex::remove_edge(const EdgeView& v) {
  auto dst = find(v.destination);
  if (!dst) return;
  auto e = edge_of(v.source, v.policy, v.protocol, v.ports, false);
  if (!e) return;
  auto& in = slots_[*dst].inbound;
  auto it = std::find_if(in.begin(), in.end(), [&](const Edge& x) {
    return x.source == e->source && x.policy == e->policy && x.protocol == e->protocol &&
           x.has_ports == e->has_ports && x.port_start == e->port_start &&
           x.port_end == e->port_end;
  });
  if (it == in.end()) return;
  in.erase(it);
  --edges_;
}

void WhitelistIndex::remove_app(std::string_view guid,
                                const std::vector<std::string>* destinations) {
  auto id = find(guid);
  if (!id) return;
  Slot& slot = slots_[*id];
  slot.registered = false;
  edges_ -= slot.inbound.size();
  std::vector<Edge>().swap(slot.inbound);
  auto drop_from = [&](Slot& s) {
    const size_t before = s.inbound.size();
    std::erase_if(s.inbound, [&](const Edge& e) { return e.source == *id; });
    edges_ -= before - s.inbound.size();
  };
  if (destinations) {
    for (const std::string& d : *destinations)
      if (auto dst = find(d)) drop_from(slots_[*dst]);
  } else {
    for (Slot& s : slots_) drop_from(s);
  }
}

Result<void> WhitelistIndex::refresh() {
  if (target_.load() <= applied_.load() && steady_ns() < next_poll_ns_.load()) return Ok();
  return catch_up();
}

Result<int64_t> WhitelistIndex::caught_up_revision() {
  next_poll_ns_ = 0;
  if (auto r = catch_up(); !r) return r.error();
  return applied_.load();
}

Result<void> WhitelistIndex::catch_up() {
  std::lock_guard serial(catch_up_mutex_);
  for (;;) {
    const int64_t from = applied_.load();
    // A concurrent catch-up may have done the work while this one waited.
    if (target_.load() <= from && steady_ns() < next_poll_ns_.load()) return Ok();
    std::vector<ChangeRecord> changes;
    std::vector<std::optional<AppRecord>> apps;  // for app.created, as of this read
    int64_t store_revision = 0;
    auto r = store_.transact(false, [&](StoreTx& tx) -> Result<void> {
      auto rev = tx.revision();
      if (!rev) return rev.error();
      store_revision = *rev;
      if (*rev <= from) return Ok();
      // Compacted past what the index reflects (by another process): failing beats a stale
      // whitelist. This process compacts no further than its index reached.
      auto horizon = tx.change_horizon();
      if (!horizon) return horizon.error();
      if (*horizon > from)
        return Error{"INDEX_BEHIND_HORIZON", "the change log was compacted through revision " +
                                                 std::to_string(*horizon) +
                                                 " but the in-memory index is at " +
                                                 std::to_string(from) + ": restart the server"};
      auto read = tx.changes_since(from, kChangesPerRead);
      if (!read) return read.error();
      changes = std::move(*read);
      apps.resize(changes.size());
      for (size_t i = 0; i < changes.size(); ++i) {
        if (protocol::parse_event_kind(changes[i].kind) != protocol::EventKind::AppCreated)
          continue;
        auto app = tx.find_app(changes[i].subject);
        if (!app) return app.error();
        apps[i] = std::move(*app);
      }
      return Ok();
    });
    if (!r) return r;
    int64_t reached = std::max(from, store_revision);
    {
      std::unique_lock lock(mutex_);
      for (size_t i = 0; i < changes.size(); ++i) {
        const ChangeRecord& c = changes[i];
        using protocol::EventKind;
        const std::optional<EventKind> kind = protocol::parse_event_kind(c.kind);
        if (!kind) continue;  // a kind the index does not follow
        if (*kind == EventKind::AppCreated) {
          if (!apps[i]) continue;  // deleted since; its app.deleted follows
          Slot& slot = slots_[intern(app_ids_, guids_, apps[i]->guid)];
          slot.registered = true;
          slot.account = intern(account_ids_, accounts_, apps[i]->account);
          slot.tag = apps[i]->tag;
        } else if (*kind == EventKind::AppDeleted) {
          // Without the body's destinations (an older row), every edge from it is looked for.
          auto body = protocol::decode_body_text(*kind, c.body);
          const auto* deleted = body ? std::get_if<protocol::AppDeleted>(&*body) : nullptr;
          remove_app(c.subject, deleted ? &deleted->destinations : nullptr);
        } else if (protocol::is_edge(*kind)) {
          auto body = protocol::decode_body_text(*kind, c.body);
          if (!body) continue;
          const auto& e = std::get<protocol::EdgeChange>(*body);
          EdgeView v{c.account, e.policy, e.source, e.destination, e.protocol, e.ports};
          if (*kind == EventKind::EdgeCreated)
            add_edge(v);
          else
            remove_edge(v);
        }
      }
      if (!changes.empty()) reached = std::max(from, changes.back().revision);
      if (changes.size() == static_cast<size_t>(kChangesPerRead)) {
        applied_ = reached;
        continue;  // more to read
      }
      applied_ = std::max(reached, store_revision);
    }
    next_poll_ns_ = steady_ns() + std::chrono::nanoseconds(options_.poll_interval).count();
    return Ok();
  }
}

Result<std::optional<AppRecord>> WhitelistIndex::app(std::string_view guid) {
  if (auto r = refresh(); !r) return r.error();
  std::shared_lock lock(mutex_);
  auto id = find(guid);
  if (!id || !slots_[*id].registered) return std::optional<AppRecord>{};
  return std::optional<AppRecord>{record(*id)};
}

Result<std::optional<WhitelistIndex::Inbound>> WhitelistIndex::inbound(std::string_view destination,
                                                                       bool with_edges) {
  if (auto r = refresh(); !r) return r.error();
  std::shared_lock lock(mutex_);
  auto id = find(destination);
  if (!id || !slots_[*id].registered) return std::optional<Inbound>{};
  Inbound out{record(*id), {}, {}};
  const Slot& slot = slots_[*id];
  out.allowed_tags.reserve(slot.inbound.size());
  if (with_edges) out.edges.reserve(slot.inbound.size());
  for (const Edge& e : slot.inbound) {
    uint32_t tag = 0;
    if (e.source != kAnySource && slots_[e.source].registered) tag = slots_[e.source].tag;
    if (tag != 0) out.allowed_tags.push_back(tag);
    if (!with_edges) continue;
    InboundEdge in;
    in.edge.account = out.app.account;
    in.edge.policy = policies_[e.policy];
    in.edge.source = e.source == kAnySource ? std::string("*") : guids_[e.source];
    in.edge.destination = out.app.guid;
    in.edge.protocol = e.protocol;
    if (e.has_ports) in.edge.ports = PortRange{e.port_start, e.port_end};
    in.source_tag = tag;
    out.edges.push_back(std::move(in));
  }
  std::sort(out.allowed_tags.begin(), out.allowed_tags.end());
  out.allowed_tags.erase(std::unique(out.allowed_tags.begin(), out.allowed_tags.end()),
                         out.allowed_tags.end());
  return std::optional<Inbound>{std::move(out)};
}

size_t WhitelistIndex::edge_count() const {
  std::shared_lock lock(mutex_);
  return edges_;
}

}  // namespace wiretag
