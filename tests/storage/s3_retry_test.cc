// The S3 client's failure policy against a scripted server: throttling and server errors are
// retried with backoff, dropped connections are retried (and streams resume), client errors are
// not, and corrupted payloads are caught.
#include <gtest/gtest.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "s3_test_servers.h"
#include "storage/s3_codec.h"
#include "storage/s3_object_store.h"
#include "test_util.h"

namespace kiln {
namespace {

using testing_util::ScriptedHttpServer;
using testing_util::SeenRequest;

std::string Md5Hex(const std::string& data) {
  s3::PayloadDigest d;
  d.Update(data);
  d.Finish();
  return d.Md5Hex();
}

std::string Hmac(const std::string& key, const std::string& data) {
  unsigned char out[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string Sha256Hex(const std::string& data) {
  s3::PayloadDigest d;
  d.Update(data);
  d.Finish();
  return d.Sha256Hex();
}

// Recomputes a request's SigV4 signature from what arrived on the wire, as S3 does (AWS
// "Signature Version 4 signing process"), and returns it with the one the request carried.
std::pair<std::string, std::string> ExpectedAndActualSignature(const SeenRequest& r,
                                                               const std::string& secret) {
  std::string auth = r.Header("authorization");
  auto field = [&](const std::string& name) {
    size_t b = auth.find(name + "=");
    if (b == std::string::npos) return std::string();
    b += name.size() + 1;
    return auth.substr(b, auth.find(',', b) - b);
  };
  std::string credential = field("Credential");  // AKID/date/region/s3/aws4_request
  std::string signed_headers = field("SignedHeaders");
  std::string scope = credential.substr(credential.find('/') + 1);
  std::string date = scope.substr(0, 8);
  std::string region = scope.substr(9, scope.find('/', 9) - 9);
  size_t q = r.target.find('?');
  std::string canonical = r.method + "\n" + r.target.substr(0, q) + "\n" +
                          (q == std::string::npos ? "" : r.target.substr(q + 1)) + "\n";
  for (size_t pos = 0; pos <= signed_headers.size();) {
    size_t semi = std::min(signed_headers.find(';', pos), signed_headers.size());
    std::string name = signed_headers.substr(pos, semi - pos);
    canonical += name + ":" + r.Header(name) + "\n";
    pos = semi + 1;
  }
  canonical += "\n" + signed_headers + "\n" + r.Header("x-amz-content-sha256");
  std::string to_sign =
      "AWS4-HMAC-SHA256\n" + r.Header("x-amz-date") + "\n" + scope + "\n" + Sha256Hex(canonical);
  std::string key = Hmac(Hmac(Hmac(Hmac("AWS4" + secret, date), region), "s3"), "aws4_request");
  return {s3::HexOf(Hmac(key, to_sign)), field("Signature")};
}

std::unique_ptr<S3ObjectStore> StoreFor(const ScriptedHttpServer& server, int max_retries = 5) {
  S3Config config;
  config.endpoint = server.endpoint();
  config.access_key = "AKID";
  config.secret_key = "SECRET";
  config.max_retries = max_retries;
  config.retry_base_delay = std::chrono::milliseconds(1);
  config.retry_max_delay = std::chrono::milliseconds(5);
  auto made = S3ObjectStore::Make(config);
  EXPECT_TRUE(made.ok());
  return std::move(made).value();
}

std::string Ok(const std::string& body) {
  return ScriptedHttpServer::Respond(200, "OK", body, {"ETag: \"" + Md5Hex(body) + "\""});
}

// 206 for "bytes=0-<n>" on `body`, as S3 answers a Range GET.
std::string FirstRange(const SeenRequest& r, const std::string& body) {
  std::string range = r.Header("range");
  EXPECT_TRUE(range.starts_with("bytes=0-")) << range;
  uint64_t last = std::stoull(range.substr(8));
  std::string sent = body.substr(0, last + 1);
  return ScriptedHttpServer::Respond(206, "Partial Content", sent,
                                     {"ETag: \"" + Md5Hex(body) + "\"",
                                      "Content-Range: bytes 0-" + std::to_string(sent.size() - 1) +
                                          "/" + std::to_string(body.size())});
}

TEST(S3GetToFileTest, ASmallObjectTakesOneRangedGetAndNoHead) {
  ScriptedHttpServer server([](const SeenRequest& r, int) { return FirstRange(r, "small data"); });
  auto store = StoreFor(server);
  testing_util::TempDir tmp;
  ASSERT_TRUE(store->GetToFile("bucket", "key", tmp.path() + "/out").ok());
  EXPECT_EQ(testing_util::ReadFileOrEmpty(tmp.path() + "/out"), "small data");
  auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].Header("range"), "bytes=0-" + std::to_string((8 << 20) - 1));
}

TEST(S3GetToFileTest, AnEmptyObjectAnswering416IsConfirmedByHead) {
  ScriptedHttpServer server([](const SeenRequest& r, int) {
    if (r.method == "HEAD") {
      return ScriptedHttpServer::Respond(200, "OK", "", {"ETag: \"" + Md5Hex("") + "\""});
    }
    return ScriptedHttpServer::S3Error(416, "InvalidRange",
                                       "The requested range is not satisfiable");
  });
  auto store = StoreFor(server);
  testing_util::TempDir tmp;
  testing_util::WriteFile(tmp.path() + "/out", "old");
  Status got = store->GetToFile("bucket", "empty", tmp.path() + "/out");
  ASSERT_TRUE(got.ok()) << got.ToString();
  EXPECT_EQ(testing_util::ReadFileOrEmpty(tmp.path() + "/out"), "");
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(S3GetToFileTest, TheRestOfALargeObjectIsPinnedToTheFirstResponsesEtag) {
  std::string body((8 << 20) + 5, 'b');
  body[8 << 20] = 'X';
  ScriptedHttpServer server([&](const SeenRequest& r, int i) {
    if (i == 0) return FirstRange(r, body);
    EXPECT_EQ(r.Header("if-match"), "\"" + Md5Hex(body) + "\"");
    EXPECT_EQ(r.Header("range"), "bytes=8388608-8388612");
    return ScriptedHttpServer::Respond(
        206, "Partial Content", body.substr(8 << 20),
        {"ETag: \"" + Md5Hex(body) + "\"", "Content-Range: bytes 8388608-8388612/8388613"});
  });
  auto store = StoreFor(server);
  testing_util::TempDir tmp;
  Status got = store->GetToFile("bucket", "big", tmp.path() + "/out");
  ASSERT_TRUE(got.ok()) << got.ToString();
  EXPECT_TRUE(testing_util::ReadFileOrEmpty(tmp.path() + "/out") == body);
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(S3RetryTest, SlowDownIsRetriedUntilTheServerAnswers) {
  ScriptedHttpServer server([](const SeenRequest&, int i) {
    return i < 3 ? ScriptedHttpServer::S3Error(503, "SlowDown", "Please reduce your request rate.")
                 : Ok("hello");
  });
  auto store = StoreFor(server);
  auto bytes = store->GetBytes("bucket", "key");
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(*bytes, "hello");
  EXPECT_EQ(server.requests().size(), 4u);
}

TEST(S3RetryTest, PersistentServerErrorsBecomeUnavailableAfterTheRetryBudget) {
  ScriptedHttpServer server([](const SeenRequest&, int) {
    return ScriptedHttpServer::S3Error(500, "InternalError", "We encountered an internal error.");
  });
  auto store = StoreFor(server, /*max_retries=*/3);
  auto bytes = store->GetBytes("bucket", "some/key");
  EXPECT_EQ(bytes.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(bytes.status().message().find("s3://bucket/some/key"), std::string::npos);
  EXPECT_NE(bytes.status().message().find(server.endpoint()), std::string::npos);
  EXPECT_NE(bytes.status().message().find("InternalError"), std::string::npos);
  EXPECT_EQ(server.requests().size(), 4u);
}

TEST(S3RetryTest, DroppedConnectionsAreRetried) {
  ScriptedHttpServer server(
      [](const SeenRequest&, int i) { return i < 2 ? std::string() : Ok("after the drop"); });
  auto store = StoreFor(server);
  auto bytes = store->GetBytes("bucket", "key");
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(*bytes, "after the drop");
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST(S3RetryTest, ClientErrorsAreNotRetried) {
  ScriptedHttpServer server([](const SeenRequest& r, int) {
    if (r.target.find("missing") != std::string::npos) {
      return ScriptedHttpServer::S3Error(404, "NoSuchKey", "The specified key does not exist.");
    }
    return ScriptedHttpServer::S3Error(403, "SignatureDoesNotMatch", "Check your key.");
  });
  auto store = StoreFor(server);
  EXPECT_EQ(store->GetBytes("bucket", "missing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->GetBytes("bucket", "forbidden").status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(S3RetryTest, UploadsResendTheWholeBodyWithItsContentMd5) {
  testing_util::TempDir tmp;
  const std::string data = "upload body that must arrive whole every time";
  testing_util::WriteFile(tmp.path() + "/src", data);
  ScriptedHttpServer server([&](const SeenRequest&, int i) {
    if (i == 0) return ScriptedHttpServer::S3Error(503, "SlowDown", "Slow down.");
    return ScriptedHttpServer::Respond(200, "OK", "", {"ETag: \"" + Md5Hex(data) + "\""});
  });
  auto store = StoreFor(server);
  Status st = store->PutFromFile("bucket", "dir/my file+1.txt", tmp.path() + "/src");
  ASSERT_TRUE(st.ok()) << st.ToString();
  std::vector<SeenRequest> seen = server.requests();
  ASSERT_EQ(seen.size(), 2u);
  s3::PayloadDigest digest;
  digest.Update(data);
  digest.Finish();
  for (const SeenRequest& r : seen) {
    EXPECT_EQ(r.method, "PUT");
    EXPECT_EQ(r.target, "/bucket/dir/my%20file%2B1.txt");
    EXPECT_EQ(r.body, data);
    EXPECT_EQ(r.Header("content-md5"), digest.Md5Base64());
    EXPECT_EQ(r.Header("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
    std::string auth = r.Header("authorization");
    EXPECT_TRUE(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKID/")) << auth;
    EXPECT_NE(auth.find("/us-east-1/s3/aws4_request"), std::string::npos) << auth;
    EXPECT_NE(auth.find("x-amz-content-sha256"), std::string::npos) << auth;
    EXPECT_FALSE(r.Header("x-amz-date").empty());
  }
}

TEST(S3SigningTest, RequestsCarryAValidSigV4SignatureForTheirPathQueryAndHeaders) {
  ScriptedHttpServer server([](const SeenRequest& r, int) {
    if (r.method == "GET") {
      return ScriptedHttpServer::Respond(
          200, "OK", "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>");
    }
    return ScriptedHttpServer::Respond(200, "OK", "", {"ETag: \"" + Md5Hex("x") + "\""});
  });
  auto store = StoreFor(server);
  testing_util::TempDir tmp;
  testing_util::WriteFile(tmp.path() + "/src", "x");
  ASSERT_TRUE(store->List("bucket", "some prefix/with+odd=chars").ok());
  ASSERT_TRUE(store->PutFromFile("bucket", "caf\xc3\xa9 (1)+=.txt", tmp.path() + "/src").ok());
  std::vector<SeenRequest> seen = server.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].target,
            "/bucket?encoding-type=url&list-type=2&prefix=some%20prefix%2Fwith%2Bodd%3Dchars");
  EXPECT_EQ(seen[1].target, "/bucket/caf%C3%A9%20%281%29%2B%3D.txt");
  for (const SeenRequest& r : seen) {
    auto [expected, actual] = ExpectedAndActualSignature(r, "SECRET");
    EXPECT_EQ(expected, actual) << r.method << " " << r.target;
    EXPECT_NE(r.Header("authorization").find("host;"), std::string::npos);
  }
}

TEST(S3RetryTest, AnEtagThatIsNotTheMd5OfTheBodyFailsTheIntegrityCheck) {
  ScriptedHttpServer server([](const SeenRequest&, int) {
    return ScriptedHttpServer::Respond(200, "OK", "corrupted",
                                       {"ETag: \"" + Md5Hex("original") + "\""});
  });
  auto store = StoreFor(server);
  auto bytes = store->GetBytes("bucket", "key");
  EXPECT_EQ(bytes.status().code(), StatusCode::kInternal);
  EXPECT_NE(bytes.status().message().find("integrity"), std::string::npos);
}

TEST(S3RetryTest, ReadObjectResumesAfterADroppedConnectionWithoutRepeatingBytes) {
  const std::string data = "0123456789abcdefghij";
  const std::string etag = "\"" + Md5Hex(data) + "\"";
  ScriptedHttpServer server([&](const SeenRequest& r, int) {
    if (r.method == "HEAD") {
      return ScriptedHttpServer::Respond(
          200, "OK", "", {"Content-Length: " + std::to_string(data.size()), "ETag: " + etag});
    }
    std::string range = r.Header("range");
    if (range.empty()) {
      // Promise everything, deliver 7 bytes, hang up.
      return ScriptedHttpServer::Respond(
                 200, "OK", "", {"Content-Length: " + std::to_string(data.size()), "ETag: " + etag})
          .append(data.substr(0, 7));
    }
    if (range != "bytes=7-" || r.Header("if-match") != etag) {
      return ScriptedHttpServer::S3Error(400, "InvalidRequest", "unexpected resume " + range);
    }
    return ScriptedHttpServer::Respond(206, "Partial Content", data.substr(7),
                                       {"Content-Range: bytes 7-19/20", "ETag: " + etag});
  });
  auto store = StoreFor(server);
  std::string got;
  Status st = store->ReadObject("bucket", "key", [&](std::string_view chunk) {
    got.append(chunk);
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(got, data);
}

TEST(S3RetryTest, AnUnreachableEndpointIsUnavailable) {
  auto server = std::make_unique<ScriptedHttpServer>([](const SeenRequest&, int) { return ""; });
  std::string endpoint = server->endpoint();
  server.reset();  // nothing listens there any more
  S3Config config;
  config.endpoint = endpoint;
  config.max_retries = 1;
  config.retry_base_delay = std::chrono::milliseconds(1);
  auto store = S3ObjectStore::Make(config);
  ASSERT_TRUE(store.ok());
  auto listed = (*store)->List("bucket", "");
  EXPECT_EQ(listed.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(listed.status().message().find(endpoint), std::string::npos);
}

}  // namespace
}  // namespace kiln
