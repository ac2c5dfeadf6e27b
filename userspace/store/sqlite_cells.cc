#include "store/sqlite_cells.h"

#include <sqlite3.h>

#include <mutex>

#include "store/sqlite_statement.h"

namespace wiretag {
namespace {

class SqliteCells : public CellsPort {
 public:
  ~SqliteCells() override {
    for (sqlite3_stmt* s : {upsert_, list_, forget_}) sqlite3_finalize(s);
    sqlite3_close(db_);
  }

  static Result<std::unique_ptr<CellsPort>> open(const std::filesystem::path& data_dir) {
    auto cells = std::unique_ptr<SqliteCells>(new SqliteCells());
    const std::string file = (data_dir / "wiretag.db").string();
    // No SQLITE_OPEN_CREATE: the Store made (and migrated) the file.
    if (sqlite3_open_v2(file.c_str(), &cells->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK)
      return sqlite::sqlite_error(cells->db_, "open " + file);
    sqlite3_busy_timeout(cells->db_, 5000);
    if (sqlite3_exec(cells->db_, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr) !=
        SQLITE_OK)
      return sqlite::sqlite_error(cells->db_, "cells");
    const std::pair<sqlite3_stmt**, const char*> statements[] = {
        {&cells->upsert_,
         "INSERT INTO cells (name, report, heartbeat_interval_ms, last_heartbeat_ms) "
         "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET report = excluded.report, "
         "heartbeat_interval_ms = excluded.heartbeat_interval_ms, "
         "last_heartbeat_ms = excluded.last_heartbeat_ms"},
        {&cells->list_,
         "SELECT name, report, heartbeat_interval_ms, last_heartbeat_ms FROM cells ORDER BY name"},
        {&cells->forget_,
         "DELETE FROM cells WHERE last_heartbeat_ms + 3 * heartbeat_interval_ms + ? < ?"},
    };
    for (auto [stmt, sql] : statements)
      if (sqlite3_prepare_v2(cells->db_, sql, -1, stmt, nullptr) != SQLITE_OK)
        return sqlite::sqlite_error(cells->db_, "cells");
    return std::unique_ptr<CellsPort>(std::move(cells));
  }

  Result<void> upsert_cell_report(const CellRecord& c) override {
    std::lock_guard lock(mutex_);
    sqlite::Stmt s(db_, upsert_);
    s.bind(c.name).bind(c.report).bind(c.heartbeat_interval_ms).bind(c.last_heartbeat_ms);
    return s.exec();
  }

  Result<std::vector<CellRecord>> cells() override {
    std::lock_guard lock(mutex_);
    sqlite::Stmt s(db_, list_);
    std::vector<CellRecord> out;
    for (;;) {
      auto row = s.step();
      if (!row) return row.error();
      if (!*row) return out;
      out.push_back(CellRecord{s.text(0), s.text(1), s.i64(2), s.i64(3)});
    }
  }

  Result<int64_t> forget_cells(int64_t now_ms, int64_t retention_ms) override {
    std::lock_guard lock(mutex_);
    sqlite::Stmt s(db_, forget_);
    if (auto r = s.bind(retention_ms).bind(now_ms).exec(); !r) return r.error();
    return int64_t{sqlite3_changes(db_)};
  }

 private:
  SqliteCells() = default;
  std::mutex mutex_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* upsert_ = nullptr;
  sqlite3_stmt* list_ = nullptr;
  sqlite3_stmt* forget_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<CellsPort>> open_sqlite_cells(const std::filesystem::path& data_dir) {
  return SqliteCells::open(data_dir);
}

}  // namespace wiretag
