// Request validation for the SageMaker processing-job operations: every model rule (required,
// type, length, range, count, pattern, enum) and every semantic rule of spec §3 and §8.14.
// Failures are InvalidArgument with a Coral-style message, e.g.
//   "1 validation error detected: Value 'FastFile' at
//   'processingInputs.1.member.s3Input.s3InputMode'
//    failed to satisfy constraint: Member must satisfy enum value set: [Pipe, File]"
// Resource-level checks (duplicates, capacity, unknown jobs) belong to the callers.
#pragma once

#include <nlohmann/json.hpp>

#include "api/processing_job.h"
#include "base/status.h"

namespace kiln {

// Model and semantic validation of a CreateProcessingJob body. `allow_file_uris` accepts the
// file:// extension of §8.18 wherever an S3Uri is allowed.
Status ValidateCreateProcessingJob(const nlohmann::json& body, bool allow_file_uris = true);

// The request with the §8.9 defaults filled in: S3InputMode File, S3DataDistributionType
// FullyReplicated, S3CompressionType None, AppManaged false, StoppingCondition 86400.
// Expects a body that passed ValidateCreateProcessingJob.
nlohmann::json NormalizeCreateProcessingJob(const nlohmann::json& body);

// Describe, Stop and Delete take only ProcessingJobName; returns the name.
Result<std::string> ValidateJobNameRequest(const nlohmann::json& body);

// ListProcessingJobs: validates and parses. Accepts integer or fractional epoch-second timestamps.
Result<ListQuery> ParseListProcessingJobs(const nlohmann::json& body);

}  // namespace kiln
