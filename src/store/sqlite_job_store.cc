#include "store/sqlite_job_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <utility>
#include <variant>

#include "store/page_token.h"
#include "store/sqlite_statement.h"

namespace kiln {
namespace {

using store_internal::ExecSql;
using store_internal::SqliteError;
using store_internal::Statement;

constexpr int kSchemaVersion = 1;
constexpr int kBusyTimeoutMs = 10000;

// Version 1. `seq` is AUTOINCREMENT so a number is never reused, even after a delete: it is the
// unique tie-breaker page tokens point at. `name_key` is the lower-cased name, which makes names
// unique case-insensitively (spec §8.12) and is what Name sorting and NameContains compare; its
// UNIQUE index (which, like every SQLite index, ends in the rowid `seq`) serves Name sorting.
constexpr const char* kSchemaV1[] = {
    R"sql(CREATE TABLE jobs (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      name TEXT NOT NULL,
      name_key TEXT NOT NULL UNIQUE,
      arn TEXT NOT NULL,
      request_json TEXT NOT NULL,
      status TEXT NOT NULL,
      failure_reason TEXT NOT NULL DEFAULT '',
      exit_message TEXT NOT NULL DEFAULT '',
      creation_time_ms INTEGER NOT NULL,
      last_modified_time_ms INTEGER NOT NULL,
      start_time_ms INTEGER,
      end_time_ms INTEGER,
      stop_requested INTEGER NOT NULL DEFAULT 0,
      backend_state_json TEXT NOT NULL DEFAULT '{}'))sql",
    "CREATE INDEX jobs_by_creation_time ON jobs (creation_time_ms, seq)",
    "CREATE INDEX jobs_by_status ON jobs (status, seq)",
};

constexpr const char kColumns[] =
    "seq, name, arn, request_json, status, failure_reason, exit_message, creation_time_ms, "
    "last_modified_time_ms, start_time_ms, end_time_ms, stop_requested, backend_state_json";

// The store keeps its own copy of the wire names so it depends only on the api declarations.
// Stored as text, so Status sorting is alphabetical by wire name.
const char* StatusText(JobStatus status) {
  switch (status) {
    case JobStatus::kInProgress:
      return "InProgress";
    case JobStatus::kCompleted:
      return "Completed";
    case JobStatus::kFailed:
      return "Failed";
    case JobStatus::kStopping:
      return "Stopping";
    case JobStatus::kStopped:
      return "Stopped";
  }
  return "InProgress";
}

std::optional<JobStatus> StatusFromText(const std::string& text) {
  for (JobStatus s : {JobStatus::kInProgress, JobStatus::kCompleted, JobStatus::kFailed,
                      JobStatus::kStopping, JobStatus::kStopped}) {
    if (text == StatusText(s)) return s;
  }
  return std::nullopt;
}

std::string NameKey(std::string_view name) {
  std::string key(name);
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return key;
}

