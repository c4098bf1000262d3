// End-to-end SigV4: real clients (libcurl's aws-sigv4, Debian's boto3/botocore) sign requests to
// an HttpServer whose handler verifies them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "server/http_server.h"
#include "server/sigv4.h"
#include "test_http_client.h"

namespace kiln {
namespace {

using testing::CurlClient;
using testing::CurlRequest;
using testing::RunCommand;

constexpr char kAccessKey[] = "AKIAKILNTEST0000001";
constexpr char kSecret[] = "kilnTestSecret/with+special=chars0123456";

// The Python side: a tiny boto3 driver. argv: endpoint key secret command [args].
constexpr char kBotoScript[] = R"PY(
import json, sys
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
endpoint, key, secret, command = sys.argv[1:5]
config = Config(retries={"max_attempts": 1}, signature_version="s3v4",
                s3={"addressing_style": "path"})
def client(service):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret, config=config)
try:
    if command == "list_processing_jobs":
        print(json.dumps(client("sagemaker").list_processing_jobs(MaxResults=5)["ProcessingJobSummaries"]))
    elif command == "presign_get":
        print(client("s3").generate_presigned_url(
            "get_object", Params={"Bucket": "bucket", "Key": sys.argv[5]}, ExpiresIn=300))
    elif command == "put_object":
        client("s3").put_object(Bucket="bucket", Key=sys.argv[5], Body=sys.argv[6].encode())
        print("put-ok")
except ClientError as e:
    print("ClientError " + e.response["Error"]["Code"])
    sys.exit(3)
)PY";

class SigV4ClientsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kiln-sigv4-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    script_ = dir_ + "/boto_driver.py";
    std::ofstream(script_) << kBotoScript;

    HttpServerOptions options;
    auto server = HttpServer::Start(options, [this](HttpRequest& request, HttpResponse& response) {
      Handle(request, response);
    });
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Handle(HttpRequest& request, HttpResponse& response) {
    SigV4VerifyOptions options;
    options.lookup_secret = [](const std::string& key) -> std::optional<std::string> {
      if (key == kAccessKey) return std::string(kSecret);
      return std::nullopt;
    };
    options.clock = clock_.load();
    SigV4Result result = VerifySigV4(request, options);
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_result_ = result;
      last_request_ = request;
    }
    if (!result.ok) {
      response.status = result.service == "s3" ? 403 : 400;
      response.headers.Set("Content-Type", "application/x-amz-json-1.1");
      response.body = R"({"__type":")" + result.code + R"(","message":"denied"})";
      return;
    }
    if (result.service == "sagemaker") {
      response.headers.Set("Content-Type", "application/x-amz-json-1.1");
      response.headers.Set("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000");
      response.body = R"({"ProcessingJobSummaries": []})";
    } else if (request.method == "PUT") {
      response.headers.Set("ETag", "\"" + Sha256Hex(request.body).substr(0, 32) + "\"");
    } else {
      response.body = "object-data";
    }
  }

  SigV4Result LastResult() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_result_;
  }
  HttpRequest LastRequest() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_request_;
  }
  std::string Endpoint() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  std::pair<int, std::string> Boto(const std::string& key, const std::string& secret,
                                   const std::string& command, const std::string& args = "") {
    return RunCommand(
        "env -u AWS_CA_BUNDLE -u AWS_PROFILE -u AWS_ENDPOINT_URL AWS_CONFIG_FILE=/dev/null "
        "AWS_SHARED_CREDENTIALS_FILE=/dev/null NO_PROXY='*' /usr/bin/python3 " +
        script_ + " " + Endpoint() + " '" + key + "' '" + secret + "' " + command + " " + args +
        " 2>&1");
  }
  CurlRequest SageMakerCurlRequest(const std::string& key, const std::string& secret) {
    CurlRequest request;
    request.method = "POST";
    request.url = Endpoint() + "/";
    request.headers = {"Content-Type: application/x-amz-json-1.1",
                       "X-Amz-Target: SageMaker.ListProcessingJobs"};
    request.body = "{}";
    request.has_body = true;
    request.aws_sigv4 = "aws:amz:us-east-1:sagemaker";
    request.userpwd = key + ":" + secret;
    return request;
  }

  std::string dir_;
  std::string script_;
  std::atomic<const Clock*> clock_{nullptr};  // null: the system clock
  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  SigV4Result last_result_;
  HttpRequest last_request_;
};

