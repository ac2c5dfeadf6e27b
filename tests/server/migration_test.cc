// Schema migrations: an older database is upgraded in place with its data, a failing
// migration leaves the database as it was, and concurrent opens of a new data dir apply
// each migration once.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/acting_principal.h"
#include "store/sqlite_store.h"
#include "temp_dir.h"

namespace wiretag {
namespace {

// Runs SQL on the database file directly, as an older release or an operator would have.
void exec_sql(const std::filesystem::path& dir, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "wiretag.db").c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

bool table_exists(const std::filesystem::path& dir, const std::string& table) {
  sqlite3* db = nullptr;
  sqlite3_open((dir / "wiretag.db").c_str(), &db);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", -1, &st,
                     nullptr);
  sqlite3_bind_text(st, 1, table.c_str(), -1, SQLITE_TRANSIENT);
  bool found = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  sqlite3_close(db);
  return found;
}

// The schema version a new data dir gets: the last migration.
int64_t latest_version() {
  test::TempDir fresh;
  auto s = SqliteStore::open(fresh.path());
  return s ? *(*s)->schema_version() : -1;
}

constexpr std::string_view kOldTokenHash =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

// The change log as migration 1 made it (migration 6 added its principal).
constexpr std::string_view kVersion1Changes =
    "DROP TABLE changes; CREATE TABLE changes (revision INTEGER PRIMARY KEY AUTOINCREMENT, kind "
    "TEXT NOT NULL, account TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL, at INTEGER "
    "NOT NULL); ";

// A database as release 1 left it: only migration 1's tables and indexes, with an app and a
// token in it. Made from a current one by dropping what later migrations added, and by
// rebuilding the version-1 tables later migrations altered (tokens in 4, changes in 6).
void make_version_1_database(const std::filesystem::path& dir) {
  {
    auto s = SqliteStore::open(dir);
    ASSERT_TRUE(s) << s.error().message;
    ASSERT_TRUE((*s)->write<void>([](StoreTx& tx) {
      return tx.insert_app({"old", "default", 9});
    }));
  }
  const std::set<std::string> version_1 = {"accounts",
                                           "meta",
                                           "apps",
                                           "tags",
                                           "edges",
                                           "changes",
                                           "tokens",
                                           "schema_migrations",
                                           "sqlite_sequence",
                                           "apps_by_account",
                                           "tags_released",
                                           "edges_by_source"};
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "wiretag.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'index')",
                     -1, &st, nullptr);
  std::string drops;
  while (sqlite3_step(st) == SQLITE_ROW) {
    std::string type = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    std::string name = reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
    if (version_1.count(name) || name.rfind("sqlite_autoindex_", 0) == 0) continue;
    drops += "DROP " + type + " IF EXISTS \"" + name + "\"; ";
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  exec_sql(dir,
           drops + std::string(kVersion1Changes) +
               "DROP TABLE tokens; CREATE TABLE tokens (hash TEXT PRIMARY KEY, scopes TEXT NOT "
               "NULL, accounts TEXT NOT NULL, description TEXT NOT NULL, created_at INTEGER "
               "NOT NULL); INSERT INTO tokens VALUES ('" +
               std::string(kOldTokenHash) +
               "', '[\"cell\"]', '[]', 'a cell token of release 1', 1700000000); "
               "DELETE FROM schema_migrations WHERE version > 1;");
}

TEST(Migrations, AVersion1DatabaseIsUpgradedInPlaceAndKeepsItsData) {
  test::TempDir dir;
  make_version_1_database(dir.path());
  ASSERT_FALSE(table_exists(dir.path(), "policies"));
  const int64_t latest = latest_version();
  ASSERT_GE(latest, 2);
  for (int i = 0; i < 2; ++i) {  // the upgrade, then a re-run that applies nothing
    auto s = SqliteStore::open(dir.path());
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_EQ(*(*s)->schema_version(), latest);
    auto app = (*s)->read<std::optional<AppRecord>>([](StoreTx& tx) { return tx.find_app("old"); });
    ASSERT_TRUE(app && *app);
    EXPECT_EQ((*app)->tag, 9u);
    if (i == 0) {
      ASSERT_TRUE((*s)->write<void>([](StoreTx& tx) {
        return tx.put_policy({"p-1", "default", std::nullopt, "web", 1, R"({"rules":[]})"});
      }));
    }
    auto policies = (*s)->read<std::vector<PolicyRecord>>(
        [](StoreTx& tx) { return tx.list_policies("default"); });
    ASSERT_TRUE(policies);
    EXPECT_EQ(policies->size(), 1u);
  }
}

TEST(Migrations, TokensOfAnOlderDatabaseGetAnIdAndNoCell) {
  test::TempDir dir;
  make_version_1_database(dir.path());
  auto s = SqliteStore::open(dir.path());
  ASSERT_TRUE(s) << s.error().message;
  auto tokens = (*s)->read<std::vector<TokenRecord>>([](StoreTx& tx) { return tx.list_tokens(); });
  ASSERT_TRUE(tokens) << tokens.error().message;
  ASSERT_EQ(tokens->size(), 1u);
  const TokenRecord& t = tokens->front();
  EXPECT_EQ(t.hash, kOldTokenHash);
  EXPECT_EQ(t.id, kOldTokenHash.substr(0, 16));
  EXPECT_EQ(t.scopes, std::vector<std::string>{"cell"});
  EXPECT_EQ(t.cell, "");  // bound to no cell: it may not act as any (CELL_MISMATCH)
  EXPECT_EQ(t.created_at, 1700000000);
  EXPECT_FALSE(t.expires_at);
  EXPECT_FALSE(t.last_used_at);
  ASSERT_TRUE((*s)->write<void>(
      [](StoreTx& tx) { return tx.set_token_last_used(kOldTokenHash, 1700000100); }));
  auto found = (*s)->read<std::optional<TokenRecord>>(
      [](StoreTx& tx) { return tx.find_token(kOldTokenHash); });
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->last_used_at, 1700000100);
  auto deleted =
      (*s)->write<bool>([&](StoreTx& tx) { return tx.delete_token(kOldTokenHash.substr(0, 16)); });
  ASSERT_TRUE(deleted);
  EXPECT_TRUE(*deleted);
  EXPECT_EQ(*(*s)->read<int64_t>([](StoreTx& tx) { return tx.count_tokens(); }), 0);
}

