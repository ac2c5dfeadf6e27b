#include "core/testing/memory_store.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace wiretag {

struct MemoryData {
  std::set<std::string, std::less<>> accounts{"default"};
  std::map<std::string, std::string, std::less<>> meta;
  std::map<std::string, AppRecord, std::less<>> apps;
  std::map<uint32_t, TagRecord> tags;
  std::map<int64_t, EdgeRecord> edges;  // by id: insertion order
  int64_t last_edge_id = 0;
  struct LoggedChange {
    ChangeRecord change;
    int64_t at = 0;  // unix seconds
  };
  std::map<int64_t, LoggedChange> changes;  // by revision
  int64_t last_revision = 0;                // never reused, also once compacted away
  std::vector<TokenRecord> tokens;          // insertion order
  std::map<std::string, PolicyRecord, std::less<>> policies;
  std::map<std::pair<std::string, int64_t>, std::string> policy_versions;  // → body
  std::map<std::string, PdpGroupRecord, std::less<>> groups;
  std::map<std::tuple<std::string, std::string, std::string>, DeploymentRecord> deployments;
  std::map<int64_t, PapAuditRecord> audit;  // by id
  int64_t last_audit_id = 0;
  std::map<std::pair<std::string, std::string>, PolicyTypeRecord> policy_types;
};

struct MemoryStore::Shared {
  std::mutex mutex;
  MemoryData data;
  std::function<int64_t()> clock;
};

namespace {

constexpr std::string_view kHorizonKey = "changelog_horizon";

Error constraint(std::string what) { return Error{"STORE_ERROR", "constraint failed: " + what}; }

// An edge's identity, as the edges table's UNIQUE key has it (no ports = 0..0).
auto edge_key(const EdgeRecord& e) {
  return std::tuple(std::string_view(e.destination), std::string_view(e.source),
                    std::string_view(e.policy), std::string_view(e.account), e.protocol,
                    e.ports ? e.ports->start : 0, e.ports ? e.ports->end : 0);
}

class MemoryTx : public StoreTx, public LifecycleTx {
 public:
  MemoryTx(MemoryData& d, bool writable, int64_t now) : d_(d), writable_(writable), now_(now) {}

  int64_t appended() const { return appended_; }
  LifecycleTx& lifecycle() override { return *this; }

  Result<bool> account_exists(std::string_view account) override {
    return d_.accounts.contains(account);
  }
  Result<void> ensure_account(std::string_view account) override {
    WT_TRY(w, writing());
    d_.accounts.emplace(account);
    return Ok();
  }
  Result<std::vector<std::string>> list_accounts() override {
    return std::vector<std::string>(d_.accounts.begin(), d_.accounts.end());
  }

  Result<std::optional<AppRecord>> find_app(std::string_view guid) override {
    auto it = d_.apps.find(guid);
    if (it == d_.apps.end()) return std::optional<AppRecord>{};
    return std::optional<AppRecord>{it->second};
  }
  Result<std::optional<AppRecord>> find_app_by_tag(uint32_t tag) override {
    for (const auto& [guid, app] : d_.apps)
      if (app.tag == tag) return std::optional<AppRecord>{app};
    return std::optional<AppRecord>{};
  }
  Result<std::vector<AppRecord>> list_apps(std::optional<std::string_view> account) override {
    std::vector<AppRecord> out;
    for (const auto& [guid, app] : d_.apps)
      if (!account || app.account == *account) out.push_back(app);
    return out;
  }
  Result<void> insert_app(const AppRecord& app) override {
    WT_TRY(w, writing());
    if (d_.apps.contains(app.guid)) return constraint("apps.guid " + app.guid);
    if (!d_.accounts.contains(app.account)) return constraint("apps.account " + app.account);
    WT_TRY(holder, find_app_by_tag(app.tag));
    if (*holder) return constraint("apps.tag " + std::to_string(app.tag));
    d_.apps.emplace(app.guid, app);
    return Ok();
  }
  Result<void> delete_app(std::string_view guid) override {
    WT_TRY(w, writing());
    if (auto it = d_.apps.find(guid); it != d_.apps.end()) d_.apps.erase(it);
    return Ok();
  }
  Result<int64_t> count_apps() override { return static_cast<int64_t>(d_.apps.size()); }

