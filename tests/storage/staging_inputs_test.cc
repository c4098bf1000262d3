#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "in_memory_object_store.h"
#include "staging_fixture.h"

namespace kiln {
namespace {

constexpr char kInput[] = "/opt/ml/processing/input";

TEST(HostPathForTest, MapsContainerPathsBelowTheProcessingRoot) {
  EXPECT_EQ(HostPathFor("/jobs/j/algo-1", "/opt/ml/processing/input/data"),
            "/jobs/j/algo-1/input/data");
  EXPECT_EQ(HostPathFor("/jobs/j/algo-1/", "/opt/ml/processing/out/"), "/jobs/j/algo-1/out");
  EXPECT_EQ(HostPathFor("/jobs/j/algo-1", "/opt/ml/processing"), "/jobs/j/algo-1");
}

TEST_F(StagingTest, AUriNamingOneObjectStagesItAtItsBasename) {
  Data("in/deep/train.csv", "1,2");
  ASSERT_TRUE(Stage(Spec({Input("train", Uri("in/deep/train.csv"), kInput)})).ok());
  EXPECT_EQ(Staged(kInput), (Files{{"train.csv", "1,2"}}));
}

TEST_F(StagingTest, AUriNamingOneObjectIgnoresKeysThatMerelyStartWithIt) {
  Data("in/x.csv", "x");
  Data("in/x.csv.bak", "bak");
  ASSERT_TRUE(Stage(Spec({Input("train", Uri("in/x.csv"), kInput)})).ok());
  EXPECT_EQ(Staged(kInput), (Files{{"x.csv", "x"}}));
}

TEST_F(StagingTest, APrefixStagesEachObjectAtItsPathRelativeToThePrefix) {
  Data("in/a.csv", "a");
  Data("in/sub/b.csv", "b");
  Data("other/c.csv", "c");
  ASSERT_TRUE(Stage(Spec({Input("train", Uri("in/"), kInput)})).ok());
  EXPECT_EQ(Staged(kInput), (Files{{"a.csv", "a"}, {"sub/b.csv", "b"}}));
}

TEST_F(StagingTest, APrefixWithoutATrailingSlashStripsTheLeadingSlashOfEachRemainder) {
  Data("in/a.csv", "a");
  Data("in/sub/b.csv", "b");
  ASSERT_TRUE(Stage(Spec({Input("train", Uri("in"), kInput)})).ok());
  EXPECT_EQ(Staged(kInput), (Files{{"a.csv", "a"}, {"sub/b.csv", "b"}}));
}

TEST_F(StagingTest, ANonSlashPrefixAlsoMatchesSiblingsThatShareItsSpelling) {
  Data("d/x", "x");
  Data("d2/y", "y");
  ASSERT_TRUE(Stage(Spec({Input("train", Uri("d"), kInput)})).ok());
  EXPECT_EQ(Staged(kInput), (Files{{"x", "x"}, {"2/y", "y"}}));
}

TEST_F(StagingTest, NestedLocalPathsAreBothStaged) {
  Data("data/train.csv", "rows");
  Data("code/preprocess.py", "print(1)");
  ASSERT_TRUE(
      Stage(Spec({Input("input-1", Uri("data/"), "/opt/ml/processing/input"),
                  Input("code", Uri("code/preprocess.py"), "/opt/ml/processing/input/code")}))
          .ok());
  EXPECT_EQ(Staged(kInput), (Files{{"train.csv", "rows"}, {"code/preprocess.py", "print(1)"}}));
}

TEST_F(StagingTest, KeysWithDotDotSegmentsFailTheJobWithoutWritingAnything) {
  testing_util::InMemoryObjectStore s3;
  s3.Add("bucket", "in/ok.csv", "ok");
  s3.Add("bucket", "in/../../escape.txt", "evil");
  Status st = Stage(Spec({Input("input-1", "s3://bucket/in/", kInput)}), 0, &s3);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("input 'input-1'"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("in/../../escape.txt"), std::string::npos) << st.message();
  EXPECT_TRUE(testing_util::TreeOf(sandbox_).empty());
  EXPECT_FALSE(std::filesystem::exists(tmp_.path() + "/escape.txt"));
}

TEST_F(StagingTest, EmptySegmentsInKeysAreCollapsedAndDirectoryMarkersSkipped) {
  testing_util::InMemoryObjectStore s3;
  s3.Add("bucket", "in/a//b.csv", "b");
  s3.Add("bucket", "in/dir/", "");
  ASSERT_TRUE(Stage(Spec({Input("input-1", "s3://bucket/in/", kInput)}), 0, &s3).ok());
  EXPECT_EQ(Staged(kInput), (Files{{"a/b.csv", "b"}}));
}

TEST_F(StagingTest, AFailedDownloadNamesTheInputAndTheObject) {
  testing_util::InMemoryObjectStore s3;
  s3.Add("bucket", "in/a.csv", "a");
  s3.FailGetsOf("in/a.csv");
  Status st = Stage(Spec({Input("input-1", "s3://bucket/in/", kInput)}), 0, &s3);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_EQ(st.message(), "input 'input-1': object s3://bucket/in/a.csv: injected failure");
}

TEST_F(StagingTest, NoMatchingObjectsIsNotFoundNamingTheInputAndUri) {
  std::filesystem::create_directories(data_ + "/empty");
  Status st = Stage(Spec({Input("code", Uri("empty/x.py"), kInput)}));
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_EQ(st.message(), "input 'code': no objects match " + Uri("empty/x.py"));
}

TEST_F(StagingTest, ManifestFileStagesEachListedObjectAtItsSuffix) {
  Data("m/a.csv", "a");
  Data("m/sub/b.csv", "b");
  Data("m/unlisted.csv", "no");
  Data("manifest.json", "[{\"prefix\": \"" + Uri("m/") + "\"}, \"a.csv\", \"sub/b.csv\"]");
  InputSpec in = Input("input-1", Uri("manifest.json"), kInput);
  in.data_type = "ManifestFile";
  ASSERT_TRUE(Stage(Spec({in})).ok());
  EXPECT_EQ(Staged(kInput), (Files{{"a.csv", "a"}, {"sub/b.csv", "b"}}));
}

TEST_F(StagingTest, AManifestListingAMissingObjectIsNotFound) {
  Data("m/a.csv", "a");
  Data("manifest.json", "[{\"prefix\": \"" + Uri("m/") + "\"}, \"a.csv\", \"gone.csv\"]");
  InputSpec in = Input("input-1", Uri("manifest.json"), kInput);
  in.data_type = "ManifestFile";
  Status st = Stage(Spec({in}));
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find(Uri("m/gone.csv")), std::string::npos) << st.message();
  EXPECT_TRUE(testing_util::TreeOf(sandbox_).empty());
}

TEST_F(StagingTest, AManifestPrefixOutsideTheAllowedRootsIsPermissionDenied) {
  Data("manifest.json", "[{\"prefix\": \"file:///etc/\"}, \"passwd\"]");
  InputSpec in = Input("input-1", Uri("manifest.json"), kInput);
  in.data_type = "ManifestFile";
  EXPECT_EQ(Stage(Spec({in})).code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(testing_util::TreeOf(sandbox_).empty());
}

TEST_F(StagingTest, AMalformedManifestIsInvalidArgument) {
  Data("manifest.json", "{\"prefix\": 1}");
  InputSpec in = Input("input-1", Uri("manifest.json"), kInput);
  in.data_type = "ManifestFile";
  Status st = Stage(Spec({in}));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("input 'input-1': manifest"), std::string::npos) << st.message();
}

TEST_F(StagingTest, ShardedByS3KeyGivesObjectIInBytewiseOrderToInstanceIModN) {
  // Bytewise order: Part-0, part-1, part-10, part-11, part-2, part-20, part-3.
  for (const char* name :
       {"part-1", "part-10", "part-2", "part-3", "Part-0", "part-11", "part-20"}) {
    Data(std::string("shards/") + name, name);
  }
  InputSpec in = Input("input-1", Uri("shards/"), kInput);
  in.distribution = "ShardedByS3Key";
  const std::vector<Files> expected = {
      {{"Part-0", "Part-0"}, {"part-11", "part-11"}, {"part-3", "part-3"}},
      {{"part-1", "part-1"}, {"part-2", "part-2"}},
      {{"part-10", "part-10"}, {"part-20", "part-20"}},
  };
  for (int i = 0; i < 3; ++i) {
    std::filesystem::remove_all(sandbox_);
    std::filesystem::create_directories(sandbox_);
    ASSERT_TRUE(Stage(Spec({in}, {}, 3), i).ok());
    EXPECT_EQ(Staged(kInput), expected[static_cast<size_t>(i)]) << "algo-" << i + 1;
  }
}

TEST_F(StagingTest, AShardedInstanceWithNoObjectsStillGetsItsInputDirectory) {
  Data("shards/a", "a");
  InputSpec in = Input("input-1", Uri("shards/"), kInput);
  in.distribution = "ShardedByS3Key";
  ASSERT_TRUE(Stage(Spec({in}, {}, 2), 1).ok());
  EXPECT_TRUE(std::filesystem::is_directory(HostPathFor(sandbox_, kInput)));
  EXPECT_TRUE(Staged(kInput).empty());
}

TEST_F(StagingTest, FullyReplicatedGivesEveryInstanceEveryObject) {
  Data("in/a", "a");
  Data("in/b", "b");
  for (int i = 0; i < 3; ++i) {
    std::filesystem::remove_all(sandbox_);
    std::filesystem::create_directories(sandbox_);
    ASSERT_TRUE(Stage(Spec({Input("input-1", Uri("in/"), kInput)}, {}, 3), i).ok());
    EXPECT_EQ(Staged(kInput), (Files{{"a", "a"}, {"b", "b"}}));
  }
}

TEST_F(StagingTest, AppManagedInputsAreSkipped) {
  InputSpec in = Input("self-served", "s3://bucket/does-not-matter", kInput);
  in.app_managed = true;
  ASSERT_TRUE(Stage(Spec({in})).ok());
  EXPECT_TRUE(testing_util::TreeOf(sandbox_).empty());
}

TEST_F(StagingTest, PipeModeInputsAreLeftToThePipeFeeder) {
  Data("in/a", "a");
  InputSpec in = Input("stream", Uri("in/"), kInput);
  in.input_mode = "Pipe";
  ASSERT_TRUE(Stage(Spec({in})).ok());
  EXPECT_TRUE(testing_util::TreeOf(sandbox_).empty());
}

TEST_F(StagingTest, InputsLargerThanTheVolumeFailBeforeAnythingIsWritten) {
  Data("small/a", "a");
  Data("big/huge.bin", "");
  // A sparse file: 1 GiB + 1 byte that takes no disk space.
  ASSERT_EQ(::truncate((data_ + "/big/huge.bin").c_str(), (1ll << 30) + 1), 0);
  JobSpec spec = Spec({Input("small", Uri("small/"), "/opt/ml/processing/small"),
                       Input("big", Uri("big/"), "/opt/ml/processing/big")},
                      {Output("out", Uri("out/"), "/opt/ml/processing/output")});
  Status st = Stage(spec);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("input 'big': 1.0 GiB"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("input 'small': 1 B"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("1 GiB volume"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("VolumeSizeInGB"), std::string::npos) << st.message();
  EXPECT_TRUE(testing_util::TreeOf(sandbox_).empty());
}

TEST_F(StagingTest, OutputDirectoriesAreCreatedBeforeStart) {
  JobSpec spec = Spec({}, {Output("out", Uri("out/"), "/opt/ml/processing/output/nested/deep"),
                           Output("other", Uri("o2/"), "/opt/ml/processing/other")});
  ASSERT_TRUE(Stage(spec).ok());
  EXPECT_TRUE(std::filesystem::is_directory(sandbox_ + "/output/nested/deep"));
  EXPECT_TRUE(std::filesystem::is_directory(sandbox_ + "/other"));
}

TEST_F(StagingTest, AFileUriOutsideTheAllowedRootsIsPermissionDenied) {
  InputSpec in = Input("input-1", "file://" + tmp_.path() + "/", kInput);
  Status st = Stage(Spec({in}));
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(st.message().starts_with("input 'input-1': file://" + tmp_.path())) << st.message();
  EXPECT_TRUE(testing_util::TreeOf(sandbox_).empty());
}

TEST_F(StagingTest, S3UrisWithoutAnObjectStoreAreInvalidArgument) {
  Status st = Stage(Spec({Input("input-1", "s3://bucket/in/", kInput)}));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(st.message().starts_with("input 'input-1': s3:// URIs need an object store"))
      << st.message();
}

TEST_F(StagingTest, ProgressReportsEachInputsObjectsSizeAndCompletion) {
  Data("in/a", "12345");
  Data("in/b", "67890");
  ASSERT_TRUE(Stage(Spec({Input("input-1", Uri("in/"), kInput)})).ok());
  ASSERT_EQ(progress_.size(), 2u);
  EXPECT_EQ(progress_[0], "Staging input 'input-1' from " + Uri("in/") +
                              " to /opt/ml/processing/input: 2 objects, 10 B");
  EXPECT_TRUE(progress_[1].starts_with("Staged input 'input-1' in ")) << progress_[1];
}

TEST_F(StagingTest, ManyObjectsAreAllStaged) {
  Files expected;
  for (int i = 0; i < 200; ++i) {
    std::string name = "f" + std::to_string(i) + "/obj";
    Data("many/" + name, std::to_string(i));
    expected[name] = std::to_string(i);
  }
  ASSERT_TRUE(Stage(Spec({Input("input-1", Uri("many/"), kInput)})).ok());
  EXPECT_EQ(Staged(kInput), expected);
}

}  // namespace
}  // namespace kiln
