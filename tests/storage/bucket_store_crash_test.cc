// Crash safety of BucketStore: a child process writes through the store and is SIGKILLed at a
// chosen moment; reopening must show only complete objects and sweep the leftovers.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

#include "bucket_store_test_util.h"
#include "storage/bucket_store.h"
#include "storage/sqlite_bucket_store.h"

namespace kiln {
namespace {

using testing_util::BucketStoreTest;
using testing_util::Md5Hex;
using testing_util::PutString;
using testing_util::TreeOf;
using testing_util::WriteAll;
using testing_util::WriteFile;

class BucketStoreCrashTest : public BucketStoreTest {
 protected:
  // Forks a child that opens the store and runs `body(notify)`, where notify() tells the parent
  // one step is done; the parent SIGKILLs the child after `steps` notifications.
  void RunChildAndKillAfter(
      int steps, const std::function<void(BucketStore&, const std::function<void()>&)>& body) {
    store_.reset();  // the child must be able to take the store's lock
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      auto opened = BucketStore::Open(root_);
      if (!opened.ok()) ::_exit(2);
      body(**opened, [&] {
        if (::write(fds[1], "x", 1) != 1) ::_exit(3);
      });
      ::pause();  // wait to be killed
      ::_exit(0);
    }
    ::close(fds[1]);
    char c;
    for (int i = 0; i < steps; ++i) {
      ASSERT_EQ(::read(fds[0], &c, 1), 1) << "the child died early";
    }
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ::close(fds[0]);
    Reopen();
  }
  int FilesUnder(const std::string& dir) {
    int n = 0;
    for (const auto& [rel, contents] : TreeOf(dir)) n += contents != "<dir>";
    return n;
  }
  const storage_internal::BlobFiles::SweepCounts& Swept() {
    return dynamic_cast<SqliteBucketStore&>(store()).swept_at_open();
  }
};

TEST_F(BucketStoreCrashTest, KillDuringAnUploadLeavesNoPartialObject) {
  ASSERT_TRUE(PutString(store(), "bucket", "big", "previous version").ok());
  RunChildAndKillAfter(1, [](BucketStore& store, const std::function<void()>& notify) {
    auto blob = store.BeginBlob("bucket");
    if (!blob.ok()) ::_exit(4);
    std::string chunk(1 << 20, 'p');
    for (int i = 0; i < 64; ++i) {
      if (!WriteAll((*blob)->fd(), chunk).ok()) ::_exit(5);
      if (i == 8) notify();  // killed somewhere in the rest of the upload
    }
    ::pause();
  });
  EXPECT_EQ(Get("big"), "previous version");
  auto listed = store().ListObjects("bucket", {});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->objects.size(), 1u);
  EXPECT_EQ(listed->objects[0].size, 16u);
  EXPECT_EQ(Swept().temp_files, 1);
  EXPECT_EQ(FilesUnder(root_ + "/tmp"), 0);
  EXPECT_EQ(FilesUnder(root_ + "/blobs"), 1);
}

TEST_F(BucketStoreCrashTest, KillRightAfterCommitKeepsTheCommittedObject) {
  const std::string data(3 << 20, 'c');
  RunChildAndKillAfter(1, [&](BucketStore& store, const std::function<void()>& notify) {
    if (!PutString(store, "bucket", "done", data).ok()) ::_exit(4);
    // A second upload of the same key is in flight when the kill lands.
    auto blob = store.BeginBlob("bucket");
    if (!blob.ok() || !WriteAll((*blob)->fd(), "half of the next vers").ok()) ::_exit(5);
    notify();
    ::pause();
  });
  auto head = store().HeadObject("bucket", "done");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->etag, Md5Hex(data));
  EXPECT_TRUE(Get("done") == data);
  EXPECT_EQ(Swept().temp_files, 1);
  EXPECT_EQ(FilesUnder(root_ + "/tmp"), 0);
  EXPECT_EQ(FilesUnder(root_ + "/blobs"), 1);
}

TEST_F(BucketStoreCrashTest, KillAmidACommitStreamLeavesOnlyWholeObjects) {
  RunChildAndKillAfter(25, [](BucketStore& store, const std::function<void()>& notify) {
    for (int i = 0;; ++i) {
      std::string data(4096 + (i % 7) * 1000, static_cast<char>('a' + i % 26));
      if (!PutString(store, "bucket", "k" + std::to_string(i % 10), data).ok()) ::_exit(4);
      notify();
    }
  });
  auto listed = store().ListObjects("bucket", {});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->objects.size(), 10u);
  for (const ObjectMeta& m : listed->objects) {
    std::string data = Get(m.key);
    EXPECT_EQ(data.size(), m.size) << m.key;
    EXPECT_EQ(Md5Hex(data), m.etag) << m.key;
  }
  // Exactly one blob per object survives the sweep.
  EXPECT_EQ(FilesUnder(root_ + "/blobs"), 10);
  EXPECT_EQ(FilesUnder(root_ + "/tmp"), 0);
}

