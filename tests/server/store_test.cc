// The SQLite store: migrations, durability across reopen, atomic transactions.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <future>

#include "store/sqlite_store.h"
#include "temp_dir.h"

namespace wiretag {
namespace {

TEST(SqliteStore, MigrationsRerunCleanlyAndKeepData) {
  test::TempDir dir;
  {
    auto s = SqliteStore::open(dir.path());
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_EQ(*(*s)->schema_version(), 3);  // 3: PAP groups, deployments, audit
    ASSERT_TRUE((*s)->write<void>([](StoreTx& tx) { return tx.insert_app({"a", "default", 7}); }));
  }
  for (int i = 0; i < 3; ++i) {
    auto s = SqliteStore::open(dir.path());
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_EQ(*(*s)->schema_version(), 3);  // 3: PAP groups, deployments, audit
    auto app = (*s)->read<std::optional<AppRecord>>([](StoreTx& tx) { return tx.find_app("a"); });
    ASSERT_TRUE(app && *app);
    EXPECT_EQ((*app)->tag, 7u);
  }
}

TEST(SqliteStore, DefaultAccountExists) {
  test::TempDir dir;
  auto s = SqliteStore::open(dir.path());
  ASSERT_TRUE(s);
  EXPECT_TRUE(*(*s)->read<bool>([](StoreTx& tx) { return tx.account_exists("default"); }));
}

TEST(SqliteStore, UsesWalWithFullSync) {
  test::TempDir dir;
  ASSERT_TRUE(SqliteStore::open(dir.path()));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path() / "wiretag.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST(SqliteStore, AFailedTransactionWritesNothing) {
  test::TempDir dir;
  auto s = SqliteStore::open(dir.path());
  ASSERT_TRUE(s);
  auto r = (*s)->write<void>([](StoreTx& tx) -> Result<void> {
    if (auto r = tx.insert_app({"a", "default", 1}); !r) return r;
    if (auto r = tx.append_change({0, "app.created", "default", "a", "{}"}); !r.ok())
      return r.error();
    return Error{"BOOM", "fails after writing"};
  });
  EXPECT_EQ(r.error().code, "BOOM");
  auto app = (*s)->read<std::optional<AppRecord>>([](StoreTx& tx) { return tx.find_app("a"); });
  EXPECT_FALSE(*app);
  EXPECT_EQ(*(*s)->read<int64_t>([](StoreTx& tx) { return tx.revision(); }), 0);
}

TEST(SqliteStore, ReadsDoNotWaitForAWriteAndSeeOnlyCommittedState) {
  test::TempDir dir;
  auto s = SqliteStore::open(dir.path());
  ASSERT_TRUE(s);
  SqliteStore& store = **s;
  auto r = store.write<void>([&](StoreTx& tx) -> Result<void> {
    if (auto r = tx.insert_app({"a", "default", 1}); !r) return r;
    // From another thread while this write is open: neither blocked nor shown the app.
    auto seen = std::async(std::launch::async, [&] {
                  return store.read<std::optional<AppRecord>>(
                      [](StoreTx& rtx) { return rtx.find_app("a"); });
                }).get();
    EXPECT_TRUE(seen);
    EXPECT_FALSE(seen && *seen);
    return Ok();
  });
  ASSERT_TRUE(r);
  auto after = store.read<std::optional<AppRecord>>([](StoreTx& tx) { return tx.find_app("a"); });
  EXPECT_TRUE(after && *after);
}

TEST(SqliteStore, UniqueTagIsEnforced) {
  test::TempDir dir;
  auto s = SqliteStore::open(dir.path());
  ASSERT_TRUE(s);
  ASSERT_TRUE((*s)->write<void>([](StoreTx& tx) { return tx.insert_app({"a", "default", 1}); }));
  auto dup = (*s)->write<void>([](StoreTx& tx) { return tx.insert_app({"b", "default", 1}); });
  EXPECT_FALSE(dup);
}

TEST(SqliteStore, RevisionIsNeverReused) {
  test::TempDir dir;
  auto s = SqliteStore::open(dir.path());
  ASSERT_TRUE(s);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE((*s)->write<int64_t>([](StoreTx& tx) {
      return tx.append_change({0, "k", "default", "x", "{}"});
    }));
  // A rolled-back append does not move the revision.
  (void)(*s)->write<void>([](StoreTx& tx) -> Result<void> {
    (void)tx.append_change({0, "k", "default", "x", "{}"});
    return Error{"ABORT", ""};
  });
  EXPECT_EQ(*(*s)->read<int64_t>([](StoreTx& tx) { return tx.revision(); }), 3);
  auto next = (*s)->write<int64_t>([](StoreTx& tx) {
    return tx.append_change({0, "k", "default", "x", "{}"});
  });
  EXPECT_EQ(*next, 4);
}

}  // namespace
}  // namespace wiretag