  Result<std::optional<TagRecord>> find_tag(uint32_t tag) override {
    auto it = d_.tags.find(tag);
    if (it == d_.tags.end()) return std::optional<TagRecord>{};
    return std::optional<TagRecord>{it->second};
  }
  Result<std::optional<TagRecord>> oldest_released_tag(int64_t released_before) override {
    std::optional<TagRecord> best;
    for (const auto& [tag, t] : d_.tags) {
      if (t.app || t.released_at > released_before) continue;
      if (!best || t.released_at < best->released_at) best = t;  // by tag on ties: ascending
    }
    return best;
  }
  Result<void> put_tag(const TagRecord& tag) override {
    WT_TRY(w, writing());
    d_.tags[tag.tag] = tag;
    return Ok();
  }

  Result<bool> insert_edge(const EdgeRecord& edge) override {
    WT_TRY(w, writing());
    for (const auto& [id, e] : d_.edges)
      if (edge_key(e) == edge_key(edge)) return false;
    d_.edges.emplace(++d_.last_edge_id, edge);
    return true;
  }
  Result<std::vector<InboundEdge>> edges_to(std::string_view destination) override {
    std::vector<InboundEdge> out;
    for (const auto& [id, e] : d_.edges) {
      if (e.destination != destination) continue;
      auto source = d_.apps.find(e.source);
      out.push_back({e, source == d_.apps.end() ? 0 : source->second.tag});
    }
    return out;
  }
  Result<std::vector<EdgeRecord>> edges_from(std::string_view source) override {
    std::vector<EdgeRecord> out;
    for (const auto& [id, e] : d_.edges)
      if (e.source == source) out.push_back(e);
    return out;
  }
  Result<bool> delete_edge(const EdgeRecord& edge) override {
    WT_TRY(w, writing());
    return std::erase_if(d_.edges,
                         [&](const auto& kv) { return edge_key(kv.second) == edge_key(edge); }) > 0;
  }
  Result<int64_t> delete_edges_of(std::string_view app) override {
    WT_TRY(w, writing());
    return static_cast<int64_t>(std::erase_if(d_.edges, [&](const auto& kv) {
      return kv.second.source == app || kv.second.destination == app;
    }));
  }
  Result<int64_t> count_edges() override { return static_cast<int64_t>(d_.edges.size()); }
  Result<void> scan_edges(const std::function<void(const EdgeView&)>& fn) override {
    for (const auto& [id, e] : d_.edges)
      fn(EdgeView{e.account, e.policy, e.source, e.destination, e.protocol, e.ports});
    return Ok();
  }

  Result<std::optional<std::string>> get_meta(std::string_view key) override {
    auto it = d_.meta.find(key);
    if (it == d_.meta.end()) return std::optional<std::string>{};
    return std::optional<std::string>{it->second};
  }
  Result<void> set_meta(std::string_view key, std::string_view value) override {
    WT_TRY(w, writing());
    d_.meta.insert_or_assign(std::string(key), std::string(value));
    return Ok();
  }

  Result<int64_t> append_change(const ChangeRecord& change) override {
    WT_TRY(w, writing());
    ChangeRecord c = change;
    c.revision = ++d_.last_revision;
    d_.changes.emplace(c.revision, MemoryData::LoggedChange{c, now_});
    appended_ = c.revision;
    return c.revision;
  }
  Result<int64_t> revision() override { return d_.last_revision; }
  Result<std::vector<ChangeRecord>> changes_since(int64_t revision, int64_t limit) override {
    std::vector<ChangeRecord> out;
    for (auto it = d_.changes.upper_bound(revision);
         it != d_.changes.end() && (limit < 0 || static_cast<int64_t>(out.size()) < limit); ++it)
      out.push_back(it->second.change);
    return out;
  }
  Result<int64_t> change_horizon() override {
    auto it = d_.meta.find(kHorizonKey);
    return it == d_.meta.end() ? 0 : std::stoll(it->second);
  }
  Result<int64_t> compact_changes(int64_t keep_revisions, int64_t logged_before,
                                  int64_t floor) override {
    WT_TRY(w, writing());
    int64_t through = 0;
    if (keep_revisions > 0) through = std::max(through, d_.last_revision - keep_revisions);
    if (logged_before > 0)
      for (const auto& [revision, logged] : d_.changes)
        if (logged.at < logged_before) through = std::max(through, revision);
    through = std::min(through, floor);
    WT_TRY(horizon, change_horizon());
    if (through <= *horizon) return int64_t{0};
    const auto removed =
        std::erase_if(d_.changes, [&](const auto& kv) { return kv.first <= through; });
    d_.meta.insert_or_assign(std::string(kHorizonKey), std::to_string(through));
    return static_cast<int64_t>(removed);
  }

