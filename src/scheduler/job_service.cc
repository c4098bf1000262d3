#include "scheduler/job_service.h"

#include "api/arn.h"
#include "api/validation.h"

namespace kiln {
namespace {

using nlohmann::json;

// SageMaker timestamps are epoch seconds with millisecond precision.
json WireTime(int64_t ms) { return static_cast<double>(ms) / 1000.0; }

}  // namespace

Result<json> JobService::Create(const json& request) {
  RETURN_IF_ERROR(ValidateCreateProcessingJob(request, options_.allow_file_uris));
  json normalized = NormalizeCreateProcessingJob(request);
  ASSIGN_OR_RETURN(JobSpec spec, JobSpecFromRequest(normalized));
  RETURN_IF_ERROR(backend_->CheckFits(spec));

  JobRecord record;
  record.name = spec.name;
  record.arn = ProcessingJobArn(options_.region, options_.account_id, spec.name);
  record.request = std::move(normalized);
  record.status = JobStatus::kInProgress;
  record.creation_time_ms = clock_->NowMillis();
  record.last_modified_time_ms = record.creation_time_ms;
  RETURN_IF_ERROR(store_->Create(record));
  RETURN_IF_ERROR(backend_->Submit(record.name));
  return json{{"ProcessingJobArn", record.arn}};
}

json JobService::DescribeJson(const JobRecord& record) {
  json out = json::object();
  // Every Create member is echoed except Tags (spec §2.2).
  for (const auto& [key, value] : record.request.items()) {
    if (key != "Tags") out[key] = value;
  }
  out["ProcessingJobName"] = record.name;
  out["ProcessingJobArn"] = record.arn;
  out["ProcessingJobStatus"] = JobStatusName(record.status);
  if (!record.exit_message.empty()) out["ExitMessage"] = record.exit_message;
  if (!record.failure_reason.empty()) out["FailureReason"] = record.failure_reason;
  if (record.start_time_ms) out["ProcessingStartTime"] = WireTime(*record.start_time_ms);
  if (record.end_time_ms) out["ProcessingEndTime"] = WireTime(*record.end_time_ms);
  out["LastModifiedTime"] = WireTime(record.last_modified_time_ms);
  out["CreationTime"] = WireTime(record.creation_time_ms);
  return out;
}

Result<json> JobService::Describe(const json& request) {
  ASSIGN_OR_RETURN(std::string name, ValidateJobNameRequest(request));
  ASSIGN_OR_RETURN(JobRecord record, store_->Get(name));
  return DescribeJson(record);
}

Result<json> JobService::List(const json& request) {
  ASSIGN_OR_RETURN(ListQuery query, ParseListProcessingJobs(request));
  ASSIGN_OR_RETURN(JobPage page, store_->List(query));
  json summaries = json::array();
  for (const JobRecord& r : page.jobs) {
    json s = {{"ProcessingJobName", r.name},
              {"ProcessingJobArn", r.arn},
              {"CreationTime", WireTime(r.creation_time_ms)},
              {"LastModifiedTime", WireTime(r.last_modified_time_ms)},
              {"ProcessingJobStatus", JobStatusName(r.status)}};
    if (r.end_time_ms) s["ProcessingEndTime"] = WireTime(*r.end_time_ms);
    if (!r.failure_reason.empty()) s["FailureReason"] = r.failure_reason;
    if (!r.exit_message.empty()) s["ExitMessage"] = r.exit_message;
    summaries.push_back(std::move(s));
  }
  json out = {{"ProcessingJobSummaries", std::move(summaries)}};
  if (!page.next_token.empty()) out["NextToken"] = page.next_token;
  return out;
}

Result<json> JobService::Stop(const json& request) {
  ASSIGN_OR_RETURN(std::string name, ValidateJobNameRequest(request));
  ASSIGN_OR_RETURN(JobRecord record, store_->Get(name));
  if (IsTerminal(record.status)) {
    return Status::InvalidArgument(
        std::string("The request was rejected because the processing job is in status ") +
        JobStatusName(record.status) + ".");
  }
  RETURN_IF_ERROR(backend_->Stop(record.name));
  return json::object();
}

Result<json> JobService::Delete(const json& request) {
  ASSIGN_OR_RETURN(std::string name, ValidateJobNameRequest(request));
  ASSIGN_OR_RETURN(JobRecord record, store_->Get(name));
  if (!IsTerminal(record.status)) {
    return Status::FailedPrecondition(
        std::string("Processing job ") + record.name + " is in status " +
        JobStatusName(record.status) +
        "; only Completed, Failed or Stopped jobs can be deleted. Stop it first.");
  }
  RETURN_IF_ERROR(store_->Delete(record.name));
  RETURN_IF_ERROR(backend_->Remove(record));
  return json::object();
}

}  // namespace kiln
