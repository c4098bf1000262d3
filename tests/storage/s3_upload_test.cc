// What the S3 client's uploads put on the wire and how it checks the answers, against a scripted
// server: multipart parts carry a CRC-32C instead of a signed SHA-256, an endpoint's echo of it
// (or, without flexible checksums, the part's MD5 ETag) must match, and a completed object's
// composite checksum must be the one of the parts sent.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "s3_test_servers.h"
#include "storage/s3_codec.h"
#include "storage/s3_object_store.h"
#include "test_util.h"

namespace kiln {
namespace {

using testing_util::ScriptedHttpServer;
using testing_util::SeenRequest;

constexpr uint64_t kPartSize = 5ull << 20;  // the smallest part size S3 allows

std::string Md5Hex(const std::string& data) {
  s3::PayloadDigest d;
  d.Update(data);
  d.Finish();
  return d.Md5Hex();
}

std::string Crc32cBase64(const std::string& data) { return s3::CrcBase64(s3::Crc32c(0, data)); }

// The composite CRC-32C S3 reports for a multipart object: the CRC-32C of the parts' raw CRCs.
std::string CompositeCrc32c(const std::vector<std::string>& parts) {
  std::string raw;
  for (const std::string& part : parts) {
    uint32_t crc = s3::Crc32c(0, part);
    raw += {static_cast<char>(crc >> 24), static_cast<char>(crc >> 16), static_cast<char>(crc >> 8),
            static_cast<char>(crc)};
  }
  return Crc32cBase64(raw) + "-" + std::to_string(parts.size());
}

std::unique_ptr<S3ObjectStore> MultipartStoreFor(const ScriptedHttpServer& server) {
  S3Config config;
  config.endpoint = server.endpoint();
  config.access_key = "AKID";
  config.secret_key = "SECRET";
  config.part_size = kPartSize;
  config.multipart_threshold = kPartSize;
  config.max_concurrency = 1;  // the scripted server answers one connection at a time
  config.max_retries = 0;
  auto made = S3ObjectStore::Make(config);
  EXPECT_TRUE(made.ok());
  return std::move(made).value();
}

// How the scripted endpoint answers UploadPart and CompleteMultipartUpload.
struct EndpointBehaviour {
  bool echo_checksum = true;      // an S3 with flexible checksums echoes x-amz-checksum-crc32c
  bool corrupt_echo = false;      // ...but reports the CRC of other bytes
  bool corrupt_etag = false;      // the part ETag is the MD5 of other bytes
  bool refuse_checksums = false;  // CreateMultipartUpload fails with x-amz-checksum-algorithm
  std::string composite;          // <ChecksumCRC32C> of CompleteMultipartUploadResult, if any
};

// A multipart-upload endpoint that keeps the parts it received, keyed by part number.
std::string Answer(const SeenRequest& r, const EndpointBehaviour& behaviour,
                   std::map<int, std::string>* parts) {
  if (r.method == "POST" && r.target.ends_with("?uploads=")) {
    if (behaviour.refuse_checksums && !r.Header("x-amz-checksum-algorithm").empty()) {
      return ScriptedHttpServer::S3Error(400, "InvalidRequest", "Unknown checksum algorithm");
    }
    return ScriptedHttpServer::Respond(200, "OK",
                                       "<InitiateMultipartUploadResult><UploadId>up-1</UploadId>"
                                       "</InitiateMultipartUploadResult>");
  }
  if (r.method == "PUT") {
    int number = std::stoi(r.target.substr(r.target.find("partNumber=") + 11));
    (*parts)[number] = r.body;
    std::string seen = behaviour.corrupt_etag ? r.body + "!" : r.body;
    std::vector<std::string> headers = {"ETag: \"" + Md5Hex(seen) + "\""};
    if (behaviour.echo_checksum) {
      headers.push_back("x-amz-checksum-crc32c: " +
                        Crc32cBase64(behaviour.corrupt_echo ? r.body + "!" : r.body));
    }
    return ScriptedHttpServer::Respond(200, "OK", "", headers);
  }
  if (r.method == "POST") {
    std::string checksum = behaviour.composite.empty()
                               ? ""
                               : "<ChecksumCRC32C>" + behaviour.composite + "</ChecksumCRC32C>";
    return ScriptedHttpServer::Respond(200, "OK",
                                       "<CompleteMultipartUploadResult><ETag>\"e-2\"</ETag>" +
                                           checksum + "</CompleteMultipartUploadResult>");
  }
  return ScriptedHttpServer::Respond(204, "No Content", "");  // AbortMultipartUpload
}

class S3MultipartUploadTest : public testing::Test {
 protected:
  void SetUp() override {
    part1_ = std::string(kPartSize, 'a');
    part1_[12345] = 'Z';
    part2_ = "the short last part";
    testing_util::WriteFile(tmp_.path() + "/src", part1_ + part2_);
  }

  // Uploads the file through an endpoint behaving so; returns the result and what it saw.
  Status Upload(const EndpointBehaviour& behaviour, std::vector<SeenRequest>* seen) {
    std::map<int, std::string> parts;
    ScriptedHttpServer server(
        [&](const SeenRequest& r, int) { return Answer(r, behaviour, &parts); });
    auto store = MultipartStoreFor(server);
    Status status = store->PutFromFile("bucket", "big", tmp_.path() + "/src");
    *seen = server.requests();
    return status;
  }