  Result<std::optional<TokenRecord>> find_token(std::string_view hash) override {
    for (const TokenRecord& t : d_.tokens)
      if (t.hash == hash) return std::optional<TokenRecord>{t};
    return std::optional<TokenRecord>{};
  }
  Result<void> insert_token(const TokenRecord& token) override {
    WT_TRY(w, writing());
    for (const TokenRecord& t : d_.tokens)
      if (t.hash == token.hash || t.id == token.id) return constraint("tokens " + token.id);
    d_.tokens.push_back(token);
    if (d_.tokens.back().created_at == 0) d_.tokens.back().created_at = now_;
    return Ok();
  }
  Result<int64_t> count_tokens() override { return static_cast<int64_t>(d_.tokens.size()); }
  Result<std::vector<TokenRecord>> list_tokens() override {
    std::vector<TokenRecord> out = d_.tokens;
    std::stable_sort(out.begin(), out.end(), [](const TokenRecord& a, const TokenRecord& b) {
      return a.created_at < b.created_at;
    });
    return out;
  }
  Result<bool> delete_token(std::string_view id) override {
    WT_TRY(w, writing());
    return std::erase_if(d_.tokens, [&](const TokenRecord& t) { return t.id == id; }) > 0;
  }
  Result<void> set_token_last_used(std::string_view hash, int64_t at) override {
    WT_TRY(w, writing());
    for (TokenRecord& t : d_.tokens)
      if (t.hash == hash) t.last_used_at = at;
    return Ok();
  }

  Result<std::vector<PolicyRecord>> list_policies(std::string_view account) override {
    std::vector<PolicyRecord> out;
    for (const auto& [id, p] : d_.policies)
      if (p.account == account) out.push_back(p);
    return out;
  }
  Result<std::vector<PolicyRecord>> find_policies(std::string_view account,
                                                  std::string_view id_or_refid) override {
    std::vector<PolicyRecord> out;
    for (const auto& [id, p] : d_.policies)
      if (p.account == account && (p.id == id_or_refid || p.refid == id_or_refid)) out.push_back(p);
    return out;
  }
  Result<void> put_policy(const PolicyRecord& policy) override {
    WT_TRY(w, writing());
    auto version = std::pair(policy.id, policy.version);
    if (d_.policy_versions.contains(version))
      return constraint("policy_versions " + policy.id + " " + std::to_string(policy.version));
    d_.policies.insert_or_assign(policy.id, policy);
    d_.policy_versions.emplace(version, policy.body);
    return Ok();
  }
  Result<void> delete_policy(std::string_view id) override {
    WT_TRY(w, writing());
    if (auto it = d_.policies.find(id); it != d_.policies.end()) d_.policies.erase(it);
    return Ok();
  }
  Result<std::optional<PolicyRecord>> find_policy_by_id(std::string_view id) override {
    auto it = d_.policies.find(id);
    if (it == d_.policies.end()) return std::optional<PolicyRecord>{};
    return std::optional<PolicyRecord>{it->second};
  }
  Result<std::optional<PolicyRecord>> policy_version(std::string_view id,
                                                     int64_t version) override {
    auto it = d_.policy_versions.find(std::pair(std::string(id), version));
    if (it == d_.policy_versions.end()) return std::optional<PolicyRecord>{};
    PolicyRecord p{std::string(id), "", std::nullopt, "", version, it->second};
    auto body = nlohmann::json::parse(p.body, nullptr, false);
    if (body.is_object()) {
      if (body.contains("account_id") && body["account_id"].is_string())
        p.account = body["account_id"].get<std::string>();
      if (body.contains("name") && body["name"].is_string())
        p.name = body["name"].get<std::string>();
    }
    return std::optional<PolicyRecord>{std::move(p)};
  }

