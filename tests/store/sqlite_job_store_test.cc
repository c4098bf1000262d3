#include "store/sqlite_job_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <thread>
#include <vector>

#include "store_test_util.h"

namespace kiln {
namespace {

using testing_store::MakeRecord;
using testing_store::TempDir;

void ExpectSameRecord(const JobRecord& a, const JobRecord& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.arn, b.arn);
  EXPECT_EQ(a.request, b.request);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.failure_reason, b.failure_reason);
  EXPECT_EQ(a.exit_message, b.exit_message);
  EXPECT_EQ(a.creation_time_ms, b.creation_time_ms);
  EXPECT_EQ(a.last_modified_time_ms, b.last_modified_time_ms);
  EXPECT_EQ(a.start_time_ms, b.start_time_ms);
  EXPECT_EQ(a.end_time_ms, b.end_time_ms);
  EXPECT_EQ(a.stop_requested, b.stop_requested);
  EXPECT_EQ(a.backend_state, b.backend_state);
}

class SqliteJobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteJobStore::Open(db_path());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }
  std::string db_path() const { return dir_.path() + "/jobs.db"; }

  TempDir dir_;
  std::unique_ptr<SqliteJobStore> store_;
};

TEST_F(SqliteJobStoreTest, CreateThenGetReturnsEveryField) {
  JobRecord record = MakeRecord("My-Job", 1234);
  ASSERT_TRUE(store_->Create(record).ok());
  auto got = store_->Get("My-Job");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ExpectSameRecord(*got, record);
  EXPECT_FALSE(got->start_time_ms.has_value());
  EXPECT_FALSE(got->end_time_ms.has_value());
  EXPECT_EQ(got->backend_state, nlohmann::json::object());
}

TEST_F(SqliteJobStoreTest, UpdateReplacesMutableFieldsIncludingOptionalTimesAndJson) {
  JobRecord record = MakeRecord("job-1", 1000);
  ASSERT_TRUE(store_->Create(record).ok());
  record.status = JobStatus::kFailed;
  record.failure_reason = "AlgorithmError: boom (exit code 3 on algo-1)";
  record.exit_message = "boom\n\xc3\xa9";
  record.last_modified_time_ms = 5000;
  record.start_time_ms = 2000;
  record.end_time_ms = 4999;
  record.stop_requested = true;
  record.backend_state = {{"pids", {12, 34}}, {"sandbox", "/var/lib/kiln/job-1"}};
  ASSERT_TRUE(store_->Update(record).ok());
  auto got = store_->Get("job-1");
  ASSERT_TRUE(got.ok());
  ExpectSameRecord(*got, record);

  // Optional times can be cleared again.
  record.start_time_ms.reset();
  record.end_time_ms.reset();
  ASSERT_TRUE(store_->Update(record).ok());
  got = store_->Get("job-1");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->start_time_ms.has_value());
  EXPECT_FALSE(got->end_time_ms.has_value());
}

TEST_F(SqliteJobStoreTest, GetIsCaseInsensitiveAndEchoesStoredName) {
  ASSERT_TRUE(store_->Create(MakeRecord("MixedCase-Job")).ok());
  auto got = store_->Get("mixedcase-JOB");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->name, "MixedCase-Job");
}

