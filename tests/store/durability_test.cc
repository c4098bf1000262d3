// A write that SqliteJobStore has returned from must survive the process being killed with
// SIGKILL at any moment: a child writes continuously, reports each returned Update over a pipe,
// and is killed mid-stream; the parent reopens the database and checks every reported write.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <vector>

#include "store/sqlite_job_store.h"
#include "store_test_util.h"

namespace kiln {
namespace {

using testing_store::MakeRecord;
using testing_store::TempDir;

std::string JobName(int32_t i) { return "durable-" + std::to_string(i); }

// Runs in the forked child; never returns.
[[noreturn]] void WriteUntilKilled(const std::string& db_path, int report_fd) {
  auto store = SqliteJobStore::Open(db_path);
  if (!store.ok()) _exit(2);
  for (int32_t i = 0; i < 1000000; ++i) {
    JobRecord record = MakeRecord(JobName(i), i);
    if (!(*store)->Create(record).ok()) _exit(3);
    record.status = JobStatus::kCompleted;
    record.end_time_ms = i + 1;
    record.backend_state = {{"step", i}};
    if (!(*store)->Update(record).ok()) _exit(4);
    if (write(report_fd, &i, sizeof(i)) != sizeof(i)) _exit(5);
  }
  _exit(0);
}

bool ReadReport(int fd, int32_t* value) {
  char* out = reinterpret_cast<char*>(value);
  size_t got = 0;
  while (got < sizeof(*value)) {
    ssize_t n = read(fd, out + got, sizeof(*value) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

TEST(SqliteJobStoreDurabilityTest, EveryReturnedUpdateSurvivesSigkill) {
  TempDir dir;
  const std::string db_path = dir.path() + "/jobs.db";
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    WriteUntilKilled(db_path, fds[1]);
  }
  close(fds[1]);

  std::vector<int32_t> confirmed;
  int32_t value = 0;
  while (confirmed.size() < 25 && ReadReport(fds[0], &value)) confirmed.push_back(value);
  ASSERT_EQ(confirmed.size(), 25u) << "the writer stopped early";
  ASSERT_EQ(kill(child, SIGKILL), 0);
  // Reports already in the pipe were written after their Update returned: they count too.
  while (ReadReport(fds[0], &value)) confirmed.push_back(value);
  close(fds[0]);
  int wait_status = 0;
  ASSERT_EQ(waitpid(child, &wait_status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL)
      << "writer exited on its own with status " << wait_status;

  auto store = SqliteJobStore::Open(db_path);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  for (int32_t i : confirmed) {
    auto got = (*store)->Get(JobName(i));
    ASSERT_TRUE(got.ok()) << JobName(i) << ": " << got.status().ToString();
    EXPECT_EQ(got->status, JobStatus::kCompleted);
    EXPECT_EQ(got->end_time_ms, i + 1);
    EXPECT_EQ(got->backend_state, nlohmann::json({{"step", i}}));
  }
}

}  // namespace
}  // namespace kiln
