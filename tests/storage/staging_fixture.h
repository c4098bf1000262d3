// A staging sandbox for the staging tests: a data directory served through file:// URIs, and a
// host directory standing for /opt/ml/processing.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "storage/file_uri_resolver.h"
#include "storage/staging.h"
#include "test_util.h"

namespace kiln {

class StagingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = tmp_.path() + "/data";
    sandbox_ = tmp_.path() + "/sandbox";
    std::filesystem::create_directories(data_);
    std::filesystem::create_directories(sandbox_);
    auto made = FileUriResolver::Make({data_});
    ASSERT_TRUE(made.ok());
    resolver_ = std::move(made).value();
  }

  void Data(const std::string& rel, const std::string& contents) {
    testing_util::WriteFile(data_ + "/" + rel, contents);
  }
  std::string Uri(const std::string& rel) { return "file://" + data_ + "/" + rel; }

  static InputSpec Input(const std::string& name, const std::string& uri,
                         const std::string& local_path) {
    InputSpec in;
    in.name = name;
    in.uri = uri;
    in.local_path = local_path;
    in.data_type = "S3Prefix";
    in.input_mode = "File";
    in.distribution = "FullyReplicated";
    in.compression = "None";
    return in;
  }
  static OutputSpec Output(const std::string& name, const std::string& uri,
                           const std::string& local_path) {
    OutputSpec out;
    out.name = name;
    out.uri = uri;
    out.local_path = local_path;
    out.upload_mode = "EndOfJob";
    return out;
  }
  static JobSpec Spec(std::vector<InputSpec> inputs, std::vector<OutputSpec> outputs = {},
                      int instance_count = 1) {
    JobSpec spec;
    spec.name = "job";
    spec.instance_count = instance_count;
    spec.volume_size_gb = 1;
    spec.inputs = std::move(inputs);
    spec.outputs = std::move(outputs);
    return spec;
  }

  Status Stage(const JobSpec& spec, int instance = 0, ObjectStoreResolver* resolver = nullptr) {
    return StageInputs(spec, instance, sandbox_, resolver ? *resolver : *resolver_,
                       [this](const std::string& line) { progress_.push_back(line); });
  }
  Status Deliver(const JobSpec& spec, ObjectStoreResolver* resolver = nullptr) {
    return DeliverOutputs(spec, sandbox_, resolver ? *resolver : *resolver_,
                          [this](const std::string& line) { progress_.push_back(line); });
  }

  // Regular files below a container path, relative to it.
  std::map<std::string, std::string> Staged(const std::string& container_path) {
    return testing_util::FilesOf(HostPathFor(sandbox_, container_path));
  }
  std::map<std::string, std::string> DataFiles(const std::string& rel) {
    return testing_util::FilesOf(data_ + "/" + rel);
  }

  testing_util::TempDir tmp_;
  std::string data_;
  std::string sandbox_;
  std::unique_ptr<FileUriResolver> resolver_;
  std::vector<std::string> progress_;
};

using Files = std::map<std::string, std::string>;

}  // namespace kiln