std::string DumpJson(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Status NotFoundStatus(const std::string& name) {
  return Status::NotFound("Could not find requested job with name " + name);
}

// Reads one row selected with kColumns.
Result<JobRecord> RecordFromRow(const Statement& stmt, int64_t* seq = nullptr) {
  JobRecord record;
  if (seq != nullptr) *seq = stmt.ColumnInt64(0);
  record.name = stmt.ColumnText(1);
  record.arn = stmt.ColumnText(2);
  record.request = nlohmann::json::parse(stmt.ColumnText(3), nullptr, false);
  if (record.request.is_discarded()) {
    return Status::Internal("stored request of job " + record.name + " is not valid JSON");
  }
  std::optional<JobStatus> status = StatusFromText(stmt.ColumnText(4));
  if (!status.has_value()) {
    return Status::Internal("stored job " + record.name + " has unknown status " +
                            stmt.ColumnText(4));
  }
  record.status = *status;
  record.failure_reason = stmt.ColumnText(5);
  record.exit_message = stmt.ColumnText(6);
  record.creation_time_ms = stmt.ColumnInt64(7);
  record.last_modified_time_ms = stmt.ColumnInt64(8);
  record.start_time_ms = stmt.ColumnOptionalInt64(9);
  record.end_time_ms = stmt.ColumnOptionalInt64(10);
  record.stop_requested = stmt.ColumnInt64(11) != 0;
  record.backend_state = nlohmann::json::parse(stmt.ColumnText(12), nullptr, false);
  if (record.backend_state.is_discarded()) {
    return Status::Internal("stored backend state of job " + record.name + " is not valid JSON");
  }
  return record;
}

// Binds the fields every write sets, at parameters first..first+10.
Status BindMutableFields(Statement& stmt, int first, const JobRecord& record) {
  RETURN_IF_ERROR(stmt.BindText(first, record.arn));
  RETURN_IF_ERROR(stmt.BindText(first + 1, DumpJson(record.request)));
  RETURN_IF_ERROR(stmt.BindText(first + 2, StatusText(record.status)));
  RETURN_IF_ERROR(stmt.BindText(first + 3, record.failure_reason));
  RETURN_IF_ERROR(stmt.BindText(first + 4, record.exit_message));
  RETURN_IF_ERROR(stmt.BindInt64(first + 5, record.creation_time_ms));
  RETURN_IF_ERROR(stmt.BindInt64(first + 6, record.last_modified_time_ms));
  RETURN_IF_ERROR(stmt.BindOptionalInt64(first + 7, record.start_time_ms));
  RETURN_IF_ERROR(stmt.BindOptionalInt64(first + 8, record.end_time_ms));
  RETURN_IF_ERROR(stmt.BindInt64(first + 9, record.stop_requested ? 1 : 0));
  RETURN_IF_ERROR(stmt.BindText(first + 10, DumpJson(record.backend_state)));
  return Status::Ok();
}

Result<int64_t> QueryInt(sqlite3* db, const char* sql) {
  ASSIGN_OR_RETURN(Statement stmt, Statement::Prepare(db, sql));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return Status::Internal(std::string("no result from ") + sql);
  return stmt.ColumnInt64(0);
}

Status SetUpConnection(sqlite3* db, const std::string& path) {
  sqlite3_extended_result_codes(db, 1);
  int rc = sqlite3_busy_timeout(db, kBusyTimeoutMs);
  if (rc != SQLITE_OK) return SqliteError(db, rc, "setting busy timeout");
  {
    ASSIGN_OR_RETURN(Statement stmt, Statement::Prepare(db, "PRAGMA journal_mode=WAL"));
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    std::string mode = row ? stmt.ColumnText(0) : "";
    // An in-memory database (":memory:") cannot use WAL; it is not durable by definition.
    if (mode != "wal" && mode != "memory") {
      return Status::FailedPrecondition("cannot put job database " + path +
                                        " in WAL mode (journal mode is \"" + mode + "\")");
    }
  }
  RETURN_IF_ERROR(ExecSql(db, "PRAGMA synchronous=FULL"));
  RETURN_IF_ERROR(ExecSql(db, "PRAGMA foreign_keys=ON"));
  return Status::Ok();
}

// Creates or checks the schema. BEGIN IMMEDIATE serialises two processes opening a new file.
Status MigrateSchema(sqlite3* db, const std::string& path) {
  RETURN_IF_ERROR(ExecSql(db, "BEGIN IMMEDIATE"));
  auto migrate = [&]() -> Status {
    ASSIGN_OR_RETURN(int64_t version, QueryInt(db, "PRAGMA user_version"));
    if (version == kSchemaVersion) return Status::Ok();
    if (version > kSchemaVersion) {
      return Status::FailedPrecondition(
          "job database " + path + " has schema version " + std::to_string(version) +
          ", newer than this Kiln supports (" + std::to_string(kSchemaVersion) + ")");
    }
    // version 0: a new database. Later versions add "if (version < N)" steps here.
    for (const char* sql : kSchemaV1) RETURN_IF_ERROR(ExecSql(db, sql));
    return ExecSql(db, "PRAGMA user_version=1");
  };
  Status status = migrate();
  if (!status.ok()) {
    (void)ExecSql(db, "ROLLBACK");
    return status;
  }
  return ExecSql(db, "COMMIT");
}

const char* SortColumn(ListSortBy sort_by) {
  switch (sort_by) {
    case ListSortBy::kName:
      return "name_key";
    case ListSortBy::kStatus:
      return "status";
    case ListSortBy::kCreationTime:
      return "creation_time_ms";
  }
  return "creation_time_ms";
}

}  // namespace

