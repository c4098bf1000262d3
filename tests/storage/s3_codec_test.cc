// Unit tests for the S3 client's encodings, XML reading and configuration checks.
#include "storage/s3_codec.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "storage/s3_http.h"
#include "storage/s3_object_store.h"
#include "storage/s3_resolver.h"
#include "storage/s3_xml.h"
#include "test_util.h"

namespace kiln {
namespace {

TEST(S3CodecTest, UriEncodeKeepsOnlyUnreservedCharactersAndOptionallySlashes) {
  EXPECT_EQ(s3::UriEncode("a b+c=d%e/f~g_h.i-j", true), "a%20b%2Bc%3Dd%25e/f~g_h.i-j");
  EXPECT_EQ(s3::UriEncode("a/b", false), "a%2Fb");
  EXPECT_EQ(s3::UriEncode("\xc3\xa9", true), "%C3%A9");
}

TEST(S3CodecTest, CanonicalQuerySortsAndEncodesEveryParameter) {
  EXPECT_EQ(s3::CanonicalQuery({{"prefix", "a b/c"}, {"list-type", "2"}, {"uploads", ""}}),
            "list-type=2&prefix=a%20b%2Fc&uploads=");
}

TEST(S3CodecTest, UrlDecodeTreatsPlusAsSpaceOnlyWhenAsked) {
  EXPECT_EQ(*s3::UrlDecode("a+b%2Bc%20d", true), "a b+c d");
  EXPECT_EQ(*s3::UrlDecode("a+b", false), "a+b");
  EXPECT_FALSE(s3::UrlDecode("bad%2", true).ok());
  EXPECT_FALSE(s3::UrlDecode("bad%zz", true).ok());
}

TEST(S3CodecTest, DigestsMatchKnownValues) {
  s3::PayloadDigest d;
  d.Update("abc");
  d.Finish();
  EXPECT_EQ(d.Md5Hex(), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(d.Md5Base64(), "kAFQmDzST7DWlj99KOF/cg==");
  EXPECT_EQ(d.Sha256Hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(s3::PlainMd5Etag("\"900150983CD24FB0D6963F7D28E17F72\""),
            "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(s3::PlainMd5Etag("\"900150983cd24fb0d6963f7d28e17f72-3\""), "");
}

TEST(S3CodecTest, Crc32cMatchesKnownValuesWhetherWholeOrPiecewise) {
  EXPECT_EQ(s3::Crc32c(0, ""), 0u);
  EXPECT_EQ(s3::Crc32c(0, "123456789"), 0xE3069283u);  // the CRC-32C check value
  EXPECT_EQ(s3::Crc32c(s3::Crc32c(0, "1234"), "56789"), 0xE3069283u);
  EXPECT_EQ(s3::CrcBase64(0xE3069283u), "4waSgw==");
  testing_util::TempDir tmp;
  std::string data(3 << 20, 'x');  // spans several 1 MiB reads
  data[(1 << 20) + 7] = 'y';
  testing_util::WriteFile(tmp.path() + "/f", "--" + data);
  int fd = ::open((tmp.path() + "/f").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto crc = s3::Crc32cOfFileRange(fd, 2, data.size());
  auto past_end = s3::Crc32cOfFileRange(fd, 2, data.size() + 1);
  ::close(fd);
  ASSERT_TRUE(crc.ok()) << crc.status().ToString();
  EXPECT_EQ(*crc, s3::Crc32c(0, data));
  EXPECT_FALSE(past_end.ok());
}

TEST(S3XmlTest, ParsesAListingPageWithEscapedAndUrlEncodedKeys) {
  const char* xml =
      "<?xml version=\"1.0\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<Name>b</Name><Prefix/><KeyCount>2</KeyCount><EncodingType>url</EncodingType>"
      "<IsTruncated>true</IsTruncated><NextContinuationToken>tok&amp;1</NextContinuationToken>"
      "<Contents><Key>a+b%2Bc%26d</Key><Size>12</Size><ETag>&quot;x&quot;</ETag></Contents>"
      "<Contents><Key>caf%C3%A9</Key><Size>0</Size></Contents></ListBucketResult>";
  auto page = s3::ParseListObjectsV2(xml);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "a b+c&d");
  EXPECT_EQ(page->objects[0].size, 12u);
  EXPECT_EQ(page->objects[1].key, "caf\xc3\xa9");
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_token, "tok&1");
}

TEST(S3XmlTest, KeysAreOnlyXmlDecodedWithoutUrlEncoding) {
  auto page = s3::ParseListObjectsV2(
      "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a+b%20&lt;&#233;</Key>"
      "<Size>1</Size></Contents></ListBucketResult>");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->objects[0].key, "a+b%20<\xc3\xa9");
}

TEST(S3XmlTest, ReadsErrorDocumentsAndWritesCompleteMultipartUpload) {
  auto doc = s3::ParseErrorDocument(
      "<Error><Code>NoSuchKey</Code><Message>The key &lt;k&gt; is gone</Message></Error>");
  ASSERT_TRUE(doc.has_value());
  EXPECT_EQ(doc->code, "NoSuchKey");
  EXPECT_EQ(doc->message, "The key <k> is gone");
  EXPECT_FALSE(s3::ParseErrorDocument("<ListBucketResult/>").has_value());
  EXPECT_EQ(
      s3::CompleteMultipartUploadXml({"\"e1\""}),
      "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Part>"
      "<PartNumber>1</PartNumber><ETag>&quot;e1&quot;</ETag></Part></CompleteMultipartUpload>");
  EXPECT_EQ(s3::CompleteMultipartUploadXml({"\"e1\"", "\"e2\""}, {"", "4waSgw=="}),
            "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<Part><PartNumber>1</PartNumber><ETag>&quot;e1&quot;</ETag></Part>"
            "<Part><PartNumber>2</PartNumber><ETag>&quot;e2&quot;</ETag>"
            "<ChecksumCRC32C>4waSgw==</ChecksumCRC32C></Part></CompleteMultipartUpload>");
}

TEST(S3HttpTest, ClassifiesFailuresByS3CodeThenStatus) {
  EXPECT_EQ(s3::ClassifyHttpFailure(404, "NoSuchBucket").code, StatusCode::kNotFound);
  EXPECT_EQ(s3::ClassifyHttpFailure(403, "AccessDenied").code, StatusCode::kPermissionDenied);
  EXPECT_EQ(s3::ClassifyHttpFailure(403, "InvalidAccessKeyId").code, StatusCode::kPermissionDenied);
  EXPECT_TRUE(s3::ClassifyHttpFailure(503, "SlowDown").retryable);
  EXPECT_TRUE(s3::ClassifyHttpFailure(502, "").retryable);
  EXPECT_TRUE(s3::ClassifyHttpFailure(400, "RequestTimeout").retryable);
  EXPECT_FALSE(s3::ClassifyHttpFailure(400, "InvalidArgument").retryable);
  EXPECT_EQ(s3::ClassifyHttpFailure(400, "InvalidArgument").code, StatusCode::kInvalidArgument);
}

TEST(S3ObjectStoreConfigTest, RejectsBadEndpointsAndPartSizes) {
  S3Config config;
  config.endpoint = "ftp://host";
  EXPECT_EQ(S3ObjectStore::Make(config).status().code(), StatusCode::kInvalidArgument);
  config.endpoint = "http://127.0.0.1:9000";
  config.part_size = 1 << 20;
  EXPECT_EQ(S3ObjectStore::Make(config).status().code(), StatusCode::kInvalidArgument);
  config.part_size = 8 << 20;
  EXPECT_TRUE(S3ObjectStore::Make(config).ok());
}

TEST(S3ResolverTest, ServesS3UrisAndHttpsUrisOfItsOwnHostOnly) {
  S3Config config;
  config.endpoint = "https://s3.example.com";
  auto resolver = S3Resolver::Make(config);
  ASSERT_TRUE(resolver.ok());
  EXPECT_TRUE((*resolver)->ServesUri("s3://bucket/key"));
  EXPECT_TRUE((*resolver)->ServesUri("https://s3.example.com/bucket/key"));
  EXPECT_TRUE((*resolver)->ServesUri("https://bucket.s3.example.com/key"));
  EXPECT_TRUE((*resolver)->ServesUri("https://S3.Example.com:443/bucket/key"));
  EXPECT_FALSE((*resolver)->ServesUri("https://evil.com/s3.example.com/key"));
  EXPECT_FALSE((*resolver)->ServesUri("https://nots3.example.com/bucket/key"));
  EXPECT_FALSE((*resolver)->ServesUri("file:///data/x"));
  auto store = (*resolver)->Resolve(DataLocation{"s3", "bucket", "key"});
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(*store, &(*resolver)->store());
  EXPECT_EQ((*resolver)->Resolve(DataLocation{"file", "", "x"}).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kiln
