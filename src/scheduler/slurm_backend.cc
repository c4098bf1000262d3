#include "scheduler/slurm_backend.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "base/fs.h"
#include "base/log_stream.h"
#include "scheduler/agent_runtimes.h"
#include "scheduler/job_environment.h"

namespace kiln {
namespace {

using nlohmann::json;

constexpr size_t kMaxReasonBytes = 1024;
// A job that squeue no longer lists this long after submission has left Slurm's memory.
constexpr int64_t kForgottenAfterMs = 10000;

std::string Truncate(std::string s, size_t max) {
  if (s.size() <= max) return s;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  return s;
}

// InProgress → anything else; Stopping → Stopped or Failed; terminal states are final.
bool MayTransition(JobStatus from, JobStatus to) {
  if (from == JobStatus::kInProgress) return to != JobStatus::kInProgress;
  if (from == JobStatus::kStopping) return to == JobStatus::kStopped || to == JobStatus::kFailed;
  return false;
}

// The environment of an instance, in the local backend's order: the image's, the platform's, the
// services' (§8.17, pointing at `endpoint`), then the request's, whose PYTHONPATH extends the
// services' rather than replacing it.
EnvList InstanceEnvironment(const RunnerContext& ctx, const JobSpec& spec, const EnvList& image_env,
                            const std::string& endpoint, const JobCredential* job_key) {
  EnvList env = image_env;
  env.insert(env.end(), ctx.platform_env.begin(), ctx.platform_env.end());
  bool services_pythonpath = false;
  EnvList services;
  if (!spec.network_isolation) {
    services = ServiceEnvironment(ctx.services, endpoint, job_key, spec.environment);
  } else if (!ctx.services.python_dir.empty()) {
    services.emplace_back("PYTHONPATH", JobPythonPath(spec.environment));
  }
  for (auto& kv : services) {
    services_pythonpath |= kv.first == "PYTHONPATH";
    env.push_back(std::move(kv));
  }
  for (const auto& kv : spec.environment) {
    if (kv.first == "PYTHONPATH" && services_pythonpath) continue;
    env.push_back(kv);
  }
  return env;
}

}  // namespace

std::string AgentEndpointFor(const std::string& configured, const std::string& server_url) {
  if (configured.empty()) return server_url;
  size_t scheme = configured.find("://");
  size_t host_start = scheme == std::string::npos ? 0 : scheme + 3;
  size_t host_end = configured.find('/', host_start);
  std::string authority = configured.substr(host_start, host_end - host_start);
  size_t bracket = authority.rfind(']');
  size_t colon = authority.rfind(':');
  if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
    return configured;
  }
  size_t port_at = server_url.rfind(':');
  std::string port = port_at == std::string::npos ? "" : server_url.substr(port_at + 1);
  while (!port.empty() && port.back() == '/') port.pop_back();
  std::string base =
      configured.substr(0, host_end == std::string::npos ? configured.size() : host_end);
  return port.empty() ? configured : base + ":" + port;
}

struct SlurmBackend::Job {
  JobRecord record;  // guarded by SlurmBackend::mu_
  JobSpec spec;
  JobLayout layout;
  std::vector<std::string> argv;
  ImageConfig image;     // as the catalog resolved it at submission
  std::string slurm_id;  // empty until sbatch returned
  JobCredential agent_key;
  std::optional<JobCredential> job_key;
  int64_t submitted_ms = 0;
  bool terminate_sent = false;
  bool cancel_sent = false;
  bool timed_out = false;
  std::optional<int64_t> cancel_at_ms;
  std::mutex log_mu;  // serialises appends to this job's log streams
};

SlurmBackend::SlurmBackend(SlurmBackendOptions options) : options_(std::move(options)) {}

SlurmBackend::~SlurmBackend() { Shutdown(); }

std::string SlurmBackend::Key(const std::string& name) {
  std::string key = name;
  for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return key;
}

std::shared_ptr<SlurmBackend::Job> SlurmBackend::FindLocked(const std::string& job_name) {
  auto it = jobs_.find(Key(job_name));
  return it == jobs_.end() ? nullptr : it->second;
}

Status SlurmBackend::CheckFits(const JobSpec&) { return Status::Ok(); }

