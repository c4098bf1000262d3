// Shared helpers for the BucketStore tests: a fixture with a fresh store in a temp dir, and small
// helpers that put strings as objects and parts and read open objects back.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "storage/bucket_store.h"
#include "storage/md5_digest.h"
#include "storage/object_blobs.h"
#include "test_util.h"

namespace kiln::testing_util {

inline std::string Md5Hex(const std::string& data) {
  Md5Digest digest;
  digest.Update(data);
  return digest.FinishHex();
}

inline Status WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) return Status::FromErrno("write", errno);
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

// Everything left to read from `fd` (which is closed).
inline std::string ReadAllAndClose(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// All the bytes of an open object (across its blobs), or "<error>".
inline std::string ReadOpenObject(const OpenObject& object) {
  std::string out;
  Status st = ReadObjectRange(*object.blobs, 0, object.meta.size, [&](std::string_view chunk) {
    out.append(chunk);
    return Status::Ok();
  });
  return st.ok() ? out : "<" + st.ToString() + ">";
}

// Writes `data` through BeginBlob and commits it as `meta.key` with its MD5 as the ETag.
inline Result<ObjectMeta> PutString(BucketStore& store, const std::string& bucket,
                                    const std::string& key, const std::string& data,
                                    ObjectMeta meta = {}) {
  ASSIGN_OR_RETURN(std::unique_ptr<PendingBlob> blob, store.BeginBlob(bucket));
  RETURN_IF_ERROR(WriteAll(blob->fd(), data));
  meta.key = key;
  meta.size = data.size();
  meta.etag = Md5Hex(data);
  return store.CommitObject(bucket, std::move(blob), std::move(meta));
}

inline Result<PartInfo> PutPart(BucketStore& store, const std::string& bucket,
                                const std::string& upload_id, int number, const std::string& data) {
  ASSIGN_OR_RETURN(std::unique_ptr<PendingBlob> blob, store.BeginBlob(bucket));
  RETURN_IF_ERROR(WriteAll(blob->fd(), data));
  PartInfo info;
  info.size = data.size();
  info.etag = Md5Hex(data);
  return store.CommitPart(bucket, upload_id, number, std::move(blob), std::move(info));
}

// Puts every key with its own name as contents, on a few threads (each commit waits for fsyncs).
inline Status PutKeysAsContents(BucketStore& store, const std::string& bucket,
                                const std::vector<std::string>& keys) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (size_t i = next++; i < keys.size() && !failed; i = next++) {
        if (!PutString(store, bucket, keys[i], keys[i]).ok()) failed = true;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return failed ? Status::Internal("a put failed") : Status::Ok();
}

// A store opened on a fresh temp dir with one empty bucket, "bucket".
class BucketStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path() + "/store";
    Reopen();
    ASSERT_TRUE(store_->CreateBucket("bucket", "").ok());
  }
  void Reopen() {
    store_.reset();
    auto opened = BucketStore::Open(root_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
  }
  BucketStore& store() { return *store_; }
  std::string Get(const std::string& key, const std::string& bucket = "bucket") {
    auto object = store_->OpenObjectForRead(bucket, key);
    if (!object.ok()) return "<" + object.status().ToString() + ">";
    return ReadOpenObject(*object);
  }

  TempDir tmp_;
  std::string root_;
  std::unique_ptr<BucketStore> store_;
};

}  // namespace kiln::testing_util
