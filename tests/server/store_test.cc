// The stores (SQLite and PostgreSQL, parameterized): migrations, durability across reopen,
// atomic transactions, group commit. SQLite-only: file modes and WAL.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "store/sqlite_store.h"
#include "store_backends.h"
#include "temp_dir.h"

namespace wiretag {
namespace {

using test::Backend;
using test::StoreLocation;

class Stores : public ::testing::TestWithParam<Backend> {
 protected:
  std::unique_ptr<Store> open() {
    auto s = location_.open();
    EXPECT_TRUE(s) << s.error().code << ": " << s.error().message;
    return s ? std::move(*s) : nullptr;
  }
  test::TempDir dir_;
  StoreLocation location_{GetParam(), dir_.path()};
};

INSTANTIATE_TEST_SUITE_P(Backends, Stores, test::kBackends, test::backend_name);

TEST_P(Stores, MigrationsRerunCleanlyAndKeepData) {
  {
    auto s = open();
    ASSERT_TRUE(s);
    EXPECT_EQ(*StoreLocation::schema_version(*s), 6);  // 6: who made each change
    ASSERT_TRUE(s->write<void>([](StoreTx& tx) { return tx.insert_app({"a", "default", 7}); }));
  }
  for (int i = 0; i < 3; ++i) {
    auto s = open();
    ASSERT_TRUE(s);
    EXPECT_EQ(*StoreLocation::schema_version(*s), 6);  // 6: who made each change
    auto app = s->read<std::optional<AppRecord>>([](StoreTx& tx) { return tx.find_app("a"); });
    ASSERT_TRUE(app && *app);
    EXPECT_EQ((*app)->tag, 7u);
  }
}

mode_t mode_of(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

// Issue 14 item 11: the data dir and the database files are the service user's only.
TEST(SqliteStore, DataDirIs0700AndDatabaseFiles0600) {
  test::TempDir dir;
  const auto data = dir.path() / "data";
  const mode_t old_umask = ::umask(022);
  {
    auto s = SqliteStore::open(data);
    ASSERT_TRUE(s) << s.error().message;
    ASSERT_TRUE((*s)->write<void>([](StoreTx& tx) { return tx.insert_app({"a", "default", 7}); }));
    EXPECT_EQ(mode_of(data), 0700u);
    for (const char* f : {"wiretag.db", "wiretag.db-wal", "wiretag.db-shm"})
      EXPECT_EQ(mode_of(data / f), 0600u) << f;
  }
  // A data dir made before (0755, files 0644) is tightened when the store opens it.
  ASSERT_EQ(::chmod(data.c_str(), 0755), 0);
  ASSERT_EQ(::chmod((data / "wiretag.db").c_str(), 0644), 0);
  {
    std::ofstream((data / "wiretag.db-wal").string(), std::ios::app);
    ASSERT_EQ(::chmod((data / "wiretag.db-wal").c_str(), 0644), 0);
  }
  {
    auto s = SqliteStore::open(data);
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_EQ(mode_of(data), 0700u);
    for (const char* f : {"wiretag.db", "wiretag.db-wal", "wiretag.db-shm"})
      EXPECT_EQ(mode_of(data / f), 0600u) << f;
  }
  ::umask(old_umask);
}

TEST_P(Stores, DefaultAccountExists) {
  auto s = open();
  ASSERT_TRUE(s);
  EXPECT_TRUE(*s->read<bool>([](StoreTx& tx) { return tx.account_exists("default"); }));
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

TEST_P(Stores, AFailedTransactionWritesNothing) {
  auto s = open();
  ASSERT_TRUE(s);
  auto r = s->write<void>([](StoreTx& tx) -> Result<void> {
    if (auto r = tx.insert_app({"a", "default", 1}); !r) return r;
    if (auto r = tx.append_change({0, "app.created", "default", "a", "{}"}); !r.ok())
      return r.error();
    return Error{"BOOM", "fails after writing"};
  });
  EXPECT_EQ(r.error().code, "BOOM");
  auto app = s->read<std::optional<AppRecord>>([](StoreTx& tx) { return tx.find_app("a"); });
  EXPECT_FALSE(*app);
  EXPECT_EQ(*s->read<int64_t>([](StoreTx& tx) { return tx.revision(); }), 0);
}

TEST_P(Stores, ReadsDoNotWaitForAWriteAndSeeOnlyCommittedState) {
  auto s = open();
  ASSERT_TRUE(s);
  Store& store = *s;
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

TEST_P(Stores, UniqueTagIsEnforced) {
  auto s = open();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->write<void>([](StoreTx& tx) { return tx.insert_app({"a", "default", 1}); }));
  auto dup = s->write<void>([](StoreTx& tx) { return tx.insert_app({"b", "default", 1}); });
  EXPECT_FALSE(dup);
}

TEST_P(Stores, RevisionIsNeverReused) {
  auto s = open();
  ASSERT_TRUE(s);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(s->write<int64_t>([](StoreTx& tx) {
      return tx.append_change({0, "k", "default", "x", "{}"});
    }));
  // A rolled-back append does not move the revision.
  (void)s->write<void>([](StoreTx& tx) -> Result<void> {
    (void)tx.append_change({0, "k", "default", "x", "{}"});
    return Error{"ABORT", ""};
  });
  EXPECT_EQ(*s->read<int64_t>([](StoreTx& tx) { return tx.revision(); }), 3);
  auto next = s->write<int64_t>([](StoreTx& tx) {
    return tx.append_change({0, "k", "default", "x", "{}"});
  });
  EXPECT_EQ(*next, 4);
}

// Group commit: writes queued while one commits run together, each in its own savepoint.
TEST_P(Stores, ConcurrentWritersWhereSomeFailLeaveExactlyTheSuccessfulOnes) {
  auto s = open();
  ASSERT_TRUE(s);
  Store& store = *s;
  std::atomic<int64_t> observed{0};
  store.add_commit_observer([&](int64_t rev) { observed = rev; });

  // The first write holds the committer until the others are queued behind it.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<Result<void>> first;
  store.transact_async(
      [released](StoreTx& tx) -> Result<void> {
        released.wait();
        if (auto r = tx.insert_app({"first", "default", 1000}); !r) return r;
        auto rev = tx.append_change({0, "app.created", "default", "first", "{}"});
        if (!rev) return rev.error();
        return Ok();
      },
      [&](Result<void> r) { first.set_value(std::move(r)); });

  constexpr int kWriters = 40;
  std::vector<std::promise<Result<void>>> answers(kWriters);
  std::vector<int64_t> observed_at_answer(kWriters, -1);
  for (int i = 0; i < kWriters; ++i) {
    const std::string guid = "app-" + std::to_string(i);
    const bool fails = i % 3 == 1;
    // Writer 5 reuses writer 2's tag: UNIQUE fails in the statement, not in the function.
    const uint32_t tag = i == 5 ? 2 : static_cast<uint32_t>(i);
    store.transact_async(
        [guid, fails, tag](StoreTx& tx) -> Result<void> {
          if (auto r = tx.insert_app({guid, "default", tag}); !r) return r;
          auto rev = tx.append_change({0, "app.created", "default", guid, "{}"});
          if (!rev) return rev.error();
          if (fails) return Error{"BOOM", guid};
          return Ok();
        },
        [&, i](Result<void> r) {
          observed_at_answer[i] = observed;
          answers[i].set_value(std::move(r));
        });
  }
  release.set_value();
  ASSERT_TRUE(first.get_future().get());

  std::vector<std::string> expected = {"first"};
  for (int i = 0; i < kWriters; ++i) {
    Result<void> r = answers[i].get_future().get();
    const bool should_fail = i % 3 == 1 || i == 5;
    EXPECT_EQ(r.ok(), !should_fail) << i;
    if (!r.ok() && i % 3 == 1) {
      EXPECT_EQ(r.error().code, "BOOM");
    }
    if (!should_fail) expected.push_back("app-" + std::to_string(i));
    // Answered only after the commit observers heard of the commit.
    if (r.ok()) {
      EXPECT_GT(observed_at_answer[i], 0) << i;
    }
  }
  auto apps = store.read<std::vector<AppRecord>>([](StoreTx& tx) { return tx.list_apps({}); });
  ASSERT_TRUE(apps);
  std::vector<std::string> have;
  for (const AppRecord& a : *apps) have.push_back(a.guid);
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(have, expected);

  // The change log holds exactly the successful writes' changes, revisions strictly increasing.
  auto changes =
      store.read<std::vector<ChangeRecord>>([](StoreTx& tx) { return tx.changes_since(0, 1000); });
  ASSERT_TRUE(changes);
  std::vector<std::string> subjects;
  int64_t last = 0;
  for (const ChangeRecord& c : *changes) {
    EXPECT_GT(c.revision, last);
    last = c.revision;
    subjects.push_back(c.subject);
  }
  std::sort(subjects.begin(), subjects.end());
  EXPECT_EQ(subjects, expected);
  EXPECT_EQ(observed.load(), last);
  EXPECT_EQ(*store.read<int64_t>([](StoreTx& tx) { return tx.revision(); }), last);
}

TEST_P(Stores, SynchronousWritesFromManyThreadsAllCommit) {
  auto s = open();
  ASSERT_TRUE(s);
  Store& store = *s;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        auto rev = store.write<int64_t>([&](StoreTx& tx) {
          return tx.append_change({0, "k", "default", std::to_string(t), "{}"});
        });
        if (rev) ++ok;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 200);
  EXPECT_EQ(*store.read<int64_t>([](StoreTx& tx) { return tx.revision(); }), 200);
}

}  // namespace
}  // namespace wiretag
