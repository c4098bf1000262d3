#include "scheduler/continuous_uploader.h"

#include <sys/stat.h>

#include <chrono>

#include "storage/safe_fs.h"

namespace kiln {
namespace {

int64_t SteadyMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The segments of a LocalPath below /opt/ml/processing ({} for the directory itself); false if
// it is not below it (validation already refused such paths).
bool SegmentsBelowProcessing(const std::string& local_path, std::vector<std::string>* segments) {
  const std::string root = "/opt/ml/processing";
  if (local_path.rfind(root, 0) != 0) return false;
  std::string rest = local_path.substr(root.size());
  if (!rest.empty() && rest[0] != '/') return false;
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  segments->clear();
  if (rest.empty()) return true;
  auto split = SplitSafeRelativePath(rest.substr(1), "LocalPath");
  if (!split.ok()) return false;
  *segments = std::move(split).value();
  return true;
}

// `prefix` and `rel` joined with one '/', as DeliverOutputs names keys.
std::string JoinKey(std::string prefix, const std::string& rel) {
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  return prefix.empty() ? rel : prefix + "/" + rel;
}

}  // namespace

std::unique_ptr<ContinuousUploader> ContinuousUploader::Start(
    const JobSpec& spec, std::vector<std::string> processing_roots, ObjectStoreResolver* resolver,
    LogFn log, Options options) {
  std::vector<OutputSpec> outputs;
  for (const OutputSpec& out : spec.outputs) {
    if (!out.app_managed && out.upload_mode == "Continuous") outputs.push_back(out);
  }
  if (outputs.empty()) return nullptr;
  std::unique_ptr<ContinuousUploader> uploader(new ContinuousUploader(
      std::move(outputs), std::move(processing_roots), resolver, std::move(log), options));
  uploader->thread_ = std::thread([raw = uploader.get()] { raw->Loop(); });
  return uploader;
}

ContinuousUploader::ContinuousUploader(std::vector<OutputSpec> outputs,
                                       std::vector<std::string> roots,
                                       ObjectStoreResolver* resolver, LogFn log, Options options)
    : outputs_(std::move(outputs)),
      roots_(std::move(roots)),
      resolver_(resolver),
      log_(std::move(log)),
      options_(options) {}

ContinuousUploader::~ContinuousUploader() { Stop(); }

void ContinuousUploader::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int64_t ContinuousUploader::uploads() {
  std::lock_guard<std::mutex> lock(mu_);
  return uploads_;
}

void ContinuousUploader::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    ScanOnce();
    lock.lock();
    cv_.wait_for(lock, std::chrono::milliseconds(options_.poll_ms), [this] { return stop_; });
  }
}

void ContinuousUploader::ScanOnce() {
  for (size_t i = 0; i < roots_.size(); ++i) {
    for (const OutputSpec& out : outputs_) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) return;
      }
      ScanOutput(i, out);
    }
  }
}

void ContinuousUploader::ScanOutput(size_t instance, const OutputSpec& out) {
  const std::string& root = roots_[instance];
  std::vector<std::string> local_dir;
  if (!SegmentsBelowProcessing(out.local_path, &local_dir)) return;
  auto dir = OpenDirBeneath(root, local_dir, /*create=*/false);
  if (!dir.ok()) return;  // not created yet, or replaced by something we must not follow
  std::vector<ObjectInfo> files;
  if (!ListRegularFiles(std::move(dir).value(), "", "", &files).ok()) return;

  std::string rel_dir;
  for (const std::string& seg : local_dir) rel_dir += seg + "/";
  for (const ObjectInfo& file : files) {
    auto fd = OpenFileBeneath(root, rel_dir + file.key);
    if (!fd.ok()) continue;  // gone, or turned into a symlink: never followed
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) continue;
    const int64_t mtime_ns =
        static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    const int64_t now = SteadyMillis();
    FileState& state = files_[std::to_string(instance) + "\n" + out.name + "\n" + file.key];
    if (state.stable_since_ms == 0 || state.size != size || state.mtime_ns != mtime_ns) {
      state = FileState{size, mtime_ns, now, false, false};
      continue;
    }
    if (state.uploaded || state.failed || now - state.stable_since_ms < options_.quiet_ms) continue;

    std::string container_path = out.local_path + "/" + file.key;
    auto loc = ParseDataUri(out.uri);
    Status result = loc.status();
    std::string key;
    if (loc.ok()) {
      key = JoinKey(loc->key, file.key);
      auto store = resolver_->Resolve(*loc);
      result = store.status();
      // Reading through /proc/self/fd uploads the very file we checked, even if the path changes.
      if (store.ok()) {
        result =
            (*store)->PutFromFile(loc->bucket, key, "/proc/self/fd/" + std::to_string(fd->get()));
      }
    }
    if (!result.ok()) {
      state.failed = true;
      log_(instance, "Continuous upload of output '" + out.name + "' file " + container_path +
                         " failed (the end-of-job upload retries it): " + result.message());
      continue;
    }
    struct stat after {};
    bool unchanged = ::fstat(fd->get(), &after) == 0 && after.st_size == st.st_size &&
                     after.st_mtim.tv_sec == st.st_mtim.tv_sec &&
                     after.st_mtim.tv_nsec == st.st_mtim.tv_nsec;
    if (!unchanged) continue;  // changed while uploading: the next quiet period uploads it again
    state.uploaded = true;
    std::string dest = out.uri;
    while (!dest.empty() && dest.back() == '/') dest.pop_back();
    log_(instance, "Uploaded output '" + out.name + "' file " + container_path + " to " + dest +
                       "/" + file.key + " (Continuous)");
    std::lock_guard<std::mutex> lock(mu_);
    ++uploads_;
  }
}

}  // namespace kiln
