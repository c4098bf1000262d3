// A small SQLite layer for the embedded S3 store's index: one connection whose prepared statements
// are compiled once and cached, statements that reset themselves when a use ends, and a
// transaction guard that rolls back unless committed. Not thread-safe: the owner serialises use.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace kiln::storage_internal {

// One use of a cached prepared statement. Binds are 1-based, columns 0-based. Destroying it resets
// the statement and clears its bindings, so the next use starts fresh.
class SqlQuery {
 public:
  SqlQuery(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  SqlQuery(SqlQuery&& other) noexcept;
  SqlQuery(const SqlQuery&) = delete;
  SqlQuery& operator=(const SqlQuery&) = delete;
  SqlQuery& operator=(SqlQuery&&) = delete;
  ~SqlQuery();

  // Values are copied by SQLite. Keys are bound as BLOBs so that they compare bytewise.
  SqlQuery& Text(int index, std::string_view value);
  SqlQuery& Blob(int index, std::string_view value);
  SqlQuery& Int(int index, int64_t value);

  // Advances: true when a row is available, false when done. Reports a failed bind first.
  Result<bool> Step();
  // Steps a statement that returns no rows.
  Status Run();

  std::string ColumnString(int column) const;  // TEXT or BLOB column, byte for byte
  int64_t ColumnInt(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int bind_error_ = 0;
};

class SqliteDb {
 public:
  // Opens (creating) the database at `path` in WAL mode with synchronous=FULL.
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Runs parameterless SQL (possibly several statements).
  Status Exec(const char* sql);
  // The cached statement for `sql`, compiled on first use.
  Result<SqlQuery> Query(std::string_view sql);
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int Changes() const;

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

// BEGIN IMMEDIATE on construction (check status()); ROLLBACK on destruction unless committed.
class SqlTransaction {
 public:
  explicit SqlTransaction(SqliteDb& db);
  ~SqlTransaction();
  SqlTransaction(const SqlTransaction&) = delete;
  SqlTransaction& operator=(const SqlTransaction&) = delete;
  const Status& status() const { return begin_status_; }
  Status Commit();

 private:
  SqliteDb& db_;
  Status begin_status_;
  bool open_ = false;
};

}  // namespace kiln::storage_internal
