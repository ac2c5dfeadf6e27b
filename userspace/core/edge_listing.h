// Reading edges of the default-whitelist edge table by what they connect: into an app, out of
// an app, or of an account (the destination's account owns an edge), with both ends' tags,
// from one read transaction. For operators' listings (GET /v1/edges); cells get their rules
// from effective_rules.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ports/store.h"
#include "wiretag/result.h"

namespace wiretag {

struct EdgeFilter {
  std::optional<std::string> account;      // the edge's (destination's) account
  std::optional<std::string> source;       // a source guid
  std::optional<std::string> destination;  // a destination guid
  size_t limit = 1000;                     // at most this many edges
};

struct ListedEdge {
  EdgeRecord edge;
  uint32_t source_tag = 0;  // 0 for "*"
  uint32_t destination_tag = 0;
};

struct EdgeListing {
  std::vector<ListedEdge> edges;  // as added; for an account, by destination guid
  bool truncated = false;         // more matched than `limit`
  int64_t revision = 0;           // the change log revision they were read at
};

// The edges that match every filter given and whose account `visible` admits.
Result<EdgeListing> list_edges(Store& store, const EdgeFilter& filter,
                               const std::function<bool(std::string_view account)>& visible);

}  // namespace wiretag