// Completes a multipart upload of `parts` as `key`; false on any failure.
bool PutMultipart(BucketStore& store, const std::string& key,
                  const std::vector<std::string>& parts) {
  ObjectMeta meta;
  meta.key = key;
  auto id = store.CreateMultipartUpload("bucket", meta);
  if (!id.ok()) return false;
  std::vector<std::pair<int, std::string>> listed;
  for (size_t i = 0; i < parts.size(); ++i) {
    auto part = testing_util::PutPart(store, "bucket", *id, static_cast<int>(i + 1), parts[i]);
    if (!part.ok()) return false;
    listed.emplace_back(static_cast<int>(i + 1), part->etag);
  }
  return store.CompleteMultipartUpload("bucket", *id, listed).ok();
}

TEST_F(BucketStoreCrashTest, KillAmidMultipartCompletionsLeavesAWholeObjectAndNoStrayBlobs) {
  RunChildAndKillAfter(7, [](BucketStore& store, const std::function<void()>& notify) {
    for (int i = 0;; ++i) {
      char c = static_cast<char>('a' + i % 26);
      // Alternately a multipart and a single-part version of one key, and a delete.
      bool ok = i % 3 == 0   ? PutMultipart(store, "mp", {std::string(5 << 20, c), "tail"})
                : i % 3 == 1 ? PutString(store, "bucket", "mp", std::string(100, c)).ok()
                             : store.DeleteObject("bucket", "mp").ok();
      if (!ok) ::_exit(4);
      notify();
    }
  });
  auto head = store().HeadObject("bucket", "mp");
  int expected_blobs = 0;
  if (head.ok()) {
    std::string data = Get("mp");
    EXPECT_EQ(data.size(), head->size);
    expected_blobs = head->parts_count > 0 ? head->parts_count : 1;
    if (head->parts_count == 0) {
      EXPECT_EQ(Md5Hex(data), head->etag);
    }
  } else {
    EXPECT_EQ(head.status().code(), StatusCode::kNotFound);
  }
  // Parts of the upload in flight at the kill remain with it; nothing else is left.
  int upload_parts = 0;
  auto uploads = store().ListMultipartUploads("bucket", "");
  ASSERT_TRUE(uploads.ok());
  for (const MultipartUpload& u : *uploads) {
    upload_parts += static_cast<int>(store().ListParts("bucket", u.upload_id)->size());
  }
  EXPECT_EQ(FilesUnder(root_ + "/blobs"), expected_blobs + upload_parts);
  EXPECT_EQ(FilesUnder(root_ + "/tmp"), 0);
}

TEST_F(BucketStoreCrashTest, KillWhileAReaderPinsADeletedMultipartObjectSweepsItsBlobs) {
  RunChildAndKillAfter(1, [](BucketStore& store, const std::function<void()>& notify) {
    if (!PutMultipart(store, "mp", {std::string(5 << 20, 'm'), "tail"})) ::_exit(4);
    auto reader = store.OpenObjectForRead("bucket", "mp");
    if (!reader.ok() || !store.DeleteObject("bucket", "mp").ok()) ::_exit(5);
    notify();  // killed while the reader still holds the deleted object's blobs
    ::pause();
  });
  EXPECT_EQ(store().HeadObject("bucket", "mp").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Swept().orphan_blobs, 2);
  EXPECT_EQ(FilesUnder(root_ + "/blobs"), 0);
}

TEST_F(BucketStoreCrashTest, OpenSweepsUnindexedBlobsAndTempFiles) {
  ASSERT_TRUE(PutString(store(), "bucket", "kept", "kept").ok());
  store_.reset();
  // A blob renamed into place whose index commit never happened, and a stray temp file.
  WriteFile(root_ + "/blobs/ab/ab0123456789abcdef0123456789abcd", "orphan");
  WriteFile(root_ + "/tmp/0123", "temp");
  Reopen();
  EXPECT_EQ(Swept().orphan_blobs, 1);
  EXPECT_EQ(Swept().temp_files, 1);
  EXPECT_EQ(FilesUnder(root_ + "/blobs"), 1);
  EXPECT_EQ(Get("kept"), "kept");
}

}  // namespace
}  // namespace kiln