Result<std::unique_ptr<SqliteJobStore>> SqliteJobStore::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status status = SqliteError(db, rc, "opening job database " + path);
    sqlite3_close_v2(db);
    return status;
  }
  Status status = SetUpConnection(db, path);
  if (status.ok()) status = MigrateSchema(db, path);
  if (!status.ok()) {
    sqlite3_close_v2(db);
    return status;
  }
  return std::unique_ptr<SqliteJobStore>(new SqliteJobStore(db));
}

SqliteJobStore::~SqliteJobStore() { sqlite3_close_v2(db_); }

Status SqliteJobStore::Create(const JobRecord& record) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Statement insert,
                   Statement::Prepare(db_,
                                      "INSERT INTO jobs (name, name_key, arn, request_json, "
                                      "status, failure_reason, exit_message, creation_time_ms, "
                                      "last_modified_time_ms, start_time_ms, end_time_ms, "
                                      "stop_requested, backend_state_json) "
                                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                                      "?12, ?13)"));
  RETURN_IF_ERROR(insert.BindText(1, record.name));
  RETURN_IF_ERROR(insert.BindText(2, NameKey(record.name)));
  RETURN_IF_ERROR(BindMutableFields(insert, 3, record));
  Status status = insert.Run();
  if (status.ok() || sqlite3_extended_errcode(db_) != SQLITE_CONSTRAINT_UNIQUE) return status;

  std::string existing_arn = record.arn;
  ASSIGN_OR_RETURN(Statement lookup,
                   Statement::Prepare(db_, "SELECT arn FROM jobs WHERE name_key = ?1"));
  RETURN_IF_ERROR(lookup.BindText(1, NameKey(record.name)));
  ASSIGN_OR_RETURN(bool row, lookup.Step());
  if (row) existing_arn = lookup.ColumnText(0);
  return Status::AlreadyExists(
      "Processing job names must be unique within an AWS account and region, and a processing "
      "job with this name already exists (" +
      existing_arn + ")");
}

Result<JobRecord> SqliteJobStore::Get(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Statement stmt, Statement::Prepare(db_, std::string("SELECT ") + kColumns +
                                                               " FROM jobs WHERE name_key = ?1"));
  RETURN_IF_ERROR(stmt.BindText(1, NameKey(name)));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return NotFoundStatus(name);
  return RecordFromRow(stmt);
}

Status SqliteJobStore::Update(const JobRecord& record) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_,
                                      "UPDATE jobs SET arn = ?2, request_json = ?3, status = ?4, "
                                      "failure_reason = ?5, exit_message = ?6, "
                                      "creation_time_ms = ?7, last_modified_time_ms = ?8, "
                                      "start_time_ms = ?9, end_time_ms = ?10, "
                                      "stop_requested = ?11, backend_state_json = ?12 "
                                      "WHERE name_key = ?1"));
  RETURN_IF_ERROR(stmt.BindText(1, NameKey(record.name)));
  RETURN_IF_ERROR(BindMutableFields(stmt, 2, record));
  RETURN_IF_ERROR(stmt.Run());
  if (sqlite3_changes(db_) == 0) return NotFoundStatus(record.name);
  return Status::Ok();
}

Status SqliteJobStore::Delete(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Statement stmt, Statement::Prepare(db_, "DELETE FROM jobs WHERE name_key = ?1"));
  RETURN_IF_ERROR(stmt.BindText(1, NameKey(name)));
  RETURN_IF_ERROR(stmt.Run());
  if (sqlite3_changes(db_) == 0) return NotFoundStatus(name);
  return Status::Ok();
}