// Migration 6 on a store of the schema before it: the change log gains its principal, the
// changes already logged keep theirs as they were (no one named) and are still read, and a
// write queued while acting for someone records whom.
TEST(Migrations, Migration6AddsThePrincipalToAnOlderChangeLog) {
  test::TempDir dir;
  {
    auto s = SqliteStore::open(dir.path());
    ASSERT_TRUE(s) << s.error().message;
  }
  exec_sql(dir.path(), std::string(kVersion1Changes) +
                           "INSERT INTO changes (kind, account, subject, body, at) VALUES "
                           "('app.created', 'default', 'old', '{}', 1700000000); "
                           "DROP TABLE cells; "  // migration 7's, applied again
                           "DELETE FROM schema_migrations WHERE version >= 6;");
  auto s = SqliteStore::open(dir.path());
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(*(*s)->schema_version(), latest_version());
  {
    ActingPrincipal acting(std::make_shared<const std::string>("token:0123456789abcdef"));
    ASSERT_TRUE((*s)->write<int64_t>([](StoreTx& tx) {
      return tx.append_change({0, "app.created", "default", "new", "{}"});
    }));
  }
  auto changes =
      (*s)->read<std::vector<ChangeRecord>>([](StoreTx& tx) { return tx.changes_since(0, 10); });
  ASSERT_TRUE(changes) << changes.error().message;
  ASSERT_EQ(changes->size(), 2u);
  EXPECT_EQ((*changes)[0].subject, "old");
  EXPECT_EQ((*changes)[0].principal, "");
  EXPECT_EQ((*changes)[1].subject, "new");
  EXPECT_EQ((*changes)[1].principal, "token:0123456789abcdef");
}

TEST(Migrations, AFailingMigrationLeavesTheDatabaseAsItWas) {
  test::TempDir dir;
  make_version_1_database(dir.path());
  // Something in the way of migration 2: its first CREATE TABLE succeeds, a later one fails.
  exec_sql(dir.path(), "CREATE TABLE policy_versions (x INTEGER);");
  auto s = SqliteStore::open(dir.path());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("migration 2"), std::string::npos) << s.error().message;
  // Nothing of migration 2 stayed behind, and version 1's data is intact.
  EXPECT_FALSE(table_exists(dir.path(), "policies"));
  exec_sql(dir.path(), "DROP TABLE policy_versions;");
  auto again = SqliteStore::open(dir.path());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*(*again)->schema_version(), latest_version());
  auto app =
      (*again)->read<std::optional<AppRecord>>([](StoreTx& tx) { return tx.find_app("old"); });
  ASSERT_TRUE(app && *app);
}

TEST(Migrations, ConcurrentOpensOfANewDataDirApplyEachMigrationOnce) {
  test::TempDir dir;
  constexpr int kOpeners = 4;
  std::vector<std::string> errors(kOpeners);
  std::vector<std::unique_ptr<SqliteStore>> stores(kOpeners);
  std::vector<std::thread> threads;
  for (int i = 0; i < kOpeners; ++i)
    threads.emplace_back([&, i] {
      auto s = SqliteStore::open(dir.path());
      if (s)
        stores[i] = std::move(*s);
      else
        errors[i] = s.error().message;
    });
  for (auto& t : threads) t.join();
  const int64_t latest = latest_version();
  for (int i = 0; i < kOpeners; ++i) {
    ASSERT_TRUE(stores[i]) << errors[i];
    EXPECT_EQ(*stores[i]->schema_version(), latest);
  }
  auto count = stores[0]->read<int64_t>([](StoreTx& tx) -> Result<int64_t> {
    auto apps = tx.list_apps(std::nullopt);
    if (!apps) return apps.error();
    return static_cast<int64_t>(apps->size());
  });
  ASSERT_TRUE(count);
  EXPECT_EQ(*count, 0);
  EXPECT_TRUE(*stores[0]->read<bool>([](StoreTx& tx) { return tx.account_exists("default"); }));
}

}  // namespace
}  // namespace wiretag
