#include "core/edge_listing.h"

#include <map>

namespace wiretag {
namespace {

// Collects matching edges up to the limit, resolving each guid's tag once.
class Collector {
 public:
  Collector(StoreTx& tx, const EdgeFilter& filter,
            const std::function<bool(std::string_view)>& visible, EdgeListing& out)
      : tx_(tx), filter_(filter), visible_(visible), out_(out) {}

  // false once the listing is full (the caller stops).
  Result<bool> add(const EdgeRecord& e) {
    if (filter_.account && e.account != *filter_.account) return true;
    if (filter_.source && e.source != *filter_.source) return true;
    if (filter_.destination && e.destination != *filter_.destination) return true;
    if (!visible_(e.account)) return true;
    if (out_.edges.size() == filter_.limit) {
      out_.truncated = true;
      return false;
    }
    ListedEdge listed{e, 0, 0};
    if (e.source != "*") {
      auto t = tag(e.source);
      if (!t) return t.error();
      listed.source_tag = *t;
    }
    auto t = tag(e.destination);
    if (!t) return t.error();
    listed.destination_tag = *t;
    out_.edges.push_back(std::move(listed));
    return true;
  }

 private:
  Result<uint32_t> tag(const std::string& guid) {
    if (auto it = tags_.find(guid); it != tags_.end()) return it->second;
    auto app = tx_.find_app(guid);
    if (!app) return app.error();
    const uint32_t t = *app ? (*app)->tag : 0;
    tags_.emplace(guid, t);
    return t;
  }

  StoreTx& tx_;
  const EdgeFilter& filter_;
  const std::function<bool(std::string_view)>& visible_;
  EdgeListing& out_;
  std::map<std::string, uint32_t, std::less<>> tags_;
};

// Adds each edge until the collector is full or fails.
Result<void> add_all(Collector& c, const std::vector<EdgeRecord>& edges) {
  for (const EdgeRecord& e : edges) {
    auto more = c.add(e);
    if (!more) return more.error();
    if (!*more) break;
  }
  return Ok();
}

Result<void> add_inbound(Collector& c, StoreTx& tx, std::string_view destination) {
  auto in = tx.edges_to(destination);
  if (!in) return in.error();
  std::vector<EdgeRecord> edges;
  for (InboundEdge& e : *in) edges.push_back(std::move(e.edge));
  return add_all(c, edges);
}

}  // namespace

Result<EdgeListing> list_edges(Store& store, const EdgeFilter& filter,
                               const std::function<bool(std::string_view)>& visible) {
  return store.read<EdgeListing>([&](StoreTx& tx) -> Result<EdgeListing> {
    EdgeListing out;
    auto rev = tx.revision();
    if (!rev) return rev.error();
    out.revision = *rev;
    Collector c(tx, filter, visible, out);
    // The narrowest walk the filters allow: one destination, one source, one account's
    // apps, else every edge.
    if (filter.destination) {
      if (auto r = add_inbound(c, tx, *filter.destination); !r) return r.error();
    } else if (filter.source) {
      auto from = tx.edges_from(*filter.source);
      if (!from) return from.error();
      if (auto r = add_all(c, *from); !r) return r.error();
    } else if (filter.account) {
      auto apps = tx.list_apps(*filter.account);
      if (!apps) return apps.error();
      for (const AppRecord& app : *apps) {
        if (out.truncated) break;
        if (auto r = add_inbound(c, tx, app.guid); !r) return r.error();
      }
    } else {
      std::optional<Error> failed;
      auto r = tx.scan_edges([&](const EdgeView& v) {
        if (failed || out.truncated) return;
        EdgeRecord e{std::string(v.account),
                     std::string(v.policy),
                     std::string(v.source),
                     std::string(v.destination),
                     v.protocol,
                     v.ports};
        if (auto more = c.add(e); !more) failed = more.error();
      });
      if (!r) return r.error();
      if (failed) return *failed;
    }
    return out;
  });
}

}  // namespace wiretag
