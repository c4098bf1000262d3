#include "scheduler/job_runner.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "base/fs.h"
#include "base/log_stream.h"
#include "storage/staging.h"

namespace kiln {
namespace {

constexpr size_t kMaxReasonBytes = 1024;
constexpr int64_t kMaxWaitSliceMs = 1000;
// How long a job starting right after a restart waits for the server to bind its port.
constexpr std::chrono::seconds kEndpointWait{10};

bool FeederFailed(const std::optional<Status>& result) {
  return result && !result->ok() && result->code() != StatusCode::kCancelled;
}

// The first Pipe-mode input the instances read from a FIFO, or nullptr.
const InputSpec* FirstPipeInput(const JobSpec& spec) {
  for (const InputSpec& in : spec.inputs) {
    if (!in.app_managed && in.input_mode == "Pipe") return &in;
  }
  return nullptr;
}

std::string Truncate(std::string s, size_t max) {
  if (s.size() <= max) return s;
  size_t cut = max;
  // Do not cut a UTF-8 character in half.
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  return s;
}

bool AllowedTransition(JobStatus from, JobStatus to) {
  switch (from) {
    case JobStatus::kInProgress:
      return to != JobStatus::kInProgress;
    case JobStatus::kStopping:
      return to == JobStatus::kStopped || to == JobStatus::kFailed;
    default:
      return false;  // terminal states are final
  }
}

}  // namespace

JobRunner::JobRunner(const RunnerContext* ctx, JobRecord record, JobSpec spec)
    : ctx_(ctx), name_(record.name), spec_(std::move(spec)), record_(std::move(record)) {
  auto stored = record_.backend_state.find("layout");
  if (stored != record_.backend_state.end()) {
    auto layout = JobLayout::FromJson(*stored);
    if (layout.ok()) layout_ = std::move(layout).value();
  }
  if (layout_.instances.empty()) {
    layout_ = JobLayout::Plan(ctx_->jobs_root, record_, spec_.instance_count,
                              ctx_->clock->NowMillis() / 1000);
  }
}

Status JobRunner::PersistLocked(const std::function<void(JobRecord&)>& mutate) {
  JobRecord next = record_;
  mutate(next);
  next.last_modified_time_ms = std::max(ctx_->clock->NowMillis(), record_.last_modified_time_ms);
  RETURN_IF_ERROR(ctx_->store->Update(next));
  record_ = std::move(next);
  return Status::Ok();
}

Status JobRunner::TransitionLocked(JobStatus to, const std::string& failure_reason,
                                   const std::optional<std::string>& exit_message) {
  if (!AllowedTransition(record_.status, to)) {
    return Status::FailedPrecondition(std::string("job ") + name_ + " cannot go from " +
                                      JobStatusName(record_.status) + " to " + JobStatusName(to));
  }
  return PersistLocked([&](JobRecord& r) {
    r.status = to;
    if (to == JobStatus::kStopping) r.stop_requested = true;
    if (IsTerminal(to)) {
      r.end_time_ms = ctx_->clock->NowMillis();
      if (!failure_reason.empty()) r.failure_reason = Truncate(failure_reason, kMaxReasonBytes);
      if (exit_message) r.exit_message = *exit_message;
      r.backend_state["phase"] = "done";
      r.backend_state.erase("job_credential");  // revoked in Finish; no need to keep the secret
    }
  });
}

void JobRunner::Log(size_t instance, const std::string& line) {
  auto writer = LogStreamWriter::Open(layout_.instances[instance].log_path);
  if (writer.ok()) (void)writer->Append(ctx_->clock->NowMillis(), "[kiln] " + line);
}

Status JobRunner::RequestStop() {
  std::lock_guard<std::mutex> lock(mu_);
  if (record_.status == JobStatus::kStopping) return Status::Ok();
  if (IsTerminal(record_.status)) {
    return Status::InvalidArgument(
        std::string("The request was rejected because the processing job is in status ") +
        JobStatusName(record_.status) + ".");
  }
  RETURN_IF_ERROR(TransitionLocked(JobStatus::kStopping, ""));
  cv_.notify_all();
  return Status::Ok();
}

void JobRunner::Abandon() {
  std::lock_guard<std::mutex> lock(mu_);
  abandoned_ = true;
  cv_.notify_all();
}

void JobRunner::FailNow(const std::string& reason) { Finish(JobStatus::kFailed, reason); }

void JobRunner::Finish(JobStatus status, std::string failure_reason,
                       const std::optional<std::string>& exit_message) {
  std::lock_guard<std::mutex> lock(mu_);
  if (IsTerminal(record_.status)) return;
  if (record_.status == JobStatus::kStopping && status == JobStatus::kCompleted) {
    status = JobStatus::kStopped;
  }
  (void)TransitionLocked(status, failure_reason, exit_message);
  // The job's own access key dies with it (spec §8.17).
  if (ctx_->services.credentials != nullptr) ctx_->services.credentials->Revoke(name_);
}

void JobRunner::Run() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (record_.stop_requested) {
      (void)TransitionLocked(JobStatus::kStopped, "");
      return;
    }
    // The layout goes to the store with the next write ("running", or the job's end if it
    // fails before): a restart during staging stages the job again from the start, so an
    // extra store write on the way to the script would buy nothing.
    record_.backend_state["layout"] = layout_.ToJson();
  }
  auto image = ctx_->catalog->Resolve(spec_.image_uri);
  if (!image.ok()) return Finish(JobStatus::kFailed, "ClientError: " + image.status().message());
  auto runtime_it = ctx_->runtimes.find(image->runtime);
  if (runtime_it == ctx_->runtimes.end()) {
    return Finish(JobStatus::kFailed, "ClientError: image " + spec_.image_uri +
                                          " maps to the runtime '" + image->runtime +
                                          "', which this server does not run");
  }
  // This job's runtime prepares while the job stages; the others have nothing to start (their
  // standby shims and cgroup warm-ups would only compete with this job for the two CPUs).
  runtime_it->second->PrepareForStart();
  // The network is built while the sandbox is prepared and the inputs are staged: creating a
  // network namespace takes milliseconds that would otherwise delay the script.
  if (UsesPrivateNetwork()) {
    // Its hosts file lives in the job's directory.
    if (Status st = MakeDirs(layout_.job_dir); !st.ok()) {
      return Finish(JobStatus::kFailed, "InternalServerError: " + st.message());
    }
    network_setup_ = std::async(std::launch::async, [this] { return SetUpNetwork(); });
  }
  Status started = Status::Ok();
  for (size_t i = 0; i < layout_.instances.size() && started.ok(); ++i) {
    Status st = PrepareInstanceDirs(layout_, i, record_, spec_);
    if (!st.ok()) started = Status::Internal("InternalServerError: " + st.message());
  }
  if (started.ok()) started = StartInstances(*image, *runtime_it->second);
  if (!started.ok()) {
    if (network_setup_.valid()) (void)network_setup_.get();
    TearDownNetwork();
    return Finish(JobStatus::kFailed, started.message());
  }
  Supervise();
}

