// The policy server's persistence, as the domain sees it: records and atomic transactions.
// No SQLite types here, so a PostgreSQL backend can implement the same interface.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/policy_compiler.h"
#include "store/lifecycle_records.h"
#include "store/pap_records.h"
#include "wiretag/result.h"

namespace wiretag {

struct AppRecord {
  std::string guid;
  std::string account;
  uint32_t tag = 0;
};

// A tag ever handed out: held by `app`, or released at `released_at` (unix seconds).
struct TagRecord {
  uint32_t tag = 0;
  std::optional<std::string> app;
  int64_t released_at = 0;
};

// An edge of a policy, by app guid. source "*" = any tagged source.
struct EdgeRecord {
  std::string account;  // the destination app's account: its owner decides who may reach it
  std::string policy;   // e.g. "default-whitelist"
  std::string source;
  std::string destination;
  Protocol protocol = Protocol::Any;
  std::optional<PortRange> ports;  // absent = all ports
  friend bool operator==(const EdgeRecord&, const EdgeRecord&) = default;
};

// An edge into an app with its source's tag resolved (0 for "*").
struct InboundEdge {
  EdgeRecord edge;
  uint32_t source_tag = 0;
};

// One edge as a scan passes it; the views are valid during the callback only.
struct EdgeView {
  std::string_view account;
  std::string_view policy;
  std::string_view source;
  std::string_view destination;
  Protocol protocol = Protocol::Any;
  std::optional<PortRange> ports;
};

struct ChangeRecord {
  int64_t revision = 0;
  std::string kind;  // "app.created", "app.deleted", "edge.created", ...
  std::string account;
  std::string subject;  // the app guid or policy id the change is about
  std::string body;     // JSON
  // Who made the change ("token:ID", "pap:USER", "cell:NAME"; see common/acting_principal.h):
  // left empty, the store records whom the queuing thread acted for. Empty for the process's
  // own changes and for changes logged before schema 6.
  std::string principal{};
};

struct TokenRecord {
  std::string hash;  // hex SHA-256 of the bearer token; the token itself is never stored
  std::vector<std::string> scopes;
  std::vector<std::string> accounts;  // for network.write
  std::string description;
  std::string id;          // how lists and revocation name the token: not secret
  std::string cell;        // for scope cell: the one cell it acts as ("" before schema 4)
  int64_t created_at = 0;  // unix seconds
  std::optional<int64_t> expires_at;    // unix seconds; none = never
  std::optional<int64_t> last_used_at;  // unix seconds, coarse (see Authenticator)
};

struct PolicyRecord {
  std::string id;  // UUID
  std::string account;
  std::optional<std::string> refid;
  std::string name;
  int64_t version = 1;
  std::string body;  // the policy's JSON as of `version`
};

// Every read and write of one atomic unit. Errors abort the whole transaction.
class StoreTx {
 public:
  virtual ~StoreTx() = default;

  virtual Result<bool> account_exists(std::string_view account) = 0;
  virtual Result<void> ensure_account(std::string_view account) = 0;
  // Every account id, ordered.
  virtual Result<std::vector<std::string>> list_accounts() = 0;

  virtual Result<std::optional<AppRecord>> find_app(std::string_view guid) = 0;
  virtual Result<std::optional<AppRecord>> find_app_by_tag(uint32_t tag) = 0;
  // All apps, or those of one account, ordered by guid.
  virtual Result<std::vector<AppRecord>> list_apps(std::optional<std::string_view> account) = 0;
  virtual Result<void> insert_app(const AppRecord& app) = 0;
  virtual Result<void> delete_app(std::string_view guid) = 0;

  virtual Result<std::optional<TagRecord>> find_tag(uint32_t tag) = 0;
  // The released tag released longest ago, if it was released at or before `released_before`.
  virtual Result<std::optional<TagRecord>> oldest_released_tag(int64_t released_before) = 0;
  virtual Result<void> put_tag(const TagRecord& tag) = 0;

  // false when the identical edge already exists (nothing written).
  virtual Result<bool> insert_edge(const EdgeRecord& edge) = 0;
  virtual Result<std::vector<InboundEdge>> edges_to(std::string_view destination) = 0;
  // Edges whose source is the app, in insertion order.
  virtual Result<std::vector<EdgeRecord>> edges_from(std::string_view source) = 0;
  // Removes exactly this edge; false when there was none.
  virtual Result<bool> delete_edge(const EdgeRecord& edge) = 0;
  // Removes every edge from or to the app; returns how many.
  virtual Result<int64_t> delete_edges_of(std::string_view app) = 0;
  virtual Result<int64_t> count_edges() = 0;
  virtual Result<int64_t> count_apps() = 0;
  // Every edge, in insertion order (to load an in-memory index). This default asks app by app.
  virtual Result<void> scan_edges(const std::function<void(const EdgeView&)>& fn) {
    auto apps = list_apps(std::nullopt);
    if (!apps) return apps.error();
    for (const AppRecord& app : *apps) {
      auto edges = edges_to(app.guid);
      if (!edges) return edges.error();
      for (const InboundEdge& in : *edges) {
        const EdgeRecord& e = in.edge;
        fn(EdgeView{e.account, e.policy, e.source, e.destination, e.protocol, e.ports});
      }
    }
    return Result<void>();
  }

  virtual Result<std::optional<std::string>> get_meta(std::string_view key) = 0;
  virtual Result<void> set_meta(std::string_view key, std::string_view value) = 0;

