#include "store/pg_connection.h"

#include <regex>

namespace wiretag::pg {
namespace {

Error pg_error(PGconn* conn, std::string_view what, const PGresult* r = nullptr) {
  std::string msg = r ? PQresultErrorMessage(r) : "";
  if (msg.empty()) msg = PQerrorMessage(conn);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return Error{"STORE_ERROR", "postgresql: " + std::string(what) + ": " + msg};
}

bool succeeded(const PGresult* r) {
  const auto status = PQresultStatus(r);
  return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

}  // namespace

std::string redacted(std::string_view url) {
  // postgresql://user:password@host → postgresql://user:***@host; password=... likewise.
  std::string out =
      std::regex_replace(std::string(url), std::regex(R"(://([^:/@]*):[^@/]*@)"), "://$1:***@");
  return std::regex_replace(out, std::regex(R"(password=[^&\s]*)"), "password=***");
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& url) {
  PGconn* conn = PQconnectdb(url.c_str());
  if (!conn) return Error{"DB_UNREACHABLE", "postgresql: out of memory"};
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    PQfinish(conn);
    return Error{"DB_UNREACHABLE", "cannot connect to " + redacted(url) + ": " + msg};
  }
  auto c = std::unique_ptr<Connection>(new Connection(conn));
  // Notices (e.g. "relation already exists, skipping") are not the log's business.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  if (auto r = c->exec("SET client_min_messages = warning"); !r) return r.error();
  return c;
}

Connection::~Connection() { PQfinish(conn_); }

bool Connection::ensure_connected() {
  if (PQstatus(conn_) == CONNECTION_OK) return true;
  prepared_.clear();
  PQreset(conn_);
  return PQstatus(conn_) == CONNECTION_OK;
}

Result<Rows> Connection::run(std::string_view sql, std::initializer_list<Param> params) {
  return run_params(sql, params.begin(), params.size());
}
Result<Rows> Connection::run(std::string_view sql, const std::vector<Param>& params) {
  return run_params(sql, params.data(), params.size());
}

Result<Rows> Connection::run_params(std::string_view sql, const Param* params, size_t n) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    const std::string name = "s" + std::to_string(prepared_.size());
    Rows prepared(PQprepare(conn_, name.c_str(), std::string(sql).c_str(), 0, nullptr));
    if (!succeeded(prepared.raw())) return pg_error(conn_, "prepare", prepared.raw());
    it = prepared_.emplace(std::string(sql), name).first;
  }
  std::vector<const char*> values(n);
  for (size_t i = 0; i < n; ++i) values[i] = params[i].text ? params[i].text->c_str() : nullptr;
  Rows rows(PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(n), values.data(), nullptr,
                           nullptr, 0));
  if (!succeeded(rows.raw())) return pg_error(conn_, "query", rows.raw());
  return rows;
}

Result<void> Connection::exec(const std::string& sql) {
  // PQexec stops at the first failing statement and returns its result.
  Rows rows(PQexec(conn_, sql.c_str()));
  if (!succeeded(rows.raw())) return pg_error(conn_, "exec", rows.raw());
  return Ok();
}

}  // namespace wiretag::pg