JobNetworkNames NetworkNamesFor(const RunnerContext& ctx, const JobLayout& layout) {
  return JobNetworkNames::For(ctx.jobs_root, layout.job_dir.substr(layout.job_dir.rfind('/') + 1));
}

bool JobRunner::UsesPrivateNetwork() const {
  return ctx_->private_networks && !spec_.network_isolation;
}

Status JobRunner::SetUpNetwork() {
  auto network = JobNetwork::Create(ctx_->network_options, NetworkNamesFor(*ctx_, layout_),
                                    layout_.Hosts(), layout_.job_dir + "/hosts");
  if (!network.ok()) return network.status();
  network_ = std::move(network).value();
  std::string url;
  EndpointPublisher* publisher = ctx_->services.endpoint_publisher;
  for (size_t i = 0; publisher != nullptr && i < network_->size(); ++i) {
    auto published = publisher->Publish(network_->NamespacePath(i), 0);
    if (!published.ok()) {
      TearDownNetwork();
      return published.status().WithPrefix("open the Kiln endpoint in the job's network");
    }
    url = *published;
  }
  network_endpoint_ = url;
  return Status::Ok();
}

void JobRunner::RestoreNetwork() {
  if (!UsesPrivateNetwork()) return;
  auto network = JobNetwork::Adopt(ctx_->network_options, NetworkNamesFor(*ctx_, layout_),
                                   layout_.Hosts(), layout_.job_dir + "/hosts");
  if (!network.ok()) return;  // its instances ran without one; nothing to reopen or remove
  network_ = std::move(network).value();
  // The instances were told this port; the restarted server may listen on another.
  uint16_t port = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    port = static_cast<uint16_t>(record_.backend_state.value("endpoint_port", 0));
  }
  EndpointPublisher* publisher = ctx_->services.endpoint_publisher;
  for (size_t i = 0; publisher != nullptr && i < network_->size(); ++i) {
    auto published = publisher->Publish(network_->NamespacePath(i), port);
    if (!published.ok()) {
      Log(i,
          "could not reopen the Kiln endpoint after the restart: " + published.status().message());
    }
  }
}

