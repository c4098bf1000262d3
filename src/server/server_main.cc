#include "server/server_main.h"

#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/fs.h"
#include "runtime/host_runtime.h"
#include "runtime/image_catalog.h"
#include "runtime/oci_runtime.h"
#include "scheduler/job_credentials.h"
#include "scheduler/job_environment.h"
#include "scheduler/job_service.h"
#include "scheduler/local_backend.h"
#include "scheduler/slurm_backend.h"
#include "server/agent_api.h"
#include "server/api_router.h"
#include "server/credentials.h"
#include "server/http_server.h"
#include "server/log_source.h"
#include "server/logs_api.h"
#include "server/namespace_endpoints.h"
#include "storage/bucket_store.h"
#include "storage/file_uri_resolver.h"
#include "storage/s3_resolver.h"
#include "store/sqlite_job_store.h"

namespace kiln {
namespace {

using nlohmann::json;

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

Status SplitListen(const std::string& listen, std::string* host, uint16_t* port) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return Status::InvalidArgument("--listen wants HOST:PORT");
  *host = listen.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  try {
    int p = std::stoi(listen.substr(colon + 1));
    if (p < 0 || p > 65535) throw std::out_of_range("port");
    *port = static_cast<uint16_t>(p);
  } catch (const std::exception&) {
    return Status::InvalidArgument("--listen port must be a number from 0 to 65535");
  }
  return Status::Ok();
}

int64_t HostMemoryBytes() {
  long pages = ::sysconf(_SC_PHYS_PAGES);
  long page_size = ::sysconf(_SC_PAGE_SIZE);
  return static_cast<int64_t>(pages) * page_size;
}

// Everything a running server owns, in construction order (destroyed in reverse).
struct ServerParts {
  std::unique_ptr<SqliteJobStore> store;
  ImageCatalog catalog;
  std::unique_ptr<FileUriResolver> file_resolver;
  std::unique_ptr<S3Resolver> external_s3;  // --s3-endpoint
  // The embedded S3 store: ONE instance, shared by the S3 API and job staging; declared before
  // the backend and router so it outlives every job and request that uses it.
  std::unique_ptr<BucketStore> buckets;
  std::unique_ptr<ObjectStoreResolver> embedded_s3;  // serves s3:// from `buckets`
  CompositeResolver resolver;
  JobCredentials job_credentials;          // running jobs' access keys (spec §8.17)
  EndpointSlot endpoint;                   // this server's URL, once bound
  NamespaceEndpoints namespace_endpoints;  // Kiln's endpoint inside jobs' private networks
  std::unique_ptr<HostRuntime> host_runtime;
  std::unique_ptr<OciRuntime> oci_runtime;  // null when runc is not installed
  std::unique_ptr<LocalBackend> local_backend;
  std::unique_ptr<SlurmBackend> slurm_backend;  // --backend slurm
  Backend* backend = nullptr;                   // the one in use
  std::unique_ptr<AgentApi> agent_api;          // with the Slurm backend
  std::unique_ptr<JobService> jobs;
  std::unique_ptr<JobStoreLogSource> log_source;
  std::unique_ptr<LogsService> logs;
  std::unique_ptr<ApiRouter> router;
  std::unique_ptr<HttpServer> http;
};

int Fail(const std::string& message) {
  spdlog::error("{}", message);
  return 1;
}

// Serves every s3:// bucket from one in-process store (the embedded BucketStore).
class SingleStoreResolver : public ObjectStoreResolver {
 public:
  explicit SingleStoreResolver(ObjectStore* store) : store_(store) {}
  Result<ObjectStore*> Resolve(const DataLocation& location) override {
    if (location.scheme != "s3") return NoStoreForScheme(location);
    if (location.bucket.empty()) return Status::InvalidArgument("an s3:// URI needs a bucket");
    return store_;
  }