  Result<std::vector<PdpGroupRecord>> list_pdp_groups() override {
    std::vector<PdpGroupRecord> out;
    for (const auto& [name, g] : d_.groups) out.push_back(g);
    return out;
  }
  Result<std::optional<PdpGroupRecord>> find_pdp_group(std::string_view name) override {
    auto it = d_.groups.find(name);
    if (it == d_.groups.end()) return std::optional<PdpGroupRecord>{};
    return std::optional<PdpGroupRecord>{it->second};
  }
  Result<void> put_pdp_group(const PdpGroupRecord& group) override {
    WT_TRY(w, writing());
    PdpGroupRecord g = group;
    std::sort(g.subgroups.begin(), g.subgroups.end(),
              [](const auto& a, const auto& b) { return a.pdp_type < b.pdp_type; });
    for (size_t i = 1; i < g.subgroups.size(); ++i)
      if (g.subgroups[i].pdp_type == g.subgroups[i - 1].pdp_type)
        return constraint("pdp_subgroups " + g.name + " " + g.subgroups[i].pdp_type);
    std::erase_if(d_.deployments, [&](const auto& kv) {
      const DeploymentRecord& d = kv.second;
      return d.group == g.name &&
             std::none_of(g.subgroups.begin(), g.subgroups.end(),
                          [&](const PdpSubgroupRecord& s) { return s.pdp_type == d.pdp_type; });
    });
    d_.groups.insert_or_assign(g.name, std::move(g));
    return Ok();
  }
  Result<void> delete_pdp_group(std::string_view name) override {
    WT_TRY(w, writing());
    std::erase_if(d_.deployments, [&](const auto& kv) { return kv.second.group == name; });
    if (auto it = d_.groups.find(name); it != d_.groups.end()) d_.groups.erase(it);
    return Ok();
  }
  Result<std::vector<DeploymentRecord>> list_deployments() override {
    std::vector<DeploymentRecord> out;
    for (const auto& [key, d] : d_.deployments) out.push_back(d);
    return out;
  }
  Result<void> put_deployment(const DeploymentRecord& d) override {
    WT_TRY(w, writing());
    d_.deployments.insert_or_assign(std::tuple(d.group, d.pdp_type, d.policy), d);
    return Ok();
  }
  Result<bool> delete_deployment(std::string_view group, std::string_view pdp_type,
                                 std::string_view policy) override {
    WT_TRY(w, writing());
    return d_.deployments.erase(
               std::tuple(std::string(group), std::string(pdp_type), std::string(policy))) > 0;
  }
  Result<int64_t> append_pap_audit(const PapAuditRecord& record) override {
    WT_TRY(w, writing());
    PapAuditRecord r = record;
    r.id = ++d_.last_audit_id;
    d_.audit.emplace(r.id, r);
    return r.id;
  }
  Result<std::vector<PapAuditRecord>> pap_audit(const PapAuditQuery& q) override {
    std::vector<PapAuditRecord> out;
    for (auto it = d_.audit.rbegin(); it != d_.audit.rend(); ++it) {
      if (q.limit >= 0 && static_cast<int64_t>(out.size()) >= q.limit) break;
      const PapAuditRecord& a = it->second;
      if ((q.group && a.group != *q.group) || (q.policy && a.policy != *q.policy) ||
          (q.version && a.version != *q.version) || (q.from_ms && a.at_ms < *q.from_ms) ||
          (q.to_ms && a.at_ms > *q.to_ms))
        continue;
      out.push_back(a);
    }
    return out;
  }
  Result<int64_t> count_pap_audit(std::string_view action) override {
    return static_cast<int64_t>(
        std::count_if(d_.audit.begin(), d_.audit.end(),
                      [&](const auto& kv) { return kv.second.action == action; }));
  }
  Result<int64_t> prune_pap_audit(int64_t keep_records, int64_t before_ms) override {
    WT_TRY(w, writing());
    size_t removed = 0;
    if (before_ms > 0)
      removed +=
          std::erase_if(d_.audit, [&](const auto& kv) { return kv.second.at_ms < before_ms; });
    if (keep_records > 0 && static_cast<int64_t>(d_.audit.size()) >= keep_records) {
      const int64_t oldest_kept = std::next(d_.audit.rbegin(), keep_records - 1)->first;
      removed += std::erase_if(d_.audit, [&](const auto& kv) { return kv.first < oldest_kept; });
    }
    return static_cast<int64_t>(removed);
  }

