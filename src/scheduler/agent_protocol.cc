#include "scheduler/agent_protocol.h"

namespace kiln {
namespace {

using nlohmann::json;

constexpr char kPrincipalPrefix[] = "agent/";

Status Unreadable(const char* what, const json::exception& e) {
  return Status::InvalidArgument(std::string("bad ") + what + ": " + e.what());
}

}  // namespace

std::string AgentPrincipal(const std::string& job_name) { return kPrincipalPrefix + job_name; }

std::optional<std::string> JobOfAgentPrincipal(const std::string& principal) {
  const std::string prefix = kPrincipalPrefix;
  if (principal.size() <= prefix.size() || principal.compare(0, prefix.size(), prefix) != 0) {
    return std::nullopt;
  }
  return principal.substr(prefix.size());
}

json AgentAssignment::ToJson() const {
  json env_json = json::array();
  for (const auto& [k, v] : env) env_json.push_back({{"Name", k}, {"Value", v}});
  return {{"JobName", job_name},
          {"Arn", arn},
          {"CreationTimeMs", creation_time_ms},
          {"Request", request},
          {"HostIndex", host_index},
          {"HostCount", host_count},
          {"Argv", argv},
          {"Environment", env_json},
          {"WorkingDir", working_dir},
          {"Runtime", runtime},
          {"ImageRoot", image_root},
          {"ImageUser", image_user},
          {"OciRuntime", oci_runtime},
          {"MountJobPython", mount_job_python},
          {"FileRoots", file_roots},
          {"StopGraceMs", stop_grace_ms},
          {"S3Endpoint", s3_endpoint},
          {"S3Region", s3_region},
          {"S3AccessKeyId", s3_access_key_id},
          {"S3SecretAccessKey", s3_secret_access_key}};
}

Result<AgentAssignment> AgentAssignment::FromJson(const json& j) {
  try {
    AgentAssignment a;
    a.job_name = j.at("JobName").get<std::string>();
    a.arn = j.at("Arn").get<std::string>();
    a.creation_time_ms = j.at("CreationTimeMs").get<int64_t>();
    a.request = j.at("Request");
    a.host_index = j.at("HostIndex").get<int>();
    a.host_count = j.at("HostCount").get<int>();
    a.argv = j.at("Argv").get<std::vector<std::string>>();
    for (const json& kv : j.at("Environment")) {
      a.env.emplace_back(kv.at("Name").get<std::string>(), kv.at("Value").get<std::string>());
    }
    a.working_dir = j.at("WorkingDir").get<std::string>();
    // A server from before OCI images on Slurm sends host-runtime assignments without these.
    a.runtime = j.value("Runtime", "host");
    a.image_root = j.value("ImageRoot", "");
    a.image_user = j.value("ImageUser", "");
    a.oci_runtime = j.value("OciRuntime", "runc");
    a.mount_job_python = j.at("MountJobPython").get<bool>();
    a.file_roots = j.at("FileRoots").get<std::vector<std::string>>();
    a.stop_grace_ms = j.at("StopGraceMs").get<int64_t>();
    a.s3_endpoint = j.value("S3Endpoint", "");
    a.s3_region = j.value("S3Region", "");
    a.s3_access_key_id = j.value("S3AccessKeyId", "");
    a.s3_secret_access_key = j.value("S3SecretAccessKey", "");
    if (a.host_index < 0 || a.host_index >= a.host_count) {
      return Status::InvalidArgument("bad assignment: HostIndex out of range");
    }
    if (a.runtime.empty()) return Status::InvalidArgument("bad assignment: empty Runtime");
    if (a.oci_runtime != "runc" && a.oci_runtime != "crun") {
      return Status::InvalidArgument("bad assignment: OciRuntime '" + a.oci_runtime +
                                     "' is neither runc nor crun");
    }
    if (!a.image_root.empty() && a.image_root[0] != '/') {
      return Status::InvalidArgument("bad assignment: ImageRoot '" + a.image_root +
                                     "' is not an absolute path");
    }
    return a;
  } catch (const json::exception& e) {
    return Unreadable("assignment", e);
  }
}

json AgentExitReport::ToJson() const {
  return {{"HostIndex", host_index}, {"ExitCode", exit_code}, {"TermSignal", term_signal},
          {"OomKilled", oom_killed}, {"Error", error},        {"FailureReason", failure_reason},
          {"Message", message}};
}

Result<AgentExitReport> AgentExitReport::FromJson(const json& j) {
  try {
    AgentExitReport r;
    r.host_index = j.at("HostIndex").get<int>();
    r.exit_code = j.at("ExitCode").get<int>();
    r.term_signal = j.value("TermSignal", 0);
    r.oom_killed = j.value("OomKilled", false);
    r.error = j.value("Error", "");
    r.failure_reason = j.value("FailureReason", "");
    r.message = j.value("Message", "");
    return r;
  } catch (const json::exception& e) {
    return Unreadable("exit report", e);
  }
}

json AgentLogBatch::ToJson() const {
  json events_json = json::array();
  for (const LogEvent& e : events) {
    events_json.push_back({{"Timestamp", e.timestamp_ms}, {"Message", e.message}});
  }
  return {{"HostIndex", host_index}, {"Events", events_json}};
}

Result<AgentLogBatch> AgentLogBatch::FromJson(const json& j) {
  try {
    AgentLogBatch b;
    b.host_index = j.at("HostIndex").get<int>();
    for (const json& e : j.at("Events")) {
      b.events.push_back({e.at("Timestamp").get<int64_t>(), e.at("Message").get<std::string>()});
    }
    return b;
  } catch (const json::exception& e) {
    return Unreadable("log batch", e);
  }
}

}  // namespace kiln
