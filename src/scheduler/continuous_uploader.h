// ContinuousUploader: uploads a running job's Continuous outputs (spec §4.6, §8.8). Every regular
// file under such an output's LocalPath, on every instance, is uploaded once its size and mtime
// have stayed the same for a quiet period and that version has not been uploaded yet. Symlinks
// are never followed. The end-of-job sweep (DeliverOutputs) uploads everything again, so a file
// that changed after its last upload still arrives whole.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/processing_job.h"
#include "storage/object_store.h"

namespace kiln {

class ContinuousUploader {
 public:
  struct Options {
    int64_t quiet_ms = 1000;  // how long a file must stay unchanged before it is uploaded
    int64_t poll_ms = 250;    // how often the outputs are scanned
  };
  // Receives progress and error lines for instance `instance` (0-based).
  using LogFn = std::function<void(size_t instance, const std::string& line)>;

  // Starts watching `processing_roots` (one per instance, in host order) on a thread of its own;
  // nullptr if `spec` has no Continuous output. `resolver` must outlive the uploader.
  static std::unique_ptr<ContinuousUploader> Start(const JobSpec& spec,
                                                   std::vector<std::string> processing_roots,
                                                   ObjectStoreResolver* resolver, LogFn log,
                                                   Options options);
  static std::unique_ptr<ContinuousUploader> Start(const JobSpec& spec,
                                                   std::vector<std::string> processing_roots,
                                                   ObjectStoreResolver* resolver, LogFn log) {
    return Start(spec, std::move(processing_roots), resolver, std::move(log), Options());
  }
  // Stops and joins.
  ~ContinuousUploader();
  ContinuousUploader(const ContinuousUploader&) = delete;
  ContinuousUploader& operator=(const ContinuousUploader&) = delete;

  // Stops watching; no upload is in progress once it returns. Safe to call more than once.
  void Stop();
  // Files uploaded so far (for tests and logs).
  int64_t uploads();

 private:
  struct FileState {
    uint64_t size = 0;
    int64_t mtime_ns = 0;
    int64_t stable_since_ms = 0;  // when this version was first seen
    bool uploaded = false;
    bool failed = false;  // an upload of this version failed (reported once)
  };
  ContinuousUploader(std::vector<OutputSpec> outputs, std::vector<std::string> roots,
                     ObjectStoreResolver* resolver, LogFn log, Options options);
  void Loop();
  void ScanOnce();
  void ScanOutput(size_t instance, const OutputSpec& out);

  const std::vector<OutputSpec> outputs_;  // the Continuous, non-AppManaged ones
  const std::vector<std::string> roots_;
  ObjectStoreResolver* resolver_;
  const LogFn log_;
  const Options options_;
  std::map<std::string, FileState> files_;  // by "<instance>\n<output>\n<rel>"; watcher thread only

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;    // guarded by mu_
  int64_t uploads_ = 0;  // guarded by mu_
  std::thread thread_;
};

}  // namespace kiln
