#include "runtime/image_catalog.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/fs.h"
#include "runtime_test_util.h"

namespace kiln {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;
using testing::PathExists;
using testing::TempDir;

using Argv = std::vector<std::string>;

class ImageCatalogTest : public ::testing::Test {
 protected:
  std::string path() const { return dir_.path() + "/data/images.json"; }
  TempDir dir_;
};

TEST_F(ImageCatalogTest, LoadOrCreateWritesTheDefaultCatalog) {
  auto catalog = ImageCatalog::LoadOrCreate(path());
  ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
  EXPECT_TRUE(PathExists(path()));
  auto config = catalog->Resolve(
      "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:0.20.0-cpu-py3");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->runtime, "host");
  EXPECT_EQ(config->cmd, Argv{"python3"});
  EXPECT_TRUE(config->entrypoint.empty());
  EXPECT_THAT(config->env, ElementsAre(Pair("PATH", "/usr/local/bin:/usr/bin:/bin"),
                                       Pair("PYTHONUNBUFFERED", "1")));
  EXPECT_EQ(config->working_dir, "/");
  EXPECT_EQ(config->rootfs, "");
  // Loading again reads the file that was written.
  EXPECT_TRUE(ImageCatalog::LoadOrCreate(path()).ok());
}

TEST_F(ImageCatalogTest, ScikitLearnImagesOfAnyRegionAndVersionRunOnTheHost) {
  ImageCatalog catalog = ImageCatalog::Defaults();
  for (const char* uri : {
           "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:0.20.0-cpu-py3",
           "662702820516.dkr.ecr.eu-north-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
           "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.0-1",
           "450853457545.dkr.ecr.cn-north-1.amazonaws.com.cn/sagemaker-scikit-learn:0.23-1-cpu-py3",
           "414596584902.dkr.ecr.us-gov-west-1.amazonaws.com/sagemaker-scikit-learn",
       }) {
    auto config = catalog.Resolve(uri);
    ASSERT_TRUE(config.ok()) << uri << ": " << config.status().ToString();
    EXPECT_EQ(config->runtime, "host") << uri;
  }
  for (const char* uri : {
           "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
           "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn-extension:2.0",
           "evil.example.com/683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn",
       }) {
    EXPECT_EQ(catalog.Resolve(uri).status().code(), StatusCode::kNotFound) << uri;
  }
}

TEST_F(ImageCatalogTest, HostImageRunsAShell) {
  ImageCatalog catalog = ImageCatalog::Defaults();
  for (const char* uri : {"host", "kiln/host", "kiln/host:latest"}) {
    auto config = catalog.Resolve(uri);
    ASSERT_TRUE(config.ok()) << uri;
    EXPECT_EQ(config->runtime, "host");
    EXPECT_EQ(config->cmd, Argv{"/bin/sh"});
  }
}

TEST_F(ImageCatalogTest, UnknownImageSaysHowToMapOrImportIt) {
  auto catalog = ImageCatalog::LoadOrCreate(path());
  ASSERT_TRUE(catalog.ok());
  auto config = catalog->Resolve("myregistry.example.com/team/pipeline:3");
  ASSERT_EQ(config.status().code(), StatusCode::kNotFound);
  const std::string& message = config.status().message();
  EXPECT_THAT(message, HasSubstr("myregistry.example.com/team/pipeline:3"));
  EXPECT_THAT(message, HasSubstr(path()));
  EXPECT_THAT(message, HasSubstr("\"pattern\""));
  EXPECT_THAT(message, HasSubstr("\"runtime\":\"host\""));
  EXPECT_THAT(message, HasSubstr("kiln image import"));
}

