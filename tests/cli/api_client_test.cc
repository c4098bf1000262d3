#include "cli/api_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <regex>

#include "fake_http_server.h"

namespace kiln::cli {
namespace {

using nlohmann::json;
using testing::FakeHttpServer;
using ::testing::HasSubstr;
using testing::HttpRequest;
using testing::HttpResponse;
using ::testing::MatchesRegex;

constexpr char kKey[] = "AKIDKILNTEST";
constexpr char kSecret[] = "kiln/secret+key";
constexpr char kRegion[] = "eu-central-1";

ApiClientOptions Options(const std::string& endpoint) { return {endpoint, kKey, kSecret, kRegion}; }

std::string Hex(const unsigned char* data, size_t size) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  return out;
}

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return Hex(digest, sizeof digest);
}

std::string Hmac(const std::string& key, const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &size);
  return std::string(reinterpret_cast<char*>(digest), size);
}

// Recomputes the SigV4 signature of a captured POST / request from its own SignedHeaders list,
// the way a server verifies it, so the test checks that libcurl really signs what it sends.
std::string ExpectedSignature(const HttpRequest& request, const std::string& service) {
  std::smatch match;
  const std::string authorization = request.Header("authorization");
  std::regex shape("SignedHeaders=([^,]+), Signature=([0-9a-f]+)");
  if (!std::regex_search(authorization, match, shape)) return "unparseable";
  const std::string signed_headers = match[1];
  std::string canonical_headers;
  size_t start = 0;
  while (start <= signed_headers.size()) {
    size_t end = signed_headers.find(';', start);
    if (end == std::string::npos) end = signed_headers.size();
    std::string name = signed_headers.substr(start, end - start);
    // libcurl signs every header it was given, even an empty one it then leaves out (as it did
    // with "Expect:"); a server cannot verify a signature over a header it never received.
    EXPECT_EQ(request.headers.count(name), 1u) << "signed but not sent: " << name;
    canonical_headers += name + ":" + request.Header(name) + "\n";
    start = end + 1;
  }
  const std::string amz_date = request.Header("x-amz-date");
  const std::string date = amz_date.substr(0, 8);
  const std::string scope = date + "/" + kRegion + "/" + service + "/aws4_request";
  const std::string canonical_request = request.method + "\n/\n\n" + canonical_headers + "\n" +
                                        signed_headers + "\n" + Sha256Hex(request.body);
  const std::string string_to_sign =
      "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + Sha256Hex(canonical_request);
  std::string key = Hmac(std::string("AWS4") + kSecret, date);
  key = Hmac(key, kRegion);
  key = Hmac(key, service);
  key = Hmac(key, "aws4_request");
  const std::string signature = Hmac(key, string_to_sign);
  return Hex(reinterpret_cast<const unsigned char*>(signature.data()), signature.size());
}

std::string SignatureOf(const HttpRequest& request) {
  std::smatch match;
  const std::string authorization = request.Header("authorization");
  std::regex shape("Signature=([0-9a-f]+)");
  return std::regex_search(authorization, match, shape) ? std::string(match[1]) : "";
}

