// Staging: materialises a job's inputs into an instance's sandbox before it starts and delivers
// its outputs afterwards, with the layout rules of spec §4.5, §4.6 and §8.5-§8.8.
// Errors are InvalidArgument or NotFound statuses whose message is the FailureReason detail:
// it names the input or output and the object (the caller prefixes "ClientError: ").
#pragma once

#include <functional>
#include <string>

#include "api/processing_job.h"
#include "base/status.h"
#include "storage/object_store.h"

namespace kiln {

// Receives one human-readable progress line at a time (it goes to the instance's log stream).
using ProgressFn = std::function<void(const std::string& line)>;

// The host path that a container path under /opt/ml/processing/ maps to, given the host
// directory `processing_root` mounted at /opt/ml/processing.
std::string HostPathFor(const std::string& processing_root, const std::string& container_path);

// Creates the directory of every output LocalPath, and materialises every non-AppManaged input
// for instance `instance_index` (0-based) of `spec.instance_count`: FullyReplicated inputs whole,
// ShardedByS3Key inputs by §8.6. Fails before writing anything if the instance's inputs exceed
// VolumeSizeInGB.
Status StageInputs(const JobSpec& spec, int instance_index, const std::string& processing_root,
                   ObjectStoreResolver& resolver, const ProgressFn& progress);

// Uploads every file under each non-AppManaged output's LocalPath to `<S3Uri>/<relative path>`.
// Symlinks are not followed. Stops at the first failure and names the output and file.
Status DeliverOutputs(const JobSpec& spec, const std::string& processing_root,
                      ObjectStoreResolver& resolver, const ProgressFn& progress);

}  // namespace kiln