Result<JobPage> SqliteJobStore::List(const ListQuery& query) {
  if (query.max_results < 1) {
    return Status::InvalidArgument("MaxResults must be at least 1, got " +
                                   std::to_string(query.max_results));
  }
  std::optional<PageCursor> cursor;
  if (!query.next_token.empty()) {
    ASSIGN_OR_RETURN(cursor, DecodePageToken(query, query.next_token));
  }

  // Only the shape of the SQL varies with the query (which filters are present, which fixed
  // column and direction to sort by); every value is a bound parameter.
  std::string sql = std::string("SELECT ") + kColumns + " FROM jobs WHERE 1";
  int next_param = 1;
  auto param = [&next_param]() { return "?" + std::to_string(next_param++); };
  if (query.creation_time_after_ms) sql += " AND creation_time_ms > " + param();
  if (query.creation_time_before_ms) sql += " AND creation_time_ms < " + param();
  if (query.last_modified_time_after_ms) sql += " AND last_modified_time_ms > " + param();
  if (query.last_modified_time_before_ms) sql += " AND last_modified_time_ms < " + param();
  if (query.name_contains) sql += " AND instr(name_key, " + param() + ") > 0";
  if (query.status_equals) sql += " AND status = " + param();
  const std::string column = SortColumn(query.sort_by);
  const bool descending = query.sort_order == SortOrder::kDescending;
  if (cursor) {
    std::string key = param();
    std::string seq = param();
    sql += " AND (" + column + ", seq) " + (descending ? "<" : ">") + " (" + key + ", " + seq + ")";
  }
  const char* direction = descending ? " DESC" : " ASC";
  sql += " ORDER BY " + column + direction + ", seq" + direction + " LIMIT " + param();

  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Statement stmt, Statement::Prepare(db_, sql));
  int index = 1;
  for (const auto& bound :
       {query.creation_time_after_ms, query.creation_time_before_ms,
        query.last_modified_time_after_ms, query.last_modified_time_before_ms}) {
    if (bound) RETURN_IF_ERROR(stmt.BindInt64(index++, *bound));
  }
  if (query.name_contains) RETURN_IF_ERROR(stmt.BindText(index++, NameKey(*query.name_contains)));
  if (query.status_equals)
    RETURN_IF_ERROR(stmt.BindText(index++, StatusText(*query.status_equals)));
  if (cursor) {
    if (const auto* time = std::get_if<int64_t>(&cursor->sort_key)) {
      RETURN_IF_ERROR(stmt.BindInt64(index++, *time));
    } else {
      RETURN_IF_ERROR(stmt.BindText(index++, std::get<std::string>(cursor->sort_key)));
    }
    RETURN_IF_ERROR(stmt.BindInt64(index++, cursor->seq));
  }
  // One row more than asked for tells whether another page exists.
  RETURN_IF_ERROR(stmt.BindInt64(index++, int64_t{query.max_results} + 1));

  JobPage page;
  int64_t last_seq = 0;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    if (static_cast<int64_t>(page.jobs.size()) == query.max_results) {
      const JobRecord& last = page.jobs.back();
      PageCursor next;
      next.seq = last_seq;
      switch (query.sort_by) {
        case ListSortBy::kName:
          next.sort_key = NameKey(last.name);
          break;
        case ListSortBy::kStatus:
          next.sort_key = std::string(StatusText(last.status));
          break;
        case ListSortBy::kCreationTime:
          next.sort_key = last.creation_time_ms;
          break;
      }
      page.next_token = EncodePageToken(query, next);
      break;
    }
    ASSIGN_OR_RETURN(JobRecord record, RecordFromRow(stmt, &last_seq));
    page.jobs.push_back(std::move(record));
  }
  return page;
}

Result<std::vector<JobRecord>> SqliteJobStore::ListUnfinished() {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Statement stmt,
                   Statement::Prepare(db_, std::string("SELECT ") + kColumns +
                                               " FROM jobs WHERE status IN (?1, ?2) "
                                               "ORDER BY creation_time_ms ASC, seq ASC"));
  RETURN_IF_ERROR(stmt.BindText(1, StatusText(JobStatus::kInProgress)));
  RETURN_IF_ERROR(stmt.BindText(2, StatusText(JobStatus::kStopping)));
  std::vector<JobRecord> jobs;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    ASSIGN_OR_RETURN(JobRecord record, RecordFromRow(stmt));
    jobs.push_back(std::move(record));
  }
  return jobs;
}

}  // namespace kiln