TEST(ApiClientTest, SendsSignedJsonRequestWithTargetHeader) {
  FakeHttpServer server([](const HttpRequest&) {
    return HttpResponse{200, R"({"ProcessingJobArn": "arn:aws:sagemaker:x"})"};
  });
  ASSERT_FALSE(server.endpoint().empty());
  ApiClient client(ServiceSpec::SageMaker(), Options(server.endpoint()));

  Result<json> response = client.Call("CreateProcessingJob", {{"ProcessingJobName", "j"}});

  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ((*response)["ProcessingJobArn"], "arn:aws:sagemaker:x");
  std::vector<HttpRequest> requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const HttpRequest& request = requests[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/");
  EXPECT_EQ(request.Header("content-type"), "application/x-amz-json-1.1");
  EXPECT_EQ(request.Header("x-amz-target"), "SageMaker.CreateProcessingJob");
  EXPECT_EQ(json::parse(request.body), json::parse(R"({"ProcessingJobName": "j"})"));
  EXPECT_THAT(request.Header("authorization"),
              MatchesRegex("AWS4-HMAC-SHA256 Credential=AKIDKILNTEST/[0-9]{8}/eu-central-1/"
                           "sagemaker/aws4_request, SignedHeaders=[a-z0-9;-]+, "
                           "Signature=[0-9a-f]{64}"));
  EXPECT_THAT(request.Header("authorization"), HasSubstr("x-amz-target"));
  EXPECT_THAT(request.Header("x-amz-date"), MatchesRegex("[0-9]{8}T[0-9]{6}Z"));
  EXPECT_EQ(SignatureOf(request), ExpectedSignature(request, "sagemaker"));
}

TEST(ApiClientTest, LogsClientUsesLogsTargetAndSigningName) {
  FakeHttpServer server([](const HttpRequest&) {
    return HttpResponse{200, R"({"logStreams":[]})"};
  });
  ApiClient client(ServiceSpec::Logs(), Options(server.endpoint() + "/"));

  ASSERT_TRUE(client.Call("DescribeLogStreams", {{"logGroupName", "g"}}).ok());

  const HttpRequest request = server.requests().at(0);
  EXPECT_EQ(request.target, "/");
  EXPECT_EQ(request.Header("x-amz-target"), "Logs_20140328.DescribeLogStreams");
  EXPECT_THAT(request.Header("authorization"), HasSubstr("/eu-central-1/logs/aws4_request"));
  EXPECT_EQ(SignatureOf(request), ExpectedSignature(request, "logs"));
}

TEST(ApiClientTest, SendsEmptyObjectForNullBodyAndAcceptsEmptyResponse) {
  FakeHttpServer server([](const HttpRequest&) { return HttpResponse{200, ""}; });
  ApiClient client(ServiceSpec::SageMaker(), Options(server.endpoint()));

  Result<json> response = client.Call("StopProcessingJob", json());

  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(*response, json::object());
  EXPECT_EQ(server.requests().at(0).body, "{}");
}

TEST(ApiClientTest, TurnsErrorBodyIntoStatusWithCodeAndMessage) {
  FakeHttpServer server([](const HttpRequest&) {
    return HttpResponse{400, R"({"__type":"ValidationException","message":"1 validation error )"
                             R"(detected: Value 'x' at 'processingJobName' failed"})"};
  });
  ApiClient client(ServiceSpec::SageMaker(), Options(server.endpoint()));

  Result<json> response = client.Call("CreateProcessingJob", json::object());

  EXPECT_EQ(response.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(response.status().message(),
            "ValidationException: 1 validation error detected: Value 'x' at 'processingJobName' "
            "failed");
}

TEST(ApiClientTest, ReportsUnreachableEndpointAsUnavailable) {
  std::string endpoint;
  {
    FakeHttpServer server([](const HttpRequest&) { return HttpResponse{}; });
    endpoint = server.endpoint();
  }  // closed: nothing listens on the port any more
  ApiClient client(ServiceSpec::SageMaker(), Options(endpoint));

  Result<json> response = client.Call("ListProcessingJobs", json::object());

  EXPECT_EQ(response.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(response.status().message(), HasSubstr("kiln server"));
}

TEST(ApiClientTest, RejectsSuccessBodyThatIsNotJsonObject) {
  FakeHttpServer server([](const HttpRequest&) { return HttpResponse{200, "<html>"}; });
  ApiClient client(ServiceSpec::SageMaker(), Options(server.endpoint()));
  EXPECT_EQ(client.Call("ListProcessingJobs", json::object()).status().code(),
            StatusCode::kInternal);
}

TEST(ParseApiErrorTest, ReadsCodeLikeBotocore) {
  ApiError plain = ParseApiError(400, R"({"__type":"ValidationException","message":"bad"})");
  EXPECT_EQ(plain.code, "ValidationException");
  EXPECT_EQ(plain.message, "bad");
  EXPECT_EQ(plain.http_status, 400);

  ApiError namespaced = ParseApiError(
      400, R"({"__type":"com.amazonaws.sagemaker#ResourceNotFound","Message":"gone"})");
  EXPECT_EQ(namespaced.code, "ResourceNotFound");
  EXPECT_EQ(namespaced.message, "gone");

  ApiError suffixed =
      ParseApiError(400, R"({"__type":"ResourceInUse:http://internal.amazon.com/","message":"x"})");
  EXPECT_EQ(suffixed.code, "ResourceInUse");

  ApiError untyped = ParseApiError(503, "");
  EXPECT_EQ(untyped.code, "503");
  EXPECT_EQ(untyped.message, "");
}

TEST(ApiErrorToStatusTest, MapsCodesAndKeepsCodeInMessage) {
  EXPECT_EQ(ApiErrorToStatus({"ResourceNotFound", "gone", 400}).code(), StatusCode::kNotFound);
  EXPECT_EQ(ApiErrorToStatus({"ResourceInUse", "busy", 400}).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(ApiErrorToStatus({"ResourceLimitExceeded", "full", 400}).code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(ApiErrorToStatus({"ThrottlingException", "slow", 400}).code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(ApiErrorToStatus({"InvalidSignatureException", "sig", 403}).code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(ApiErrorToStatus({"500", "", 500}).code(), StatusCode::kInternal);
  // Issue #4939: ValidationException can come with an empty message.
  EXPECT_EQ(ApiErrorToStatus({"ValidationException", "", 400}).message(), "ValidationException");
}

}  // namespace
}  // namespace kiln::cli