Status SlurmBackend::PersistLocked(Job& job, const std::function<void(JobRecord&)>& mutate) {
  JobRecord next = job.record;
  mutate(next);
  next.last_modified_time_ms =
      std::max(options_.context.clock->NowMillis(), job.record.last_modified_time_ms);
  RETURN_IF_ERROR(options_.context.store->Update(next));
  job.record = std::move(next);
  return Status::Ok();
}

Status SlurmBackend::TransitionLocked(Job& job, JobStatus to, const std::string& reason,
                                      const std::optional<std::string>& exit_message) {
  if (!MayTransition(job.record.status, to)) {
    return Status::FailedPrecondition("job " + job.record.name + " cannot go from " +
                                      JobStatusName(job.record.status) + " to " +
                                      JobStatusName(to));
  }
  const int64_t now = options_.context.clock->NowMillis();
  return PersistLocked(job, [&](JobRecord& r) {
    r.status = to;
    if (to == JobStatus::kStopping) r.stop_requested = true;
    if (IsTerminal(to)) {
      r.end_time_ms = now;
      if (!reason.empty()) r.failure_reason = Truncate(reason, kMaxReasonBytes);
      if (exit_message) r.exit_message = *exit_message;
      r.backend_state["phase"] = "done";
      r.backend_state.erase("agent_credential");
      r.backend_state.erase("job_credential");
    }
  });
}

void SlurmBackend::FinishLocked(Job& job, JobStatus status, const std::string& reason,
                                const std::optional<std::string>& exit_message) {
  if (!IsTerminal(job.record.status)) {
    if (job.record.status == JobStatus::kStopping && status == JobStatus::kCompleted) {
      status = JobStatus::kStopped;
    }
    Status st = TransitionLocked(job, status, reason, exit_message);
    if (!st.ok()) spdlog::error("job {}: {}", job.record.name, st.ToString());
  }
  if (JobCredentials* keys = options_.context.services.credentials; keys != nullptr) {
    keys->Revoke(job.record.name);
    keys->Revoke(AgentPrincipal(job.record.name));
  }
  jobs_.erase(Key(job.record.name));
}

Result<std::shared_ptr<SlurmBackend::Job>> SlurmBackend::MakeJob(JobRecord record) {
  const RunnerContext& ctx = options_.context;
  auto job = std::make_shared<Job>();
  ASSIGN_OR_RETURN(job->spec, JobSpecFromRequest(record.request));
  job->record = std::move(record);
  auto stored = job->record.backend_state.find("layout");
  if (stored != job->record.backend_state.end()) {
    auto layout = JobLayout::FromJson(*stored);
    if (layout.ok()) job->layout = std::move(layout).value();
  }
  if (job->layout.instances.empty()) {
    job->layout = JobLayout::Plan(ctx.jobs_root, job->record, job->spec.instance_count,
                                  ctx.clock->NowMillis() / 1000);
  }
  auto image = ctx.catalog->Resolve(job->spec.image_uri);
  if (!image.ok()) return Status::InvalidArgument("ClientError: " + image.status().message());
  if (!AgentRunsRuntime(image->runtime)) {
    return Status::InvalidArgument("ClientError: image " + job->spec.image_uri +
                                   " maps to the runtime '" + image->runtime +
                                   "', which the Slurm backend's agents do not run");
  }
  auto argv = ResolveCommand(*image, job->spec.entrypoint, job->spec.arguments);
  if (!argv.ok()) return Status::InvalidArgument("ClientError: " + argv.status().message());
  job->argv = std::move(argv).value();
  job->image = std::move(image).value();
  if (job->image.working_dir.empty()) job->image.working_dir = "/";
  // The agents find the image's root at this path on their nodes (shared storage).
  if (!job->image.rootfs.empty()) {
    job->image.rootfs = std::filesystem::absolute(job->image.rootfs).lexically_normal().string();
  }
  return job;
}

void SlurmBackend::RegisterKeys(const Job& job) {
  JobCredentials* keys = options_.context.services.credentials;
  if (keys == nullptr) return;
  keys->Register(AgentPrincipal(job.record.name), job.agent_key);
  if (job.job_key) keys->Register(job.record.name, *job.job_key);
}

