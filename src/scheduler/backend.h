// Backend: where a processing job's instances run (this machine now; Slurm later). The
// JobService stores a job, then hands it to the backend, which owns it until it is terminal:
// every state change of a running job is made and persisted by the backend.
#pragma once

#include <string>

#include "api/processing_job.h"
#include "base/status.h"
#include "store/job_store.h"

namespace kiln {

class Backend {
 public:
  virtual ~Backend() = default;

  // OK if a job needing `spec`'s instances could ever run here; ResourceExhausted (with the
  // SageMaker-style service-limit message) if it never could.
  virtual Status CheckFits(const JobSpec& spec) = 0;
  // Takes over a job that was just stored InProgress: runs it now or queues it.
  virtual Status Submit(const std::string& job_name) = 0;
  // Asks a job to stop (StopProcessingJob): moves it to Stopping, signals its instances and
  // finishes it as Stopped. OK if it is already Stopping; InvalidArgument if it is terminal.
  virtual Status Stop(const std::string& job_name) = 0;
  // Removes what the backend keeps of a terminal job (its sandboxes and logs) when it is deleted.
  virtual Status Remove(const JobRecord& record) = 0;
  // After a server start: re-attaches jobs whose instances still run, re-queues jobs that never
  // started, and fails the rest with a reason that says the server restarted.
  virtual Status Recover() = 0;
  // Stops taking work and waits for the backend's threads; running instances keep running (a
  // later Recover re-attaches them).
  virtual void Shutdown() = 0;
};

}  // namespace kiln
