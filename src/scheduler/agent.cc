#include "scheduler/agent.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <csignal>
#include <iostream>
#include <optional>
#include <thread>

#include "base/clock.h"
#include "base/fs.h"
#include "base/log_stream.h"
#include "scheduler/continuous_uploader.h"
#include "scheduler/job_environment.h"
#include "scheduler/job_layout.h"
#include "scheduler/slurm_commands.h"
#include "storage/file_uri_resolver.h"
#include "storage/pipe_feeder.h"
#include "storage/s3_resolver.h"
#include "storage/staging.h"

namespace kiln {
namespace {

using nlohmann::json;

constexpr size_t kEventsPerBatch = 500;
constexpr int kReportAttempts = 30;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

std::string AgentHostsFile(const std::vector<std::string>& node_addresses) {
  std::string hosts = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n";
  for (size_t i = 0; i < node_addresses.size(); ++i) {
    hosts += node_addresses[i] + " algo-" + std::to_string(i + 1) + "\n";
  }
  return hosts;
}

Result<std::string> ResolveNodeAddress(const std::string& node_name) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(node_name.c_str(), nullptr, &hints, &found);
  if (rc != 0) {
    return Status::Unavailable("cannot resolve node " + node_name + ": " + ::gai_strerror(rc));
  }
  std::optional<std::string> v4, v6;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    if (ai->ai_family == AF_INET && !v4) {
      auto* sin = reinterpret_cast<sockaddr_in*>(ai->ai_addr);
      if (::inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text)) v4 = text;
    } else if (ai->ai_family == AF_INET6 && !v6) {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(ai->ai_addr);
      if (::inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof text)) v6 = text;
    }
  }
  ::freeaddrinfo(found);
  if (v4) return *v4;
  if (v6) return *v6;
  return Status::Unavailable("node " + node_name + " has no IP address");
}

Result<std::vector<std::string>> ExpandSlurmNodeList(const std::string& scontrol,
                                                     const std::string& node_list) {
  ASSIGN_OR_RETURN(CommandResult ran, RunCommand({scontrol, "show", "hostnames", node_list},
                                                 SlurmClientEnv(SlurmClientOptions{})));
  if (ran.exit_code != 0) {
    return Status::Unavailable("scontrol show hostnames " + node_list + ": " + ran.err);
  }
  std::vector<std::string> names;
  size_t start = 0;
  while (start < ran.out.size()) {
    size_t end = ran.out.find('\n', start);
    if (end == std::string::npos) end = ran.out.size();
    std::string name = ran.out.substr(start, end - start);
    if (!name.empty()) names.push_back(name);
    start = end + 1;
  }
  if (names.empty()) return Status::Unavailable("node list " + node_list + " names no node");
  return names;
}

Agent::Agent(AgentOptions options, AgentChannel* channel)
    : options_(std::move(options)), channel_(channel) {}

std::string Agent::NodeName() const {
  const size_t index = static_cast<size_t>(options_.node_index);
  return index < options_.node_names.size() ? options_.node_names[index]
                                            : "#" + std::to_string(options_.node_index);
}

void Agent::RequestStop() {
  std::lock_guard<std::mutex> lock(mu_);
  stop_requested_ = true;
  cv_.notify_all();
}

void Agent::Log(const std::string& line) {
  auto writer = LogStreamWriter::Open(log_path_);
  if (writer.ok()) (void)writer->Append(SystemClock::Default()->NowMillis(), "[kiln] " + line);
  std::cerr << "kiln agent " << host() << ": " << line << "\n";
}

bool Agent::ShipLogs() {
  for (;;) {
    auto read = ReadLogEvents(log_path_, shipped_offset_, kEventsPerBatch);
    if (!read.ok() || read->events.empty()) return read.ok();
    AgentLogBatch batch{options_.node_index, std::move(read->events)};
    auto sent = channel_->Call("PutLogEvents", batch.ToJson());
    if (!sent.ok()) {
      std::cerr << "kiln agent " << host() << ": could not ship logs: " << sent.status().message()
                << "\n";
      return false;
    }
    shipped_offset_ = read->next_offset;
  }
}

