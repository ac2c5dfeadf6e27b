// The policy graph of the server: accounts, apps with their tags, and the edges between
// them, over the abstract Store. Every write is one transaction that also appends to the
// change log, so the revision orders every change the agents will follow.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/tag_space.h"
#include "store/store.h"
#include "wiretag/result.h"

namespace wiretag {

inline constexpr std::string_view kDefaultAccount = "default";
inline constexpr std::string_view kDefaultWhitelist = "default-whitelist";

struct PolicyGraphOptions {
  int tag_length = 2;
  int64_t tag_quarantine_seconds = 24 * 3600;  // a deleted app's tag is not reused before this
  std::function<int64_t()> clock;              // unix seconds; the system clock when empty
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

class PolicyGraph {
 public:
  // TAG_LENGTH_MISMATCH when the store was created with another tag length.
  static Result<PolicyGraph> open(Store& store, PolicyGraphOptions options);

  const TagSpace& tags() const { return tags_; }

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
  Result<Whitelist> whitelist(std::string_view destination);  // APP_NOT_FOUND

  Result<int64_t> revision();
  Result<std::vector<ChangeRecord>> changes_since(int64_t revision, int64_t limit);

 private:
  PolicyGraph(Store& store, TagSpace tags, PolicyGraphOptions options)
      : store_(&store), tags_(tags), options_(std::move(options)) {}
  int64_t now() const;
  Result<uint32_t> allocate_tag(StoreTx& tx);

  Store* store_;
  TagSpace tags_;
  PolicyGraphOptions options_;
};

}  // namespace wiretag