void JobRunner::TearDownNetwork() {
  if (network_ == nullptr) return;
  EndpointPublisher* publisher = ctx_->services.endpoint_publisher;
  for (size_t i = 0; publisher != nullptr && i < network_->size(); ++i) {
    publisher->Withdraw(network_->NamespacePath(i));
  }
  Status removed = network_->Destroy();
  // A leftover is removed at the next server start; the job's outcome does not depend on it.
  if (!removed.ok()) Log(0, "could not remove the job's network: " + removed.message());
  network_.reset();
}

Status JobRunner::StartInstances(const ImageConfig& image, Runtime& runtime) {
  auto argv = ResolveCommand(image, spec_.entrypoint, spec_.arguments);
  if (!argv.ok()) return Status::InvalidArgument("ClientError: " + argv.status().message());

  for (size_t i = 0; i < layout_.instances.size(); ++i) {
    Status st = StageInputs(spec_, static_cast<int>(i), layout_.instances[i].processing_dir(),
                            *ctx_->resolver, [&](const std::string& line) { Log(i, line); });
    if (!st.ok()) return Status::InvalidArgument("ClientError: " + st.message());
  }
  // FIFOs exist before the instances start, so the runtime hands them to the sandbox user.
  std::vector<std::vector<std::unique_ptr<PipeFeeder>>> feeders;
  for (size_t i = 0; i < layout_.instances.size(); ++i) {
    auto started = StartFeeders(i);
    if (!started.ok()) return Status::InvalidArgument("ClientError: " + started.status().message());
    feeders.push_back(std::move(started).value());
  }
  std::optional<JobCredential> credential;
  if (!spec_.network_isolation && ctx_->services.credentials != nullptr &&
      !ctx_->services.external_s3()) {
    credential = JobCredential::Generate();
  }
  // The network exists before the environment is built: it names the endpoint inside it.
  if (network_setup_.valid()) {
    Status network = network_setup_.get();
    if (!network.ok()) {
      return Status::Internal("InternalServerError: could not set up the job's network: " +
                              network.message());
    }
  }
  const std::string& network_endpoint = network_endpoint_;
  const auto env = InstanceEnv(image.env, credential, network_endpoint);

  ResourceLimits limits =
      LimitsForInstanceType(spec_.instance_type, ctx_->host_cpus, ctx_->host_memory_bytes);
  std::vector<InstanceSpec> specs;
  for (const InstanceLayout& inst : layout_.instances) {
    InstanceSpec s;
    s.id = layout_.job_dir.substr(layout_.job_dir.rfind('/') + 1) + "-" + inst.host;
    s.hostname = inst.host;
    s.state_dir = inst.runtime_dir();
    s.log_path = inst.log_path;
    s.argv = *argv;
    s.env = env;
    s.mounts = {{inst.processing_dir(), "/opt/ml/processing", false},
                {inst.config_dir(), "/opt/ml/config", true},
                {inst.output_dir(), "/opt/ml/output", false}};
    if (!ctx_->services.python_dir.empty()) {
      s.mounts.push_back({ctx_->services.python_dir, kJobPythonMount, true});
    }
    s.working_dir = image.working_dir.empty() ? "/" : image.working_dir;
    s.rootfs = image.rootfs;  // empty for the host runtime
    s.user = image.user;
    s.limits = limits;
    s.network_isolated = spec_.network_isolation;
    if (network_ != nullptr) {
      s.network_namespace = network_->NamespacePath(specs.size());
      s.hosts_file = network_->hosts_file();
    }
    specs.push_back(std::move(s));
  }

  std::unique_lock<std::mutex> lock(mu_);
  if (record_.stop_requested) {
    lock.unlock();
    TearDownNetwork();
    Finish(JobStatus::kStopped, "");
    return Status::Ok();
  }
  // Persisted before anything starts, so a restarted server knows where to look.
  RETURN_IF_ERROR(PersistLocked([&](JobRecord& r) {
    r.backend_state["phase"] = "running";
    r.backend_state["runtime"] = image.runtime;
    // "http://127.0.0.1:<port>", reopened on the same port after a restart.
    if (!network_endpoint.empty()) {
      r.backend_state["endpoint_port"] =
          std::atoi(network_endpoint.c_str() + network_endpoint.rfind(':') + 1);
    }
    if (credential) r.backend_state["job_credential"] = credential->ToJson();
  }));
  if (credential) ctx_->services.credentials->Register(name_, *credential);
  for (size_t i = 0; i < specs.size(); ++i) {
    auto instance = runtime.Start(specs[i]);
    if (!instance.ok()) {
      for (auto& slot : slots_) (void)slot->instance->Kill();
      lock.unlock();
      for (auto& slot : slots_) slot->instance->Wait();
      return Status::Internal("InternalServerError: could not start " + specs[i].hostname + ": " +
                              instance.status().message());
    }
    auto slot = std::make_shared<Slot>();
    slot->instance = std::move(instance).value();
    slot->feeders = std::move(feeders[i]);
    slot->feeder_results.resize(slot->feeders.size());
    slots_.push_back(std::move(slot));
  }
  // After the instances run: ProcessingStartTime tells clients (and tests) that they do.
  return PersistLocked([&](JobRecord& r) { r.start_time_ms = ctx_->clock->NowMillis(); });
}

