#include <gtest/gtest.h>

#include <string>

#include "bucket_store_test_util.h"
#include "storage/bucket_names.h"

namespace kiln {
namespace {

using testing_util::BucketStoreTest;

TEST(BucketNamesTest, AcceptsNamesThatFollowS3Rules) {
  for (const char* name : {"abc", "my-bucket", "my.bucket.name", "a1b2c3", "123", "bucket-1.logs",
                           "xn-ok", "a.b-c", "1.2.3", "1.2.3.4.5"}) {
    EXPECT_TRUE(ValidateBucketName(name).ok()) << name;
  }
  EXPECT_TRUE(ValidateBucketName(std::string(63, 'a')).ok());
}

TEST(BucketNamesTest, RejectsNamesThatBreakS3Rules) {
  for (const char* name : {"ab",
                           "",
                           "My-Bucket",
                           "under_score",
                           "-start",
                           "end-",
                           ".start",
                           "end.",
                           "two..dots",
                           "192.168.5.4",
                           "10.0.0.1",
                           "xn--punycode",
                           "sthree-x",
                           "amzn-s3-demo-x",
                           "foo-s3alias",
                           "foo--ol-s3",
                           "foo.mrap",
                           "foo--x-s3",
                           "foo--table-s3",
                           "sp ace",
                           "slash/name",
                           "caf\xc3\xa9"}) {
    Status st = ValidateBucketName(name);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << name;
    EXPECT_TRUE(st.message().starts_with("InvalidBucketName: ")) << st.message();
  }
  EXPECT_FALSE(ValidateBucketName(std::string(64, 'a')).ok());
}

TEST(BucketNamesTest, KeysMayBeAnyBytesUpTo1024) {
  EXPECT_TRUE(ValidateObjectKey("../x").ok());
  EXPECT_TRUE(ValidateObjectKey("//").ok());
  EXPECT_TRUE(ValidateObjectKey(std::string(1024, 'k')).ok());
  EXPECT_EQ(ValidateObjectKey("").code(), StatusCode::kInvalidArgument);
  Status st = ValidateObjectKey(std::string(1025, 'k'));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(st.message().starts_with("KeyTooLongError: ")) << st.message();
}

using BucketOperationsTest = BucketStoreTest;

TEST_F(BucketOperationsTest, CreateRejectsInvalidNamesAndDuplicates) {
  EXPECT_EQ(store().CreateBucket("Bad_Name", "").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store().CreateBucket("bucket", "").code(), StatusCode::kAlreadyExists);
}

TEST_F(BucketOperationsTest, ListBucketsIsSortedByNameAndKeepsTheRegion) {
  ASSERT_TRUE(store().CreateBucket("zeta", "eu-west-1").ok());
  ASSERT_TRUE(store().CreateBucket("alpha", "").ok());
  ASSERT_TRUE(store().CreateBucket("a.b", "").ok());
  auto buckets = store().ListBuckets();
  ASSERT_TRUE(buckets.ok());
  std::vector<std::string> names;
  for (const BucketInfo& b : *buckets) names.push_back(b.name);
  EXPECT_EQ(names, (std::vector<std::string>{"a.b", "alpha", "bucket", "zeta"}));
  auto zeta = store().GetBucket("zeta");
  ASSERT_TRUE(zeta.ok());
  EXPECT_EQ(zeta->region, "eu-west-1");
  EXPECT_GT(zeta->creation_time_ms, 0);
}

TEST_F(BucketOperationsTest, DeleteRefusesABucketWithObjectsOrUploads) {
  ASSERT_TRUE(testing_util::PutString(store(), "bucket", "k", "v").ok());
  Status st = store().DeleteBucket("bucket");
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(st.message().starts_with("BucketNotEmpty: ")) << st.message();
  ASSERT_TRUE(store().DeleteObject("bucket", "k").ok());

  auto upload = store().CreateMultipartUpload("bucket", ObjectMeta{.key = "m"});
  ASSERT_TRUE(upload.ok());
  EXPECT_EQ(store().DeleteBucket("bucket").code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(store().AbortMultipartUpload("bucket", *upload).ok());

  EXPECT_TRUE(store().DeleteBucket("bucket").ok());
  EXPECT_EQ(store().GetBucket("bucket").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store().DeleteBucket("bucket").code(), StatusCode::kNotFound);
}

TEST_F(BucketOperationsTest, OperationsOnAMissingBucketSayNoSuchBucket) {
  for (Status st : {store().HeadObject("nope", "k").status(), store().DeleteObject("nope", "k"),
                    store().BeginBlob("nope").status(), store().ListObjects("nope", {}).status(),
                    store().CreateMultipartUpload("nope", ObjectMeta{.key = "k"}).status()}) {
    EXPECT_EQ(st.code(), StatusCode::kNotFound);
    EXPECT_TRUE(st.message().starts_with("NoSuchBucket: ")) << st.message();
  }
}

TEST_F(BucketOperationsTest, BucketsSurviveAReopen) {
  ASSERT_TRUE(store().CreateBucket("kept", "us-west-2").ok());
  Reopen();
  auto kept = store().GetBucket("kept");
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->region, "us-west-2");
}

}  // namespace
}  // namespace kiln
