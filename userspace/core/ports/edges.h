// The port for edges (one allowed flow of a policy, by app guid).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/policy_compiler.h"
#include "wiretag/result.h"

namespace wiretag {

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

class EdgesPort {
 public:
  virtual ~EdgesPort() = default;

  // false when the identical edge already exists (nothing written).
  virtual Result<bool> insert_edge(const EdgeRecord& edge) = 0;
  // Edges into the app, in insertion order, each with its source's tag (0 when the source
  // holds none).
  virtual Result<std::vector<InboundEdge>> edges_to(std::string_view destination) = 0;
  // Edges whose source is the app, in insertion order.
  virtual Result<std::vector<EdgeRecord>> edges_from(std::string_view source) = 0;
  // Removes exactly this edge; false when there was none.
  virtual Result<bool> delete_edge(const EdgeRecord& edge) = 0;
  // Removes every edge from or to the app; returns how many.
  virtual Result<int64_t> delete_edges_of(std::string_view app) = 0;
  virtual Result<int64_t> count_edges() = 0;
  // Every edge, in insertion order (to load an in-memory index).
  virtual Result<void> scan_edges(const std::function<void(const EdgeView&)>& fn) = 0;
};

}  // namespace wiretag