Result<std::vector<std::unique_ptr<PipeFeeder>>> JobRunner::StartFeeders(size_t index) {
  std::vector<std::unique_ptr<PipeFeeder>> feeders;
  for (const InputSpec& in : spec_.inputs) {
    if (in.app_managed || in.input_mode != "Pipe") continue;
    ASSIGN_OR_RETURN(
        auto feeder,
        PipeFeeder::Start(spec_, static_cast<int>(index), in,
                          layout_.instances[index].processing_dir(), *ctx_->resolver,
                          [this, index](const std::string& line) { Log(index, line); }));
    feeders.push_back(std::move(feeder));
  }
  return feeders;
}

std::vector<std::pair<std::string, std::string>> JobRunner::InstanceEnv(
    const std::vector<std::pair<std::string, std::string>>& image_env,
    const std::optional<JobCredential>& credential, const std::string& network_endpoint) {
  std::vector<std::pair<std::string, std::string>> env = image_env;
  for (const auto& kv : ctx_->platform_env) env.push_back(kv);
  if (!spec_.network_isolation) {
    std::string kiln_endpoint = network_endpoint;
    if (!UsesPrivateNetwork() && ctx_->services.kiln_endpoint != nullptr) {
      kiln_endpoint = ctx_->services.kiln_endpoint->Wait(kEndpointWait);
    }
    for (auto& kv : ServiceEnvironment(ctx_->services, kiln_endpoint,
                                       credential ? &*credential : nullptr, spec_.environment)) {
      env.push_back(std::move(kv));
    }
  } else if (!ctx_->services.python_dir.empty()) {
    env.emplace_back("PYTHONPATH", JobPythonPath(spec_.environment));
  }
  // The request's Environment comes last and wins, except PYTHONPATH, which the services
  // environment already extended with the request's value.
  bool services_set_pythonpath = false;
  for (const auto& kv : env) services_set_pythonpath |= kv.first == "PYTHONPATH";
  for (const auto& kv : spec_.environment) {
    if (kv.first == "PYTHONPATH" && services_set_pythonpath) continue;
    env.push_back(kv);
  }
  return env;
}

