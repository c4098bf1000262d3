// S3ObjectStore: an ObjectStore on any S3-compatible endpoint (AWS, Kiln's own, s3rver, moto)
// over libcurl with SigV4. Large objects move as parallel ranged GETs and multipart uploads, many
// requests run at once, transient failures (throttling, 5xx, dropped connections) are retried with
// backoff, and every transfer is checked (Content-MD5 or a CRC-32C the endpoint verifies on
// upload, sizes and MD5 ETags on download).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "storage/object_store.h"

namespace kiln {

namespace s3 {
class HttpClient;
}

struct S3Config {
  std::string endpoint;  // http(s)://host[:port][/path]
  std::string region = "us-east-1";
  std::string access_key;
  std::string secret_key;
  std::string session_token;
  // Path style (host/bucket/key) or virtual-hosted (bucket.host/key). Unset: virtual-hosted for
  // *.amazonaws.com endpoints, path style for every other (custom) endpoint.
  std::optional<bool> path_style;
  size_t max_concurrency = 16;       // HTTP requests in flight for this store
  uint64_t part_size = 16ull << 20;  // multipart upload part size
  // Ranged GET size. 8 MiB divides the usual part sizes (the AWS CLI's 8 MiB, Kiln's 16 MiB), so
  // a range never spans two parts, which a store keeping parts apart serves from one file.
  uint64_t range_size = 8ull << 20;
  uint64_t multipart_threshold = 64ull << 20;  // uploads at least this big go multipart
  int max_retries = 5;                         // retries after the first attempt
  std::chrono::milliseconds retry_base_delay{100};
  std::chrono::milliseconds retry_max_delay{20000};
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds stall_timeout{60000};  // a transfer moving no bytes this long fails
  std::chrono::milliseconds request_timeout{0};    // 0: no cap on a whole request
  std::string ca_bundle;                           // empty: curl's default CA store
  bool verify_tls = true;
};

// One object to move in a batch: `key` in `bucket` <-> the local file `path`.
struct S3Transfer {
  std::string bucket;
  std::string key;
  std::string path;
  std::optional<uint64_t> listed_size;  // downloads: the size a listing gave, if any
};

class S3ObjectStore : public ObjectStore {
 public:
  // InvalidArgument for a malformed endpoint or sizes (part_size below 5 MiB or above 5 GiB,
  // max_concurrency 0). Does no network I/O.
  static Result<std::unique_ptr<S3ObjectStore>> Make(S3Config config);
  ~S3ObjectStore() override;

  // ListObjectsV2 pages (encoding-type=url) joined and sorted bytewise. NotFound for a missing
  // bucket.
  Result<std::vector<ObjectInfo>> List(const std::string& bucket,
                                       const std::string& prefix) override;
  // One GET of the first range_size bytes (Range: bytes=0-<range_size-1>), whose Content-Range
  // gives the size and whose ETag pins the remaining ranges, fetched in parallel (If-Match, so a
  // concurrent overwrite fails instead of mixing versions), into a temporary beside `dest_path`;
  // the size and, for plain-MD5 ETags, the MD5 are checked before the rename. An empty object
  // (416, or 200 without Content-Range) costs one more request at most.
  // The file is not fsynced: staged inputs live only as long as their job's sandbox, and after a
  // crash of the machine the job fails or is staged again. The destination's directory must exist.
  Status GetToFile(const std::string& bucket, const std::string& key,
                   const std::string& dest_path) override;
  // Objects listed larger than range_size: HEAD, then all ranges in parallel into a preallocated
  // temporary (no serial first range). Others as GetToFile.
  Status GetToFileOfSize(const std::string& bucket, const std::string& key,
                         const std::string& dest_path, uint64_t listed_size) override;
  // ResourceExhausted above 64 MiB: this is for manifests, not data.
  Result<std::string> GetBytes(const std::string& bucket, const std::string& key) override;
  // Below multipart_threshold one PUT with Content-MD5 (the ETag is checked too); above it a
  // multipart upload (x-amz-checksum-algorithm CRC32C) with parts sent in parallel, each with its
  // x-amz-checksum-crc32c, which the endpoint verifies and echoes; where it echoes none (an S3
  // without flexible checksums), the part's ETag is checked against its MD5 instead. The
  // completed object's composite CRC-32C, if reported, must match the parts'. Failed uploads are
  // aborted. Payloads are not signed (UNSIGNED-PAYLOAD): the checksums guard them, and a SHA-256
  // on both ends would cost more CPU than the checksums themselves.
  Status PutFromFile(const std::string& bucket, const std::string& key,
                     const std::string& src_path) override;
  // Streams the body to `sink` as it arrives; a dropped connection resumes from the last byte
  // delivered (Range + If-Match), so the sink never sees a byte twice.
  Status ReadObject(const std::string& bucket, const std::string& key,
                    const std::function<Status(std::string_view chunk)>& sink) override;

  // Many objects in flight at once (up to max_concurrency), for staging. Each returns OK or the
  // failure of the lowest-numbered failed transfer; transfers not yet started are skipped after
  // a failure.
  Status GetManyToFiles(const std::vector<S3Transfer>& transfers);
  Status PutManyFromFiles(const std::vector<S3Transfer>& transfers);

  // Size and ETag of an object (HEAD). NotFound if absent.
  struct Head {
    uint64_t size = 0;
    std::string etag;
    bool etag_is_md5 = false;  // a single-part object without KMS/customer-key encryption
  };
  Result<Head> HeadObject(const std::string& bucket, const std::string& key);
  // Deletes an object; deleting a missing key is OK (as in S3).
  Status DeleteObject(const std::string& bucket, const std::string& key);

  const S3Config& config() const { return config_; }

 private:
  S3ObjectStore(S3Config config, std::unique_ptr<s3::HttpClient> http);

  Status PutSingle(const std::string& bucket, const std::string& key, int fd, uint64_t size,
                   const std::string& src_path);
  Status PutMultipart(const std::string& bucket, const std::string& key, int fd, uint64_t size,
                      const std::string& src_path);
  // Fills `fd` (already `head.size` long) with the object from part `first_part` on (earlier
  // parts are already there), in parallel ranges, then checks a plain-MD5 ETag.
  Status DownloadInto(const std::string& bucket, const std::string& key, const Head& head, int fd,
                      uint64_t first_part);
  // Downloads into a temporary beside `dest_path`, HEAD first, then renames it.
  Status GetToFileAfterHead(const std::string& bucket, const std::string& key,
                            const std::string& dest_path);
  // GETs the first range_size bytes into `fd`; sets *head and *complete (false: the rest, or the
  // whole object after a 416, is still to fetch with DownloadInto).
  Status GetFirstRange(const std::string& bucket, const std::string& key, int fd, Head* head,
                       bool* complete);
  // Checks a plain-MD5 ETag against the first head.size bytes of `fd`.
  Status VerifyMd5(int fd, const Head& head, const std::string& name);

  const S3Config config_;
  std::unique_ptr<s3::HttpClient> http_;
};

// Checks a key before it goes on the wire. InvalidArgument for an empty key, one over 1024 bytes,
// one with a NUL, or one with "." or ".." segments: HTTP stacks normalise those out of URL paths,
// so the request would address a different object than the key names.
Status ValidateS3Key(const std::string& key);

}  // namespace kiln