Status SlurmBackend::Submit(const std::string& job_name) {
  ASSIGN_OR_RETURN(JobRecord record, options_.context.store->Get(job_name));
  auto job = MakeJob(record);
  if (!job.ok()) {
    auto failed = std::make_shared<Job>();
    failed->record = std::move(record);
    std::lock_guard<std::mutex> lock(mu_);
    FinishLocked(*failed, JobStatus::kFailed, job.status().message());
    return Status::Ok();
  }
  return SubmitJob(std::move(job).value());
}

Status SlurmBackend::SubmitJob(std::shared_ptr<Job> job) {
  const RunnerContext& ctx = options_.context;
  job->agent_key = JobCredential::Generate();
  if (!job->spec.network_isolation && ctx.services.credentials != nullptr &&
      !ctx.services.external_s3()) {
    job->job_key = JobCredential::Generate();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutting_down_) return Status::Unavailable("the server is shutting down");
    if (job->record.stop_requested) {
      FinishLocked(*job, JobStatus::kStopped, "");
      return Status::Ok();
    }
    Status planned = PersistLocked(*job, [&](JobRecord& r) {
      r.backend_state["backend"] = "slurm";
      r.backend_state["phase"] = "submitting";
      r.backend_state["layout"] = job->layout.ToJson();
      r.backend_state["agent_credential"] = job->agent_key.ToJson();
      if (job->job_key) r.backend_state["job_credential"] = job->job_key->ToJson();
    });
    if (!planned.ok()) return planned;
    jobs_[Key(job->record.name)] = job;
    RegisterKeys(*job);
  }
  Status dirs = MakeDirs(job->layout.job_dir + "/logs");

  SlurmSubmission submission;
  submission.job_name = job->record.name;
  submission.nodes = job->spec.instance_count;
  submission.max_runtime_seconds = job->spec.max_runtime_seconds;
  submission.time_margin_minutes = options_.time_margin_minutes;
  submission.kiln_path = options_.kiln_path;
  submission.agent_endpoint = options_.agent_endpoint();
  submission.scratch_dir = options_.node_scratch_dir;
  submission.comment = SubmissionComment(*job);
  if (!options_.batch_output_dir.empty()) {
    submission.output_path =
        options_.batch_output_dir + "/kiln-" + Key(job->record.name) + "-%j.out";
  }
  std::vector<std::string> argv = {options_.slurm.sbatch};
  for (std::string& a : BuildSbatchArgs(options_.slurm, submission)) argv.push_back(std::move(a));
  // The agent key travels in the batch job's environment, never on a command line.
  auto env = SlurmClientEnv(options_.slurm, {{kAgentAccessKeyEnv, job->agent_key.access_key_id},
                                             {kAgentSecretKeyEnv, job->agent_key.secret_access_key},
                                             {kAgentRegionEnv, ctx.services.region}});
  Result<std::string> id = Status::Internal("not run");
  if (!dirs.ok()) {
    id = dirs;
  } else if (auto ran = RunCommand(argv, env, BuildBatchScript(submission)); !ran.ok()) {
    id = ran.status();
  } else if (ran->exit_code != 0) {
    id = Status::Unavailable("sbatch exited " + std::to_string(ran->exit_code) + ": " + ran->err);
  } else {
    id = ParseSbatchJobId(ran->out);
  }

  std::lock_guard<std::mutex> lock(mu_);
  if (!id.ok()) {
    FinishLocked(
        *job, JobStatus::kFailed,
        "InternalServerError: could not submit the job to Slurm: " + id.status().message());
    return Status::Ok();
  }
  job->slurm_id = *id;
  job->submitted_ms = ctx.clock->NowMillis();
  Status st = PersistLocked(*job, [&](JobRecord& r) {
    r.backend_state["phase"] = "submitted";
    r.backend_state["slurm_job_id"] = *id;
  });
  if (!st.ok()) spdlog::error("job {}: {}", job->record.name, st.ToString());
  spdlog::info("job {} is Slurm job {}", job->record.name, *id);
  StartPollerLocked();
  wake_.notify_all();
  return Status::Ok();
}

Status SlurmBackend::Stop(const std::string& job_name) {
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<Job> job = FindLocked(job_name);
  if (job == nullptr) {
    return Status::InvalidArgument("The request was rejected because the processing job " +
                                   job_name + " is not running.");
  }
  if (job->record.status == JobStatus::kStopping) return Status::Ok();
  RETURN_IF_ERROR(TransitionLocked(*job, JobStatus::kStopping, ""));
  wake_.notify_all();  // the poller signals the agents
  return Status::Ok();
}

