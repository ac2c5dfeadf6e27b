// The policy server's persistence as the domain sees it: one port per aggregate (apps and
// tags, edges, the change log, settings, policies, the PAP's records, tokens, the lifecycle
// API's tables), the transaction that holds them all, and the Store that runs transactions.
// Backends (userspace/store) implement these; the domain includes nothing of them.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "core/ports/apps.h"
#include "core/ports/change_log.h"
#include "core/ports/edges.h"
#include "core/ports/lifecycle.h"
#include "core/ports/meta.h"
#include "core/ports/pap.h"
#include "core/ports/policies.h"
#include "core/ports/tokens.h"
#include "wiretag/result.h"

namespace wiretag {

// Every read and write of one atomic unit. Errors abort the whole transaction. Code that needs
// one aggregate takes its port (a StoreTx& converts to each).
class StoreTx : public AppsPort,
                public EdgesPort,
                public ChangeLogPort,
                public MetaPort,
                public PoliciesPort,
                public PapPort,
                public TokensPort {
 public:
  ~StoreTx() override = default;

  // Every edge, in insertion order (to load an in-memory index). This default asks app by app.
  Result<void> scan_edges(const std::function<void(const EdgeView&)>& fn) override {
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

  // The lifecycle API's tables (policy types) and policy version reads (SPEC §4.5).
  virtual LifecycleTx& lifecycle() = 0;
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
