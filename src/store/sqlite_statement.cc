#include "store/sqlite_statement.h"

#include <sqlite3.h>

#include <utility>

namespace kiln::store_internal {

Status SqliteError(sqlite3* db, int rc, const std::string& what) {
  std::string message = what + ": " + sqlite3_errstr(rc);
  if (db != nullptr) message += " (" + std::string(sqlite3_errmsg(db)) + ")";
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return Status::Unavailable(message);
  return Status::Internal(message);
}

Status ExecSql(sqlite3* db, const char* sql) {
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string detail = error != nullptr ? error : "";
    sqlite3_free(error);
    return SqliteError(db, rc, std::string("executing \"") + sql + "\": " + detail);
  }
  return Status::Ok();
}

Result<Statement> Statement::Prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return SqliteError(db, rc, "preparing statement");
  }
  return Statement(db, stmt);
}

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Status Statement::CheckBind(int rc, int index) {
  if (rc == SQLITE_OK) return Status::Ok();
  return SqliteError(db_, rc, "binding parameter " + std::to_string(index));
}

Status Statement::BindText(int index, std::string_view value) {
  return CheckBind(
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      index);
}

Status Statement::BindInt64(int index, int64_t value) {
  return CheckBind(sqlite3_bind_int64(stmt_, index, value), index);
}

Status Statement::BindOptionalInt64(int index, std::optional<int64_t> value) {
  return value.has_value() ? BindInt64(index, *value) : BindNull(index);
}

Status Statement::BindNull(int index) { return CheckBind(sqlite3_bind_null(stmt_, index), index); }

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(db_, rc, "executing statement");
}

Status Statement::Run() {
  ASSIGN_OR_RETURN(bool row, Step());
  if (row) return Status::Internal("statement unexpectedly returned a row");
  return Status::Ok();
}

std::string Statement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return "";
  int size = sqlite3_column_bytes(stmt_, column);
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

int64_t Statement::ColumnInt64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::optional<int64_t> Statement::ColumnOptionalInt64(int column) const {
  if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int64(stmt_, column);
}

}  // namespace kiln::store_internal
