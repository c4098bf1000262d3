#include "scheduler/job_layout.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>

#include "api/instance_types.h"
#include "base/fs.h"

namespace kiln {
namespace {

using nlohmann::json;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Length of the longest prefix of `s` that is whole, valid UTF-8; `valid` says whether all of
// `s` is valid (a truncated last character counts as invalid).
size_t ValidUtf8Prefix(const std::string& s, bool* valid) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    if (len == 0 || i + len > s.size()) break;
    bool ok = true;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) ok = false;
    }
    if (!ok) break;
    i += len;
  }
  *valid = i == s.size();
  return i;
}

Result<std::string> ReadNoFollow(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return std::string();
    return Status::InvalidArgument("/opt/ml/output/message is not a regular file");
  }
  std::string out(max_bytes, '\0');
  size_t got = 0;
  while (got < max_bytes) {
    ssize_t n = ::read(fd, out.data() + got, max_bytes - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(got);
  return out;
}

json NullIfAbsent(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? json(nullptr) : *it;
}

}  // namespace

JobLayout JobLayout::Plan(const std::string& jobs_root, const JobRecord& record, int instance_count,
                          int64_t epoch_seconds) {
  JobLayout layout;
  layout.job_dir =
      jobs_root + "/" + Lower(record.name) + "-" + std::to_string(record.creation_time_ms);
  for (int i = 1; i <= instance_count; ++i) {
    InstanceLayout inst;
    inst.host = "algo-" + std::to_string(i);
    inst.dir = layout.job_dir + "/" + inst.host;
    std::string stream_suffix = inst.host + "-" + std::to_string(epoch_seconds);
    inst.log_stream = record.name + "/" + stream_suffix;
    inst.log_path = layout.job_dir + "/logs/" + stream_suffix + ".log";
    layout.instances.push_back(std::move(inst));
  }
  return layout;
}

std::vector<std::string> JobLayout::Hosts() const {
  std::vector<std::string> hosts;
  for (const InstanceLayout& inst : instances) hosts.push_back(inst.host);
  return hosts;
}

json JobLayout::ToJson() const {
  json instances = json::array();
  for (const auto& i : this->instances) {
    instances.push_back(
        {{"host", i.host}, {"dir", i.dir}, {"log_stream", i.log_stream}, {"log_path", i.log_path}});
  }
  return {{"job_dir", job_dir}, {"instances", instances}};
}

Result<JobLayout> JobLayout::FromJson(const json& j) {
  try {
    JobLayout layout;
    layout.job_dir = j.at("job_dir").get<std::string>();
    for (const auto& i : j.at("instances")) {
      layout.instances.push_back({i.at("host").get<std::string>(), i.at("dir").get<std::string>(),
                                  i.at("log_stream").get<std::string>(),
                                  i.at("log_path").get<std::string>()});
    }
    return layout;
  } catch (const json::exception& e) {
    return Status::Internal(std::string("stored job layout is unreadable: ") + e.what());
  }
}

Status PrepareInstanceDirs(const JobLayout& layout, size_t index, const JobRecord& record,
                           const JobSpec& spec) {
  const InstanceLayout& inst = layout.instances[index];
  for (const std::string& d : {layout.job_dir + "/logs", inst.processing_dir(), inst.config_dir(),
                               inst.output_dir(), inst.runtime_dir()}) {
    RETURN_IF_ERROR(MakeDirs(d));
  }

  // processingjobconfig.json: the request with the ARN, defaults filled, absent optional
  // scalars as null and the internal S3DownloadMode, as SageMaker writes it (spec §4.3).
  json config = record.request;
  config.erase("Tags");
  config["ProcessingJobArn"] = record.arn;
  json& app = config["AppSpecification"];
  app["ContainerEntrypoint"] = NullIfAbsent(app, "ContainerEntrypoint");
  app["ContainerArguments"] = NullIfAbsent(app, "ContainerArguments");
  json& cluster = config["ProcessingResources"]["ClusterConfig"];
  cluster["VolumeKmsKeyId"] = NullIfAbsent(cluster, "VolumeKmsKeyId");
  if (config.contains("ProcessingOutputConfig")) {
    json& outputs = config["ProcessingOutputConfig"];
    outputs["KmsKeyId"] = NullIfAbsent(outputs, "KmsKeyId");
  }
  if (config.contains("ProcessingInputs")) {
    for (json& input : config["ProcessingInputs"]) {
      if (input.contains("S3Input")) input["S3Input"]["S3DownloadMode"] = "StartOfJob";
    }
  }
  if (!config.contains("Environment")) config["Environment"] = json::object();

  json resource = {{"current_host", inst.host},
                   {"hosts", layout.Hosts()},
                   {"current_instance_type", spec.instance_type},
                   {"current_group_name", "homogeneousCluster"},
                   {"network_interface_name", "eth0"}};
  // These files are regenerated from the store whenever needed, so they skip fsync.
  RETURN_IF_ERROR(ReplaceFile(inst.config_dir() + "/processingjobconfig.json", config.dump(2)));
  return ReplaceFile(inst.config_dir() + "/resourceconfig.json", resource.dump(2));
}

Result<std::string> CollectExitMessage(const JobLayout& layout) {
  constexpr size_t kMax = 1024;
  std::string combined;
  for (const auto& inst : layout.instances) {
    if (combined.size() >= kMax) break;
    ASSIGN_OR_RETURN(std::string part, ReadNoFollow(inst.output_dir() + "/message", kMax));
    bool valid = false;
    size_t whole = ValidUtf8Prefix(part, &valid);
    // A message cut by our own 1 KiB read may end inside a character; anything else invalid
    // is the job's fault.
    if (!valid && !(part.size() == kMax && part.size() - whole < 4)) {
      return Status::InvalidArgument("/opt/ml/output/message on " + inst.host +
                                     " is not valid UTF-8");
    }
    combined += part.substr(0, whole);
  }
  if (combined.size() > kMax) {
    bool valid = false;
    combined.resize(ValidUtf8Prefix(combined.substr(0, kMax), &valid));
  }
  return combined;
}

ResourceLimits LimitsForInstanceType(const std::string& instance_type, double host_cpus,
                                     int64_t host_memory_bytes) {
  ResourceLimits limits;
  limits.pids = 4096;
  const InstanceTypeInfo* info = LookupInstanceType(instance_type);
  if (info == nullptr) return limits;
  limits.cpus = std::min<double>(info->vcpus, host_cpus);
  limits.memory_bytes =
      std::min<int64_t>(static_cast<int64_t>(info->memory_gib) << 30, host_memory_bytes);
  return limits;
}

}  // namespace kiln
