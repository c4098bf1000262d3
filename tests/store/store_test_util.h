// Shared helpers for the store tests: a temporary directory and job records with every field set.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "store/job_store.h"

namespace kiln::testing_store {

// A fresh directory under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/kiln-store-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline JobRecord MakeRecord(const std::string& name, int64_t creation_time_ms = 1000) {
  JobRecord record;
  record.name = name;
  record.arn = "arn:aws:sagemaker:us-east-1:000000000000:processing-job/" + name;
  record.request = {{"ProcessingJobName", name},
                    {"AppSpecification", {{"ImageUri", "python:3.11"}}},
                    {"Tags", nlohmann::json::array({{{"Key", "k"}, {"Value", "v"}}})}};
  record.status = JobStatus::kInProgress;
  record.creation_time_ms = creation_time_ms;
  record.last_modified_time_ms = creation_time_ms;
  return record;
}

}  // namespace kiln::testing_store
