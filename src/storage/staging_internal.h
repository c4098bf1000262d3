// Helpers shared by staging_inputs.cc and staging_outputs.cc; not part of the module's API.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "api/processing_job.h"
#include "base/status.h"
#include "storage/object_store.h"

namespace kiln::staging_internal {

inline constexpr char kContainerProcessingRoot[] = "/opt/ml/processing";
// Transfers in flight per input or output.
inline constexpr size_t kTransferParallelism = 8;

// The path segments of a LocalPath below /opt/ml/processing ({} for the directory itself).
// InvalidArgument naming `what` if it is not a normalised path under it.
Result<std::vector<std::string>> ProcessingPathSegments(const std::string& local_path,
                                                        const std::string& what);

// "1.5 MiB", "312 B".
std::string FormatBytes(uint64_t bytes);

// "0.42 s" since `start`.
std::string ElapsedSince(std::chrono::steady_clock::time_point start);

// A URI naming `key` for messages, in the style of `base_uri` (which was parsed into `base`).
std::string ObjectUri(const std::string& base_uri, const DataLocation& base,
                      const std::string& key);

// `prefix` and `rel` joined with exactly one '/' (just `rel` for an empty prefix).
std::string JoinKey(const std::string& prefix, const std::string& rel);

// The relative local path of an object: `rel` with empty and "." segments dropped.
// InvalidArgument-worthy (returns false) if it has a ".." segment or nothing is left.
bool NormalizeRelativeLocalPath(const std::string& rel, std::vector<std::string>* segments);

// One object of an input and where it lands.
struct PlannedObject {
  std::string key;
  uint64_t size = 0;
  std::vector<std::string> local_segments;  // below the input's LocalPath
};

// What an instance stages for one input.
struct InputPlan {
  const InputSpec* input = nullptr;
  std::vector<std::string> local_dir;  // LocalPath's segments below the processing root
  ObjectStore* store = nullptr;        // serves `objects`
  DataLocation base;                   // bucket and key prefix of `objects`
  std::string base_uri;                // `base` as the user wrote it, for messages
  size_t total_objects = 0;            // before sharding
  std::vector<PlannedObject> objects;  // this instance's share, sorted by key
  uint64_t bytes = 0;
};

// Lists (or reads the manifest of) `in` and fills `plan` with instance `instance_index`'s share,
// laid out by §8.7. Statuses name the input and the object; nothing is written.
Status PlanInput(const JobSpec& spec, int instance_index, const InputSpec& in,
                 ObjectStoreResolver& resolver, InputPlan* plan);

}  // namespace kiln::staging_internal
