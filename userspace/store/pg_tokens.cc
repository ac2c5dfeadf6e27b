#include "store/pg_tokens.h"

#include <nlohmann/json.hpp>

namespace wiretag::pg_tokens {
namespace {

#define WT_TOKEN_COLUMNS \
  "hash, scopes, accounts, description, id, cell, created_at, expires_at, last_used_at"

std::string join(const std::vector<std::string>& v) { return nlohmann::json(v).dump(); }
std::vector<std::string> split(std::string_view s) {
  auto j = nlohmann::json::parse(s, nullptr, false);
  if (!j.is_array()) return {};
  return j.get<std::vector<std::string>>();
}

TokenRecord token_of(const pg::Rows& r, int i) {
  return TokenRecord{r.text(i, 0), split(r.view(i, 1)), split(r.view(i, 2)),
                     r.text(i, 3), r.text(i, 4),        r.text(i, 5),
                     r.i64(i, 6),  r.opt_i64(i, 7),     r.opt_i64(i, 8)};
}

}  // namespace

Result<std::optional<TokenRecord>> find(pg::Connection& c, std::string_view hash) {
  WT_TRY(rows, c.run("SELECT " WT_TOKEN_COLUMNS " FROM tokens WHERE hash = $1", {hash}));
  if (rows->empty()) return std::optional<TokenRecord>{};
  return std::optional<TokenRecord>{token_of(*rows, 0)};
}

Result<void> insert(pg::Connection& c, const TokenRecord& t) {
  WT_TRY(rows, c.run("INSERT INTO tokens (" WT_TOKEN_COLUMNS
                     ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                     {t.hash, join(t.scopes), join(t.accounts), t.description, t.id, t.cell,
                      t.created_at ? t.created_at : pg::now_seconds(), pg::opt(t.expires_at),
                      pg::opt(t.last_used_at)}));
  return Ok();
}

Result<std::vector<TokenRecord>> list(pg::Connection& c) {
  WT_TRY(rows, c.run("SELECT " WT_TOKEN_COLUMNS " FROM tokens ORDER BY created_at, seq"));
  std::vector<TokenRecord> out;
  for (int i = 0; i < rows->size(); ++i) out.push_back(token_of(*rows, i));
  return out;
}

Result<bool> remove(pg::Connection& c, std::string_view id) {
  WT_TRY(rows, c.run("DELETE FROM tokens WHERE id = $1", {id}));
  return rows->affected() > 0;
}

Result<void> set_last_used(pg::Connection& c, std::string_view hash, int64_t at) {
  WT_TRY(rows, c.run("UPDATE tokens SET last_used_at = $1 WHERE hash = $2", {at, hash}));
  return Ok();
}

}  // namespace wiretag::pg_tokens
