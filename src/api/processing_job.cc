#include "api/processing_job.h"

#include <cmath>
#include <utility>

namespace kiln {
namespace {

using nlohmann::json;

constexpr std::pair<JobStatus, const char*> kStatusNames[] = {
    {JobStatus::kInProgress, "InProgress"}, {JobStatus::kCompleted, "Completed"},
    {JobStatus::kFailed, "Failed"},         {JobStatus::kStopping, "Stopping"},
    {JobStatus::kStopped, "Stopped"},
};

// Reads typed members out of a request, remembering the first problem as a path.
class Reader {
 public:
  const json* Find(const json& object, const char* key) const {
    if (!object.is_object()) return nullptr;
    auto it = object.find(key);
    return it == object.end() || it->is_null() ? nullptr : &*it;
  }

  Result<const json*> Object(const json& parent, const char* key, const std::string& path) {
    const json* v = Find(parent, key);
    if (v == nullptr) return Missing(path);
    if (!v->is_object()) return WrongType(path, "an object");
    return v;
  }

  Result<std::string> String(const json& parent, const char* key, const std::string& path) {
    const json* v = Find(parent, key);
    if (v == nullptr) return Missing(path);
    if (!v->is_string()) return WrongType(path, "a string");
    return v->get<std::string>();
  }

  Result<std::string> StringOr(const json& parent, const char* key, const std::string& path,
                               const char* fallback) {
    if (Find(parent, key) == nullptr) return std::string(fallback);
    return String(parent, key, path);
  }

  Result<int64_t> Integer(const json& parent, const char* key, const std::string& path) {
    const json* v = Find(parent, key);
    if (v == nullptr) return Missing(path);
    if (v->is_number_integer()) return v->get<int64_t>();
    // Validation accepts integral doubles such as 30.0 (and bounds them), so accept them here too.
    if (v->is_number_float() && std::trunc(v->get<double>()) == v->get<double>() &&
        std::fabs(v->get<double>()) < 9e15) {
      return static_cast<int64_t>(v->get<double>());
    }
    return WrongType(path, "an integer");
  }

  Result<bool> BoolOr(const json& parent, const char* key, const std::string& path, bool fallback) {
    const json* v = Find(parent, key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) return WrongType(path, "a boolean");
    return v->get<bool>();
  }

  Result<std::optional<std::vector<std::string>>> StringList(const json& parent, const char* key,
                                                             const std::string& path) {
    const json* v = Find(parent, key);
    if (v == nullptr) return std::optional<std::vector<std::string>>();
    if (!v->is_array()) return WrongType(path, "a list");
    std::vector<std::string> out;
    for (const json& item : *v) {
      if (!item.is_string()) return WrongType(path, "a list of strings");
      out.push_back(item.get<std::string>());
    }
    return std::optional<std::vector<std::string>>(std::move(out));
  }

