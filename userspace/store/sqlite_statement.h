// The SQLite store's statement helpers, shared by its files (sqlite_store.cc, sqlite_tokens.cc):
// a prepared statement bound for one execution, and the small encodings the tables use.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wiretag/result.h"

namespace wiretag::sqlite {

inline int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline std::string join(const std::vector<std::string>& v) { return nlohmann::json(v).dump(); }
inline std::vector<std::string> split(const std::string& s) {
  auto j = nlohmann::json::parse(s, nullptr, false);
  if (!j.is_array()) return {};
  return j.get<std::vector<std::string>>();
}

// A prepared statement bound for one execution; reset on destruction.
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  Stmt(Stmt&& o) noexcept : db_(o.db_), s_(std::exchange(o.s_, nullptr)), n_(o.n_) {}
  Stmt(const Stmt&) = delete;
  ~Stmt() {
    if (s_) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
  }
  Stmt& bind(std::string_view v) {
    sqlite3_bind_text(s_, ++n_, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int64_t v) {
    sqlite3_bind_int64(s_, ++n_, v);
    return *this;
  }
  Stmt& bind_null() {
    sqlite3_bind_null(s_, ++n_);
    return *this;
  }
  // SQLITE_ROW → true, SQLITE_DONE → false.
  Result<bool> step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return Error{"STORE_ERROR", std::string("sqlite: ") + sqlite3_errmsg(db_)};
  }
  Result<void> exec() {
    auto r = step();
    if (!r) return r.error();
    return Ok();
  }
  std::string text(int i) {
    auto p = sqlite3_column_text(s_, i);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(s_, i)) : "";
  }
  bool is_null(int i) { return sqlite3_column_type(s_, i) == SQLITE_NULL; }
  int64_t i64(int i) { return sqlite3_column_int64(s_, i); }
  sqlite3_stmt* raw() { return s_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_;
  int n_ = 0;
};

inline Error sqlite_error(sqlite3* db, const std::string& what) {
  return Error{"STORE_ERROR", what + ": " + sqlite3_errmsg(db)};
}

// A connection's statements, for code outside the connection: its handle, and `prepare`
// (cached prepared statements of that connection).
struct Statements {
  sqlite3* db;
  std::function<Result<Stmt>(std::string_view sql)> prepare;
};

}  // namespace wiretag::sqlite
