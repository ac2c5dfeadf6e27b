// The policy graph of the server: accounts, apps with their tags, and the edges between
// them, over the abstract Store. Every write is one transaction that also appends to the
// change log, so the revision orders every change the agents will follow.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "core/tag_space.h"
#include "core/whitelist_index.h"
#include "core/ports/store.h"
#include "wiretag/result.h"

namespace wiretag {

inline constexpr std::string_view kDefaultAccount = "default";
inline constexpr std::string_view kDefaultWhitelist = "default-whitelist";

struct PolicyGraphOptions {
  int tag_length = 2;
  int64_t tag_quarantine_seconds = 24 * 3600;  // a deleted app's tag is not reused before this
  std::function<int64_t()> clock;              // unix seconds; the system clock when empty
  std::function<std::string()> new_id;         // a random UUID (the store id); built in if empty
  // Serve app() and whitelists from an in-memory WhitelistIndex loaded at open() and kept
  // current by the change log (the server); otherwise every read asks the store.
  bool in_memory_index = false;
  IndexOptions index;
};

struct AppRegistration {
  AppRecord app;
  bool created = false;  // false: the guid was already registered (idempotent POST /app)
};

// What may reach one app: every inbound edge, and the distinct tags of their sources.
struct Whitelist {
  std::vector<InboundEdge> edges;
  std::vector<uint32_t> allowed_tags;  // sorted, without 0 ("*" sources)
};

// An edge to add: source guid (or "*"), destination guid, protocol, ports.
struct EdgeRequest {
  std::string source;
  std::string destination;
  Protocol protocol = Protocol::Any;
  std::optional<PortRange> ports;
};

// One inbound rule of an app as its cell enforces it: source guid (or "*") and its tag.
struct EffectiveRule {
  std::string source;
  uint32_t source_tag = 0;  // 0 for "*"
  Protocol protocol = Protocol::Any;
  std::optional<PortRange> ports;  // absent = all ports
  // A cell's query: the deployed policies holding the rule ("default-whitelist", a named
  // policy's name), so a drop can say which rules are in force and from where. Provenance,
  // not identity: equal rules compare equal whatever their policies.
  std::vector<std::string> policies{};
  friend bool operator==(const EffectiveRule& a, const EffectiveRule& b) {
    return a.source == b.source && a.source_tag == b.source_tag && a.protocol == b.protocol &&
           a.ports == b.ports;
  }
};

// Collects an app's effective rules, each once, in the order first added: O(log n) per rule
// (an app may have 100k+ rules; a linear find was O(n^2)).
class EffectiveRuleSet {
 public:
  explicit EffectiveRuleSet(std::vector<EffectiveRule>& out) : out_(out) {}
  void add(EffectiveRule rule);

 private:
  using Key = std::tuple<std::string, int, bool, uint16_t, uint16_t>;
  std::vector<EffectiveRule>& out_;
  std::map<Key, size_t> have_;  // → index in out_
};

// Changes after a revision and the revision they were read at, from one transaction.
struct ChangeBatch {
  int64_t revision = 0;
  std::vector<ChangeRecord> changes;
  int64_t horizon = 0;  // the change log was compacted through it: since < horizon → resync
};

struct AppRules {
  AppRecord app;
  std::vector<EffectiveRule> rules;
};

// What a cell needs for some apps, read in one transaction at `revision`.
struct EffectiveRules {
  int64_t revision = 0;
  std::vector<AppRules> apps;        // in the order asked, each guid once
  std::vector<std::string> missing;  // guids asked for that are not registered
};

class PolicyGraph {
 public:
  // TAG_LENGTH_MISMATCH when the store was created with another tag length.
  static Result<PolicyGraph> open(Store& store, PolicyGraphOptions options);

  const TagSpace& tags() const { return tags_; }
  // A random UUID made once with the store: clients notice when the database is replaced.
  const std::string& store_id() const { return store_id_; }

  // Registers guid in account with a fresh tag; the same guid again returns its app
  // (created=false); APP_EXISTS when it belongs to another account; TAGS_EXHAUSTED.
  Result<AppRegistration> register_app(std::string_view account, std::string_view guid);
  Result<AppRecord> app(std::string_view guid);  // APP_NOT_FOUND
  Result<std::vector<AppRecord>> apps(std::optional<std::string_view> account);
  // Removes the app, every edge from or to it, and quarantines its tag, atomically.
  Result<void> delete_app(std::string_view guid);

  // Adds the edge to the destination account's default-whitelist; false if it existed.
  // APP_NOT_FOUND for an unknown source or destination, INVALID_RULE for bad ports.
  Result<bool> allow(const EdgeRequest& edge);
  // allow() without holding the caller's thread while the commit waits: done gets the
  // outcome once, on any thread, after the durable commit (batched with concurrent writes).
  void allow_async(EdgeRequest edge, std::function<void(Result<bool>)> done);
  // Removes exactly this edge from the destination account's default-whitelist.
  // APP_NOT_FOUND for an unknown source or destination, EDGE_NOT_FOUND when it is not there.
  Result<void> disallow(const EdgeRequest& edge);
  Result<Whitelist> whitelist(std::string_view destination);  // APP_NOT_FOUND
  // The app and its whitelist at one revision; edges only if with_edges. APP_NOT_FOUND.
  struct AppWhitelist {
    AppRecord app;
    Whitelist whitelist;
  };
  Result<AppWhitelist> app_whitelist(std::string_view destination, bool with_edges);

  // Each app's effective inbound rules: its default-whitelist edges, then the rules (latest
  // version) of every named policy of its account whose destination it is. Rules whose
  // source app is gone are left out; identical rules appear once. INVALID_GUID.
  Result<EffectiveRules> effective_rules(const std::vector<std::string>& guids);

  Result<int64_t> revision();
  Result<std::vector<ChangeRecord>> changes_since(int64_t revision, int64_t limit);
  // Up to `limit` changes after `since` and the current revision, consistently.
  Result<ChangeBatch> change_batch(int64_t since, int64_t limit);
  // How far the change log may be compacted: the revision the in-memory index reflects
  // once caught up (it reads the changes after it); unbounded without an index.
  Result<int64_t> compaction_floor();

 private:
  PolicyGraph(Store& store, TagSpace tags, PolicyGraphOptions options, std::string store_id,
              std::shared_ptr<WhitelistIndex> index)
      : store_(&store),
        tags_(tags),
        options_(std::move(options)),
        store_id_(std::move(store_id)),
        index_(std::move(index)) {}
  int64_t now() const;
  Result<uint32_t> allocate_tag(StoreTx& tx);

  Store* store_;
  TagSpace tags_;
  PolicyGraphOptions options_;
  std::string store_id_;
  std::shared_ptr<WhitelistIndex> index_;  // null: reads ask the store
};

}  // namespace wiretag
