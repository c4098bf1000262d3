#include "scheduler/job_environment.h"

#include <sys/stat.h>

#include "base/fs.h"

namespace kiln {

void EndpointSlot::Set(std::string url) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    url_ = std::move(url);
  }
  cv_.notify_all();
}

std::string EndpointSlot::Wait(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [this] { return !url_.empty(); });
  return url_;
}

EnvList ServiceEnvironment(const JobServices& services, const std::string& kiln_endpoint,
                           const JobCredential* credential,
                           const std::map<std::string, std::string>& job_env) {
  EnvList env;
  auto add = [&env](const char* name, const std::string& value) {
    if (!value.empty()) env.emplace_back(name, value);
  };
  const std::string& store = services.external_s3() ? services.s3_endpoint : kiln_endpoint;
  add("AWS_ENDPOINT_URL", store);
  add("AWS_ENDPOINT_URL_S3", store);
  if (services.external_s3()) {
    add("AWS_ACCESS_KEY_ID", services.s3_access_key_id);
    add("AWS_SECRET_ACCESS_KEY", services.s3_secret_access_key);
  } else if (credential != nullptr) {
    add("AWS_ACCESS_KEY_ID", credential->access_key_id);
    add("AWS_SECRET_ACCESS_KEY", credential->secret_access_key);
  }
  if (!services.python_dir.empty()) env.emplace_back("PYTHONPATH", JobPythonPath(job_env));
  return env;
}

std::string JobPythonPath(const std::map<std::string, std::string>& job_env) {
  std::string path = kJobPythonMount;
  auto user = job_env.find("PYTHONPATH");
  if (user != job_env.end() && !user->second.empty()) path += ":" + user->second;
  return path;
}

Status InstallJobPython(const std::string& dir) {
  RETURN_IF_ERROR(MakeDirs(dir, 0755));
  ::chmod(dir.c_str(), 0755);
  std::string path = dir + "/sitecustomize.py";
  RETURN_IF_ERROR(WriteFileAtomically(path, JobSiteCustomize()));
  if (::chmod(path.c_str(), 0644) != 0) return Status::FromErrno("chmod " + path, errno);
  return Status::Ok();
}

}  // namespace kiln
