// PipeFeeder: serves a Pipe-mode input (spec §4.5, §8.5). It creates a FIFO at <LocalPath>_0 and,
// on its own thread, writes every object of the instance's share into it in key order, gunzipping
// Gzip inputs, while the job runs. Nothing touches the volume. StageInputs skips Pipe inputs:
// the job runner starts one PipeFeeder per Pipe input and instance, and cancels it when the
// instance ends.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "api/processing_job.h"
#include "base/status.h"
#include "storage/object_store.h"
#include "storage/staging.h"

namespace kiln {

class PipeFeeder {
 public:
  // Plans `input` (a Pipe-mode input of `spec`) like StageInputs would, creates the FIFO (and its
  // parent directories) below `processing_root`, and starts writing once the container opens it.
  // Planning errors (no objects, permission, bad keys) are returned before anything is created.
  // `resolver` and the stores it returns must outlive the feeder. `progress` is called from the
  // feeder's thread.
  static Result<std::unique_ptr<PipeFeeder>> Start(const JobSpec& spec, int instance_index,
                                                   const InputSpec& input,
                                                   const std::string& processing_root,
                                                   ObjectStoreResolver& resolver,
                                                   ProgressFn progress);
  // Cancels and joins.
  ~PipeFeeder();
  PipeFeeder(const PipeFeeder&) = delete;
  PipeFeeder& operator=(const PipeFeeder&) = delete;

  // Waits for the writer: OK once every byte was written and the FIFO closed (or the reader
  // closed its end early, which is the reader's choice); Cancelled if Cancel came first;
  // otherwise the failure, naming the input and object. Call at most once.
  Status Join();
  // Stops the writer at its next step, including while it waits for a reader to open the FIFO
  // or for room in the pipe. Safe to call from any thread, more than once.
  void Cancel();

  // The FIFO on the host.
  const std::string& fifo_path() const { return fifo_path_; }

 private:
  struct State;
  PipeFeeder(std::string fifo_path, std::unique_ptr<State> state);

  std::string fifo_path_;
  std::unique_ptr<State> state_;
  std::thread thread_;
  Status result_;  // written by the thread, read after join
  bool joined_ = false;
};

}  // namespace kiln
