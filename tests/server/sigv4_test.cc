// SigV4 verification and signing against fixed vectors (computed with botocore) and tampering.
#include "server/sigv4.h"

#include <gtest/gtest.h>

namespace kiln {
namespace {

constexpr char kAccessKey[] = "AKIDEXAMPLE";
constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr int64_t kSigningTimeMs = 1440938160000;  // 2015-08-30T12:36:00Z

HttpRequest MakeRequest(std::string method, std::string target, std::string body = "") {
  HttpRequest request;
  request.method = std::move(method);
  request.target = std::move(target);
  request.body = std::move(body);
  request.headers.Add("Host", "example.amazonaws.com");
  EXPECT_TRUE(ParseRequestTarget(request).ok());
  return request;
}

class SigV4Test : public ::testing::Test {
 protected:
  SigV4VerifyOptions Options() {
    SigV4VerifyOptions options;
    options.lookup_secret = [](const std::string& key) -> std::optional<std::string> {
      if (key == kAccessKey) return std::string(kSecret);
      return std::nullopt;
    };
    options.clock = &clock_;
    return options;
  }
  SigV4Result Verify(const HttpRequest& request) { return VerifySigV4(request, Options()); }
  HttpRequest Signed(HttpRequest request, const std::string& service = "sagemaker") {
    SigV4SignOptions options;
    options.service = service;
    options.time_ms = kSigningTimeMs;
    EXPECT_TRUE(SignRequest(request, {kAccessKey, kSecret, ""}, options).ok());
    return request;
  }
  FakeClock clock_{kSigningTimeMs + 60'000};
};

TEST_F(SigV4Test, DerivesTheSigningKeyFromTheAwsDocumentationExample) {
  EXPECT_EQ(HexEncode(DeriveSigningKey(kSecret, "20120215", "us-east-1", "iam")),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

TEST_F(SigV4Test, SignsGetVanillaLikeBotocore) {
  HttpRequest request = Signed(MakeRequest("GET", "/"), "service");
  EXPECT_EQ(*request.headers.Get("Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

// Authorization headers produced by botocore 1.29 for fixed requests at 2015-08-30T12:36:00Z.
TEST_F(SigV4Test, AcceptsBotocoreSignatureWithDotSegmentsAndDoubleEncoding) {
  HttpRequest request = MakeRequest("GET", "/a/./b//c/../d%20e?Param2=value2&Param1=value1");
  request.headers.Add("X-Amz-Date", "20150830T123600Z");
  request.headers.Add("Authorization",
                      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                      "aws4_request, SignedHeaders=host;x-amz-date, "
                      "Signature=4d2680fcb555b8f87e05816cdb1d97c8c2ffb8005b022dc6b73bedcf551d8d67");
  SigV4Result result = Verify(request);
  EXPECT_TRUE(result.ok) << result.code << ": " << result.message;
  EXPECT_EQ(result.service, "service");
  EXPECT_EQ(result.access_key, kAccessKey);
}

TEST_F(SigV4Test, AcceptsBotocoreS3SignatureWithUnnormalizedSingleEncodedPath) {
  HttpRequest request = MakeRequest("PUT", "/bucket/a%20b%2Bc/%7Ed/./x", "hi");
  request.headers.Add("X-Amz-Date", "20150830T123600Z");
  request.headers.Add("X-Amz-Content-Sha256",
                      "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4");
  request.headers.Add("Authorization",
                      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/s3/aws4_request, "
                      "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
                      "Signature=f4747a5735a1e2d8296e8d7705a4fd6b5f4ba31fe50d4fbb79d58aad92503c87");
  SigV4Result result = Verify(request);
  EXPECT_TRUE(result.ok) << result.code << ": " << result.message;
  EXPECT_EQ(result.payload_hash,
            "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4");
  EXPECT_EQ(result.scope, "20150830/us-east-1/s3/aws4_request");
  EXPECT_EQ(result.signing_key.size(), 32u);
}

TEST_F(SigV4Test, AcceptsItsOwnSignatureAndCanonicalisesHeaderWhitespace) {
  HttpRequest request = MakeRequest("POST", "/", "{}");
  request.headers.Add("X-Amz-Target", "SageMaker.ListProcessingJobs");
  request.headers.Add("X-Custom", "  a   b \t c ");
  request = Signed(std::move(request));
  // A proxy that re-folds whitespace does not break the signature.
  request.headers.Set("X-Custom", "a b c");
  SigV4Result result = Verify(request);
  EXPECT_TRUE(result.ok) << result.code << ": " << result.message;
  EXPECT_TRUE(result.ToStatus().ok());
}

TEST_F(SigV4Test, RejectsTamperedBody) {
  HttpRequest request = Signed(MakeRequest("POST", "/", R"({"MaxResults":1})"));
  request.body = R"({"MaxResults":2})";
  SigV4Result result = Verify(request);
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.error, SigV4Error::kSignatureMismatch);
  EXPECT_EQ(result.code, "InvalidSignatureException");
  EXPECT_EQ(result.S3ErrorCode(), "SignatureDoesNotMatch");
  EXPECT_EQ(result.ToStatus().code(), StatusCode::kPermissionDenied);
}

TEST_F(SigV4Test, RejectsTamperedSignedHeaderMethodPathAndQuery) {
  HttpRequest base = MakeRequest("POST", "/x?a=1", "{}");
  base.headers.Add("X-Amz-Target", "SageMaker.ListProcessingJobs");
  base = Signed(std::move(base));
  ASSERT_TRUE(Verify(base).ok);

  HttpRequest header = base;
  header.headers.Set("X-Amz-Target", "SageMaker.DeleteProcessingJob");
  EXPECT_EQ(Verify(header).error, SigV4Error::kSignatureMismatch);

  HttpRequest method = base;
  method.method = "PUT";
  EXPECT_EQ(Verify(method).error, SigV4Error::kSignatureMismatch);

  HttpRequest path = base;
  path.target = "/y?a=1";
  EXPECT_EQ(Verify(path).error, SigV4Error::kSignatureMismatch);

  HttpRequest query = base;
  query.target = "/x?a=2";
  EXPECT_EQ(Verify(query).error, SigV4Error::kSignatureMismatch);
}

TEST_F(SigV4Test, RejectsUnknownAccessKey) {
  HttpRequest request = MakeRequest("POST", "/", "{}");
  SigV4SignOptions options;
  options.service = "sagemaker";
  options.time_ms = kSigningTimeMs;
  ASSERT_TRUE(SignRequest(request, {"AKIAUNKNOWN0000000", kSecret, ""}, options).ok());
  SigV4Result result = Verify(request);
  EXPECT_EQ(result.error, SigV4Error::kUnknownAccessKey);
  EXPECT_EQ(result.code, "UnrecognizedClientException");
  EXPECT_EQ(result.S3ErrorCode(), "InvalidAccessKeyId");
  EXPECT_EQ(result.access_key, "AKIAUNKNOWN0000000");
}

TEST_F(SigV4Test, RejectsRequestSignedMoreThanFifteenMinutesAgo) {
  HttpRequest request = Signed(MakeRequest("POST", "/", "{}"));
  clock_.Set(kSigningTimeMs + 16 * 60 * 1000);
  SigV4Result result = Verify(request);
  EXPECT_EQ(result.error, SigV4Error::kRequestTimeTooSkewed);
  EXPECT_EQ(result.code, "InvalidSignatureException");
  EXPECT_NE(result.message.find("Signature expired: 20150830T123600Z"), std::string::npos);
  EXPECT_EQ(result.S3ErrorCode(), "RequestTimeTooSkewed");
  clock_.Set(kSigningTimeMs - 16 * 60 * 1000);
  EXPECT_EQ(Verify(request).error, SigV4Error::kRequestTimeTooSkewed);
  clock_.Set(kSigningTimeMs + 14 * 60 * 1000);
  EXPECT_TRUE(Verify(request).ok);
}

TEST_F(SigV4Test, RejectsCredentialScopeDateThatDiffersFromRequestDate) {
  HttpRequest request = Signed(MakeRequest("POST", "/", "{}"));
  request.headers.Set("X-Amz-Date", "20150831T123600Z");
  clock_.Set(kSigningTimeMs + 24 * 3600 * 1000);
  EXPECT_EQ(Verify(request).error, SigV4Error::kScopeMismatch);
}

TEST_F(SigV4Test, EnforcesExpectedRegionAndService) {
  HttpRequest request = Signed(MakeRequest("POST", "/", "{}"));
  SigV4VerifyOptions options = Options();
  options.expected_region = "eu-west-1";
  EXPECT_EQ(VerifySigV4(request, options).error, SigV4Error::kScopeMismatch);
  options = Options();
  options.allowed_services = {"s3"};
  EXPECT_EQ(VerifySigV4(request, options).error, SigV4Error::kScopeMismatch);
  options.allowed_services = {"s3", "sagemaker"};
  EXPECT_TRUE(VerifySigV4(request, options).ok);
}

TEST_F(SigV4Test, ReportsMissingAndIncompleteSignatures) {
  HttpRequest request = MakeRequest("POST", "/", "{}");
  SigV4Result missing = Verify(request);
  EXPECT_EQ(missing.error, SigV4Error::kMissingAuthentication);
  EXPECT_EQ(missing.code, "MissingAuthenticationToken");

  for (const char* header :
       {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/sagemaker/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830, SignedHeaders=host, Signature=00",
        "AWS AKIDEXAMPLE:c2lnbmF0dXJl", "", "AWS4-HMAC-SHA256"}) {
    HttpRequest bad = request;
    bad.headers.Set("Authorization", header);
    bad.headers.Set("X-Amz-Date", "20150830T123600Z");
    SigV4Result result = Verify(bad);
    EXPECT_EQ(result.error, SigV4Error::kIncompleteSignature) << header;
    EXPECT_EQ(result.code, "IncompleteSignature") << header;
  }
  HttpRequest no_date = Signed(request);
  no_date.headers.Remove("X-Amz-Date");
  EXPECT_EQ(Verify(no_date).error, SigV4Error::kIncompleteSignature);
}

TEST_F(SigV4Test, AcceptsUnsignedPayloadForS3) {
  HttpRequest request = MakeRequest("PUT", "/bucket/key", "anything");
  SigV4SignOptions options;
  options.service = "s3";
  options.time_ms = kSigningTimeMs;
  options.unsigned_payload = true;
  ASSERT_TRUE(SignRequest(request, {kAccessKey, kSecret, ""}, options).ok());
  EXPECT_EQ(*request.headers.Get("X-Amz-Content-Sha256"), "UNSIGNED-PAYLOAD");
  SigV4Result result = Verify(request);
  EXPECT_TRUE(result.ok) << result.code << ": " << result.message;
  EXPECT_EQ(result.payload_hash, "UNSIGNED-PAYLOAD");
}

TEST_F(SigV4Test, DetectsBodyDifferentFromSignedContentSha256) {
  HttpRequest request = MakeRequest("PUT", "/bucket/key", "data");
  SigV4SignOptions options;
  options.service = "s3";
  options.time_ms = kSigningTimeMs;
  ASSERT_TRUE(SignRequest(request, {kAccessKey, kSecret, ""}, options).ok());
  request.body = "tampered";  // x-amz-content-sha256 still names the signed content
  SigV4Result result = Verify(request);
  EXPECT_EQ(result.error, SigV4Error::kPayloadHashMismatch);
  EXPECT_EQ(result.S3ErrorCode(), "XAmzContentSHA256Mismatch");
  SigV4VerifyOptions streaming = Options();
  streaming.verify_payload_hash = false;
  EXPECT_TRUE(VerifySigV4(request, streaming).ok);
}

TEST_F(SigV4Test, VerifiesItsOwnPresignedUrlUntilItExpires) {
  HttpRequest request = MakeRequest("GET", "/bucket/some%20key.txt?versionId=3");
  SigV4SignOptions options;
  options.service = "s3";
  options.time_ms = kSigningTimeMs;
  ASSERT_TRUE(
      PresignRequest(request, {kAccessKey, kSecret, "token/with+chars"}, options, 300).ok());
  SigV4Result result = Verify(request);
  EXPECT_TRUE(result.ok) << result.code << ": " << result.message;
  EXPECT_TRUE(result.presigned);
  EXPECT_EQ(result.session_token, "token/with+chars");
  EXPECT_EQ(result.payload_hash, "UNSIGNED-PAYLOAD");

  HttpRequest tampered = request;
  tampered.target.replace(tampered.target.find("versionId=3"), 11, "versionId=4");
  ASSERT_TRUE(ParseRequestTarget(tampered).ok());
  EXPECT_EQ(Verify(tampered).error, SigV4Error::kSignatureMismatch);

  clock_.Set(kSigningTimeMs + 301 * 1000);
  result = Verify(request);
  EXPECT_EQ(result.error, SigV4Error::kRequestExpired);
  EXPECT_EQ(result.S3ErrorCode(), "AccessDenied");
}

TEST_F(SigV4Test, RejectsPresignedUrlWithBadExpires) {
  HttpRequest request = MakeRequest("GET", "/bucket/key");
  SigV4SignOptions options;
  options.service = "s3";
  options.time_ms = kSigningTimeMs;
  ASSERT_TRUE(PresignRequest(request, {kAccessKey, kSecret, ""}, options, 300).ok());
  request.target.replace(request.target.find("X-Amz-Expires=300"), 17, "X-Amz-Expires=-1");
  ASSERT_TRUE(ParseRequestTarget(request).ok());
  SigV4Result result = Verify(request);
  EXPECT_EQ(result.error, SigV4Error::kIncompleteSignature);
  EXPECT_EQ(result.S3ErrorCode(), "AuthorizationQueryParametersError");
}

TEST_F(SigV4Test, AcceptsClientThatSignedTheCanonicalFormOfASloppyTarget) {
  // The client sends "!" and "'" unescaped but signed the canonical %21/%27 form.
  HttpRequest canonical = MakeRequest("GET", "/bucket/a%21b%27c?x=%21");
  canonical = Signed(std::move(canonical), "s3");
  HttpRequest sent = canonical;
  sent.target = "/bucket/a!b'c?x=!";
  ASSERT_TRUE(ParseRequestTarget(sent).ok());
  EXPECT_TRUE(Verify(sent).ok);
}

}  // namespace
}  // namespace kiln