 private:
  static Status Missing(const std::string& path) {
    return Status::InvalidArgument("request member " + path + " is missing");
  }
  static Status WrongType(const std::string& path, const char* type) {
    return Status::InvalidArgument("request member " + path + " must be " + type);
  }
};

Result<InputSpec> ReadInput(Reader& r, const json& input, const std::string& path) {
  InputSpec spec;
  ASSIGN_OR_RETURN(spec.name, r.String(input, "InputName", path + ".InputName"));
  ASSIGN_OR_RETURN(spec.app_managed, r.BoolOr(input, "AppManaged", path + ".AppManaged", false));
  const std::string s3_path = path + ".S3Input";
  ASSIGN_OR_RETURN(const json* s3, r.Object(input, "S3Input", s3_path));
  ASSIGN_OR_RETURN(spec.uri, r.String(*s3, "S3Uri", s3_path + ".S3Uri"));
  if (r.Find(*s3, "LocalPath") != nullptr || !spec.app_managed) {
    ASSIGN_OR_RETURN(spec.local_path, r.String(*s3, "LocalPath", s3_path + ".LocalPath"));
  }
  ASSIGN_OR_RETURN(spec.data_type, r.String(*s3, "S3DataType", s3_path + ".S3DataType"));
  ASSIGN_OR_RETURN(spec.input_mode,
                   r.StringOr(*s3, "S3InputMode", s3_path + ".S3InputMode", "File"));
  ASSIGN_OR_RETURN(spec.distribution,
                   r.StringOr(*s3, "S3DataDistributionType", s3_path + ".S3DataDistributionType",
                              "FullyReplicated"));
  ASSIGN_OR_RETURN(spec.compression,
                   r.StringOr(*s3, "S3CompressionType", s3_path + ".S3CompressionType", "None"));
  return spec;
}

Result<OutputSpec> ReadOutput(Reader& r, const json& output, const std::string& path) {
  OutputSpec spec;
  ASSIGN_OR_RETURN(spec.name, r.String(output, "OutputName", path + ".OutputName"));
  ASSIGN_OR_RETURN(spec.app_managed, r.BoolOr(output, "AppManaged", path + ".AppManaged", false));
  const json* s3 = r.Find(output, "S3Output");
  if (s3 == nullptr && spec.app_managed && r.Find(output, "FeatureStoreOutput") != nullptr) {
    return spec;  // the container writes to Feature Store itself
  }
  const std::string s3_path = path + ".S3Output";
  ASSIGN_OR_RETURN(s3, r.Object(output, "S3Output", s3_path));
  ASSIGN_OR_RETURN(spec.uri, r.String(*s3, "S3Uri", s3_path + ".S3Uri"));
  if (r.Find(*s3, "LocalPath") != nullptr || !spec.app_managed) {
    ASSIGN_OR_RETURN(spec.local_path, r.String(*s3, "LocalPath", s3_path + ".LocalPath"));
  }
  ASSIGN_OR_RETURN(spec.upload_mode, r.String(*s3, "S3UploadMode", s3_path + ".S3UploadMode"));
  return spec;
}

}  // namespace

const char* JobStatusName(JobStatus status) {
  for (const auto& [value, name] : kStatusNames) {
    if (value == status) return name;
  }
  return "Unknown";
}

std::optional<JobStatus> ParseJobStatus(std::string_view name) {
  for (const auto& [value, text] : kStatusNames) {
    if (name == text) return value;
  }
  return std::nullopt;
}

bool IsTerminal(JobStatus status) {
  return status == JobStatus::kCompleted || status == JobStatus::kFailed ||
         status == JobStatus::kStopped;
}

Result<JobSpec> JobSpecFromRequest(const nlohmann::json& request) {
  if (!request.is_object()) return Status::InvalidArgument("request must be a JSON object");
  Reader r;
  JobSpec spec;
  ASSIGN_OR_RETURN(spec.name, r.String(request, "ProcessingJobName", "ProcessingJobName"));
  ASSIGN_OR_RETURN(spec.role_arn, r.String(request, "RoleArn", "RoleArn"));

  ASSIGN_OR_RETURN(const json* app, r.Object(request, "AppSpecification", "AppSpecification"));
  ASSIGN_OR_RETURN(spec.image_uri, r.String(*app, "ImageUri", "AppSpecification.ImageUri"));
  ASSIGN_OR_RETURN(spec.entrypoint, r.StringList(*app, "ContainerEntrypoint",
                                                 "AppSpecification.ContainerEntrypoint"));
  ASSIGN_OR_RETURN(spec.arguments,
                   r.StringList(*app, "ContainerArguments", "AppSpecification.ContainerArguments"));

  if (const json* env = r.Find(request, "Environment")) {
    if (!env->is_object())
      return Status::InvalidArgument("request member Environment must be a map");
    for (const auto& [key, value] : env->items()) {
      if (!value.is_string()) {
        return Status::InvalidArgument("request member Environment." + key + " must be a string");
      }
      spec.environment[key] = value.get<std::string>();
    }
  }

  ASSIGN_OR_RETURN(const json* resources,
                   r.Object(request, "ProcessingResources", "ProcessingResources"));
  const std::string cluster_path = "ProcessingResources.ClusterConfig";
  ASSIGN_OR_RETURN(const json* cluster, r.Object(*resources, "ClusterConfig", cluster_path));
  ASSIGN_OR_RETURN(spec.instance_type,
                   r.String(*cluster, "InstanceType", cluster_path + ".InstanceType"));
  ASSIGN_OR_RETURN(int64_t count,
                   r.Integer(*cluster, "InstanceCount", cluster_path + ".InstanceCount"));
  ASSIGN_OR_RETURN(int64_t volume,
                   r.Integer(*cluster, "VolumeSizeInGB", cluster_path + ".VolumeSizeInGB"));
  spec.instance_count = static_cast<int>(count);
  spec.volume_size_gb = static_cast<int>(volume);

  if (const json* stopping = r.Find(request, "StoppingCondition")) {
    ASSIGN_OR_RETURN(spec.max_runtime_seconds, r.Integer(*stopping, "MaxRuntimeInSeconds",
                                                         "StoppingCondition.MaxRuntimeInSeconds"));
  }
  if (const json* network = r.Find(request, "NetworkConfig")) {
    ASSIGN_OR_RETURN(spec.network_isolation,
                     r.BoolOr(*network, "EnableNetworkIsolation",
                              "NetworkConfig.EnableNetworkIsolation", false));
  }

  if (const json* inputs = r.Find(request, "ProcessingInputs")) {
    if (!inputs->is_array()) {
      return Status::InvalidArgument("request member ProcessingInputs must be a list");
    }
    for (size_t i = 0; i < inputs->size(); ++i) {
      ASSIGN_OR_RETURN(InputSpec input,
                       ReadInput(r, (*inputs)[i], "ProcessingInputs[" + std::to_string(i) + "]"));
      spec.inputs.push_back(std::move(input));
    }
  }
  if (r.Find(request, "ProcessingOutputConfig") != nullptr) {
    ASSIGN_OR_RETURN(const json* config,
                     r.Object(request, "ProcessingOutputConfig", "ProcessingOutputConfig"));
    const json* outputs = r.Find(*config, "Outputs");
    if (outputs == nullptr || !outputs->is_array()) {
      return Status::InvalidArgument(
          "request member ProcessingOutputConfig.Outputs must be a list");
    }
    for (size_t i = 0; i < outputs->size(); ++i) {
      ASSIGN_OR_RETURN(OutputSpec output,
                       ReadOutput(r, (*outputs)[i],
                                  "ProcessingOutputConfig.Outputs[" + std::to_string(i) + "]"));
      spec.outputs.push_back(std::move(output));
    }
  }
  return spec;
}

}  // namespace kiln