TEST_F(SqliteJobStoreTest, DuplicateNameInAnyCaseIsAlreadyExistsNamingExistingArn) {
  JobRecord first = MakeRecord("Dup-Job");
  ASSERT_TRUE(store_->Create(first).ok());
  Status status = store_->Create(MakeRecord("dup-JOB"));
  EXPECT_EQ(status.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(status.message(),
            "Processing job names must be unique within an AWS account and region, and a "
            "processing job with this name already exists (" +
                first.arn + ")");
}

TEST_F(SqliteJobStoreTest, MissingJobIsNotFoundForGetUpdateAndDelete) {
  auto got = store_->Get("nope");
  EXPECT_EQ(got.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(got.status().message(), "Could not find requested job with name nope");
  EXPECT_EQ(store_->Update(MakeRecord("nope")).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Delete("nope").code(), StatusCode::kNotFound);
}

TEST_F(SqliteJobStoreTest, DeletedNameCanBeReusedInAnotherCase) {
  ASSERT_TRUE(store_->Create(MakeRecord("reuse-me", 1)).ok());
  ASSERT_TRUE(store_->Delete("REUSE-ME").ok());
  EXPECT_EQ(store_->Get("reuse-me").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Delete("reuse-me").code(), StatusCode::kNotFound);
  ASSERT_TRUE(store_->Create(MakeRecord("Reuse-Me", 2)).ok());
  auto got = store_->Get("reuse-me");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->name, "Reuse-Me");
  EXPECT_EQ(got->creation_time_ms, 2);
}

TEST_F(SqliteJobStoreTest, ListUnfinishedReturnsInProgressAndStoppingOldestFirst) {
  struct Case {
    const char* name;
    int64_t created;
    JobStatus status;
  };
  for (const Case& c : {Case{"c", 300, JobStatus::kStopping}, Case{"a", 100, JobStatus::kCompleted},
                        Case{"b", 200, JobStatus::kInProgress}, Case{"d", 50, JobStatus::kFailed},
                        Case{"e", 200, JobStatus::kInProgress}, Case{"f", 10, JobStatus::kStopped},
                        Case{"g", 5, JobStatus::kStopping}}) {
    JobRecord record = MakeRecord(c.name, c.created);
    record.status = c.status;
    ASSERT_TRUE(store_->Create(record).ok());
  }
  auto unfinished = store_->ListUnfinished();
  ASSERT_TRUE(unfinished.ok());
  std::vector<std::string> names;
  for (const JobRecord& r : *unfinished) names.push_back(r.name);
  // b and e tie on creation time; insertion order breaks the tie.
  EXPECT_EQ(names, (std::vector<std::string>{"g", "b", "e", "c"}));
}

TEST_F(SqliteJobStoreTest, ReopeningKeepsRecordsAndSchema) {
  JobRecord record = MakeRecord("persist", 77);
  ASSERT_TRUE(store_->Create(record).ok());
  store_.reset();
  auto reopened = SqliteJobStore::Open(db_path());
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  auto got = (*reopened)->Get("persist");
  ASSERT_TRUE(got.ok());
  ExpectSameRecord(*got, record);
}

TEST_F(SqliteJobStoreTest, RefusesDatabaseWithNewerSchemaVersion) {
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto reopened = SqliteJobStore::Open(db_path());
  EXPECT_EQ(reopened.status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(SqliteJobStoreTest, OpenFailsForPathInMissingDirectory) {
  auto store = SqliteJobStore::Open(dir_.path() + "/no/such/dir/jobs.db");
  EXPECT_FALSE(store.ok());
}

TEST_F(SqliteJobStoreTest, ConcurrentWritersFromSeveralThreadsAllLand) {
  constexpr int kThreads = 4;
  constexpr int kJobsPerThread = 40;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &failures] {
      for (int i = 0; i < kJobsPerThread; ++i) {
        std::string name = "t" + std::to_string(t) + "-job-" + std::to_string(i);
        JobRecord record = MakeRecord(name, t * 1000 + i);
        if (!store_->Create(record).ok()) ++failures[t];
        record.status = JobStatus::kCompleted;
        record.end_time_ms = 99;
        if (!store_->Update(record).ok()) ++failures[t];
        if (!store_->Get(name).ok()) ++failures[t];
        // Readers interleave with the writers.
        ListQuery query;
        query.max_results = 5;
        if (!store_->List(query).ok()) ++failures[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;

  ListQuery query;
  query.max_results = 100;
  query.status_equals = JobStatus::kCompleted;
  int total = 0;
  do {
    auto page = store_->List(query);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    total += static_cast<int>(page->jobs.size());
    for (const JobRecord& r : page->jobs) EXPECT_EQ(r.end_time_ms, 99);
    query.next_token = page->next_token;
  } while (!query.next_token.empty());
  EXPECT_EQ(total, kThreads * kJobsPerThread);
}

TEST_F(SqliteJobStoreTest, TwoStoresOnOneFileSeeEachOthersWrites) {
  auto other = SqliteJobStore::Open(db_path());
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(store_->Create(MakeRecord("from-first")).ok());
  ASSERT_TRUE((*other)->Create(MakeRecord("from-second")).ok());
  EXPECT_TRUE((*other)->Get("from-first").ok());
  EXPECT_TRUE(store_->Get("from-second").ok());
  EXPECT_EQ((*other)->Create(MakeRecord("FROM-FIRST")).code(), StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace kiln
