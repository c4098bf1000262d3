// kiln_staging_bench: times Kiln's real staging code path against an S3 endpoint, for
// bench/staging.py. "down" stages an S3Prefix input (StageInputs) into <dir>/data; "up" delivers
// <dir>/data as an output (DeliverOutputs). Both go through S3Resolver and S3ObjectStore exactly
// as a job's staging does. Prints one line, "seconds=<elapsed> files=<n> bytes=<n>", on stdout;
// progress lines and errors go to stderr. Not a test: run it by hand or from the driver.
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "api/processing_job.h"
#include "storage/s3_object_store.h"
#include "storage/s3_resolver.h"
#include "storage/staging.h"

namespace kiln {
namespace {

constexpr char kLocalPath[] = "/opt/ml/processing/data";

struct BenchFlags {
  S3Config s3;
  std::string bucket;
  std::string prefix;
  std::string dir;
  std::string direction;
  bool quiet = false;
};

JobSpec BenchJob(const BenchFlags& flags) {
  JobSpec spec;
  spec.name = "staging-bench";
  spec.instance_count = 1;
  spec.volume_size_gb = 1024;
  const std::string uri = "s3://" + flags.bucket + "/" + flags.prefix;
  if (flags.direction == "down") {
    InputSpec in;
    in.name = "bench";
    in.uri = uri;
    in.local_path = kLocalPath;
    in.data_type = "S3Prefix";
    in.input_mode = "File";
    in.distribution = "FullyReplicated";
    in.compression = "None";
    spec.inputs.push_back(in);
  } else {
    OutputSpec out;
    out.name = "bench";
    out.uri = uri;
    out.local_path = kLocalPath;
    out.upload_mode = "EndOfJob";
    spec.outputs.push_back(out);
  }
  return spec;
}

// Files and bytes below `root` (regular files only), to report what moved.
void CountTree(const std::string& root, uint64_t* files, uint64_t* bytes) {
  *files = 0;
  *bytes = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) {
      ++*files;
      *bytes += it->file_size(ec);
    }
  }
}

int Run(const BenchFlags& flags) {
  auto resolver = S3Resolver::Make(flags.s3);
  if (!resolver.ok()) {
    std::cerr << "kiln_staging_bench: " << resolver.status().ToString() << "\n";
    return 2;
  }
  const JobSpec spec = BenchJob(flags);
  ProgressFn progress;
  if (!flags.quiet) progress = [](const std::string& line) { std::cerr << line << "\n"; };

  auto start = std::chrono::steady_clock::now();
  Status st = flags.direction == "down"
                  ? StageInputs(spec, /*instance_index=*/0, flags.dir, **resolver, progress)
                  : DeliverOutputs(spec, flags.dir, **resolver, progress);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!st.ok()) {
    std::cerr << "kiln_staging_bench: " << st.ToString() << "\n";
    return 1;
  }
  uint64_t files = 0;
  uint64_t bytes = 0;
  CountTree(HostPathFor(flags.dir, kLocalPath), &files, &bytes);
  std::printf("seconds=%.3f files=%llu bytes=%llu\n", seconds,
              static_cast<unsigned long long>(files), static_cast<unsigned long long>(bytes));
  return 0;
}

}  // namespace
}  // namespace kiln

int main(int argc, char** argv) {
  kiln::BenchFlags flags;
  CLI::App app{"Times Kiln's staging (StageInputs / DeliverOutputs) against an S3 endpoint"};
  app.add_option("--endpoint", flags.s3.endpoint, "S3 endpoint, http(s)://host:port")->required();
  app.add_option("--access-key", flags.s3.access_key, "Access key id")->required();
  app.add_option("--secret-key", flags.s3.secret_key, "Secret access key")->required();
  app.add_option("--region", flags.s3.region, "Region (default us-east-1)");
  app.add_option("--bucket", flags.bucket, "Bucket")->required();
  app.add_option("--prefix", flags.prefix, "Key prefix of the input or output")->required();
  app.add_option("--dir", flags.dir,
                 "Processing root: 'down' fills <dir>/data, 'up' uploads <dir>/data")
      ->required();
  app.add_option("--direction", flags.direction, "down (StageInputs) or up (DeliverOutputs)")
      ->required()
      ->check(CLI::IsMember({"down", "up"}));
  app.add_option("--max-concurrency", flags.s3.max_concurrency,
                 "S3ObjectStore requests in flight (default: Kiln's)");
  app.add_flag("--quiet", flags.quiet, "No progress lines on stderr");
  CLI11_PARSE(app, argc, argv);
  return kiln::Run(flags);
}