  testing_util::TempDir tmp_;
  std::string part1_;
  std::string part2_;
};

TEST_F(S3MultipartUploadTest, PartsCarryAnUnsignedPayloadWithTheirCrc32cAndCompleteListsIt) {
  std::vector<SeenRequest> seen;
  EndpointBehaviour behaviour;
  behaviour.composite = CompositeCrc32c({part1_, part2_});
  Status status = Upload(behaviour, &seen);
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].Header("x-amz-checksum-algorithm"), "CRC32C");
  EXPECT_NE(seen[0].Header("authorization").find("x-amz-checksum-algorithm;"), std::string::npos)
      << seen[0].Header("authorization");
  const std::string* bodies[] = {&part1_, &part2_};
  for (int i = 0; i < 2; ++i) {
    const SeenRequest& part = seen[1 + i];
    EXPECT_EQ(part.method, "PUT");
    EXPECT_EQ(part.body, *bodies[i]);
    EXPECT_EQ(part.Header("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
    EXPECT_EQ(part.Header("x-amz-checksum-crc32c"), Crc32cBase64(*bodies[i]));
    EXPECT_EQ(part.Header("content-md5"), "");
    // S3 refuses x-amz-* headers that are not signed.
    EXPECT_NE(part.Header("authorization").find("x-amz-checksum-crc32c;x-amz-content-sha256"),
              std::string::npos)
        << part.Header("authorization");
  }
  EXPECT_NE(seen[3].body.find("<PartNumber>2</PartNumber><ETag>&quot;" + Md5Hex(part2_) +
                              "&quot;</ETag><ChecksumCRC32C>" + Crc32cBase64(part2_) +
                              "</ChecksumCRC32C>"),
            std::string::npos)
      << seen[3].body;
}

TEST_F(S3MultipartUploadTest, AnEchoedCrc32cOfOtherBytesFailsTheUploadAndAbortsIt) {
  std::vector<SeenRequest> seen;
  EndpointBehaviour behaviour;
  behaviour.corrupt_echo = true;
  Status status = Upload(behaviour, &seen);
  EXPECT_EQ(status.code(), StatusCode::kInternal);
  EXPECT_NE(status.message().find("integrity check failed for part 1"), std::string::npos)
      << status.ToString();
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().method, "DELETE");
}

TEST_F(S3MultipartUploadTest, WithoutAnEchoEachPartsEtagMustBeItsMd5) {
  std::vector<SeenRequest> seen;
  EndpointBehaviour behaviour;
  behaviour.echo_checksum = false;
  Status status = Upload(behaviour, &seen);
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(seen.size(), 4u);
  // An endpoint that ignored the checksums is not asked to check them at completion either.
  EXPECT_EQ(seen[3].body.find("ChecksumCRC32C"), std::string::npos) << seen[3].body;

  behaviour.corrupt_etag = true;
  status = Upload(behaviour, &seen);
  EXPECT_EQ(status.code(), StatusCode::kInternal);
  EXPECT_NE(status.message().find("is not the MD5 of the bytes sent"), std::string::npos)
      << status.ToString();
  EXPECT_EQ(seen.back().method, "DELETE");
}

TEST_F(S3MultipartUploadTest, AnEndpointRefusingChecksumsGetsPartsWithContentMd5) {
  std::vector<SeenRequest> seen;
  EndpointBehaviour behaviour;
  behaviour.refuse_checksums = true;
  behaviour.echo_checksum = false;
  Status status = Upload(behaviour, &seen);
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[1].Header("x-amz-checksum-algorithm"), "");
  s3::PayloadDigest digest(/*with_sha256=*/false);
  digest.Update(part2_);
  digest.Finish();
  EXPECT_EQ(seen[3].Header("content-md5"), digest.Md5Base64());
  EXPECT_EQ(seen[3].Header("x-amz-checksum-crc32c"), "");
  EXPECT_EQ(seen[3].Header("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
}

TEST_F(S3MultipartUploadTest, ACompositeChecksumOfOtherPartsFailsTheUpload) {
  std::vector<SeenRequest> seen;
  EndpointBehaviour behaviour;
  behaviour.composite = CompositeCrc32c({part2_, part1_});  // the right parts in the wrong order
  Status status = Upload(behaviour, &seen);
  EXPECT_EQ(status.code(), StatusCode::kInternal);
  EXPECT_NE(status.message().find("completed object's CRC-32C"), std::string::npos)
      << status.ToString();
}

TEST(S3SingleUploadTest, ASmallFileGoesInOnePutWithContentMd5AndAnUnsignedPayload) {
  testing_util::TempDir tmp;
  const std::string data = "one small object";
  testing_util::WriteFile(tmp.path() + "/src", data);
  ScriptedHttpServer server([&](const SeenRequest&, int) {
    return ScriptedHttpServer::Respond(200, "OK", "", {"ETag: \"" + Md5Hex(data) + "\""});
  });
  auto store = MultipartStoreFor(server);
  ASSERT_TRUE(store->PutFromFile("bucket", "small", tmp.path() + "/src").ok());
  std::vector<SeenRequest> seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  s3::PayloadDigest digest;
  digest.Update(data);
  digest.Finish();
  EXPECT_EQ(seen[0].Header("content-md5"), digest.Md5Base64());
  EXPECT_EQ(seen[0].Header("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
  EXPECT_EQ(seen[0].body, data);
}

}  // namespace
}  // namespace kiln
