#include "storage/sqlite_db.h"

#include <sqlite3.h>

#include <utility>

namespace kiln::storage_internal {
namespace {

constexpr int kBusyTimeoutMs = 10000;

Status ErrorOf(sqlite3* db, int rc, const std::string& what) {
  std::string message = what + ": " + sqlite3_errstr(rc);
  if (db != nullptr) message += " (" + std::string(sqlite3_errmsg(db)) + ")";
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return Status::Unavailable(message);
  return Status::Internal(message);
}

}  // namespace

SqlQuery::SqlQuery(SqlQuery&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)), bind_error_(other.bind_error_) {}

SqlQuery::~SqlQuery() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

SqlQuery& SqlQuery::Text(int index, std::string_view value) {
  int rc =
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
  return *this;
}

SqlQuery& SqlQuery::Blob(int index, std::string_view value) {
  // A zero-length blob still needs a non-null pointer, or SQLite binds NULL.
  static const char kEmpty = 0;
  const char* data = value.empty() ? &kEmpty : value.data();
  int rc = sqlite3_bind_blob64(stmt_, index, data, value.size(), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
  return *this;
}

SqlQuery& SqlQuery::Int(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
  return *this;
}

Result<bool> SqlQuery::Step() {
  if (bind_error_ != 0) return ErrorOf(db_, bind_error_, "bind a parameter");
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return ErrorOf(db_, rc, std::string("run '") + sqlite3_sql(stmt_) + "'");
}

Status SqlQuery::Run() {
  ASSIGN_OR_RETURN(bool row, Step());
  (void)row;
  return Status::Ok();
}

std::string SqlQuery::ColumnString(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || size <= 0) return {};
  return std::string(static_cast<const char*>(data), static_cast<size_t>(size));
}

int64_t SqlQuery::ColumnInt(int column) const { return sqlite3_column_int64(stmt_, column); }

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status st = ErrorOf(raw, rc, "open " + path);
    sqlite3_close(raw);
    return st;
  }
  std::unique_ptr<SqliteDb> db(new SqliteDb(raw));
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL"));
  RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=FULL"));
  return db;
}

SqliteDb::~SqliteDb() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

Status SqliteDb::Exec(const char* sql) {
  char* error = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string message = std::string("run '") + sql + "': " + (error ? error : sqlite3_errstr(rc));
  sqlite3_free(error);
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return Status::Unavailable(message);
  return Status::Internal(message);
}

Result<SqlQuery> SqliteDb::Query(std::string_view sql) {
  auto it = cache_.find(std::string(sql));
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return ErrorOf(db_, rc, "prepare '" + std::string(sql) + "'");
    it = cache_.emplace(std::string(sql), stmt).first;
  }
  return SqlQuery(db_, it->second);
}

int SqliteDb::Changes() const { return sqlite3_changes(db_); }

SqlTransaction::SqlTransaction(SqliteDb& db) : db_(db) {
  begin_status_ = db_.Exec("BEGIN IMMEDIATE");
  open_ = begin_status_.ok();
}

SqlTransaction::~SqlTransaction() {
  if (open_) (void)db_.Exec("ROLLBACK");
}

Status SqlTransaction::Commit() {
  if (!open_) return Status::Internal("commit of a transaction that is not open");
  Status st = db_.Exec("COMMIT");
  // A failed COMMIT leaves the transaction open; the destructor rolls it back.
  if (st.ok()) open_ = false;
  return st;
}

}  // namespace kiln::storage_internal
