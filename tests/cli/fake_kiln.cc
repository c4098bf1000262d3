#include "fake_kiln.h"

namespace kiln::cli::testing {
namespace {

using nlohmann::json;

HttpResponse Ok(const json& body) { return {200, body.dump()}; }

size_t TokenIndex(const json& body, const char* key, const std::string& prefix) {
  if (!body.contains(key) || !body[key].is_string()) return 0;
  std::string token = body[key].get<std::string>();
  return token.rfind(prefix, 0) == 0 ? std::stoul(token.substr(prefix.size())) : 0;
}

}  // namespace

HttpResponse AwsError(const std::string& code, const std::string& message) {
  return {400, json{{"__type", code}, {"message", message}}.dump()};
}

FakeKiln::FakeKiln() : server_([this](const HttpRequest& request) { return Handle(request); }) {}

std::vector<std::string> FakeKiln::targets() const {
  std::vector<std::string> out;
  for (const HttpRequest& request : server_.requests())
    out.push_back(request.Header("x-amz-target"));
  return out;
}

void FakeKiln::PutJob(const json& job) {
  std::lock_guard<std::mutex> lock(mu_);
  jobs_[job["ProcessingJobName"].get<std::string>()] = job;
}

void FakeKiln::SetStatus(const std::string& name, const std::string& status,
                         const std::string& failure_reason) {
  std::lock_guard<std::mutex> lock(mu_);
  json& job = jobs_[name];
  job["ProcessingJobStatus"] = status;
  if (!failure_reason.empty()) job["FailureReason"] = failure_reason;
}

void FakeKiln::AddLogEvent(const std::string& stream, int64_t timestamp_ms,
                           const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  streams_[stream].push_back(
      {{"timestamp", timestamp_ms}, {"message", message}, {"ingestionTime", timestamp_ms}});
}

void FakeKiln::FailTarget(const std::string& target, HttpResponse response) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_[target] = std::move(response);
}

void FakeKiln::ClearFailures() {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.clear();
}

HttpResponse FakeKiln::Handle(const HttpRequest& request) {
  const std::string target = request.Header("x-amz-target");
  json body = json::parse(request.body, nullptr, false);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = failures_.find(target); it != failures_.end()) return it->second;
  if (target.rfind("SageMaker.", 0) == 0 && target != "SageMaker.CreateProcessingJob" &&
      target != "SageMaker.ListProcessingJobs") {
    std::string name = body.value("ProcessingJobName", "");
    auto job = jobs_.find(name);
    if (job == jobs_.end()) {
      return AwsError("ValidationException", "Could not find requested job with name " + name);
    }
    if (target == "SageMaker.DescribeProcessingJob") return Ok(job->second);
    if (target == "SageMaker.StopProcessingJob") {
      job->second["ProcessingJobStatus"] = "Stopping";
      return {200, ""};
    }
    if (target == "SageMaker.DeleteProcessingJob") {
      jobs_.erase(job);
      return {200, ""};
    }
  }
  if (target == "SageMaker.CreateProcessingJob") return CreateJob(body);
  if (target == "SageMaker.ListProcessingJobs") return ListJobs(body);
  if (target == "Logs_20140328.DescribeLogStreams") return DescribeLogStreams(body);
  if (target == "Logs_20140328.GetLogEvents") return GetLogEvents(body);
  return AwsError("UnknownOperationException", "unknown target " + target);
}

HttpResponse FakeKiln::CreateJob(const json& body) {
  std::string name = body.value("ProcessingJobName", "");
  if (jobs_.count(name) > 0) return AwsError("ResourceInUse", "job " + name + " exists");
  json job = body;
  job["ProcessingJobArn"] = "arn:aws:sagemaker:us-east-1:000000000000:processing-job/" + name;
  job["ProcessingJobStatus"] = "InProgress";
  jobs_[name] = job;
  return Ok({{"ProcessingJobArn", job["ProcessingJobArn"]}});
}

HttpResponse FakeKiln::ListJobs(const json& body) {
  size_t start = TokenIndex(body, "NextToken", "p/");
  size_t limit = std::min<size_t>(body.value("MaxResults", 10), kJobsPerPage);
  std::vector<json> matching;
  for (const auto& [name, job] : jobs_) {
    if (body.contains("StatusEquals") && job["ProcessingJobStatus"] != body["StatusEquals"]) {
      continue;
    }
    matching.push_back({{"ProcessingJobName", name},
                        {"ProcessingJobStatus", job["ProcessingJobStatus"]},
                        {"CreationTime", job.value("CreationTime", 0.0)}});
  }
  json page = {{"ProcessingJobSummaries", json::array()}};
  for (size_t i = start; i < matching.size() && i < start + limit; ++i) {
    page["ProcessingJobSummaries"].push_back(matching[i]);
  }
  if (start + limit < matching.size()) page["NextToken"] = "p/" + std::to_string(start + limit);
  return Ok(page);
}

HttpResponse FakeKiln::DescribeLogStreams(const json& body) {
  if (streams_.empty()) {
    return AwsError("ResourceNotFoundException", "The specified log group does not exist.");
  }
  std::string prefix = body.value("logStreamNamePrefix", "");
  std::vector<std::string> names;
  for (const auto& [name, events] : streams_) {
    if (name.rfind(prefix, 0) == 0) names.push_back(name);
  }
  size_t start = TokenIndex(body, "nextToken", "s/");
  json page = {{"logStreams", json::array()}};
  for (size_t i = start; i < names.size() && i < start + kStreamsPerPage; ++i) {
    page["logStreams"].push_back({{"logStreamName", names[i]}, {"creationTime", 1}});
  }
  if (start + kStreamsPerPage < names.size()) {
    page["nextToken"] = "s/" + std::to_string(start + kStreamsPerPage);
  }
  return Ok(page);
}

HttpResponse FakeKiln::GetLogEvents(const json& body) {
  auto stream = streams_.find(body.value("logStreamName", ""));
  if (stream == streams_.end()) {
    return AwsError("ResourceNotFoundException", "The specified log stream does not exist.");
  }
  size_t start = TokenIndex(body, "nextToken", "f/");
  json page = {{"events", json::array()}};
  size_t end = std::min(stream->second.size(), start + kEventsPerPage);
  for (size_t i = start; i < end; ++i) page["events"].push_back(stream->second[i]);
  page["nextForwardToken"] = "f/" + std::to_string(std::max(start, end));
  page["nextBackwardToken"] = "b/" + std::to_string(start);
  return Ok(page);
}

}  // namespace kiln::cli::testing