TEST_F(ImageCatalogTest, UnmappedSparkProcessingImageSaysNoSparkImageIsMapped) {
  auto catalog = ImageCatalog::LoadOrCreate(path());
  ASSERT_TRUE(catalog.ok());
  const std::string uri =
      "173754725891.dkr.ecr.us-east-1.amazonaws.com/sagemaker-spark-processing:3.1-cpu";
  auto config = catalog->Resolve(uri);
  ASSERT_EQ(config.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(config.status().message(), HasSubstr("no Spark image is mapped: image " + uri));
  EXPECT_THAT(config.status().message(), HasSubstr("kiln image import"));
  auto other = catalog->Resolve("myregistry.example.com/team/pipeline:3");
  EXPECT_THAT(other.status().message(), Not(HasSubstr("Spark")));
}

TEST_F(ImageCatalogTest, UserEntriesAreMatchedInOrder) {
  ASSERT_TRUE(MakeDirs(dir_.path() + "/data").ok());
  ASSERT_TRUE(WriteFileAtomically(path(), R"([
    {"pattern": "registry\\.local/etl:.*", "runtime": "host", "entrypoint": ["/usr/bin/python3"],
     "cmd": ["-m", "etl"], "env": {"PATH": "/usr/bin:/bin", "MODE": "batch"},
     "working_dir": "/opt/ml/processing"},
    {"pattern": "registry\\.local/.*", "runtime": "oci", "rootfs": "/var/lib/kiln/rootfs/x"}
  ])")
                  .ok());
  auto catalog = ImageCatalog::LoadOrCreate(path());
  ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
  auto etl = catalog->Resolve("registry.local/etl:1");
  ASSERT_TRUE(etl.ok());
  EXPECT_EQ(etl->entrypoint, Argv{"/usr/bin/python3"});
  EXPECT_EQ(etl->cmd, (Argv{"-m", "etl"}));
  EXPECT_THAT(etl->env, ElementsAre(Pair("MODE", "batch"), Pair("PATH", "/usr/bin:/bin")));
  EXPECT_EQ(etl->working_dir, "/opt/ml/processing");
  auto other = catalog->Resolve("registry.local/other");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->runtime, "oci");
  EXPECT_EQ(other->rootfs, "/var/lib/kiln/rootfs/x");
  // A user catalog replaces the defaults entirely.
  EXPECT_EQ(catalog->Resolve("host").status().code(), StatusCode::kNotFound);
}

TEST_F(ImageCatalogTest, MalformedCatalogIsInvalidArgumentNamingTheFileAndEntry) {
  ASSERT_TRUE(MakeDirs(dir_.path() + "/data").ok());
  struct Case {
    const char* text;
    const char* expected;
  };
  for (const Case& c : {
           Case{"{not json", "not valid JSON"},
           Case{R"({"pattern": "x"})", "must be a JSON list"},
           Case{R"([{"pattern": "a", "runtime": "host"}, {"pattern": "b"}])", "entry 1"},
           Case{R"([{"pattern": "(", "runtime": "host"}])", "bad pattern"},
           Case{R"([{"pattern": "a", "runtime": "host", "cmd": "python3"}])", "\"cmd\""},
           Case{R"([{"pattern": "a", "runtime": "host", "env": {"A": 1}}])", "\"env\""},
       }) {
    ASSERT_TRUE(WriteFileAtomically(path(), c.text).ok());
    auto catalog = ImageCatalog::LoadOrCreate(path());
    ASSERT_FALSE(catalog.ok()) << c.text;
    EXPECT_EQ(catalog.status().code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(catalog.status().message(), HasSubstr(path())) << c.text;
    EXPECT_THAT(catalog.status().message(), HasSubstr(c.expected)) << c.text;
  }
}

class ResolveCommandTest : public ::testing::Test {
 protected:
  ResolveCommandTest() {
    image_.entrypoint = {"python3", "-u"};
    image_.cmd = {"default.py"};
  }
  ImageConfig image_;
};

TEST_F(ResolveCommandTest, NeitherGivenRunsImageEntrypointAndCmd) {
  EXPECT_EQ(*ResolveCommand(image_, std::nullopt, std::nullopt),
            (Argv{"python3", "-u", "default.py"}));
}

TEST_F(ResolveCommandTest, OnlyEntrypointIgnoresImageEntrypointAndCmd) {
  EXPECT_EQ(*ResolveCommand(image_, Argv{"python3", "-v", "/processing_script.py"}, std::nullopt),
            (Argv{"python3", "-v", "/processing_script.py"}));
}

TEST_F(ResolveCommandTest, OnlyArgumentsReplaceCmd) {
  EXPECT_EQ(*ResolveCommand(image_, std::nullopt, Argv{"data-format", "csv"}),
            (Argv{"python3", "-u", "data-format", "csv"}));
}

TEST_F(ResolveCommandTest, BothGivenRunEntrypointWithArguments) {
  EXPECT_EQ(*ResolveCommand(image_, Argv{"python3", "-v", "/processing_script.py"},
                            Argv{"data-format", "csv"}),
            (Argv{"python3", "-v", "/processing_script.py", "data-format", "csv"}));
}

TEST_F(ResolveCommandTest, EmptyCommandIsInvalidArgument) {
  ImageConfig bare;
  EXPECT_EQ(ResolveCommand(bare, std::nullopt, std::nullopt).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveCommand(image_, Argv{}, std::nullopt).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kiln
