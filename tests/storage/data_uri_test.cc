#include <gtest/gtest.h>

#include "storage/object_store.h"

namespace kiln {
namespace {

void ExpectParses(const std::string& uri, const std::string& scheme, const std::string& bucket,
                  const std::string& key) {
  auto loc = ParseDataUri(uri);
  ASSERT_TRUE(loc.ok()) << uri << ": " << loc.status().ToString();
  EXPECT_EQ(loc->scheme, scheme) << uri;
  EXPECT_EQ(loc->bucket, bucket) << uri;
  EXPECT_EQ(loc->key, key) << uri;
}

TEST(ParseDataUriTest, ParsesS3Uris) {
  ExpectParses("s3://my-bucket/data/train/", "s3", "my-bucket", "data/train/");
  ExpectParses("s3://my-bucket/a.csv", "s3", "my-bucket", "a.csv");
  ExpectParses("s3://my-bucket", "s3", "my-bucket", "");
  ExpectParses("s3://my-bucket/", "s3", "my-bucket", "");
  ExpectParses("s3://Legacy_Bucket/k", "s3", "Legacy_Bucket", "k");
}

TEST(ParseDataUriTest, ParsesPathStyleHttpsUris) {
  ExpectParses("https://s3.us-west-2.amazonaws.com/bucket/key/x.csv", "https", "bucket",
               "key/x.csv");
  ExpectParses("https://s3.amazonaws.com/bucket/", "https", "bucket", "");
  ExpectParses("https://localhost:9000/bkt/a%20b", "https", "bkt", "a b");
}

TEST(ParseDataUriTest, ParsesVirtualHostedStyleHttpsUris) {
  ExpectParses("https://bucket.s3.us-west-2.amazonaws.com/key/x", "https", "bucket", "key/x");
  ExpectParses("https://my.dotted.bucket.s3.amazonaws.com/k", "https", "my.dotted.bucket", "k");
  ExpectParses("https://bucket.s3-eu-west-1.amazonaws.com/k", "https", "bucket", "k");
}

TEST(ParseDataUriTest, ParsesFileUrisAsKeysWithoutTheLeadingSlash) {
  ExpectParses("file:///data/in/train.csv", "file", "", "data/in/train.csv");
  ExpectParses("file:///data/in/", "file", "", "data/in/");
  ExpectParses("file://localhost/data", "file", "", "data");
}

TEST(ParseDataUriTest, RejectsMalformedUrisNamingThem) {
  for (const std::string uri :
       {"", "bucket/key", "s3://", "s3:///key", "s3://a b/k", "s3://ab/k", "ftp://host/b/k",
        "file://relative/x", "file:relative", "https://host", "https://host/",
        "https://host/b/k?x=1", "https://host/bkt/%zz", "https://host/bkt/%4", "https:///bkt/k"}) {
    auto loc = ParseDataUri(uri);
    ASSERT_FALSE(loc.ok()) << uri;
    EXPECT_EQ(loc.status().code(), StatusCode::kInvalidArgument) << uri;
    EXPECT_NE(loc.status().message().find("'" + uri + "'"), std::string::npos)
        << loc.status().message();
  }
}

}  // namespace
}  // namespace kiln
