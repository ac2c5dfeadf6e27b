#include "store/pg_cells.h"

#include <mutex>

#include "store/pg_connection.h"

namespace wiretag {
namespace {

class PgCells : public CellsPort {
 public:
  explicit PgCells(std::unique_ptr<pg::Connection> c) : c_(std::move(c)) {}

  Result<void> upsert_cell_report(const CellRecord& c) override {
    WT_TRY(rows, run("INSERT INTO cells (name, report, heartbeat_interval_ms, last_heartbeat_ms) "
                     "VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET "
                     "report = excluded.report, "
                     "heartbeat_interval_ms = excluded.heartbeat_interval_ms, "
                     "last_heartbeat_ms = excluded.last_heartbeat_ms",
                     {c.name, c.report, c.heartbeat_interval_ms, c.last_heartbeat_ms}));
    return Ok();
  }

  Result<std::vector<CellRecord>> cells() override {
    WT_TRY(rows, run("SELECT name, report, heartbeat_interval_ms, last_heartbeat_ms FROM cells "
                     "ORDER BY name",
                     {}));
    std::vector<CellRecord> out;
    out.reserve(rows->size());
    for (int i = 0; i < rows->size(); ++i)
      out.push_back(
          CellRecord{rows->text(i, 0), rows->text(i, 1), rows->i64(i, 2), rows->i64(i, 3)});
    return out;
  }

  Result<int64_t> forget_cells(int64_t now_ms, int64_t retention_ms) override {
    WT_TRY(rows, run("DELETE FROM cells WHERE last_heartbeat_ms + 3 * heartbeat_interval_ms + $1 "
                     "< $2",
                     {retention_ms, now_ms}));
    return rows->affected();
  }

 private:
  // One statement; once more on a fresh connection when the database connection broke
  // meanwhile (every statement here may safely run twice).
  Result<pg::Rows> run(std::string_view sql, std::initializer_list<pg::Param> params) {
    std::lock_guard lock(mutex_);
    auto rows = c_->run(sql, params);
    if (rows || PQstatus(c_->raw()) == CONNECTION_OK || !c_->ensure_connected()) return rows;
    return c_->run(sql, params);
  }

  std::mutex mutex_;
  std::unique_ptr<pg::Connection> c_;
};

}  // namespace

Result<std::unique_ptr<CellsPort>> open_pg_cells(const std::string& url) {
  auto c = pg::Connection::open(url);
  if (!c) return c.error();
  return std::unique_ptr<CellsPort>(new PgCells(std::move(*c)));
}

}  // namespace wiretag