Status SlurmBackend::Remove(const JobRecord& record) {
  auto layout = record.backend_state.find("layout");
  if (layout == record.backend_state.end()) return Status::Ok();
  auto parsed = JobLayout::FromJson(*layout);
  if (!parsed.ok()) return Status::Ok();
  return RemoveAll(parsed->job_dir);
}

std::string SlurmBackend::SubmissionComment(const Job& job) {
  // The agent key is made anew for every submission and stored before sbatch runs; its id is no
  // secret (requests carry it in the clear).
  return "kiln-submission:" + job.agent_key.access_key_id;
}

std::map<std::string, SlurmJobInfo> SlurmBackend::ListSlurmJobs() {
  auto ran = RunCommand({options_.slurm.squeue, "--json"}, SlurmClientEnv(options_.slurm));
  if (ran.ok() && ran->exit_code == 0) {
    auto parsed = ParseSqueueJson(ran->out);
    if (parsed.ok()) return std::move(parsed).value();
  }
  spdlog::warn("squeue failed: {}", ran.ok() ? ran->err : ran.status().ToString());
  return {};
}

std::string SlurmBackend::FindSubmission(const std::map<std::string, SlurmJobInfo>& queue,
                                         const Job& job) {
  for (const auto& [id, info] : queue) {
    if (info.name == "kiln-" + job.record.name && info.comment == SubmissionComment(job) &&
        !IsSlurmStateFinal(info.state)) {
      return id;
    }
  }
  return "";
}

Status SlurmBackend::Recover() {
  ASSIGN_OR_RETURN(std::vector<JobRecord> unfinished, options_.context.store->ListUnfinished());
  std::optional<std::map<std::string, SlurmJobInfo>> queue;  // squeue, once it is needed
  for (JobRecord& record : unfinished) {
    const json& state = record.backend_state;
    const bool ours = state.value("backend", "") == "slurm";
    if (!ours && state.value("phase", "") == "running") {
      auto stale = std::make_shared<Job>();
      stale->record = std::move(record);
      std::lock_guard<std::mutex> lock(mu_);
      FinishLocked(*stale, JobStatus::kFailed,
                   "ServerRestart: the job ran on the local backend and the server restarted with "
                   "the Slurm backend");
      continue;
    }
    auto job = MakeJob(record);
    if (!job.ok()) {
      auto failed = std::make_shared<Job>();
      failed->record = std::move(record);
      std::lock_guard<std::mutex> lock(mu_);
      FinishLocked(*failed, JobStatus::kFailed, job.status().message());
      continue;
    }
    std::shared_ptr<Job> adopted = std::move(job).value();
    std::string slurm_id = ours ? state.value("slurm_job_id", "") : "";
    auto agent_key = JobCredential::FromJson(state.value("agent_credential", json()));
    if (slurm_id.empty() && agent_key.ok() && state.value("phase", "") == "submitting") {
      // A crash may have come between sbatch and storing its id: the batch job then runs under
      // the comment of this very submission.
      adopted->agent_key = *agent_key;
      if (!queue.has_value()) queue = ListSlurmJobs();
      slurm_id = FindSubmission(*queue, *adopted);
      if (!slurm_id.empty()) {
        std::lock_guard<std::mutex> lock(mu_);
        Status st = PersistLocked(*adopted, [&](JobRecord& r) {
          r.backend_state["phase"] = "submitted";
          r.backend_state["slurm_job_id"] = slurm_id;
        });
        if (!st.ok()) spdlog::error("job {}: {}", adopted->record.name, st.ToString());
        spdlog::info("job {} was already Slurm job {}", adopted->record.name, slurm_id);
      }
    }
    if (slurm_id.empty() || !agent_key.ok()) {
      // Never reached Slurm: the poller submits it once the server listens (its agents need the
      // server's endpoint).
      std::lock_guard<std::mutex> lock(mu_);
      to_submit_.push_back(std::move(adopted));
      continue;
    }
    adopted->slurm_id = slurm_id;
    adopted->agent_key = *agent_key;
    if (auto job_key = JobCredential::FromJson(state.value("job_credential", json()));
        job_key.ok()) {
      adopted->job_key = *job_key;
    }
    adopted->submitted_ms = options_.context.clock->NowMillis();
    std::lock_guard<std::mutex> lock(mu_);
    jobs_[Key(adopted->record.name)] = adopted;
    RegisterKeys(*adopted);
  }
  std::lock_guard<std::mutex> lock(mu_);
  StartPollerLocked();
  return Status::Ok();
}