void JobRunner::RestoreCredential() {
  if (ctx_->services.credentials == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto stored = record_.backend_state.find("job_credential");
  if (stored == record_.backend_state.end() || IsTerminal(record_.status)) return;
  auto credential = JobCredential::FromJson(*stored);
  if (credential.ok()) ctx_->services.credentials->Register(name_, *credential);
}

void JobRunner::Resume(std::vector<std::unique_ptr<Instance>> instances) {
  RestoreCredential();
  RestoreNetwork();
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& instance : instances) {
      auto slot = std::make_shared<Slot>();
      slot->instance = std::move(instance);
      slots_.push_back(std::move(slot));
    }
    // A FIFO's stream cannot be picked up where the old server left it.
    const InputSpec* pipe = FirstPipeInput(spec_);
    if (pipe != nullptr && !record_.backend_state.value("pipes_done", false)) {
      forced_failure_ = "ServerRestart: the Kiln server restarted while Pipe-mode input '" +
                        pipe->name + "' was streaming into the job";
    }
  }
  Supervise();
}

void JobRunner::Supervise() {
  std::unique_lock<std::mutex> lock(mu_);
  std::shared_ptr<JobRunner> self = shared_from_this();
  for (const auto& slot : slots_) {
    // Waiters hold the runner and the slot, so they stay valid even if supervision is abandoned.
    std::thread([self, slot] {
      ExitStatus status = slot->instance->Wait();
      // Nobody reads the FIFOs any more; their feeders finish as Cancelled unless already done.
      for (const auto& feeder : slot->feeders) feeder->Cancel();
      std::lock_guard<std::mutex> guard(self->mu_);
      slot->exit = status;
      slot->exit_order = ++self->exits_seen_;
      self->cv_.notify_all();
    }).detach();
    for (size_t k = 0; k < slot->feeders.size(); ++k) {
      std::thread([self, slot, k] {
        Status result = slot->feeders[k]->Join();
        std::lock_guard<std::mutex> guard(self->mu_);
        slot->feeder_results[k] = std::move(result);
        self->OnFeederDoneLocked();
        self->cv_.notify_all();
      }).detach();
    }
  }
  std::vector<std::string> roots;
  for (const InstanceLayout& inst : layout_.instances) roots.push_back(inst.processing_dir());
  ContinuousUploader::Options upload_options;
  upload_options.quiet_ms = ctx_->continuous_quiet_ms;
  std::unique_ptr<ContinuousUploader> uploader = ContinuousUploader::Start(
      spec_, std::move(roots), ctx_->resolver,
      [this](size_t i, const std::string& line) { Log(i, line); }, upload_options);

  const int64_t start_ms = record_.start_time_ms.value_or(ctx_->clock->NowMillis());
  const int64_t deadline_ms = start_ms + spec_.max_runtime_seconds * 1000;
  bool terminated = false;
  std::optional<int64_t> kill_at_ms;
  for (;;) {
    if (abandoned_) return;
    bool all_done = true;
    bool any_failed = !forced_failure_.empty();
    for (const auto& slot : slots_) {
      if (!slot->exit) {
        all_done = false;
      } else if (slot->exit->exit_code != 0 || !slot->exit->error.empty()) {
        any_failed = true;
      }
      for (const auto& result : slot->feeder_results) {
        if (!result) all_done = false;
        if (FeederFailed(result)) any_failed = true;
      }
    }
    if (all_done) break;
    int64_t now = ctx_->clock->NowMillis();
    if (now >= deadline_ms && record_.status == JobStatus::kInProgress) {
      timed_out_ = true;
      (void)TransitionLocked(JobStatus::kStopping, "");
    }
    // A stop, a timeout or one failed instance ends the whole job (spec §4.7, §8.2, §8.4).
    if (!terminated && (record_.status == JobStatus::kStopping || any_failed)) {
      terminated = true;
      for (const auto& slot : slots_) {
        if (!slot->exit) (void)slot->instance->Terminate();
      }
      kill_at_ms = now + ctx_->stop_grace_ms;
    }
    if (kill_at_ms && now >= *kill_at_ms) {
      for (const auto& slot : slots_) {
        if (!slot->exit) (void)slot->instance->Kill();
      }
      kill_at_ms = now + ctx_->stop_grace_ms;  // and again if it still has not gone
    }
    int64_t next = deadline_ms;
    if (kill_at_ms) next = std::min(next, *kill_at_ms);
    int64_t wait_ms = std::clamp<int64_t>(next - now, 1, kMaxWaitSliceMs);
    cv_.wait_for(lock, std::chrono::milliseconds(wait_ms));
  }
  lock.unlock();
  // Continuous outputs stop here; the sweep below uploads every file once more.
  uploader.reset();
  TearDownNetwork();

  bool failed = false;
  std::string reason = FinalFailure(&failed);
  auto message = CollectExitMessage(layout_);
  if (!message.ok() && !failed) {
    failed = true;
    reason = "ClientError: " + message.status().message();
  }
  for (size_t i = 0; i < layout_.instances.size(); ++i) {
    Status st = DeliverOutputs(spec_, layout_.instances[i].processing_dir(), *ctx_->resolver,
                               [&](const std::string& line) { Log(i, line); });
    if (!st.ok()) {
      Log(i, "output delivery failed: " + st.message());
      if (!failed) {
        failed = true;
        reason = "ClientError: " + st.message();
      }
    }
  }

  lock.lock();
  JobStatus final_status = JobStatus::kCompleted;
  if (record_.stop_requested) {
    final_status = JobStatus::kStopped;
    reason = timed_out_ ? "MaxRuntimeExceeded: the job ran longer than MaxRuntimeInSeconds (" +
                              std::to_string(spec_.max_runtime_seconds) + " s)"
                        : "";
  } else if (failed) {
    final_status = JobStatus::kFailed;
  }
  lock.unlock();
  // One write records the exit message with the terminal status.
  Finish(final_status, reason, message.ok() ? std::optional<std::string>(*message) : std::nullopt);
}