void Agent::ShipLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!shipping_done_) {
    cv_.wait_for(lock, std::chrono::milliseconds(options_.log_flush_ms));
    lock.unlock();
    ShipLogs();
    lock.lock();
  }
}

int Agent::Report(const AgentExitReport& report) {
  for (int attempt = 1; attempt <= 3 && !ShipLogs(); ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
  }
  for (int attempt = 1;; ++attempt) {
    auto sent = channel_->Call("ReportExit", report.ToJson());
    if (sent.ok()) return 0;
    if (sent.status().code() != StatusCode::kUnavailable || attempt >= kReportAttempts) {
      std::cerr << "kiln agent " << host() << ": could not report: " << sent.status().message()
                << "\n";
      return 1;
    }
    // The server may be restarting; it re-adopts the job and takes the report then.
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

int Agent::Run() {
  const json ask = {{"HostIndex", options_.node_index}, {"ClusterJobId", options_.cluster_job_id}};
  auto got = channel_->Call("GetAssignment", ask);
  // A server that just restarted may not listen yet.
  for (int attempt = 1;
       !got.ok() && got.status().code() == StatusCode::kUnavailable && attempt < kReportAttempts;
       ++attempt) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    got = channel_->Call("GetAssignment", ask);
  }
  if (!got.ok()) {
    std::cerr << "kiln agent " << host() << ": " << got.status().message() << "\n";
    // A job that ended or stops before this agent started needs nothing from it.
    return got.status().code() == StatusCode::kFailedPrecondition ? 0 : 1;
  }
  auto assignment = AgentAssignment::FromJson(*got);
  if (!assignment.ok()) {
    std::cerr << "kiln agent " << host() << ": " << assignment.status().message() << "\n";
    return 1;
  }
  const AgentAssignment& a = *assignment;
  const size_t index = static_cast<size_t>(options_.node_index);

  JobRecord record;
  record.name = a.job_name;
  record.arn = a.arn;
  record.creation_time_ms = a.creation_time_ms;
  record.request = a.request;
  JobLayout layout;
  // Named after the job's creation too: Slurm job ids repeat across clusters and restarts.
  layout.job_dir = options_.scratch_dir + "/kiln-" + Lower(a.job_name) + "-" +
                   std::to_string(a.creation_time_ms) + "-" + options_.cluster_job_id;
  for (int i = 0; i < a.host_count; ++i) {
    InstanceLayout inst;
    inst.host = "algo-" + std::to_string(i + 1);
    inst.dir = layout.job_dir + "/" + inst.host;
    // Everything of an instance lives in its own directory: agents of one job may share a
    // scratch file system (and do on the test cluster).
    inst.log_path = inst.dir + "/instance.log";
    layout.instances.push_back(std::move(inst));
  }
  const InstanceLayout& inst = layout.instances[index];
  log_path_ = inst.log_path;
  AgentExitReport report;
  report.host_index = options_.node_index;
  // What a killed agent of this very Slurm job left (a requeued job runs its agents again).
  (void)RemoveAll(inst.dir);
  if (Status st = MakeDirs(inst.dir); !st.ok()) {
    report.failure_reason = "InternalServerError: " + host() + ": " + st.message();
    return Report(report);
  }
  std::thread shipper([this] { ShipLoop(); });
  auto finish = [&](const AgentExitReport& r) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      shipping_done_ = true;
      cv_.notify_all();
    }
    shipper.join();
    int code = Report(r);
    if (!options_.keep_scratch) {
      (void)RemoveAll(inst.dir);
      // The job's directory goes with its last instance (rmdir fails while others remain).
      ::rmdir((layout.job_dir + "/logs").c_str());
      ::rmdir(layout.job_dir.c_str());
    }
    return code;
  };
  auto fail = [&](const std::string& reason) {
    Log(reason);
    report.failure_reason = reason;
    return finish(report);
  };

  auto spec = JobSpecFromRequest(a.request);
  if (!spec.ok()) return fail("InternalServerError: " + spec.status().message());
  Log("Slurm job " + options_.cluster_job_id + ": playing " + host() + " of " + a.job_name +
      " in " + inst.dir);
  if (Status st = PrepareInstanceDirs(layout, index, record, *spec); !st.ok()) {
    return fail("InternalServerError: " + host() + ": " + st.message());
  }
  std::vector<std::string> addresses;
  for (const std::string& node : options_.node_names) {
    auto address = ResolveNodeAddress(node);
    if (!address.ok()) return fail("InternalServerError: " + address.status().message());
    addresses.push_back(*address);
  }
  if (static_cast<int>(addresses.size()) != a.host_count) {
    return fail("InternalServerError: the Slurm allocation has " +
                std::to_string(addresses.size()) + " nodes for " + std::to_string(a.host_count) +
                " instances");
  }
  const std::string hosts_file = inst.dir + "/hosts";
  if (Status st = WriteFileAtomically(hosts_file, AgentHostsFile(addresses)); !st.ok()) {
    return fail("InternalServerError: " + st.message());
  }
  if (!a.image_root.empty() && !IsDirectory(a.image_root)) {
    return fail("ClientError: image " + spec->image_uri + ": its root " + a.image_root +
                " does not exist on node " + NodeName() +
                "; the nodes need the server's image store at the same path (shared storage)");
  }
  // Made before staging, so a node that cannot run the image fails without transferring.
  AgentRuntimeOptions runtime_options = options_.runtimes;
  runtime_options.oci.runtime = a.oci_runtime;  // as the server runs OCI images
  auto runtime = MakeAgentRuntime(a.runtime, runtime_options);
  if (!runtime.ok()) {
    return fail("InternalServerError: node " + NodeName() + " cannot run " + host() + ": " +
                runtime.status().message());
  }

  S3Config s3;
  s3.endpoint = a.s3_endpoint.empty() ? options_.endpoint : a.s3_endpoint;
  s3.region = a.s3_endpoint.empty() ? options_.region : a.s3_region;
  s3.access_key = a.s3_endpoint.empty() ? options_.access_key_id : a.s3_access_key_id;
  s3.secret_key = a.s3_endpoint.empty() ? options_.secret_access_key : a.s3_secret_access_key;
  auto s3_resolver = S3Resolver::Make(s3);
  if (!s3_resolver.ok()) return fail("InternalServerError: " + s3_resolver.status().message());
  CompositeResolver resolver;
  resolver.Route("s3", s3_resolver->get());
  std::unique_ptr<FileUriResolver> files;
  if (!a.file_roots.empty()) {
    auto made = FileUriResolver::Make(a.file_roots);
    if (made.ok()) {
      files = std::move(made).value();
      resolver.Route("file", files.get());
    }
  }
  auto progress = [this](const std::string& line) { Log(line); };
  if (Status st =
          StageInputs(*spec, options_.node_index, inst.processing_dir(), resolver, progress);
      !st.ok()) {
    return fail("ClientError: " + st.message());
  }
  // Pipe-mode inputs stream from S3 into FIFOs while the instance reads them, as on the local
  // backend; the FIFOs exist before the instance starts, so the runtime hands them to its user.
  std::vector<std::unique_ptr<PipeFeeder>> feeders;
  for (const InputSpec& in : spec->inputs) {
    if (in.app_managed || in.input_mode != "Pipe") continue;
    auto feeder = PipeFeeder::Start(*spec, options_.node_index, in, inst.processing_dir(), resolver,
                                    progress);
    if (!feeder.ok()) return fail("ClientError: " + feeder.status().message());
    feeders.push_back(std::move(feeder).value());
  }

  InstanceSpec s;
  s.id = "kiln-" + options_.cluster_job_id + "-" + inst.host;
  s.hostname = inst.host;
  s.state_dir = inst.runtime_dir();
  s.log_path = inst.log_path;
  s.argv = a.argv;
  s.env = a.env;
  s.mounts = {{inst.processing_dir(), "/opt/ml/processing", false},
              {inst.config_dir(), "/opt/ml/config", true},
              {inst.output_dir(), "/opt/ml/output", false}};
  if (a.mount_job_python) {
    const std::string python_dir = inst.dir + "/python";
    if (Status st = InstallJobPython(python_dir); !st.ok()) {
      return fail("InternalServerError: " + st.message());
    }
    s.mounts.push_back({python_dir, kJobPythonMount, true});
  }
  s.working_dir = a.working_dir;
  s.rootfs = a.image_root;
  s.user = a.image_user;
  const int64_t memory = static_cast<int64_t>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGE_SIZE);
  s.limits = LimitsForInstanceType(spec->instance_type,
                                   std::max(1u, std::thread::hardware_concurrency()), memory);
  s.network_isolated = spec->network_isolation;
  s.hosts_file = hosts_file;  // the node's own network; algo-i are the nodes' addresses

  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_requested_) {
      report.exit_code = 128 + SIGTERM;
      report.term_signal = SIGTERM;
      Log("stopped before the instance started");
      return finish(report);
    }
  }
  // The runtime's instance ends with this agent: the job is lost then (agent_runtimes.h).
  auto started = (*runtime)->Start(s);
  if (!started.ok()) {
    return fail("InternalServerError: could not start " + host() + ": " +
                started.status().message());
  }
  std::shared_ptr<Instance> instance = std::move(started).value();
  std::optional<ExitStatus> exit;
  std::thread waiter([this, instance, &exit] {
    ExitStatus status = instance->Wait();
    std::lock_guard<std::mutex> lock(mu_);
    exit = status;
    cv_.notify_all();
  });
  // Continuous outputs go up while the instance runs (DeliverOutputs sweeps again at the end).
  std::unique_ptr<ContinuousUploader> uploader =
      ContinuousUploader::Start(*spec, {inst.processing_dir()}, &resolver,
                                [this](size_t, const std::string& line) { Log(line); });
  // A stream that fails (not one the instance stopped reading) ends the instance, as a stop does.
  std::optional<Status> pipe_failure;  // guarded by mu_
  std::vector<std::thread> feeder_waiters;
  for (const auto& feeder : feeders) {
    feeder_waiters.emplace_back([this, &feeder, &pipe_failure] {
      Status result = feeder->Join();
      if (result.ok() || result.code() == StatusCode::kCancelled) return;
      std::lock_guard<std::mutex> lock(mu_);
      if (!pipe_failure) pipe_failure = result;
      cv_.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return exit.has_value() || stop_requested_ || pipe_failure.has_value(); });
    if (!exit) {
      std::optional<Status> failed = pipe_failure;
      lock.unlock();
      if (failed) Log("an input stream failed: " + failed->message());
      Log("stopping " + host() + " (SIGTERM)");
      (void)instance->Terminate();
      lock.lock();
      auto grace = std::chrono::milliseconds(a.stop_grace_ms);
      if (!cv_.wait_for(lock, grace, [&] { return exit.has_value(); })) {
        lock.unlock();
        Log("killing " + host() + " after the stop grace period");
        (void)instance->Kill();
        lock.lock();
      }
    }
  }
  waiter.join();
  // Nobody reads the FIFOs any more, and nothing changes the outputs.
  for (const auto& feeder : feeders) feeder->Cancel();
  if (uploader != nullptr) uploader->Stop();
  for (std::thread& t : feeder_waiters) t.join();
  report.exit_code = exit->exit_code;
  report.term_signal = exit->term_signal;
  report.oom_killed = exit->oom_killed;
  report.error = exit->error;
  // As on the local backend: the out-of-memory killer and the runtime's own errors first, then
  // the input that could not be streamed, the likely reason the instance failed.
  if (pipe_failure && !report.oom_killed && report.error.empty()) {
    report.failure_reason = "ClientError: " + pipe_failure->message();
  }

  JobLayout own{layout.job_dir, {inst}};
  auto message = CollectExitMessage(own);
  if (message.ok()) {
    report.message = *message;
  } else if (!report.Failed()) {
    report.failure_reason = "ClientError: " + message.status().message();
  }
  if (Status st = DeliverOutputs(*spec, inst.processing_dir(), resolver, progress); !st.ok()) {
    Log("output delivery failed: " + st.message());
    if (!report.Failed()) report.failure_reason = "ClientError: " + st.message();
  }
  return finish(report);
}

}  // namespace kiln
