// LocalBackend: runs processing jobs on this machine. Capacity is counted in instances
// (spec §8.15): a job waits InProgress until its instances fit, then starts; a job with more
// instances than the machine ever allows is refused at create with ResourceLimitExceeded.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "scheduler/backend.h"
#include "scheduler/job_runner.h"

namespace kiln {

struct LocalBackendOptions {
  RunnerContext context;
  int max_instances = 4;  // instances running at once, across all jobs
};

class LocalBackend : public Backend {
 public:
  explicit LocalBackend(LocalBackendOptions options);
  ~LocalBackend() override;

  Status CheckFits(const JobSpec& spec) override;
  Status Submit(const std::string& job_name) override;
  Status Stop(const std::string& job_name) override;
  Status Remove(const JobRecord& record) override;
  Status Recover() override;
  void Shutdown() override;

  // Instances currently holding capacity (for tests and metrics).
  int used_instances();

 private:
  struct Active {
    std::shared_ptr<JobRunner> runner;
    bool started = false;
    int reserved = 0;
  };
  static std::string Key(const std::string& name);
  // Starts queued jobs while they fit, in arrival order. Caller holds mu_.
  void DispatchLocked();
  void LaunchLocked(Active& active, int reserve, std::function<void(JobRunner&)> body);
  void Finished(const std::string& key);

  LocalBackendOptions options_;
  std::mutex mu_;
  std::map<std::string, Active> active_;  // by lower-cased name; guarded by mu_
  std::deque<std::string> queue_;         // keys waiting for capacity; guarded by mu_
  int used_instances_ = 0;                // guarded by mu_
  bool shutting_down_ = false;            // guarded by mu_
  int threads_running_ = 0;               // guarded by mu_
  std::condition_variable threads_done_;
};

}  // namespace kiln