void SlurmBackend::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutting_down_ = true;
  }
  wake_.notify_all();
  if (poller_.joinable()) poller_.join();
}

Result<AgentAssignment> SlurmBackend::GetAssignment(const std::string& job_name, int host_index,
                                                    const std::string& cluster_job_id) {
  const RunnerContext& ctx = options_.context;
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<Job> job = FindLocked(job_name);
  if (job == nullptr || IsTerminal(job->record.status)) {
    return Status::FailedPrecondition("job " + job_name + " is not running");
  }
  if (job->record.stop_requested) return Status::FailedPrecondition("job " + job_name + " stops");
  if (cluster_job_id != job->slurm_id) {
    return Status::FailedPrecondition("job " + job_name + " is Slurm job " + job->slurm_id +
                                      ", not " + cluster_job_id);
  }
  if (host_index < 0 || host_index >= job->spec.instance_count) {
    return Status::InvalidArgument("job " + job_name + " has no instance " +
                                   std::to_string(host_index + 1));
  }
  if (!job->record.start_time_ms) {
    RETURN_IF_ERROR(PersistLocked(*job, [&](JobRecord& r) {
      r.start_time_ms = ctx.clock->NowMillis();
      r.backend_state["phase"] = "running";
    }));
  }
  AgentAssignment a;
  a.job_name = job->record.name;
  a.arn = job->record.arn;
  a.creation_time_ms = job->record.creation_time_ms;
  a.request = job->record.request;
  a.host_index = host_index;
  a.host_count = job->spec.instance_count;
  a.argv = job->argv;
  a.env = InstanceEnvironment(ctx, job->spec, job->image.env, options_.agent_endpoint(),
                              job->job_key ? &*job->job_key : nullptr);
  a.working_dir = job->image.working_dir;
  a.runtime = job->image.runtime;
  a.oci_runtime = options_.oci_runtime;
  a.image_root = job->image.rootfs;
  a.image_user = job->image.user;
  a.mount_job_python = !ctx.services.python_dir.empty();
  a.file_roots = options_.file_roots;
  a.stop_grace_ms = ctx.stop_grace_ms;
  if (ctx.services.external_s3()) {
    a.s3_endpoint = ctx.services.s3_endpoint;
    a.s3_region = ctx.services.region;
    a.s3_access_key_id = ctx.services.s3_access_key_id;
    a.s3_secret_access_key = ctx.services.s3_secret_access_key;
  }
  return a;
}

Status SlurmBackend::PutLogEvents(const std::string& job_name, const AgentLogBatch& batch) {
  std::shared_ptr<Job> job;
  {
    std::lock_guard<std::mutex> lock(mu_);
    job = FindLocked(job_name);
  }
  if (job == nullptr) return Status::FailedPrecondition("job " + job_name + " is not running");
  if (batch.host_index < 0 || batch.host_index >= static_cast<int>(job->layout.instances.size())) {
    return Status::InvalidArgument("job " + job_name + " has no such instance");
  }
  std::lock_guard<std::mutex> log_lock(job->log_mu);
  ASSIGN_OR_RETURN(LogStreamWriter writer,
                   LogStreamWriter::Open(job->layout.instances[batch.host_index].log_path));
  for (const LogEvent& e : batch.events) RETURN_IF_ERROR(writer.Append(e.timestamp_ms, e.message));
  // Acknowledged events survive a crash of the server's machine.
  return writer.Sync();
}

