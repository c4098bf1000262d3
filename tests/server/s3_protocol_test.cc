// Unit tests of the S3 protocol pieces: checksums, aws-chunked decoding with AWS's documented
// chunk-signature example, Range and conditional headers, XML, errors and host-style routing.
#include <gtest/gtest.h>

#include <string>

#include "server/s3_auth_chunked.h"
#include "server/s3_checksums.h"
#include "server/s3_errors.h"
#include "server/s3_request.h"
#include "server/s3_xml.h"
#include "server/sigv4.h"

namespace kiln::s3api {
namespace {

TEST(S3ChecksumsTest, Crc32cMatchesTheStandardCheckValue) {
  EXPECT_EQ(Crc32c(0, "123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(0, ""), 0u);
  // Incremental equals one-shot, across the 8-byte hardware stride.
  std::string data(1000, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  EXPECT_EQ(Crc32c(Crc32c(0, data.substr(0, 13)), data.substr(13)), Crc32c(0, data));
}

TEST(S3ChecksumsTest, Crc32MatchesTheStandardCheckValue) {
  EXPECT_EQ(Crc32(0, "123456789"), 0xCBF43926u);
}

TEST(S3ChecksumsTest, DigestsEncodeAsS3Does) {
  UploadDigests digests(true, {ChecksumAlgorithm::kCrc32c, ChecksumAlgorithm::kCrc32,
                               ChecksumAlgorithm::kSha1, ChecksumAlgorithm::kSha256});
  digests.Update("1234");
  digests.Update("56789");
  digests.Finish();
  EXPECT_EQ(digests.size(), 9u);
  EXPECT_EQ(HexEncode(digests.md5()), "25f9e794323b453885f5181f1b624d0b");
  EXPECT_EQ(digests.checksums().at("CRC32C"), Base64Encode(std::string("\xE3\x06\x92\x83", 4)));
  EXPECT_EQ(digests.checksums().at("CRC32"), Base64Encode(std::string("\xCB\xF4\x39\x26", 4)));
  EXPECT_EQ(digests.checksums().at("SHA1"), "98O8HYCOBHMq32eZZczDTKeuNEE=");
  EXPECT_EQ(HexEncode(digests.sha256()),
            "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225");
}

TEST(S3ChecksumsTest, CompositeChecksumIsTheChecksumOfThePartChecksumsWithTheirCount) {
  // CRC32 of the raw part CRCs, big-endian: crc32("hello") = 3610a686, crc32("world") = 3a771143.
  std::string part1 = Base64Encode(std::string("\x36\x10\xa6\x86", 4));
  std::string part2 = Base64Encode(std::string("\x3a\x77\x11\x43", 4));
  uint32_t expected = Crc32(0, std::string("\x36\x10\xa6\x86\x3a\x77\x11\x43", 8));
  std::string expected_raw = {static_cast<char>(expected >> 24), static_cast<char>(expected >> 16),
                              static_cast<char>(expected >> 8), static_cast<char>(expected)};
  auto composite = CompositeChecksum(ChecksumAlgorithm::kCrc32, {part1, part2});
  ASSERT_TRUE(composite.ok()) << composite.status().ToString();
  EXPECT_EQ(*composite, Base64Encode(expected_raw) + "-2");
  // SHA-256 of one part's SHA-256: "-1" even for a single part.
  auto one = CompositeChecksum(ChecksumAlgorithm::kSha256,
                               {"LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="});
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, "lZXJ35AHUUjrBoYDZd8zWEt1v/eCpRDGzUiDpBmDPVA=-1");
  EXPECT_FALSE(CompositeChecksum(ChecksumAlgorithm::kCrc32, {"not base64!"}).ok());
  EXPECT_FALSE(CompositeChecksum(ChecksumAlgorithm::kCrc32, {part1 + "AAAA"}).ok());
}

TEST(S3ChecksumsTest, Base64RoundTripsAndRejectsGarbage) {
  for (std::string s : {"", "a", "ab", "abc", "abcd", "\xff\x00\x10"}) {
    auto decoded = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, s);
  }
  EXPECT_EQ(Base64Encode("abc"), "YWJj");
  EXPECT_FALSE(Base64Decode("YWJ").ok());
  EXPECT_FALSE(Base64Decode("YW=j").ok());
  EXPECT_FALSE(Base64Decode("Y!Jj").ok());
}

// AWS's "Example: PUT Object" for STREAMING-AWS4-HMAC-SHA256-PAYLOAD (sigv4-streaming): a
// 66560-byte object of 'a' sent as chunks of 65536 and 1024 bytes and a final empty chunk.
struct AwsStreamingExample {
  ChunkSigningContext context{
      DeriveSigningKey("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3"),
      "20130524T000000Z", "20130524/us-east-1/s3/aws4_request",
      "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"};
  std::string chunk1_signature = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648";
  std::string chunk2_signature = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497";
  std::string final_signature = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9";

  std::string Body() const {
    return "10000;chunk-signature=" + chunk1_signature + "\r\n" + std::string(65536, 'a') +
           "\r\n400;chunk-signature=" + chunk2_signature + "\r\n" + std::string(1024, 'a') +
           "\r\n0;chunk-signature=" + final_signature + "\r\n\r\n";
  }
};

// A source that hands out `body` in pieces of at most `step` bytes.
AwsChunkedDecoder::Source PiecewiseSource(std::string body, size_t step) {
  auto state = std::make_shared<std::pair<std::string, size_t>>(std::move(body), 0);
  return [state, step](char* data, size_t size) -> Result<size_t> {
    size_t n = std::min({size, step, state->first.size() - state->second});
    std::copy_n(state->first.data() + state->second, n, data);
    state->second += n;
    return n;
  };
}

Result<std::string> DecodeAll(AwsChunkedDecoder& decoder) {
  std::string out;
  char buffer[5000];
  while (true) {
    ASSIGN_OR_RETURN(size_t n, decoder.Read(buffer, sizeof buffer));
    if (n == 0) return out;
    out.append(buffer, n);
  }
}

TEST(AwsChunkedDecoderTest, VerifiesAwsDocumentedChunkSignatures) {
  AwsStreamingExample example;
  std::string expected_first =
      HexEncode(HmacSha256(example.context.signing_key,
                           ChunkStringToSign(example.context, example.context.seed_signature,
                                             Sha256Hex(std::string(65536, 'a')))));
  EXPECT_EQ(expected_first, example.chunk1_signature);
  for (size_t step : {size_t{1} << 20, size_t{7}, size_t{4096}}) {
    AwsChunkedDecoder decoder(PiecewiseSource(example.Body(), step), ChunkedMode::kSigned,
                              example.context);
    auto decoded = DecodeAll(decoder);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(*decoded, std::string(66560, 'a'));
  }
}

TEST(AwsChunkedDecoderTest, RejectsTamperedChunkData) {
  AwsStreamingExample example;
  std::string body = example.Body();
  body[body.find("\r\n") + 100] = 'b';
  AwsChunkedDecoder decoder(PiecewiseSource(body, 1 << 20), ChunkedMode::kSigned, example.context);
  auto decoded = DecodeAll(decoder);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kPermissionDenied);
}

TEST(AwsChunkedDecoderTest, RejectsReorderedSignatureChain) {
  AwsStreamingExample example;
  std::swap(example.chunk1_signature, example.chunk2_signature);
  AwsChunkedDecoder decoder(PiecewiseSource(example.Body(), 1 << 20), ChunkedMode::kSigned,
                            example.context);
  EXPECT_EQ(DecodeAll(decoder).status().code(), StatusCode::kPermissionDenied);
}

TEST(AwsChunkedDecoderTest, RejectsTruncatedBody) {
  AwsStreamingExample example;
  std::string body = example.Body();
  body.resize(body.size() / 2);
  AwsChunkedDecoder decoder(PiecewiseSource(body, 1 << 20), ChunkedMode::kSigned, example.context);
  EXPECT_EQ(DecodeAll(decoder).status().code(), StatusCode::kInvalidArgument);
}

TEST(AwsChunkedDecoderTest, ReadsUnsignedChunksAndChecksumTrailers) {
  std::string body = "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32c:yZRlqg==\r\n\r\n";
  for (size_t step : {size_t{1}, size_t{3}, size_t{1000}}) {
    AwsChunkedDecoder decoder(PiecewiseSource(body, step), ChunkedMode::kUnsigned, {});
    auto decoded = DecodeAll(decoder);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(*decoded, "hello world");
    EXPECT_EQ(decoder.trailers().at("x-amz-checksum-crc32c"), "yZRlqg==");
  }
}

TEST(AwsChunkedDecoderTest, VerifiesTrailerSignature) {
  AwsStreamingExample example;
  const ChunkSigningContext& context = example.context;
  std::string data = "hello";
  std::string sig1 = HexEncode(HmacSha256(
      context.signing_key, ChunkStringToSign(context, context.seed_signature, Sha256Hex(data))));
  std::string sig0 =
      HexEncode(HmacSha256(context.signing_key, ChunkStringToSign(context, sig1, Sha256Hex(""))));
  std::string trailer = "x-amz-checksum-crc32:NhCmhg==\n";
  std::string trailer_sig = HexEncode(
      HmacSha256(context.signing_key, "AWS4-HMAC-SHA256-TRAILER\n" + context.amz_date + "\n" +
                                          context.scope + "\n" + sig0 + "\n" + Sha256Hex(trailer)));
  auto body = [&](const std::string& signature) {
    return "5;chunk-signature=" + sig1 + "\r\nhello\r\n0;chunk-signature=" + sig0 +
           "\r\nx-amz-checksum-crc32:NhCmhg==\r\nx-amz-trailer-signature:" + signature + "\r\n\r\n";
  };
  AwsChunkedDecoder good(PiecewiseSource(body(trailer_sig), 1 << 20), ChunkedMode::kSignedTrailer,
                         context);
  auto decoded = DecodeAll(good);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, "hello");
  AwsChunkedDecoder bad(PiecewiseSource(body(std::string(64, '0')), 1 << 20),
                        ChunkedMode::kSignedTrailer, context);
  EXPECT_EQ(DecodeAll(bad).status().code(), StatusCode::kPermissionDenied);
}

TEST(S3RangeTest, ParsesTheThreeFormsAndClampsToTheObject) {
  auto r = ParseRange("bytes=0-9", 100);
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((*r)->first, 0u);
  EXPECT_EQ((*r)->last, 9u);
  r = ParseRange("bytes=90-", 100);
  EXPECT_EQ((*r)->first, 90u);
  EXPECT_EQ((*r)->last, 99u);
  r = ParseRange("bytes=-10", 100);
  EXPECT_EQ((*r)->first, 90u);
  EXPECT_EQ((*r)->length(), 10u);
  r = ParseRange("bytes=-1000", 100);
  EXPECT_EQ((*r)->first, 0u);
  r = ParseRange("bytes=50-5000", 100);
  EXPECT_EQ((*r)->last, 99u);
}

TEST(S3RangeTest, UnsatisfiableRangesFailAndMalformedOnesAreIgnored) {
  EXPECT_EQ(ParseRange("bytes=100-", 100).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ParseRange("bytes=-0", 100).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ParseRange("bytes=0-", 0).status().code(), StatusCode::kFailedPrecondition);
  for (const char* ignored : {"bytes=5-2", "items=0-1", "bytes=a-b", "bytes=0-1,3-4", "bytes="}) {
    auto r = ParseRange(ignored, 100);
    ASSERT_TRUE(r.ok()) << ignored;
    EXPECT_FALSE(r->has_value()) << ignored;
  }
}

TEST(S3PreconditionsTest, FollowsRfc7232Order) {
  int64_t modified = 1'700'000'000'000;
  std::string etag = "abc";
  auto eval = [&](std::vector<std::pair<std::string, std::string>> fields) {
    HttpHeaders headers;
    for (auto& [k, v] : fields) headers.Add(k, v);
    return EvaluatePreconditions(headers, etag, modified);
  };
  std::string before = FormatHttpDate(modified - 10'000);
  std::string after = FormatHttpDate(modified + 10'000);
  EXPECT_EQ(eval({}), Precondition::kProceed);
  EXPECT_EQ(eval({{"If-Match", "\"abc\""}}), Precondition::kProceed);
  EXPECT_EQ(eval({{"If-Match", "\"zzz\""}}), Precondition::kFailed);
  EXPECT_EQ(eval({{"If-Match", "*"}}), Precondition::kProceed);
  EXPECT_EQ(eval({{"If-None-Match", "\"abc\""}}), Precondition::kNotModified);
  EXPECT_EQ(eval({{"If-None-Match", "\"x\", \"abc\""}}), Precondition::kNotModified);
  EXPECT_EQ(eval({{"If-Modified-Since", after}}), Precondition::kNotModified);
  EXPECT_EQ(eval({{"If-Modified-Since", before}}), Precondition::kProceed);
  EXPECT_EQ(eval({{"If-Unmodified-Since", before}}), Precondition::kFailed);
  // If-Match that holds overrides a failing If-Unmodified-Since, as S3 documents.
  EXPECT_EQ(eval({{"If-Match", "\"abc\""}, {"If-Unmodified-Since", before}}),
            Precondition::kProceed);
  // If-None-Match that does not match overrides If-Modified-Since.
  EXPECT_EQ(eval({{"If-None-Match", "\"x\""}, {"If-Modified-Since", after}}),
            Precondition::kProceed);
}

TEST(S3DatesTest, FormatsAndParsesHttpAndIsoDates) {
  EXPECT_EQ(FormatHttpDate(1445412480000), "Wed, 21 Oct 2015 07:28:00 GMT");
  EXPECT_EQ(ParseHttpDateSeconds("Wed, 21 Oct 2015 07:28:00 GMT"), 1445412480);
  EXPECT_EQ(FormatIsoTime(1445412480123), "2015-10-21T07:28:00.123Z");
  EXPECT_FALSE(ParseHttpDateSeconds("yesterday").has_value());
}

TEST(S3XmlTest, EscapesTextAndDropsInvalidControlCharacters) {
  EXPECT_EQ(XmlEscapeText("a<b>&\"c'\x01\td"), "a&lt;b&gt;&amp;&quot;c&apos;\td");
  XmlWriter xml("Root");
  xml.Open("A");
  xml.Element("Key", "x&y");
  std::string doc = xml.Finish();
  EXPECT_NE(doc.find("<Root xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"),
            std::string::npos);
  EXPECT_NE(doc.find("<A><Key>x&amp;y</Key></A></Root>"), std::string::npos);
}

TEST(S3XmlTest, ReadsRequestBodiesWithNamespacesAndEntities) {
  std::string body =
      "<?xml version=\"1.0\"?><Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<Object><Key>a&amp;b</Key></Object><Object><Key>&#x263A;</Key></Object>"
      "<Quiet>true</Quiet></Delete>";
  EXPECT_TRUE(XmlHasRoot(body, "Delete"));
  auto objects = XmlChildren(body, "Object");
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(**XmlChildText(objects[0], "Key"), "a&b");
  EXPECT_EQ(**XmlChildText(objects[1], "Key"), "\xE2\x98\xBA");
  EXPECT_EQ(**XmlChildText(body, "Quiet"), "true");
  EXPECT_FALSE(XmlChildText(body, "Missing")->has_value());
  EXPECT_FALSE(XmlChildText("<K>&bogus;</K>", "K").ok());
  EXPECT_FALSE(XmlHasRoot("<Delete><Object>", "Delete"));
  EXPECT_TRUE(XmlHasRoot("<CreateBucketConfiguration/>", "CreateBucketConfiguration"));
}

TEST(S3ErrorsTest, MapsStoreStatusesToS3Codes) {
  EXPECT_EQ(S3StatusFromStatus(Status::NotFound("x"), NotFoundMeans::kKey).code(), "NoSuchKey");
  EXPECT_EQ(S3StatusFromStatus(Status::NotFound("x"), NotFoundMeans::kBucket).code(),
            "NoSuchBucket");
  EXPECT_EQ(S3StatusFromStatus(Status::NotFound("x"), NotFoundMeans::kUpload).code(),
            "NoSuchUpload");
  EXPECT_EQ(S3StatusFromStatus(Status::AlreadyExists("b"), NotFoundMeans::kBucket).http_status(),
            409);
  EXPECT_EQ(S3StatusFromStatus(Status::FailedPrecondition("b"), NotFoundMeans::kBucket).code(),
            "BucketNotEmpty");
  auto part = S3StatusFromStatus(Status::InvalidArgument("InvalidPart: part 2 etag differs"),
                                 NotFoundMeans::kUpload);
  EXPECT_EQ(part.code(), "InvalidPart");
  EXPECT_EQ(part.message(), "part 2 etag differs");
  EXPECT_EQ(
      S3StatusFromStatus(Status::InvalidArgument("EntityTooSmall"), NotFoundMeans::kUpload).code(),
      "EntityTooSmall");
  EXPECT_EQ(S3Status::Error("InvalidRange", "").http_status(), 416);
  EXPECT_EQ(S3Status::Error("NotImplemented", "").http_status(), 501);
}

TEST(S3ErrorsTest, MapsNotFoundByTheCodeTheStoreMessageStartsWith) {
  // Regression: a key or upload id that mentions a bucket used to turn into NoSuchBucket.
  auto key = S3StatusFromStatus(Status::NotFound("NoSuchKey: the key 'my-bucket/x' is gone"),
                                NotFoundMeans::kKey);
  EXPECT_EQ(key.code(), "NoSuchKey");
  EXPECT_EQ(key.http_status(), 404);
  EXPECT_EQ(S3StatusFromStatus(Status::NotFound("NoSuchUpload: The specified upload 'bucket' "
                                                "does not exist."),
                               NotFoundMeans::kUpload)
                .code(),
            "NoSuchUpload");
  // The leading code wins over what the operation expected...
  EXPECT_EQ(S3StatusFromStatus(Status::NotFound("NoSuchBucket: the bucket 'b' does not exist"),
                               NotFoundMeans::kKey)
                .code(),
            "NoSuchBucket");
  EXPECT_EQ(S3StatusFromStatus(Status::NotFound("NoSuchKey: gone"), NotFoundMeans::kBucket).code(),
            "NoSuchKey");
  // ...and without one, the operation's expectation decides, whatever the message says.
  EXPECT_EQ(S3StatusFromStatus(Status::NotFound("no bucket here"), NotFoundMeans::kKey).code(),
            "NoSuchKey");
  EXPECT_EQ(S3StatusFromStatus(Status::FailedPrecondition("BucketNotEmpty: the bucket holds x"),
                               NotFoundMeans::kBucket)
                .code(),
            "BucketNotEmpty");
  EXPECT_EQ(LeadingS3Code("NoSuchKey: x"), "NoSuchKey");
  EXPECT_EQ(LeadingS3Code("NoSuchKeys: x"), "");
  EXPECT_EQ(LeadingS3Code("NoSuchKey-ish"), "");
  EXPECT_EQ(S3Status::Error("InvalidPartNumber", "").http_status(), 416);
  EXPECT_EQ(S3Status::Error("MissingContentLength", "").http_status(), 411);
}

TEST(S3ErrorsTest, WritesTheErrorDocumentAndNothingForHead) {
  HttpResponse response;
  WriteS3Error(S3Status::Error("NoSuchKey", "gone <now>").With("Key", "k"), "/b/k", "rid",
               /*head=*/false, response);
  EXPECT_EQ(response.status, 404);
  EXPECT_NE(response.body.find("<Error><Code>NoSuchKey</Code><Message>gone &lt;now&gt;</Message>"
                               "<Key>k</Key><Resource>/b/k</Resource><RequestId>rid</RequestId>"),
            std::string::npos);
  HttpResponse head;
  WriteS3Error(S3Status::Error("NoSuchBucket", "x"), "/b", "rid", /*head=*/true, head);
  EXPECT_EQ(head.status, 404);
  EXPECT_TRUE(head.body.empty());
}

TEST(S3RoutingTest, ValidatesBucketNames) {
  EXPECT_TRUE(IsValidBucketName("my-bucket.data"));
  EXPECT_TRUE(IsValidBucketName("sagemaker-us-east-1-000000000000"));
  for (const std::string& bad :
       std::vector<std::string>{"ab", "Upper", "-start", "end-", "a..b", "192.168.1.1", "xn--abc",
                                "under_score", std::string(64, 'a')}) {
    EXPECT_FALSE(IsValidBucketName(bad)) << bad;
  }
}

TEST(S3RoutingTest, RecognisesVirtualHostStyleOnlyUnderKnownEndpoints) {
  std::vector<std::string> hosts = {"localhost", "kiln.example.org"};
  EXPECT_EQ(VirtualHostBucket("mybucket.localhost:7070", hosts), "mybucket");
  EXPECT_EQ(VirtualHostBucket("my.dotted.bucket.kiln.example.org", hosts), "my.dotted.bucket");
  EXPECT_EQ(VirtualHostBucket("data.s3.us-west-2.amazonaws.com", hosts), "data");
  EXPECT_EQ(VirtualHostBucket("data.s3.amazonaws.com", hosts), "data");
  EXPECT_FALSE(VirtualHostBucket("localhost:7070", hosts).has_value());
  EXPECT_FALSE(VirtualHostBucket("kiln.example.org", hosts).has_value());
  EXPECT_FALSE(VirtualHostBucket("127.0.0.1:7070", hosts).has_value());
  EXPECT_FALSE(VirtualHostBucket("[::1]:7070", hosts).has_value());
  EXPECT_FALSE(VirtualHostBucket("s3.us-east-1.amazonaws.com", hosts).has_value());
  EXPECT_FALSE(VirtualHostBucket("other.example.com", hosts).has_value());
  EXPECT_FALSE(VirtualHostBucket("Bad_Name.localhost", hosts).has_value());
}

TEST(S3RoutingTest, ResolvesPathAndVirtualHostRequests) {
  HttpRequest http;
  http.headers.Add("Host", "127.0.0.1:9000");
  http.path = "/bucket/dir//key with space";
  S3Request request;
  request.http = &http;
  ASSERT_TRUE(ResolveBucketAndKey({"localhost"}, request).ok());
  EXPECT_EQ(request.bucket, "bucket");
  EXPECT_EQ(request.key, "dir//key with space");
  EXPECT_FALSE(request.virtual_host);
  EXPECT_EQ(request.Resource(), "/bucket/dir//key with space");

  http.headers.Set("Host", "bucket.localhost:9000");
  http.path = "/a/b";
  ASSERT_TRUE(ResolveBucketAndKey({"localhost"}, request).ok());
  EXPECT_TRUE(request.virtual_host);
  EXPECT_EQ(request.bucket, "bucket");
  EXPECT_EQ(request.key, "a/b");

  http.headers.Set("Host", "localhost");
  http.path = "/";
  ASSERT_TRUE(ResolveBucketAndKey({"localhost"}, request).ok());
  EXPECT_TRUE(request.bucket.empty());
  EXPECT_EQ(request.Resource(), "/");
}

TEST(S3RoutingTest, UrlEncodesListingKeysLikeS3) {
  EXPECT_EQ(UrlEncodeKey("a b/c+d%é"), "a%20b/c%2Bd%25%C3%A9");
}

}  // namespace
}  // namespace kiln::s3api
