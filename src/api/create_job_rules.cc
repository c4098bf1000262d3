#include "api/create_job_rules.h"

#include <map>
#include <string>

#include "api/instance_types.h"
#include "api/model_validator.h"

namespace kiln::api_internal {
namespace {

using nlohmann::json;

// Remembers where each name or LocalPath was first used, to report duplicates with both paths.
class FirstUse {
 public:
  // The path of the earlier use of `key`, or nullptr if this is the first.
  const std::string* Record(const std::string& key, const std::string& path) {
    auto [it, inserted] = first_.emplace(key, path);
    return inserted ? nullptr : &it->second;
  }

 private:
  std::map<std::string, std::string> first_;
};

bool AppManaged(const json& element) {
  const json* v = FindMember(element, "AppManaged");
  return v != nullptr && v->is_boolean() && v->get<bool>();
}

std::string StringOr(const json& object, std::string_view key, std::string fallback) {
  const json* v = FindMember(object, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : fallback;
}

// The LocalPath rules shared by S3Input, DatasetDefinition and S3Output.
void CheckLocalPath(const json& parent, bool app_managed, const std::string& parent_path,
                    FirstUse* local_paths, ValidationErrors* errors) {
  const std::string path = MemberPath(parent_path, "LocalPath");
  const json* value = FindMember(parent, "LocalPath");
  if (value == nullptr) {
    if (!app_managed)
      errors->Add(path, nullptr, "Member must not be null when AppManaged is false");
    return;
  }
  if (!value->is_string()) return;
  std::string local_path = value->get<std::string>();
  if (!IsValidLocalPath(local_path)) {
    errors->Add(path, value,
                "Member must be a normalised absolute path under " + std::string(kProcessingRoot));
    return;
  }
  if (local_path.back() == '/') local_path.pop_back();
  if (const std::string* earlier = local_paths->Record(local_path, path)) {
    errors->Add(path, value, "Member must not duplicate the LocalPath at '" + *earlier + "'");
  }
}

void CheckUniqueName(const json& element, std::string_view member, const std::string& element_path,
                     FirstUse* names, ValidationErrors* errors) {
  const json* name = FindMember(element, member);
  if (name == nullptr || !name->is_string()) return;
  const std::string path = MemberPath(element_path, member);
  if (const std::string* earlier = names->Record(name->get<std::string>(), path)) {
    errors->Add(path, name,
                "Member must not duplicate the " + std::string(member) + " at '" + *earlier + "'");
  }
}

void CheckInput(const json& input, const std::string& path, FirstUse* names, FirstUse* local_paths,
                ValidationErrors* errors) {
  if (!input.is_object()) return;
  CheckUniqueName(input, "InputName", path, names, errors);
  const bool app_managed = AppManaged(input);
  const json* s3 = FindMember(input, "S3Input");
  const json* dataset = FindMember(input, "DatasetDefinition");
  if ((s3 == nullptr) == (dataset == nullptr)) {
    errors->Add(path, &input, "Member must specify exactly one of S3Input or DatasetDefinition");
  }
  if (s3 != nullptr && s3->is_object()) {
    const std::string s3_path = MemberPath(path, "S3Input");
    CheckLocalPath(*s3, app_managed, s3_path, local_paths, errors);
    const json* compression = FindMember(*s3, "S3CompressionType");
    if (compression != nullptr && compression->is_string() && *compression == "Gzip" &&
        StringOr(*s3, "S3InputMode", "File") != "Pipe") {
      errors->Add(MemberPath(s3_path, "S3CompressionType"), compression,
                  "Member can be Gzip only when S3InputMode is Pipe");
    }
  }
  if (dataset != nullptr && dataset->is_object()) {
    const std::string dataset_path = MemberPath(path, "DatasetDefinition");
    bool athena = FindMember(*dataset, "AthenaDatasetDefinition") != nullptr;
    bool redshift = FindMember(*dataset, "RedshiftDatasetDefinition") != nullptr;
    if (athena == redshift) {
      errors->Add(dataset_path, dataset,
                  "Member must specify exactly one of AthenaDatasetDefinition or "
                  "RedshiftDatasetDefinition");
    }
    CheckLocalPath(*dataset, app_managed, dataset_path, local_paths, errors);
    errors->Add(dataset_path, dataset,
                "DatasetDefinition inputs (Athena or Redshift queries) are not supported by Kiln; "
                "use S3Input");
  }
}

void CheckOutput(const json& output, const std::string& path, FirstUse* names,
                 FirstUse* local_paths, ValidationErrors* errors) {
  if (!output.is_object()) return;
  CheckUniqueName(output, "OutputName", path, names, errors);
  const bool app_managed = AppManaged(output);
  const json* s3 = FindMember(output, "S3Output");
  const json* feature_store = FindMember(output, "FeatureStoreOutput");
  if ((s3 == nullptr) == (feature_store == nullptr)) {
    errors->Add(path, &output, "Member must specify exactly one of S3Output or FeatureStoreOutput");
  }
  if (feature_store != nullptr && !app_managed) {
    // With AppManaged the container writes to Feature Store itself and Kiln has nothing to do.
    errors->Add(MemberPath(path, "FeatureStoreOutput"), feature_store,
                "Member is supported only when AppManaged is true");
  }
  if (s3 != nullptr && s3->is_object()) {
    CheckLocalPath(*s3, app_managed, MemberPath(path, "S3Output"), local_paths, errors);
  }
}

void CheckClusterConfig(const json& request, ValidationErrors* errors) {
  const json* resources = FindMember(request, "ProcessingResources");
  const json* cluster = resources ? FindMember(*resources, "ClusterConfig") : nullptr;
  if (cluster == nullptr) return;
  const json* type = FindMember(*cluster, "InstanceType");
  if (type == nullptr || !type->is_string()) return;
  const InstanceTypeInfo* info = LookupInstanceType(type->get<std::string>());
  if (info == nullptr || !info->instance_store) return;
  const std::string path = "processingResources.clusterConfig";
  const std::string type_name(info->name);
  if (const json* kms = FindMember(*cluster, "VolumeKmsKeyId")) {
    errors->Add(path + ".volumeKmsKeyId", kms,
                "Member must not be set for " + type_name +
                    ", whose local instance storage is encrypted by the instance");
  }
  if (const json* volume = FindMember(*cluster, "VolumeSizeInGB")) {
    std::optional<int64_t> gb = AsInteger(*volume);
    if (gb && *gb > info->instance_store_gb) {
      errors->Add(path + ".volumeSizeInGB", volume,
                  "Member must have value less than or equal to " +
                      std::to_string(info->instance_store_gb) + " (the local instance storage of " +
                      type_name + ")");
    }
  }
}

}  // namespace

bool IsValidLocalPath(std::string_view path) {
  if (path.substr(0, kProcessingRoot.size()) != kProcessingRoot) return false;
  if (!IsNormalisedAbsolutePath(path)) return false;
  // Strictly below the root: at least one name after "/opt/ml/processing/".
  std::string_view rest = path.substr(kProcessingRoot.size());
  return !rest.empty() && rest != "/";
}

void CheckCreateProcessingJobSemantics(const json& request, ValidationErrors* errors) {
  FirstUse local_paths;  // shared by inputs and outputs: no two may stage into one directory
  if (const json* inputs = FindMember(request, "ProcessingInputs"); inputs && inputs->is_array()) {
    FirstUse names;
    for (size_t i = 0; i < inputs->size(); ++i) {
      CheckInput((*inputs)[i], ElementPath("processingInputs", i), &names, &local_paths, errors);
    }
  }
  const json* config = FindMember(request, "ProcessingOutputConfig");
  const json* outputs = config ? FindMember(*config, "Outputs") : nullptr;
  if (outputs != nullptr && outputs->is_array()) {
    FirstUse names;
    for (size_t i = 0; i < outputs->size(); ++i) {
      CheckOutput((*outputs)[i], ElementPath("processingOutputConfig.outputs", i), &names,
                  &local_paths, errors);
    }
  }
  CheckClusterConfig(request, errors);
}

}  // namespace kiln::api_internal
