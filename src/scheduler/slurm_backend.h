// SlurmBackend: runs each processing job as one Slurm job on an existing cluster. The job's batch
// script starts `kiln agent` on every node (srun, one task per node); each agent plays one
// instance and talks back to this backend through the AgentHub calls (agent_protocol.h). Slurm's
// queue replaces local capacity. The backend polls `squeue --json` to notice Slurm jobs that ended
// without every agent reporting (a lost node, a killed agent). docs/slurm.md has the whole story.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "scheduler/agent_protocol.h"
#include "scheduler/backend.h"
#include "scheduler/job_runner.h"
#include "scheduler/slurm_commands.h"

namespace kiln {

struct SlurmBackendOptions {
  // Shared with the local backend: jobs_root (server-side log streams), store, clock, catalog,
  // services (credentials, python_dir, external S3), platform_env and stop_grace_ms.
  RunnerContext context;
  SlurmClientOptions slurm;
  // The URL agents (and jobs) reach this server at. Called when a job is submitted or an agent
  // asks for its assignment; may block until the server listens.
  std::function<std::string()> agent_endpoint;
  std::string kiln_path;         // the kiln executable, at this path on every node
  std::string node_scratch_dir;  // instance directories on the nodes; empty: the agents' default
  std::string oci_runtime = "runc";  // what the agents run OCI images with ("runc", "crun")
  std::string batch_output_dir;  // batch jobs' output files (must exist on the nodes); empty: none
  std::vector<std::string> file_roots;  // file:// roots the agents may use (shared storage)
  int64_t poll_interval_ms = 1000;
  int time_margin_minutes = 5;
  // After a stop's SIGTERM, how long past the stop grace the agents get to deliver outputs and
  // report before the whole Slurm job is cancelled.
  int64_t cancel_backstop_ms = 60000;
};

// The agent endpoint for a server listening at `server_url` ("http://0.0.0.0:7070"): `configured`
// as is if it names a port, else `configured` with the server's port; `server_url` if
// `configured` is empty.
std::string AgentEndpointFor(const std::string& configured, const std::string& server_url);

class SlurmBackend : public Backend, public AgentHub {
 public:
  explicit SlurmBackend(SlurmBackendOptions options);
  ~SlurmBackend() override;

  // Always OK: Slurm queues what does not fit now, and rejects at sbatch what never could.
  Status CheckFits(const JobSpec& spec) override;
  // Resolves the image (a runtime the agents run: agent_runtimes.h) and submits the job with
  // sbatch.
  Status Submit(const std::string& job_name) override;
  // Moves the job to Stopping, signals its agents (SIGTERM) and, after the grace period and the
  // backstop, cancels the Slurm job. The job ends Stopped.
  Status Stop(const std::string& job_name) override;
  // Removes the job's server-side directory (its log streams).
  Status Remove(const JobRecord& record) override;
  // Re-adopts submitted jobs by their Slurm job id, submits jobs that never were, and starts
  // polling Slurm.
  Status Recover() override;
  void Shutdown() override;

  Result<AgentAssignment> GetAssignment(const std::string& job_name, int host_index,
                                        const std::string& cluster_job_id) override;
  Status PutLogEvents(const std::string& job_name, const AgentLogBatch& batch) override;
  Status ReportExit(const std::string& job_name, const AgentExitReport& report) override;

 private:
  struct Job;
  using Commands = std::vector<std::vector<std::string>>;

  static std::string Key(const std::string& name);
  std::shared_ptr<Job> FindLocked(const std::string& job_name);
  Status PersistLocked(Job& job, const std::function<void(JobRecord&)>& mutate);
  Status TransitionLocked(Job& job, JobStatus to, const std::string& reason,
                          const std::optional<std::string>& exit_message = std::nullopt);
  // Builds the in-memory job from its record; resolves its image. Error: a ClientError reason.
  Result<std::shared_ptr<Job>> MakeJob(JobRecord record);
  // Generates keys, persists the plan and runs sbatch; finishes the job Failed if that fails.
  Status SubmitJob(std::shared_ptr<Job> job);
  // The Slurm job's comment for this submission of `job` (its agent key's id).
  static std::string SubmissionComment(const Job& job);
  // Every job squeue knows (empty if squeue fails).
  std::map<std::string, SlurmJobInfo> ListSlurmJobs();
  // The id of the unfinished Slurm job of this submission of `job`, or "".
  static std::string FindSubmission(const std::map<std::string, SlurmJobInfo>& queue,
                                    const Job& job);
  void RegisterKeys(const Job& job);
  void FinishLocked(Job& job, JobStatus status, const std::string& reason,
                    const std::optional<std::string>& exit_message = std::nullopt);
  // One look at a job with the latest Slurm states (null if squeue failed); queues the Slurm
  // commands to run once mu_ is released. Caller holds mu_.
  void EvaluateLocked(Job& job, const std::map<std::string, SlurmJobInfo>* states, int64_t now,
                      Commands* commands);
  void FinalizeLocked(Job& job, const std::string& slurm_state);
  std::string FailureFromReportsLocked(const Job& job);
  void StartPollerLocked();
  void PollLoop();
  void RunSlurm(const std::vector<std::string>& argv);

  SlurmBackendOptions options_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;  // active jobs by lower-cased name; mu_
  std::vector<std::shared_ptr<Job>> to_submit_;       // found by Recover; guarded by mu_
  bool shutting_down_ = false;                        // guarded by mu_
  bool poller_started_ = false;                       // guarded by mu_
  std::thread poller_;
};

}  // namespace kiln