  Result<std::vector<PolicyTypeRecord>> list_policy_types() override {
    std::vector<PolicyTypeRecord> out;
    for (const auto& [key, t] : d_.policy_types) out.push_back(t);
    return out;
  }
  Result<void> insert_policy_type(const PolicyTypeRecord& type) override {
    WT_TRY(w, writing());
    if (!d_.policy_types.emplace(std::pair(type.name, type.version), type).second)
      return constraint("policy_types " + type.name + " " + type.version);
    return Ok();
  }
  Result<bool> delete_policy_type(std::string_view name, std::string_view version) override {
    WT_TRY(w, writing());
    return d_.policy_types.erase(std::pair(std::string(name), std::string(version))) > 0;
  }
  Result<std::vector<PolicyRecord>> list_all_policies() override {
    std::vector<PolicyRecord> out;
    for (const auto& [id, p] : d_.policies) out.push_back(p);
    return out;
  }
  Result<bool> delete_policy_version(std::string_view id, int64_t version) override {
    WT_TRY(w, writing());
    return d_.policy_versions.erase(std::pair(std::string(id), version)) > 0;
  }
  Result<int64_t> highest_policy_version(std::string_view id) override {
    int64_t highest = 0;
    for (const auto& [key, body] : d_.policy_versions)
      if (key.first == id) highest = std::max(highest, key.second);
    return highest;
  }

 private:
  // As SQLite's query_only readers: a read transaction cannot write.
  Result<bool> writing() const {
    if (!writable_) return Error{"STORE_ERROR", "attempt to write a readonly transaction"};
    return true;
  }

  MemoryData& d_;
  bool writable_;
  int64_t now_;
  int64_t appended_ = 0;
};

int64_t system_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

MemoryStore::MemoryStore(std::function<int64_t()> clock) : shared_(std::make_shared<Shared>()) {
  shared_->clock = clock ? std::move(clock) : system_seconds;
  MemoryData& d = shared_->data;
  // What migration 3 inserts (SPEC §2).
  d.groups.emplace(
      "defaultGroup",
      PdpGroupRecord{
          "defaultGroup",
          "The default group: every cell that names no other",
          "ACTIVE",
          "{}",
          {PdpSubgroupRecord{
              "tc", 0, R"([{"name":"wiretag.policies.Whitelist","version":"1.0.0"}])", "{}"}}});
  d.deployments.emplace(std::tuple("defaultGroup", "tc", "default-whitelist"),
                        DeploymentRecord{"defaultGroup", "tc", "default-whitelist", "1.0.0",
                                         shared_->clock() * 1000});
}

MemoryStore::MemoryStore(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

std::unique_ptr<MemoryStore> MemoryStore::sharing(const MemoryStore& other) {
  return std::unique_ptr<MemoryStore>(new MemoryStore(other.shared_));
}

MemoryStore::~MemoryStore() = default;

Result<void> MemoryStore::transact(bool write, const std::function<Result<void>(StoreTx&)>& fn) {
  int64_t appended = 0;
  {
    std::lock_guard lock(shared_->mutex);
    MemoryData copy = shared_->data;
    MemoryTx tx(copy, write, shared_->clock());
    if (auto r = fn(tx); !r) return r;
    if (write) shared_->data = std::move(copy);
    appended = tx.appended();
  }
  if (appended > 0) committed(appended);
  return Ok();
}

}  // namespace wiretag
