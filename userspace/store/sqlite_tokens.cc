#include "store/sqlite_tokens.h"

namespace wiretag::sqlite_tokens {
namespace {

using sqlite::join;
using sqlite::split;
using sqlite::Stmt;

#define WT_TOKEN_COLUMNS \
  "hash, scopes, accounts, description, id, cell, created_at, expires_at, last_used_at"
#define WT_TRY_STMT(var, sql)           \
  auto var##_r = st.prepare(sql);       \
  if (!var##_r) return var##_r.error(); \
  Stmt& var = var##_r.value()

TokenRecord token_of(Stmt& s) {
  auto optional = [&](int i) { return s.is_null(i) ? std::nullopt : std::optional(s.i64(i)); };
  return TokenRecord{s.text(0), split(s.text(1)), split(s.text(2)), s.text(3),  s.text(4),
                     s.text(5), s.i64(6),         optional(7),      optional(8)};
}

}  // namespace

Result<std::optional<TokenRecord>> find(const sqlite::Statements& st, std::string_view hash) {
  WT_TRY_STMT(s, "SELECT " WT_TOKEN_COLUMNS " FROM tokens WHERE hash = ?");
  auto row = s.bind(hash).step();
  if (!row) return row.error();
  if (!*row) return std::optional<TokenRecord>{};
  return std::optional<TokenRecord>{token_of(s)};
}

Result<void> insert(const sqlite::Statements& st, const TokenRecord& t) {
  WT_TRY_STMT(s, "INSERT INTO tokens (" WT_TOKEN_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  s.bind(t.hash).bind(join(t.scopes)).bind(join(t.accounts)).bind(t.description).bind(t.id);
  s.bind(t.cell).bind(t.created_at ? t.created_at : sqlite::now_seconds());
  for (const std::optional<int64_t>& at : {t.expires_at, t.last_used_at})
    if (at)
      s.bind(*at);
    else
      s.bind_null();
  return s.exec();
}

Result<std::vector<TokenRecord>> list(const sqlite::Statements& st) {
  WT_TRY_STMT(s, "SELECT " WT_TOKEN_COLUMNS " FROM tokens ORDER BY created_at, rowid");
  std::vector<TokenRecord> out;
  for (;;) {
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back(token_of(s));
  }
}

Result<bool> remove(const sqlite::Statements& st, std::string_view id) {
  WT_TRY_STMT(s, "DELETE FROM tokens WHERE id = ?");
  if (auto r = s.bind(id).exec(); !r) return r.error();
  return sqlite3_changes(st.db) > 0;
}

Result<void> set_last_used(const sqlite::Statements& st, std::string_view hash, int64_t at) {
  WT_TRY_STMT(s, "UPDATE tokens SET last_used_at = ? WHERE hash = ?");
  return s.bind(at).bind(hash).exec();
}

}  // namespace wiretag::sqlite_tokens
