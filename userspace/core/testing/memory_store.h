// The domain's ports in memory, for domain tests: no files, no SQLite. A fresh MemoryStore
// holds what a new SQLite store holds after its migrations (the "default" account,
// defaultGroup with default-whitelist deployed), and keeps its constraints (unique guids,
// tags, edges, token ids and policy versions; apps only in known accounts; reads cannot
// write). A transaction runs on a copy that replaces the data only when it succeeds.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "core/ports/store.h"

namespace wiretag {

struct MemoryData;

class MemoryStore : public Store {
 public:
  // clock: unix seconds, as the change log records them (compact_changes' age bound).
  explicit MemoryStore(std::function<int64_t()> clock = {});
  // Another store over the same data, as another process opening the same database file:
  // it sees every commit, its commit observers only its own.
  static std::unique_ptr<MemoryStore> sharing(const MemoryStore& other);
  ~MemoryStore() override;

  Result<void> transact(bool write, const std::function<Result<void>(StoreTx&)>& fn) override;

 private:
  struct Shared;
  explicit MemoryStore(std::shared_ptr<Shared> shared);
  std::shared_ptr<Shared> shared_;
};

}  // namespace wiretag
