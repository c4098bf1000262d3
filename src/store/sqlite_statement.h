// A small RAII layer over sqlite3 prepared statements, so the store binds every value as a
// parameter and never forgets to finalize. Internal to the store module.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace kiln::store_internal {

// An Internal status (Unavailable when the database is busy or locked) naming `what` and the
// connection's last error message.
Status SqliteError(sqlite3* db, int rc, const std::string& what);

// Runs SQL that takes no parameters and returns no rows we need (DDL, BEGIN, COMMIT).
Status ExecSql(sqlite3* db, const char* sql);

class Statement {
 public:
  // Compiles one SQL statement; Internal if it does not compile.
  static Result<Statement> Prepare(sqlite3* db, std::string_view sql);

  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are 1-based, as in sqlite3_bind_*. The text is copied.
  Status BindText(int index, std::string_view value);
  Status BindInt64(int index, int64_t value);
  Status BindOptionalInt64(int index, std::optional<int64_t> value);
  Status BindNull(int index);

  // Advances: true when a row is available, false when the statement is done.
  Result<bool> Step();
  // Steps a statement that must not return rows (INSERT, UPDATE, DELETE).
  Status Run();

  // Column accessors for the current row; columns are 0-based.
  std::string ColumnText(int column) const;
  int64_t ColumnInt64(int column) const;
  std::optional<int64_t> ColumnOptionalInt64(int column) const;

 private:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Status CheckBind(int rc, int index);

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace kiln::store_internal
