// SqliteJobStore: JobStore on one SQLite database in WAL mode with synchronous=FULL, so a
// returned write survives kill -9 and power loss. Thread-safe (one connection, one mutex).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "store/job_store.h"

struct sqlite3;

namespace kiln {

class SqliteJobStore : public JobStore {
 public:
  // Opens or creates the database at `path` and its schema.
  static Result<std::unique_ptr<SqliteJobStore>> Open(const std::string& path);
  ~SqliteJobStore() override;

  Status Create(const JobRecord& record) override;
  Result<JobRecord> Get(const std::string& name) override;
  Status Update(const JobRecord& record) override;
  Status Delete(const std::string& name) override;
  Result<JobPage> List(const ListQuery& query) override;
  Result<std::vector<JobRecord>> ListUnfinished() override;

 private:
  explicit SqliteJobStore(sqlite3* db) : db_(db) {}
  std::mutex mu_;
  sqlite3* db_;  // guarded by mu_
};

}  // namespace kiln