 private:
  ObjectStore* store_;
};

// Routes s3:// URIs to the embedded store once it is open, unless --s3-endpoint chose an
// external one (RouteS3).
void RouteEmbeddedS3(ServerParts& parts) {
  if (parts.external_s3 || !parts.buckets) return;
  parts.embedded_s3 = std::make_unique<SingleStoreResolver>(parts.buckets->AsObjectStore());
  parts.resolver.Route("s3", parts.embedded_s3.get());
}

// Routes s3:// URIs to the external endpoint given with --s3-endpoint, if any.
Status RouteS3(const ServerOptions& options, const std::string& region, ServerParts& parts) {
  bool any = !options.s3_endpoint.empty() || !options.s3_access_key_id.empty() ||
             !options.s3_secret_access_key.empty();
  if (!any) return Status::Ok();
  if (options.s3_endpoint.empty() || options.s3_access_key_id.empty() ||
      options.s3_secret_access_key.empty()) {
    return Status::InvalidArgument(
        "--s3-endpoint, --s3-access-key-id and --s3-secret-access-key must be given together");
  }
  S3Config config;
  config.endpoint = options.s3_endpoint;
  config.region = options.s3_region.empty() ? region : options.s3_region;
  config.access_key = options.s3_access_key_id;
  config.secret_key = options.s3_secret_access_key;
  auto resolver = S3Resolver::Make(config);
  if (!resolver.ok()) return resolver.status().WithPrefix("--s3-endpoint");
  parts.external_s3 = std::move(resolver).value();
  parts.resolver.Route("s3", parts.external_s3.get());
  return Status::Ok();
}

// The Slurm backend of `options`, sharing the local backend's runner context.
Status MakeSlurmBackend(const ServerOptions& options, RunnerContext context,
                        const std::vector<std::string>& file_roots, ServerParts& parts) {
  const SlurmServerOptions& so = options.slurm;
  SlurmBackendOptions slurm;
  slurm.context = std::move(context);
  // Instances on the nodes use the nodes' own network; no private networks are made here.
  slurm.context.private_networks = false;
  slurm.context.services.endpoint_publisher = nullptr;
  slurm.slurm.partition = so.partition;
  slurm.slurm.slurm_conf = so.slurm_conf;
  slurm.slurm.extra_sbatch_args = so.sbatch_args;
  slurm.kiln_path = so.kiln_path;
  if (slurm.kiln_path.empty()) {
    std::error_code ec;
    slurm.kiln_path = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    if (ec) return Status::Internal("cannot find the kiln executable: " + ec.message());
  }
  slurm.node_scratch_dir = so.node_scratch_dir;
  slurm.oci_runtime = options.oci_runtime.empty() ? "runc" : options.oci_runtime;
  slurm.batch_output_dir = so.batch_output_dir;
  slurm.file_roots = file_roots;
  slurm.poll_interval_ms = std::max(50, so.poll_ms);
  slurm.time_margin_minutes = so.time_margin_minutes;
  const EndpointSlot* endpoint = &parts.endpoint;
  const std::string configured = so.agent_endpoint;
  slurm.agent_endpoint = [endpoint, configured] {
    return AgentEndpointFor(configured, endpoint->Wait(std::chrono::seconds(30)));
  };
  parts.slurm_backend = std::make_unique<SlurmBackend>(std::move(slurm));
  parts.backend = parts.slurm_backend.get();
  return Status::Ok();
}

}  // namespace

