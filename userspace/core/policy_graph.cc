#include "core/policy_graph.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <tuple>
#include <utility>

#include "core/account_policies.h"
#include "core/app_guid.h"
#include "core/change_log.h"

namespace wiretag {
namespace {

constexpr std::string_view kTagCursor = "tag_cursor";  // the highest tag ever handed out
constexpr std::string_view kTagLength = "tag_length";
constexpr std::string_view kStoreId = "store_id";

std::string builtin_uuid() {
  std::random_device rd;
  unsigned char b[16];
  for (auto& byte : b) byte = static_cast<unsigned char>(rd());
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

Error app_not_found(std::string_view guid) {
  return Error{"APP_NOT_FOUND", "app \"" + std::string(guid) + "\" is not registered"};
}

// An edge event: with the source's tag, so a cell can apply the change without asking.
protocol::Change edge_change(protocol::EventKind kind, const EdgeRecord& e, uint32_t source_tag) {
  return {kind, e.account, e.destination,
          protocol::EdgeChange{e.source, source_tag, e.destination, e.policy, e.protocol, e.ports}};
}

}  // namespace

Result<PolicyGraph> PolicyGraph::open(Store& store, PolicyGraphOptions options) {
  auto tags = TagSpace::make(options.tag_length);
  if (!tags) return tags.error();
  auto checked = store.write<std::string>([&](StoreTx& tx) -> Result<std::string> {
    auto stored = tx.get_meta(kTagLength);
    if (!stored) return stored.error();
    const std::string mine = std::to_string(options.tag_length);
    if (!*stored) {
      if (auto r = tx.set_meta(kTagLength, mine); !r) return r.error();
    } else if (**stored != mine) {
      return Error{"TAG_LENGTH_MISMATCH", "the data dir was created with tag length " + **stored +
                                              "; it cannot change to " + mine};
    }
    auto id = tx.get_meta(kStoreId);
    if (!id) return id.error();
    if (*id) return **id;
    // Made once; stores created before store ids get theirs on the next start.
    std::string fresh = options.new_id ? options.new_id() : builtin_uuid();
    if (auto r = tx.set_meta(kStoreId, fresh); !r) return r.error();
    return fresh;
  });
  if (!checked) return checked.error();
  std::shared_ptr<WhitelistIndex> index;
  if (options.in_memory_index) {
    auto loaded = WhitelistIndex::load(store, options.index);
    if (!loaded) return loaded.error();
    index = std::move(*loaded);
    // This process's commits reach the index before their writers are answered.
    store.add_commit_observer([index](int64_t revision) { index->committed(revision); });
  }
  return PolicyGraph(store, *tags, std::move(options), std::move(*checked), std::move(index));
}

int64_t PolicyGraph::now() const {
  if (options_.clock) return options_.clock();
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Never-used tags first, in order; then the tag released longest ago, once its quarantine
// has passed. Two indexed lookups at most, however full the space is.
Result<uint32_t> PolicyGraph::allocate_tag(StoreTx& tx) {
  auto cursor = tx.get_meta(kTagCursor);
  if (!cursor) return cursor.error();
  uint64_t highest = *cursor ? std::stoull(**cursor) : 0;
  if (highest < tags_.max_tag()) {
    uint32_t tag = static_cast<uint32_t>(highest + 1);
    if (auto r = tx.set_meta(kTagCursor, std::to_string(tag)); !r) return r.error();
    return tag;
  }
  auto released = tx.oldest_released_tag(now() - options_.tag_quarantine_seconds);
  if (!released) return released.error();
  if (!*released)
    return Error{"TAGS_EXHAUSTED",
                 "all " + std::to_string(tags_.max_tag()) +
                     " tags are in use or quarantined; delete apps or raise --tag-length"};
  return (*released)->tag;
}

Result<AppRegistration> PolicyGraph::register_app(std::string_view account, std::string_view guid) {
  if (auto r = check_account_id(account); !r) return r.error();
  if (auto r = check_app_guid(guid); !r) return r.error();
  return store_->write<AppRegistration>([&](StoreTx& tx) -> Result<AppRegistration> {
    auto existing = tx.find_app(guid);
    if (!existing) return existing.error();
    if (*existing) {
      if ((*existing)->account != account)
        return Error{"APP_EXISTS",
                     "app \"" + std::string(guid) + "\" is registered in another account"};
      return AppRegistration{**existing, false};
    }
    if (auto r = tx.ensure_account(account); !r) return r.error();
    auto tag = allocate_tag(tx);
    if (!tag) return tag.error();
    AppRecord app{std::string(guid), std::string(account), *tag};
    if (auto r = tx.insert_app(app); !r) return r.error();
    if (auto r = tx.put_tag(TagRecord{*tag, app.guid, 0}); !r) return r.error();
    auto rev = log_change(tx, {protocol::EventKind::AppCreated, app.account, app.guid,
                               protocol::AppCreated{app.guid, tags_.wire_bytes(*tag)}});
    if (!rev) return rev.error();
    return AppRegistration{app, true};
  });
}

Result<AppRecord> PolicyGraph::app(std::string_view guid) {
  if (auto r = check_app_guid(guid, "app_guid"); !r) return r.error();
  if (index_) {
    auto found = index_->app(guid);
    if (!found) return found.error();
    if (!*found) return app_not_found(guid);
    return std::move(**found);
  }
  return store_->read<AppRecord>([&](StoreTx& tx) -> Result<AppRecord> {
    auto found = tx.find_app(guid);
    if (!found) return found.error();
    if (!*found) return app_not_found(guid);
    return **found;
  });
}

Result<std::vector<AppRecord>> PolicyGraph::apps(std::optional<std::string_view> account) {
  return store_->read<std::vector<AppRecord>>([&](StoreTx& tx) { return tx.list_apps(account); });
}

Result<void> PolicyGraph::delete_app(std::string_view guid) {
  if (auto r = check_app_guid(guid, "app_guid"); !r) return r.error();
  return store_->write<void>([&](StoreTx& tx) -> Result<void> {
    auto found = tx.find_app(guid);
    if (!found) return found.error();
    if (!*found) return app_not_found(guid);
    const AppRecord app = **found;
    // The apps it could reach lose a rule: named in the body, so their cells see the change.
    auto outbound = tx.edges_from(guid);
    if (!outbound) return outbound.error();
    std::vector<std::string> destinations;
    for (const EdgeRecord& e : *outbound)
      if (e.destination != app.guid) destinations.push_back(e.destination);
    std::sort(destinations.begin(), destinations.end());
    destinations.erase(std::unique(destinations.begin(), destinations.end()), destinations.end());
    auto edges = tx.delete_edges_of(guid);
    if (!edges) return edges.error();
    if (auto r = tx.delete_app(guid); !r) return r;
    if (auto r = tx.put_tag(TagRecord{app.tag, std::nullopt, now()}); !r) return r;
    auto rev = log_change(
        tx, {protocol::EventKind::AppDeleted, app.account, app.guid,
             protocol::AppDeleted{app.guid, tags_.wire_bytes(app.tag), static_cast<int64_t>(*edges),
                                  std::move(destinations)}});
    if (!rev) return rev.error();
    return Ok();
  });
}

namespace {

Result<void> check_edge_request(const EdgeRequest& req) {
  if (req.source != "*")
    if (auto r = check_app_guid(req.source, "source"); !r) return r.error();
  if (auto r = check_app_guid(req.destination, "destination"); !r) return r.error();
  if (req.ports && (req.ports->start == 0 || req.ports->start > req.ports->end))
    return Error{"INVALID_RULE", "ports must satisfy 1 <= start <= end <= 65535"};
  if (req.ports && req.protocol == Protocol::Icmp)
    return Error{"INVALID_RULE", "icmp rules take no ports"};
  return Ok();
}

// The default-whitelist edge a request names, with its source's tag (0 for "*");
// APP_NOT_FOUND when either app is unknown.
Result<std::pair<EdgeRecord, uint32_t>> resolve_edge(StoreTx& tx, const EdgeRequest& req) {
  auto dst = tx.find_app(req.destination);
  if (!dst) return dst.error();
  if (!*dst) return app_not_found(req.destination);
  uint32_t source_tag = 0;
  if (req.source != "*") {
    auto src = tx.find_app(req.source);
    if (!src) return src.error();
    if (!*src) return app_not_found(req.source);
    source_tag = (*src)->tag;
  }
  EdgeRecord edge{(*dst)->account, std::string(kDefaultWhitelist), req.source, req.destination,
                  req.protocol, req.ports};
  return std::pair{std::move(edge), source_tag};
}

// SPEC §3: a SAFE group enforces default-whitelist as it was and accepts no new edges. The
// edges are one live set every group it is deployed to shares, so while any of them is SAFE
// the set neither grows nor shrinks.
Result<void> check_no_safe_group(StoreTx& tx) {
  auto deployments = tx.list_deployments();
  if (!deployments) return deployments.error();
  for (const DeploymentRecord& d : *deployments) {
    if (d.policy != kDefaultWhitelist) continue;
    auto group = tx.find_pdp_group(d.group);
    if (!group) return group.error();
    if (*group && (*group)->state == "SAFE")
      return Error{"GROUP_IN_SAFE_STATE",
                   "group \"" + d.group + "\" is SAFE: it enforces default-whitelist as it was and "
                   "accepts no edge changes until it is ACTIVE again"};
  }
  return Ok();
}

// allow()'s transaction: false when the edge existed.
Result<bool> allow_in(StoreTx& tx, const EdgeRequest& req) {
  auto resolved = resolve_edge(tx, req);
  if (!resolved) return resolved.error();
  auto& [edge, source_tag] = *resolved;
  auto inserted = tx.insert_edge(edge);
  if (!inserted) return inserted.error();
  if (!*inserted) return false;
  if (auto r = check_no_safe_group(tx); !r) return r.error();
  auto rev = log_change(tx, edge_change(protocol::EventKind::EdgeCreated, edge, source_tag));
  if (!rev) return rev.error();
  return true;
}

}  // namespace

Result<bool> PolicyGraph::allow(const EdgeRequest& req) {
  if (auto r = check_edge_request(req); !r) return r.error();
  return store_->write<bool>([&](StoreTx& tx) { return allow_in(tx, req); });
}

void PolicyGraph::allow_async(EdgeRequest req, std::function<void(Result<bool>)> done) {
  if (auto r = check_edge_request(req); !r) return done(r.error());
  auto created = std::make_shared<bool>(false);
  store_->transact_async(
      [req = std::move(req), created](StoreTx& tx) -> Result<void> {
        auto r = allow_in(tx, req);
        if (!r) return r.error();
        *created = *r;
        return Ok();
      },
      [created, done = std::move(done)](Result<void> r) {
        if (!r) return done(r.error());
        done(*created);
      });
}

Result<void> PolicyGraph::disallow(const EdgeRequest& req) {
  if (req.source != "*")
    if (auto r = check_app_guid(req.source, "source"); !r) return r.error();
  if (auto r = check_app_guid(req.destination, "destination"); !r) return r.error();
  return store_->write<void>([&](StoreTx& tx) -> Result<void> {
    auto resolved = resolve_edge(tx, req);
    if (!resolved) return resolved.error();
    auto& [edge, source_tag] = *resolved;
    auto deleted = tx.delete_edge(edge);
    if (!deleted) return deleted.error();
    if (!*deleted) {
      std::string what =
          req.source + " → " + req.destination + " (" + std::string(to_string(req.protocol));
      if (req.ports)
        what += " " + std::to_string(req.ports->start) + "-" + std::to_string(req.ports->end);
      return Error{"EDGE_NOT_FOUND", "no edge " + what + ") in default-whitelist"};
    }
    if (auto r = check_no_safe_group(tx); !r) return r.error();
    auto rev = log_change(tx, edge_change(protocol::EventKind::EdgeDeleted, edge, source_tag));
    if (!rev) return rev.error();
    return Ok();
  });
}

void EffectiveRuleSet::add(EffectiveRule rule) {
  Key key{rule.source, static_cast<int>(rule.protocol), rule.ports.has_value(),
          rule.ports ? rule.ports->start : 0, rule.ports ? rule.ports->end : 0};
  auto [it, added] = have_.emplace(std::move(key), out_.size());
  if (added) return out_.push_back(std::move(rule));
  std::vector<std::string>& held = out_[it->second].policies;
  for (std::string& p : rule.policies)
    if (std::find(held.begin(), held.end(), p) == held.end()) held.push_back(std::move(p));
}

Result<EffectiveRules> PolicyGraph::effective_rules(const std::vector<std::string>& guids) {
  for (const std::string& guid : guids)
    if (auto r = check_app_guid(guid); !r) return r.error();
  return store_->read<EffectiveRules>([&](StoreTx& tx) -> Result<EffectiveRules> {
    EffectiveRules out;
    auto rev = tx.revision();
    if (!rev) return rev.error();
    out.revision = *rev;
    // Per account: destination guid → the named policies' rules into it.
    std::map<std::string, std::map<std::string, std::vector<PolicyRule>>, std::less<>> by_account;
    std::map<std::string, uint32_t, std::less<>> source_tags;  // 0: the source is gone
    auto tag_of = [&](const std::string& source) -> Result<uint32_t> {
      if (source == "*") return uint32_t{0};
      if (auto it = source_tags.find(source); it != source_tags.end()) return it->second;
      auto app = tx.find_app(source);
      if (!app) return app.error();
      uint32_t tag = *app ? (*app)->tag : 0;
      source_tags.emplace(source, tag);
      return tag;
    };
    std::map<std::string, bool, std::less<>> seen;
    for (const std::string& guid : guids) {
      if (seen.count(guid)) continue;
      seen[guid] = true;
      auto app = tx.find_app(guid);
      if (!app) return app.error();
      if (!*app) {
        out.missing.push_back(guid);
        continue;
      }
      AppRules entry{**app, {}};
      EffectiveRuleSet rules(entry.rules);
      auto add = [&](EffectiveRule rule) { rules.add(std::move(rule)); };
      auto edges = tx.edges_to(guid);
      if (!edges) return edges.error();
      for (const InboundEdge& in : *edges) {
        if (in.edge.source != "*" && in.source_tag == 0) continue;
        add(EffectiveRule{in.edge.source, in.source_tag, in.edge.protocol, in.edge.ports});
      }
      auto account = by_account.find(entry.app.account);
      if (account == by_account.end()) {
        auto records = tx.list_policies(entry.app.account);
        if (!records) return records.error();
        std::map<std::string, std::vector<PolicyRule>> into;
        for (const PolicyRecord& rec : *records) {
          auto policy = policy_from_record(rec);
          if (!policy) return policy.error();
          for (PolicyRule& r : policy->rules) into[r.destination].push_back(std::move(r));
        }
        account = by_account.emplace(entry.app.account, std::move(into)).first;
      }
      if (auto rules = account->second.find(guid); rules != account->second.end()) {
        for (const PolicyRule& r : rules->second) {
          auto tag = tag_of(r.source);
          if (!tag) return tag.error();
          if (r.source != "*" && *tag == 0) continue;
          add(EffectiveRule{r.source, *tag, r.protocol, r.ports});
        }
      }
      out.apps.push_back(std::move(entry));
    }
    return out;
  });
}

Result<Whitelist> PolicyGraph::whitelist(std::string_view destination) {
  auto found = app_whitelist(destination, true);
  if (!found) return found.error();
  return std::move(found->whitelist);
}

Result<PolicyGraph::AppWhitelist> PolicyGraph::app_whitelist(std::string_view destination,
                                                             bool with_edges) {
  if (auto r = check_app_guid(destination, "app_guid"); !r) return r.error();
  if (index_) {
    auto found = index_->inbound(destination, with_edges);
    if (!found) return found.error();
    if (!*found) return app_not_found(destination);
    return AppWhitelist{std::move((*found)->app),
                        Whitelist{std::move((*found)->edges), std::move((*found)->allowed_tags)}};
  }
  return store_->read<AppWhitelist>([&](StoreTx& tx) -> Result<AppWhitelist> {
    auto dst = tx.find_app(destination);
    if (!dst) return dst.error();
    if (!*dst) return app_not_found(destination);
    auto edges = tx.edges_to(destination);
    if (!edges) return edges.error();
    AppWhitelist out{**dst, {}};
    for (const InboundEdge& e : *edges)
      if (e.source_tag != 0) out.whitelist.allowed_tags.push_back(e.source_tag);
    if (with_edges) out.whitelist.edges = std::move(*edges);
    auto& tags = out.whitelist.allowed_tags;
    std::sort(tags.begin(), tags.end());
    tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
    return out;
  });
}

Result<int64_t> PolicyGraph::revision() {
  return store_->read<int64_t>([](StoreTx& tx) { return tx.revision(); });
}

Result<std::vector<ChangeRecord>> PolicyGraph::changes_since(int64_t revision, int64_t limit) {
  return store_->read<std::vector<ChangeRecord>>(
      [&](StoreTx& tx) { return tx.changes_since(revision, limit); });
}

Result<ChangeBatch> PolicyGraph::change_batch(int64_t since, int64_t limit) {
  return store_->read<ChangeBatch>([&](StoreTx& tx) -> Result<ChangeBatch> {
    auto rev = tx.revision();
    if (!rev) return rev.error();
    auto horizon = tx.change_horizon();
    if (!horizon) return horizon.error();
    if (since < *horizon) return ChangeBatch{*rev, {}, *horizon};  // the log no longer has them
    auto changes = tx.changes_since(since, limit);
    if (!changes) return changes.error();
    return ChangeBatch{*rev, std::move(*changes), *horizon};
  });
}

Result<int64_t> PolicyGraph::compaction_floor() {
  if (!index_) return std::numeric_limits<int64_t>::max();
  return index_->caught_up_revision();
}

}  // namespace wiretag
