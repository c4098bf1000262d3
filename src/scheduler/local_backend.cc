#include "scheduler/local_backend.h"

#include <cctype>
#include <set>
#include <thread>

#include "base/fs.h"

namespace kiln {

LocalBackend::LocalBackend(LocalBackendOptions options) : options_(std::move(options)) {}

LocalBackend::~LocalBackend() { Shutdown(); }

std::string LocalBackend::Key(const std::string& name) {
  std::string key = name;
  for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return key;
}

Status LocalBackend::CheckFits(const JobSpec& spec) {
  if (spec.instance_count <= options_.max_instances) return Status::Ok();
  std::lock_guard<std::mutex> lock(mu_);
  // The same words as SageMaker's account-level limit, so users recognise it.
  return Status::ResourceExhausted(
      "The account-level service limit 'Number of instances across all processing jobs' is " +
      std::to_string(options_.max_instances) + " Instances, with current utilization of " +
      std::to_string(used_instances_) + " Instances and a request delta of " +
      std::to_string(spec.instance_count) +
      " Instances. Raise the server's --max-instances to run this job.");
}

Status LocalBackend::Submit(const std::string& job_name) {
  ASSIGN_OR_RETURN(JobRecord record, options_.context.store->Get(job_name));
  ASSIGN_OR_RETURN(JobSpec spec, JobSpecFromRequest(record.request));
  auto runner = std::make_shared<JobRunner>(&options_.context, std::move(record), std::move(spec));
  std::lock_guard<std::mutex> lock(mu_);
  if (shutting_down_) return Status::Unavailable("the server is shutting down");
  std::string key = Key(job_name);
  active_[key] = Active{runner, false, 0};
  queue_.push_back(key);
  DispatchLocked();
  return Status::Ok();
}

void LocalBackend::DispatchLocked() {
  while (!queue_.empty() && !shutting_down_) {
    auto it = active_.find(queue_.front());
    if (it == active_.end()) {
      queue_.pop_front();
      continue;
    }
    int need = it->second.runner->instance_count();
    if (used_instances_ + need > options_.max_instances) return;  // first come, first served
    queue_.pop_front();
    LaunchLocked(it->second, need, [](JobRunner& r) { r.Run(); });
  }
}

void LocalBackend::LaunchLocked(Active& active, int reserve, std::function<void(JobRunner&)> body) {
  active.started = true;
  active.reserved = reserve;
  used_instances_ += reserve;
  ++threads_running_;
  std::shared_ptr<JobRunner> runner = active.runner;
  std::thread([this, runner, body = std::move(body)] {
    body(*runner);
    Finished(Key(runner->name()));
  }).detach();
}

void LocalBackend::Finished(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = active_.find(key);
  if (it != active_.end()) {
    used_instances_ -= it->second.reserved;
    active_.erase(it);
  }
  --threads_running_;
  DispatchLocked();
  threads_done_.notify_all();
}

Status LocalBackend::Stop(const std::string& job_name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = active_.find(Key(job_name));
  if (it == active_.end()) {
    return Status::InvalidArgument("The request was rejected because the processing job " +
                                   job_name + " is not running.");
  }
  RETURN_IF_ERROR(it->second.runner->RequestStop());
  if (!it->second.started) {
    // A queued job stops at once: it has no instances, so it needs no capacity.
    std::erase(queue_, it->first);
    LaunchLocked(it->second, 0, [](JobRunner& r) { r.Run(); });
  }
  return Status::Ok();
}

Status LocalBackend::Remove(const JobRecord& record) {
  auto layout = record.backend_state.find("layout");
  if (layout == record.backend_state.end()) return Status::Ok();
  auto parsed = JobLayout::FromJson(*layout);
  if (!parsed.ok()) return Status::Ok();
  return RemoveAll(parsed->job_dir);
}

Status LocalBackend::Recover() {
  const RunnerContext& ctx = options_.context;
  ASSIGN_OR_RETURN(std::vector<JobRecord> unfinished, ctx.store->ListUnfinished());
  std::set<std::string> live_networks;  // tags of the networks of re-attached jobs
  for (JobRecord& record : unfinished) {
    std::string name = record.name;
    auto spec = JobSpecFromRequest(record.request);
    if (!spec.ok()) continue;  // cannot happen for a stored job; leave it for an operator
    std::string phase = record.backend_state.value("phase", "");
    std::string runtime_name = record.backend_state.value("runtime", "");
    auto runner = std::make_shared<JobRunner>(&ctx, record, std::move(spec).value());

    if (phase != "running") {
      // Never started: run it again from the start (or stop it, if that was asked for).
      std::lock_guard<std::mutex> lock(mu_);
      active_[Key(name)] = Active{runner, false, 0};
      queue_.push_back(Key(name));
      continue;
    }

    auto runtime = ctx.runtimes.find(runtime_name);
    auto layout = JobLayout::FromJson(record.backend_state.value("layout", nlohmann::json()));
    std::vector<std::unique_ptr<Instance>> instances;
    std::string lost;
    if (runtime == ctx.runtimes.end() || !layout.ok()) {
      lost = "its runtime state could not be read";
    } else {
      for (const InstanceLayout& inst : layout->instances) {
        auto recovered = runtime->second->Recover(inst.runtime_dir());
        if (!recovered.ok()) {
          lost = "instance " + inst.host + " was no longer running";
          break;
        }
        instances.push_back(std::move(recovered).value());
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    Active& active = active_[Key(name)];
    active.runner = runner;
    if (!lost.empty()) {
      for (auto& instance : instances) (void)instance->Kill();
      std::string reason =
          "ServerRestart: the Kiln server restarted while the job ran, and " + lost;
      LaunchLocked(active, 0, [reason](JobRunner& r) { r.FailNow(reason); });
      continue;
    }
    live_networks.insert(NetworkNamesFor(ctx, *layout).tag);
    // Re-attached instances hold capacity even if that oversubscribes the machine for a while.
    auto shared = std::make_shared<std::vector<std::unique_ptr<Instance>>>(std::move(instances));
    LaunchLocked(active, runner->instance_count(),
                 [shared](JobRunner& r) { r.Resume(std::move(*shared)); });
  }
  if (ctx.private_networks) {
    // What a crash left: networks of jobs that ended or never started (they get a new one).
    auto removed = RemoveStaleJobNetworks(
        ctx.network_options, JobNetworkNames::For(ctx.jobs_root, "").owner, live_networks);
    if (!removed.ok()) return removed.status().WithPrefix("remove stale job networks");
  }
  std::lock_guard<std::mutex> lock(mu_);
  DispatchLocked();
  return Status::Ok();
}

void LocalBackend::Shutdown() {
  std::unique_lock<std::mutex> lock(mu_);
  shutting_down_ = true;
  for (auto& [key, active] : active_) active.runner->Abandon();
  threads_done_.wait(lock, [this] { return threads_running_ == 0; });
}

int LocalBackend::used_instances() {
  std::lock_guard<std::mutex> lock(mu_);
  return used_instances_;
}

}  // namespace kiln