void JobRunner::OnFeederDoneLocked() {
  for (const auto& slot : slots_) {
    for (const auto& result : slot->feeder_results) {
      if (!result || !result->ok()) return;
    }
  }
  // Every stream was delivered whole: a restart from here on loses nothing.
  if (!record_.backend_state.value("pipes_done", false)) {
    (void)PersistLocked([](JobRecord& r) { r.backend_state["pipes_done"] = true; });
  }
}

std::string JobRunner::FinalFailure(bool* failed) {
  std::lock_guard<std::mutex> lock(mu_);
  *failed = false;
  if (!forced_failure_.empty()) {
    *failed = true;
    return forced_failure_;
  }
  // The first instance that failed on its own names the cause; the others were stopped by us.
  for (size_t i = 0; i < slots_.size(); ++i) {
    const ExitStatus& e = *slots_[i]->exit;
    const std::string& host = layout_.instances[i].host;
    if (e.oom_killed) {
      *failed = true;
      return "OutOfMemory: " + host + " was killed by the out-of-memory killer (instance type " +
             spec_.instance_type + ")";
    }
    if (!e.error.empty()) {
      *failed = true;
      return "InternalServerError: " + host + ": " + e.error;
    }
  }
  // A Pipe-mode input that could not be streamed is the request's data's fault, and the likely
  // reason why the job failed.
  for (const auto& slot : slots_) {
    for (const auto& result : slot->feeder_results) {
      if (FeederFailed(result)) {
        *failed = true;
        return "ClientError: " + result->message();
      }
    }
  }
  std::vector<size_t> by_exit_order(slots_.size());
  for (size_t i = 0; i < slots_.size(); ++i) by_exit_order[i] = i;
  std::sort(by_exit_order.begin(), by_exit_order.end(),
            [&](size_t a, size_t b) { return slots_[a]->exit_order < slots_[b]->exit_order; });
  for (size_t i : by_exit_order) {
    const ExitStatus& e = *slots_[i]->exit;
    if (e.exit_code == 0) continue;
    *failed = true;
    std::string detail = record_.exit_message;
    auto msg = CollectExitMessage(layout_);
    if (msg.ok() && !msg->empty()) detail = *msg;
    if (detail.empty()) detail = "see job logs";
    std::string code = e.term_signal != 0 ? "signal " + std::to_string(e.term_signal)
                                          : "exit code " + std::to_string(e.exit_code);
    return "AlgorithmError: " + detail + " (" + code + " on " + layout_.instances[i].host + ")";
  }
  return "";
}

}  // namespace kiln