TEST_F(SigV4ClientsTest, AcceptsRequestSignedByCurl) {
  CurlClient client;
  auto result = client.Perform(SageMakerCurlRequest(kAccessKey, kSecret));
  ASSERT_EQ(result.code, 0) << result.error;
  EXPECT_EQ(result.status, 200) << result.body << " " << LastResult().message;
  EXPECT_EQ(LastResult().region, "us-east-1");
  EXPECT_EQ(LastResult().service, "sagemaker");
}

TEST_F(SigV4ClientsTest, RejectsCurlRequestWithWrongSecret) {
  CurlClient client;
  auto result = client.Perform(SageMakerCurlRequest(kAccessKey, "not-the-secret-at-all"));
  EXPECT_EQ(result.status, 400);
  EXPECT_NE(result.body.find("InvalidSignatureException"), std::string::npos);
  EXPECT_EQ(LastResult().error, SigV4Error::kSignatureMismatch);
}

TEST_F(SigV4ClientsTest, RejectsCurlRequestWithUnknownKey) {
  CurlClient client;
  auto result = client.Perform(SageMakerCurlRequest("AKIANOBODY000000000", kSecret));
  EXPECT_EQ(result.status, 400);
  EXPECT_NE(result.body.find("UnrecognizedClientException"), std::string::npos);
}

TEST_F(SigV4ClientsTest, RejectsCurlRequestWhenServerClockIsAnHourAhead) {
  FakeClock clock(SystemClock::Default()->NowMillis() + 3600 * 1000);
  clock_ = &clock;
  CurlClient client;
  auto result = client.Perform(SageMakerCurlRequest(kAccessKey, kSecret));
  EXPECT_EQ(result.status, 400);
  EXPECT_NE(result.body.find("InvalidSignatureException"), std::string::npos);
  EXPECT_EQ(LastResult().error, SigV4Error::kRequestTimeTooSkewed);
  server_.reset();  // no handler may run once `clock` is gone
}

TEST_F(SigV4ClientsTest, Boto3SageMakerCallSucceedsEndToEnd) {
  auto [status, output] = Boto(kAccessKey, kSecret, "list_processing_jobs");
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "[]\n");
  HttpRequest request = LastRequest();
  EXPECT_EQ(request.headers.GetOr("X-Amz-Target", ""), "SageMaker.ListProcessingJobs");
  EXPECT_TRUE(LastResult().ok);
}

TEST_F(SigV4ClientsTest, Boto3SeesInvalidSignatureExceptionForWrongSecret) {
  auto [status, output] = Boto(kAccessKey, "wrong-secret-0123456789", "list_processing_jobs");
  EXPECT_EQ(status, 3) << output;
  EXPECT_EQ(output, "ClientError InvalidSignatureException\n");
}

TEST_F(SigV4ClientsTest, Boto3PresignedS3UrlIsAccepted) {
  auto [status, url] = Boto(kAccessKey, kSecret, "presign_get", "'dir/some key+plus~(1).txt'");
  ASSERT_EQ(status, 0) << url;
  while (!url.empty() && url.back() == '\n') url.pop_back();
  CurlClient client;
  CurlRequest request;
  request.url = url;
  auto result = client.Perform(request);
  EXPECT_EQ(result.status, 200) << url << " " << LastResult().message;
  EXPECT_EQ(result.body, "object-data");
  EXPECT_TRUE(LastResult().presigned);
  EXPECT_EQ(LastRequest().path, "/bucket/dir/some key+plus~(1).txt");

  request.url = url + "x";  // a different signature
  EXPECT_EQ(client.Perform(request).status, 403);
  EXPECT_EQ(LastResult().S3ErrorCode(), "SignatureDoesNotMatch");
}

TEST_F(SigV4ClientsTest, Boto3S3PutObjectIsAccepted) {
  auto [status, output] = Boto(kAccessKey, kSecret, "put_object", "'a/b c=d.txt' 'hello world'");
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "put-ok\n");
  EXPECT_EQ(LastRequest().body, "hello world");
  EXPECT_EQ(LastRequest().path, "/bucket/a/b c=d.txt");
}

}  // namespace
}  // namespace kiln
