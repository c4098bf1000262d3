// The Slurm command-line clients as the Slurm backend and the agent use them: building an sbatch
// submission for a processing job, reading job states from `squeue --json` (Slurm 22.05 has no
// `scontrol --json`), and running a client with an explicit environment.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace kiln {

struct SlurmClientOptions {
  std::string sbatch = "sbatch";  // looked up on PATH when relative
  std::string squeue = "squeue";
  std::string scancel = "scancel";
  std::string scontrol = "scontrol";
  std::string slurm_conf;  // empty: the clients' default (SLURM_CONF of the server, or /etc)
  std::string partition;   // empty: the cluster's default partition
  std::vector<std::string> extra_sbatch_args;  // e.g. --account=x, --qos=y
};

// What a processing job's Slurm job is made of.
struct SlurmSubmission {
  std::string job_name;  // the Kiln job name; the Slurm job is "kiln-<job_name>"
  int nodes = 1;
  int64_t max_runtime_seconds = 86400;
  int time_margin_minutes = 5;  // staging, delivery and the stop grace fit in here
  std::string kiln_path;        // the kiln executable, at this path on every node
  std::string agent_endpoint;   // the URL agents reach the server at
  std::string scratch_dir;      // where agents put instance directories; empty: their default
  std::string output_path = "/dev/null";  // the batch job's stdout and stderr
  // The Slurm job's comment: what identifies this very submission after a crash (Recover).
  std::string comment;
};

// The --time of a job: MaxRuntimeInSeconds rounded up to whole minutes, plus the margin.
int64_t SlurmTimeLimitMinutes(int64_t max_runtime_seconds, int margin_minutes);

// The batch script: one `kiln agent` per node through srun.
std::string BuildBatchScript(const SlurmSubmission& submission);

// The sbatch arguments (without the program), reading the script from stdin.
std::vector<std::string> BuildSbatchArgs(const SlurmClientOptions& options,
                                         const SlurmSubmission& submission);

// The job id in `sbatch --parsable` output ("123" or "123;cluster"). InvalidArgument otherwise.
Result<std::string> ParseSbatchJobId(const std::string& output);

struct SlurmJobInfo {
  std::string state;  // "PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", ...
  std::string reason;
  std::string nodes;
  int exit_code = 0;  // the raw wait status, as Slurm reports it
  std::string name;
  std::string comment;
};

// Whether a Slurm job in this state has ended (it runs no more processes of ours).
bool IsSlurmStateFinal(const std::string& state);

// Every job in `squeue --json` output, by id. InvalidArgument if it is not that JSON.
Result<std::map<std::string, SlurmJobInfo>> ParseSqueueJson(const std::string& text);

// Single-quotes `word` for a POSIX shell.
std::string ShellQuote(const std::string& word);

struct CommandResult {
  int exit_code = -1;  // 128+signal if killed
  std::string out;
  std::string err;
};

// Runs argv (argv[0] looked up on PATH when it has no '/') with exactly `env` as its environment
// and `input` on stdin; captures stdout and stderr (each cut at 4 MiB). Internal if it cannot
// start; the exit code is the caller's to judge.
Result<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                 const std::vector<std::pair<std::string, std::string>>& env,
                                 const std::string& input = "");

// The environment for Slurm clients: PATH (the current one, or a default), SLURM_CONF when
// `options` names one, then `extra`.
std::vector<std::pair<std::string, std::string>> SlurmClientEnv(
    const SlurmClientOptions& options,
    const std::vector<std::pair<std::string, std::string>>& extra = {});

}  // namespace kiln
