// One row per semantic rule of CreateProcessingJob (spec §3.1, §8.14) and per model rule of the
// DatasetDefinition inputs Kiln refuses: each row names the exact Coral message.
#include "rule_case.h"

namespace kiln::rules_testing {
namespace {

// --- DatasetDefinition rows: model rules apply, then Kiln refuses the input -----------------

json AthenaDefinition() {
  return {{"Catalog", "AwsDataCatalog"},
          {"Database", "db"},
          {"QueryString", "SELECT 1"},
          {"OutputS3Uri", "s3://bucket/athena/"},
          {"OutputFormat", "PARQUET"}};
}

json RedshiftDefinition() {
  return {{"ClusterId", "cluster-1"},
          {"Database", "dev"},
          {"DbUser", "user"},
          {"QueryString", "SELECT 1"},
          {"ClusterRoleArn", "arn:aws:iam::123456789012:role/Redshift"},
          {"OutputS3Uri", "s3://bucket/redshift/"},
          {"OutputFormat", "CSV"}};
}

const std::string kUnsupportedDataset =
    Item("<V>", kIn2 + ".datasetDefinition",
         "DatasetDefinition inputs (Athena or Redshift queries) are not supported by Kiln; use "
         "S3Input");

// Input 2 becomes a DatasetDefinition of `kind` whose `member` is `value` (null: removed).
RuleCase DatasetCase(std::string name, const char* kind, const char* member, json value,
                     std::vector<std::string> expected) {
  expected.push_back(kUnsupportedDataset);
  auto mutate = [kind, member, value](json& body) {
    json definition = std::string(kind) == "Athena" ? AthenaDefinition() : RedshiftDefinition();
    if (value.is_null()) {
      definition.erase(member);
    } else {
      definition[member] = value;
    }
    body["ProcessingInputs"][1] = {{"InputName", "code"},
                                   {"DatasetDefinition",
                                    {{std::string(kind) + "DatasetDefinition", definition},
                                     {"LocalPath", "/opt/ml/processing/dataset"}}}};
  };
  return {std::move(name), mutate, std::move(expected), "/ProcessingInputs/1/DatasetDefinition"};
}

// Like DatasetCase, but `member` is one of DatasetDefinition's own members.
RuleCase DatasetLevelCase(std::string name, const char* member, json value,
                          std::vector<std::string> expected) {
  RuleCase c =
      DatasetCase(std::move(name), "Athena", "Catalog", "AwsDataCatalog", std::move(expected));
  auto base = c.mutate;
  c.mutate = [base, member, value](json& body) {
    base(body);
    json& dataset = body["ProcessingInputs"][1]["DatasetDefinition"];
    if (value.is_null()) {
      dataset.erase(member);
    } else {
      dataset[member] = value;
    }
  };
  return c;
}

std::string AthenaPath(const char* member) {
  return kIn2 + ".datasetDefinition.athenaDatasetDefinition." + member;
}
std::string RedshiftPath(const char* member) {
  return kIn2 + ".datasetDefinition.redshiftDatasetDefinition." + member;
}

std::vector<RuleCase> DatasetCases() {
  const std::string kCatalogPattern =
      R"(^[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*$)";
  return {
      DatasetCase("AthenaSupportedShapeIsRefused", "Athena", "WorkGroup", "primary", {}),
      DatasetCase("RedshiftSupportedShapeIsRefused", "Redshift", "KmsKeyId", "key", {}),
      DatasetCase("AthenaCatalogMissing", "Athena", "Catalog", nullptr,
                  {Item(kNull, AthenaPath("catalog"), kNotNull)}),
      DatasetCase("AthenaCatalogControlCharacter", "Athena", "Catalog", "a\x01",
                  {Item(Q("a\x01"), AthenaPath("catalog"), Pattern(kCatalogPattern))}),
      DatasetCase("AthenaCatalogTooLong", "Athena", "Catalog", std::string(257, 'c'),
                  {Item(Q(std::string(257, 'c')), AthenaPath("catalog"), MaxLen(256))}),
      DatasetCase("AthenaDatabaseTooLong", "Athena", "Database", std::string(256, 'd'),
                  {Item(Q(std::string(256, 'd')), AthenaPath("database"), MaxLen(255))}),
      DatasetCase("AthenaQueryEmpty", "Athena", "QueryString", "",
                  {Item(Q(""), AthenaPath("queryString"), MinLen(1)),
                   Item(Q(""), AthenaPath("queryString"), Pattern(R"(^[\s\S]+$)"))}),
      DatasetCase("AthenaWorkGroupPattern", "Athena", "WorkGroup", "work group",
                  {Item(Q("work group"), AthenaPath("workGroup"), Pattern("^[a-zA-Z0-9._-]+$"))}),
      DatasetCase("AthenaOutputS3UriMissing", "Athena", "OutputS3Uri", nullptr,
                  {Item(kNull, AthenaPath("outputS3Uri"), kNotNull)}),
      DatasetCase(
          "AthenaOutputFormat", "Athena", "OutputFormat", "CSV",
          {Item(Q("CSV"), AthenaPath("outputFormat"), Enum("PARQUET, ORC, AVRO, JSON, TEXTFILE"))}),
      DatasetCase("AthenaOutputCompression", "Athena", "OutputCompression", "LZ4",
                  {Item(Q("LZ4"), AthenaPath("outputCompression"), Enum("GZIP, SNAPPY, ZLIB"))}),
      DatasetCase("RedshiftClusterIdTooLong", "Redshift", "ClusterId", std::string(64, 'c'),
                  {Item(Q(std::string(64, 'c')), RedshiftPath("clusterId"), MaxLen(63))}),
      DatasetCase("RedshiftDatabaseTooLong", "Redshift", "Database", std::string(65, 'd'),
                  {Item(Q(std::string(65, 'd')), RedshiftPath("database"), MaxLen(64))}),
      DatasetCase("RedshiftDbUserTooLong", "Redshift", "DbUser", std::string(129, 'u'),
                  {Item(Q(std::string(129, 'u')), RedshiftPath("dbUser"), MaxLen(128))}),
      DatasetCase("RedshiftQueryTooLong", "Redshift", "QueryString", std::string(4097, 'q'),
                  {Item(Q(std::string(4097, 'q')), RedshiftPath("queryString"), MaxLen(4096))}),
      DatasetCase("RedshiftRoleArnPattern", "Redshift", "ClusterRoleArn",
                  "arn:aws:iam::1:role/abcdef",
                  {Item(Q("arn:aws:iam::1:role/abcdef"), RedshiftPath("clusterRoleArn"),
                        Pattern(kRolePattern))}),
      DatasetCase("RedshiftOutputFormat", "Redshift", "OutputFormat", "ORC",
                  {Item(Q("ORC"), RedshiftPath("outputFormat"), Enum("PARQUET, CSV"))}),
      DatasetCase("RedshiftOutputCompression", "Redshift", "OutputCompression", "LZ4",
                  {Item(Q("LZ4"), RedshiftPath("outputCompression"),
                        Enum("None, GZIP, BZIP2, ZSTD, SNAPPY"))}),
      DatasetLevelCase(
          "DatasetInputMode", "InputMode", "FastFile",
          {Item(Q("FastFile"), kIn2 + ".datasetDefinition.inputMode", Enum("Pipe, File"))}),
      DatasetLevelCase("DatasetDistributionType", "DataDistributionType", "Random",
                       {Item(Q("Random"), kIn2 + ".datasetDefinition.dataDistributionType",
                             Enum("FullyReplicated, ShardedByS3Key"))}),
      DatasetLevelCase("DatasetLocalPathMissing", "LocalPath", nullptr,
                       {Item(kNull, kIn2 + ".datasetDefinition.localPath",
                             "Member must not be null when AppManaged is false")}),
  };
}

std::vector<RuleCase> SemanticCases() {
  json s3_input = {
      {"S3Uri", "s3://b/k"}, {"LocalPath", "/opt/ml/processing/x"}, {"S3DataType", "S3Prefix"}};
  json dataset_both = {{"AthenaDatasetDefinition", AthenaDefinition()},
                       {"RedshiftDatasetDefinition", RedshiftDefinition()},
                       {"LocalPath", "/opt/ml/processing/d"}};
  json dataset_none = {{"LocalPath", "/opt/ml/processing/d"}};
  json dataset_athena = {{"AthenaDatasetDefinition", AthenaDefinition()},
                         {"LocalPath", "/opt/ml/processing/d"}};
  const std::string kDup = "Member must not duplicate the ";
  return {
      {"InputWithNeitherSource",
       Set("/ProcessingInputs/1", {{"InputName", "code"}}),
       {Item("<V>", kIn2, "Member must specify exactly one of S3Input or DatasetDefinition")},
       "/ProcessingInputs/1"},
      {"InputWithBothSources",
       Set("/ProcessingInputs/1",
           {{"InputName", "code"}, {"S3Input", s3_input}, {"DatasetDefinition", dataset_athena}}),
       {Item("<V>", kIn2, "Member must specify exactly one of S3Input or DatasetDefinition"),
        Item(Q(dataset_athena.dump()), kIn2 + ".datasetDefinition",
             "DatasetDefinition inputs (Athena or Redshift queries) are not supported by Kiln; use "
             "S3Input")},
       "/ProcessingInputs/1"},
      {"DatasetWithBothQueries",
       Set("/ProcessingInputs/1", {{"InputName", "code"}, {"DatasetDefinition", dataset_both}}),
       {Item("<V>", kIn2 + ".datasetDefinition",
             "Member must specify exactly one of AthenaDatasetDefinition or "
             "RedshiftDatasetDefinition"),
        kUnsupportedDataset},
       "/ProcessingInputs/1/DatasetDefinition"},
      {"DatasetWithNoQuery",
       Set("/ProcessingInputs/1", {{"InputName", "code"}, {"DatasetDefinition", dataset_none}}),
       {Item("<V>", kIn2 + ".datasetDefinition",
             "Member must specify exactly one of AthenaDatasetDefinition or "
             "RedshiftDatasetDefinition"),
        kUnsupportedDataset},
       "/ProcessingInputs/1/DatasetDefinition"},
      {"OutputWithNeitherTarget",
       Set("/ProcessingOutputConfig/Outputs/1", {{"OutputName", "x"}}),
       {Item("<V>", kOut2, "Member must specify exactly one of S3Output or FeatureStoreOutput")},
       "/ProcessingOutputConfig/Outputs/1"},
      {"OutputWithBothTargets",
       Set("/ProcessingOutputConfig/Outputs/1/FeatureStoreOutput", {{"FeatureGroupName", "fg"}}),
       {Item("<V>", kOut2, "Member must specify exactly one of S3Output or FeatureStoreOutput"),
        Item(Q("{\"FeatureGroupName\":\"fg\"}"), kOut2 + ".featureStoreOutput",
             "Member is supported only when AppManaged is true")},
       "/ProcessingOutputConfig/Outputs/1"},
      {"FeatureStoreWithoutAppManaged",
       Set("/ProcessingOutputConfig/Outputs/1",
           {{"OutputName", "fs"}, {"FeatureStoreOutput", {{"FeatureGroupName", "fg"}}}}),
       {Item(Q("{\"FeatureGroupName\":\"fg\"}"), kOut2 + ".featureStoreOutput",
             "Member is supported only when AppManaged is true")}},
      {"InputLocalPathMissing",
       Remove("/ProcessingInputs/0/S3Input/LocalPath"),
       {Item(kNull, kIn1 + ".s3Input.localPath",
             "Member must not be null when AppManaged is false")}},
      {"OutputLocalPathMissing",
       Remove("/ProcessingOutputConfig/Outputs/0/S3Output/LocalPath"),
       {Item(kNull, kOut1 + ".s3Output.localPath",
             "Member must not be null when AppManaged is false")}},
      {"LocalPathOutsideRoot",
       Set("/ProcessingInputs/0/S3Input/LocalPath", "/tmp/x"),
       {Item(Q("/tmp/x"), kIn1 + ".s3Input.localPath", kLocalPathRule)}},
      {"LocalPathIsRoot",
       Set("/ProcessingInputs/0/S3Input/LocalPath", "/opt/ml/processing/"),
       {Item(Q("/opt/ml/processing/"), kIn1 + ".s3Input.localPath", kLocalPathRule)}},
      {"LocalPathEscapesRoot",
       Set("/ProcessingInputs/0/S3Input/LocalPath", "/opt/ml/processing/../x"),
       {Item(Q("/opt/ml/processing/../x"), kIn1 + ".s3Input.localPath", kLocalPathRule)}},
      {"LocalPathDotSegment",
       Set("/ProcessingInputs/0/S3Input/LocalPath", "/opt/ml/processing/./a"),
       {Item(Q("/opt/ml/processing/./a"), kIn1 + ".s3Input.localPath", kLocalPathRule)}},
      {"LocalPathDoubleSlash",
       Set("/ProcessingOutputConfig/Outputs/0/S3Output/LocalPath", "/opt/ml/processing/a//b"),
       {Item(Q("/opt/ml/processing/a//b"), kOut1 + ".s3Output.localPath", kLocalPathRule)}},
      {"LocalPathRelative",
       Set("/ProcessingInputs/0/S3Input/LocalPath", "opt/ml/processing/a"),
       {Item(Q("opt/ml/processing/a"), kIn1 + ".s3Input.localPath", kLocalPathRule)}},
      {"LocalPathSiblingOfRoot",
       Set("/ProcessingOutputConfig/Outputs/1/S3Output/LocalPath", "/opt/ml/processingfoo"),
       {Item(Q("/opt/ml/processingfoo"), kOut2 + ".s3Output.localPath", kLocalPathRule)}},
      {"DuplicateInputLocalPath",
       Set("/ProcessingInputs/1/S3Input/LocalPath", "/opt/ml/processing/input"),
       {Item(Q("/opt/ml/processing/input"), kIn2 + ".s3Input.localPath",
             kDup + "LocalPath at '" + kIn1 + ".s3Input.localPath'")}},
      {"DuplicateLocalPathWithTrailingSlash",
       Set("/ProcessingInputs/1/S3Input/LocalPath", "/opt/ml/processing/input/"),
       {Item(Q("/opt/ml/processing/input/"), kIn2 + ".s3Input.localPath",
             kDup + "LocalPath at '" + kIn1 + ".s3Input.localPath'")}},
      {"OutputReusesInputLocalPath",
       Set("/ProcessingOutputConfig/Outputs/1/S3Output/LocalPath", "/opt/ml/processing/input/code"),
       {Item(Q("/opt/ml/processing/input/code"), kOut2 + ".s3Output.localPath",
             kDup + "LocalPath at '" + kIn2 + ".s3Input.localPath'")}},
      {"DuplicateOutputLocalPath",
       Set("/ProcessingOutputConfig/Outputs/1/S3Output/LocalPath", "/opt/ml/processing/train"),
       {Item(Q("/opt/ml/processing/train"), kOut2 + ".s3Output.localPath",
             kDup + "LocalPath at '" + kOut1 + ".s3Output.localPath'")}},
      {"DuplicateInputName",
       Set("/ProcessingInputs/1/InputName", "input-1"),
       {Item(Q("input-1"), kIn2 + ".inputName", kDup + "InputName at '" + kIn1 + ".inputName'")}},
      {"DuplicateOutputName",
       Set("/ProcessingOutputConfig/Outputs/1/OutputName", "train_data"),
       {Item(Q("train_data"), kOut2 + ".outputName",
             kDup + "OutputName at '" + kOut1 + ".outputName'")}},
      {"GzipWithFileMode",
       Set("/ProcessingInputs/0/S3Input/S3CompressionType", "Gzip"),
       {Item(Q("Gzip"), kIn1 + ".s3Input.s3CompressionType",
             "Member can be Gzip only when S3InputMode is Pipe")}},
      {"GzipWithDefaultMode",
       [](json& body) {
         body["ProcessingInputs"][0]["S3Input"].erase("S3InputMode");
         body["ProcessingInputs"][0]["S3Input"]["S3CompressionType"] = "Gzip";
       },
       {Item(Q("Gzip"), kIn1 + ".s3Input.s3CompressionType",
             "Member can be Gzip only when S3InputMode is Pipe")}},
      {"VolumeKmsKeyOnInstanceStorage",
       [](json& body) {
         body["ProcessingResources"]["ClusterConfig"]["InstanceType"] = "ml.r5d.large";
         body["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] = "alias/key";
       },
       {Item(Q("alias/key"), kCluster + ".volumeKmsKeyId",
             "Member must not be set for ml.r5d.large, whose local instance storage is encrypted "
             "by the instance")}},
      {"VolumeLargerThanInstanceStorage",
       [](json& body) {
         body["ProcessingResources"]["ClusterConfig"]["InstanceType"] = "ml.r5d.large";
         body["ProcessingResources"]["ClusterConfig"]["VolumeSizeInGB"] = 76;
       },
       {Item(Q("76"), kCluster + ".volumeSizeInGB",
             "Member must have value less than or equal to 75 (the local instance storage of "
             "ml.r5d.large)")}},
  };
}

std::vector<RuleCase> AllCases() {
  std::vector<RuleCase> all;
  for (auto group : {DatasetCases(), SemanticCases()}) {
    for (RuleCase& c : group) all.push_back(std::move(c));
  }
  return all;
}

class SemanticRuleTest : public ::testing::TestWithParam<RuleCase> {};

TEST_P(SemanticRuleTest, RejectsWithExactCoralMessage) { ExpectRejected(GetParam()); }

INSTANTIATE_TEST_SUITE_P(EveryRule, SemanticRuleTest, ::testing::ValuesIn(AllCases()), CaseName);

}  // namespace
}  // namespace kiln::rules_testing