std::string DefaultDataDir() {
  if (const char* d = std::getenv("KILN_DATA_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return std::string(x) + "/kiln";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.local/share/kiln";
}

Result<std::string> EnvExports(const std::string& data_dir) {
  auto server = ReadFile(data_dir + "/server.json");
  if (!server.ok()) {
    return Status::NotFound("no Kiln server has started with data dir " + data_dir +
                            " (start one with `kiln server`)");
  }
  ASSIGN_OR_RETURN(ServerCredentials creds, LoadOrCreateCredentials(data_dir));
  json info = json::parse(*server, nullptr, false);
  if (!info.is_object() || !info.contains("endpoint")) {
    return Status::Internal(data_dir + "/server.json is unreadable");
  }
  std::string out;
  out += "export AWS_ENDPOINT_URL=" + info["endpoint"].get<std::string>() + "\n";
  out += "export AWS_ACCESS_KEY_ID=" + creds.access_key_id + "\n";
  out += "export AWS_SECRET_ACCESS_KEY=" + creds.secret_access_key + "\n";
  out += "export AWS_DEFAULT_REGION=" + creds.region + "\n";
  return out;
}

int RunServer(const ServerOptions& options) {
  std::string data_dir = options.data_dir.empty() ? DefaultDataDir() : options.data_dir;
  data_dir = std::filesystem::absolute(data_dir).lexically_normal().string();
  if (!data_dir.empty() && data_dir.size() > 1 && data_dir.back() == '/') data_dir.pop_back();
  std::string host;
  uint16_t port = 0;
  if (Status st = SplitListen(options.listen, &host, &port); !st.ok()) return Fail(st.message());
  if (Status st = MakeDirs(data_dir, 0700); !st.ok()) return Fail(st.ToString());
  for (const char* sub : {"/jobs", "/files"}) {
    if (Status st = MakeDirs(data_dir + sub, 0755); !st.ok()) return Fail(st.ToString());
  }

  auto creds = LoadOrCreateCredentials(data_dir);
  if (!creds.ok()) return Fail(creds.status().ToString());
  if (!options.access_key_id.empty() || !options.secret_access_key.empty()) {
    if (options.access_key_id.empty() || options.secret_access_key.empty()) {
      return Fail("--access-key-id and --secret-access-key must be given together");
    }
    creds->access_key_id = options.access_key_id;
    creds->secret_access_key = options.secret_access_key;
    creds->explicitly_set = true;
  }
  if (!options.region.empty()) creds->region = options.region;
  if (!IsLoopbackHost(host) && !creds->explicitly_set) {
    return Fail("refusing to listen on " + options.listen +
                " beyond loopback with generated credentials: pass --access-key-id and "
                "--secret-access-key (or listen on 127.0.0.1)");
  }

  ServerParts parts;
  auto store = SqliteJobStore::Open(data_dir + "/kiln.db");
  if (!store.ok()) return Fail(store.status().ToString());
  parts.store = std::move(store).value();
  auto catalog = ImageCatalog::LoadOrCreate(data_dir + "/images.json");
  if (!catalog.ok()) return Fail(catalog.status().ToString());
  parts.catalog = std::move(catalog).value();
  std::vector<std::string> roots = options.allow_file_roots;
  roots.push_back(data_dir + "/files");
  for (std::string& r : roots) r = std::filesystem::absolute(r).lexically_normal().string();
  for (std::string& r : roots) {
    if (r.size() > 1 && r.back() == '/') r.pop_back();
  }
  auto file_resolver = FileUriResolver::Make(roots);
  if (!file_resolver.ok()) return Fail(file_resolver.status().ToString());
  parts.file_resolver = std::move(file_resolver).value();
  parts.resolver.Route("file", parts.file_resolver.get());
  if (Status st = RouteS3(options, creds->region, parts); !st.ok()) {
    return Fail(st.ToString());
  }
  if (Status st = InstallJobPython(data_dir + "/python"); !st.ok()) return Fail(st.ToString());

  HostRuntime::Options host_options;
  if (!options.shim_path.empty()) host_options.shim_path = options.shim_path;
  parts.host_runtime = std::make_unique<HostRuntime>(host_options);

  LocalBackendOptions backend_options;
  RunnerContext& ctx = backend_options.context;
  ctx.jobs_root = data_dir + "/jobs";
  ctx.store = parts.store.get();
  ctx.clock = SystemClock::Default();
  ctx.catalog = &parts.catalog;
  ctx.resolver = &parts.resolver;
  ctx.runtimes[parts.host_runtime->Name()] = parts.host_runtime.get();
  OciRuntime::Options oci_options;
  if (!options.shim_path.empty()) oci_options.shim_path = options.shim_path;
  if (!options.oci_runtime.empty()) {
    oci_options.runtime = options.oci_runtime;
    if (!OciRuntime::Available(oci_options)) {
      return Fail("--oci-runtime " + options.oci_runtime + ": it (or its init " +
                  oci_options.init_path +
                  ") is not installed; scripts/setup.sh installs runc, crun and tini");
    }
  }
  if (OciRuntime::Available(oci_options)) {
    parts.oci_runtime = std::make_unique<OciRuntime>(oci_options);
    ctx.runtimes[parts.oci_runtime->Name()] = parts.oci_runtime.get();
  }
  unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  ctx.host_cpus = cpus;
  ctx.host_memory_bytes = HostMemoryBytes();
  ctx.stop_grace_ms = static_cast<int64_t>(options.stop_grace_seconds) * 1000;
  ctx.platform_env = {{"AWS_REGION", creds->region}, {"AWS_DEFAULT_REGION", creds->region}};
  ctx.services.region = creds->region;
  ctx.services.kiln_endpoint = &parts.endpoint;
  ctx.services.credentials = &parts.job_credentials;
  ctx.services.python_dir = data_dir + "/python";
  if (options.private_job_networks && options.backend != "slurm") {
    if (::access(ctx.network_options.ip_path.c_str(), X_OK) != 0) {
      return Fail(ctx.network_options.ip_path +
                  " (iproute2) is missing: it sets up jobs' private networks; install it or "
                  "run with --job-network host");
    }
    ctx.private_networks = true;
    ctx.services.endpoint_publisher = &parts.namespace_endpoints;
  }
  if (parts.external_s3) {
    ctx.services.s3_endpoint = options.s3_endpoint;
    ctx.services.s3_access_key_id = options.s3_access_key_id;
    ctx.services.s3_secret_access_key = options.s3_secret_access_key;
  }
  backend_options.max_instances =
      options.max_instances > 0 ? options.max_instances : std::max(4, static_cast<int>(cpus) * 2);
  if (options.backend == "slurm") {
    Status made = MakeSlurmBackend(options, std::move(backend_options.context), roots, parts);
    if (!made.ok()) return Fail(made.ToString());
  } else {
    parts.local_backend = std::make_unique<LocalBackend>(std::move(backend_options));
    parts.backend = parts.local_backend.get();
  }

  JobServiceOptions job_options;
  job_options.region = creds->region;
  job_options.account_id = creds->account_id;
  parts.jobs = std::make_unique<JobService>(job_options, parts.store.get(), parts.backend,
                                            SystemClock::Default());
  parts.log_source = std::make_unique<JobStoreLogSource>(parts.store.get());
  LogsServiceOptions logs_options;
  logs_options.region = creds->region;
  logs_options.account_id = creds->account_id;
  logs_options.group_creation_time_ms = SystemClock::Default()->NowMillis();
  parts.logs = std::make_unique<LogsService>(logs_options, parts.log_source.get());
  auto buckets = BucketStore::Open(data_dir + "/s3");
  if (!buckets.ok()) return Fail(buckets.status().ToString());
  parts.buckets = std::move(buckets).value();
  RouteEmbeddedS3(parts);
  std::vector<std::string> s3_hosts = {host};
  char hostname[256] = {};
  if (::gethostname(hostname, sizeof hostname - 1) == 0 && hostname[0] != '\0') {
    s3_hosts.emplace_back(hostname);
  }
  parts.router = std::make_unique<ApiRouter>(*creds, parts.jobs.get(), parts.logs.get(),
                                             parts.buckets.get(), std::move(s3_hosts));
  parts.router->SetJobCredentials(&parts.job_credentials);
  if (parts.slurm_backend) {
    parts.agent_api = std::make_unique<AgentApi>(parts.slurm_backend.get(), &parts.job_credentials);
    parts.router->SetAgentApi(parts.agent_api.get());
  }

  // Signals are taken by a dedicated sigwait below, so block them in every thread we start.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  if (Status st = parts.backend->Recover(); !st.ok()) return Fail(st.ToString());

  HttpServerOptions http_options;
  http_options.host = host;
  http_options.port = port;
  http_options.stream_body = [](const HttpRequest& header) {
    return ApiRouter::WantsStreamingBody(header);
  };
  ApiRouter* router = parts.router.get();
  auto http = HttpServer::Start(
      http_options, [router](HttpRequest& req, HttpResponse& resp) { router->Handle(req, resp); },
      [router](const HttpRequest* req, int status, const std::string& message, HttpResponse& resp) {
        router->FormatError(req, status, message, resp);
      });
  if (!http.ok()) return Fail(http.status().ToString());
  parts.http = std::move(http).value();
  parts.namespace_endpoints.Attach(parts.http.get());

  std::string url_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  std::string endpoint = "http://" + url_host + ":" + std::to_string(parts.http->port());
  parts.endpoint.Set(endpoint);
  json info = {{"endpoint", endpoint}, {"pid", ::getpid()}};
  if (Status st = WriteFileAtomically(data_dir + "/server.json", info.dump() + "\n"); !st.ok()) {
    return Fail(st.ToString());
  }
  spdlog::info("kiln server listening on {} (data dir {})", endpoint, data_dir);

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received signal {}, shutting down", sig);
  parts.http->Stop();
  parts.backend->Shutdown();
  parts.namespace_endpoints.Attach(nullptr);
  return 0;
}

}  // namespace kiln
