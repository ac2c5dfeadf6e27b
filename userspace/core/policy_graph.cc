#include "core/policy_graph.h"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "core/app_guid.h"

namespace wiretag {
namespace {

constexpr std::string_view kTagCursor = "tag_cursor";  // the highest tag ever handed out
constexpr std::string_view kTagLength = "tag_length";

Error app_not_found(std::string_view guid) {
  return Error{"APP_NOT_FOUND", "app \"" + std::string(guid) + "\" is not registered"};
}

nlohmann::json edge_json(const EdgeRecord& e) {
  nlohmann::json j = {{"source", e.source},
                      {"destination", e.destination},
                      {"policy", e.policy},
                      {"protocol", std::string(to_string(e.protocol))}};
  if (e.ports) j["ports"] = {{"start", e.ports->start}, {"end", e.ports->end}};
  return j;
}

}  // namespace

Result<PolicyGraph> PolicyGraph::open(Store& store, PolicyGraphOptions options) {
  auto tags = TagSpace::make(options.tag_length);
  if (!tags) return tags.error();
  auto checked = store.write<void>([&](StoreTx& tx) -> Result<void> {
    auto stored = tx.get_meta(kTagLength);
    if (!stored) return stored.error();
    const std::string mine = std::to_string(options.tag_length);
    if (!*stored) return tx.set_meta(kTagLength, mine);
    if (**stored != mine)
      return Error{"TAG_LENGTH_MISMATCH", "the data dir was created with tag length " + **stored +
                                              "; it cannot change to " + mine};
    return Ok();
  });
  if (!checked) return checked.error();
  return PolicyGraph(store, *tags, std::move(options));
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
    nlohmann::json body = {{"guid", app.guid}, {"wire_bytes", tags_.wire_bytes(*tag)}};
    auto rev = tx.append_change({0, "app.created", app.account, app.guid, body.dump()});
    if (!rev) return rev.error();
    return AppRegistration{app, true};
  });
}

Result<AppRecord> PolicyGraph::app(std::string_view guid) {
  if (auto r = check_app_guid(guid, "app_guid"); !r) return r.error();
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
    auto edges = tx.delete_edges_of(guid);
    if (!edges) return edges.error();
    if (auto r = tx.delete_app(guid); !r) return r;
    if (auto r = tx.put_tag(TagRecord{app.tag, std::nullopt, now()}); !r) return r;
    nlohmann::json body = {
        {"guid", app.guid}, {"wire_bytes", tags_.wire_bytes(app.tag)}, {"edges_removed", *edges}};
    auto rev = tx.append_change({0, "app.deleted", app.account, app.guid, body.dump()});
    if (!rev) return rev.error();
    return Ok();
  });
}

Result<bool> PolicyGraph::allow(const EdgeRequest& req) {
  if (req.source != "*")
    if (auto r = check_app_guid(req.source, "source"); !r) return r.error();
  if (auto r = check_app_guid(req.destination, "destination"); !r) return r.error();
  if (req.ports && (req.ports->start == 0 || req.ports->start > req.ports->end))
    return Error{"INVALID_RULE", "ports must satisfy 1 <= start <= end <= 65535"};
  if (req.ports && req.protocol == Protocol::Icmp)
    return Error{"INVALID_RULE", "icmp rules take no ports"};
  return store_->write<bool>([&](StoreTx& tx) -> Result<bool> {
    auto dst = tx.find_app(req.destination);
    if (!dst) return dst.error();
    if (!*dst) return app_not_found(req.destination);
    if (req.source != "*") {
      auto src = tx.find_app(req.source);
      if (!src) return src.error();
      if (!*src) return app_not_found(req.source);
    }
    EdgeRecord edge{(*dst)->account, std::string(kDefaultWhitelist),
                    req.source,      req.destination,
                    req.protocol,    req.ports};
    auto inserted = tx.insert_edge(edge);
    if (!inserted) return inserted.error();
    if (!*inserted) return false;
    auto rev = tx.append_change(
        {0, "edge.created", edge.account, edge.destination, edge_json(edge).dump()});
    if (!rev) return rev.error();
    return true;
  });
}

Result<Whitelist> PolicyGraph::whitelist(std::string_view destination) {
  if (auto r = check_app_guid(destination, "app_guid"); !r) return r.error();
  return store_->read<Whitelist>([&](StoreTx& tx) -> Result<Whitelist> {
    auto dst = tx.find_app(destination);
    if (!dst) return dst.error();
    if (!*dst) return app_not_found(destination);
    auto edges = tx.edges_to(destination);
    if (!edges) return edges.error();
    Whitelist out;
    out.edges = std::move(*edges);
    for (const InboundEdge& e : out.edges)
      if (e.source_tag != 0) out.allowed_tags.push_back(e.source_tag);
    std::sort(out.allowed_tags.begin(), out.allowed_tags.end());
    out.allowed_tags.erase(std::unique(out.allowed_tags.begin(), out.allowed_tags.end()),
                           out.allowed_tags.end());
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

}  // namespace wiretag