  // Appends to the change log; returns the new revision (strictly increasing, never reused).
  virtual Result<int64_t> append_change(const ChangeRecord& change) = 0;
  virtual Result<int64_t> revision() = 0;
  virtual Result<std::vector<ChangeRecord>> changes_since(int64_t revision, int64_t limit) = 0;
  // The highest revision compacted away (0: none): changes_since(r) for r below it is
  // incomplete, so a reader that far behind must resync.
  virtual Result<int64_t> change_horizon() = 0;
  // Removes the changes logged before `logged_before` (unix seconds; 0: no age bound) or
  // outside the newest `keep_revisions` revisions (0: no count bound), but none above
  // `floor`, and moves the horizon up to the highest removed. Returns how many it removed.
  virtual Result<int64_t> compact_changes(int64_t keep_revisions, int64_t logged_before,
                                          int64_t floor) = 0;

  virtual Result<std::optional<TokenRecord>> find_token(std::string_view hash) = 0;
  virtual Result<void> insert_token(const TokenRecord& token) = 0;
  virtual Result<int64_t> count_tokens() = 0;
  // Every token, oldest first.
  virtual Result<std::vector<TokenRecord>> list_tokens() = 0;
  // false when no token has this id.
  virtual Result<bool> delete_token(std::string_view id) = 0;
  virtual Result<void> set_token_last_used(std::string_view hash, int64_t at) = 0;

  virtual Result<std::vector<PolicyRecord>> list_policies(std::string_view account) = 0;
  // By id, or every policy whose refid matches.
  virtual Result<std::vector<PolicyRecord>> find_policies(std::string_view account,
                                                          std::string_view id_or_refid) = 0;
  // Inserts the policy and records `version` as an immutable version.
  virtual Result<void> put_policy(const PolicyRecord& policy) = 0;
  virtual Result<void> delete_policy(std::string_view id) = 0;
  // A policy by id, whatever its account; the latest version.
  virtual Result<std::optional<PolicyRecord>> find_policy_by_id(std::string_view id) = 0;
  // One immutable version of a policy, also after the policy was deleted.
  virtual Result<std::optional<PolicyRecord>> policy_version(std::string_view id,
                                                             int64_t version) = 0;

  // PAP (SPEC §4.4): PDP groups, the policy versions deployed to their subgroups, audit.
  virtual Result<std::vector<PdpGroupRecord>> list_pdp_groups() = 0;  // by name
  virtual Result<std::optional<PdpGroupRecord>> find_pdp_group(std::string_view name) = 0;
  // Inserts or replaces the group with exactly these subgroups.
  virtual Result<void> put_pdp_group(const PdpGroupRecord& group) = 0;
  // Removes the group, its subgroups and what is deployed to them.
  virtual Result<void> delete_pdp_group(std::string_view name) = 0;
  virtual Result<std::vector<DeploymentRecord>> list_deployments() = 0;
  // Inserts, or replaces the version deployed for (group, pdp_type, policy).
  virtual Result<void> put_deployment(const DeploymentRecord& deployment) = 0;
  // false when nothing was deployed there.
  virtual Result<bool> delete_deployment(std::string_view group, std::string_view pdp_type,
                                         std::string_view policy) = 0;
  // Returns the record's id (increasing).
  virtual Result<int64_t> append_pap_audit(const PapAuditRecord& record) = 0;
  // Newest first, at most query.limit.
  virtual Result<std::vector<PapAuditRecord>> pap_audit(const PapAuditQuery& query) = 0;
  virtual Result<int64_t> count_pap_audit(std::string_view action) = 0;
  // The lifecycle API's tables (policy types) and policy version reads (SPEC §4.5).
  virtual LifecycleTx& lifecycle() = 0;
  // Removes the audit records older than `before_ms` (0: no age bound) and all but the
  // newest `keep_records` (0: no count bound). Returns how many it removed.
  virtual Result<int64_t> prune_pap_audit(int64_t keep_records, int64_t before_ms) = 0;
};

class Store {
 public:
  using CommitObserver = std::function<void(int64_t revision)>;

  virtual ~Store() = default;

  // Runs fn in one transaction; commits (durably) iff fn succeeds and `write`. A committed
  // write that appended to the change log then calls every commit observer with the highest
  // revision it appended, outside the store's locks.
  virtual Result<void> transact(bool write, const std::function<Result<void>(StoreTx&)>& fn) = 0;

  using WriteFn = std::function<Result<void>(StoreTx&)>;
  using WriteDone = std::function<void(Result<void>)>;
  // A write transaction that answers later, without holding the caller's thread meanwhile:
  // done gets the outcome once, on any thread, only after a commit made it durable (and after
  // the commit observers ran). fn must own what it uses. Here: runs it now, on this thread.
  virtual void transact_async(WriteFn fn, WriteDone done) { done(transact(true, fn)); }

  // Called for every later commit that appended changes (e.g. to wake watchers), whoever the
  // writer is. Add observers before the store is shared between threads.
  void add_commit_observer(CommitObserver observer) {
    commit_observers_.push_back(std::move(observer));
  }

  template <class T, class F>
  Result<T> write(F&& fn) {
    return run<T>(true, std::forward<F>(fn));
  }
  template <class T, class F>
  Result<T> read(F&& fn) {
    return run<T>(false, std::forward<F>(fn));
  }

 protected:
  void committed(int64_t revision) const {
    for (const CommitObserver& observer : commit_observers_) observer(revision);
  }

 private:
  template <class T, class F>
  Result<T> run(bool write, F&& fn) {
    std::optional<Result<T>> out;
    Result<void> r = transact(write, [&](StoreTx& tx) -> Result<void> {
      out.emplace(fn(tx));
      if (!*out) return out->error();
      return Ok();
    });
    if (!r) return r.error();
    return std::move(*out);
  }

  std::vector<CommitObserver> commit_observers_;
};

}  // namespace wiretag
