// The policy graph's read side in memory: app guid → account and tag (for access checks) and
// destination app → its inbound edges with the sources resolved (for whitelists). Loaded from
// the store in one read transaction; kept current by the change log, which stays the source
// of truth: the index remembers the revision it reflects and, before answering, applies the
// changes after it when the store has moved on: at once when a commit of this process said so
// (committed()), and at most `poll_interval` late for writers in other processes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/ports/store.h"
#include "wiretag/result.h"

namespace wiretag {

struct IndexOptions {
  // How stale the index may be for writes by other processes; this process's commits are
  // applied before the next lookup.
  std::chrono::milliseconds poll_interval{200};
};

class WhitelistIndex {
 public:
  // Reads every app and edge at one revision.
  static Result<std::shared_ptr<WhitelistIndex>> load(Store& store, IndexOptions options = {});

  // A commit of this process reached `revision` (a Store commit observer).
  void committed(int64_t revision);

  // The app, or nullopt when it is not registered.
  Result<std::optional<AppRecord>> app(std::string_view guid);
  // The destination's inbound edges (in insertion order; `edges` left empty unless
  // with_edges) and the distinct source tags; nullopt when the app is not registered.
  struct Inbound {
    AppRecord app;
    std::vector<InboundEdge> edges;
    std::vector<uint32_t> allowed_tags;  // sorted, without 0
  };
  Result<std::optional<Inbound>> inbound(std::string_view destination, bool with_edges);

  // The revision the index reflects.
  int64_t revision() const { return applied_.load(); }
  // Applies what the change log holds now; the revision the index then reflects. The change
  // log may be compacted up to it (no further: the index reads the changes after it).
  Result<int64_t> caught_up_revision();
  size_t edge_count() const;

 private:
  static constexpr uint32_t kAnySource = UINT32_MAX;

  struct Edge {
    uint32_t source;  // an app id, or kAnySource for "*"
    uint16_t policy;
    Protocol protocol;
    bool has_ports;
    uint16_t port_start;
    uint16_t port_end;
  };
  struct Slot {  // one guid ever seen
    bool registered = false;
    uint32_t account = 0;
    uint32_t tag = 0;
    std::vector<Edge> inbound;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Ids = std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>>;

  WhitelistIndex(Store& store, IndexOptions options) : store_(store), options_(options) {}

  // Applies the change log up to the store's revision if it may have moved.
  Result<void> refresh();
  Result<void> catch_up();

  // Under the unique lock.
  uint32_t intern(Ids& ids, std::vector<std::string>& names, std::string_view name);
  std::optional<Edge> edge_of(std::string_view source, std::string_view policy,
                              Protocol protocol, const std::optional<PortRange>& ports,
                              bool create);
  void add_edge(const EdgeView& e);
  void remove_edge(const EdgeView& e);
  void remove_app(std::string_view guid, const std::vector<std::string>* destinations);
  // Under a lock.
  std::optional<uint32_t> find(std::string_view guid) const;
  AppRecord record(uint32_t id) const;

  Store& store_;
  IndexOptions options_;
  std::atomic<int64_t> applied_{0};
  std::atomic<int64_t> target_{0};  // the highest revision a commit of this process reported
  std::atomic<int64_t> next_poll_ns_{0};
  std::mutex catch_up_mutex_;  // one catch-up at a time

  mutable std::shared_mutex mutex_;
  Ids app_ids_;
  std::vector<std::string> guids_;
  std::vector<Slot> slots_;
  Ids account_ids_;
  std::vector<std::string> accounts_;
  Ids policy_ids_;
  std::vector<std::string> policies_;
  size_t edges_ = 0;
};

}  // namespace wiretag
