// The PostgreSQL store's connection helpers, shared by its files (pg_store.cc, pg_tokens.cc,
// pg_lifecycle.cc): one libpq connection that runs parameterized statements (prepared once
// per connection, text parameters and results), and the rows they return.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wiretag/result.h"

namespace wiretag::pg {

inline int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One statement parameter as text; nullopt is SQL NULL.
struct Param {
  std::optional<std::string> text;
  Param(std::string_view s) : text(std::string(s)) {}
  Param(const std::string& s) : text(s) {}
  Param(const char* s) : text(std::string(s)) {}
  Param(int64_t v) : text(std::to_string(v)) {}
  Param(std::nullopt_t) {}
};
inline Param opt(const std::optional<std::string>& v) {
  return v ? Param(*v) : Param(std::nullopt);
}
inline Param opt(const std::optional<int64_t>& v) { return v ? Param(*v) : Param(std::nullopt); }

// The rows of one statement (or none, for a command), with how many rows it changed.
class Rows {
 public:
  explicit Rows(PGresult* r) : r_(r, PQclear) {}
  int size() const { return PQntuples(r_.get()); }
  bool empty() const { return size() == 0; }
  bool is_null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string_view view(int row, int col) const {
    return {PQgetvalue(r_.get(), row, col), static_cast<size_t>(PQgetlength(r_.get(), row, col))};
  }
  std::string text(int row, int col) const { return std::string(view(row, col)); }
  int64_t i64(int row, int col) const {
    return is_null(row, col) ? 0 : std::strtoll(PQgetvalue(r_.get(), row, col), nullptr, 10);
  }
  std::optional<int64_t> opt_i64(int row, int col) const {
    return is_null(row, col) ? std::nullopt : std::optional<int64_t>(i64(row, col));
  }
  // Rows inserted, updated or deleted.
  int64_t affected() const { return std::strtoll(PQcmdTuples(r_.get()), nullptr, 10); }
  const PGresult* raw() const { return r_.get(); }

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> r_;
};

class Connection {
 public:
  // Connects; the error names the URL without its password.
  static Result<std::unique_ptr<Connection>> open(const std::string& url);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // A statement with $1.. parameters, prepared at its first use on this connection.
  Result<Rows> run(std::string_view sql, std::initializer_list<Param> params = {});
  Result<Rows> run(std::string_view sql, const std::vector<Param>& params);
  // Statements without parameters, several separated by ';' (migrations, BEGIN, COMMIT).
  Result<void> exec(const std::string& sql);

  // Whether the connection still works; if not, reconnects (prepared statements are gone).
  bool ensure_connected();
  bool in_failed_transaction() const { return PQtransactionStatus(conn_) == PQTRANS_INERROR; }
  bool in_transaction() const {
    const auto s = PQtransactionStatus(conn_);
    return s == PQTRANS_INTRANS || s == PQTRANS_INERROR;
  }
  PGconn* raw() { return conn_; }

 private:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  Result<Rows> run_params(std::string_view sql, const Param* params, size_t n);
  PGconn* conn_;
  std::map<std::string, std::string, std::less<>> prepared_;  // sql → statement name
};

// The URL as it may be logged: any password replaced by "***".
std::string redacted(std::string_view url);

}  // namespace wiretag::pg
