// The in-memory ports (core/testing/memory_store.h) keep the store's contract that domain
// tests rely on: atomic transactions, read-only reads, the seeded defaults, the constraints.
#include "core/testing/memory_store.h"

#include <gtest/gtest.h>

#include <vector>

namespace wiretag {
namespace {

ChangeRecord change(std::string subject) { return {0, "app.created", "default", subject, "{}"}; }

TEST(MemoryStore, AFailedWriteLeavesNothingBehindAndWakesNoObserver) {
  MemoryStore store;
  std::vector<int64_t> heard;
  store.add_commit_observer([&](int64_t revision) { heard.push_back(revision); });
  auto r = store.transact(true, [](StoreTx& tx) -> Result<void> {
    if (auto a = tx.insert_app({"a", "default", 1}); !a) return a;
    if (auto c = tx.append_change(change("a")); !c) return c.error();
    return Error{"BOOM", "abort"};
  });
  EXPECT_EQ(r.error().code, "BOOM");
  EXPECT_FALSE(store.read<std::optional<AppRecord>>([](StoreTx& tx) { return tx.find_app("a"); })
                   ->has_value());
  EXPECT_EQ(*store.read<int64_t>([](StoreTx& tx) { return tx.revision(); }), 0);
  EXPECT_TRUE(heard.empty());
}

TEST(MemoryStore, ObserversHearTheHighestRevisionOfTheirOwnStoreOnly) {
  MemoryStore store;
  auto other = MemoryStore::sharing(store);
  std::vector<int64_t> mine, theirs;
  store.add_commit_observer([&](int64_t revision) { mine.push_back(revision); });
  other->add_commit_observer([&](int64_t revision) { theirs.push_back(revision); });
  ASSERT_TRUE(store.write<void>([](StoreTx& tx) -> Result<void> {
    if (auto c = tx.append_change(change("a")); !c) return c.error();
    if (auto c = tx.append_change(change("b")); !c) return c.error();
    return Ok();
  }));
  EXPECT_EQ(mine, std::vector<int64_t>{2});
  EXPECT_TRUE(theirs.empty());
  EXPECT_EQ(*other->read<int64_t>([](StoreTx& tx) { return tx.revision(); }), 2);
}

TEST(MemoryStore, ReadsCannotWrite) {
  MemoryStore store;
  auto r = store.read<void>([](StoreTx& tx) { return tx.set_meta("k", "v"); });
  EXPECT_EQ(r.error().code, "STORE_ERROR");
}

TEST(MemoryStore, StartsWithWhatTheMigrationsSeed) {
  MemoryStore store;
  auto seeded = store.read<std::vector<DeploymentRecord>>(
      [](StoreTx& tx) -> Result<std::vector<DeploymentRecord>> {
        WT_TRY(account, tx.account_exists("default"));
        if (!*account) return Error{"MISSING", "default account"};
        WT_TRY(group, tx.find_pdp_group("defaultGroup"));
        if (!*group || (*group)->state != "ACTIVE" || (*group)->subgroups.size() != 1)
          return Error{"MISSING", "defaultGroup"};
        return tx.list_deployments();
      });
  ASSERT_TRUE(seeded) << seeded.error().message;
  ASSERT_EQ(seeded->size(), 1u);
  EXPECT_EQ((*seeded)[0].policy, "default-whitelist");
  EXPECT_EQ((*seeded)[0].version, "1.0.0");
}

TEST(MemoryStore, KeepsTheSchemasConstraints) {
  MemoryStore store;
  auto fails = [&](const std::function<Result<void>(StoreTx&)>& fn) {
    return !store.transact(true, fn);
  };
  ASSERT_TRUE(store.write<void>([](StoreTx& tx) { return tx.insert_app({"a", "default", 1}); }));
  EXPECT_TRUE(fails([](StoreTx& tx) { return tx.insert_app({"a", "default", 2}); }));
  EXPECT_TRUE(fails([](StoreTx& tx) { return tx.insert_app({"b", "default", 1}); }));
  EXPECT_TRUE(fails([](StoreTx& tx) { return tx.insert_app({"b", "nobody", 2}); }));
  PolicyRecord p{"id", "default", std::nullopt, "web", 1, "{}"};
  ASSERT_TRUE(store.write<void>([&](StoreTx& tx) { return tx.put_policy(p); }));
  EXPECT_TRUE(fails([&](StoreTx& tx) { return tx.put_policy(p); }));
  TokenRecord t;
  t.hash = "h1";
  t.id = "id1";
  ASSERT_TRUE(store.write<void>([&](StoreTx& tx) { return tx.insert_token(t); }));
  t.hash = "h2";
  EXPECT_TRUE(fails([&](StoreTx& tx) { return tx.insert_token(t); }));
  EdgeRecord e{"default", "default-whitelist", "a", "a", Protocol::Tcp, PortRange{80, 80}};
  EXPECT_TRUE(*store.write<bool>([&](StoreTx& tx) { return tx.insert_edge(e); }));
  EXPECT_FALSE(*store.write<bool>([&](StoreTx& tx) { return tx.insert_edge(e); }));
}

TEST(MemoryStore, CompactionMovesTheHorizonAndKeepsTheRevision) {
  MemoryStore store;
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(store.write<int64_t>([](StoreTx& tx) { return tx.append_change(change("a")); }));
  EXPECT_EQ(*store.write<int64_t>([](StoreTx& tx) { return tx.compact_changes(2, 0, 10); }), 3);
  EXPECT_EQ(*store.read<int64_t>([](StoreTx& tx) { return tx.change_horizon(); }), 3);
  EXPECT_EQ(*store.read<int64_t>([](StoreTx& tx) { return tx.revision(); }), 5);
  auto left =
      store.read<std::vector<ChangeRecord>>([](StoreTx& tx) { return tx.changes_since(0, 100); });
  ASSERT_EQ(left->size(), 2u);
  EXPECT_EQ((*left)[0].revision, 4);
  // Never above the floor, never below the horizon.
  EXPECT_EQ(*store.write<int64_t>([](StoreTx& tx) { return tx.compact_changes(1, 0, 3); }), 0);
}

TEST(MemoryStore, AuditPruningKeepsTheNewest) {
  MemoryStore store;
  for (int64_t at : {10, 20, 30, 40})
    ASSERT_TRUE(store.write<int64_t>([&](StoreTx& tx) {
      return tx.append_pap_audit({0, "g", "", "", "", "GROUP_CREATE", "", "u", at});
    }));
  EXPECT_EQ(*store.write<int64_t>([](StoreTx& tx) { return tx.prune_pap_audit(3, 15); }), 1);
  EXPECT_EQ(*store.write<int64_t>([](StoreTx& tx) { return tx.prune_pap_audit(2, 0); }), 1);
  PapAuditQuery q;
  auto kept = store.read<std::vector<PapAuditRecord>>([&](StoreTx& tx) { return tx.pap_audit(q); });
  ASSERT_EQ(kept->size(), 2u);
  EXPECT_EQ((*kept)[0].at_ms, 40);
  EXPECT_EQ((*kept)[1].at_ms, 30);
}

}  // namespace
}  // namespace wiretag