Status SlurmBackend::ReportExit(const std::string& job_name, const AgentExitReport& report) {
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<Job> job = FindLocked(job_name);
  if (job == nullptr) return Status::FailedPrecondition("job " + job_name + " is not running");
  if (report.host_index < 0 || report.host_index >= job->spec.instance_count) {
    return Status::InvalidArgument("job " + job_name + " has no such instance");
  }
  const std::string host = std::to_string(report.host_index);
  json reports = job->record.backend_state.value("reports", json::object());
  if (reports.contains(host)) return Status::Ok();
  json entry = report.ToJson();
  entry["Order"] = reports.size() + 1;
  RETURN_IF_ERROR(
      PersistLocked(*job, [&](JobRecord& r) { r.backend_state["reports"][host] = entry; }));
  wake_.notify_all();
  return Status::Ok();
}

void SlurmBackend::StartPollerLocked() {
  if (poller_started_ || shutting_down_) return;
  poller_started_ = true;
  poller_ = std::thread([this] { PollLoop(); });
}

void SlurmBackend::RunSlurm(const std::vector<std::string>& argv) {
  auto ran = RunCommand(argv, SlurmClientEnv(options_.slurm));
  if (!ran.ok()) {
    spdlog::warn("{}: {}", argv[0], ran.status().ToString());
  } else if (ran->exit_code != 0) {
    spdlog::warn("{} exited {}: {}", argv[0], ran->exit_code, ran->err);
  }
}

void SlurmBackend::PollLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!shutting_down_) {
    if (!to_submit_.empty()) {
      std::vector<std::shared_ptr<Job>> submit;
      submit.swap(to_submit_);
      lock.unlock();
      for (auto& job : submit) {
        Status st = SubmitJob(job);
        if (!st.ok()) spdlog::error("job {}: {}", job->record.name, st.ToString());
      }
      lock.lock();
      continue;
    }
    if (jobs_.empty()) {
      wake_.wait(lock);
      continue;
    }
    lock.unlock();
    std::optional<std::map<std::string, SlurmJobInfo>> states;
    auto ran = RunCommand({options_.slurm.squeue, "--json"}, SlurmClientEnv(options_.slurm));
    if (ran.ok() && ran->exit_code == 0) {
      auto parsed = ParseSqueueJson(ran->out);
      if (parsed.ok()) states = std::move(parsed).value();
    } else {
      spdlog::warn("squeue failed: {}", ran.ok() ? ran->err : ran.status().ToString());
    }
    lock.lock();
    Commands commands;
    const int64_t now = options_.context.clock->NowMillis();
    std::vector<std::shared_ptr<Job>> jobs;
    for (auto& [key, job] : jobs_) jobs.push_back(job);
    for (auto& job : jobs) EvaluateLocked(*job, states ? &*states : nullptr, now, &commands);
    lock.unlock();
    for (const auto& command : commands) RunSlurm(command);
    lock.lock();
    if (commands.empty() && !shutting_down_) {
      wake_.wait_for(lock, std::chrono::milliseconds(options_.poll_interval_ms));
    }
  }
}

void SlurmBackend::EvaluateLocked(Job& job, const std::map<std::string, SlurmJobInfo>* states,
                                  int64_t now, Commands* commands) {
  if (job.slurm_id.empty()) return;  // sbatch still running
  const json reports = job.record.backend_state.value("reports", json::object());
  if (static_cast<int>(reports.size()) >= job.spec.instance_count) {
    return FinalizeLocked(job, "");
  }
  std::string slurm_state;
  if (states != nullptr) {
    auto it = states->find(job.slurm_id);
    if (it != states->end()) {
      slurm_state = it->second.state;
    } else if (now - job.submitted_ms > kForgottenAfterMs) {
      slurm_state = "UNKNOWN";
    }
  }
  if (!slurm_state.empty() && IsSlurmStateFinal(slurm_state)) {
    return FinalizeLocked(job, slurm_state);
  }
  if (job.record.start_time_ms && job.record.status == JobStatus::kInProgress &&
      now >= *job.record.start_time_ms + job.spec.max_runtime_seconds * 1000) {
    job.timed_out = true;
    (void)TransitionLocked(job, JobStatus::kStopping, "");
  }
  bool any_failed = false;
  for (const auto& [host, entry] : reports.items()) {
    auto report = AgentExitReport::FromJson(entry);
    any_failed |= report.ok() && report->Failed();
  }
  // A stop, a timeout or one failed instance ends the whole job, as on the local backend.
  if (!job.terminate_sent && (job.record.status == JobStatus::kStopping || any_failed)) {
    job.terminate_sent = true;
    if (slurm_state == "PENDING") {
      commands->push_back({options_.slurm.scancel, job.slurm_id});
      job.cancel_sent = true;
    } else {
      commands->push_back({options_.slurm.scancel, "--signal=TERM", job.slurm_id});
      job.cancel_at_ms = now + options_.context.stop_grace_ms + options_.cancel_backstop_ms;
    }
  }
  if (job.cancel_at_ms && now >= *job.cancel_at_ms && !job.cancel_sent) {
    job.cancel_sent = true;
    commands->push_back({options_.slurm.scancel, job.slurm_id});
  }
}

