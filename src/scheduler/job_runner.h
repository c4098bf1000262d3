// JobRunner: the life of one processing job on the local backend, from staging to its terminal
// state. It alone changes the job's record while the job is active; every change is persisted
// before it is acted on. One thread per job runs Run() or Resume(); Stop requests arrive from
// API threads.
#pragma once

#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/processing_job.h"
#include "base/clock.h"
#include "runtime/image_catalog.h"
#include "runtime/job_network.h"
#include "runtime/runtime.h"
#include "scheduler/continuous_uploader.h"
#include "scheduler/job_environment.h"
#include "scheduler/job_layout.h"
#include "storage/object_store.h"
#include "storage/pipe_feeder.h"
#include "store/job_store.h"

namespace kiln {

// What every runner of a backend shares. Pointers are owned elsewhere and outlive the runners.
struct RunnerContext {
  std::string jobs_root;
  JobStore* store = nullptr;
  const Clock* clock = nullptr;
  const ImageCatalog* catalog = nullptr;
  ObjectStoreResolver* resolver = nullptr;
  std::map<std::string, Runtime*> runtimes;  // by Runtime::Name()
  double host_cpus = 1;
  int64_t host_memory_bytes = 1LL << 30;
  int64_t stop_grace_ms = 30000;
  std::vector<std::pair<std::string, std::string>> platform_env;  // AWS_REGION and friends
  // Endpoints and credentials for jobs with network access (spec §8.17).
  JobServices services;
  // How long a Continuous output's file must stay unchanged before it is uploaded.
  int64_t continuous_quiet_ms = 1000;
  // Jobs without network isolation get a private network each (runtime/job_network.h), named
  // after jobs_root; false: they share the host's network.
  bool private_networks = false;
  JobNetworkOptions network_options;
};

// The names of a job's private network on this backend.
JobNetworkNames NetworkNamesFor(const RunnerContext& ctx, const JobLayout& layout);

class JobRunner : public std::enable_shared_from_this<JobRunner> {
 public:
  JobRunner(const RunnerContext* ctx, JobRecord record, JobSpec spec);

  // Stages, starts and supervises the job to its end. Blocks; run it on its own thread.
  void Run();
  // Supervises instances recovered after a restart (the job's layout is in its record).
  void Resume(std::vector<std::unique_ptr<Instance>> instances);
  // Finishes a job that cannot continue, e.g. after a restart lost its instances.
  void FailNow(const std::string& reason);

  // StopProcessingJob: moves the job to Stopping and wakes the runner. OK if already stopping.
  Status RequestStop();
  // Makes the runner give up supervision without touching the instances (server shutdown).
  void Abandon();

  const std::string& name() const { return name_; }
  int instance_count() const { return spec_.instance_count; }

 private:
  struct Slot {
    std::unique_ptr<Instance> instance;
    std::optional<ExitStatus> exit;  // guarded by the runner's mu_
    uint64_t exit_order = 0;         // guarded by the runner's mu_; 1 for the first to exit
    // One per Pipe-mode input, cancelled when the instance ends. The vector is fixed before
    // supervision starts; feeder_results[k] is set (under mu_) once feeders[k] has finished.
    std::vector<std::unique_ptr<PipeFeeder>> feeders;
    std::vector<std::optional<Status>> feeder_results;
  };

  // Applies `mutate` to a copy of the record, persists it, then adopts it. Caller holds mu_.
  Status PersistLocked(const std::function<void(JobRecord&)>& mutate);
  Status TransitionLocked(JobStatus to, const std::string& failure_reason,
                          const std::optional<std::string>& exit_message = std::nullopt);
  // Stages the inputs, then starts every instance of `image` on `runtime`.
  Status StartInstances(const ImageConfig& image, Runtime& runtime);
  // Starts one PipeFeeder per Pipe-mode input for instance `index` (before it starts).
  Result<std::vector<std::unique_ptr<PipeFeeder>>> StartFeeders(size_t index);
  // The environment of every instance: image, platform, services (§8.17), then the request's.
  // `network_endpoint` is the Kiln endpoint inside the job's private network, if it has one.
  std::vector<std::pair<std::string, std::string>> InstanceEnv(
      const std::vector<std::pair<std::string, std::string>>& image_env,
      const std::optional<JobCredential>& credential, const std::string& network_endpoint);
  bool UsesPrivateNetwork() const;
  // Makes the job's own access key valid again (Resume), if it has one.
  void RestoreCredential();
  // Creates the job's private network and opens the Kiln endpoint in it (network_endpoint_:
  // the URL for the instances, empty without a publisher). Runs beside staging (Run()).
  Status SetUpNetwork();
  // After a restart: finds the job's network again and reopens the endpoint in it.
  void RestoreNetwork();
  // Closes the endpoints and removes the network, once no instance runs any more.
  void TearDownNetwork();
  // Called when a feeder has finished; records "pipes_done" once every one ended OK. Holds mu_.
  void OnFeederDoneLocked();
  void Supervise();
  void Finish(JobStatus status, std::string failure_reason,
              const std::optional<std::string>& exit_message = std::nullopt);
  void Log(size_t instance, const std::string& line);
  std::string FinalFailure(bool* failed);

  const RunnerContext* ctx_;
  const std::string name_;
  const JobSpec spec_;
  JobLayout layout_;
  // Set by SetUpNetwork (on its own thread until network_setup_ is waited for) or RestoreNetwork.
  std::unique_ptr<JobNetwork> network_;
  std::string network_endpoint_;
  std::future<Status> network_setup_;

  std::mutex mu_;
  std::condition_variable cv_;
  JobRecord record_;                          // guarded by mu_
  std::vector<std::shared_ptr<Slot>> slots_;  // guarded by mu_ (the vector, and Slot::exit)
  bool timed_out_ = false;                    // guarded by mu_
  std::string forced_failure_;                // guarded by mu_; ends the job with this reason
  bool abandoned_ = false;                    // guarded by mu_
  uint64_t exits_seen_ = 0;                   // guarded by mu_
};

}  // namespace kiln
