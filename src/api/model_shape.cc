// The CreateProcessingJob, ListProcessingJobs and job-name request shapes, transcribed from
// botocore's sagemaker/2017-07-24/service-2.json (spec §2.1, §2.3). Patterns are full-match.
#include "api/model_shape.h"

#include <re2/re2.h>

#include <deque>
#include <mutex>
#include <utility>

#include "api/instance_types.h"

namespace kiln::api_internal {
namespace {

// Owns every shape; never destroyed, so the pointers between shapes stay valid for the program.
class Arena {
 public:
  const Shape* Add(Shape shape) {
    std::lock_guard<std::mutex> lock(mu_);
    shapes_.push_back(std::move(shape));
    return &shapes_.back();
  }

 private:
  std::mutex mu_;
  std::deque<Shape> shapes_;  // guarded by mu_; deque keeps addresses stable
};

Arena& TheArena() {
  static Arena* arena = new Arena();
  return *arena;
}

const Shape* Add(Shape shape) { return TheArena().Add(std::move(shape)); }

// `model` is the pattern as botocore writes it (no anchors); `re2` an equivalent for RE2 when the
// Java syntax differs.
Pattern MakePattern(std::string_view model, std::string_view re2 = {}) {
  Pattern p;
  p.display = "^" + std::string(model) + "$";
  re2::RE2::Options options;
  options.set_log_errors(false);
  p.re = std::make_shared<re2::RE2>(std::string(re2.empty() ? model : re2), options);
  return p;
}

const Shape* String(int64_t min, int64_t max, std::string_view pattern = {},
                    std::string_view re2 = {}) {
  Shape s;
  s.kind = ShapeKind::kString;
  s.min = min;
  s.max = max;
  if (!pattern.empty()) s.pattern = MakePattern(pattern, re2);
  return Add(std::move(s));
}

const Shape* UnboundedString() {
  Shape s;
  s.kind = ShapeKind::kString;
  return Add(std::move(s));
}

const Shape* Enum(std::vector<std::string> values) {
  Shape s;
  s.kind = ShapeKind::kString;
  s.enum_values = std::move(values);
  return Add(std::move(s));
}

const Shape* Integer(int64_t min, int64_t max) {
  Shape s;
  s.kind = ShapeKind::kInteger;
  s.min = min;
  s.max = max;
  return Add(std::move(s));
}

const Shape* Boolean() {
  Shape s;
  s.kind = ShapeKind::kBoolean;
  return Add(std::move(s));
}

const Shape* Timestamp() {
  Shape s;
  s.kind = ShapeKind::kTimestamp;
  return Add(std::move(s));
}

const Shape* List(const Shape* element, int64_t min, int64_t max) {
  Shape s;
  s.kind = ShapeKind::kList;
  s.element = element;
  s.min = min;
  s.max = max;
  return Add(std::move(s));
}

const Shape* Map(const Shape* key, const Shape* value, int64_t min, int64_t max) {
  Shape s;
  s.kind = ShapeKind::kMap;
  s.key = key;
  s.value = value;
  s.min = min;
  s.max = max;
  return Add(std::move(s));
}

const Shape* Structure(std::vector<MemberDef> members) {
  Shape s;
  s.kind = ShapeKind::kStructure;
  s.members = std::move(members);
  return Add(std::move(s));
}

MemberDef Req(std::string name, const Shape* shape) { return {std::move(name), shape, true}; }
MemberDef Opt(std::string name, const Shape* shape) { return {std::move(name), shape, false}; }

const Shape* S3Uri() {
  static const Shape* shape = [] {
    Shape s = *String(0, 1024, "(https|s3)://([^/]+)/?(.*)");
    s.s3_uri = true;
    return Add(std::move(s));
  }();
  return shape;
}

const Shape* KmsKeyId() {
  static const Shape* shape = String(0, 2048, "[a-zA-Z0-9:/_-]*");
  return shape;
}

const Shape* RoleArn() {
  static const Shape* shape =
      String(20, 2048, R"(arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+)");
  return shape;
}

const Shape* ProcessingJobName() {
  static const Shape* shape = String(1, 63, "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}");
  return shape;
}

const Shape* LocalPath() {
  static const Shape* shape = String(0, 256, ".*");
  return shape;
}

const Shape* DataDistribution() {
  static const Shape* shape = Enum({"FullyReplicated", "ShardedByS3Key"});
  return shape;
}

const Shape* InputMode() {
  static const Shape* shape = Enum({"Pipe", "File"});
  return shape;
}

const Shape* AthenaDatasetDefinition() {
  // The Java pattern names UTF-16 ranges (BMP minus surrogates, then surrogate pairs): any code
  // point from U+0020 except U+FFFE/U+FFFF, plus tab.
  const Shape* catalog =
      String(1, 256, R"([\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*)",
             R"([\x{20}-\x{D7FF}\x{E000}-\x{FFFD}\x{10000}-\x{10FFFF}\t]*)");
  return Structure({
      Req("Catalog", catalog),
      Req("Database", String(1, 255, ".*")),
      Req("QueryString", String(1, 4096, R"([\s\S]+)")),
      Opt("WorkGroup", String(1, 128, "[a-zA-Z0-9._-]+")),
      Req("OutputS3Uri", S3Uri()),
      Opt("KmsKeyId", KmsKeyId()),
      Req("OutputFormat", Enum({"PARQUET", "ORC", "AVRO", "JSON", "TEXTFILE"})),
      Opt("OutputCompression", Enum({"GZIP", "SNAPPY", "ZLIB"})),
  });
}

const Shape* RedshiftDatasetDefinition() {
  return Structure({
      Req("ClusterId", String(1, 63, ".*")),
      Req("Database", String(1, 64, ".*")),
      Req("DbUser", String(1, 128, ".*")),
      Req("QueryString", String(1, 4096, R"([\s\S]+)")),
      Req("ClusterRoleArn", RoleArn()),
      Req("OutputS3Uri", S3Uri()),
      Opt("KmsKeyId", KmsKeyId()),
      Req("OutputFormat", Enum({"PARQUET", "CSV"})),
      Opt("OutputCompression", Enum({"None", "GZIP", "BZIP2", "ZSTD", "SNAPPY"})),
  });
}

const Shape* ProcessingInputs() {
  const Shape* s3_input = Structure({
      Req("S3Uri", S3Uri()),
      Opt("LocalPath", LocalPath()),
      Req("S3DataType", Enum({"ManifestFile", "S3Prefix"})),
      Opt("S3InputMode", InputMode()),
      Opt("S3DataDistributionType", DataDistribution()),
      Opt("S3CompressionType", Enum({"None", "Gzip"})),
  });
  const Shape* dataset = Structure({
      Opt("AthenaDatasetDefinition", AthenaDatasetDefinition()),
      Opt("RedshiftDatasetDefinition", RedshiftDatasetDefinition()),
      Opt("LocalPath", LocalPath()),
      Opt("DataDistributionType", DataDistribution()),
      Opt("InputMode", InputMode()),
  });
  const Shape* input = Structure({
      Req("InputName", UnboundedString()),
      Opt("AppManaged", Boolean()),
      Opt("S3Input", s3_input),
      Opt("DatasetDefinition", dataset),
  });
  return List(input, 0, 10);
}

const Shape* ProcessingOutputConfig() {
  const Shape* s3_output = Structure({
      Req("S3Uri", S3Uri()),
      Opt("LocalPath", LocalPath()),
      Req("S3UploadMode", Enum({"Continuous", "EndOfJob"})),
  });
  const Shape* feature_store = Structure({
      Req("FeatureGroupName", String(1, 64, "[a-zA-Z0-9]([_-]*[a-zA-Z0-9]){0,63}")),
  });
  const Shape* output = Structure({
      Req("OutputName", UnboundedString()),
      Opt("S3Output", s3_output),
      Opt("FeatureStoreOutput", feature_store),
      Opt("AppManaged", Boolean()),
  });
  return Structure({
      Req("Outputs", List(output, 0, 10)),
      Opt("KmsKeyId", KmsKeyId()),
  });
}

const Shape* ProcessingResources() {
  std::vector<std::string> types;
  for (const InstanceTypeInfo& info : AllInstanceTypes()) types.emplace_back(info.name);
  const Shape* cluster = Structure({
      Req("InstanceCount", Integer(1, 100)),
      Req("InstanceType", Enum(std::move(types))),
      Req("VolumeSizeInGB", Integer(1, 16384)),
      Opt("VolumeKmsKeyId", KmsKeyId()),
  });
  return Structure({Req("ClusterConfig", cluster)});
}

const Shape* AppSpecification() {
  return Structure({
      Req("ImageUri", String(0, 255, ".*")),
      Opt("ContainerEntrypoint", List(String(0, 256, ".*"), 1, 100)),
      Opt("ContainerArguments", List(String(0, 256, ".*"), 1, 100)),
  });
}

const Shape* NetworkConfig() {
  const Shape* vpc = Structure({
      Req("SecurityGroupIds", List(String(0, 32, "[-0-9a-zA-Z]+"), 1, 5)),
      Req("Subnets", List(String(0, 32, "[-0-9a-zA-Z]+"), 1, 16)),
  });
  return Structure({
      Opt("EnableInterContainerTrafficEncryption", Boolean()),
      Opt("EnableNetworkIsolation", Boolean()),
      Opt("VpcConfig", vpc),
  });
}

const Shape* Tags() {
  constexpr std::string_view kTagPattern = R"(([\p{L}\p{Z}\p{N}_.:/=+\-@]*))";
  const Shape* tag = Structure({
      Req("Key", String(1, 128, kTagPattern)),
      Req("Value", String(0, 256, kTagPattern)),
  });
  return List(tag, 0, 50);
}

const Shape* ExperimentConfig() {
  const Shape* name = String(1, 120, "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,119}");
  return Structure({
      Opt("ExperimentName", name),
      Opt("TrialName", name),
      Opt("TrialComponentDisplayName", name),
      Opt("RunName", name),
  });
}

const Shape* BuildCreateProcessingJobRequest() {
  return Structure({
      Opt("ProcessingInputs", ProcessingInputs()),
      Opt("ProcessingOutputConfig", ProcessingOutputConfig()),
      Req("ProcessingJobName", ProcessingJobName()),
      Req("ProcessingResources", ProcessingResources()),
      Opt("StoppingCondition", Structure({Req("MaxRuntimeInSeconds", Integer(1, 777600))})),
      Req("AppSpecification", AppSpecification()),
      Opt("Environment",
          Map(String(0, 256, "[a-zA-Z_][a-zA-Z0-9_]*"), String(0, 256, R"([\S\s]*)"), 0, 100)),
      Opt("NetworkConfig", NetworkConfig()),
      Req("RoleArn", RoleArn()),
      Opt("Tags", Tags()),
      Opt("ExperimentConfig", ExperimentConfig()),
  });
}

const Shape* BuildListProcessingJobsRequest() {
  return Structure({
      Opt("CreationTimeAfter", Timestamp()),
      Opt("CreationTimeBefore", Timestamp()),
      Opt("LastModifiedTimeAfter", Timestamp()),
      Opt("LastModifiedTimeBefore", Timestamp()),
      Opt("NameContains", UnboundedString()),
      Opt("StatusEquals", Enum({"InProgress", "Completed", "Failed", "Stopping", "Stopped"})),
      Opt("SortBy", Enum({"Name", "CreationTime", "Status"})),
      Opt("SortOrder", Enum({"Ascending", "Descending"})),
      Opt("NextToken", String(0, 8192, ".*")),
      Opt("MaxResults", Integer(1, 100)),
  });
}

}  // namespace

const Shape& CreateProcessingJobRequestShape() {
  static const Shape* shape = BuildCreateProcessingJobRequest();
  return *shape;
}

const Shape& ListProcessingJobsRequestShape() {
  static const Shape* shape = BuildListProcessingJobsRequest();
  return *shape;
}

const Shape& JobNameRequestShape() {
  static const Shape* shape = Structure({Req("ProcessingJobName", ProcessingJobName())});
  return *shape;
}

}  // namespace kiln::api_internal