std::string SlurmBackend::FailureFromReportsLocked(const Job& job) {
  const json reports = job.record.backend_state.value("reports", json::object());
  std::vector<std::pair<int64_t, AgentExitReport>> by_order;
  for (const auto& [host, entry] : reports.items()) {
    auto report = AgentExitReport::FromJson(entry);
    if (report.ok()) by_order.emplace_back(entry.value("Order", int64_t{0}), *report);
  }
  std::sort(by_order.begin(), by_order.end(),
            [](const auto& a, const auto& b) { return a.second.host_index < b.second.host_index; });
  // The agent's own reasons and the instance's environment first, in host order, as the local
  // backend does; then the first instance to fail on its own.
  for (const auto& [order, r] : by_order) {
    const std::string host = "algo-" + std::to_string(r.host_index + 1);
    if (!r.failure_reason.empty()) return r.failure_reason;
    if (r.oom_killed) {
      return "OutOfMemory: " + host + " was killed by the out-of-memory killer (instance type " +
             job.spec.instance_type + ")";
    }
    if (!r.error.empty()) return "InternalServerError: " + host + ": " + r.error;
  }
  std::sort(by_order.begin(), by_order.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [order, r] : by_order) {
    if (r.exit_code == 0) continue;
    std::string detail = job.record.exit_message.empty() ? "see job logs" : job.record.exit_message;
    std::string code = r.term_signal != 0 ? "signal " + std::to_string(r.term_signal)
                                          : "exit code " + std::to_string(r.exit_code);
    return "AlgorithmError: " + detail + " (" + code + " on algo-" +
           std::to_string(r.host_index + 1) + ")";
  }
  return "";
}

void SlurmBackend::FinalizeLocked(Job& job, const std::string& slurm_state) {
  const json reports = job.record.backend_state.value("reports", json::object());
  // The ExitMessage: every instance's message in host order, cut like the local backend's.
  std::vector<std::string> missing;
  for (size_t i = 0; i < job.layout.instances.size(); ++i) {
    const InstanceLayout& inst = job.layout.instances[i];
    auto entry = reports.find(std::to_string(i));
    if (entry == reports.end()) missing.push_back(inst.host);
    std::string message = entry == reports.end() ? "" : entry->value("Message", "");
    if (MakeDirs(inst.output_dir()).ok()) {
      (void)WriteFileAtomically(inst.output_dir() + "/message", message);
    }
  }
  auto exit_message = CollectExitMessage(job.layout);
  if (exit_message.ok()) job.record.exit_message = *exit_message;

  JobStatus status = JobStatus::kCompleted;
  std::string reason;
  if (job.record.stop_requested) {
    status = JobStatus::kStopped;
    if (job.timed_out) {
      reason = "MaxRuntimeExceeded: the job ran longer than MaxRuntimeInSeconds (" +
               std::to_string(job.spec.max_runtime_seconds) + " s)";
    }
  } else if (reason = FailureFromReportsLocked(job); !reason.empty()) {
    status = JobStatus::kFailed;
  } else if (!missing.empty()) {
    status = JobStatus::kFailed;
    std::string hosts;
    for (const std::string& h : missing) hosts += (hosts.empty() ? "" : ", ") + h;
    reason = "InternalServerError: Slurm job " + job.slurm_id + " ended (" + slurm_state +
             ") before the kiln agent of " + hosts +
             " reported how its instance ended: the node was lost or the agent was killed";
  } else if (!exit_message.ok()) {
    status = JobStatus::kFailed;
    reason = "ClientError: " + exit_message.status().message();
  }
  FinishLocked(job, status, reason,
               exit_message.ok() ? std::optional<std::string>(*exit_message) : std::nullopt);
}

}  // namespace kiln
